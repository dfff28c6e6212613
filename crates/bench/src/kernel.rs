//! The `kernel` scenario: time to install a table into a namespace's kernel
//! main table, for BIRD, FRR (zebra + bgpd) and closd fed over BGP, side by
//! side with `ip -batch` installing the same routes.
//!
//! Owns: the subcommand's options, the sequence of runs (interleaved per
//! repetition), one run (namespaces, installer, feeders) and its
//! measurements. Owns no configuration text (`kernel_dut`), no batch text
//! (`ipbatch`), no watching of the kernel table (`watch`, `rtnl`), no
//! formatting (`kernel_report`).
//!
//! One run, all inside two fresh namespaces wired by `kernel_dut::wire`:
//!
//! ```text
//!  run thread (setns: DUT namespace) ──spawns──► watcher (notifications or dumps)
//!      │ ──spawns──► feeder k (setns: feeders' namespace) ─ BGP ─► DUT :179
//!      ◄──────── events (mpsc): Up, Sent { first byte, last byte }, Failed
//! ```
//!
//! Timing, the same for every installer: from the start (DUT: the first
//! UPDATE byte any feeder wrote, sessions already Established; ip-batch:
//! spawning `ip -n NS -batch FILE`) until the watcher (`watch`) sees the
//! main table hold all N prefixes, each with exactly `--ecmp` next hops and
//! the installer's `rtm_protocol`. A dump 300 ms later must confirm it. For
//! ip-batch the process's own time to exit is reported too (`exit_s`): it
//! exits a little after its last route is in.

use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use crate::dut::{self, DutKind, Netns};
use crate::ipbatch::{self, Style};
use crate::kernel_dut::{self, Daemons, KernelLayout, DUT_IF, METRIC};
use crate::kernel_report::{self, KernelResult, KernelRow};
use crate::routes::{RouteArgs, RouteSet, FEEDER_ASN};
use crate::rtnl::{self, Filter, RouteDumper};
use crate::scenario::{feeder_loop, Event, INTERRUPTED};
use crate::session::SessionStats;
use crate::stream::{self, Stream};
use crate::util::Family;
use crate::watch::{Completion, Method, Watcher};

/// The main routing table.
const MAIN_TABLE: u32 = 254;
/// How long sessions may take to come up.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of `clos-bench kernel`.
#[derive(Args, Clone)]
pub struct KernelOpts {
    /// Daemons under test (bird, frr, closd), run interleaved with the
    /// ip-batch baselines in every repetition.
    #[arg(
        long = "duts",
        alias = "dut",
        value_enum,
        value_delimiter = ',',
        default_value = "bird,frr,closd"
    )]
    duts: Vec<DutKind>,
    /// ip -batch baselines: `via` (`via` / `nexthop via` on each route),
    /// `nhid` (kernel nexthop objects, as closd installs).
    #[arg(
        long = "ip-batch",
        value_enum,
        value_delimiter = ',',
        default_value = "via,nhid"
    )]
    ip_batch: Vec<Style>,
    /// Run no ip-batch baseline.
    #[arg(long)]
    no_ip_batch: bool,
    #[command(flatten)]
    set: RouteArgs,
    /// ECMP width: this many feeders announce every prefix with equal-length
    /// AS paths from different ASes, and a route is complete with this
    /// many next hops.
    #[arg(long, default_value_t = 1)]
    ecmp: usize,
    /// Repetitions per installer (medians are reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// closd binary (copied before the first run); default: next to this
    /// executable, else /work/main/target/release/closd.
    #[arg(long)]
    closd: Option<PathBuf>,
    /// closctl binary, for closd's FIB memory; default as for --closd.
    #[arg(long)]
    closctl: Option<PathBuf>,
    /// UPDATE stream cache.
    #[arg(long, default_value = "/tmp/clos-bench-cache")]
    cache: PathBuf,
    /// Seconds a run may take before it fails.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// How completion is detected: `notify` (route notifications, drained
    /// every 10 ms; the installer does not notice) or `dump` (a full dump of
    /// the table every --poll-ms; a 1M-route dump takes ~1 s and slows the
    /// installer).
    #[arg(long, value_enum, default_value = "notify")]
    watch: Method,
    /// Milliseconds between dumps with `--watch dump`.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// Print JSON (every run, the medians and the ratios) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write that JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the scratch directory (configs, logs, batch files).
    #[arg(long)]
    keep: bool,
}

