//! From an [`Intent`] to the concrete fabric: switches, hosts, links,
//! interface names, AS numbers and addresses. Pure: no I/O.
//!
//! Naming, fixed here and nowhere else:
//! - nodes `spine1..spineS`, `leaf1..leafL`, `host<L>-<N>` (host N behind
//!   leaf L); a node lives in the namespace `<prefix>-<node>`;
//! - on spine s, `eth<l>` is the link to leaf l; on leaf l, `eth<s>` is the
//!   link to spine s (fabric links carry only IPv6 link-local addresses:
//!   BGP unnumbered, RFC 8950 next hops);
//! - on leaf l, `host<n>` is the port to host n, holding the gateway
//!   addresses (`.1` of the leaf's /24, `::1` of its /64);
//! - a host's one interface is `eth1` (as in containerlab, where `eth0` is
//!   the management port), address `.<n+1>` / `::<n+1>`.
//!
//! Addresses: spine s's loopback is address s of `addressing.loopbacks`,
//! leaf l's is address `spines + l`; leaf l's host subnets are the l-th
//! /24 of `addressing.hosts` and the l-th /64 of `addressing.hosts-v6`
//! (block 0 stays unused, so `leaf1` gets `10.1.1.0/24`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::intent::{ipv4_block, ipv6_block, Intent};

/// The interface of every host.
pub const HOST_INTERFACE: &str = "eth1";

/// The role of a switch in the fabric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A spine: one link to every leaf.
    Spine,
    /// A leaf: one link to every spine and a port per host.
    Leaf,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Spine => "spine",
            Role::Leaf => "leaf",
        })
    }
}

/// A spine–leaf link (a veth pair in the lab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FabricLink {
    /// Spine number, from 1.
    pub spine: u32,
    /// Leaf number, from 1.
    pub leaf: u32,
}

impl FabricLink {
    /// `spine1-leaf3`.
    pub fn name(&self) -> String {
        format!("spine{}-leaf{}", self.spine, self.leaf)
    }

    /// The spine's node name.
    pub fn spine_node(&self) -> String {
        format!("spine{}", self.spine)
    }

    /// The leaf's node name.
    pub fn leaf_node(&self) -> String {
        format!("leaf{}", self.leaf)
    }

    /// The spine's end: `eth<leaf>`.
    pub fn spine_interface(&self) -> String {
        format!("eth{}", self.leaf)
    }

    /// The leaf's end: `eth<spine>`.
    pub fn leaf_interface(&self) -> String {
        format!("eth{}", self.spine)
    }

    /// Both ends as (node, interface).
    pub fn ends(&self) -> [(String, String); 2] {
        [
            (self.spine_node(), self.spine_interface()),
            (self.leaf_node(), self.leaf_interface()),
        ]
    }
}

/// One BGP session of a switch, on one fabric link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Local interface, e.g. `eth1`.
    pub interface: String,
    /// The node at the other end.
    pub peer: String,
    /// The AS the peer has.
    pub peer_asn: u32,
    /// The link.
    pub link: FabricLink,
}

/// A switch: runs a BGP daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// `spine1`, `leaf3`.
    pub name: String,
    /// Spine or leaf.
    pub role: Role,
    /// Number within its role, from 1.
    pub index: u32,
    /// Its AS.
    pub asn: u32,
    /// Its loopback /32 address, also its router ID.
    pub loopback: Ipv4Addr,
    /// Leaves: the IPv4 host subnet.
    pub hosts: Option<Ipv4Net>,
    /// Leaves: the IPv6 host subnet, when the fabric has one.
    pub hosts_v6: Option<Ipv6Net>,
    /// Fabric links, in interface order.
    pub ports: Vec<Port>,
}

impl Switch {
    /// The prefixes it announces: its loopback and, on a leaf, its host
    /// subnets.
    pub fn originate(&self) -> Vec<IpNet> {
        let mut out = vec![IpNet::V4(Ipv4Net::from(self.loopback))];
        out.extend(self.hosts.map(IpNet::V4));
        out.extend(self.hosts_v6.map(IpNet::V6));
        out
    }
}

