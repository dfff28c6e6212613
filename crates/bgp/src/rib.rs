//! The RIB task: the only owner of Adj-RIB-In, Loc-RIB and what each peer
//! has been told (Adj-RIB-Out), RFC 4271 §3.2 and §9.
//!
//! Sessions send it `RibEvent`s over one bounded channel (a full channel
//! stops their socket reads: TCP backpressure). For each event it updates
//! Adj-RIB-In, collects the prefixes whose candidates changed, re-runs the
//! decision process (`decision.rs`) for exactly those, and for every best
//! path that changed computes each established peer's export (policy,
//! eBGP/iBGP rules of §5.1, next hop self) into that peer's pending map
//! (`adj_out.rs`), waking its writer once.
//!
//! Attribute sets are interned: equal sets share one `Arc`, so a full table
//! with ~1 set per 3 prefixes stores each set once, and the writer can group
//! prefixes per UPDATE by pointer.
//!
//! Adj-RIB-Out is not stored per peer: what a peer was told is a function of
//! the previous best path and the (deterministic) export rules, so on every
//! best-path change the RIB computes the old and the new export and queues
//! the difference. This saves a prefix map per peer (the largest structure
//! of a full-table route server) at the cost of computing an export twice,
//! which the per-call cache makes once per attribute set.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use clos_wire::{
    Asn, Family, IpNet, MpReach, NextHop, Origin, PathAttributes, AFI_IPV4, AFI_IPV6, SAFI_UNICAST,
};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::adj_out::AdjRibOutQueue;
use crate::decision::{self, Candidate, DecisionOptions, PathSource};
use crate::fib::{FibNextHop, FibRoute, FibSink};
use crate::fsm::Negotiated;
use crate::loc_rib::PrefixMap;
use crate::peer::{MaxPrefixAction, PeerId, PeerShared, LOCAL_PEER};

/// Capacity of the sessions → RIB channel, in events: one UPDATE's worth
/// of prefixes, or a reader's batch of up to 32 of those
/// (`session::READER_BATCH`), so at most 8k UPDATEs wait here.
pub const RIB_CHANNEL: usize = 256;
/// Events the RIB task takes from its channel at a time.
const RIB_BATCH: usize = 256;

/// What the RIB task is told.
#[derive(Debug)]
pub enum RibEvent {
    /// A session reached Established.
    PeerUp {
        peer: PeerId,
        negotiated: Box<Negotiated>,
        /// Our address on the session: the next hop we advertise.
        local_address: IpAddr,
        /// Our IPv6 link-local address on the session's interface, if any
        /// (sent as the second next hop of IPv6 routes, RFC 2545 §3).
        local_link_local: Option<std::net::Ipv6Addr>,
        /// The interface the session runs over, when it is bound to one
        /// (BGP unnumbered): the peer's link-local next hops are on it.
        ifindex: Option<u32>,
        out: Arc<AdjRibOutQueue>,
    },
    /// A session left Established: flush its routes.
    PeerDown { peer: PeerId },
    /// One UPDATE's routes, after import policy and RFC 7606 handling.
    Update {
        peer: PeerId,
        attributes: Arc<PathAttributes>,
        announced: Vec<IpNet>,
        withdrawn: Vec<IpNet>,
        /// Prefixes refused by import policy (counted as received only).
        filtered: u64,
    },
    /// Events of one session in the order they arrived: a reader sends the
    /// UPDATEs it decoded from one read as one batch (one channel slot,
    /// one wake-up).
    Batch(Vec<RibEvent>),
    /// The peer finished its initial table for `family` (End-of-RIB,
    /// RFC 4724 §2).
    EndOfRib { peer: PeerId, family: Family },
    /// The peer asked for our routes again (RFC 2918).
    RouteRefresh { peer: PeerId, family: Family },
    /// Start or stop originating a prefix; the reply says whether anything
    /// changed.
    Originate {
        prefix: IpNet,
        add: bool,
        reply: oneshot::Sender<bool>,
    },
    /// Read the Loc-RIB.
    Routes {
        filter: RouteFilter,
        reply: oneshot::Sender<Vec<RouteView>>,
    },
    /// Loc-RIB size: (prefixes, paths).
    Counts { reply: oneshot::Sender<(u64, u64)> },
    /// The FIB's start-up hold ([`FibSink::initial_hold`]) ran out: write
    /// the routes now, converged or not.
    FibHoldExpired,
}

/// Prefixes per [`FibSink::routes`] call when the whole table is written.
const FIB_CHUNK: usize = 16 * 1024;

/// Prefixes per decision round when a whole table changes at once (a peer
/// goes down, a peer comes up and gets the table): the before-states, the
/// exports and each writer's pending map stay this size, and the writers
/// drain while the RIB goes on, instead of all of them growing to the
/// whole table (~200 MB more at 1M routes).
const TABLE_CHUNK: usize = 16 * 1024;

/// Which routes `RibEvent::Routes` returns.
#[derive(Debug, Clone, Default)]
pub struct RouteFilter {
    pub family: Option<Family>,
    pub prefix: Option<IpNet>,
}

/// One path as the API shows it.
#[derive(Debug, Clone)]
pub struct RouteView {
    pub prefix: IpNet,
    pub peer: PeerId,
    pub attributes: Arc<PathAttributes>,
    pub best: bool,
    pub multipath: bool,
    pub age_seconds: u64,
    /// Why this path lost to the best ("" for the best).
    pub reason: String,
}

/// The next hop of a stored path: MP_REACH's when present, else NEXT_HOP.
pub fn path_next_hop(attrs: &PathAttributes) -> Option<IpAddr> {
    match &attrs.mp_reach {
        Some(r) => Some(r.next_hop.address()),
        None => attrs.next_hop.map(IpAddr::V4),
    }
}

/// A command to a session (from the RIB or the API).
#[derive(Debug)]
pub enum PeerCommand {
    /// Max-prefix exceeded with action teardown (RFC 4486 Cease 6/1).
    MaxPrefixExceeded,
    /// BFD saw the neighbor go down: close the session at once with Cease
    /// "BFD Down" (RFC 9384, 6/10); it restarts as usual.
    BfdDown,
    /// The session's interface lost its link (fast external failover, as
    /// FRR's default): close at once, no NOTIFICATION can get through.
    LinkDown,
    /// Send ROUTE-REFRESH for every negotiated family (RFC 2918); the reply
    /// names the families, or says why not.
    RequestRefresh(oneshot::Sender<Result<Vec<Family>, String>>),
}

