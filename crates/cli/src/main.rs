//! `closctl` — the clos command-line interface.
//!
//! Two kinds of commands live here:
//! - `closctl bgp ...` asks a running closd over its gRPC API socket
//!   (`--socket PATH`, or `CLOSCTL_SOCKET`, default `/run/clos/closd.sock`),
//!   or over TCP (`--api ADDR:PORT` with `--token-file FILE` or
//!   `CLOSCTL_TOKEN_FILE`: the token of closd's `[api] token-file`), and
//!   prints a table for people or, with `--json`, the reply message with
//!   its proto field names for scripts;
//! - `closctl fib lookup|bench` run offline FIB tools and need no daemon
//!   (owned by `fib.rs`); `closctl fib kernel` asks closd what it installed
//!   in the kernel.
//!
//! Every failure exits with code 1 and one line on stderr.
//!
//! Files: `bgp.rs` (daemon commands), `input.rs` (argument validation),
//! `render.rs` (tables and JSON), `fib.rs` (offline FIB tools).
#![forbid(unsafe_code)]

mod bgp;
mod fib;
mod input;
mod render;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use clos_api::{ApiToken, Target};

/// Where closd listens unless told otherwise (the `[api] socket` default).
const DEFAULT_SOCKET: &str = "/run/clos/closd.sock";

/// Command-line interface of the clos routing suite.
#[derive(Parser, Debug)]
#[command(name = "closctl", version, about)]
struct Cli {
    /// closd's API socket [default: /run/clos/closd.sock]
    #[arg(long, value_name = "PATH", env = "CLOSCTL_SOCKET")]
    socket: Option<PathBuf>,

    /// closd's API on TCP ([api] listen) instead of its socket; needs
    /// --token-file
    #[arg(long, value_name = "ADDR:PORT")]
    api: Option<SocketAddr>,

    /// File holding the API token (a copy of closd's [api] token-file), for
    /// --api
    #[arg(long, value_name = "FILE", env = "CLOSCTL_TOKEN_FILE")]
    token_file: Option<PathBuf>,

    /// Print replies as JSON (proto field names, every field present)
    #[arg(long)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask a running closd about BGP
    Bgp(BgpArgs),
    /// Offline FIB tools (no daemon needed)
    Fib {
        #[command(subcommand)]
        cmd: fib::FibCommand,
    },
}

/// `--socket`, `--api`, `--token-file` and `--json` are repeated here (and
/// made global below `bgp`)
/// so they may also follow the subcommand, e.g. `closctl bgp summary --json`.
/// They are not global at the top level, so `fib` commands stay free to
/// define flags of their own.
#[derive(Args, Debug)]
struct BgpArgs {
    /// closd's API socket [default: /run/clos/closd.sock]
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,

    /// closd's API on TCP ([api] listen) instead of its socket; needs
    /// --token-file
    #[arg(long, value_name = "ADDR:PORT", global = true)]
    api: Option<SocketAddr>,

    /// File holding the API token (a copy of closd's [api] token-file), for
    /// --api
    #[arg(long, value_name = "FILE", global = true)]
    token_file: Option<PathBuf>,

    /// Print replies as JSON (proto field names, every field present)
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: bgp::BgpCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = format!("{error:#}");
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Fib { cmd } => fib::run(
            cmd,
            |socket| target(cli.api, cli.token_file, socket.or(cli.socket)),
            cli.json,
        ),
        Command::Bgp(args) => {
            let target = target(
                args.api.or(cli.api),
                args.token_file.or(cli.token_file),
                args.socket.or(cli.socket),
            )?;
            let text = bgp::run(&target, args.json || cli.json, args.command)?;
            print(&text)
        }
    }
}

/// Where closd is: on TCP with `--api` (which takes precedence over
/// `--socket`) and the token from `--token-file`, else its Unix socket.
fn target(
    api: Option<SocketAddr>,
    token_file: Option<PathBuf>,
    socket: Option<PathBuf>,
) -> anyhow::Result<Target> {
    let Some(address) = api else {
        return Ok(Target::Unix(
            socket.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
        ));
    };
    let Some(token_file) = token_file else {
        bail!(
            "--api {address} needs the API token: give --token-file FILE (or set \
             CLOSCTL_TOKEN_FILE) with the token of closd's [api] token-file"
        );
    };
    Ok(Target::Tcp {
        address,
        token: ApiToken::from_file(&token_file)?,
    })
}

/// Writes to stdout; a reader that went away (`closctl ... | head`) is not
/// an error.
fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(error).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Catches clap definition conflicts (e.g. a `fib` flag clashing with
    /// ours) at test time instead of at a user's first run.
    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_and_socket_are_accepted_before_and_after_the_subcommand() {
        let before =
            Cli::try_parse_from(["closctl", "--json", "--socket", "/a", "bgp", "summary"]).unwrap();
        assert!(before.json);
        assert_eq!(before.socket, Some(PathBuf::from("/a")));

        let after =
            Cli::try_parse_from(["closctl", "bgp", "summary", "--json", "--socket", "/b"]).unwrap();
        let Command::Bgp(args) = after.command else {
            panic!("not a bgp command");
        };
        assert!(args.json);
        assert_eq!(args.socket, Some(PathBuf::from("/b")));
    }

    #[test]
    fn api_and_token_file_are_accepted_before_and_after_the_subcommand() {
        let before = Cli::try_parse_from([
            "closctl",
            "--api",
            "127.0.0.1:50051",
            "--token-file",
            "/t",
            "bgp",
            "summary",
        ])
        .unwrap();
        assert_eq!(before.api, Some("127.0.0.1:50051".parse().unwrap()));
        assert_eq!(before.token_file, Some(PathBuf::from("/t")));

        let after = Cli::try_parse_from([
            "closctl",
            "bgp",
            "summary",
            "--api",
            "[::1]:50051",
            "--token-file",
            "/u",
        ])
        .unwrap();
        let Command::Bgp(args) = after.command else {
            panic!("not a bgp command");
        };
        assert_eq!(args.api, Some("[::1]:50051".parse().unwrap()));
        assert_eq!(args.token_file, Some(PathBuf::from("/u")));
        assert!(Cli::try_parse_from(["closctl", "--api", "localhost", "bgp", "summary"]).is_err());
    }

    #[test]
    fn api_without_a_token_file_is_refused_locally() {
        let error = target(Some("127.0.0.1:50051".parse().unwrap()), None, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--api 127.0.0.1:50051 needs the API token: give --token-file FILE (or set \
             CLOSCTL_TOKEN_FILE) with the token of closd's [api] token-file"
        );
        assert!(matches!(
            target(None, None, None).unwrap(),
            Target::Unix(path) if path == std::path::Path::new(DEFAULT_SOCKET)
        ));
    }
}
