//! The gRPC API of closd: answers `clos.v1.Clos` from the speaker's state.
//! Conversions from internal types to protobuf live here, at the edge.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use clos_api::pb::{self, clos_server::Clos};
use clos_bgp::peer::{PeerCounters, PeerShared, LOCAL_PEER};
use clos_bgp::rib::{path_next_hop, RouteFilter, RouteView};
use clos_bgp::speaker::Speaker;
use clos_wire::{Capability, Family, IpNet, Origin};
use tonic::{Request, Response, Status};

pub struct ApiService {
    speaker: Arc<Speaker>,
    fib: Option<(clos_rib::KernelRib, clos_config::Fib)>,
    bfd: Option<Arc<clos_bfd::BfdManager>>,
}

impl ApiService {
    pub fn new(
        speaker: Arc<Speaker>,
        fib: Option<(clos_rib::KernelRib, clos_config::Fib)>,
        bfd: Option<Arc<clos_bfd::BfdManager>>,
    ) -> ApiService {
        ApiService { speaker, fib, bfd }
    }

    /// The BFD session of a neighbor, if it has one.
    fn bfd_of(&self, peer: &PeerShared) -> Option<clos_bfd::SessionInfo> {
        let bfd = self.bfd.as_ref()?;
        let (address, interface) = match &peer.config.interface {
            Some(i) => (
                i.peer.borrow().map(|p| IpAddr::V6(p.address))?,
                Some(i.name.clone()),
            ),
            None => (peer.config.address, None),
        };
        bfd.sessions()
            .into_iter()
            .find(|s| s.peer == address && (interface.is_none() || s.interface == interface))
    }

    /// A neighbor by address, or an unnumbered one by interface name.
    fn find_peer(&self, name: &str) -> Result<&Arc<PeerShared>, Status> {
        self.speaker
            .peer_named(name)
            .ok_or_else(|| Status::not_found(format!("no neighbor {name}")))
    }
}

fn internal(e: clos_bgp::Error) -> Status {
    Status::unavailable(e.to_string())
}