/// What installs the routes in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    Dut(DutKind),
    IpBatch(Style),
}

impl Installer {
    pub fn name(self) -> &'static str {
        match self {
            Installer::Dut(d) => d.name(),
            Installer::IpBatch(s) => s.name(),
        }
    }

    /// The `rtm_protocol` its routes carry.
    pub fn protocol(self) -> u8 {
        match self {
            Installer::Dut(DutKind::Bird) => rtnl::RTPROT_BIRD,
            Installer::Dut(DutKind::Frr | DutKind::Gobgp) => rtnl::RTPROT_BGP,
            Installer::Dut(DutKind::Closd) => rtnl::RTPROT_CLOS,
            Installer::IpBatch(_) => rtnl::RTPROT_STATIC,
        }
    }
}

/// What every run of an invocation shares.
struct Shared {
    layout: KernelLayout,
    streams: Vec<Arc<Stream>>,
    routes: usize,
    ecmp: usize,
    closd: PathBuf,
    closctl: PathBuf,
    timeout: Duration,
    watch: Method,
    poll: Duration,
    ticks: f64,
}

impl Shared {
    /// A watcher for the routes `filter` selects, started before the feed.
    fn watcher(&self, filter: Filter) -> Result<Watcher> {
        Watcher::spawn(self.watch, filter, self.routes, self.poll, self.ticks)
    }
}