#[derive(Debug, Clone)]
struct Path {
    attributes: Arc<PathAttributes>,
    peer: PeerId,
    /// Seconds since the RIB started (4 bytes instead of an `Instant`'s 16).
    since: u32,
}

/// The paths of one prefix. Most prefixes have one path, stored inline.
#[derive(Debug, Default)]
struct Entry {
    paths: SmallVec<[Path; 1]>,
    /// Index of the best path in `paths`.
    best: Option<u16>,
    /// Bit i set: `paths[i]` is a multipath (ECMP) member besides the best
    /// (the first 32 paths are eligible).
    multipath: u32,
}

impl Entry {
    fn best_path(&self) -> Option<&Path> {
        self.best.and_then(|i| self.paths.get(i as usize))
    }
}

/// The best path of a prefix before a change: who and which attributes.
type BestBefore = Option<(PeerId, Arc<PathAttributes>)>;

struct Session {
    negotiated: Negotiated,
    local_address: IpAddr,
    local_link_local: Option<std::net::Ipv6Addr>,
    ifindex: Option<u32>,
    out: Arc<AdjRibOutQueue>,
    advertised: u64,
    /// Families the peer has sent End-of-RIB for.
    end_of_rib: Vec<Family>,
}

struct RibPeer {
    shared: Arc<PeerShared>,
    command: mpsc::Sender<PeerCommand>,
    session: Option<Session>,
    accepted: u64,
    max_prefix_tripped: bool,
}

/// Configuration of the RIB task.
#[derive(Debug, Clone)]
pub struct RibConfig {
    pub asn: Asn,
    pub router_id: Ipv4Addr,
    pub originate: Vec<IpNet>,
    /// Maximum ECMP paths (1 = no multipath).
    pub multipath: usize,
    pub decision: DecisionOptions,
}

/// The RIB task's state.
pub struct Rib {
    config: RibConfig,
    /// Where forwarding changes go, if anywhere.
    fib: Option<Arc<dyn FibSink>>,
    /// `fib.converged()` was called.
    fib_converged: bool,
    /// Start-up hold: forwarding changes are not sent to the FIB until BGP
    /// converges or the hold expires; then the whole table is.
    fib_held: bool,
    peers: FxHashMap<PeerId, RibPeer>,
    loc_rib: PrefixMap<Entry>,
    interned: Interner,
    local_attributes: Arc<PathAttributes>,
    started: Instant,
    /// Best-path changes not yet exported: within a reader's batch the
    /// exports are made once for the whole batch (one hand-off and one
    /// writer wake-up per peer instead of one per UPDATE).
    unexported: Vec<(IpNet, BestBefore)>,
    /// Inside a batch: `decide` leaves its exports in `unexported`.
    deferring: bool,
}

/// Equal attribute sets share one `Arc`. Each set's hash is kept beside
/// it: a set hashes its whole AS path and communities, and without the
/// stored hash every growth of the table re-hashed all of them (a few
/// percent of a multi-feeder ingest).
#[derive(Default)]
struct Interner {
    table: hashbrown::HashTable<(u64, Arc<PathAttributes>)>,
    at_sweep: usize,
}

impl Interner {
    fn intern(&mut self, attributes: Arc<PathAttributes>) -> Arc<PathAttributes> {
        let hash = rustc_hash::FxBuildHasher.hash_one(&*attributes);
        let entry = self
            .table
            .entry(hash, |(h, a)| *h == hash && **a == *attributes, |(h, _)| *h);
        match entry {
            hashbrown::hash_table::Entry::Occupied(existing) => return existing.get().1.clone(),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((hash, attributes.clone()));
            }
        }
        // Sweep sets nobody uses any more once the table doubled.
        if self.table.len() > 1024 && self.table.len() > 2 * self.at_sweep {
            self.table.retain(|(_, a)| Arc::strong_count(a) > 1);
            self.at_sweep = self.table.len();
        }
        attributes
    }
}

/// A peer the RIB knows about: its shared state and how to reach its session.
pub struct RibPeerHandle {
    pub shared: Arc<PeerShared>,
    pub command: mpsc::Sender<PeerCommand>,
}

