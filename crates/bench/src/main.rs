//! `clos-bench`: BGP route-ingest benchmark for closd against BIRD, FRR and
//! GoBGP, run side by side in one invocation.
//!
//! A compiled successor of the shared harness `bgp-ingest` (whose Python
//! monitor tops out near 1.5M routes/s): K feeders push pre-encoded UPDATE
//! streams into the daemon under test (DUT), M monitors receive what it
//! re-advertises, and every monitor must end with exactly the expected
//! prefixes and paths (best path per prefix by RFC 4271 §9.1.2.2, the DUT's
//! AS prepended). Everything runs in a private network namespace per run,
//! on loopback addresses only.
//!
//! Subcommands: `ingest` (full table), `churn` (full table, then feeder 0
//! re-announces C routes with new attributes and withdraws C others),
//! `soak` (full table, then feeder 0 churns C routes and restores them in
//! turn for minutes while the other sessions stay up: phase times, RSS,
//! final exact check), `sink` (feeders straight into our own monitors: the
//! tool's ceiling),
//! `kernel` (time until the DUT has installed the table, optionally 8-way
//! ECMP, into a namespace's kernel table, next to `ip -batch`).
//!
//! Module map:
//! - `util`     — PRNG, hasher, prefixes as integers, medians
//! - `routes`   — route set, per-feeder paths, expected best paths
//! - `stream`   — UPDATE streams encoded with clos-wire, disk cache
//! - `parse`    — light UPDATE parsing for monitors (and the clos-wire path)
//! - `monitor`  — a monitor's table and the exact-match check
//! - `prefix_table` — the monitors' flat prefix hash table (prefetching)
//! - `session`  — minimal BGP speaker: handshake, keepalives, framing
//! - `dut`      — namespace, DUT configs, process control, /proc readings
//! - `scenario` — one run: threads, timing, verdict
//! - `report`   — rows, medians, table, TSV, JSON
//! - `soak`     — the `soak` scenario's options, RSS sampler and report
//! - `kernel`   — the `kernel` scenario: options, runs, feeders, timing
//! - `kernel_dut` — its veth, DUT configs with kernel install, FRR's zebra
//! - `ipbatch`  — its baseline: `ip -batch` files
//! - `rtnl`     — route dumps and notifications over rtnetlink, decoded
//! - `watch`    — the thread that sees the kernel table complete
//! - `kernel_report` — its rows, medians, ratios
#![deny(unsafe_code)]

mod dut;
mod ipbatch;
mod kernel;
mod kernel_dut;
mod kernel_report;
mod monitor;
mod parse;
mod prefix_table;
mod report;
mod routes;
mod rtnl;
mod scenario;
mod session;
mod soak;
mod stream;
mod util;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::dut::DutKind;
use crate::monitor::{Decoder, Target};
use crate::report::{Row, RunInfo};
use crate::routes::{Churn, Expectation, RouteArgs, RouteSet};
use crate::scenario::{RunSpec, INTERRUPTED};
use crate::stream::StreamKind;
use crate::util::Family;

#[derive(Parser)]
#[command(
    name = "clos-bench",
    about = "BGP ingest benchmark: K feeders -> DUT -> M monitors, in a network namespace",
    after_help = "Needs root (network namespaces). See bench/README.md for the columns."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Full-table ingest: time until every monitor holds the expected table.
    Ingest(Opts),
    /// Ingest, then feeder 0 re-announces C routes with new attributes and
    /// withdraws C others; time until every monitor agrees again.
    Churn {
        #[command(flatten)]
        opts: Opts,
        /// C: routes re-announced, and as many withdrawn.
        #[arg(long, default_value_t = 100_000)]
        churn: usize,
    },
    /// Ingest, then feeder 0 churns C routes and restores them, in turn at
    /// full speed for --duration seconds, while the other feeders and the
    /// monitors stay established; reports phase times, the DUT's RSS after
    /// --warmup, and whether every monitor ends exactly on the table.
    #[command(
        mut_arg("dut", |a| a.default_value("closd")),
        mut_arg("feeders", |a| a.default_value("3")),
        mut_arg("reps", |a| a.default_value("1"))
    )]
    Soak {
        #[command(flatten)]
        opts: Opts,
        #[command(flatten)]
        soak: soak::SoakArgs,
    },
    /// No DUT: feeders straight into our own monitors (the tool's ceiling).
    Sink(Opts),
    /// Time to install the table into a namespace's kernel main table:
    /// BIRD, FRR (zebra) and closd fed over BGP, next to `ip -batch`.
    Kernel(kernel::KernelOpts),
}