/// `clos-bench kernel`: Ok(false) when a run failed.
pub fn main(opts: KernelOpts) -> Result<bool> {
    if opts.reps == 0 || opts.set.routes == 0 || opts.ecmp == 0 {
        bail!("--reps, --routes and --ecmp must be at least 1");
    }
    if opts.duts.contains(&DutKind::Gobgp) {
        bail!("gobgp is not supported by `kernel` (it installs through zebra only)");
    }
    let layout = KernelLayout::new(opts.ecmp)?;
    let params = opts.set.params(Family::Ipv4);
    let t = Instant::now();
    let set = RouteSet::build(&params)?;
    let streams = layout
        .feeders
        .iter()
        .enumerate()
        .map(|(k, &nh)| stream::load_kernel_feed(&set, k, opts.ecmp, nh, &opts.cache).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    let scratch = std::env::temp_dir().join(format!("clos-bench-kernel.{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut batches = Vec::new();
    let styles = if opts.no_ip_batch {
        &[][..]
    } else {
        &opts.ip_batch[..]
    };
    for &style in styles {
        let file = scratch.join(format!("{}.batch", style.name()));
        let mut out = BufWriter::new(
            std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?,
        );
        ipbatch::write_batch(
            &mut out,
            &set.prefixes,
            &layout.feeders,
            DUT_IF,
            METRIC,
            style,
        )?;
        std::io::Write::flush(&mut out)?;
        batches.push((style, file));
    }
    eprintln!(
        "route set: {} IPv4 prefixes, {} feeder(s) (ECMP {}), {} UPDATEs per feeder, \
         {} batch file(s); ready in {:.2}s",
        set.prefixes.len(),
        opts.ecmp,
        opts.ecmp,
        streams[0].updates,
        batches.len(),
        t.elapsed().as_secs_f64()
    );
    let closd = if opts.duts.contains(&DutKind::Closd) {
        dut::snapshot_binary(&sibling(opts.closd.as_deref(), "closd"), &scratch)?
    } else {
        PathBuf::new()
    };
    let shared = Shared {
        layout,
        streams,
        routes: set.prefixes.len(),
        ecmp: opts.ecmp,
        closd,
        closctl: sibling(opts.closctl.as_deref(), "closctl"),
        timeout: Duration::from_secs(opts.timeout),
        watch: opts.watch,
        poll: Duration::from_millis(opts.poll_ms.max(1)),
        ticks: dut::clock_ticks(),
    };
    let mut order: Vec<(Installer, Option<&Path>)> = batches
        .iter()
        .map(|(s, f)| (Installer::IpBatch(*s), Some(f.as_path())))
        .collect();
    order.extend(opts.duts.iter().map(|&d| (Installer::Dut(d), None)));

    // The machine, for the record: a "quiet machine" shows in the load.
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let kernel_release = read("/proc/sys/kernel/osrelease");
    let load_before = read("/proc/loadavg");

    let mut rows: Vec<KernelRow> = Vec::new();
    let mut any_failed = false;
    'reps: for rep in 1..=opts.reps {
        for &(installer, batch) in &order {
            if INTERRUPTED.load(Ordering::Relaxed) {
                break 'reps;
            }
            let label = format!("{}-{rep}", installer.name());
            let work = scratch.join(&label);
            let result = run(installer, &shared, batch, &work, &label);
            let row = KernelRow {
                installer: installer.name().to_string(),
                routes: shared.routes,
                ecmp: shared.ecmp,
                rep,
                result,
            };
            eprintln!("{}", row.line());
            if !row.result.ok {
                any_failed = true;
                eprintln!("  logs: {}", work.display());
            }
            rows.push(row);
        }
    }
    if INTERRUPTED.load(Ordering::Relaxed) {
        bail!("interrupted; partial results not written");
    }
    let date = crate::date_string();
    let summaries = kernel_report::summarize(&rows);
    let ratios = kernel_report::ratios(&summaries);
    let source = opts
        .set
        .table
        .as_ref()
        .map_or_else(|| "synthetic".to_string(), |p| p.display().to_string());
    let out = serde_json::json!({
        "scenario": "kernel",
        "date": date,
        "linux": kernel_release,
        "loadavg_before": load_before,
        "loadavg_after": read("/proc/loadavg"),
        "routes": shared.routes,
        "ecmp": shared.ecmp,
        "table": source,
        "watch": match shared.watch {
            Method::Notify => "notify",
            Method::Dump => "dump",
        },
        "poll_ms": shared.poll.as_millis() as u64,
        "runs": rows.iter().map(KernelRow::to_json).collect::<Vec<_>>(),
        "medians": summaries.iter().map(kernel_report::Summary::to_json).collect::<Vec<_>>(),
        "ratios": ratios.iter().map(kernel_report::Ratio::to_json).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&out)?;
    if let Some(path) = &opts.out {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if opts.json {
        println!("{text}");
    } else {
        let watch = match shared.watch {
            Method::Notify => "watch notify".to_string(),
            Method::Dump => format!("watch dump every {} ms", shared.poll.as_millis()),
        };
        println!(
            "kernel: {} IPv4 prefixes ({source}), {} next hop(s) each, medians of {} \
             repetition(s), {watch}, {date}, Linux {kernel_release}, load before {load_before}",
            shared.routes, shared.ecmp, opts.reps,
        );
        print!("{}", kernel_report::table(&summaries, &ratios));
    }
    if opts.keep || any_failed {
        eprintln!("scratch kept: {}", scratch.display());
    } else {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    Ok(!any_failed)
}

/// `given`, or `name` next to this executable (the same cargo target
/// directory), or the workspace's default release build.
fn sibling(given: Option<&Path>, name: &str) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(format!("/work/main/target/release/{name}")))
}

/// One run on its own thread (it enters the DUT's namespace); whatever
/// happens, the namespaces are deleted and the daemons stopped when it
/// returns.
fn run(
    installer: Installer,
    shared: &Shared,
    batch: Option<&Path>,
    work: &Path,
    label: &str,
) -> KernelResult {
    let outcome = std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .name(format!("run-{label}"))
            .spawn_scoped(s, || {
                run_in_namespaces(installer, shared, batch, work, label)
            });
        match h {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(anyhow!("run thread panicked"))),
            Err(e) => Err(anyhow!("spawning run thread: {e}")),
        }
    });
    outcome.unwrap_or_else(|e| KernelResult {
        error: Some(format!("{e:#}")),
        ..Default::default()
    })
}