impl Rib {
    pub fn new(config: RibConfig, peers: Vec<RibPeerHandle>) -> Rib {
        let local_attributes = Arc::new(PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(Default::default()),
            ..Default::default()
        });
        let mut rib = Rib {
            peers: peers
                .into_iter()
                .map(|h| {
                    (
                        h.shared.id,
                        RibPeer {
                            shared: h.shared,
                            command: h.command,
                            session: None,
                            accepted: 0,
                            max_prefix_tripped: false,
                        },
                    )
                })
                .collect(),
            loc_rib: PrefixMap::default(),
            interned: Interner::default(),
            local_attributes,
            config,
            fib: None,
            fib_converged: false,
            fib_held: false,
            started: Instant::now(),
            unexported: Vec::new(),
            deferring: false,
        };
        let originate = std::mem::take(&mut rib.config.originate);
        for prefix in originate {
            rib.originate(prefix, true);
        }
        rib
    }

    /// Report forwarding changes to `sink` from now on, starting with every
    /// prefix already selected; with two or more neighbors and a start-up
    /// hold, only once BGP converges or the hold expires (the caller sends
    /// [`RibEvent::FibHoldExpired`]).
    pub fn with_fib(mut self, sink: Arc<dyn FibSink>) -> Rib {
        let hold = sink.initial_hold();
        self.fib_held = !hold.is_zero() && self.peers.len() >= 2;
        if self.fib_held {
            info!(
                ?hold,
                "FIB writes held until every neighbor sends End-of-RIB"
            );
            sink.holding(true);
        }
        self.fib = Some(sink);
        if !self.fib_held {
            self.write_fib_table();
        }
        self.check_converged();
        self
    }

    /// Whether forwarding changes are held back from the FIB (start-up
    /// hold, see [`Rib::with_fib`]).
    pub fn fib_held(&self) -> bool {
        self.fib_held
    }

    /// Every prefix's forwarding set to the FIB, in chunks.
    fn write_fib_table(&self) {
        let Some(fib) = &self.fib else {
            return;
        };
        let mut batch: Vec<FibRoute> = Vec::with_capacity(FIB_CHUNK);
        for (prefix, entry) in self.loc_rib.iter() {
            let next_hops = self.forwarding(entry);
            if next_hops.is_empty() {
                continue;
            }
            batch.push(FibRoute { prefix, next_hops });
            if batch.len() == FIB_CHUNK {
                fib.routes(std::mem::replace(&mut batch, Vec::with_capacity(FIB_CHUNK)));
            }
        }
        if !batch.is_empty() {
            fib.routes(batch);
        }
    }

    /// End the start-up hold: the whole table goes to the FIB, changes
    /// follow as they happen.
    fn release_fib(&mut self) {
        self.fib_held = false;
        info!(prefixes = self.loc_rib.len(), "writing routes to the FIB");
        // Cleared first: whoever sees a route in the FIB sees no hold.
        if let Some(fib) = &self.fib {
            fib.holding(false);
        }
        self.write_fib_table();
    }

    /// Run until every sender is gone.
    pub async fn run(mut self, mut events: mpsc::Receiver<RibEvent>) {
        // Taking what is queued in one go returns the senders' permits in
        // one go too: with many sessions feeding at full speed, one wake-up
        // per event (a context switch each) was the cost that dominated.
        let mut batch = Vec::with_capacity(RIB_BATCH);
        while events.recv_many(&mut batch, RIB_BATCH).await > 0 {
            for event in batch.drain(..) {
                self.handle(event);
            }
        }
    }

    /// Apply one event (public for tests that drive the RIB without tasks).
    pub fn handle(&mut self, event: RibEvent) {
        match event {
            RibEvent::PeerUp {
                peer,
                negotiated,
                local_address,
                local_link_local,
                ifindex,
                out,
            } => self.peer_up(
                peer,
                *negotiated,
                (local_address, local_link_local, ifindex),
                out,
            ),
            RibEvent::PeerDown { peer } => self.peer_down(peer),
            RibEvent::Batch(events) => {
                for event in events {
                    // UPDATEs defer their exports; anything else first
                    // exports what the batch deferred so far.
                    let update = matches!(event, RibEvent::Update { .. });
                    if !update {
                        self.flush_exports();
                    }
                    self.deferring = update;
                    self.handle(event);
                }
                self.flush_exports();
            }
            RibEvent::EndOfRib { peer, family } => self.end_of_rib(peer, family),
            RibEvent::Update {
                peer,
                attributes,
                announced,
                withdrawn,
                filtered,
            } => self.update(peer, attributes, announced, withdrawn, filtered),
            RibEvent::RouteRefresh { peer, family } => self.refresh(peer, family),
            RibEvent::Originate { prefix, add, reply } => {
                let changed = self.originate(prefix, add);
                let _ = reply.send(changed);
            }
            RibEvent::Routes { filter, reply } => {
                let _ = reply.send(self.routes(&filter));
            }
            RibEvent::Counts { reply } => {
                let paths = self.loc_rib.values().map(|e| e.paths.len() as u64).sum();
                let _ = reply.send((self.loc_rib.len() as u64, paths));
            }
            RibEvent::FibHoldExpired => {
                if self.fib_held {
                    info!("FIB start-up hold expired before every neighbor sent End-of-RIB");
                    self.release_fib();
                }
            }
        }
    }

    fn intern(&mut self, attributes: Arc<PathAttributes>) -> Arc<PathAttributes> {
        self.interned.intern(attributes)
    }

    fn now_secs(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    fn best_before(&self, prefix: &IpNet) -> BestBefore {
        self.loc_rib
            .get(prefix)
            .and_then(Entry::best_path)
            .map(|p| (p.peer, p.attributes.clone()))
    }

    fn originate(&mut self, prefix: IpNet, add: bool) -> bool {
        let prefix = prefix.trunc();
        let before = self.best_before(&prefix);
        let since = self.now_secs();
        let attributes = self.local_attributes.clone();
        let entry = self.loc_rib.entry_or_default(prefix);
        let existing = entry.paths.iter().position(|p| p.peer == LOCAL_PEER);
        let changed = match (add, existing) {
            (true, None) => {
                entry.paths.push(Path {
                    attributes,
                    peer: LOCAL_PEER,
                    since,
                });
                true
            }
            (false, Some(i)) => {
                remove_path(entry, i);
                true
            }
            _ => false,
        };
        if changed {
            info!(%prefix, add, "origination changed");
            self.decide(vec![(prefix, before)]);
        } else if entry.paths.is_empty() {
            self.loc_rib.remove(&prefix);
        }
        changed
    }

    fn peer_up(
        &mut self,
        peer: PeerId,
        negotiated: Negotiated,
        (local_address, local_link_local, ifindex): (
            IpAddr,
            Option<std::net::Ipv6Addr>,
            Option<u32>,
        ),
        out: Arc<AdjRibOutQueue>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let families = negotiated.families.clone();
        p.session = Some(Session {
            negotiated,
            local_address,
            local_link_local,
            ifindex,
            out,
            advertised: 0,
            end_of_rib: Vec::new(),
        });
        p.accepted = 0;
        p.max_prefix_tripped = false;
        let counters = &p.shared.counters;
        counters.prefixes_accepted.store(0, Ordering::Relaxed);
        counters.prefixes_received.store(0, Ordering::Relaxed);
        counters.prefixes_advertised.store(0, Ordering::Relaxed);
        // Initial table dump (nothing was told before), a chunk at a time,
        // then End-of-RIB.
        let prefixes: Vec<IpNet> = self.loc_rib.keys().collect();
        let mut changes: Vec<(IpNet, BestBefore)> = Vec::with_capacity(TABLE_CHUNK);
        for chunk in prefixes.chunks(TABLE_CHUNK) {
            changes.clear();
            changes.extend(chunk.iter().map(|p| (*p, None)));
            self.export_to(peer, &changes, false, |_| {});
        }
        self.export_to(peer, &[], false, |pending| {
            pending.end_of_rib.extend(families)
        });
    }

    fn end_of_rib(&mut self, peer: PeerId, family: Family) {
        let Some(session) = self.peers.get_mut(&peer).and_then(|p| p.session.as_mut()) else {
            return;
        };
        if !session.end_of_rib.contains(&family) {
            debug!(peer, %family, "End-of-RIB received");
            session.end_of_rib.push(family);
        }
        self.check_converged();
    }

    /// Tell the FIB once every configured neighbor is Established and has
    /// sent End-of-RIB for each negotiated family.
    fn check_converged(&mut self) {
        if self.fib_converged || self.fib.is_none() {
            return;
        }
        let done = self.peers.values().all(|p| {
            p.session.as_ref().is_some_and(|s| {
                s.negotiated
                    .families
                    .iter()
                    .all(|f| s.end_of_rib.contains(f))
            })
        });
        if done {
            info!("BGP converged: every neighbor sent End-of-RIB");
            self.fib_converged = true;
            if self.fib_held {
                self.release_fib();
            }
            if let Some(fib) = &self.fib {
                fib.converged();
            }
        }
    }

    /// The forwarding set of an entry: the next hops of the best path and
    /// its multipath companions. Empty when the best path is our own
    /// origination (nothing to forward to) or no path is usable.
    fn forwarding(&self, entry: &Entry) -> SmallVec<[FibNextHop; 2]> {
        let mut hops: SmallVec<[FibNextHop; 2]> = SmallVec::new();
        let Some(best) = entry.best else {
            return hops;
        };
        for (i, path) in entry.paths.iter().enumerate() {
            let member = i == best as usize || (i < 32 && entry.multipath & (1 << i) != 0);
            if !member {
                continue;
            }
            if path.peer == LOCAL_PEER {
                return SmallVec::new();
            }
            if let Some(hop) = self.fib_next_hop(path) {
                hops.push(hop);
            }
        }
        hops.sort_unstable();
        hops.dedup();
        hops
    }

    /// Where a path forwards to. An IPv6 link-local next hop (the second
    /// next hop of RFC 2545, or the only one on an unnumbered session) is
    /// used with the session's interface; without one it cannot be used.
    fn fib_next_hop(&self, path: &Path) -> Option<FibNextHop> {
        let ifindex = self
            .peers
            .get(&path.peer)
            .and_then(|p| p.session.as_ref())
            .and_then(|s| s.ifindex);
        let attrs = &path.attributes;
        match attrs.mp_reach.as_deref() {
            Some(MpReach {
                next_hop: NextHop::V6 { global, link_local },
                ..
            }) => match (ifindex, link_local) {
                (Some(ifx), Some(ll)) => Some(FibNextHop {
                    address: IpAddr::V6(*ll),
                    ifindex: Some(ifx),
                }),
                (Some(ifx), None) if global.is_unicast_link_local() => Some(FibNextHop {
                    address: IpAddr::V6(*global),
                    ifindex: Some(ifx),
                }),
                _ if global.is_unicast_link_local() || global.is_unspecified() => None,
                _ => Some(FibNextHop {
                    address: IpAddr::V6(*global),
                    ifindex: None,
                }),
            },
            Some(MpReach {
                next_hop: NextHop::V4(a),
                ..
            }) => Some(FibNextHop {
                address: IpAddr::V4(*a),
                ifindex: None,
            }),
            None => attrs.next_hop.map(|a| FibNextHop {
                address: IpAddr::V4(a),
                ifindex: None,
            }),
        }
    }

    fn peer_down(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.session = None;
        p.accepted = 0;
        let counters = &p.shared.counters;
        counters.prefixes_accepted.store(0, Ordering::Relaxed);
        counters.prefixes_received.store(0, Ordering::Relaxed);
        counters.prefixes_advertised.store(0, Ordering::Relaxed);
        // The prefixes first (18 bytes each), then a chunk at a time.
        let prefixes: Vec<IpNet> = self
            .loc_rib
            .iter()
            .filter(|(_, entry)| entry.paths.iter().any(|p| p.peer == peer))
            .map(|(prefix, _)| prefix)
            .collect();
        for chunk in prefixes.chunks(TABLE_CHUNK) {
            let mut changes = Vec::with_capacity(chunk.len());
            for prefix in chunk {
                let Some(entry) = self.loc_rib.get_mut(prefix) else {
                    continue;
                };
                if let Some(i) = entry.paths.iter().position(|p| p.peer == peer) {
                    let before = entry.best_path().map(|p| (p.peer, p.attributes.clone()));
                    remove_path(entry, i);
                    changes.push((*prefix, before));
                }
            }
            self.decide(changes);
        }
    }

    fn update(
        &mut self,
        peer: PeerId,
        attributes: Arc<PathAttributes>,
        announced: Vec<IpNet>,
        withdrawn: Vec<IpNet>,
        filtered: u64,
    ) {
        if self.peers.get(&peer).is_none_or(|p| p.session.is_none()) {
            return; // a late event from a session already down
        }
        let attributes = if announced.is_empty() {
            attributes
        } else {
            self.intern(attributes)
        };
        let now = self.now_secs();
        let mut changes: Vec<(IpNet, BestBefore)> =
            Vec::with_capacity(announced.len() + withdrawn.len());
        let mut delta: i64 = 0;
        for prefix in withdrawn {
            if let Some(entry) = self.loc_rib.get_mut(&prefix) {
                if let Some(i) = entry.paths.iter().position(|p| p.peer == peer) {
                    let before = entry.best_path().map(|p| (p.peer, p.attributes.clone()));
                    remove_path(entry, i);
                    delta -= 1;
                    changes.push((prefix, before));
                }
            }
        }
        for prefix in announced {
            let entry = self.loc_rib.entry_or_default(prefix);
            let before = entry.best_path().map(|p| (p.peer, p.attributes.clone()));
            match entry.paths.iter_mut().find(|p| p.peer == peer) {
                Some(path) => {
                    if Arc::ptr_eq(&path.attributes, &attributes) {
                        continue; // an identical re-announcement changes nothing
                    }
                    path.attributes = attributes.clone();
                    path.since = now;
                }
                None => {
                    entry.paths.push(Path {
                        attributes: attributes.clone(),
                        peer,
                        since: now,
                    });
                    delta += 1;
                }
            }
            changes.push((prefix, before));
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.accepted = (p.accepted as i64 + delta).max(0) as u64;
            let counters = &p.shared.counters;
            counters
                .prefixes_accepted
                .store(p.accepted, Ordering::Relaxed);
            let received = counters.prefixes_received.load(Ordering::Relaxed) as i64;
            counters.prefixes_received.store(
                (received + delta + filtered as i64).max(0) as u64,
                Ordering::Relaxed,
            );
            if let Some(max) = p.shared.config.max_prefix {
                if p.accepted > max.limit && !p.max_prefix_tripped {
                    p.max_prefix_tripped = true;
                    warn!(
                        peer = %p.shared.config.name(),
                        accepted = p.accepted,
                        limit = max.limit,
                        "maximum prefix limit exceeded"
                    );
                    if max.action == MaxPrefixAction::Teardown {
                        let _ = p.command.try_send(PeerCommand::MaxPrefixExceeded);
                    }
                }
            }
        }
        self.decide(changes);
    }

    fn refresh(&mut self, peer: PeerId, family: Family) {
        let Some(session) = self.peers.get(&peer).and_then(|p| p.session.as_ref()) else {
            return;
        };
        debug!(peer, %family, "route refresh: re-advertising");
        let enhanced = session.negotiated.enhanced_route_refresh;
        let changes: Vec<(IpNet, BestBefore)> = self
            .loc_rib
            .keys()
            .filter(|p| Family::of(p) == family)
            .map(|p| (p, None))
            .collect();
        // The BoRR/EoRR markers go in the same hand-off as the routes, so
        // the writer sends them around exactly this re-advertisement.
        self.export_to(peer, &changes, true, |pending| {
            if enhanced {
                pending.refresh.push(family)
            }
        });
    }

    fn candidate<'a>(&'a self, path: &'a Path) -> Candidate<'a> {
        match self.peers.get(&path.peer) {
            Some(p) => {
                let neg = p.session.as_ref().map(|s| &s.negotiated);
                Candidate {
                    attributes: &path.attributes,
                    source: if neg.is_some_and(|n| n.internal) {
                        PathSource::Ibgp
                    } else {
                        PathSource::Ebgp
                    },
                    peer_router_id: neg.map(|n| n.remote_id).unwrap_or(Ipv4Addr::UNSPECIFIED),
                    peer_address: Some(p.shared.config.address),
                    peer_asn: neg.map(|n| n.remote_asn).unwrap_or(0),
                }
            }
            None => Candidate {
                attributes: &path.attributes,
                source: PathSource::Local,
                peer_router_id: Ipv4Addr::UNSPECIFIED,
                peer_address: None,
                peer_asn: self.config.asn,
            },
        }
    }

    /// Best path and multipath set of an entry.
    fn select(&self, entry: &Entry) -> (Option<u16>, u32) {
        if entry.paths.len() <= 1 {
            return (
                if entry.paths.is_empty() {
                    None
                } else {
                    Some(0)
                },
                0,
            );
        }
        let candidates: SmallVec<[Candidate; 4]> =
            entry.paths.iter().map(|p| self.candidate(p)).collect();
        let Some(best) = decision::select_best(&candidates, &self.config.decision) else {
            return (None, 0);
        };
        let mut multipath = 0u32;
        if self.config.multipath > 1 {
            let mut members = 1;
            for (i, c) in candidates.iter().enumerate().take(32) {
                if i != best
                    && members < self.config.multipath
                    && decision::multipath_eligible(&candidates[best], c, &self.config.decision)
                {
                    multipath |= 1 << i;
                    members += 1;
                }
            }
        }
        (Some(best as u16), multipath)
    }

    /// Re-run the decision process for the changed prefixes (each with its
    /// best path before the change) and export what changed.
    fn decide(&mut self, changes: Vec<(IpNet, BestBefore)>) {
        let mut exports: Vec<(IpNet, BestBefore)> = Vec::new();
        let mut fib_batch: Vec<FibRoute> = Vec::new();
        let feed_fib = self.fib.is_some() && !self.fib_held;
        if feed_fib {
            fib_batch.reserve(changes.len());
        }
        for (prefix, before) in changes {
            let Some(entry) = self.loc_rib.get(&prefix) else {
                if before.is_some() {
                    exports.push((prefix, before));
                }
                if feed_fib {
                    fib_batch.push(FibRoute {
                        prefix,
                        next_hops: SmallVec::new(),
                    });
                }
                continue;
            };
            let (best, multipath) = self.select(entry);
            if let Some(entry) = self.loc_rib.get_mut(&prefix) {
                entry.best = best;
                entry.multipath = multipath;
            }
            // Read back once: the forwarding set needs `&self` beside it.
            let Some(entry) = self.loc_rib.get(&prefix) else {
                continue;
            };
            if feed_fib {
                fib_batch.push(FibRoute {
                    prefix,
                    next_hops: self.forwarding(entry),
                });
            }
            let same = match (&before, entry.best_path()) {
                (None, None) => true,
                (Some((peer, attrs)), Some(p)) => {
                    *peer == p.peer && Arc::ptr_eq(attrs, &p.attributes)
                }
                _ => false,
            };
            if entry.paths.is_empty() {
                self.loc_rib.remove(&prefix);
            }
            if !same {
                exports.push((prefix, before));
            }
        }
        if let (Some(fib), false) = (&self.fib, fib_batch.is_empty()) {
            fib.routes(fib_batch);
        }
        if exports.is_empty() {
            return;
        }
        if self.deferring {
            self.unexported.extend(exports);
            return;
        }
        self.export_changes(&exports);
    }

    /// Export what `decide` deferred during a batch. A prefix changed by
    /// several UPDATEs of the batch is exported once, against its best
    /// before the first of them: that is what the peers were told.
    fn flush_exports(&mut self) {
        self.deferring = false;
        if self.unexported.is_empty() {
            return;
        }
        let mut exports = std::mem::take(&mut self.unexported);
        // Stable: the first `before` of a prefix stays first.
        exports.sort_by_key(|e| e.0);
        exports.dedup_by(|later, first| later.0 == first.0);
        self.export_changes(&exports);
        exports.clear();
        // Keep the allocation for the next batch.
        self.unexported = exports;
    }

    fn export_changes(&mut self, exports: &[(IpNet, BestBefore)]) {
        let peers: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.session.is_some())
            .map(|(id, _)| *id)
            .collect();
        for peer in peers {
            self.export_to(peer, exports, false, |_| {});
        }
    }

    /// Queue for `peer` the difference between what it was told (the export
    /// of each prefix's previous best) and what it should now hear. With
    /// `force`, every current export is queued (route refresh). `extra` runs
    /// in the same hand-off to the writer.
    fn export_to(
        &mut self,
        peer: PeerId,
        changes: &[(IpNet, BestBefore)],
        force: bool,
        extra: impl FnOnce(&mut crate::adj_out::Pending),
    ) {
        let Some(target) = self.peers.get(&peer) else {
            return;
        };
        let Some(session) = target.session.as_ref() else {
            return;
        };
        // One export per source attribute set within this call: the
        // prefixes of one UPDATE share their source attributes, so they
        // share the exported set too (and the writer packs them together).
        let mut cache: FxHashMap<(usize, PeerId, Family), Option<Arc<PathAttributes>>> =
            FxHashMap::default();
        let mut export = |source: PeerId, attrs: &Arc<PathAttributes>, family: Family| {
            cache
                .entry((Arc::as_ptr(attrs) as usize, source, family))
                .or_insert_with(|| self.export_attributes(target, session, source, attrs, family))
                .clone()
        };
        let mut queued: Vec<(IpNet, Option<Arc<PathAttributes>>)> = Vec::new();
        let mut delta: i64 = 0;
        for (prefix, before) in changes {
            let family = Family::of(prefix);
            if !session.negotiated.families.contains(&family)
                || !target.shared.config.export.permits(prefix)
            {
                continue;
            }
            let old = match before {
                Some((source, attrs)) if !force => export(*source, attrs, family),
                _ => None,
            };
            let new = match self.loc_rib.get(prefix).and_then(Entry::best_path) {
                Some(p) => export(p.peer, &p.attributes, family),
                None => None,
            };
            match (&old, &new) {
                (None, None) => {}
                (Some(o), Some(n)) if Arc::ptr_eq(o, n) || **o == **n => {}
                _ => {
                    if !force {
                        delta += new.is_some() as i64 - old.is_some() as i64;
                    }
                    queued.push((*prefix, new));
                }
            }
        }
        let Some(session) = self.peers.get_mut(&peer).and_then(|p| p.session.as_mut()) else {
            return;
        };
        session.advertised = (session.advertised as i64 + delta).max(0) as u64;
        if let Some(p) = self.peers.get(&peer) {
            if let Some(s) = &p.session {
                p.shared
                    .counters
                    .prefixes_advertised
                    .store(s.advertised, Ordering::Relaxed);
                s.out.with(|pending| {
                    for (prefix, attrs) in queued {
                        pending.routes.insert(prefix, attrs);
                    }
                    extra(pending);
                });
            }
        }
    }

    /// RFC 4271 §5.1 and §9.1.3: what `target` hears of `path`, or None when
    /// it must not hear it.
    fn export_attributes(
        &self,
        target: &RibPeer,
        session: &Session,
        source: PeerId,
        src: &Arc<PathAttributes>,
        family: Family,
    ) -> Option<Arc<PathAttributes>> {
        let to_internal = session.negotiated.internal;
        let from = self.peers.get(&source);
        if source == target.shared.id {
            return None; // never back to the peer it came from
        }
        let from_internal = from
            .and_then(|p| p.session.as_ref())
            .is_some_and(|s| s.negotiated.internal);
        if to_internal && from_internal {
            return None; // iBGP split horizon (no route reflection)
        }
        // Well-known communities (RFC 1997): NO_EXPORT, NO_ADVERTISE.
        if src.communities.contains(&0xFFFF_FF02) {
            return None;
        }
        if !to_internal && src.communities.contains(&0xFFFF_FF01) {
            return None;
        }
        let mut out: PathAttributes = (**src).clone();
        let mut as_path = out.as_path.take().unwrap_or_default();
        let next_hop_self =
            !to_internal || source == LOCAL_PEER || target.shared.config.next_hop_self;
        if to_internal {
            out.local_pref = Some(src.local_pref.unwrap_or(100));
        } else {
            // Sender-side loop avoidance: the peer would drop it anyway.
            if as_path.contains(session.negotiated.remote_asn) {
                return None;
            }
            as_path.prepend(self.config.asn);
            out.local_pref = None;
            // §5.1.4: a MED received from a neighbour AS is not passed on to
            // other ASes.
            if source != LOCAL_PEER {
                out.med = None;
            }
            if let Some(rare) = out.rare.get_mut() {
                rare.originator_id = None;
                rare.cluster_list.clear();
            }
        }
        if let Some(rare) = out.rare.get_mut() {
            rare.mp_unreach = None;
        }
        out.rare.compact();
        out.as_path = Some(as_path);
        let next_hop = if next_hop_self {
            match (family, session.local_address) {
                (Family::Ipv4Unicast, IpAddr::V4(a)) => NextHop::V4(a),
                (Family::Ipv6Unicast, IpAddr::V6(a)) => NextHop::V6 {
                    global: a,
                    link_local: session.local_link_local,
                },
                (Family::Ipv4Unicast, IpAddr::V6(a))
                    if session.negotiated.extended_next_hop_ipv4 =>
                {
                    NextHop::V6 {
                        global: a,
                        link_local: session.local_link_local,
                    }
                }
                // No usable next hop of this family on this session.
                _ => return None,
            }
        } else {
            match path_next_hop(src)? {
                IpAddr::V4(a) => NextHop::V4(a),
                IpAddr::V6(a) => NextHop::V6 {
                    global: a,
                    link_local: None,
                },
            }
        };
        match (family, next_hop) {
            (Family::Ipv4Unicast, NextHop::V4(a)) => {
                out.next_hop = Some(a);
                out.mp_reach = None;
            }
            (Family::Ipv4Unicast, nh @ NextHop::V6 { .. }) => {
                out.next_hop = None;
                out.mp_reach = Some(Box::new(MpReach {
                    afi: AFI_IPV4,
                    safi: SAFI_UNICAST,
                    next_hop: nh,
                    nlri: vec![],
                }));
            }
            (Family::Ipv6Unicast, nh) => {
                out.next_hop = None;
                out.mp_reach = Some(Box::new(MpReach {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                    next_hop: nh,
                    nlri: vec![],
                }));
            }
        }
        Some(Arc::new(out))
    }

    fn routes(&self, filter: &RouteFilter) -> Vec<RouteView> {
        let now = self.now_secs();
        let mut prefixes: Vec<IpNet> = self
            .loc_rib
            .keys()
            .filter(|p| filter.family.is_none_or(|f| Family::of(p) == f))
            .filter(|p| filter.prefix.is_none_or(|q| *p == q))
            .collect();
        prefixes.sort();
        let mut out = Vec::new();
        for prefix in prefixes {
            let Some(entry) = self.loc_rib.get(&prefix) else {
                continue;
            };
            let candidates: Vec<Candidate> =
                entry.paths.iter().map(|p| self.candidate(p)).collect();
            let selection = decision::select(&candidates, &self.config.decision);
            let mut rows: Vec<RouteView> = entry
                .paths
                .iter()
                .enumerate()
                .map(|(i, path)| {
                    let best = entry.best == Some(i as u16);
                    let reason = if best {
                        String::new()
                    } else {
                        selection
                            .as_ref()
                            .and_then(|s| s.lost.get(i).copied().flatten())
                            .map(|r| r.describe().to_string())
                            .unwrap_or_else(|| "not selected".to_string())
                    };
                    RouteView {
                        prefix,
                        peer: path.peer,
                        attributes: path.attributes.clone(),
                        best,
                        multipath: i < 32 && entry.multipath & (1 << i) != 0,
                        age_seconds: now.saturating_sub(path.since) as u64,
                        reason,
                    }
                })
                .collect();
            rows.sort_by_key(|r| !r.best);
            out.extend(rows);
        }
        out
    }
}

