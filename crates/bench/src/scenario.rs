//! One measured run: a namespace, a DUT (or none, for `sink`), K feeders,
//! M monitors, the ingest phase and optionally the churn phase, or (`soak`)
//! churn and restore phases in turn for a set time.
//!
//! Owns: the run's threads and their coordination, the timing, and the
//! final verdict. Threads (all inside the run's namespace, entered by the
//! run thread before it spawns them):
//!
//! ```text
//!  run thread ──spawns──► monitor m   (connect/accept, handshake, poll: Table)
//!      │        ──spawns──► feeder k    (connect, handshake, write streams)
//!      │                        └─spawns─► feeder k reader (poll: keepalives)
//!      ◄──────── events (mpsc): Up, Phase done, Sent, Ended, Failed
//! ```
//!
//! Phases: the run thread opens phase p (the shared `wanted` counter)
//! before feeder 0 sends its stream; a monitor moves its table on to p only
//! after reporting the phase before complete (`Table::completed_phase`).
//!
//! Timing: `seconds` = from the first UPDATE byte written by any feeder
//! (after every session is Established) to the moment the last monitor
//! holds exactly the expected table; churn is timed the same way from the
//! first churn byte, and so is every phase of a soak.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver as ChanRx, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::dut::{self, DutKind, DutProcess, Layout, Netns};
use crate::monitor::{Decoder, Table, Target};
use crate::routes::{DUT_ASN, FEEDER_ASN, MONITOR_ASN};
use crate::session::{connect, handshake, write_stream, Poll, SessionStats, Speaker};
use crate::soak::{RssSampler, SoakPlan, SoakRun};
use crate::stream::{codec, Stream};
use crate::util::Family;

/// Set by the signal thread on Ctrl-C / SIGTERM; every wait loop checks it.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Bytes per feeder write (at message boundaries).
const CHUNK: usize = 1 << 20;
/// Mismatching prefixes described in a report.
const SHOW_MISMATCHES: usize = 5;

/// Everything a run needs.
pub struct RunSpec {
    /// `None`: sink mode (feeders straight into our own monitors).
    pub dut: Option<DutKind>,
    pub family: Family,
    pub monitors: usize,
    pub streams: Vec<Arc<Stream>>,
    pub churn: Option<Arc<Stream>>,
    /// With `churn`: churn and restore in turn instead of one churn.
    pub soak: Option<SoakPlan>,
    /// One target for all monitors behind a DUT; one per feeder for sink.
    pub targets: Vec<Arc<Target>>,
    pub decoder: Decoder,
    pub hold: u16,
    pub timeout: Duration,
    pub closd: PathBuf,
    pub work: PathBuf,
    pub ticks: f64,
    pub label: String,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub ok: bool,
    pub error: Option<String>,
    pub seconds: f64,
    pub churn_seconds: Option<f64>,
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub end_rss_kib: u64,
    pub cpu_s: f64,
    pub churn_cpu_s: Option<f64>,
    pub worst_keepalive_gap_s: f64,
    pub worst_gap_session: String,
    pub worst_silence_s: f64,
    pub sessions_down: Vec<String>,
    pub mismatch_count: usize,
    pub mismatches: Vec<String>,
    pub feeder_send_s: f64,
    pub monitor_updates: u64,
    /// The soak's phases and RSS samples (also when it failed midway).
    pub soak: Option<SoakRun>,
}

/// What the run's threads report to the run thread (also used by the
/// `kernel` scenario's feeders).
pub(crate) enum Event {
    Up,
    Phase {
        monitor: usize,
        phase: usize,
        at: Instant,
    },
    Sent {
        first: Instant,
        done: Instant,
    },
    Ended(String),
    Failed(String),
}

struct Threads {
    stop: Arc<AtomicBool>,
    /// The phase the monitors may move on to (see `Table::completed_phase`).
    wanted: Arc<AtomicUsize>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    monitors: Vec<JoinHandle<Option<(Table, SessionStats)>>>,
    feeders: Vec<JoinHandle<Option<SessionStats>>>,
    feed_cmds: Vec<Sender<Arc<Stream>>>,
}

