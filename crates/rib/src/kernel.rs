//! [`KernelRib`]: forwarding sets into one kernel routing table.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clos_fib_kernel::{Change, Config, Event, EventGroup, KernelFib, NextHop, Route, Subscription};
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::table::{Hop, HopSet, SetId, Table};

/// What [`KernelRib`] manages and how.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    /// Kernel routing table (254 is `main`).
    pub table: u32,
    /// Our route protocol number (`ip route show proto N`).
    pub protocol: u8,
    /// After start-up, routes of our protocol that an earlier run left are
    /// kept this long at most while BGP converges; then the ones nobody
    /// re-announced are removed.
    pub stale_time: Duration,
    /// How often every tracked next hop is re-resolved even without a link
    /// or address notification (static routes change without one we
    /// subscribe to).
    pub resolve_interval: Duration,
}

impl KernelConfig {
    /// Defaults for `table` and `protocol`: stale routes kept up to 120 s,
    /// next hops re-resolved every 5 s and on every link/address change.
    pub fn new(table: u32, protocol: u8) -> KernelConfig {
        KernelConfig {
            table,
            protocol,
            stale_time: Duration::from_secs(120),
            resolve_interval: Duration::from_secs(5),
        }
    }
}

/// Counts and state of the kernel FIB.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub table: u32,
    pub protocol: u8,
    /// Routes of ours in the kernel (including adopted stale ones).
    pub installed: usize,
    /// Kernel nexthop objects and groups of ours.
    pub nexthop_objects: usize,
    pub nexthop_groups: usize,
    /// Prefixes the routing protocols want forwarded.
    pub wanted: usize,
    /// Of those, prefixes none of whose next hops resolves (kept out of
    /// the kernel until one does).
    pub unresolved: usize,
    /// Prefixes the kernel refused.
    pub failed: usize,
    /// Routes found from an earlier run at start-up.
    pub adopted: usize,
    /// Stale routes are still being kept (BGP has not converged and
    /// `stale_time` has not passed).
    pub stale_pending: bool,
    /// Stale routes removed after convergence.
    pub stale_removed: usize,
    /// The routing protocols hold their routes back until they converge
    /// (`[fib] initial-hold`), so each prefix is written once.
    pub holding: bool,
    /// Bytes of the RIB's prefix map plus the kernel mirror: the memory
    /// the kernel FIB costs beyond the BGP RIB.
    pub memory_bytes: usize,
    /// Every tracked protocol next hop and what it resolves to.
    pub next_hops: Vec<NextHopState>,
}

/// One protocol next hop and its resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHopState {
    pub hop: Hop,
    /// The kernel next hop it resolves to, `None` when unreachable.
    pub via: Option<NextHop>,
    /// Prefixes whose forwarding set includes it.
    pub routes: usize,
}

/// A route the kernel refused, with the kernel's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRoute {
    pub prefix: IpNet,
    pub error: String,
}

/// A route of ours in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledRoute {
    pub prefix: IpNet,
    pub next_hops: Vec<NextHop>,
}

/// The answer to [`KernelRib::snapshot`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub status: Status,
    pub failed: Vec<FailedRoute>,
    /// Installed routes (only when asked for), sorted by prefix.
    pub routes: Vec<InstalledRoute>,
}

struct Query {
    prefix: Option<IpNet>,
    routes: bool,
    reply: oneshot::Sender<Snapshot>,
}

#[derive(Default)]
struct Pending {
    routes: FxHashMap<IpNet, HopSet>,
    converged: bool,
    /// A link went down or away, or notifications were lost: the kernel
    /// may have deleted routes behind our back.
    resync: bool,
    /// Addresses or links changed: re-resolve next hops.
    resolve: bool,
    queries: Vec<Query>,
    stop: bool,
}

impl Pending {
    fn has_work(&self) -> bool {
        !self.routes.is_empty()
            || self.converged
            || self.resync
            || self.resolve
            || !self.queries.is_empty()
            || self.stop
    }
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    holding: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with(&self, f: impl FnOnce(&mut Pending)) {
        f(&mut self.lock());
        self.wake.notify_one();
    }
}

/// The kernel FIB writer; cheap to clone.
#[derive(Clone)]
pub struct KernelRib {
    shared: Arc<Shared>,
}