fn run_in_namespaces(
    installer: Installer,
    shared: &Shared,
    batch: Option<&Path>,
    work: &Path,
    label: &str,
) -> Result<KernelResult> {
    std::fs::create_dir_all(work)?;
    let base = format!("clos-bench-{}-{label}", std::process::id());
    let layout = shared.layout.as_layout();
    // Drop order (reverse of declaration): daemons, then both namespaces.
    let dut_ns = Netns::create(&base, &layout)?;
    let peer_ns = Netns::create(&format!("{base}-feed"), &layout)?;
    kernel_dut::wire(&dut_ns, &peer_ns, &shared.layout)?;
    let filter = Filter {
        table: MAIN_TABLE,
        protocol: installer.protocol(),
        paths: shared.ecmp as u32,
    };
    match installer {
        Installer::IpBatch(_) => {
            let file = batch.ok_or_else(|| anyhow!("no batch file"))?;
            dut_ns.enter()?;
            run_ip_batch(&dut_ns, file, filter, shared, work)
        }
        Installer::Dut(kind) => {
            let mut daemons = kernel_dut::start(
                kind,
                &shared.layout,
                &dut_ns,
                work,
                &shared.closd,
                shared.ecmp,
            )?;
            dut_ns.enter()?;
            let mut feeders = Feeders::new();
            let outcome = drive_dut(
                kind,
                &mut daemons,
                &mut feeders,
                &peer_ns,
                filter,
                shared,
                work,
            );
            feeders.stop();
            if let Some(name) = daemons.exited() {
                if outcome.is_ok() {
                    bail!("{name} exited during the run (see {})", work.display());
                }
            }
            daemons.stop();
            outcome
        }
    }
}

/// The feeder threads of a run and what is needed to stop them.
struct Feeders {
    stop: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    threads: Vec<JoinHandle<Option<SessionStats>>>,
    commands: Vec<Sender<Arc<Stream>>>,
}

