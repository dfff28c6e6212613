//! Benchmark: install a full IPv4 table into the kernel with `KernelFib`
//! and with `ip -batch`, side by side, inside a network namespace this
//! program creates and deletes.
//!
//! ```text
//! cargo run --release -p clos-fib-kernel --example install_bench -- \
//!     [--file ../shared/data/rib_tier1_2024.v4.txt] [--limit N] [--runs 3]
//! ```
//!
//! Scenarios, each timed `--runs` times (median reported):
//! - `single/nhobj`: every route via one gateway, `RTA_NH_ID` of one
//!   nexthop object (`ip`: `nexthop add id 1 ...` + `route add P nhid 1`);
//! - `single/inline`: every route via one gateway, `RTA_GATEWAY`
//!   (`ip`: `route add P via GW dev v0`);
//! - `ecmp8`: every route via the same 8 gateways, one nexthop group
//!   (`ip`: 8 × `nexthop add`, one `nexthop add group`, `route add P nhid G`).
//!
//! Also reported: removal time, and the memory the mirror adds per route,
//! counted by a global allocator that tracks live heap bytes (the only
//! `unsafe` here: a pass-through to the system allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};
use clos_fib_kernel::netns::Netns;
use clos_fib_kernel::{Change, Config, KernelFib, NextHop, Route, SinglePath, RTPROT_CLOS};
use ipnet::IpNet;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TABLE: u32 = 100;
const METRIC: u32 = 20;

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    SingleNexthopObject,
    SingleInline,
    Ecmp8,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::SingleNexthopObject => "single/nhobj",
            Scenario::SingleInline => "single/inline",
            Scenario::Ecmp8 => "ecmp8",
        }
    }
}

struct Sample {
    clos_install: f64,
    clos_remove: f64,
    ip_install: f64,
    mirror_bytes_per_route: f64,
    adopt: f64,
    reapply: f64,
}

