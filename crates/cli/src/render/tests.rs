//! Golden-string tests of the human layouts and key tests of the JSON
//! contract.

use super::*;

fn neighbor_summary() -> pb::NeighborSummary {
    pb::NeighborSummary {
        address: "10.0.0.2".into(),
        remote_as: 65001,
        state: "Established".into(),
        uptime_seconds: 192,
        prefixes_received: 3,
        prefixes_accepted: 2,
        prefixes_advertised: 1,
        messages_received: 120,
        messages_sent: 118,
        description: "spine1".into(),
        last_error: String::new(),
    }
}

#[test]
fn durations() {
    assert_eq!(duration(0), "00:00:00");
    assert_eq!(duration(192), "00:03:12");
    assert_eq!(duration(86_399), "23:59:59");
    assert_eq!(duration(2 * 86_400 + 3 * 3600 + 59), "2d03h");
    assert_eq!(duration(23 * 86_400 + 5 * 3600), "3w2d05h");
}

#[test]
fn summary_table() {
    let summary = pb::Summary {
        asn: 65000,
        router_id: "10.0.0.1".into(),
        loc_rib_prefixes: 3,
        loc_rib_paths: 4,
        neighbors: vec![
            neighbor_summary(),
            pb::NeighborSummary {
                address: "2001:db8::2".into(),
                remote_as: 4_200_000_000,
                state: "Active".into(),
                uptime_seconds: 2 * 86_400 + 3 * 3600,
                ..Default::default()
            },
            pb::NeighborSummary {
                address: "eth1".into(),
                state: "Idle".into(),
                ..Default::default()
            },
        ],
    };
    assert_eq!(
        super::summary(&summary),
        "\
BGP router identifier 10.0.0.1, local AS number 65000
Loc-RIB: 3 prefixes, 4 paths

Neighbor             AS  State         Up/Down  PfxRcd  PfxAcc  PfxSnt  MsgRcvd  MsgSent  Description
10.0.0.2          65001  Established  00:03:12       3       2       1      120      118  spine1
2001:db8::2  4200000000  Active          2d03h       0       0       0        0        0
eth1                  -  Idle         00:00:00       0       0       0        0        0

Total number of neighbors 3
"
    );
}

#[test]
fn summary_without_neighbors() {
    assert_eq!(
        super::summary(&pb::Summary::default()),
        "\
BGP router identifier -, local AS number 0
Loc-RIB: 0 prefixes, 0 paths

No neighbors configured.
"
    );
}

#[test]
fn neighbor_detail_block() {
    let detail = pb::NeighborDetail {
        summary: Some(neighbor_summary()),
        local_address: "10.0.0.1".into(),
        local_port: 179,
        remote_port: 40312,
        remote_router_id: "10.0.0.2".into(),
        hold_time: 90,
        keepalive_time: 30,
        configured_hold_time: 90,
        families: vec!["ipv4-unicast".into(), "ipv6-unicast".into()],
        local_capabilities: vec!["4-octet-as 65000".into(), "route-refresh".into()],
        remote_capabilities: vec!["4-octet-as 65001".into()],
        passive: false,
        import_policy: "accept".into(),
        export_policy: "accept".into(),
        updates_received: 5,
        updates_sent: 3,
        notifications_received: 0,
        notifications_sent: 1,
        keepalives_received: 114,
        keepalives_sent: 113,
        route_refresh_received: 0,
        route_refresh_sent: 0,
        established_transitions: 2,
        last_notification_sent: "6/4 administrative reset".into(),
        last_notification_received: String::new(),
        max_keepalive_delay_ms: 12,
        peer_type: "external".into(),
        max_prefix: 0,
        withdrawn_treated: 1,
        attributes_discarded: 0,
        remote_address: "10.0.0.2".into(),
        bfd_state: "Up".into(),
        bfd_detect_ms: 150,
    };
    assert_eq!(
        neighbor(&detail),
        "\
BGP neighbor is 10.0.0.2, remote AS 65001, external link
  Description: spine1
  BGP state = Established, for 00:03:12
  Remote router ID 10.0.0.2, established 2 time(s)
  Local address 10.0.0.1, local port 179, remote port 40312
  Remote address 10.0.0.2
  BFD Up, detection time 150 ms
  Hold time 90 s (configured 90 s), keepalive interval 30 s, worst keepalive delay 12 ms
  Address families: ipv4-unicast, ipv6-unicast
  Capabilities:
    Local:  4-octet-as 65000, route-refresh
    Remote: 4-octet-as 65001
  Policy: import accept, export accept
  Prefixes: received 3, accepted 2, advertised 1, maximum none
  RFC 7606: 1 updates treated as withdraw, 0 attributes discarded
  Messages:
                    Sent  Rcvd
    Updates:           3     5
    Notifications:     1     0
    Keepalives:      113   114
    Route refresh:     0     0
    Total:           118   120
  Last notification sent: 6/4 administrative reset
  Last notification received: none
  Last error: none
"
    );
}