/// A host behind a leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `host<leaf>-<n>`.
    pub name: String,
    /// Its leaf's number.
    pub leaf: u32,
    /// Its number behind the leaf, from 1.
    pub index: u32,
    /// Address with the subnet's length, e.g. `10.1.1.2/24`.
    pub address: Ipv4Net,
    /// The leaf's gateway address.
    pub gateway: Ipv4Addr,
    /// IPv6 address with length, when the fabric has IPv6 host subnets.
    pub address_v6: Option<Ipv6Net>,
    /// The leaf's IPv6 gateway address.
    pub gateway_v6: Option<Ipv6Addr>,
}

impl Host {
    /// The leaf's node name.
    pub fn leaf_node(&self) -> String {
        format!("leaf{}", self.leaf)
    }

    /// The leaf's port to this host: `host<n>`.
    pub fn leaf_interface(&self) -> String {
        format!("host{}", self.index)
    }

    /// The host's addresses, IPv4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut out = vec![IpAddr::V4(self.address.addr())];
        out.extend(self.address_v6.map(|a| IpAddr::V6(a.addr())));
        out
    }
}

/// A route a switch must have once the fabric has converged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRoute {
    /// The prefix.
    pub prefix: IpNet,
    /// How many equal-cost next hops it has with every link up.
    pub paths: usize,
}

/// The whole fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fabric {
    /// What it was made from.
    pub intent: Intent,
    /// `spine1..`.
    pub spines: Vec<Switch>,
    /// `leaf1..`.
    pub leaves: Vec<Switch>,
    /// Hosts, leaf by leaf.
    pub hosts: Vec<Host>,
}

