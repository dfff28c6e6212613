//! Configurations that must parse, to exactly the expected values, and every
//! default.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clos_config::*;
use ipnet::IpNet;

fn net(text: &str) -> IpNet {
    text.parse().expect("test prefix")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn parse(text: &str) -> Config {
    match Config::from_str(text, "closd.toml") {
        Ok(config) => config,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

const MINIMAL: &str = r#"
[router]
asn = 65000
router-id = "10.0.0.1"
"#;

const FULL: &str = r#"
# Every key, none left to its default (but `[api] listen` and `token-file`,
# which need a token file: see security.rs).
[router]
asn = 4200000000
router-id = "10.0.0.1"
listen = ["127.0.0.1:1179", "[::1]:1179", "192.0.2.1", "[2001:db8::1]"]
originate = ["10.1.0.0/24", "2001:db8:1::/48"]
hold-time = 30
connect-retry = 10
multipath = 8
multipath-relax = true
fast-external-failover = false

[api]
socket = "/tmp/closd.sock"

[[neighbor]]
address = "127.0.0.2"
remote-as = 65001
description = "transit A"
port = 1179
local-address = "127.0.0.1"
passive = true
families = ["ipv4-unicast", "ipv6-unicast"]
import = "customers"
export = "accept"
hold-time = 9
max-prefix = 1000000
max-prefix-action = "warning"
next-hop-self = true
ebgp-multihop = 2
bfd = true
bfd-interval = 50
bfd-multiplier = 4

[[neighbor]]
interface = "swp1"
remote-as = "external"
max-prefix = 100
max-prefix-restart = 30
bfd = true

[[neighbor]]
address = "2001:db8::2"
remote-as = "internal"
import = "reject"

[[neighbor]]
address = "192.0.2.9"
remote-as = 65002
ttl-security = true
password = "s3cret"

[[prefix-list]]
name = "customers"
entries = [
  { action = "permit", prefix = "10.0.0.0/8", ge = 16, le = 24 },
  { action = "deny",   prefix = "0.0.0.0/0", le = 32 },
  { prefix = "2001:db8::/32", ge = 48 },
]

[[prefix-list]]
name = "empty"
entries = []

[fib]
kernel = true
table = 100
protocol = 42
stale-time = 30
initial-hold = 0
"#;

#[test]
fn full_example_parses_to_expected_values() {
    let config = parse(FULL);
    let expected = Config {
        router: Router {
            asn: 4_200_000_000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![
                "127.0.0.1:1179".parse().expect("addr"),
                "[::1]:1179".parse().expect("addr"),
                "192.0.2.1:179".parse().expect("addr"),
                "[2001:db8::1]:179".parse().expect("addr"),
            ],
            originate: vec![net("10.1.0.0/24"), net("2001:db8:1::/48")],
            hold_time: 30,
            connect_retry: 10,
            multipath: 8,
            multipath_relax: true,
            fast_external_failover: false,
        },
        api: Api {
            socket: PathBuf::from("/tmp/closd.sock"),
            tcp: None,
        },
        neighbors: vec![
            Neighbor {
                peer: PeerAddress::Address(ip("127.0.0.2")),
                remote_as: RemoteAs::Asn(65001),
                description: Some("transit A".to_string()),
                port: 1179,
                local_address: Some(ip("127.0.0.1")),
                passive: true,
                families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
                import: Policy::PrefixList("customers".to_string()),
                export: Policy::Accept,
                hold_time: Some(9),
                max_prefix: Some(MaxPrefix {
                    limit: 1_000_000,
                    action: MaxPrefixAction::Warning,
                    restart: None,
                }),
                next_hop_self: true,
                ebgp_multihop: 2,
                ttl_security: false,
                password: None,
                bfd: Some(Bfd {
                    interval_ms: 50,
                    multiplier: 4,
                }),
            },
            Neighbor {
                peer: PeerAddress::Interface("swp1".to_string()),
                remote_as: RemoteAs::External,
                description: None,
                port: 179,
                local_address: None,
                passive: false,
                families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
                import: Policy::Reject,
                export: Policy::Reject,
                hold_time: None,
                max_prefix: Some(MaxPrefix {
                    limit: 100,
                    action: MaxPrefixAction::Teardown,
                    restart: Some(30),
                }),
                next_hop_self: false,
                ebgp_multihop: 1,
                ttl_security: false,
                password: None,
                bfd: Some(Bfd {
                    interval_ms: 300,
                    multiplier: 3,
                }),
            },
            Neighbor {
                peer: PeerAddress::Address(ip("2001:db8::2")),
                remote_as: RemoteAs::Internal,
                description: None,
                port: 179,
                local_address: None,
                passive: false,
                families: vec![Family::Ipv6Unicast],
                import: Policy::Reject,
                export: Policy::Accept,
                hold_time: None,
                max_prefix: None,
                next_hop_self: false,
                ebgp_multihop: 1,
                ttl_security: false,
                password: None,
                bfd: None,
            },
            Neighbor {
                peer: PeerAddress::Address(ip("192.0.2.9")),
                remote_as: RemoteAs::Asn(65002),
                description: None,
                port: 179,
                local_address: None,
                passive: false,
                families: vec![Family::Ipv4Unicast],
                import: Policy::Reject,
                export: Policy::Reject,
                hold_time: None,
                max_prefix: None,
                next_hop_self: false,
                ebgp_multihop: 1,
                ttl_security: true,
                password: Some(Secret::new("s3cret")),
                bfd: None,
            },
        ],
        prefix_lists: vec![
            PrefixList {
                name: "customers".to_string(),
                entries: vec![
                    PrefixListEntry {
                        action: Action::Permit,
                        prefix: net("10.0.0.0/8"),
                        ge: Some(16),
                        le: Some(24),
                    },
                    PrefixListEntry {
                        action: Action::Deny,
                        prefix: net("0.0.0.0/0"),
                        ge: None,
                        le: Some(32),
                    },
                    PrefixListEntry {
                        action: Action::Permit,
                        prefix: net("2001:db8::/32"),
                        ge: Some(48),
                        le: None,
                    },
                ],
            },
            PrefixList {
                name: "empty".to_string(),
                entries: vec![],
            },
        ],
        fib: Fib {
            kernel: true,
            table: 100,
            protocol: 42,
            stale_time: 30,
            initial_hold: 0,
        },
        source: None,
    };
    assert_eq!(config, expected);
}

#[test]
fn design_doc_example_parses() {
    let config = parse(
        r#"
[router]
asn = 65000
router-id = "10.0.0.1"
listen = ["127.0.0.1:179"]
originate = ["10.1.0.0/24", "2001:db8:1::/48"]

[api]
socket = "/run/clos/closd.sock"

[[neighbor]]
address = "127.0.0.2"
remote-as = 65001
passive = false
families = ["ipv4-unicast", "ipv6-unicast"]
import = "accept"
export = "accept"

[fib]
kernel = false
table = 254
"#,
    );
    assert_eq!(config.neighbors.len(), 1);
    assert_eq!(config.neighbors[0].key(), "127.0.0.2");
}

#[test]
fn router_defaults() {
    let config = parse(MINIMAL);
    let router = &config.router;
    assert_eq!(router.asn, 65000);
    assert_eq!(router.router_id, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(
        router.listen,
        vec![SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 179)]
    );
    assert!(router.originate.is_empty());
    assert_eq!(router.hold_time, 90);
    assert_eq!(router.connect_retry, 5);
    assert_eq!(router.multipath, 1);
    assert!(!router.multipath_relax);
    assert!(router.fast_external_failover);
    assert!(config.neighbors.is_empty());
    assert!(config.prefix_lists.is_empty());
    assert_eq!(config.source, None);
}

#[test]
fn api_and_fib_defaults() {
    let config = parse(MINIMAL);
    assert_eq!(config.api.socket, PathBuf::from("/run/clos/closd.sock"));
    assert_eq!(config.api.tcp, None, "no API on TCP unless configured");
    assert_eq!(
        config.fib,
        Fib {
            kernel: false,
            table: 254,
            protocol: 201,
            stale_time: 120,
            initial_hold: 30,
        }
    );
    // An empty [api] table also gets the default socket.
    let config = parse(&format!("{MINIMAL}\n[api]\n[fib]\n"));
    assert_eq!(config.api.socket, PathBuf::from(DEFAULT_API_SOCKET));
    assert_eq!(config.fib.table, 254);
}

#[test]
fn empty_listen_means_listen_nowhere() {
    let config = parse(&MINIMAL.replace("asn", "listen = []\nasn"));
    assert!(config.router.listen.is_empty());
}

#[test]
fn hold_time_zero_is_allowed() {
    let config = parse(&MINIMAL.replace("asn", "hold-time = 0\nasn"));
    assert_eq!(config.router.hold_time, 0);
}

#[test]
fn neighbor_defaults() {
    let config = parse(&format!(
        "{MINIMAL}\n[[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 65001\n"
    ));
    let neighbor = &config.neighbors[0];
    assert_eq!(neighbor.peer, PeerAddress::Address(ip("192.0.2.2")));
    assert_eq!(neighbor.description, None);
    assert_eq!(neighbor.port, 179);
    assert_eq!(neighbor.local_address, None);
    assert!(!neighbor.passive);
    assert_eq!(neighbor.families, vec![Family::Ipv4Unicast]);
    // RFC 8212: eBGP without policy carries nothing.
    assert_eq!(neighbor.import, Policy::Reject);
    assert_eq!(neighbor.export, Policy::Reject);
    assert_eq!(neighbor.hold_time, None);
    assert_eq!(neighbor.effective_hold_time(&config.router), 90);
    assert_eq!(neighbor.max_prefix, None);
    assert!(!neighbor.next_hop_self);
    assert_eq!(neighbor.ebgp_multihop, 1);
    assert!(!neighbor.ttl_security);
    assert_eq!(neighbor.password, None);
}

#[test]
fn ibgp_defaults_to_accept() {
    let config = parse(&format!(
        "{MINIMAL}\n[[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 65000\n"
    ));
    assert_eq!(config.neighbors[0].import, Policy::Accept);
    assert_eq!(config.neighbors[0].export, Policy::Accept);
}

#[test]
fn family_defaults_follow_the_peer() {
    let config = parse(&format!(
        "{MINIMAL}
[[neighbor]]
address = \"2001:db8::2\"
remote-as = 65001
[[neighbor]]
interface = \"eth1\"
remote-as = 65002
"
    ));
    assert_eq!(config.neighbors[0].families, vec![Family::Ipv6Unicast]);
    assert_eq!(
        config.neighbors[1].families,
        vec![Family::Ipv4Unicast, Family::Ipv6Unicast]
    );
    assert_eq!(config.neighbors[1].key(), "eth1");
}

#[test]
fn max_prefix_action_defaults_to_teardown() {
    let config = parse(&format!(
        "{MINIMAL}\n[[neighbor]]\naddress = \"192.0.2.2\"\nremote-as = 65001\nmax-prefix = 10\n"
    ));
    assert_eq!(
        config.neighbors[0].max_prefix,
        Some(MaxPrefix {
            limit: 10,
            action: MaxPrefixAction::Teardown,
            restart: None
        })
    );
}

#[test]
fn is_ebgp() {
    let config = parse(FULL);
    let local = config.router.asn;
    assert_eq!(config.neighbors[0].is_ebgp(local), Some(true));
    assert_eq!(config.neighbors[0].is_ebgp(65001), Some(false));
    assert_eq!(config.neighbors[1].is_ebgp(local), Some(true));
    assert_eq!(config.neighbors[2].is_ebgp(local), Some(false));
}

#[test]
fn prefix_list_entries_as_tables() {
    // [[prefix-list.entries]] is the same array as an inline one.
    let config = parse(&format!(
        "{MINIMAL}
[[prefix-list]]
name = \"a\"
[[prefix-list.entries]]
prefix = \"10.0.0.0/8\"
le = 24
"
    ));
    assert_eq!(config.prefix_lists[0].entries[0].le, Some(24));
}

#[test]
fn from_file_records_source() {
    let dir = std::env::temp_dir().join(format!("clos-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("closd.toml");
    std::fs::write(&path, MINIMAL).expect("write");
    let config = Config::from_file(&path).expect("valid file");
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn integers_in_other_notations() {
    let config = parse(
        &MINIMAL
            .replace("65000", "65_000")
            .replace("asn", "hold-time = 0x5a\nasn"),
    );
    assert_eq!(config.router.asn, 65000);
    assert_eq!(config.router.hold_time, 90);
}
