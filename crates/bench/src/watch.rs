//! Watching a namespace's kernel main table until it holds the whole
//! table: every prefix, with the installer's `rtm_protocol` and exactly the
//! expected number of next hops.
//!
//! Owns: the watcher thread (it inherits the namespace of the thread that
//! spawns it) and the completion time stamp. Two methods:
//!
//! - [`Method::Notify`] (default): subscribed to the kernel's IPv4 route
//!   and nexthop notifications before the feed starts, on top of a dump of
//!   what is already there, and counting them ([`Tracker`]), drained every
//!   10 ms with recvmmsg(2). The stamp is the end of the drain that
//!   completes the table; the previous drain bounds it from below. The
//!   kernel builds each notification whether anyone listens or not
//!   (`rtmsg_fib`); what a listener adds is the copy to its socket and, if
//!   it sleeps in recv(2), a wake-up per notification paid by the sender —
//!   hence the periodic drain. Measured with one `ip -batch` of 300k routes,
//!   alternating runs: no listener 3.58–4.00 s, this watcher 3.88–3.98 s
//!   (0.33–0.35 s of its own CPU on the other core); a listener woken per
//!   notification: 6.6–7.0 s. If the socket overflows (ENOBUFS), the
//!   watcher falls back to dumps and says so.
//! - [`Method::Dump`]: a full `RTM_GETROUTE` dump every poll interval. The
//!   completion lies between the start of the last incomplete dump and the
//!   end of the first complete one. Each dump of a 1M-route table takes
//!   0.5–1.6 s of kernel time here and contends with the installer (an
//!   `ip -batch` of 1M routes measured 24.5 s alone, 36.0 s with 200 ms
//!   dumps alongside), which is why it is not the default.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::rtnl::{EventSocket, Filter, RouteDumper, Tracker};
use crate::util::median;

/// How often the notification socket is drained (the resolution of
/// `Method::Notify`; see `rtnl::EventSocket` for why not at once).
const NOTIFY_DRAIN: Duration = Duration::from_millis(10);

/// How the watcher follows the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Route notifications, counted as they arrive.
    Notify,
    /// A full dump every poll interval.
    Dump,
}

/// The table was complete.
#[derive(Debug, Clone)]
pub struct Completion {
    /// When the watcher saw it complete.
    pub at: Instant,
    /// The last moment it was seen incomplete: the completion lies in
    /// (`after`, `at`] (notify: the previous notification read).
    pub after: Instant,
    /// When every prefix was first there, with any number of next hops
    /// (with ECMP, the rest of the time is spent growing the sets).
    pub present: Instant,
    /// "notify", "dump", or "dump after overflow".
    pub method: &'static str,
    /// Dumps made before completion, and their median duration.
    pub dumps: usize,
    pub dump_s: f64,
    /// CPU the watcher thread used from the start to completion (it runs
    /// next to the installer; on 2 cores it competes with it).
    pub cpu_s: f64,
}

enum Report {
    Ready,
    Complete(Completion),
    Failed(String),
}

/// A watcher thread; stopped and joined on drop.
pub struct Watcher {
    reports: Receiver<Report>,
    go: Option<Sender<Instant>>,
    stop: Arc<AtomicBool>,
    routes_seen: Arc<AtomicUsize>,
    complete_seen: Arc<AtomicUsize>,
    handle: Option<JoinHandle<()>>,
    paths: u32,
    routes: usize,
}

struct Shared {
    ticks: f64,
    method: Method,
    filter: Filter,
    routes: usize,
    poll: Duration,
    stop: Arc<AtomicBool>,
    routes_seen: Arc<AtomicUsize>,
    complete_seen: Arc<AtomicUsize>,
}

