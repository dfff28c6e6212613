//! Route messages from the kernel, decoded with `netlink-packet-route`
//! into the few fields we use.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::Parseable;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteNextHop, RouteType, RouteVia,
};

/// The fields of an `RTM_NEWROUTE` we care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelRoute {
    pub(crate) prefix: IpNet,
    pub(crate) table: u32,
    pub(crate) protocol: u8,
    pub(crate) unicast: bool,
    pub(crate) nexthop_id: Option<u32>,
    pub(crate) gateway: Option<IpAddr>,
    pub(crate) ifindex: Option<u32>,
    /// `RTA_MULTIPATH` paths: (gateway, ifindex).
    pub(crate) multipath: Vec<(Option<IpAddr>, u32)>,
}

fn address(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn via(via: &RouteVia) -> Option<IpAddr> {
    match via {
        RouteVia::Inet(a) => Some(IpAddr::V4(*a)),
        RouteVia::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn path_gateway(path: &RouteNextHop) -> Option<IpAddr> {
    path.attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => address(g),
        RouteAttribute::Via(v) => via(v),
        _ => None,
    })
}

/// Decodes an `RTM_NEWROUTE`/`RTM_DELROUTE` payload; `None` for families
/// other than IPv4/IPv6 or undecodable input.
pub(crate) fn route(payload: &[u8]) -> Option<KernelRoute> {
    let message = RouteMessage::parse(payload).ok()?;
    let header = &message.header;
    let family = u8::from(header.address_family);
    let mut out = KernelRoute {
        prefix: match family {
            crate::wire::AF_INET => IpNet::V4(Default::default()),
            crate::wire::AF_INET6 => IpNet::V6(Default::default()),
            _ => return None,
        },
        table: u32::from(header.table),
        protocol: u8::from(header.protocol),
        unicast: header.kind == RouteType::Unicast,
        nexthop_id: None,
        gateway: None,
        ifindex: None,
        multipath: Vec::new(),
    };
    let dst_len = header.destination_prefix_length;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(addr) => {
                out.prefix = IpNet::new(address(addr)?, dst_len).ok()?;
            }
            RouteAttribute::Table(table) => out.table = *table,
            RouteAttribute::NhId(id) => out.nexthop_id = Some(*id),
            RouteAttribute::Gateway(g) => out.gateway = address(g),
            RouteAttribute::Via(v) => out.gateway = via(v),
            RouteAttribute::Oif(index) => out.ifindex = Some(*index),
            RouteAttribute::MultiPath(paths) => {
                out.multipath = paths
                    .iter()
                    .map(|p| (path_gateway(p), p.interface_index))
                    .collect();
            }
            _ => {}
        }
    }
    Some(out)
}