impl Threads {
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(s) = self.sockets.lock() {
            for sock in s.iter() {
                let _ = sock.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Run one measurement on its own thread (which enters the namespace) and
/// clean up whatever happens.
pub fn run(spec: RunSpec) -> RunResult {
    let label = spec.label.clone();
    let handle = std::thread::Builder::new()
        .name(format!("run-{label}"))
        .spawn(move || run_in_namespace(&spec));
    let result = match handle {
        Ok(h) => h
            .join()
            .unwrap_or_else(|_| Err(anyhow!("run thread panicked"))),
        Err(e) => Err(anyhow!("spawning run thread: {e}")),
    };
    result.unwrap_or_else(|e| RunResult {
        ok: false,
        error: Some(format!("{e:#}")),
        ..Default::default()
    })
}

fn run_in_namespace(spec: &RunSpec) -> Result<RunResult> {
    let feeders = spec.streams.len();
    let layout = Layout::new(spec.family, feeders, spec.monitors)?;
    let ns_name = format!("clos-bench-{}-{}", std::process::id(), spec.label);
    std::fs::create_dir_all(&spec.work)?;
    // Drop order: the DUT first, then the namespace.
    let ns = Netns::create(&ns_name, &layout)?;
    let mut dut: Option<DutProcess> = match spec.dut {
        Some(kind) => Some(dut::start(kind, &layout, &ns, &spec.work, &spec.closd)?),
        None => None,
    };
    ns.enter()?;
    let (tx, rx) = channel::<Event>();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Threads {
        stop: stop.clone(),
        wanted: Arc::new(AtomicUsize::new(0)),
        sockets: Arc::new(Mutex::new(Vec::new())),
        monitors: Vec::new(),
        feeders: Vec::new(),
        feed_cmds: Vec::new(),
    };
    let outcome = drive(spec, &layout, &mut dut, &mut threads, &tx, &rx);
    threads.stop();
    let end = Instant::now();
    let mut result = outcome.unwrap_or_else(|e| RunResult {
        error: Some(format!("{e:#}")),
        ..Default::default()
    });
    drop(threads.feed_cmds);
    let mut sessions: Vec<SessionStats> = Vec::new();
    let mut final_ok = true;
    let wanted = threads.wanted.load(Ordering::Acquire);
    for h in threads.monitors {
        if let Ok(Some((table, stats))) = h.join() {
            result.monitor_updates += table.updates;
            if !table.complete() || table.phase != wanted {
                final_ok = false;
                let (n, first) = table.mismatches(SHOW_MISMATCHES);
                if result.mismatches.is_empty() {
                    result.mismatches = first
                        .into_iter()
                        .map(|m| format!("{}: {m}", stats.name))
                        .collect();
                }
                result.mismatch_count += n;
            }
            sessions.push(stats);
        } else {
            final_ok = false;
        }
    }
    for h in threads.feeders {
        if let Ok(Some(stats)) = h.join() {
            sessions.push(stats);
        }
    }
    for mut s in sessions {
        s.finish(end);
        let gap = s.worst_keepalive_gap.as_secs_f64();
        if gap > result.worst_keepalive_gap_s {
            result.worst_keepalive_gap_s = gap;
            result.worst_gap_session = s.name.clone();
        }
        result.worst_silence_s = result.worst_silence_s.max(s.worst_silence.as_secs_f64());
        if let Some(d) = &s.down {
            result.sessions_down.push(format!("{}: {d}", s.name));
        }
    }
    if let Some(d) = dut.as_mut() {
        if !d.alive() {
            let exited = format!("{} exited during the run", d.kind.name());
            result.error = Some(match result.error.take() {
                Some(e) => format!("{exited}; {e}"),
                None => exited,
            });
        }
        d.stop();
    }
    result.ok = result.error.is_none()
        && final_ok
        && result.mismatch_count == 0
        && result.sessions_down.is_empty();
    drop(dut);
    drop(ns);
    Ok(result)
}

/// Bring the sessions up, feed, wait, churn; fill the timing fields.
fn drive(
    spec: &RunSpec,
    layout: &Layout,
    dut: &mut Option<DutProcess>,
    threads: &mut Threads,
    tx: &Sender<Event>,
    rx: &ChanRx<Event>,
) -> Result<RunResult> {
    let feeders = spec.streams.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    let dut_port = SocketAddr::new(layout.dut, 179);
    let stop = threads.stop.clone();

    // Monitors first, so they are up before any route exists.
    match spec.dut {
        Some(_) => {
            for m in 0..spec.monitors {
                let me = Speaker {
                    name: format!("monitor{m}"),
                    local: layout.monitors[m],
                    asn: MONITOR_ASN + m as u32,
                    router_id: Layout::monitor_id(m),
                    family: spec.family,
                    hold: spec.hold,
                };
                let target = spec.targets[0].clone();
                let (tx, stop, wanted, socks, decoder) = (
                    tx.clone(),
                    stop.clone(),
                    threads.wanted.clone(),
                    threads.sockets.clone(),
                    spec.decoder,
                );
                threads.monitors.push(std::thread::spawn(move || {
                    let table = Table::new(target, decoder);
                    let stream = match connect(&me, dut_port, deadline, &stop) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = tx.send(Event::Failed(format!("{e:#}")));
                            return None;
                        }
                    };
                    let gate = Gate {
                        stop: &stop,
                        wanted: &wanted,
                    };
                    monitor_loop(m, me, stream, table, gate, &tx, &socks)
                }));
            }
        }
        None => {
            // Sink: our monitors listen where the DUT would; feeder k's
            // connection gets feeder k's target.
            let listener = TcpListener::bind(dut_port)?;
            let targets = spec.targets.clone();
            let (tx2, stop2, wanted2, socks, decoder, family, hold) = (
                tx.clone(),
                stop.clone(),
                threads.wanted.clone(),
                threads.sockets.clone(),
                spec.decoder,
                spec.family,
                spec.hold,
            );
            let feeder_addrs = layout.feeders.clone();
            let acceptor = std::thread::spawn(move || {
                let mut handles = Vec::new();
                for _ in 0..targets.len() {
                    let (stream, peer) = match listener.accept() {
                        Ok(x) => x,
                        Err(e) => {
                            let _ = tx2.send(Event::Failed(format!("sink accept: {e}")));
                            break;
                        }
                    };
                    let Some(k) = feeder_addrs.iter().position(|a| *a == peer.ip()) else {
                        continue;
                    };
                    let me = Speaker {
                        name: format!("sink{k}"),
                        local: peer.ip(),
                        asn: DUT_ASN,
                        router_id: Ipv4Addr::new(10, 0, 0, 1),
                        family,
                        hold,
                    };
                    let target = targets[k].clone();
                    let (tx, stop, wanted, socks) =
                        (tx2.clone(), stop2.clone(), wanted2.clone(), socks.clone());
                    handles.push(std::thread::spawn(move || {
                        let table = Table::new(target, decoder);
                        let gate = Gate {
                            stop: &stop,
                            wanted: &wanted,
                        };
                        monitor_loop(k, me, stream, table, gate, &tx, &socks)
                    }));
                }
                handles
            });
            // Joined through a wrapper so the run collects sink tables like
            // monitor tables.
            threads.monitors.push(std::thread::spawn(move || {
                let handles = acceptor.join().unwrap_or_default();
                let mut merged: Option<(Table, SessionStats)> = None;
                let mut rest = Vec::new();
                for h in handles {
                    if let Ok(Some(x)) = h.join() {
                        if merged.is_none() {
                            merged = Some(x);
                        } else {
                            rest.push(x);
                        }
                    }
                }
                // Only one table can be returned per handle; sinks beyond
                // the first are checked here.
                if let Some((t, s)) = merged.as_mut() {
                    for (other, os) in rest {
                        if !other.complete() {
                            s.down = Some(format!("{} incomplete", os.name));
                        }
                        t.updates += other.updates;
                    }
                }
                merged
            }));
        }
    }
    let expected_monitors = if spec.dut.is_some() {
        spec.monitors
    } else {
        feeders
    };
    if spec.dut.is_some() {
        wait_for(rx, spec.monitors, deadline, dut, "monitor sessions", |e| {
            matches!(e, Event::Up)
        })?;
    }

    // Feeders.
    for k in 0..feeders {
        let me = Speaker {
            name: format!("feeder{k}"),
            local: layout.feeders[k],
            asn: FEEDER_ASN + k as u32,
            router_id: Layout::feeder_id(k),
            family: spec.family,
            hold: spec.hold,
        };
        let (cmd_tx, cmd_rx) = channel::<Arc<Stream>>();
        threads.feed_cmds.push(cmd_tx);
        let (tx, stop, socks) = (tx.clone(), stop.clone(), threads.sockets.clone());
        threads.feeders.push(std::thread::spawn(move || {
            feeder_loop(me, dut_port, deadline, cmd_rx, &stop, &tx, &socks)
        }));
    }
    let up = if spec.dut.is_some() {
        feeders
    } else {
        feeders * 2
    };
    wait_for(rx, up, deadline, dut, "feeder sessions", |e| {
        matches!(e, Event::Up)
    })?;

    let pid = dut.as_ref().map_or(std::process::id(), |d| d.pid);
    let (_, idle_rss) = dut::memory_kib(pid).unwrap_or((0, 0));
    let cpu0 = dut::cpu_seconds(pid, spec.ticks).unwrap_or(0.0);

    // Ingest.
    for (k, cmd) in threads.feed_cmds.iter().enumerate() {
        cmd.send(spec.streams[k].clone())
            .map_err(|_| anyhow!("feeder{k} is gone"))?;
    }
    let phase_deadline = Instant::now() + spec.timeout;
    let (first, send_s, done) = wait_phase(rx, feeders, expected_monitors, 0, phase_deadline, dut)?;
    let (hwm, _) = dut::memory_kib(pid).unwrap_or((0, 0));
    let cpu1 = dut::cpu_seconds(pid, spec.ticks).unwrap_or(cpu0);
    let mut result = RunResult {
        seconds: done.duration_since(first).as_secs_f64(),
        idle_rss_kib: idle_rss,
        peak_rss_kib: hwm,
        cpu_s: cpu1 - cpu0,
        feeder_send_s: send_s,
        ..Default::default()
    };

    // Churn: once, or in turns with its restore for a soak.
    if let Some(churn) = &spec.churn {
        let mut phases = Phases {
            spec,
            threads,
            rx,
            monitors: expected_monitors,
            dut,
        };
        if let Some(plan) = &spec.soak {
            let (soak, outcome) = soak_cycles(&mut phases, churn, plan, pid);
            result.soak = Some(soak);
            if let Err(e) = outcome {
                result.error = Some(format!("{e:#}"));
                return Ok(result);
            }
        } else {
            result.churn_seconds = Some(phases.run(churn, 1)?);
            let cpu2 = dut::cpu_seconds(pid, spec.ticks).unwrap_or(cpu1);
            result.churn_cpu_s = Some(cpu2 - cpu1);
            result.peak_rss_kib = dut::memory_kib(pid).map_or(hwm, |m| m.0);
        }
    }
    // Settle: anything the DUT still sends now would be a late change the
    // final check catches.
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        if let Ok(Event::Ended(s)) = rx.recv_timeout(Duration::from_millis(50)) {
            bail!("session ended: {s}");
        }
    }
    result.end_rss_kib = dut::memory_kib(pid).map_or(0, |m| m.1);
    Ok(result)
}