impl Watcher {
    /// Start watching for `routes` routes matching `filter`; returns once
    /// the watcher has its starting state (notify: subscribed and loaded).
    pub fn spawn(
        method: Method,
        filter: Filter,
        routes: usize,
        poll: Duration,
        ticks: f64,
    ) -> Result<Watcher> {
        let (tx, reports) = channel();
        let (go, go_rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let routes_seen = Arc::new(AtomicUsize::new(0));
        let complete_seen = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            ticks,
            method,
            filter,
            routes,
            poll,
            stop: stop.clone(),
            routes_seen: routes_seen.clone(),
            complete_seen: complete_seen.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("watcher".into())
            .spawn(move || {
                if let Err(e) = watch(&shared, &tx, &go_rx) {
                    let _ = tx.send(Report::Failed(format!("{e:#}")));
                }
            })?;
        let w = Watcher {
            reports,
            go: Some(go),
            stop,
            routes_seen,
            complete_seen,
            handle: Some(handle),
            paths: filter.paths,
            routes,
        };
        match w.reports.recv_timeout(Duration::from_secs(60)) {
            Ok(Report::Ready) => Ok(w),
            Ok(Report::Failed(e)) => bail!("watcher: {e}"),
            Ok(Report::Complete(_)) => bail!("watcher: complete before the start"),
            Err(_) => bail!("watcher did not start"),
        }
    }

    /// The feed (or the batch) starts now: dumps are scheduled from `at`,
    /// and nothing before it counts as incomplete.
    pub fn start(&mut self, at: Instant) {
        if let Some(go) = self.go.take() {
            let _ = go.send(at);
        }
    }

    /// The completion, once there is one.
    pub fn complete(&self) -> Result<Option<Completion>> {
        match self.reports.try_recv() {
            Ok(Report::Complete(c)) => Ok(Some(c)),
            Ok(Report::Failed(e)) => bail!("watcher: {e}"),
            Ok(Report::Ready) | Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(anyhow!("watcher thread gone")),
        }
    }

    /// What the watcher last counted, for error messages.
    pub fn progress(&self) -> String {
        format!(
            "{} of {} routes present, {} with {} next hop(s)",
            self.routes_seen.load(Ordering::Relaxed),
            self.routes,
            self.complete_seen.load(Ordering::Relaxed),
            self.paths
        )
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.go.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Shared {
    /// The calling (watcher) thread's CPU seconds.
    fn cpu(&self) -> f64 {
        crate::dut::thread_cpu_seconds(self.ticks).unwrap_or(f64::NAN)
    }
}

/// Wait for the start signal; `None` when the watcher was stopped first.
fn wait_go(s: &Shared, go: &Receiver<Instant>) -> Option<Instant> {
    loop {
        match go.recv_timeout(Duration::from_millis(50)) {
            Ok(at) => return Some(at),
            Err(RecvTimeoutError::Timeout) if !s.stop.load(Ordering::Relaxed) => {}
            Err(_) => return None,
        }
    }
}

fn watch(s: &Shared, tx: &Sender<Report>, go: &Receiver<Instant>) -> Result<()> {
    let mut dumper = RouteDumper::open()?;
    match s.method {
        Method::Dump => {
            let _ = tx.send(Report::Ready);
            let Some(start) = wait_go(s, go) else {
                return Ok(());
            };
            poll_dumps(s, tx, &mut dumper, start, None, "dump")
        }
        Method::Notify => {
            // Subscribe first, then load: nothing falls between the two
            // (a route both dumped and notified is applied twice, which
            // an insert by key makes harmless).
            let mut events = EventSocket::open()?;
            let mut tracker = Tracker::new(s.filter, s.routes);
            dumper.load(&mut tracker)?;
            let _ = tx.send(Report::Ready);
            let Some(start) = wait_go(s, go) else {
                return Ok(());
            };
            let cpu0 = s.cpu();
            // The end of the last drain that left the table incomplete.
            let mut after = start;
            let mut present = None;
            loop {
                if s.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let mut done = None;
                let drained = events.drain_into(&mut tracker, |t| {
                    let now = Instant::now();
                    if present.is_none() && t.routes() >= s.routes {
                        present = Some(now);
                    }
                    if t.complete() >= s.routes {
                        done = Some(now);
                    }
                    done.is_some()
                })?;
                let now = Instant::now();
                if drained.overflow {
                    return poll_dumps(s, tx, &mut dumper, now, present, "dump after overflow");
                }
                s.routes_seen.store(tracker.routes(), Ordering::Relaxed);
                s.complete_seen.store(tracker.complete(), Ordering::Relaxed);
                if let Some(at) = done {
                    let _ = tx.send(Report::Complete(Completion {
                        at,
                        after: after.max(start),
                        present: present.unwrap_or(at),
                        method: "notify",
                        dumps: 0,
                        dump_s: f64::NAN,
                        cpu_s: s.cpu() - cpu0,
                    }));
                    return Ok(());
                }
                after = now;
                std::thread::sleep(NOTIFY_DRAIN);
            }
        }
    }
}

/// Dump every `s.poll` from `start` until complete.
fn poll_dumps(
    s: &Shared,
    tx: &Sender<Report>,
    dumper: &mut RouteDumper,
    start: Instant,
    mut present: Option<Instant>,
    method: &'static str,
) -> Result<()> {
    let cpu0 = s.cpu();
    let mut next = start + s.poll;
    let mut previous = start;
    let mut durations = Vec::new();
    loop {
        while Instant::now() < next {
            if s.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            std::thread::sleep(
                next.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            );
        }
        let begun = Instant::now();
        let tally = dumper.count(&s.filter)?;
        let end = Instant::now();
        durations.push(end.duration_since(begun).as_secs_f64());
        s.routes_seen.store(tally.routes, Ordering::Relaxed);
        s.complete_seen.store(tally.complete, Ordering::Relaxed);
        if present.is_none() && tally.routes >= s.routes {
            present = Some(end);
        }
        if tally.complete >= s.routes {
            let _ = tx.send(Report::Complete(Completion {
                at: end,
                after: previous,
                present: present.unwrap_or(end),
                method,
                dumps: durations.len(),
                dump_s: median(&durations),
                cpu_s: s.cpu() - cpu0,
            }));
            return Ok(());
        }
        previous = begun;
        while next <= end {
            next += s.poll;
        }
    }
}