impl Feeders {
    fn new() -> Feeders {
        Feeders {
            stop: Arc::new(AtomicBool::new(false)),
            sockets: Arc::new(Mutex::new(Vec::new())),
            threads: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Start feeder `k` in the feeders' namespace; it connects to the DUT,
    /// reports `Up`, then writes every stream it is sent.
    fn spawn(&mut self, k: usize, ns: &Netns, layout: &KernelLayout, tx: &Sender<Event>) {
        let me = crate::session::Speaker {
            name: format!("feeder{k}"),
            local: IpAddr::V4(layout.feeders[k]),
            asn: FEEDER_ASN + k as u32,
            router_id: dut::Layout::feeder_id(k),
            family: Family::Ipv4,
            hold: 90,
        };
        let dut_port = SocketAddr::new(IpAddr::V4(layout.dut), 179);
        let (cmd_tx, cmd_rx) = channel::<Arc<Stream>>();
        self.commands.push(cmd_tx);
        let (tx, stop, sockets, ns) = (
            tx.clone(),
            self.stop.clone(),
            self.sockets.clone(),
            ns.name.clone(),
        );
        self.threads.push(std::thread::spawn(move || {
            if let Err(e) = dut::enter_namespace(&ns) {
                let _ = tx.send(Event::Failed(format!("{e:#}")));
                return None;
            }
            let deadline = Instant::now() + SESSION_TIMEOUT;
            feeder_loop(me, dut_port, deadline, cmd_rx, &stop, &tx, &sockets)
        }));
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(s) = self.sockets.lock() {
            for sock in s.iter() {
                let _ = sock.shutdown(std::net::Shutdown::Both);
            }
        }
        self.commands.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn check(daemons: &mut Daemons, deadline: Instant, what: &str) -> Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    if let Some(name) = daemons.exited() {
        bail!("{name} exited while waiting for {what}");
    }
    if Instant::now() > deadline {
        bail!("timed out waiting for {what}");
    }
    Ok(())
}

fn sum<T: std::iter::Sum>(pids: &[u32], f: impl Fn(u32) -> Option<T>) -> T {
    pids.iter().filter_map(|&p| f(p)).sum()
}

/// What the feeders reported of the feed.
#[derive(Default)]
struct FeedProgress {
    /// The first UPDATE byte any feeder wrote.
    first: Option<Instant>,
    /// The longest a feeder took to write its stream.
    send_s: f64,
    sent: usize,
}

impl FeedProgress {
    fn apply(&mut self, e: Event) -> Result<()> {
        match e {
            Event::Sent { first, done } => {
                self.sent += 1;
                self.first = Some(self.first.map_or(first, |x| x.min(first)));
                self.send_s = self.send_s.max(done.duration_since(first).as_secs_f64());
                Ok(())
            }
            Event::Failed(e) | Event::Ended(e) => bail!("during the feed: {e}"),
            _ => Ok(()),
        }
    }
}

/// Sessions up, feed, watch until the table is complete; measure.
fn drive_dut(
    kind: DutKind,
    daemons: &mut Daemons,
    feeders: &mut Feeders,
    peer_ns: &Netns,
    filter: Filter,
    shared: &Shared,
    work: &Path,
) -> Result<KernelResult> {
    let (tx, rx) = channel::<Event>();
    for k in 0..shared.layout.feeders.len() {
        feeders.spawn(k, peer_ns, &shared.layout, &tx);
    }
    let deadline = Instant::now() + SESSION_TIMEOUT;
    let mut up = 0;
    while up < shared.layout.feeders.len() {
        check(daemons, deadline, "feeder sessions")?;
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Up) => up += 1,
            Ok(Event::Failed(e) | Event::Ended(e)) => bail!("feeder sessions: {e}"),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("feeder threads gone"),
        }
    }
    let pids = daemons.pids();
    let idle = sum(&pids, |p| dut::memory_kib(p).map(|m| m.1));
    let cpu0: f64 = sum(&pids, |p| dut::cpu_seconds(p, shared.ticks));
    let mut watcher = shared.watcher(filter)?;

    for (k, cmd) in feeders.commands.iter().enumerate() {
        cmd.send(shared.streams[k].clone())
            .map_err(|_| anyhow!("feeder{k} is gone"))?;
    }
    watcher.start(Instant::now());
    let deadline = Instant::now() + shared.timeout;
    let mut feed = FeedProgress::default();
    let complete = loop {
        if let Some(c) = watcher.complete()? {
            break c;
        }
        check(
            daemons,
            deadline,
            &format!("the kernel table ({})", watcher.progress()),
        )?;
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(e) => feed.apply(e)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("feeder threads gone"),
        }
    };
    // Every route is in; the last feeder may not have reported yet.
    let peak = sum(&pids, |p| dut::memory_kib(p).map(|m| m.0));
    let cpu1: f64 = sum(&pids, |p| dut::cpu_seconds(p, shared.ticks));
    drop(watcher);
    let wait_sent = Instant::now() + Duration::from_secs(30);
    while feed.sent < shared.layout.feeders.len() {
        check(daemons, wait_sent, "the feeders' last bytes")?;
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(100)) {
            feed.apply(e)?;
        }
    }
    let first = feed.first.ok_or_else(|| anyhow!("no feeder sent"))?;
    let mut r = KernelResult {
        ok: true,
        seconds: complete.at.saturating_duration_since(first).as_secs_f64(),
        resolution_s: complete
            .at
            .duration_since(complete.after.max(first))
            .as_secs_f64(),
        feeder_send_s: feed.send_s,
        idle_rss_kib: idle,
        peak_rss_kib: peak,
        cpu_s: cpu1 - cpu0,
        ..Default::default()
    };
    r.present_s = complete
        .present
        .saturating_duration_since(first)
        .as_secs_f64();
    if kind == DutKind::Closd {
        let (memory, installed) = closd_fib(&shared.closctl, &work.join("closd.sock"))?;
        r.fib_memory_bytes = Some(memory);
        r.fib_installed = Some(installed);
    }
    verify(filter, &complete, &mut r, shared)?;
    Ok(r)
}