/// Feeder 0's phases after the ingest.
struct Phases<'a> {
    spec: &'a RunSpec,
    threads: &'a Threads,
    rx: &'a ChanRx<Event>,
    monitors: usize,
    dut: &'a mut Option<DutProcess>,
}

impl Phases<'_> {
    /// Open `phase` to the monitors, have feeder 0 send `stream`, and wait
    /// until every monitor holds the phase's table. Returns the seconds
    /// from the first byte to the last monitor.
    fn run(&mut self, stream: &Arc<Stream>, phase: usize) -> Result<f64> {
        self.threads.wanted.store(phase, Ordering::Release);
        self.threads.feed_cmds[0]
            .send(stream.clone())
            .map_err(|_| anyhow!("feeder0 is gone"))?;
        let deadline = Instant::now() + self.spec.timeout;
        let (first, _, done) = wait_phase(self.rx, 1, self.monitors, phase, deadline, self.dut)?;
        Ok(done.duration_since(first).as_secs_f64())
    }
}

/// Churn, restore, churn, restore, … (phases 1, 2, 3, 4, …) until
/// `plan.duration` has passed, always ending on a restore; the DUT's RSS
/// sampled all along. The soak's record comes back also when a phase
/// failed, with the failure.
fn soak_cycles(
    phases: &mut Phases,
    churn: &Arc<Stream>,
    plan: &SoakPlan,
    pid: u32,
) -> (SoakRun, Result<()>) {
    let ticks = phases.spec.ticks;
    let cpu0 = dut::cpu_seconds(pid, ticks);
    let start = Instant::now();
    let sampler = RssSampler::start(pid, plan.sample, start);
    let mut run = SoakRun::default();
    let outcome = soak_phases(phases, churn, plan, start, &mut run);
    run.seconds = start.elapsed().as_secs_f64();
    run.cpu_s = match (cpu0, dut::cpu_seconds(pid, ticks)) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    run.samples = sampler.finish();
    (run, outcome)
}