/// Remove `paths[i]`, keeping `best` pointing at the same path (or at none
/// when the best itself goes; the caller re-runs the decision).
fn remove_path(entry: &mut Entry, i: usize) {
    entry.paths.remove(i);
    entry.multipath = 0;
    entry.best = match entry.best {
        Some(b) if b as usize == i => None,
        Some(b) if b as usize > i => Some(b - 1),
        other => other,
    };
}

#[cfg(test)]
mod tests {
    //! The FIB start-up hold, driven through [`Rib::handle`] without tasks.

    use std::sync::Mutex;
    use std::time::Duration;

    use clos_wire::{AsPath, SessionCodec};

    use super::*;
    use crate::fsm::RemoteAsRule;
    use crate::peer::PeerConfig;
    use crate::policy::Policy;

    /// Records what the RIB tells it.
    struct Recorder {
        hold: Duration,
        batches: Mutex<Vec<Vec<FibRoute>>>,
        converged: Mutex<u32>,
        holding: Mutex<Vec<bool>>,
    }

    impl Recorder {
        fn new(hold: Duration) -> Arc<Recorder> {
            Arc::new(Recorder {
                hold,
                batches: Mutex::default(),
                converged: Mutex::default(),
                holding: Mutex::default(),
            })
        }

        /// Every route written so far, in order.
        fn routes(&self) -> Vec<FibRoute> {
            self.batches.lock().unwrap().concat()
        }
    }