impl Fabric {
    /// Lays out the fabric of `intent`.
    pub fn new(intent: &Intent) -> Fabric {
        let loopback = |n: u32| {
            let base = u32::from(intent.loopbacks.network());
            Ipv4Addr::from(base + n)
        };
        let spines = (1..=intent.spines)
            .map(|s| Switch {
                name: format!("spine{s}"),
                role: Role::Spine,
                index: s,
                asn: intent.spine_asn,
                loopback: loopback(s),
                hosts: None,
                hosts_v6: None,
                ports: (1..=intent.leaves)
                    .map(|l| {
                        let link = FabricLink { spine: s, leaf: l };
                        Port {
                            interface: link.spine_interface(),
                            peer: link.leaf_node(),
                            peer_asn: intent.leaf_asns[(l - 1) as usize],
                            link,
                        }
                    })
                    .collect(),
            })
            .collect();
        let leaves = (1..=intent.leaves)
            .map(|l| Switch {
                name: format!("leaf{l}"),
                role: Role::Leaf,
                index: l,
                asn: intent.leaf_asns[(l - 1) as usize],
                loopback: loopback(intent.spines + l),
                hosts: Some(ipv4_block(intent.hosts, 24, l)),
                hosts_v6: intent.hosts_v6.map(|net| ipv6_block(net, 64, l)),
                ports: (1..=intent.spines)
                    .map(|s| {
                        let link = FabricLink { spine: s, leaf: l };
                        Port {
                            interface: link.leaf_interface(),
                            peer: link.spine_node(),
                            peer_asn: intent.spine_asn,
                            link,
                        }
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let mut hosts = Vec::new();
        for leaf in &leaves {
            let subnet = leaf.hosts.expect("leaves have host subnets");
            for n in 1..=intent.hosts_per_leaf {
                let nth = |net: Ipv4Net, k: u32| Ipv4Addr::from(u32::from(net.network()) + k);
                let nth6 = |net: Ipv6Net, k: u32| {
                    Ipv6Addr::from(u128::from(net.network()) + u128::from(k))
                };
                hosts.push(Host {
                    name: format!("host{}-{n}", leaf.index),
                    leaf: leaf.index,
                    index: n,
                    address: Ipv4Net::new(nth(subnet, n + 1), 24).expect("/24"),
                    gateway: nth(subnet, 1),
                    address_v6: leaf
                        .hosts_v6
                        .map(|net| Ipv6Net::new(nth6(net, n + 1), 64).expect("/64")),
                    gateway_v6: leaf.hosts_v6.map(|net| nth6(net, 1)),
                });
            }
        }
        Fabric {
            intent: intent.clone(),
            spines,
            leaves,
            hosts,
        }
    }

    /// Spines, then leaves.
    pub fn switches(&self) -> impl Iterator<Item = &Switch> {
        self.spines.iter().chain(&self.leaves)
    }

    /// The switch called `name`.
    pub fn switch(&self, name: &str) -> Option<&Switch> {
        self.switches().find(|s| s.name == name)
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Every node name: switches, then hosts.
    pub fn node_names(&self) -> Vec<String> {
        self.switches()
            .map(|s| s.name.clone())
            .chain(self.hosts.iter().map(|h| h.name.clone()))
            .collect()
    }

    /// Every spine–leaf link, spine by spine.
    pub fn links(&self) -> Vec<FabricLink> {
        self.spines
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.link))
            .collect()
    }

    /// How many equal-cost paths a leaf has towards another leaf.
    pub fn ecmp_width(&self) -> usize {
        self.intent.spines.min(self.intent.multipath) as usize
    }

    /// The routes `switch` must have in its FIB once converged (prefixes
    /// it originates itself are connected or local, so not listed).
    ///
    /// A spine has no route to another spine's loopback: the only path
    /// runs through a leaf and back into the spines' shared AS, which BGP
    /// drops as an AS-path loop (RFC 4271 §9.1.2; RFC 7938 §5.2.1 accepts
    /// this: spines need not reach each other).
    pub fn expected_routes(&self, switch: &Switch) -> Vec<ExpectedRoute> {
        let mut out = Vec::new();
        match switch.role {
            Role::Leaf => {
                for spine in &self.spines {
                    out.push(ExpectedRoute {
                        prefix: IpNet::V4(Ipv4Net::from(spine.loopback)),
                        paths: 1,
                    });
                }
                for leaf in self.leaves.iter().filter(|l| l.name != switch.name) {
                    for prefix in leaf.originate() {
                        out.push(ExpectedRoute {
                            prefix,
                            paths: self.ecmp_width(),
                        });
                    }
                }
            }
            Role::Spine => {
                for leaf in &self.leaves {
                    for prefix in leaf.originate() {
                        out.push(ExpectedRoute { prefix, paths: 1 });
                    }
                }
            }
        }
        out
    }

    /// The links named by `text`: a link `spine1-leaf3` (either order), or
    /// a switch name (`spine1`, `leaf3`) for all its fabric links.
    pub fn resolve_links(&self, text: &str) -> Result<Vec<FabricLink>, String> {
        let text = text.trim();
        if let Some(switch) = self.switch(text) {
            return Ok(switch.ports.iter().map(|p| p.link).collect());
        }
        let Some((a, b)) = text.split_once('-') else {
            return Err(format!(
                "{text:?} is neither a link such as \"spine1-leaf3\" nor a switch name"
            ));
        };
        let link = match (parse_node(a), parse_node(b)) {
            (Some(('s', spine)), Some(('l', leaf))) | (Some(('l', leaf)), Some(('s', spine))) => {
                FabricLink { spine, leaf }
            }
            _ => {
                return Err(format!(
                    "{text:?} is not a fabric link: write SPINE-LEAF such as \"spine1-leaf3\" \
                     (or \"leaf3-spine1\")"
                ))
            }
        };
        if link.spine > self.intent.spines || link.leaf > self.intent.leaves {
            return Err(format!(
                "{text:?}: this fabric has spine1..spine{} and leaf1..leaf{}",
                self.intent.spines, self.intent.leaves
            ));
        }
        Ok(vec![link])
    }
}

/// `spine3` → ('s', 3), `leaf2` → ('l', 2).
fn parse_node(text: &str) -> Option<(char, u32)> {
    let (kind, number) = if let Some(n) = text.strip_prefix("spine") {
        ('s', n)
    } else if let Some(n) = text.strip_prefix("leaf") {
        ('l', n)
    } else {
        return None;
    };
    let value: u32 = number.parse().ok()?;
    (value >= 1 && number == value.to_string()).then_some((kind, value))
}

/// The namespace of `node` in the lab with namespace prefix `prefix`.
pub fn namespace(prefix: &str, node: &str) -> String {
    format!("{prefix}-{node}")
}

/// True for the node names this crate makes (`spine<N>`, `leaf<N>`,
/// `host<N>-<N>`), so `down` can clean by name even without its state.
pub fn is_node_name(name: &str) -> bool {
    if parse_node(name).is_some() {
        return true;
    }
    name.strip_prefix("host")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(leaf, n)| {
            [leaf, n]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fabric() -> Fabric {
        Fabric::new(&Intent::default_fabric())
    }

    #[test]
    fn default_fabric_layout() {
        let f = fabric();
        assert_eq!(f.spines.len(), 2);
        assert_eq!(f.leaves.len(), 4);
        assert_eq!(f.hosts.len(), 4);
        assert_eq!(f.links().len(), 8);
        let leaf1 = f.switch("leaf1").unwrap();
        assert_eq!(leaf1.loopback, Ipv4Addr::new(10, 255, 0, 3));
        assert_eq!(leaf1.asn, 65001);
        assert_eq!(
            leaf1
                .originate()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["10.255.0.3/32", "10.1.1.0/24", "2001:db8:1:1::/64"]
        );
        let ports: Vec<_> = leaf1
            .ports
            .iter()
            .map(|p| (p.interface.as_str(), p.peer.as_str()))
            .collect();
        assert_eq!(ports, [("eth1", "spine1"), ("eth2", "spine2")]);
        let spine2 = f.switch("spine2").unwrap();
        assert_eq!(spine2.loopback, Ipv4Addr::new(10, 255, 0, 2));
        assert_eq!(spine2.ports[3].interface, "eth4");
        assert_eq!(spine2.ports[3].peer, "leaf4");
        assert_eq!(spine2.ports[3].peer_asn, 65004);
        let host = f.host("host3-1").unwrap();
        assert_eq!(host.address.to_string(), "10.1.3.2/24");
        assert_eq!(host.gateway.to_string(), "10.1.3.1");
        assert_eq!(host.address_v6.unwrap().to_string(), "2001:db8:1:3::2/64");
        assert_eq!(host.gateway_v6.unwrap().to_string(), "2001:db8:1:3::1");
        assert_eq!(host.leaf_interface(), "host1");
    }

    #[test]
    fn expected_routes_per_role() {
        let f = fabric();
        let leaf = f.expected_routes(f.switch("leaf1").unwrap());
        // 2 spine loopbacks + 3 other leaves × (loopback, v4, v6).
        assert_eq!(leaf.len(), 2 + 9);
        assert!(leaf
            .iter()
            .any(|r| r.prefix.to_string() == "10.1.4.0/24" && r.paths == 2));
        assert!(!leaf.iter().any(|r| r.prefix.to_string() == "10.1.1.0/24"));
        let spine = f.expected_routes(f.switch("spine1").unwrap());
        assert_eq!(spine.len(), 12);
        assert!(spine.iter().all(|r| r.paths == 1));
        assert!(!spine
            .iter()
            .any(|r| r.prefix.to_string() == "10.255.0.2/32"));
    }

    #[test]
    fn link_names() {
        let f = fabric();
        let one = |t: &str| f.resolve_links(t).unwrap();
        assert_eq!(one("spine1-leaf3"), [FabricLink { spine: 1, leaf: 3 }]);
        assert_eq!(one("leaf3-spine1"), [FabricLink { spine: 1, leaf: 3 }]);
        assert_eq!(one(" spine2-leaf4 ")[0].name(), "spine2-leaf4");
        assert_eq!(one("spine1").len(), 4);
        assert_eq!(
            one("leaf2"),
            [
                FabricLink { spine: 1, leaf: 2 },
                FabricLink { spine: 2, leaf: 2 }
            ]
        );
        for bad in [
            "spine1-spine2",
            "leaf1-leaf2",
            "spine3-leaf1",
            "spine1-leaf5",
            "spine01-leaf1",
            "spine0-leaf1",
            "host1-1",
            "spine1_leaf1",
            "",
        ] {
            assert!(f.resolve_links(bad).is_err(), "{bad:?} accepted");
        }
        let link = FabricLink { spine: 2, leaf: 3 };
        assert_eq!(link.spine_interface(), "eth3");
        assert_eq!(link.leaf_interface(), "eth2");
    }

    #[test]
    fn node_names_for_cleanup() {
        for good in ["spine1", "leaf12", "host3-1", "host10-22"] {
            assert!(is_node_name(good), "{good}");
        }
        for bad in [
            "spine", "leafx", "host1", "host1-", "hostA-1", "router1", "spine01",
        ] {
            assert!(!is_node_name(bad), "{bad}");
        }
    }
}
