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

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use clos_wire::{
    Asn, Family, IpNet, MpReach, NextHop, Origin, PathAttributes, AFI_IPV4, AFI_IPV6, SAFI_UNICAST,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::adj_out::AdjRibOutQueue;
use crate::decision::{self, Candidate, DecisionOptions, PathSource};
use crate::fsm::Negotiated;
use crate::peer::{MaxPrefixAction, PeerId, PeerShared, LOCAL_PEER};

/// Capacity of the sessions → RIB channel, in events (each event is one
/// UPDATE's worth of prefixes).
pub const RIB_CHANNEL: usize = 1024;

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
}

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

/// A command the RIB sends back to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerCommand {
    /// Max-prefix exceeded with action teardown (RFC 4486 Cease 6/1).
    MaxPrefixExceeded,
}

#[derive(Debug, Clone)]
struct Path {
    peer: PeerId,
    attributes: Arc<PathAttributes>,
    since: Instant,
}

#[derive(Debug, Default)]
struct Entry {
    paths: Vec<Path>,
    /// Index into `paths` of the best path, and how many of the paths that
    /// follow the best in `ecmp` order are multipath members.
    best: Option<usize>,
    multipath: Vec<usize>,
    /// The best path as last exported: kept (not an index, not a pointer)
    /// so a change is detected even after the old path was removed, and a
    /// freed allocation can never alias a new one.
    exported: Option<(PeerId, Arc<PathAttributes>)>,
}