impl KernelRib {
    /// Opens the kernel table (adopting our routes left from an earlier
    /// run) and starts the worker and notification threads, in the calling
    /// thread's network namespace. Fails when netlink cannot be opened
    /// (typically: no CAP_NET_ADMIN).
    pub fn start(config: KernelConfig) -> clos_fib_kernel::Result<KernelRib> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            holding: AtomicBool::new(false),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let worker_shared = shared.clone();
        let worker_config = config.clone();
        std::thread::Builder::new()
            .name("rib-kernel".into())
            .spawn(move || {
                let fib = match KernelFib::open_with(Config::new(
                    worker_config.table,
                    worker_config.protocol,
                )) {
                    Ok(fib) => {
                        let _ = ready_tx.send(Ok(()));
                        fib
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                Worker::new(fib, worker_config, worker_shared).run();
            })
            .map_err(|e| clos_fib_kernel::Error::Socket {
                context: "spawn the kernel FIB thread",
                source: Arc::new(e),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(clos_fib_kernel::Error::Socket {
                    context: "start the kernel FIB thread",
                    source: Arc::new(std::io::Error::other("the thread exited")),
                })
            }
        }
        let events_shared = shared.clone();
        let subscription = Subscription::open(&[
            EventGroup::Link,
            EventGroup::Ipv4Address,
            EventGroup::Ipv6Address,
        ])?;
        std::thread::Builder::new()
            .name("rib-events".into())
            .spawn(move || watch_links(subscription, events_shared))
            .map_err(|e| clos_fib_kernel::Error::Socket {
                context: "spawn the notification thread",
                source: Arc::new(e),
            })?;
        Ok(KernelRib { shared })
    }

    /// New forwarding sets (empty set: withdraw). Returns at once; a later
    /// set for the same prefix replaces an earlier one not yet installed.
    pub fn submit(&self, batch: impl IntoIterator<Item = (IpNet, HopSet)>) {
        let mut pending = self.shared.lock();
        // The worker is woken when the map stops being empty; until it
        // takes the map, more changes only join it (no wake-up each).
        let wake = pending.routes.is_empty();
        for (prefix, hops) in batch {
            pending.routes.insert(prefix.trunc(), hops);
        }
        drop(pending);
        if wake {
            self.shared.wake.notify_one();
        }
    }

    /// The routing protocols hold their routes back at start-up (until
    /// they converge): shown in [`Status::holding`].
    pub fn set_holding(&self, holding: bool) {
        self.shared.holding.store(holding, Ordering::Relaxed);
    }

    /// The routing protocols have converged: remove stale routes now.
    pub fn converged(&self) {
        self.shared.with(|p| p.converged = true);
    }

    /// State, failures and (with `routes`) the installed routes, optionally
    /// only at `prefix`. `None` when the worker has stopped.
    pub async fn snapshot(&self, prefix: Option<IpNet>, routes: bool) -> Option<Snapshot> {
        let (reply, answer) = oneshot::channel();
        self.shared.with(|p| {
            p.queries.push(Query {
                prefix: prefix.map(|p| p.trunc()),
                routes,
                reply,
            })
        });
        answer.await.ok()
    }

    /// Stops the worker without touching the kernel: installed routes stay
    /// (so forwarding continues across a restart), pending changes are
    /// dropped.
    pub fn stop(&self) {
        self.shared.with(|p| p.stop = true);
    }
}

/// Turns link and address notifications into work for the worker.
fn watch_links(mut subscription: Subscription, shared: Arc<Shared>) {
    // ifindex → usable (up with carrier), to tell a link going down (the
    // kernel deletes our nexthops on it: resync) from other link news.
    let mut usable: FxHashMap<u32, bool> = FxHashMap::default();
    loop {
        let event = match subscription.next_event() {
            Ok(event) => event,
            Err(e) => {
                warn!(error = %e, "link notifications failed; next hops are re-resolved periodically only");
                return;
            }
        };
        let (resync, resolve) = match event {
            Event::LinkChanged {
                ifindex,
                up,
                lower_up,
                ..
            } => {
                let now = up && lower_up;
                let before = usable.insert(ifindex, now);
                match (before, now) {
                    (Some(true), false) | (None, false) => (true, true),
                    (Some(false), true) | (None, true) => (false, true),
                    _ => (false, false),
                }
            }
            Event::LinkRemoved { ifindex } => {
                usable.remove(&ifindex);
                (true, true)
            }
            Event::AddressAdded { .. } | Event::AddressRemoved { .. } => (false, true),
            Event::Overrun => (true, true),
            _ => (false, false),
        };
        if resync || resolve {
            debug!(?event, "link or address change");
            shared.with(|p| {
                p.resync |= resync;
                p.resolve |= resolve;
            });
        }
    }
}

struct Worker {
    fib: KernelFib,
    config: KernelConfig,
    shared: Arc<Shared>,
    table: Table,
    /// Resolution of each protocol next hop, rebuilt on every re-resolve.
    resolved: FxHashMap<Hop, Option<NextHop>>,
    failed: FxHashMap<IpNet, String>,
    adopted: usize,
    stale_deadline: Option<Instant>,
    stale_removed: usize,
    next_resolve: Instant,
}

impl Worker {
    fn new(fib: KernelFib, config: KernelConfig, shared: Arc<Shared>) -> Worker {
        let adopted = fib.stats().routes;
        let now = Instant::now();
        if adopted > 0 {
            info!(
                routes = adopted,
                keep_for = ?config.stale_time,
                "routes from an earlier run kept until BGP converges"
            );
        }
        Worker {
            fib,
            shared,
            table: Table::default(),
            resolved: FxHashMap::default(),
            failed: FxHashMap::default(),
            adopted,
            stale_deadline: Some(now + config.stale_time),
            stale_removed: 0,
            next_resolve: now + config.resolve_interval,
            config,
        }
    }