#[test]
fn neighbor_detail_of_an_empty_message_does_not_panic() {
    let text = neighbor(&pb::NeighborDetail::default());
    assert!(
        text.starts_with("BGP neighbor is -, remote AS -\n"),
        "{text}"
    );
}

#[test]
fn routes_table_groups_paths_under_their_prefix() {
    let path = |prefix: &str, next_hop: &str, peer: &str| pb::Route {
        prefix: prefix.into(),
        next_hop: next_hop.into(),
        peer: peer.into(),
        origin: "igp".into(),
        has_local_pref: true,
        local_pref: 100,
        family: "ipv4-unicast".into(),
        ..Default::default()
    };
    let list = pb::RouteList {
        routes: vec![
            pb::Route {
                best: true,
                multipath: true,
                as_path: "65001 65010".into(),
                has_med: true,
                med: 0,
                ..path("10.1.0.0/24", "10.0.0.2", "10.0.0.2")
            },
            pb::Route {
                multipath: true,
                as_path: "65002 65010".into(),
                ..path("10.1.0.0/24", "10.0.0.3", "10.0.0.3")
            },
            pb::Route {
                as_path: "65003 65004 {65005,65006}".into(),
                origin: "incomplete".into(),
                has_med: true,
                med: 50,
                reason: "as-path length".into(),
                ..path("10.1.0.0/24", "10.0.0.4", "10.0.0.4")
            },
            pb::Route {
                best: true,
                has_local_pref: false,
                ..path("10.9.0.0/16", "0.0.0.0", "local")
            },
            pb::Route {
                best: true,
                as_path: "65001".into(),
                origin: "egp".into(),
                family: "ipv6-unicast".into(),
                ..path("2001:db8:1::/48", "fe80::1%eth1", "eth1")
            },
        ],
    };
    assert_eq!(
        routes(&list),
        "\
Status codes: * valid, > best, = multipath
Origin codes: i - IGP, e - EGP, ? - incomplete

    Network          Next Hop      MED  LocPrf  Path                         Peer
*>  10.1.0.0/24      10.0.0.2        0     100  65001 65010 i                10.0.0.2
*=                   10.0.0.3              100  65002 65010 i                10.0.0.3
*                    10.0.0.4       50     100  65003 65004 {65005,65006} ?  10.0.0.4
*>  10.9.0.0/16      0.0.0.0                    i                            local
*>  2001:db8:1::/48  fe80::1%eth1          100  65001 e                      eth1

Displayed 3 prefixes, 5 paths
"
    );
}

#[test]
fn empty_route_list() {
    assert_eq!(routes(&pb::RouteList::default()), "No BGP routes.\n");
}

/// The `--json` contract: every proto field is a key, even at its default
/// value, under its proto (snake_case) name; 64-bit counters are numbers.
mod json_contract {
    use super::*;
    use serde_json::Value;

    fn keys(value: &Value) -> Vec<String> {
        value
            .as_object()
            .expect("a JSON object")
            .keys()
            .cloned()
            .collect()
    }