fn soak_phases(
    phases: &mut Phases,
    churn: &Arc<Stream>,
    plan: &SoakPlan,
    start: Instant,
    run: &mut SoakRun,
) -> Result<()> {
    while start.elapsed() < plan.duration {
        let phase = 2 * run.restore_s.len() + 1;
        run.churn_s.push(phases.run(churn, phase)?);
        run.restore_s.push(phases.run(&plan.restore, phase + 1)?);
    }
    Ok(())
}

fn check_common(dut: &mut Option<DutProcess>, deadline: Instant, what: &str) -> Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    if let Some(d) = dut.as_mut() {
        if !d.alive() {
            bail!("{} exited while waiting for {what}", d.kind.name());
        }
    }
    if Instant::now() > deadline {
        bail!("timed out waiting for {what}");
    }
    Ok(())
}

/// Wait for `n` events matching `want`; a failure or end event aborts.
fn wait_for(
    rx: &ChanRx<Event>,
    n: usize,
    deadline: Instant,
    dut: &mut Option<DutProcess>,
    what: &str,
    want: impl Fn(&Event) -> bool,
) -> Result<()> {
    let mut got = 0;
    while got < n {
        check_common(dut, deadline, what)?;
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Failed(e)) => bail!("{what}: {e}"),
            Ok(Event::Ended(e)) => bail!("{what}: session ended: {e}"),
            Ok(e) if want(&e) => got += 1,
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("{what}: all threads gone"),
        }
    }
    Ok(())
}

