//! Offline FIB tools (`closctl fib ...`).
//!
//! Placeholder written by the CLI engineer so `closctl` builds; the FIB
//! engineer replaces this file with the real commands.

/// `closctl fib` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum FibCommand {
    /// Benchmark longest-prefix match over a route table (not built yet).
    Bench,
}

/// Runs a `closctl fib` subcommand; synchronous, needs no daemon.
pub fn run(cmd: FibCommand) -> anyhow::Result<()> {
    match cmd {
        FibCommand::Bench => anyhow::bail!("closctl fib is not built yet"),
    }
}
