//! `clos-lab` — fabric intent and lab. Parses the command line and runs one
//! command from `clos_lab::lab`; every failure exits 1 with one line on
//! stderr.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use clos_lab::containerlab::Images;
use clos_lab::converge::{Settings, Side};
use clos_lab::lab::{self, Options, UpOptions};

/// Fabric intent and lab: an RFC 7938 leaf-spine fabric in Linux network
/// namespaces, with closd on every switch.
#[derive(Parser, Debug)]
#[command(name = "clos-lab", version, about)]
struct Cli {
    /// The closd binary [default: closd next to clos-lab, else in PATH]
    #[arg(long, global = true, value_name = "PATH")]
    closd: Option<PathBuf>,

    /// The closctl binary [default: next to clos-lab or closd, else in PATH]
    #[arg(long, global = true, value_name = "PATH")]
    closctl: Option<PathBuf>,

    /// State directory of the lab [default: /run/clos-lab/PREFIX]
    #[arg(long, global = true, value_name = "DIR")]
    state: Option<PathBuf>,

    /// Namespace name prefix: nodes live in PREFIX-spine1, PREFIX-leaf1, ...
    #[arg(long, global = true, value_name = "NAME", default_value = "clos")]
    prefix: String,

    /// Run FRR (zebra, bgpd, bfdd) instead of closd on this switch (repeatable)
    #[arg(long, global = true, value_name = "NODE")]
    frr: Vec<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the fabric, start the daemons, wait for convergence
    Up {
        /// Fabric intent file [default: built-in 2 spines, 4 leaves, 1 host per leaf]
        file: Option<PathBuf>,
        /// How long to wait for convergence (e.g. 60, 90s, 2m)
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        timeout: Duration,
        /// Only namespaces, links and addresses; start no daemons
        #[arg(long)]
        no_daemons: bool,
        /// Print the final status as JSON
        #[arg(long)]
        json: bool,
    },
    /// Nodes, sessions and routes of the running lab
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Every host pings every other host (IPv4, and IPv6 if configured)
    PingAll {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Take a link down (both ends): spine1-leaf3, or a switch for all its links
    Fail {
        /// spine1-leaf3 (either order), or spine1 / leaf3
        link: String,
    },
    /// Bring a link back up (both ends)
    Restore {
        /// spine1-leaf3 (either order), or spine1 / leaf3
        link: String,
    },
    /// Measure traffic loss when a link carrying it fails
    Converge {
        /// How many failures to measure
        #[arg(long, default_value_t = 5)]
        failures: u32,
        /// Always fail this link (or all links of this switch)
        #[arg(long, value_name = "LINK")]
        link: Option<String>,
        /// Which link of the spine carrying the probe to fail
        #[arg(long, value_enum, default_value = "destination")]
        side: Side,
        /// Source host [default: first host of leaf1]
        #[arg(long, value_name = "HOST")]
        from: Option<String>,
        /// Destination host [default: first host of the last leaf]
        #[arg(long, value_name = "HOST")]
        to: Option<String>,
        /// Probe interval (e.g. 1ms)
        #[arg(long, default_value = "1ms", value_parser = parse_duration)]
        interval: Duration,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove every namespace, link and process of the lab (idempotent)
    Down,
    /// Write each switch's closd config to DIR/<node>.toml
    Render {
        /// Fabric intent file [default: built-in fabric]
        file: Option<PathBuf>,
        /// Output directory
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Export the fabric as a containerlab topology (configs beside it)
    Export {
        /// Topology file to write, e.g. dc1.clab.yml
        #[arg(long, value_name = "OUT")]
        containerlab: PathBuf,
        /// Fabric intent file [default: built-in fabric]
        file: Option<PathBuf>,
        /// Image of the switches (needs closd, ip, sysctl)
        #[arg(long, default_value = "clos:latest")]
        image: String,
        /// Image of the hosts (needs ip) [default: --image]
        #[arg(long)]
        host_image: Option<String>,
    },
}

/// `60`, `60s`, `500ms`, `2m`: a number alone is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 60s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s or m)")),
    };
    if !(seconds > 0.0 && seconds < 86_400.0) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "clos-lab: error: {}",
                format!("{error:#}").replace('\n', " ")
            );
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let options = Options {
        prefix: cli.prefix,
        state: cli.state,
        closd: cli.closd,
        closctl: cli.closctl,
        frr: cli.frr,
    };
    match cli.command {
        Command::Up {
            file,
            timeout,
            no_daemons,
            json,
        } => lab::up(
            &options,
            file.as_deref(),
            &UpOptions {
                timeout,
                no_daemons,
                json,
            },
        ),
        Command::Status { json } => lab::status(&options, json),
        Command::PingAll { json } => lab::ping_all(&options, json),
        Command::Fail { link } => lab::set_link(&options, &link, false),
        Command::Restore { link } => lab::set_link(&options, &link, true),
        Command::Converge {
            failures,
            link,
            side,
            from,
            to,
            interval,
            json,
        } => lab::converge(
            &options,
            &Settings {
                failures,
                link,
                side,
                from,
                to,
                interval,
                json,
            },
        ),
        Command::Down => lab::down(&options),
        Command::Render { file, out } => lab::render_configs(&options, file.as_deref(), &out),
        Command::Export {
            containerlab,
            file,
            image,
            host_image,
        } => lab::export_containerlab(
            file.as_deref(),
            &containerlab,
            &Images {
                host: host_image.unwrap_or_else(|| image.clone()),
                switch: image,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "clos-lab",
            "up",
            "--prefix",
            "t1",
            "--frr",
            "leaf1",
            "--timeout",
            "90",
        ])
        .unwrap();
        assert_eq!(cli.prefix, "t1");
        assert_eq!(cli.frr, ["leaf1"]);
        let cli = Cli::try_parse_from(["clos-lab", "converge", "--json"]).unwrap();
        let Command::Converge {
            failures,
            json,
            side,
            ..
        } = cli.command
        else {
            panic!("not converge");
        };
        assert_eq!((failures, json, side), (5, true, Side::Destination));
    }
}