/// Wait until `feeders` feeders have sent and `monitors` monitors completed
/// `phase`. Returns (first byte, longest feeder send time, last monitor
/// completion).
fn wait_phase(
    rx: &ChanRx<Event>,
    feeders: usize,
    monitors: usize,
    phase: usize,
    deadline: Instant,
    dut: &mut Option<DutProcess>,
) -> Result<(Instant, f64, Instant)> {
    let what = format!("phase {phase} (expected table at every monitor)");
    let mut first: Option<Instant> = None;
    let mut send_s: f64 = 0.0;
    let mut sent = 0;
    let mut done: Vec<Option<Instant>> = vec![None; monitors];
    while sent < feeders || done.iter().any(Option::is_none) {
        check_common(dut, deadline, &what)?;
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Sent { first: f, done: d }) => {
                sent += 1;
                first = Some(first.map_or(f, |x| x.min(f)));
                send_s = send_s.max(d.duration_since(f).as_secs_f64());
            }
            Ok(Event::Phase {
                monitor,
                phase: p,
                at,
            }) if p == phase => {
                if let Some(slot) = done.get_mut(monitor) {
                    *slot = Some(at);
                }
            }
            Ok(Event::Failed(e)) => bail!("{what}: {e}"),
            Ok(Event::Ended(e)) => bail!("{what}: session ended: {e}"),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("{what}: all threads gone"),
        }
    }
    let first = first.ok_or_else(|| anyhow!("no feeder sent"))?;
    let last = done.into_iter().flatten().max().unwrap_or(first);
    Ok((first, send_s, last.max(first)))
}

