//! [`KernelFib`]: our routes in one kernel table, and their nexthops.
//!
//! Owns the netlink socket, the `Registry` of nexthop ids and the
//! `RouteMirror` (module `mirror`). Every change goes through [`KernelFib::apply`], which
//! runs in four pipelined phases so that dependencies are created before
//! their users and deleted after them:
//!
//! ```text
//!  A  RTM_NEWNEXTHOP  objects     (gateway, ifindex) not yet in the kernel
//!  B  RTM_NEWNEXTHOP  groups      ECMP sets not yet in the kernel
//!  C  RTM_NEWROUTE / RTM_DELROUTE routes (a failed A or B fails its routes)
//!  D  RTM_DELNEXTHOP              groups, then objects, no longer referenced
//! ```
//!
//! Other protocols' routes are never touched: deletes carry our protocol
//! (the kernel matches it), a prefix we do not own is created with
//! `NLM_F_EXCL` (so an existing route of another protocol at the same
//! prefix and metric fails with `EEXIST`, reported as
//! [`Error::ForeignRoute`]) and only prefixes in our mirror are replaced.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;

use crate::decode::{self, KernelRoute};
use crate::error::{Error, Op, Result};
use crate::mirror::{Entry, EntryKind, HopKey, Registry, RouteMirror, UNMANAGED};
use crate::route::{Change, NextHop, Resolution, Route};
use crate::socket::{DumpItem, RouteSocket};
use crate::wire::{
    self, NexthopBody, RouteKey, RouteTarget, AF_INET, AF_INET6, RTM_NEWNEXTHOP, RTM_NEWROUTE,
};

/// Our route protocol number (`rtm_protocol`). FRR uses 186–198 and
/// iproute2 reserves up to 192; 201 is unassigned. Until the daemon writes
/// `/etc/iproute2/rt_protos.d/clos.conf` (see [`protocol_name_hint`]),
/// list our routes with `ip route show proto 201`.
pub const RTPROT_CLOS: u8 = 201;

/// Nexthop ids we allocate from by default: far above the ids `ip nexthop`
/// users pick by hand and above FRR's zebra range (below 2^28).
pub const DEFAULT_NEXTHOP_IDS: Range<u32> = 0xC100_0000..0xC200_0000;

/// Default route metric (`RTA_PRIORITY`), as FRR's zebra uses: a static
/// route at metric 0 for the same prefix coexists with ours and wins.
pub const DEFAULT_METRIC: u32 = 20;

/// The line for `/etc/iproute2/rt_protos.d/clos.conf` that makes
/// `ip route` print `proto clos` instead of `proto 201`.
pub fn protocol_name_hint(protocol: u8) -> String {
    format!("{protocol}\tclos\n")
}

/// How a single-path route points at its gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinglePath {
    /// `RTA_NH_ID` of a nexthop object shared with every route via the
    /// same (gateway, ifindex). Changing a gateway's interface is then one
    /// nexthop replace, not one route replace per prefix.
    NexthopObject,
    /// `RTA_GATEWAY`/`RTA_VIA` and `RTA_OIF` in the route itself.
    Inline,
}

/// What [`KernelFib`] manages.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kernel routing table (254 is `main`).
    pub table: u32,
    /// Our `rtm_protocol` and `nh_protocol`, [`RTPROT_CLOS`] by default.
    pub protocol: u8,
    /// `RTA_PRIORITY` of our routes. Keep it stable across restarts.
    pub metric: u32,
    /// Nexthop ids we own. Objects of our protocol in this range that no
    /// route of ours uses are deleted at start-up.
    pub nexthop_ids: Range<u32>,
    /// How single-path routes are installed.
    pub single_path: SinglePath,
}

impl Config {
    /// Defaults for `table` and `protocol`.
    pub fn new(table: u32, protocol: u8) -> Self {
        Config {
            table,
            protocol,
            metric: DEFAULT_METRIC,
            nexthop_ids: DEFAULT_NEXTHOP_IDS,
            single_path: SinglePath::NexthopObject,
        }
    }
}