#[derive(Args, Clone)]
struct Opts {
    /// Daemons under test, run interleaved per repetition.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "bird,frr,gobgp,closd"
    )]
    dut: Vec<DutKind>,
    /// K: feeders, each announcing every prefix with its own paths.
    #[arg(long, short = 'k', default_value_t = 1)]
    feeders: usize,
    /// M: monitors.
    #[arg(long, short = 'm', default_value_t = 1)]
    monitors: usize,
    #[command(flatten)]
    set: RouteArgs,
    /// Repetitions per DUT (medians are reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    #[arg(long, value_enum, default_value = "ipv4")]
    family: Family,
    /// closd binary (copied before the first run).
    #[arg(long, default_value = "/work/main/target/release/closd")]
    closd: PathBuf,
    /// UPDATE stream cache.
    #[arg(long, default_value = "/tmp/clos-bench-cache")]
    cache: PathBuf,
    /// Seconds a phase may take before the run fails.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Hold time we propose (DUTs are configured for 90 s too).
    #[arg(long, default_value_t = 90)]
    hold: u16,
    /// Monitor decoder.
    #[arg(long, value_enum, default_value = "light")]
    decoder: Decoder,
    /// Print JSON (every run and the medians) instead of the table.
    #[arg(long)]
    json: bool,
    /// Append rows and medians to this TSV file.
    #[arg(long)]
    tsv: Option<PathBuf>,
    /// Keep each run's scratch directory (configs, DUT logs).
    #[arg(long)]
    keep: bool,
}

fn main() {
    let cli = Cli::parse();
    spawn_signal_watcher();
    let code = match real_main(cli) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("clos-bench: {e:#}");
            if INTERRUPTED.load(Ordering::Relaxed) {
                130
            } else {
                2
            }
        }
    };
    std::process::exit(code);
}

/// Ctrl-C / SIGTERM set [`INTERRUPTED`]; the run in progress notices within
/// 100 ms, stops its DUT by PID and deletes its namespace.
fn spawn_signal_watcher() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!("clos-bench: interrupted, cleaning up");
            INTERRUPTED.store(true, Ordering::Relaxed);
        });
    });
}