fn main() -> anyhow::Result<()> {
    let mut file = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/rib_tier1_2024.v4.txt"
    ));
    let mut limit = usize::MAX;
    let mut runs = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("flag needs a value");
        match arg.as_str() {
            "--file" => file = value()?.into(),
            "--limit" => limit = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
    let prefixes: Vec<IpNet> = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|p| p.parse::<IpNet>().ok())
        .map(|p| p.trunc())
        .take(limit)
        .collect();
    let mut unique = prefixes.clone();
    unique.sort();
    unique.dedup();
    let prefixes = unique;
    eprintln!("{} prefixes from {}", prefixes.len(), file.display());

    let ns = Netns::create("clos-fk-bench")?;
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"])?;
    ns.ip(&["link", "set", "v0", "up"])?;
    ns.ip(&["link", "set", "v1", "up"])?;
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "v0"])?;
    let out = ns.ip(&["-o", "link", "show", "v0"])?;
    let v0: u32 = out.split(':').next().unwrap_or_default().trim().parse()?;
    let gateways: Vec<String> = (2..10).map(|i| format!("10.0.0.{i}")).collect();

    let scenarios = [
        Scenario::SingleNexthopObject,
        Scenario::SingleInline,
        Scenario::Ecmp8,
    ];
    let mut samples: Vec<Vec<Sample>> = scenarios.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        for (s, &scenario) in scenarios.iter().enumerate() {
            let hops: Vec<NextHop> = match scenario {
                Scenario::Ecmp8 => gateways
                    .iter()
                    .map(|g| NextHop::new(g.parse().unwrap(), Some(v0)))
                    .collect(),
                _ => vec![NextHop::new(gateways[0].parse()?, Some(v0))],
            };
            let changes: Vec<Change> = prefixes
                .iter()
                .map(|p| Change::Upsert(Route::new(*p, hops.clone())))
                .collect();
            let removals: Vec<Change> = prefixes.iter().map(|p| Change::Remove(*p)).collect();
            let mut config = Config::new(TABLE, RTPROT_CLOS);
            config.metric = METRIC;
            config.single_path = if scenario == Scenario::SingleInline {
                SinglePath::Inline
            } else {
                SinglePath::NexthopObject
            };

            let (clos_install, clos_remove, mirror_bytes, adopt, reapply) =
                ns.run(|| -> anyhow::Result<_> {
                    let mut fib = KernelFib::open_with(config.clone())?;
                    let before = LIVE.load(Ordering::Relaxed);
                    let start = Instant::now();
                    let failed = fib.apply(&changes)?;
                    let install = start.elapsed().as_secs_f64();
                    let after = LIVE.load(Ordering::Relaxed);
                    if !failed.is_empty() {
                        bail!("{} routes failed, first: {:?}", failed.len(), failed[0]);
                    }
                    let stats = fib.stats();
                    eprintln!(
                        "  clos {}: {} routes, {} nexthops, {} groups, mirror tables {} B",
                        scenario.name(),
                        stats.routes,
                        stats.nexthops,
                        stats.groups,
                        stats.mirror_bytes
                    );
                    // Restart: a second instance adopts the table, and the
                    // RIB's full re-announcement is a no-op.
                    drop(fib);
                    let start = Instant::now();
                    let mut fib = KernelFib::open_with(config)?;
                    let adopt = start.elapsed().as_secs_f64();
                    if fib.stats().routes != changes.len() {
                        bail!("adopted {} of {} routes", fib.stats().routes, changes.len());
                    }
                    let start = Instant::now();
                    let failed = fib.apply(&changes)?;
                    let reapply = start.elapsed().as_secs_f64();
                    if !failed.is_empty() {
                        bail!("{} re-applied routes failed", failed.len());
                    }
                    let start = Instant::now();
                    let failed = fib.apply(&removals)?;
                    let remove = start.elapsed().as_secs_f64();
                    if !failed.is_empty() {
                        bail!("{} removals failed", failed.len());
                    }
                    Ok((install, remove, (after - before) as f64, adopt, reapply))
                })??;
            let leftover = ns.ip(&["route", "show", "table", &TABLE.to_string()])?;
            if !leftover.is_empty() {
                bail!("routes left after removal");
            }

            let batch = batch_file(&ns, scenario, &prefixes, &gateways)?;
            let start = Instant::now();
            ns.ip_batch(&batch)?;
            let ip_install = start.elapsed().as_secs_f64();
            let count = ns
                .ip(&["route", "show", "table", &TABLE.to_string()])?
                .lines()
                .filter(|l| !l.starts_with(char::is_whitespace))
                .count();
            if count != prefixes.len() {
                bail!("ip -batch installed {count} of {} routes", prefixes.len());
            }
            // Deleting a nexthop object deletes its routes; iproute2 6.1's
            // `route flush` fails (EINVAL) on routes with `nhid`.
            ns.ip(&["nexthop", "flush"])?;
            if scenario == Scenario::SingleInline {
                ns.ip(&["route", "flush", "table", &TABLE.to_string()])?;
            }
            std::fs::remove_file(&batch)?;

            let sample = Sample {
                clos_install,
                clos_remove,
                ip_install,
                mirror_bytes_per_route: mirror_bytes / prefixes.len() as f64,
                adopt,
                reapply,
            };
            eprintln!(
                "run {run} {:<14} clos {:.3} s, ip -batch {:.3} s, clos remove {:.3} s, adopt {:.3} s, re-apply {:.3} s, mirror {:.1} B/route",
                scenario.name(),
                sample.clos_install,
                sample.ip_install,
                sample.clos_remove,
                sample.adopt,
                sample.reapply,
                sample.mirror_bytes_per_route
            );
            samples[s].push(sample);
        }
    }

    let n = prefixes.len() as f64;
    println!(
        "| scenario | routes | clos install (s) | clos routes/s | ip -batch (s) | ip routes/s | clos/ip rate | clos remove (s) | restart adopt (s) | re-apply (s) | mirror B/route |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (s, scenario) in scenarios.iter().enumerate() {
        let clos = median(samples[s].iter().map(|x| x.clos_install));
        let ip = median(samples[s].iter().map(|x| x.ip_install));
        let remove = median(samples[s].iter().map(|x| x.clos_remove));
        let mirror = median(samples[s].iter().map(|x| x.mirror_bytes_per_route));
        let adopt = median(samples[s].iter().map(|x| x.adopt));
        let reapply = median(samples[s].iter().map(|x| x.reapply));
        println!(
            "| {} | {} | {:.3} | {:.0} | {:.3} | {:.0} | {:.0}% | {:.3} | {:.3} | {:.3} | {:.1} |",
            scenario.name(),
            prefixes.len(),
            clos,
            n / clos,
            ip,
            n / ip,
            100.0 * ip / clos,
            remove,
            adopt,
            reapply,
            mirror
        );
    }
    Ok(())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Writes the `ip -batch` file for `scenario`.
fn batch_file(
    ns: &Netns,
    scenario: Scenario,
    prefixes: &[IpNet],
    gateways: &[String],
) -> anyhow::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!(
        "{}-{}.batch",
        ns.name(),
        scenario.name().replace('/', "-")
    ));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let tail = format!("proto {RTPROT_CLOS} metric {METRIC} table {TABLE}");
    match scenario {
        Scenario::SingleInline => {
            for p in prefixes {
                writeln!(out, "route add {p} via {} dev v0 {tail}", gateways[0])?;
            }
        }
        Scenario::SingleNexthopObject => {
            writeln!(
                out,
                "nexthop add id 1 via {} dev v0 proto {RTPROT_CLOS}",
                gateways[0]
            )?;
            for p in prefixes {
                writeln!(out, "route add {p} nhid 1 {tail}")?;
            }
        }
        Scenario::Ecmp8 => {
            for (i, g) in gateways.iter().enumerate() {
                writeln!(
                    out,
                    "nexthop add id {} via {g} dev v0 proto {RTPROT_CLOS}",
                    i + 1
                )?;
            }
            let members: Vec<String> = (1..=gateways.len()).map(|i| i.to_string()).collect();
            writeln!(
                out,
                "nexthop add id 100 group {} proto {RTPROT_CLOS}",
                members.join("/")
            )?;
            for p in prefixes {
                writeln!(out, "route add {p} nhid 100 {tail}")?;
            }
        }
    }
    out.flush()?;
    Ok(path)
}