/// What a monitor obeys: the stop flag, and the phase it may move on to.
struct Gate<'a> {
    stop: &'a AtomicBool,
    wanted: &'a AtomicUsize,
}

fn monitor_loop(
    m: usize,
    me: Speaker,
    stream: TcpStream,
    mut table: Table,
    gate: Gate,
    tx: &Sender<Event>,
    sockets: &Mutex<Vec<TcpStream>>,
) -> Option<(Table, SessionStats)> {
    let session = match handshake(stream, &me) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Event::Failed(format!("{e:#}")));
            return None;
        }
    };
    if let Ok(mut s) = sockets.lock() {
        s.push(session.shutdown);
    }
    let mut rx = session.receiver;
    let _ = tx.send(Event::Up);
    let codec = codec();
    loop {
        let polled = rx.poll(gate.stop, |msg| table.apply(msg, &codec));
        table.flush();
        match polled {
            Ok(Poll::Open) => {}
            Ok(Poll::Stopped) => break,
            Ok(Poll::Down) => {
                let _ = tx.send(Event::Ended(format!(
                    "{}: {}",
                    me.name,
                    rx.stats.down.clone().unwrap_or_default()
                )));
                break;
            }
            Err(e) => {
                let _ = tx.send(Event::Failed(format!("{e:#}")));
                rx.stats.down = Some(format!("{e:#}"));
                break;
            }
        }
        while let Some(phase) = table.completed_phase(gate.wanted.load(Ordering::Acquire)) {
            let _ = tx.send(Event::Phase {
                monitor: m,
                phase,
                at: Instant::now(),
            });
        }
    }
    Some((table, rx.stats))
}

pub(crate) fn feeder_loop(
    me: Speaker,
    dut: SocketAddr,
    deadline: Instant,
    cmds: ChanRx<Arc<Stream>>,
    stop: &Arc<AtomicBool>,
    tx: &Sender<Event>,
    sockets: &Mutex<Vec<TcpStream>>,
) -> Option<SessionStats> {
    let session = match connect(&me, dut, deadline, stop).and_then(|s| handshake(s, &me)) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Event::Failed(format!("{e:#}")));
            return None;
        }
    };
    if let Ok(mut s) = sockets.lock() {
        s.push(session.shutdown);
    }
    let writer = session.writer;
    let mut receiver = session.receiver;
    let (stop2, tx2, name) = (stop.clone(), tx.clone(), me.name.clone());
    // The reader drains whatever the DUT sends (KEEPALIVEs; routes, if a
    // DUT ignored its export policy) and keeps our KEEPALIVEs going.
    let reader = std::thread::spawn(move || {
        loop {
            match receiver.poll(&stop2, |_| Ok(())) {
                Ok(Poll::Open) => {}
                Ok(Poll::Stopped) => break,
                Ok(Poll::Down) => {
                    let _ = tx2.send(Event::Ended(format!(
                        "{name}: {}",
                        receiver.stats.down.clone().unwrap_or_default()
                    )));
                    break;
                }
                Err(e) => {
                    receiver.stats.down = Some(format!("{e:#}"));
                    let _ = tx2.send(Event::Failed(format!("{e:#}")));
                    break;
                }
            }
        }
        receiver.stats
    });
    let _ = tx.send(Event::Up);
    for stream in cmds {
        let chunks = stream.chunks(CHUNK);
        match write_stream(&writer, &stream.bytes, &chunks, stop) {
            Ok(first) => {
                let _ = tx.send(Event::Sent {
                    first,
                    done: Instant::now(),
                });
            }
            Err(e) => {
                if !stop.load(Ordering::Relaxed) {
                    let _ = tx.send(Event::Failed(format!("{}: {e:#}", me.name)));
                }
                break;
            }
        }
    }
    reader.join().ok()
}