/// Counts describing what we have installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Routes in the mirror.
    pub routes: usize,
    /// Distinct (gateway, ifindex) next hops.
    pub nexthops: usize,
    /// Distinct ECMP groups.
    pub groups: usize,
    /// Heap bytes of the route mirror's tables.
    pub mirror_bytes: usize,
}

/// Our routes in one kernel routing table, over one netlink socket.
///
/// The socket belongs to the network namespace of the thread that called
/// [`KernelFib::open`]. All calls block; the owner is meant to be one
/// thread (or a `spawn_blocking` task) fed by the RIB.
pub struct KernelFib {
    socket: RouteSocket,
    config: Config,
    registry: Registry,
    mirror: RouteMirror,
}

/// One planned route change of phase C.
struct Planned {
    prefix: IpNet,
    /// Upsert target id, or `None` for a removal.
    target: Option<u32>,
    /// The id our route pointed at before.
    old: Option<u32>,
}

impl KernelFib {
    /// Opens the FIB for `table` with our routes marked `protocol`, with
    /// the other settings at their defaults.
    pub fn open(table: u32, protocol: u8) -> Result<KernelFib> {
        Self::open_with(Config::new(table, protocol))
    }

    /// Opens the FIB and adopts what a previous run left: our nexthop
    /// objects and groups, and our routes in our table, which stay
    /// installed (so forwarding continues while sessions come back) until
    /// replaced or removed by [`KernelFib::remove_stale`]. Our nexthop
    /// objects that no route uses are deleted.
    pub fn open_with(config: Config) -> Result<KernelFib> {
        let span =
            tracing::info_span!("fib_open", table = config.table, protocol = config.protocol);
        let _enter = span.enter();
        let ids = &config.nexthop_ids;
        if ids.is_empty() || ids.end - ids.start > crate::mirror::MAX_ID_RANGE {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "nexthop id range {:#x}..{:#x} must hold 1..={} ids",
                    ids.start,
                    ids.end,
                    crate::mirror::MAX_ID_RANGE
                ),
            });
        }
        let registry = Registry::new(config.nexthop_ids.clone());
        let mirror = RouteMirror::new(&config.nexthop_ids);
        let mut fib = KernelFib {
            socket: RouteSocket::open()?,
            config,
            registry,
            mirror,
        };
        fib.adopt()?;
        fib.collect_garbage()?;
        tracing::info!(
            routes = fib.mirror.len(),
            nexthops = fib.registry.object_count(),
            groups = fib.registry.group_count(),
            "adopted kernel state"
        );
        Ok(fib)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counts of what we have installed.
    pub fn stats(&self) -> Stats {
        Stats {
            routes: self.mirror.len(),
            nexthops: self.registry.object_count(),
            groups: self.registry.group_count(),
            mirror_bytes: self.mirror.heap_bytes(),
        }
    }

    /// Whether the mirror holds a route of ours at `prefix`.
    pub fn is_installed(&self, prefix: &IpNet) -> bool {
        self.mirror.get(&prefix.trunc()).is_some()
    }

    /// Our routes as the mirror records them, without asking the kernel.
    /// A route adopted at start-up in a shape we do not manage (inline
    /// multipath, say) has no next hops here; [`KernelFib::dump`] has them.
    pub fn installed(&self) -> impl Iterator<Item = Route> + '_ {
        self.mirror
            .iter()
            .map(|(prefix, id)| Route::new(prefix, self.registry.next_hops(id).unwrap_or_default()))
    }

    /// Reserves mirror space for `v4` + `v6` more routes (avoids rehashing
    /// while a full table is first installed).
    pub fn reserve(&mut self, v4: usize, v6: usize) {
        self.mirror.reserve(v4, v6);
    }

    fn route_key(&self) -> RouteKey {
        RouteKey {
            table: self.config.table,
            protocol: self.config.protocol,
            metric: self.config.metric,
        }
    }

    fn adopt(&mut self) -> Result<()> {
        let protocol = self.config.protocol;
        let mut found = Vec::new();
        self.socket.dump(wire::dump_nexthops, |item| {
            match item {
                DumpItem::Message(RTM_NEWNEXTHOP, payload) => {
                    found.push(wire::parse_nexthop(payload).ok_or(Error::Decode {
                        what: "RTM_NEWNEXTHOP",
                    })?);
                }
                DumpItem::Message(..) => {}
                DumpItem::Restart => found.clear(),
            }
            Ok(())
        })?;
        let mut groups = Vec::new();
        for object in found {
            if !self.registry.owns(object.id) {
                continue;
            }
            if object.protocol != protocol {
                self.registry.adopt(object.id, EntryKind::Foreign);
                continue;
            }
            match object.body {
                NexthopBody::Gateway { gateway, ifindex } => self.registry.adopt(
                    object.id,
                    EntryKind::Object {
                        hop: HopKey { gateway, ifindex },
                        in_kernel: true,
                    },
                ),
                NexthopBody::Group { mut members } => {
                    members.sort_unstable();
                    groups.push(members.clone());
                    self.registry.adopt(
                        object.id,
                        EntryKind::Group {
                            members: members.into(),
                        },
                    );
                }
                // Not a shape we create; hold the id so we never reuse it.
                NexthopBody::Other => self.registry.adopt(object.id, EntryKind::Foreign),
            }
        }
        for members in groups {
            for member in members {
                self.registry.acquire(member);
            }
        }
        for route in self.dump_kernel_routes()? {
            let id = match (route.nexthop_id, route.gateway, route.ifindex) {
                (Some(id), _, _) if self.registry.entry(id).is_some() => id,
                (None, Some(gateway), Some(ifindex)) if route.multipath.is_empty() => {
                    self.registry.intern_object(HopKey { gateway, ifindex })?
                }
                _ => UNMANAGED,
            };
            self.registry.acquire(id);
            self.mirror.insert(&route.prefix, id);
        }
        Ok(())
    }

    /// Forgets the mirror and re-reads our routes and nexthops from the
    /// kernel. Call it after [`crate::Event::Overrun`], or when a link went
    /// down or away: the kernel then deletes the nexthop objects on that
    /// link and every route using them, behind our back. Then re-apply the
    /// RIB's routes; those still installed cost nothing.
    pub fn resync(&mut self) -> Result<()> {
        self.mirror = RouteMirror::new(&self.config.nexthop_ids);
        self.registry = Registry::new(self.config.nexthop_ids.clone());
        self.adopt()?;
        self.collect_garbage()
    }

    /// Our routes as the kernel holds them, undecoded beyond what we need.
    fn dump_kernel_routes(&mut self) -> Result<Vec<KernelRoute>> {
        let (table, protocol) = (self.config.table, self.config.protocol);
        let mut routes = Vec::new();
        for family in [AF_INET, AF_INET6] {
            let start = routes.len();
            self.socket.dump(
                |buf| wire::dump_routes(buf, family, table, protocol),
                |item| {
                    let payload = match item {
                        DumpItem::Message(RTM_NEWROUTE, payload) => payload,
                        DumpItem::Message(..) => return Ok(()),
                        DumpItem::Restart => {
                            routes.truncate(start);
                            return Ok(());
                        }
                    };
                    let route = decode::route(payload).ok_or(Error::Decode {
                        what: "RTM_NEWROUTE",
                    })?;
                    // The kernel filters already (strict checking); this
                    // guards kernels that ignore the filter.
                    if route.table == table && route.protocol == protocol && route.unicast {
                        routes.push(route);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(routes)
    }

    /// Routes of our protocol in our table, read from the kernel (not from
    /// the mirror), with nexthop ids translated to their gateways. Used for
    /// start-up reconciliation and to check the kernel against the RIB.
    pub fn dump(&mut self) -> Result<Vec<Route>> {
        let mut objects = HashMap::new();
        self.socket.dump(wire::dump_nexthops, |item| {
            match item {
                DumpItem::Message(RTM_NEWNEXTHOP, payload) => {
                    if let Some(object) = wire::parse_nexthop(payload) {
                        objects.insert(object.id, object.body);
                    }
                }
                DumpItem::Message(..) => {}
                DumpItem::Restart => objects.clear(),
            }
            Ok(())
        })?;
        let hop = |id: &u32| match objects.get(id) {
            Some(NexthopBody::Gateway { gateway, ifindex }) => {
                Some(NextHop::new(*gateway, Some(*ifindex)))
            }
            _ => None,
        };
        let routes = self.dump_kernel_routes()?;
        Ok(routes
            .into_iter()
            .map(|route| {
                let next_hops = match (route.nexthop_id, route.gateway) {
                    (Some(id), _) => match objects.get(&id) {
                        Some(NexthopBody::Group { members }) => {
                            members.iter().filter_map(hop).collect()
                        }
                        _ => hop(&id).into_iter().collect(),
                    },
                    (None, Some(gateway)) => vec![NextHop::new(gateway, route.ifindex)],
                    (None, None) => route
                        .multipath
                        .iter()
                        .filter_map(|(gateway, ifindex)| {
                            gateway.map(|g| NextHop::new(g, Some(*ifindex)))
                        })
                        .collect(),
                };
                Route::new(route.prefix, next_hops)
            })
            .collect())
    }

    /// Removes our routes whose prefix is not in `keep` (the end of
    /// start-up reconciliation, or of a graceful restart): returns how many
    /// were removed. Failures are logged and the routes stay in the mirror.
    pub fn remove_stale(&mut self, keep: &HashSet<IpNet>) -> Result<usize> {
        let stale: Vec<Change> = self
            .mirror
            .iter()
            .filter(|(prefix, _)| !keep.contains(prefix))
            .map(|(prefix, _)| Change::Remove(prefix))
            .collect();
        let failures = self.apply(&stale)?;
        for (prefix, error) in &failures {
            tracing::warn!(%prefix, %error, "stale route not removed");
        }
        Ok(stale.len() - failures.len())
    }

    /// Where the kernel would send a packet to `dst` (`ip route get
    /// fibmatch`), across all tables and rules, with the matching route's
    /// prefix, table and protocol (so the RIB can refuse to resolve a BGP
    /// next hop through our own routes): the next hop to resolve a BGP next hop
    /// through connected and static routes. `None` when there is no route
    /// (or it is unreachable, prohibit or blackhole).
    pub fn lookup_route(&mut self, dst: IpAddr) -> Result<Option<Resolution>> {
        let mut buf = self.socket.requests();
        wire::get_route(&mut buf, dst);
        let payload = match self.socket.request(buf, Op::Lookup) {
            Ok((RTM_NEWROUTE, payload)) => payload,
            Ok(_) => {
                return Err(Error::Decode {
                    what: "RTM_GETROUTE answer",
                })
            }
            Err(error) if unreachable_errno(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        let route = decode::route(&payload).ok_or(Error::Decode {
            what: "RTM_NEWROUTE",
        })?;
        let path = route
            .multipath
            .first()
            .map(|(gateway, ifindex)| (*gateway, Some(*ifindex)));
        let (gateway, ifindex) = match (route.ifindex, path, route.nexthop_id) {
            (Some(ifindex), _, _) => (route.gateway, Some(ifindex)),
            (None, Some(path), _) => path,
            // A nexthop-object route without the expanded paths
            // (`net.ipv4.nexthop_compat_mode = 0`): ours we know.
            (None, None, Some(id)) => {
                match self.registry.next_hops(id).and_then(|h| h.first().copied()) {
                    Some(hop) => (Some(hop.gateway()), hop.ifindex()),
                    None => (None, None),
                }
            }
            (None, None, None) => (route.gateway, None),
        };
        Ok(match (route.unicast, ifindex) {
            (true, Some(ifindex)) => Some(Resolution {
                prefix: route.prefix,
                gateway,
                ifindex,
                table: route.table,
                protocol: route.protocol,
            }),
            _ => None,
        })
    }

    /// Applies a batch of changes and returns the ones that failed, each
    /// with its reason (the kernel's errno and message, e.g. `ENETUNREACH`
    /// "Nexthop has invalid gateway"); the rest of the batch is installed.
    /// `Err` only when the socket itself fails.
    ///
    /// Requests are pipelined (module `socket`: one ACK per chunk of up to 1024 requests). When a prefix
    /// appears more than once, its last change wins. An upsert identical to
    /// what we have installed sends nothing, so re-announcing a full table
    /// after a restart is cheap.
    pub fn apply(&mut self, changes: &[Change]) -> Result<Vec<(IpNet, Error)>> {
        let span = tracing::debug_span!("fib_apply", changes = changes.len());
        let _enter = span.enter();
        let mut failures = Vec::new();

        // Last change per prefix wins: sort indices by prefix, keep the last.
        let mut order: Vec<u32> = (0..changes.len() as u32).collect();
        order.sort_by_key(|&i| (changes[i as usize].prefix(), i));
        order.dedup_by(|later, earlier| {
            let same = changes[*later as usize].prefix() == changes[*earlier as usize].prefix();
            if same {
                *earlier = *later;
            }
            same
        });

        // Plan upserts: validate, resolve interfaces, intern objects.
        let mut resolved: HashMap<IpAddr, Result<u32>> = HashMap::new();
        let mut plans: Vec<(IpNet, Result<Vec<u32>>)> = Vec::new();
        let mut removals = Vec::new();
        for &i in &order {
            match &changes[i as usize] {
                Change::Upsert(route) => {
                    let prefix = route.prefix.trunc();
                    let objects = self.plan_objects(&prefix, &route.next_hops, &mut resolved);
                    plans.push((prefix, objects));
                }
                Change::Remove(prefix) => removals.push(prefix.trunc()),
            }
        }

        let mut failed_ids = self.install_objects(&plans)?;
        let targets = self.install_groups(plans, &mut failed_ids)?;
        self.apply_routes(targets, removals, &failed_ids, &mut failures)?;
        self.collect_garbage()?;
        Ok(failures)
    }

    /// Phase A: creates the nexthop objects the plans need that the kernel
    /// does not have yet. Returns the ids the kernel refused.
    fn install_objects(
        &mut self,
        plans: &[(IpNet, Result<Vec<u32>>)],
    ) -> Result<HashMap<u32, Error>> {
        let inline = self.config.single_path == SinglePath::Inline;
        let mut wanted = Vec::new();
        let mut queued = HashSet::new();
        for (_, objects) in plans {
            let Ok(objects) = objects else { continue };
            if inline && objects.len() == 1 {
                continue;
            }
            for &id in objects {
                if let Some(Entry {
                    kind:
                        EntryKind::Object {
                            hop,
                            in_kernel: false,
                        },
                    ..
                }) = self.registry.entry(id)
                {
                    if queued.insert(id) {
                        wanted.push((id, *hop));
                    }
                }
            }
        }
        let mut failed_ids = HashMap::new();
        if wanted.is_empty() {
            return Ok(failed_ids);
        }
        let mut buf = self.socket.requests();
        for (id, hop) in &wanted {
            wire::new_nexthop(
                &mut buf,
                self.config.protocol,
                *id,
                hop.gateway,
                hop.ifindex,
            );
        }
        let results = self.socket.execute(buf, |_| Op::AddNexthop)?;
        for ((id, hop), result) in wanted.iter().zip(results) {
            match result {
                None => self.registry.set_in_kernel(*id, true),
                Some(error) => {
                    tracing::warn!(gateway = %hop.gateway, ifindex = hop.ifindex, %error, "nexthop refused");
                    failed_ids.insert(*id, error);
                }
            }
        }
        Ok(failed_ids)
    }

    /// Phase B: turns each plan into one target id (its object, or the
    /// group of its objects), creating new groups in the kernel. A plan
    /// with a refused member fails with the member's error.
    fn install_groups(
        &mut self,
        plans: Vec<(IpNet, Result<Vec<u32>>)>,
        failed_ids: &mut HashMap<u32, Error>,
    ) -> Result<Vec<(IpNet, Result<u32>)>> {
        let mut targets = Vec::with_capacity(plans.len());
        let mut new_groups = Vec::new();
        for (prefix, objects) in plans {
            let target = objects.and_then(|objects| {
                if let Some(error) = objects.iter().find_map(|id| failed_ids.get(id)) {
                    return Err(error.clone());
                }
                if objects.len() == 1 {
                    return Ok(objects[0]);
                }
                let (id, new) = self.registry.intern_group(&objects)?;
                if new {
                    new_groups.push(id);
                }
                Ok(id)
            });
            targets.push((prefix, target));
        }
        if new_groups.is_empty() {
            return Ok(targets);
        }
        let mut buf = self.socket.requests();
        for &id in &new_groups {
            if let Some(Entry {
                kind: EntryKind::Group { members },
                ..
            }) = self.registry.entry(id)
            {
                wire::new_group(&mut buf, self.config.protocol, id, members);
            }
        }
        let results = self.socket.execute(buf, |_| Op::AddGroup)?;
        for (&id, result) in new_groups.iter().zip(results) {
            if let Some(error) = result {
                tracing::warn!(id, %error, "nexthop group refused");
                failed_ids.insert(id, error);
                self.registry.forget(id);
            }
        }
        Ok(targets)
    }

    /// Phase C: installs, replaces and removes routes; updates the mirror
    /// and the reference counts from the kernel's answers.
    fn apply_routes(
        &mut self,
        targets: Vec<(IpNet, Result<u32>)>,
        removals: Vec<IpNet>,
        failed_ids: &HashMap<u32, Error>,
        failures: &mut Vec<(IpNet, Error)>,
    ) -> Result<()> {
        let key = self.route_key();
        let mut buf = self.socket.requests();
        let mut planned = Vec::with_capacity(targets.len() + removals.len());
        for (prefix, target) in targets {
            let target = match target {
                Ok(id) => match failed_ids.get(&id) {
                    Some(error) => Err(error.clone()),
                    None => Ok(id),
                },
                Err(error) => Err(error),
            };
            let id = match target {
                Ok(id) => id,
                Err(error) => {
                    failures.push((prefix, error));
                    continue;
                }
            };
            let old = self.mirror.get(&prefix);
            if old == Some(id) {
                continue; // already installed exactly so
            }
            self.registry.acquire(id);
            let route_target = match self.registry.entry(id).map(|e| &e.kind) {
                Some(EntryKind::Object {
                    hop,
                    in_kernel: false,
                }) => RouteTarget::Inline {
                    gateway: hop.gateway,
                    ifindex: hop.ifindex,
                },
                _ => RouteTarget::NexthopId(id),
            };
            wire::new_route(&mut buf, &key, &prefix, route_target, old.is_some());
            planned.push(Planned {
                prefix,
                target: Some(id),
                old,
            });
        }
        for prefix in removals {
            if let Some(old) = self.mirror.get(&prefix) {
                wire::del_route(&mut buf, &key, &prefix);
                planned.push(Planned {
                    prefix,
                    target: None,
                    old: Some(old),
                });
            }
        }
        let ops: Vec<Op> = planned
            .iter()
            .map(|p| match (p.target, p.old) {
                (None, _) => Op::DeleteRoute,
                (Some(_), Some(_)) => Op::ReplaceRoute,
                (Some(_), None) => Op::AddRoute,
            })
            .collect();
        let results = if buf.is_empty() {
            Vec::new()
        } else {
            self.socket.execute(buf, |i| ops[i])?
        };
        for (plan, result) in planned.into_iter().zip(results) {
            match (plan.target, result) {
                (Some(id), None) => {
                    self.mirror.insert(&plan.prefix, id);
                    if let Some(old) = plan.old {
                        self.registry.release(old);
                    }
                }
                (Some(id), Some(error)) => {
                    self.registry.release(id);
                    let error = match error.errno() {
                        Some(errno)
                            if errno == nix::errno::Errno::EEXIST as i32 && plan.old.is_none() =>
                        {
                            Error::ForeignRoute {
                                prefix: plan.prefix,
                                table: self.config.table,
                            }
                        }
                        _ => error,
                    };
                    failures.push((plan.prefix, error));
                }
                (None, result) => {
                    let gone = match &result {
                        None => true,
                        // Already gone (an interface went down, or an admin).
                        Some(error) => error.errno() == Some(nix::errno::Errno::ESRCH as i32),
                    };
                    if gone {
                        self.mirror.remove(&plan.prefix);
                        if let Some(old) = plan.old {
                            self.registry.release(old);
                        }
                    } else if let Some(error) = result {
                        failures.push((plan.prefix, error));
                    }
                }
            }
        }
        Ok(())
    }

    /// Validates a route's next hops and interns their objects (sorted,
    /// distinct ids).
    fn plan_objects(
        &mut self,
        prefix: &IpNet,
        next_hops: &[NextHop],
        resolved: &mut HashMap<IpAddr, Result<u32>>,
    ) -> Result<Vec<u32>> {
        if next_hops.is_empty() {
            return Err(Error::InvalidRoute {
                prefix: *prefix,
                reason: "no next hops",
            });
        }
        let mut ids = Vec::with_capacity(next_hops.len());
        for hop in next_hops {
            if matches!(prefix, IpNet::V6(_)) && matches!(hop, NextHop::V4 { .. }) {
                return Err(Error::InvalidRoute {
                    prefix: *prefix,
                    reason: "an IPv6 route cannot use an IPv4 gateway",
                });
            }
            if let NextHop::V6 {
                gateway,
                ifindex: None,
            } = hop
            {
                if gateway.segments()[0] & 0xffc0 == 0xfe80 {
                    return Err(Error::InvalidRoute {
                        prefix: *prefix,
                        reason: "a link-local gateway needs an interface",
                    });
                }
            }
            let ifindex = match hop.ifindex() {
                Some(ifindex) => ifindex,
                None => {
                    let gateway = hop.gateway();
                    let entry = match resolved.get(&gateway) {
                        Some(entry) => entry.clone(),
                        None => {
                            let entry = match self.lookup_route(gateway) {
                                Ok(Some(resolution)) => Ok(resolution.ifindex),
                                Ok(None) => Err(Error::Unresolvable { gateway }),
                                Err(error) => Err(error),
                            };
                            resolved.insert(gateway, entry.clone());
                            entry
                        }
                    };
                    entry?
                }
            };
            let key = HopKey {
                gateway: hop.with_ifindex(ifindex).gateway(),
                ifindex,
            };
            ids.push(self.registry.intern_object(key)?);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Phase D: deletes unreferenced groups, then unreferenced objects.
    fn collect_garbage(&mut self) -> Result<()> {
        let (groups, _) = self.registry.unreferenced();
        self.delete_nexthops(&groups)?;
        let (_, objects) = self.registry.unreferenced();
        self.delete_nexthops(&objects)
    }

    fn delete_nexthops(&mut self, ids: &[u32]) -> Result<()> {
        let mut buf = self.socket.requests();
        let mut sent = Vec::new();
        for &id in ids {
            let in_kernel = !matches!(
                self.registry.entry(id).map(|e| &e.kind),
                Some(EntryKind::Object {
                    in_kernel: false,
                    ..
                })
            );
            if in_kernel {
                wire::del_nexthop(&mut buf, id);
                sent.push(id);
            } else {
                self.registry.forget(id);
            }
        }
        if buf.is_empty() {
            return Ok(());
        }
        let results = self.socket.execute(buf, |_| Op::DeleteNexthop)?;
        for (id, result) in sent.into_iter().zip(results) {
            match result {
                Some(error) if error.errno() != Some(nix::errno::Errno::ENOENT as i32) => {
                    // Still in the kernel: keep the id reserved; retried at
                    // the next garbage collection.
                    tracing::warn!(id, %error, "nexthop not deleted");
                }
                _ => {
                    self.registry.forget(id);
                }
            }
        }
        Ok(())
    }
}

fn unreachable_errno(error: &Error) -> bool {
    use nix::errno::Errno;
    matches!(error, Error::Kernel { errno, .. }
        if [Errno::ENETUNREACH, Errno::EHOSTUNREACH, Errno::ESRCH, Errno::EACCES, Errno::EINVAL]
            .iter()
            .any(|e| *e as i32 == *errno))
}