/// After completion: one more dump, 300 ms later, must still hold exactly
/// the table (no extra routes of the protocol, nothing taken away again).
/// Fills the method and dump columns.
fn verify(filter: Filter, c: &Completion, r: &mut KernelResult, shared: &Shared) -> Result<()> {
    std::thread::sleep(Duration::from_millis(300));
    let mut dumper = RouteDumper::open()?;
    let begun = Instant::now();
    let tally = dumper.count(&filter)?;
    let dump_s = begun.elapsed().as_secs_f64();
    r.watch = c.method.to_string();
    r.watch_cpu_s = c.cpu_s;
    r.dumps = c.dumps;
    r.dump_s = if c.dumps > 0 { c.dump_s } else { dump_s };
    r.routes_seen = tally.routes;
    r.form = tally.main_form().map_or("-", rtnl::Form::name).to_string();
    if tally.routes != shared.routes || tally.complete != shared.routes {
        bail!(
            "{} saw the table complete, but a dump after it has {} routes, {} with {} next hop(s) \
             (expected {})",
            c.method,
            tally.routes,
            tally.complete,
            filter.paths,
            shared.routes
        );
    }
    Ok(())
}

/// `ip -n NS -batch FILE`, timed from spawn until the watcher sees the
/// table complete, and until it exits.
fn run_ip_batch(
    ns: &Netns,
    file: &Path,
    filter: Filter,
    shared: &Shared,
    work: &Path,
) -> Result<KernelResult> {
    let err_path = work.join("ip-batch.err");
    let err = std::fs::File::create(&err_path)?;
    let mut watcher = shared.watcher(filter)?;
    let (tx, rx) = channel::<(Instant, std::io::Result<ExitStatus>)>();
    let start = Instant::now();
    let mut child = Command::new("ip")
        .args(["-n", &ns.name, "-batch"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .context("starting ip -batch")?;
    watcher.start(start);
    let pid = child.id();
    // Waited for on its own thread so the exit time is exact.
    std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((Instant::now(), status));
    });
    let deadline = start + shared.timeout;
    let mut exited: Option<Instant> = None;
    let mut complete: Option<Completion> = None;
    while exited.is_none() || complete.is_none() {
        if INTERRUPTED.load(Ordering::Relaxed) || Instant::now() > deadline {
            if exited.is_none() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
                let _ = rx.recv_timeout(Duration::from_secs(2));
            }
            bail!(
                "ip -batch interrupted or timed out ({})",
                watcher.progress()
            );
        }
        if complete.is_none() {
            complete = watcher.complete()?;
        }
        if exited.is_none() {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok((at, status)) => {
                    let status = status.context("waiting for ip -batch")?;
                    if !status.success() {
                        let text = std::fs::read_to_string(&err_path).unwrap_or_default();
                        bail!("ip -batch failed ({status}): {}", text.trim());
                    }
                    exited = Some(at);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("ip -batch waiter gone"),
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let (Some(exited), Some(complete)) = (exited, complete) else {
        bail!("ip -batch: no result");
    };
    drop(watcher);
    let mut r = KernelResult {
        ok: true,
        seconds: complete.at.saturating_duration_since(start).as_secs_f64(),
        resolution_s: complete.at.duration_since(complete.after).as_secs_f64(),
        exit_s: Some(exited.duration_since(start).as_secs_f64()),
        present_s: complete
            .present
            .saturating_duration_since(start)
            .as_secs_f64(),
        ..Default::default()
    };
    verify(filter, &complete, &mut r, shared)?;
    Ok(r)
}

/// closd's own account of its kernel FIB: (`memory_bytes`, `installed`)
/// from `closctl --socket S fib kernel --json --summary`.
fn closd_fib(closctl: &Path, socket: &Path) -> Result<(u64, u64)> {
    let out = Command::new(closctl)
        .arg("--socket")
        .arg(socket)
        .args(["fib", "kernel", "--json", "--summary"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", closctl.display()))?;
    if !out.status.success() {
        bail!(
            "{} fib kernel failed: {}",
            closctl.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing closctl fib kernel --json")?;
    let field = |snake: &str, camel: &str| {
        kernel_report::json_u64(v.get(snake).or_else(|| v.get(camel)))
            .ok_or_else(|| anyhow!("closctl fib kernel --json has no {snake}: {v}"))
    };
    Ok((
        field("memory_bytes", "memoryBytes")?,
        field("installed", "installed")?,
    ))
}
