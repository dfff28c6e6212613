//! `cargo bench -p clos-fib`: the same measurements as `closctl fib bench`
//! on the tier-1 tables (skipped with a note when the data is absent).
//! Set `FIB_BENCH_LOOKUPS` to change the lookups per measurement.

use std::path::PathBuf;

use clos_fib::tools::{bench, BenchOptions};

fn main() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    for name in ["rib_tier1_2024.v4.txt", "rib_tier1_2024.v6.txt"] {
        let path = data.join(name);
        if !path.exists() {
            eprintln!("note: {} absent; skipping", path.display());
            continue;
        }
        let mut opts = BenchOptions::new(path);
        if let Some(n) = std::env::var("FIB_BENCH_LOOKUPS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            opts.lookups = n;
        }
        match bench(&opts) {
            Ok(report) => print!("{name}\n{}", report.to_text()),
            Err(e) => eprintln!("{name}: {e}"),
        }
    }
}