    fn parsed<T: Serialize>(message: &T) -> Value {
        serde_json::from_str(&json(message)).expect("valid JSON")
    }

    const NEIGHBOR_SUMMARY_KEYS: [&str; 11] = [
        "address",
        "remote_as",
        "state",
        "uptime_seconds",
        "prefixes_received",
        "prefixes_accepted",
        "prefixes_advertised",
        "messages_received",
        "messages_sent",
        "description",
        "last_error",
    ];

    fn sorted(mut keys: Vec<String>) -> Vec<String> {
        keys.sort();
        keys
    }

    fn expected(names: &[&str]) -> Vec<String> {
        sorted(names.iter().map(|name| name.to_string()).collect())
    }

    #[test]
    fn summary_keys() {
        let value = parsed(&pb::Summary {
            neighbors: vec![pb::NeighborSummary::default()],
            ..Default::default()
        });
        assert_eq!(
            sorted(keys(&value)),
            expected(&[
                "asn",
                "router_id",
                "loc_rib_prefixes",
                "loc_rib_paths",
                "neighbors"
            ])
        );
        assert_eq!(
            sorted(keys(&value["neighbors"][0])),
            expected(&NEIGHBOR_SUMMARY_KEYS)
        );
        assert_eq!(value["neighbors"][0]["prefixes_received"], Value::from(0));
        assert_eq!(value["loc_rib_paths"], Value::from(0));
    }

    #[test]
    fn neighbor_detail_keys_with_absent_summary() {
        let value = parsed(&pb::NeighborDetail::default());
        assert_eq!(
            sorted(keys(&value)),
            expected(&[
                "summary",
                "local_address",
                "local_port",
                "remote_port",
                "remote_router_id",
                "hold_time",
                "keepalive_time",
                "configured_hold_time",
                "families",
                "local_capabilities",
                "remote_capabilities",
                "passive",
                "import_policy",
                "export_policy",
                "updates_received",
                "updates_sent",
                "notifications_received",
                "notifications_sent",
                "keepalives_received",
                "keepalives_sent",
                "route_refresh_received",
                "route_refresh_sent",
                "established_transitions",
                "last_notification_sent",
                "last_notification_received",
                "max_keepalive_delay_ms",
                "peer_type",
                "max_prefix",
                "withdrawn_treated",
                "attributes_discarded",
                "remote_address",
                "bfd_state",
                "bfd_detect_ms",
            ])
        );
        // An absent nested message still shows all of its keys.
        assert_eq!(
            sorted(keys(&value["summary"])),
            expected(&NEIGHBOR_SUMMARY_KEYS)
        );
        assert_eq!(value["families"], Value::Array(vec![]));
        assert_eq!(value["passive"], Value::Bool(false));
    }

    #[test]
    fn route_list_keys() {
        let value = parsed(&pb::RouteList {
            routes: vec![pb::Route::default()],
        });
        assert_eq!(keys(&value), vec!["routes".to_string()]);
        assert_eq!(
            sorted(keys(&value["routes"][0])),
            expected(&[
                "prefix",
                "best",
                "next_hop",
                "peer",
                "peer_asn",
                "as_path",
                "origin",
                "has_med",
                "med",
                "has_local_pref",
                "local_pref",
                "communities",
                "large_communities",
                "extended_communities",
                "age_seconds",
                "reason",
                "multipath",
                "family",
            ])
        );
        assert_eq!(
            parsed(&pb::RouteList::default()),
            serde_json::json!({ "routes": [] })
        );
    }

    #[test]
    fn large_counters_are_json_numbers() {
        let value = parsed(&pb::Summary {
            loc_rib_paths: u64::MAX,
            ..Default::default()
        });
        assert!(value["loc_rib_paths"].is_u64());
        assert_eq!(value["loc_rib_paths"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn originate_reply() {
        assert_eq!(
            parsed(&pb::OriginateReply { changed: true }),
            serde_json::json!({ "changed": true })
        );
    }
}