fn describe_capability(c: &Capability) -> String {
    match c {
        Capability::Multiprotocol { afi, safi } => match Family::from_afi_safi(*afi, *safi) {
            Some(f) => format!("multiprotocol {f}"),
            None => format!("multiprotocol afi {afi} safi {safi}"),
        },
        Capability::RouteRefresh => "route-refresh".into(),
        Capability::EnhancedRouteRefresh => "enhanced-route-refresh".into(),
        Capability::ExtendedMessage => "extended-message".into(),
        Capability::FourOctetAs(asn) => format!("4-octet-as {asn}"),
        Capability::ExtendedNextHop(entries) => format!(
            "extended-next-hop {}",
            entries
                .iter()
                .map(|e| format!(
                    "afi {}/safi {} via afi {}",
                    e.nlri_afi, e.nlri_safi, e.next_hop_afi
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Capability::GracefulRestart(gr) => format!(
            "graceful-restart time {}s{}{}",
            gr.restart_time,
            if gr.restart_state { " restarting" } else { "" },
            gr.families
                .iter()
                .map(|f| format!(
                    " afi {}/safi {}{}",
                    f.afi,
                    f.safi,
                    if f.forwarding_preserved { " (F)" } else { "" }
                ))
                .collect::<String>()
        ),
        Capability::AddPath(entries) => format!(
            "add-path {}",
            entries
                .iter()
                .map(|e| format!(
                    "afi {}/safi {} {}",
                    e.afi,
                    e.safi,
                    match e.send_receive {
                        1 => "receive",
                        2 => "send",
                        3 => "send/receive",
                        _ => "?",
                    }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Capability::Unknown { code, value } => {
            format!("unknown code {code} ({} bytes)", value.len())
        }
    }
}

fn summary_of(peer: &PeerShared) -> pb::NeighborSummary {
    let s = peer.session();
    let c = &peer.counters;
    pb::NeighborSummary {
        address: peer.config.name(),
        remote_as: s.negotiated.as_ref().map(|n| n.remote_asn).unwrap_or(
            match peer.config.remote_as {
                clos_bgp::fsm::RemoteAsRule::Exact(a) => a,
                _ => 0,
            },
        ),
        state: s.state.name().to_string(),
        uptime_seconds: s.since.elapsed().as_secs(),
        prefixes_received: PeerCounters::get(&c.prefixes_received),
        prefixes_accepted: PeerCounters::get(&c.prefixes_accepted),
        prefixes_advertised: PeerCounters::get(&c.prefixes_advertised),
        messages_received: PeerCounters::get(&c.messages_received),
        messages_sent: PeerCounters::get(&c.messages_sent),
        description: peer.config.description.clone(),
        last_error: if !s.last_error.is_empty() {
            s.last_error.clone()
        } else if !s.last_notification_received.is_empty() {
            format!("received {}", s.last_notification_received)
        } else if !s.last_notification_sent.is_empty() {
            format!("sent {}", s.last_notification_sent)
        } else {
            String::new()
        },
    }
}

fn origin_name(o: Option<Origin>) -> &'static str {
    match o {
        Some(Origin::Igp) => "igp",
        Some(Origin::Egp) => "egp",
        Some(Origin::Incomplete) | None => "incomplete",
    }
}

fn route_of(speaker: &Speaker, r: &RouteView) -> pb::Route {
    let a = &r.attributes;
    let (peer, peer_asn) = if r.peer == LOCAL_PEER {
        ("local".to_string(), speaker.asn)
    } else {
        match speaker.peer_by_id(r.peer) {
            Some(p) => (
                p.config.name(),
                p.session().negotiated.map(|n| n.remote_asn).unwrap_or(0),
            ),
            None => (format!("peer {}", r.peer), 0),
        }
    };
    pb::Route {
        prefix: r.prefix.to_string(),
        best: r.best,
        next_hop: path_next_hop(a).map(|n| n.to_string()).unwrap_or_else(|| {
            if r.peer == LOCAL_PEER {
                "self".into()
            } else {
                String::new()
            }
        }),
        peer,
        peer_asn,
        as_path: a
            .as_path
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        origin: origin_name(a.origin).to_string(),
        has_med: a.med.is_some(),
        med: a.med.unwrap_or(0),
        has_local_pref: a.local_pref.is_some(),
        local_pref: a.local_pref.unwrap_or(0),
        communities: a
            .communities
            .iter()
            .map(|c| clos_wire::format_community(*c))
            .collect(),
        large_communities: a
            .rare
            .large_communities
            .iter()
            .map(clos_wire::format_large_community)
            .collect(),
        extended_communities: a
            .rare
            .extended_communities
            .iter()
            .map(clos_wire::format_extended_community)
            .collect(),
        age_seconds: r.age_seconds,
        reason: r.reason.clone(),
        multipath: r.multipath,
        family: Family::of(&r.prefix).name().to_string(),
    }
}

fn parse_prefix(text: &str) -> Result<IpNet, Status> {
    let p: IpNet = text
        .parse()
        .map_err(|_| Status::invalid_argument(format!("not a prefix: {text:?}")))?;
    if p.trunc() != p {
        return Err(Status::invalid_argument(format!(
            "{p} has host bits set; did you mean {}?",
            p.trunc()
        )));
    }
    Ok(p)
}

#[tonic::async_trait]
impl Clos for ApiService {
    async fn get_summary(
        &self,
        _request: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        let (prefixes, paths) = self.speaker.counts().await.map_err(internal)?;
        Ok(Response::new(pb::Summary {
            asn: self.speaker.asn,
            router_id: self.speaker.router_id.to_string(),
            loc_rib_prefixes: prefixes,
            loc_rib_paths: paths,
            neighbors: self.speaker.peers().iter().map(|p| summary_of(p)).collect(),
        }))
    }

    async fn get_neighbor(
        &self,
        request: Request<pb::NeighborRequest>,
    ) -> Result<Response<pb::NeighborDetail>, Status> {
        let peer = self.find_peer(&request.get_ref().address)?;
        let s = peer.session();
        let c = &peer.counters;
        let neg = s.negotiated.as_ref();
        let bfd = self.bfd_of(peer);
        Ok(Response::new(pb::NeighborDetail {
            remote_address: s.remote.map(|a| a.ip().to_string()).unwrap_or_default(),
            bfd_state: bfd
                .as_ref()
                .map(|b| format!("{:?}", b.state))
                .unwrap_or_default(),
            bfd_detect_ms: bfd
                .as_ref()
                .map(|b| b.detection_time.as_millis() as u64)
                .unwrap_or(0),
            summary: Some(summary_of(peer)),
            local_address: s.local.map(|a| a.ip().to_string()).unwrap_or_default(),
            local_port: s.local.map(|a| a.port() as u32).unwrap_or(0),
            remote_port: s.remote.map(|a| a.port() as u32).unwrap_or(0),
            remote_router_id: neg.map(|n| n.remote_id.to_string()).unwrap_or_default(),
            hold_time: neg.map(|n| n.hold_time as u32).unwrap_or(0),
            keepalive_time: neg.map(|n| n.keepalive as u32).unwrap_or(0),
            configured_hold_time: peer.config.hold_time as u32,
            families: neg
                .map(|n| n.families.iter().map(|f| f.name().to_string()).collect())
                .unwrap_or_default(),
            local_capabilities: s
                .local_capabilities
                .iter()
                .map(describe_capability)
                .collect(),
            remote_capabilities: neg
                .map(|n| {
                    n.remote_capabilities
                        .iter()
                        .map(describe_capability)
                        .collect()
                })
                .unwrap_or_default(),
            passive: peer.config.passive,
            import_policy: peer.config.import.name(),
            export_policy: peer.config.export.name(),
            updates_received: PeerCounters::get(&c.updates_received),
            updates_sent: PeerCounters::get(&c.updates_sent),
            notifications_received: PeerCounters::get(&c.notifications_received),
            notifications_sent: PeerCounters::get(&c.notifications_sent),
            keepalives_received: PeerCounters::get(&c.keepalives_received),
            keepalives_sent: PeerCounters::get(&c.keepalives_sent),
            route_refresh_received: PeerCounters::get(&c.route_refresh_received),
            route_refresh_sent: PeerCounters::get(&c.route_refresh_sent),
            established_transitions: c.established_transitions.load(Ordering::Relaxed),
            last_notification_sent: s.last_notification_sent.clone(),
            last_notification_received: s.last_notification_received.clone(),
            max_keepalive_delay_ms: PeerCounters::get(&c.max_keepalive_delay_us) / 1000,
            peer_type: match neg.map(|n| n.internal) {
                Some(true) => "internal".into(),
                Some(false) => "external".into(),
                None => match peer.config.remote_as {
                    clos_bgp::fsm::RemoteAsRule::Exact(a) if a == self.speaker.asn => {
                        "internal".into()
                    }
                    clos_bgp::fsm::RemoteAsRule::Internal => "internal".into(),
                    _ => "external".into(),
                },
            },
            max_prefix: peer.config.max_prefix.map(|m| m.limit).unwrap_or(0),
            withdrawn_treated: PeerCounters::get(&c.withdrawn_treated),
            attributes_discarded: PeerCounters::get(&c.attributes_discarded),
        }))
    }

    async fn list_routes(
        &self,
        request: Request<pb::RoutesRequest>,
    ) -> Result<Response<pb::RouteList>, Status> {
        let req = request.get_ref();
        let family = match req.family.as_str() {
            "" => None,
            "ipv4" | "ipv4-unicast" => Some(Family::Ipv4Unicast),
            "ipv6" | "ipv6-unicast" => Some(Family::Ipv6Unicast),
            other => {
                return Err(Status::invalid_argument(format!(
                    "unknown family {other:?}: use ipv4 or ipv6"
                )))
            }
        };
        let prefix = if req.prefix.is_empty() {
            None
        } else {
            Some(parse_prefix(&req.prefix)?)
        };
        let routes = self
            .speaker
            .routes(RouteFilter { family, prefix })
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::RouteList {
            routes: routes.iter().map(|r| route_of(&self.speaker, r)).collect(),
        }))
    }

    async fn add_originate(
        &self,
        request: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        let prefix = parse_prefix(&request.get_ref().prefix)?;
        let changed = self
            .speaker
            .originate(prefix, true)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::OriginateReply { changed }))
    }

    async fn delete_originate(
        &self,
        request: Request<pb::OriginateRequest>,
    ) -> Result<Response<pb::OriginateReply>, Status> {
        let prefix = parse_prefix(&request.get_ref().prefix)?;
        let changed = self
            .speaker
            .originate(prefix, false)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::OriginateReply { changed }))
    }

    async fn refresh_neighbor(
        &self,
        request: Request<pb::NeighborRequest>,
    ) -> Result<Response<pb::RefreshReply>, Status> {
        let peer = self.find_peer(&request.get_ref().address)?;
        match self
            .speaker
            .request_refresh(peer.id)
            .await
            .map_err(internal)?
        {
            Ok(families) => Ok(Response::new(pb::RefreshReply {
                families: families.iter().map(|f| f.name().to_string()).collect(),
            })),
            Err(why) => Err(Status::failed_precondition(format!(
                "cannot refresh {}: {why}",
                peer.config.name()
            ))),
        }
    }

    async fn get_kernel_fib(
        &self,
        request: Request<pb::KernelFibRequest>,
    ) -> Result<Response<pb::KernelFib>, Status> {
        let req = request.get_ref();
        let prefix = if req.prefix.is_empty() {
            None
        } else {
            Some(parse_prefix(&req.prefix)?)
        };
        let Some((fib, config)) = &self.fib else {
            return Ok(Response::new(pb::KernelFib {
                enabled: false,
                table: clos_config::DEFAULT_FIB_TABLE,
                protocol: clos_config::DEFAULT_FIB_PROTOCOL as u32,
                ..Default::default()
            }));
        };
        let snapshot = fib
            .snapshot(prefix, req.routes)
            .await
            .ok_or_else(|| Status::unavailable("the kernel FIB writer has stopped"))?;
        let st = &snapshot.status;
        Ok(Response::new(pb::KernelFib {
            enabled: true,
            table: config.table,
            protocol: config.protocol as u32,
            installed: st.installed as u64,
            nexthop_objects: st.nexthop_objects as u64,
            nexthop_groups: st.nexthop_groups as u64,
            wanted: st.wanted as u64,
            unresolved: st.unresolved as u64,
            failed: st.failed as u64,
            adopted: st.adopted as u64,
            stale_pending: st.stale_pending,
            holding: st.holding,
            stale_removed: st.stale_removed as u64,
            memory_bytes: st.memory_bytes as u64,
            next_hops: st
                .next_hops
                .iter()
                .map(|n| pb::KernelNextHop {
                    address: n.hop.address.to_string(),
                    interface: n.hop.ifindex.map(interface_name).unwrap_or_default(),
                    resolved: n.via.is_some(),
                    via: n.via.map(|v| v.gateway().to_string()).unwrap_or_default(),
                    via_interface: n
                        .via
                        .and_then(|v| v.ifindex())
                        .map(interface_name)
                        .unwrap_or_default(),
                    routes: n.routes as u64,
                })
                .collect(),
            failures: snapshot
                .failed
                .iter()
                .map(|f| pb::KernelFailure {
                    prefix: f.prefix.to_string(),
                    error: f.error.clone(),
                })
                .collect(),
            routes: snapshot
                .routes
                .iter()
                .map(|r| pb::KernelRoute {
                    prefix: r.prefix.to_string(),
                    paths: r
                        .next_hops
                        .iter()
                        .map(|h| pb::KernelPath {
                            gateway: h.gateway().to_string(),
                            interface: h.ifindex().map(interface_name).unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
        }))
    }
}

/// An interface's name, or its index when it has none (any more).
fn interface_name(ifindex: u32) -> String {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| format!("if{ifindex}"))
}
