//! Stand-in for `closctl fib lookup|bench` until the CLI is wired:
//! `cargo run --release -p clos-fib --example fibtool -- bench --table FILE [--json]`
//! `cargo run --release -p clos-fib --example fibtool -- lookup --table FILE [--family ipv4] < addrs`
//! Flags: --family F, --lookups N, --runs N, --updates N, --packets N, --json.

use std::path::PathBuf;

use clos_fib::tools::{self, BenchOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let table = PathBuf::from(value("--table").ok_or("--table FILE is required")?);
    let family = value("--family").map(|f| f.parse()).transpose()?;
    match args.first().map(String::as_str) {
        Some("lookup") => {
            let stdin = std::io::stdin();
            tools::lookup(&table, family, stdin.lock(), std::io::stdout())?;
        }
        Some("bench") => {
            let mut opts = BenchOptions::new(table);
            opts.family = family;
            if let Some(v) = value("--lookups") {
                opts.lookups = v.parse()?;
            }
            if let Some(v) = value("--runs") {
                opts.runs = v.parse()?;
            }
            if let Some(v) = value("--updates") {
                opts.updates = v.parse()?;
            }
            if let Some(v) = value("--packets") {
                opts.packets = v.parse()?;
            }
            let report = tools::bench(&opts)?;
            if args.iter().any(|a| a == "--json") {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
        }
        _ => return Err("usage: fibtool lookup|bench --table FILE ...".into()),
    }
    Ok(())
}