fn real_main(cli: Cli) -> Result<bool> {
    let (scenario, opts, churn_count, sink, soak) = match cli.command {
        Command::Ingest(o) => ("ingest", o, 0, false, None),
        Command::Churn { opts, churn } => ("churn", opts, churn, false, None),
        Command::Soak { opts, soak } => {
            soak.check()?;
            if opts.tsv.is_some() {
                bail!("soak writes JSON (--json, --out), not --tsv");
            }
            ("soak", opts, soak.churn, false, Some(soak))
        }
        Command::Sink(o) => ("sink", o, 0, true, None),
        Command::Kernel(o) => return kernel::main(o),
    };
    if opts.reps == 0 || opts.set.routes == 0 {
        bail!("--reps and --routes must be at least 1");
    }
    if !sink && opts.monitors == 0 {
        bail!("at least one monitor");
    }
    let k = opts.feeders;
    let params = opts.set.params(opts.family);
    let t = std::time::Instant::now();
    let set = RouteSet::build(&params)?;
    let churn = Churn::new(set.prefixes.len(), churn_count);
    if churn_count > 0 && churn.reannounce.is_empty() {
        bail!("churn needs at least 2 routes");
    }
    let streams = (0..k)
        .map(|f| stream::load(&set, f, k, StreamKind::Initial, &churn, &opts.cache).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    let churn_stream = if churn_count > 0 {
        Some(Arc::new(stream::load(
            &set,
            0,
            k,
            StreamKind::Churn,
            &churn,
            &opts.cache,
        )?))
    } else {
        None
    };
    let soak_plan = match &soak {
        Some(args) => {
            let restore = stream::load(&set, 0, k, StreamKind::Restore, &churn, &opts.cache)?;
            Some(args.plan(Arc::new(restore)))
        }
        None => None,
    };
    let expectation = Expectation::build(&set, k, (churn_count > 0).then_some(&churn));
    let bytes: usize = streams.iter().map(|s| s.bytes.len()).sum();
    eprintln!(
        "route set: {} {} prefixes, {} attribute sets, {k} feeder stream(s) of {} UPDATEs \
         ({bytes} bytes in all); ready in {:.2}s",
        set.prefixes.len(),
        opts.family.name(),
        set.groups(),
        streams[0].updates,
        t.elapsed().as_secs_f64()
    );

    let scratch = std::env::temp_dir().join(format!("clos-bench.{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let duts: Vec<Option<DutKind>> = if sink {
        vec![None]
    } else {
        opts.dut.iter().copied().map(Some).collect()
    };
    let closd = if duts.contains(&Some(DutKind::Closd)) {
        dut::snapshot_binary(&opts.closd, &scratch)?
    } else {
        opts.closd.clone()
    };
    let targets = build_targets(&set, &expectation, k, sink, &duts);
    let ticks = dut::clock_ticks();
    let date = date_string();

    let mut rows: Vec<Row> = Vec::new();
    let mut any_failed = false;
    'reps: for rep in 1..=opts.reps {
        for &d in &duts {
            if INTERRUPTED.load(Ordering::Relaxed) {
                break 'reps;
            }
            let name = d.map_or("sink", DutKind::name);
            let label = format!("{name}-{rep}");
            let spec = RunSpec {
                dut: d,
                family: opts.family,
                monitors: if sink { k } else { opts.monitors },
                streams: streams.clone(),
                churn: churn_stream.clone(),
                soak: soak_plan.clone(),
                targets: targets[name].clone(),
                decoder: opts.decoder,
                hold: opts.hold,
                timeout: Duration::from_secs(opts.timeout),
                closd: closd.clone(),
                work: scratch.join(&label),
                ticks,
                label: label.clone(),
            };
            let result = scenario::run(spec);
            let row = Row {
                info: RunInfo {
                    scenario,
                    dut: if sink && opts.decoder == Decoder::Wire {
                        "sink-wire".into()
                    } else {
                        name.into()
                    },
                    family: opts.family.name(),
                    feeders: k,
                    monitors: if sink { k } else { opts.monitors },
                    routes: set.prefixes.len(),
                    // A soak's churn is in its own report.
                    churn_routes: if soak.is_some() {
                        0
                    } else {
                        churn.reannounce.len() + churn.withdraw.len()
                    },
                    rep,
                },
                result,
            };
            eprintln!("{}", row.line());
            if !row.result.ok {
                any_failed = true;
                for m in &row.result.mismatches {
                    eprintln!("  mismatch: {m}");
                }
                for d in &row.result.sessions_down {
                    eprintln!("  down: {d}");
                }
                eprintln!("  logs: {}", scratch.join(&label).display());
            }
            rows.push(row);
        }
    }
    if INTERRUPTED.load(Ordering::Relaxed) {
        bail!("interrupted; partial results not written");
    }
    let passed = match &soak {
        Some(args) => report_soak(&rows, args, &opts, &date, churn.reannounce.len())?,
        None => {
            report_runs(&rows, &opts, scenario, churn_count > 0, &date)?;
            !any_failed
        }
    };
    if opts.keep || any_failed {
        eprintln!("scratch kept: {}", scratch.display());
    } else {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    Ok(passed)
}

/// Medians per DUT: the table or JSON on stdout, TSV if asked.
fn report_runs(rows: &[Row], opts: &Opts, scenario: &str, churn: bool, date: &str) -> Result<()> {
    let summaries = report::summarize(rows);
    if opts.json {
        let out = serde_json::json!({
            "date": date,
            "runs": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
            "medians": summaries.iter().map(report::Summary::to_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{scenario}: medians of {} repetition(s), {date}", opts.reps);
        print!("{}", report::table(&summaries, churn));
    }
    if let Some(path) = &opts.tsv {
        report::append_tsv(path, rows, &summaries, date)?;
    }
    Ok(())
}

/// Every run's soak report: the table or JSON on stdout, the JSON to
/// `--out` if asked. Ok(false) unless every soak passed.
fn report_soak(
    rows: &[Row],
    args: &soak::SoakArgs,
    opts: &Opts,
    date: &str,
    churn: usize,
) -> Result<bool> {
    let reports: Vec<soak::Report> = rows
        .iter()
        .map(|r| soak::Report::new(r, churn, args.warmup, opts.hold))
        .collect();
    let out = serde_json::json!({
        "date": date,
        "scenario": "soak",
        "duration_asked_s": args.duration,
        "warmup_s": args.warmup,
        "sample_ms": args.sample_ms,
        "runs": reports.iter().map(soak::Report::to_json).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&out)?;
    if opts.json {
        println!("{text}");
    } else {
        println!(
            "soak: {} feeder(s), {} monitor(s), {} {} routes, churn {churn} re-announced + \
             {churn} withdrawn, then restored; {} s asked, {date}",
            opts.feeders,
            opts.monitors,
            opts.set.routes,
            opts.family.name(),
            args.duration
        );
        print!("{}", soak::table(&reports));
    }
    if let Some(path) = &args.out {
        soak::write_out(path, &text)?;
    }
    Ok(reports.iter().all(soak::Report::passed))
}

/// One target set per DUT name; DUTs with the same MED behaviour share.
fn build_targets(
    set: &RouteSet,
    expectation: &Expectation,
    feeders: usize,
    sink: bool,
    duts: &[Option<DutKind>],
) -> HashMap<&'static str, Vec<Arc<Target>>> {
    let mut out = HashMap::new();
    if sink {
        let t = (0..feeders)
            .map(|f| Arc::new(Target::feeder_direct(set, f, feeders)))
            .collect();
        out.insert("sink", t);
        return out;
    }
    let mut by_med: HashMap<bool, Arc<Target>> = HashMap::new();
    for d in duts.iter().flatten() {
        let t = by_med
            .entry(d.keeps_med())
            .or_insert_with(|| {
                Arc::new(Target::behind_dut(set, expectation, feeders, d.keeps_med()))
            })
            .clone();
        out.insert(d.name(), vec![t]);
    }
    out
}

fn date_string() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%dT%H:%M:%S%z")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".into(), |s| s.trim().to_string())
}