    fn run(mut self) {
        loop {
            let work = {
                let mut pending = self.shared.lock();
                loop {
                    if pending.has_work() {
                        break;
                    }
                    let now = Instant::now();
                    let mut deadline = self.next_resolve;
                    if let Some(stale) = self.stale_deadline {
                        deadline = deadline.min(stale);
                    }
                    if deadline <= now {
                        break;
                    }
                    pending = self
                        .shared
                        .wake
                        .wait_timeout(pending, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                std::mem::take(&mut *pending)
            };
            if work.stop {
                info!(
                    routes = self.fib.stats().routes,
                    "kernel FIB writer stopped; routes stay installed"
                );
                return;
            }
            let now = Instant::now();
            if work.resync {
                if let Err(e) = self.fib.resync() {
                    warn!(error = %e, "cannot re-read the kernel's routes");
                }
            }
            if work.resync || work.resolve || now >= self.next_resolve {
                self.resolve_all(work.resync);
                self.next_resolve = Instant::now() + self.config.resolve_interval;
            }
            if !work.routes.is_empty() {
                self.install(work.routes);
            }
            let stale_due = self.stale_deadline.is_some_and(|d| Instant::now() >= d);
            if self.stale_deadline.is_some() && (work.converged || stale_due) {
                self.remove_stale(work.converged);
            }
            for query in work.queries {
                let snapshot = self.snapshot(query.prefix, query.routes);
                let _ = query.reply.send(snapshot);
            }
        }
    }

    /// Where the kernel reaches `hop`: through a connected route (the hop
    /// itself on that interface) or a static/kernel route (its gateway).
    /// Never through our own routes (a BGP next hop resolved over BGP
    /// would loop on itself) nor the default route, as FRR's default.
    fn resolve(fib: &mut KernelFib, protocol: u8, hop: &Hop) -> Option<NextHop> {
        if let Some(ifindex) = hop.ifindex {
            return Some(NextHop::new(hop.address, Some(ifindex)));
        }
        let found = fib.lookup_route(hop.address);
        debug!(next_hop = %hop.address, ?found, "resolving");
        match found {
            Ok(Some(r)) if r.protocol == protocol || r.prefix.prefix_len() == 0 => None,
            Ok(Some(r)) => Some(NextHop::new(
                r.gateway.unwrap_or(hop.address),
                Some(r.ifindex),
            )),
            Ok(None) => None,
            Err(e) => {
                warn!(next_hop = %hop.address, error = %e, "cannot resolve next hop");
                None
            }
        }
    }

    fn resolve_set(&mut self, hops: &HopSet) -> Vec<NextHop> {
        let mut out = Vec::with_capacity(hops.len());
        for hop in hops {
            let via = match self.resolved.get(hop) {
                Some(via) => *via,
                None => {
                    let via = Self::resolve(&mut self.fib, self.config.protocol, hop);
                    self.resolved.insert(*hop, via);
                    via
                }
            };
            if let Some(via) = via {
                if !out.contains(&via) {
                    out.push(via);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Re-resolves every next hop; prefixes whose kernel next hops changed
    /// (all of them after a resync) are rewritten.
    fn resolve_all(&mut self, everything: bool) {
        let before = std::mem::take(&mut self.resolved);
        let mut dirty: Vec<SetId> = Vec::new();
        let ids: Vec<(SetId, HopSet)> = self
            .table
            .sets()
            .map(|(id, s)| (id, s.hops.clone()))
            .collect();
        for (id, hops) in ids {
            let kernel = self.resolve_set(&hops);
            let changed = self.table.set(id).is_some_and(|s| s.kernel != kernel);
            if changed || everything {
                dirty.push(id);
            }
            if changed {
                self.table.set_kernel(id, kernel);
            }
        }
        for (hop, via) in &self.resolved {
            if before.get(hop) != Some(via) {
                info!(next_hop = %hop.address, via = ?via, "next hop resolution changed");
            }
        }
        // Retry what the kernel refused, too.
        if dirty.is_empty() && self.failed.is_empty() {
            return;
        }
        let dirty: HashSet<SetId> = dirty.into_iter().collect();
        let mut changes = Vec::new();
        for (prefix, id) in self.table.iter() {
            if dirty.contains(&id) || self.failed.contains_key(&prefix) {
                changes.push(self.change_for(prefix, id));
            }
        }
        self.apply(changes);
    }

    fn change_for(&self, prefix: IpNet, id: SetId) -> Change {
        match self.table.set(id) {
            Some(set) if !set.kernel.is_empty() => {
                Change::Upsert(Route::new(prefix, set.kernel.clone()))
            }
            _ => Change::Remove(prefix),
        }
    }

    fn install(&mut self, routes: FxHashMap<IpNet, HopSet>) {
        let mut changes = Vec::with_capacity(routes.len());
        for (prefix, hops) in routes {
            if hops.is_empty() {
                if self.table.remove(&prefix) || self.fib.is_installed(&prefix) {
                    changes.push(Change::Remove(prefix));
                }
                continue;
            }
            let (id, changed, new_set) = self.table.insert(prefix, hops);
            if new_set {
                let hops = self
                    .table
                    .set(id)
                    .map(|s| s.hops.clone())
                    .unwrap_or_default();
                let kernel = self.resolve_set(&hops);
                self.table.set_kernel(id, kernel);
            }
            if changed || self.failed.contains_key(&prefix) || !self.fib.is_installed(&prefix) {
                changes.push(self.change_for(prefix, id));
            }
        }
        self.apply(changes);
    }

    fn apply(&mut self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let failures = match self.fib.apply(&changes) {
            Ok(failures) => failures,
            Err(e) => {
                warn!(error = %e, "netlink failed; re-reading the kernel");
                if let Err(e) = self.fib.resync() {
                    warn!(error = %e, "cannot re-read the kernel's routes");
                }
                self.shared.with(|p| p.resolve = true);
                return;
            }
        };
        if !self.failed.is_empty() {
            for change in &changes {
                self.failed.remove(&change.prefix());
            }
        }
        for (prefix, error) in failures {
            warn!(%prefix, %error, "the kernel refused a route");
            self.failed.insert(prefix, error.to_string());
        }
    }

    fn remove_stale(&mut self, converged: bool) {
        self.stale_deadline = None;
        let keep: HashSet<IpNet> = self.table.iter().map(|(p, _)| p).collect();
        match self.fib.remove_stale(&keep) {
            Ok(removed) => {
                self.stale_removed = removed;
                info!(
                    removed,
                    reason = if converged {
                        "BGP converged"
                    } else {
                        "stale-time passed"
                    },
                    "stale routes from an earlier run removed"
                );
            }
            Err(e) => warn!(error = %e, "cannot remove stale routes"),
        }
    }

    fn snapshot(&self, prefix: Option<IpNet>, routes: bool) -> Snapshot {
        let stats = self.fib.stats();
        let mut refs: FxHashMap<Hop, usize> = FxHashMap::default();
        let mut unresolved = 0usize;
        for (_, set) in self.table.sets() {
            if set.kernel.is_empty() {
                unresolved += set.refs as usize;
            }
            for hop in &set.hops {
                *refs.entry(*hop).or_default() += set.refs as usize;
            }
        }
        let mut next_hops: Vec<NextHopState> = refs
            .into_iter()
            .map(|(hop, routes)| NextHopState {
                hop,
                via: self.resolved.get(&hop).copied().flatten(),
                routes,
            })
            .collect();
        next_hops.sort_by_key(|n| n.hop);
        let mut failed: Vec<FailedRoute> = self
            .failed
            .iter()
            .filter(|(p, _)| prefix.is_none_or(|q| **p == q))
            .map(|(prefix, error)| FailedRoute {
                prefix: *prefix,
                error: error.clone(),
            })
            .collect();
        failed.sort_by_key(|f| f.prefix);
        let mut installed: Vec<InstalledRoute> = Vec::new();
        if routes {
            installed = self
                .fib
                .installed()
                .filter(|r| prefix.is_none_or(|q| r.prefix == q))
                .map(|r| InstalledRoute {
                    prefix: r.prefix,
                    next_hops: r.next_hops,
                })
                .collect();
            installed.sort_by_key(|r| r.prefix);
        }
        Snapshot {
            status: Status {
                table: self.config.table,
                protocol: self.config.protocol,
                installed: stats.routes,
                nexthop_objects: stats.nexthops,
                nexthop_groups: stats.groups,
                wanted: self.table.len(),
                unresolved,
                failed: self.failed.len(),
                adopted: self.adopted,
                stale_pending: self.stale_deadline.is_some(),
                stale_removed: self.stale_removed,
                holding: self.shared.holding.load(Ordering::Relaxed),
                memory_bytes: stats.mirror_bytes + self.table.heap_bytes(),
                next_hops,
            },
            failed,
            routes: installed,
        }
    }
}
