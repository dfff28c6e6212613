//! `closctl fib lookup|bench`: offline tools over the software FIB.
//!
//! Owns only flag parsing and output choice; the work is in
//! `clos_fib::tools` so the same code runs from tests and examples.

use std::path::PathBuf;

use anyhow::Context;
use clos_fib::tools::{self, BenchOptions};
use clos_fib::Family;

/// `closctl fib …`
#[derive(clap::Subcommand, Debug)]
pub enum FibCommand {
    /// Read addresses on stdin, one a line; print `ADDRESS NEXTHOP_ID`
    /// (`-` where no route matches).
    Lookup(LookupArgs),
    /// Build the FIB from a table and measure build time, memory and
    /// single-core lookups per second beside a DIR-24-8 reference.
    Bench(BenchArgs),
    /// Ask a running closd what it installed in the kernel: routes, next-hop
    /// resolution, and every route the kernel refused with its error.
    Kernel(KernelArgs),
}

/// Flags of `closctl fib kernel`.
#[derive(clap::Args, Debug)]
pub struct KernelArgs {
    /// closd's API socket [default: /run/clos/closd.sock]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print the reply as JSON (proto field names).
    #[arg(long)]
    pub json: bool,
    /// Only this prefix (installed route and refusal).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Counts, next hops and refusals only, not every installed route.
    #[arg(long)]
    pub summary: bool,
}

/// Flags of `closctl fib lookup`.
#[derive(clap::Args, Debug)]
pub struct LookupArgs {
    /// Route table: `PREFIX/LEN NEXTHOP_ID` per line.
    #[arg(long)]
    pub table: PathBuf,
    /// Only this family (default: detected per line).
    #[arg(long, value_parser = parse_family)]
    pub family: Option<Family>,
}

/// Flags of `closctl fib bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Route table: `PREFIX/LEN NEXTHOP_ID` per line.
    #[arg(long)]
    pub table: PathBuf,
    /// Family to measure (default: the one the table has most routes of).
    #[arg(long, value_parser = parse_family)]
    pub family: Option<Family>,
    /// Lookups per measurement.
    #[arg(long, default_value_t = 1 << 24)]
    pub lookups: usize,
    /// Measurements per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Route changes in the update measurement (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub updates: usize,
    /// Packets per pipeline measurement (0 skips it).
    #[arg(long, default_value_t = 1 << 22)]
    pub packets: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_family(s: &str) -> Result<Family, String> {
    s.parse().map_err(|e: clos_fib::FibError| e.to_string())
}

/// Runs a `closctl fib` command. `fib kernel` asks closd at the target
/// `daemon` makes of its own `--socket` (the top-level `--api`,
/// `--token-file` and `--socket` are in there); `json` is the top-level flag.
pub fn run(
    cmd: FibCommand,
    daemon: impl FnOnce(Option<PathBuf>) -> anyhow::Result<crate::Target>,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        FibCommand::Kernel(args) => {
            let target = daemon(args.socket.clone())?;
            let prefix = match &args.prefix {
                Some(p) => crate::input::prefix(p)?.to_string(),
                None => String::new(),
            };
            let text = crate::bgp::kernel_fib(&target, args.json || json, !args.summary, prefix)?;
            crate::print(&text)?;
        }
        FibCommand::Lookup(args) => {
            let stdin = std::io::stdin();
            tools::lookup(&args.table, args.family, stdin.lock(), std::io::stdout())
                .with_context(|| format!("fib lookup with table {}", args.table.display()))?;
        }
        FibCommand::Bench(args) => {
            let mut opts = BenchOptions::new(args.table.clone());
            opts.family = args.family;
            opts.lookups = args.lookups;
            opts.runs = args.runs;
            opts.updates = args.updates;
            opts.packets = args.packets;
            let report = tools::bench(&opts)
                .with_context(|| format!("fib bench with table {}", args.table.display()))?;
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
        }
    }
    Ok(())
}