struct Session {
    negotiated: Negotiated,
    local_address: IpAddr,
    local_link_local: Option<std::net::Ipv6Addr>,
    out: Arc<AdjRibOutQueue>,
    /// What this peer has been told: prefix → attributes we sent.
    advertised: HashMap<IpNet, Arc<PathAttributes>>,
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
    peers: HashMap<PeerId, RibPeer>,
    loc_rib: HashMap<IpNet, Entry>,
    interned: HashSet<Arc<PathAttributes>>,
    interned_at_sweep: usize,
    local_attributes: Arc<PathAttributes>,
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
            loc_rib: HashMap::new(),
            interned: HashSet::new(),
            interned_at_sweep: 0,
            local_attributes,
            config,
        };
        let originate = std::mem::take(&mut rib.config.originate);
        for prefix in originate {
            rib.originate(prefix, true);
        }
        rib
    }

    /// Run until every sender is gone.
    pub async fn run(mut self, mut events: mpsc::Receiver<RibEvent>) {
        while let Some(event) = events.recv().await {
            self.handle(event);
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
                out,
            } => self.peer_up(peer, *negotiated, local_address, local_link_local, out),
            RibEvent::PeerDown { peer } => self.peer_down(peer),
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
        }
    }

    fn intern(&mut self, attributes: Arc<PathAttributes>) -> Arc<PathAttributes> {
        if let Some(existing) = self.interned.get(&attributes) {
            return existing.clone();
        }
        self.interned.insert(attributes.clone());
        // Sweep sets nobody uses any more once the table doubled.
        if self.interned.len() > 1024 && self.interned.len() > 2 * self.interned_at_sweep {
            self.interned.retain(|a| Arc::strong_count(a) > 1);
            self.interned_at_sweep = self.interned.len();
        }
        attributes
    }

    fn originate(&mut self, prefix: IpNet, add: bool) -> bool {
        let prefix = prefix.trunc();
        let attributes = self.local_attributes.clone();
        let entry = self.loc_rib.entry(prefix).or_default();
        let existing = entry.paths.iter().position(|p| p.peer == LOCAL_PEER);
        let changed = match (add, existing) {
            (true, None) => {
                entry.paths.push(Path {
                    peer: LOCAL_PEER,
                    attributes,
                    since: Instant::now(),
                });
                true
            }
            (false, Some(i)) => {
                entry.paths.remove(i);
                true
            }
            _ => false,
        };
        if changed {
            info!(%prefix, add, "origination changed");
            self.decide(&[prefix]);
        } else if entry.paths.is_empty() {
            self.loc_rib.remove(&prefix);
        }
        changed
    }

    fn peer_up(
        &mut self,
        peer: PeerId,
        negotiated: Negotiated,
        local_address: IpAddr,
        local_link_local: Option<std::net::Ipv6Addr>,
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
            out,
            advertised: HashMap::new(),
        });
        p.accepted = 0;
        p.max_prefix_tripped = false;
        p.shared
            .counters
            .prefixes_accepted
            .store(0, Ordering::Relaxed);
        p.shared
            .counters
            .prefixes_received
            .store(0, Ordering::Relaxed);
        p.shared
            .counters
            .prefixes_advertised
            .store(0, Ordering::Relaxed);
        // Initial table dump, then End-of-RIB per family.
        let prefixes: Vec<IpNet> = self.loc_rib.keys().copied().collect();
        self.export_to(peer, &prefixes);
        if let Some(s) = self.peers.get(&peer).and_then(|p| p.session.as_ref()) {
            s.out.with(|pending| pending.end_of_rib.extend(families));
        }
    }

    fn peer_down(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.session = None;
        p.accepted = 0;
        p.shared
            .counters
            .prefixes_accepted
            .store(0, Ordering::Relaxed);
        p.shared
            .counters
            .prefixes_received
            .store(0, Ordering::Relaxed);
        p.shared
            .counters
            .prefixes_advertised
            .store(0, Ordering::Relaxed);
        let mut dirty = Vec::new();
        self.loc_rib.retain(|prefix, entry| {
            let before = entry.paths.len();
            entry.paths.retain(|p| p.peer != peer);
            if entry.paths.len() != before {
                dirty.push(*prefix);
            }
            true
        });
        self.decide(&dirty);
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
        let now = Instant::now();
        let mut dirty = Vec::with_capacity(announced.len() + withdrawn.len());
        let mut delta: i64 = 0;
        for prefix in withdrawn {
            if let Some(entry) = self.loc_rib.get_mut(&prefix) {
                let before = entry.paths.len();
                entry.paths.retain(|p| p.peer != peer);
                if entry.paths.len() != before {
                    delta -= 1;
                    dirty.push(prefix);
                }
            }
        }
        for prefix in announced {
            let entry = self.loc_rib.entry(prefix).or_default();
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
                        peer,
                        attributes: attributes.clone(),
                        since: now,
                    });
                    delta += 1;
                }
            }
            dirty.push(prefix);
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
                        peer = %p.shared.config.address,
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
        self.decide(&dirty);
    }

    fn refresh(&mut self, peer: PeerId, family: Family) {
        let Some(session) = self.peers.get(&peer).and_then(|p| p.session.as_ref()) else {
            return;
        };
        debug!(peer, %family, "route refresh: re-advertising");
        let routes: Vec<(IpNet, Arc<PathAttributes>)> = session
            .advertised
            .iter()
            .filter(|(p, _)| Family::of(p) == family)
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        session.out.with(|pending| {
            for (p, a) in routes {
                pending.routes.insert(p, Some(a));
            }
            if session.negotiated.enhanced_route_refresh {
                pending.refresh.push(family);
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

    /// Re-run the decision process for `prefixes` and export what changed.
    fn decide(&mut self, prefixes: &[IpNet]) {
        let mut changed = Vec::new();
        for prefix in prefixes {
            let Some(entry) = self.loc_rib.get(prefix) else {
                continue;
            };
            let (best, multipath) = {
                let candidates: Vec<Candidate> =
                    entry.paths.iter().map(|p| self.candidate(p)).collect();
                let best = decision::select_best(&candidates, &self.config.decision);
                let mut multipath = Vec::new();
                if let Some(b) = best {
                    if self.config.multipath > 1 {
                        for (i, c) in candidates.iter().enumerate() {
                            if i != b
                                && multipath.len() + 1 < self.config.multipath
                                && decision::multipath_eligible(
                                    &candidates[b],
                                    c,
                                    &self.config.decision,
                                )
                            {
                                multipath.push(i);
                            }
                        }
                    }
                }
                (best, multipath)
            };
            let Some(entry) = self.loc_rib.get_mut(prefix) else {
                continue;
            };
            entry.best = best;
            entry.multipath = multipath;
            let new_best = best
                .and_then(|i| entry.paths.get(i))
                .map(|p| (p.peer, p.attributes.clone()));
            let same = match (&entry.exported, &new_best) {
                (None, None) => true,
                (Some((a, x)), Some((b, y))) => a == b && Arc::ptr_eq(x, y),
                _ => false,
            };
            entry.exported = new_best;
            if entry.paths.is_empty() {
                self.loc_rib.remove(prefix);
            }
            if !same {
                changed.push(*prefix);
            }
        }
        if changed.is_empty() {
            return;
        }
        let peers: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.session.is_some())
            .map(|(id, _)| *id)
            .collect();
        for peer in peers {
            self.export_to(peer, &changed);
        }
    }

    /// Recompute what `peer` should hear for `prefixes` and queue the
    /// differences.
    fn export_to(&mut self, peer: PeerId, prefixes: &[IpNet]) {
        let Some(target) = self.peers.get(&peer) else {
            return;
        };
        let Some(session) = target.session.as_ref() else {
            return;
        };
        // One exported set per source set within this call: the prefixes of
        // one UPDATE share their source attributes.
        let mut cache: HashMap<(usize, Family), Option<Arc<PathAttributes>>> = HashMap::new();
        let mut changes: Vec<(IpNet, Option<Arc<PathAttributes>>)> = Vec::new();
        for prefix in prefixes {
            let family = Family::of(prefix);
            if !session.negotiated.families.contains(&family) {
                continue;
            }
            let best = self
                .loc_rib
                .get(prefix)
                .and_then(|e| e.best.and_then(|i| e.paths.get(i)));
            let export = match best {
                None => None,
                Some(path) => {
                    if !target.shared.config.export.permits(prefix) {
                        None
                    } else {
                        let key = (Arc::as_ptr(&path.attributes) as usize, family);
                        if let Some(hit) = cache.get(&key) {
                            hit.clone()
                        } else {
                            let computed = self.export_attributes(target, session, path, family);
                            cache.insert(key, computed.clone());
                            computed
                        }
                    }
                }
            };
            let sent = session.advertised.get(prefix);
            match (&export, sent) {
                (None, None) => {}
                (Some(a), Some(s)) if **a == **s => {}
                _ => changes.push((*prefix, export)),
            }
        }
        if changes.is_empty() {
            return;
        }
        // Intern exported sets too, so the writer groups by pointer.
        let changes: Vec<(IpNet, Option<Arc<PathAttributes>>)> = changes
            .into_iter()
            .map(|(p, a)| (p, a.map(|a| self.intern(a))))
            .collect();
        let Some(target) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(session) = target.session.as_mut() else {
            return;
        };
        for (prefix, attrs) in &changes {
            match attrs {
                Some(a) => {
                    session.advertised.insert(*prefix, a.clone());
                }
                None => {
                    session.advertised.remove(prefix);
                }
            }
        }
        target
            .shared
            .counters
            .prefixes_advertised
            .store(session.advertised.len() as u64, Ordering::Relaxed);
        session.out.with(|pending| {
            for (prefix, attrs) in changes {
                pending.routes.insert(prefix, attrs);
            }
        });
    }

    /// RFC 4271 §5.1 and §9.1.3: what `target` hears of `path`, or None when
    /// it must not hear it.
    fn export_attributes(
        &self,
        target: &RibPeer,
        session: &Session,
        path: &Path,
        family: Family,
    ) -> Option<Arc<PathAttributes>> {
        let to_internal = session.negotiated.internal;
        let from = self.peers.get(&path.peer);
        if path.peer == target.shared.id {
            return None; // never back to the peer it came from
        }
        let from_internal = from
            .and_then(|p| p.session.as_ref())
            .is_some_and(|s| s.negotiated.internal);
        if to_internal && from_internal {
            return None; // iBGP split horizon (no route reflection)
        }
        let src = &path.attributes;
        // Well-known communities (RFC 1997): NO_EXPORT, NO_ADVERTISE.
        if src.communities.contains(&0xFFFF_FF02) {
            return None;
        }
        if !to_internal && src.communities.contains(&0xFFFF_FF01) {
            return None;
        }
        let mut out: PathAttributes = (**src).clone();
        out.mp_unreach = None;
        let mut as_path = out.as_path.take().unwrap_or_default();
        let next_hop_self =
            !to_internal || path.peer == LOCAL_PEER || target.shared.config.next_hop_self;
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
            if path.peer != LOCAL_PEER {
                out.med = None;
            }
            out.originator_id = None;
            out.cluster_list.clear();
        }
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
                out.mp_reach = Some(MpReach {
                    afi: AFI_IPV4,
                    safi: SAFI_UNICAST,
                    next_hop: nh,
                    nlri: vec![],
                });
            }
            (Family::Ipv6Unicast, nh) => {
                out.next_hop = None;
                out.mp_reach = Some(MpReach {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                    next_hop: nh,
                    nlri: vec![],
                });
            }
        }
        Some(Arc::new(out))
    }

    fn routes(&self, filter: &RouteFilter) -> Vec<RouteView> {
        let now = Instant::now();
        let mut prefixes: Vec<&IpNet> = self
            .loc_rib
            .keys()
            .filter(|p| filter.family.is_none_or(|f| Family::of(p) == f))
            .filter(|p| filter.prefix.is_none_or(|q| **p == q))
            .collect();
        prefixes.sort();
        let mut out = Vec::new();
        for prefix in prefixes {
            let entry = &self.loc_rib[prefix];
            let best = entry.best.and_then(|i| entry.paths.get(i).map(|p| (i, p)));
            let mut rows: Vec<RouteView> = entry
                .paths
                .iter()
                .enumerate()
                .map(|(i, path)| {
                    let reason = match best {
                        Some((b, _)) if b == i => String::new(),
                        Some((_, bp)) => {
                            let (_, why) = decision::compare(
                                &self.candidate(bp),
                                &self.candidate(path),
                                &self.config.decision,
                            );
                            why.describe().to_string()
                        }
                        None => "no best path".to_string(),
                    };
                    RouteView {
                        prefix: *prefix,
                        peer: path.peer,
                        attributes: path.attributes.clone(),
                        best: best.is_some_and(|(b, _)| b == i),
                        multipath: entry.multipath.contains(&i),
                        age_seconds: now.duration_since(path.since).as_secs(),
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