    impl FibSink for Recorder {
        fn routes(&self, batch: Vec<FibRoute>) {
            self.batches.lock().unwrap().push(batch);
        }
        fn converged(&self) {
            *self.converged.lock().unwrap() += 1;
        }
        fn initial_hold(&self) -> Duration {
            self.hold
        }
        fn holding(&self, held: bool) {
            self.holding.lock().unwrap().push(held);
        }
    }

    fn peer_config(n: u8) -> PeerConfig {
        PeerConfig {
            address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)),
            port: 179,
            local_address: None,
            remote_as: RemoteAsRule::Exact(65000 + u32::from(n)),
            passive: true,
            families: vec![Family::Ipv4Unicast],
            import: Policy::Accept,
            export: Policy::Accept,
            hold_time: 90,
            connect_retry: Duration::from_secs(1),
            max_prefix: None,
            description: String::new(),
            next_hop_self: false,
            ttl: 1,
            ttl_security: false,
            tcp_md5_key: None,
            interface: None,
        }
    }

    /// A RIB with `peers` neighbors (ids 1..), all Established, feeding
    /// `sink`.
    fn rib(peers: u8, sink: Arc<Recorder>) -> Rib {
        rib_with_queues(peers, sink).0
    }

    /// As [`rib`], with each neighbor's Adj-RIB-Out queue (index n - 1).
    fn rib_with_queues(peers: u8, sink: Arc<Recorder>) -> (Rib, Vec<Arc<AdjRibOutQueue>>) {
        let mut queues = Vec::new();
        let handles = (1..=peers)
            .map(|n| RibPeerHandle {
                shared: Arc::new(PeerShared::new(u32::from(n), peer_config(n))),
                command: mpsc::channel(4).0,
            })
            .collect();
        let config = RibConfig {
            asn: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            originate: vec![],
            multipath: 8,
            decision: DecisionOptions {
                multipath_relax: true,
                ..Default::default()
            },
        };
        let mut rib = Rib::new(config, handles).with_fib(sink);
        for n in 1..=peers {
            queues.push(AdjRibOutQueue::new());
            rib.handle(RibEvent::PeerUp {
                peer: u32::from(n),
                negotiated: Box::new(Negotiated {
                    remote_asn: 65000 + u32::from(n),
                    remote_id: Ipv4Addr::new(10, 0, 1, n),
                    hold_time: 90,
                    keepalive: 30,
                    families: vec![Family::Ipv4Unicast],
                    codec: SessionCodec::default(),
                    route_refresh: false,
                    enhanced_route_refresh: false,
                    extended_next_hop_ipv4: false,
                    internal: false,
                    remote_capabilities: vec![],
                    add_path: vec![],
                }),
                local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
                local_link_local: None,
                ifindex: None,
                out: queues.last().cloned().expect("pushed"),
            });
        }
        (rib, queues)
    }

    /// Peer `n` announces `prefixes` with next hop 192.0.2.n.
    fn announce(rib: &mut Rib, n: u8, prefixes: &[&str]) {
        rib.handle(update_event(n, &[], prefixes, &[]));
    }

    /// Peer `n`'s UPDATE with next hop 192.0.2.n and AS path `65000 + n`
    /// followed by `path`.
    fn update_event(n: u8, path: &[u32], announced: &[&str], withdrawn: &[&str]) -> RibEvent {
        let asns = std::iter::once(65000 + u32::from(n)).chain(path.iter().copied());
        RibEvent::Update {
            peer: u32::from(n),
            attributes: Arc::new(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(asns)),
                next_hop: Some(Ipv4Addr::new(192, 0, 2, n)),
                ..Default::default()
            }),
            announced: announced.iter().map(|p| p.parse().unwrap()).collect(),
            withdrawn: withdrawn.iter().map(|p| p.parse().unwrap()).collect(),
            filtered: 0,
        }
    }

    #[test]
    fn a_batch_exports_each_prefix_once_against_what_the_peer_was_told() {
        let (mut rib, queues) = rib_with_queues(2, Recorder::new(Duration::ZERO));
        let monitor = &queues[1];
        let _ = monitor.take();
        let p = |s: &str| -> IpNet { s.parse().unwrap() };
        let advertised = |rib: &Rib| {
            rib.peers[&2]
                .shared
                .counters
                .prefixes_advertised
                .load(Ordering::Relaxed)
        };

        // Changed twice in one batch: exported once, with the last path; a
        // prefix announced and withdrawn in the same batch is never told.
        rib.handle(RibEvent::Batch(vec![
            update_event(1, &[100], &["10.0.0.0/24", "10.0.1.0/24"], &[]),
            update_event(1, &[200], &["10.0.0.0/24"], &[]),
            update_event(1, &[300], &["10.0.2.0/24"], &[]),
            update_event(1, &[300], &[], &["10.0.1.0/24", "10.9.9.0/24"]),
        ]));
        let told = monitor.take().routes;
        assert_eq!(told.len(), 2, "{told:?}");
        let path = |prefix: &str| {
            told.get(&p(prefix))
                .and_then(|a| a.as_ref())
                .and_then(|a| a.as_path.as_ref())
                .map(|a| a.to_string())
        };
        assert_eq!(path("10.0.0.0/24").as_deref(), Some("65000 65001 200"));
        assert_eq!(path("10.0.2.0/24").as_deref(), Some("65000 65001 300"));
        assert_eq!(told.get(&p("10.0.1.0/24")), None);
        assert_eq!(advertised(&rib), 2);

        // Withdrawn and re-announced with the same path in one batch: the
        // peer already has it, nothing to send; withdrawn then changed: one
        // announcement.
        rib.handle(RibEvent::Batch(vec![
            update_event(1, &[200], &[], &["10.0.0.0/24", "10.0.2.0/24"]),
            update_event(1, &[200], &["10.0.0.0/24"], &[]),
            update_event(1, &[400], &["10.0.2.0/24"], &[]),
        ]));
        let told = monitor.take().routes;
        assert_eq!(told.len(), 1, "{told:?}");
        let new = told
            .get(&p("10.0.2.0/24"))
            .and_then(|a| a.as_ref())
            .expect("announced");
        assert_eq!(new.as_path.as_ref().unwrap().to_string(), "65000 65001 400");
        assert_eq!(advertised(&rib), 2);

        // The same events one by one tell the same final state.
        rib.handle(update_event(1, &[500], &[], &["10.0.0.0/24"]));
        assert_eq!(monitor.take().routes.get(&p("10.0.0.0/24")), Some(&None));
        assert_eq!(advertised(&rib), 1);
    }

    fn end_of_rib(rib: &mut Rib, n: u8) {
        rib.handle(RibEvent::EndOfRib {
            peer: u32::from(n),
            family: Family::Ipv4Unicast,
        });
    }

    fn hops(route: &FibRoute) -> Vec<IpAddr> {
        route.next_hops.iter().map(|h| h.address).collect()
    }

    #[test]
    fn held_until_every_neighbor_sent_end_of_rib_then_written_once() {
        let sink = Recorder::new(Duration::from_secs(30));
        let mut rib = rib(2, sink.clone());
        assert_eq!(*sink.holding.lock().unwrap(), vec![true]);
        assert!(rib.fib_held());
        announce(&mut rib, 1, &["10.0.0.0/24", "10.0.1.0/24"]);
        end_of_rib(&mut rib, 1);
        announce(&mut rib, 2, &["10.0.0.0/24", "10.0.1.0/24"]);
        assert!(sink.routes().is_empty(), "nothing written while held");
        assert_eq!(*sink.converged.lock().unwrap(), 0);

        end_of_rib(&mut rib, 2);
        let routes = sink.routes();
        assert_eq!(routes.len(), 2, "each prefix written once: {routes:?}");
        assert!(!rib.fib_held());
        for r in &routes {
            assert_eq!(
                hops(r),
                ["192.0.2.1", "192.0.2.2"].map(|a| a.parse::<IpAddr>().unwrap())
            );
        }
        assert_eq!(*sink.converged.lock().unwrap(), 1);
        assert_eq!(*sink.holding.lock().unwrap(), vec![true, false]);

        // After the release, changes flow as they happen.
        announce(&mut rib, 1, &["10.0.2.0/24"]);
        let routes = sink.routes();
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[2].prefix, "10.0.2.0/24".parse::<IpNet>().unwrap());
    }

    #[test]
    fn hold_expiry_writes_the_table_without_convergence() {
        let sink = Recorder::new(Duration::from_secs(30));
        let mut rib = rib(2, sink.clone());
        announce(&mut rib, 1, &["10.0.0.0/24"]);
        end_of_rib(&mut rib, 1);
        assert!(sink.routes().is_empty());
        rib.handle(RibEvent::FibHoldExpired);
        assert_eq!(sink.routes().len(), 1);
        assert_eq!(*sink.converged.lock().unwrap(), 0, "not converged yet");
        // Neighbor 2's routes now go straight through; its End-of-RIB is
        // convergence.
        announce(&mut rib, 2, &["10.0.0.0/24"]);
        let routes = sink.routes();
        assert_eq!(routes.len(), 2);
        assert_eq!(hops(&routes[1]).len(), 2);
        end_of_rib(&mut rib, 2);
        assert_eq!(*sink.converged.lock().unwrap(), 1);
        // A late expiry changes nothing.
        rib.handle(RibEvent::FibHoldExpired);
        assert_eq!(sink.routes().len(), 2);
    }

    #[test]
    fn no_hold_with_one_neighbor_or_a_zero_hold() {
        for (peers, hold) in [(1, 30), (2, 0)] {
            let sink = Recorder::new(Duration::from_secs(hold));
            let mut rib = rib(peers, sink.clone());
            announce(&mut rib, 1, &["10.0.0.0/24"]);
            assert_eq!(sink.routes().len(), 1, "{peers} neighbors, hold {hold}");
            assert!(sink.holding.lock().unwrap().is_empty());
            assert!(!rib.fib_held());
        }
    }
}
