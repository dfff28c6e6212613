//! Integration tests against the real kernel, each in its own network
//! namespace (created with `ip netns add`, deleted by a Drop guard).
//!
//! Library calls run on a thread that `setns`-ed into the namespace
//! ([`Netns::run`]); checks use `ip -n NS ...`, the tool an operator would.
//! Needs root and a kernel with nexthop objects (Linux ≥ 5.3).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use clos_fib_kernel::netns::Netns;
use clos_fib_kernel::{
    Change, Config, Error, Event, EventGroup, KernelFib, NextHop, Route, SinglePath, Subscription,
    RTPROT_CLOS,
};
use ipnet::IpNet;

const TABLE: u32 = 100;

/// A namespace with a veth pair `v0`/`v1`, `v0` carrying 10.0.0.1/24 and
/// 2001:db8::1/64, so gateways 10.0.0.x and 2001:db8::x resolve.
struct Lab {
    ns: Netns,
    v0: u32,
}

fn lab() -> Lab {
    let ns = Netns::create("clos-fk-test").expect("create netns");
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"])
        .unwrap();
    ns.ip(&["link", "set", "v0", "up"]).unwrap();
    ns.ip(&["link", "set", "v1", "up"]).unwrap();
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "v0"]).unwrap();
    ns.ip(&["-6", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad"])
        .unwrap();
    let v0 = ifindex(&ns, "v0");
    Lab { ns, v0 }
}

fn ifindex(ns: &Netns, name: &str) -> u32 {
    let out = ns.ip(&["-o", "link", "show", name]).unwrap();
    out.split(':').next().unwrap().trim().parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn v4(gateway: &str, ifindex: u32) -> NextHop {
    NextHop::new(gateway.parse().unwrap(), Some(ifindex))
}

fn upsert(prefix: &str, next_hops: Vec<NextHop>) -> Change {
    Change::Upsert(Route::new(net(prefix), next_hops))
}

fn open(lab: &Lab) -> KernelFib {
    lab.ns
        .run(|| KernelFib::open(TABLE, RTPROT_CLOS))
        .unwrap()
        .unwrap()
}

/// Runs `f` with a `KernelFib` opened inside the lab's namespace.
fn with_fib<T: Send>(lab: &Lab, config: Config, f: impl FnOnce(&mut KernelFib) -> T + Send) -> T {
    lab.ns
        .run(move || {
            let mut fib = KernelFib::open_with(config).expect("open");
            f(&mut fib)
        })
        .unwrap()
}

/// Our protocol shows as `proto 201` whatever name the machine's
/// `/etc/iproute2/rt_protos.d` gives it (closd names it "clos").
fn routes(lab: &Lab, family: &str) -> String {
    lab.ns
        .ip(&[family, "route", "show", "table", &TABLE.to_string()])
        .unwrap()
        .replace(" proto clos ", " proto 201 ")
}

fn nexthops(lab: &Lab) -> Vec<String> {
    lab.ns
        .ip(&["nexthop", "show"])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn installs_and_removes_ipv4_and_ipv6_routes() {
    let lab = lab();
    let v0 = lab.v0;
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        fib.apply(&[
            upsert("192.0.2.0/24", vec![v4("10.0.0.2", v0)]),
            upsert("2001:db8:1::/48", vec![v4("2001:db8::2", v0)]),
        ])
        .unwrap()
    });
    assert!(failed.is_empty(), "{failed:?}");
    let v4_routes = routes(&lab, "-4");
    assert!(v4_routes.contains("192.0.2.0/24"), "{v4_routes}");
    assert!(
        v4_routes.contains("via 10.0.0.2 dev v0 proto 201 metric 20"),
        "{v4_routes}"
    );
    let v6_routes = routes(&lab, "-6");
    assert!(v6_routes.contains("2001:db8:1::/48"), "{v6_routes}");
    assert!(
        v6_routes.contains("via 2001:db8::2 dev v0 proto 201 metric 20"),
        "{v6_routes}"
    );

    // A second instance sees them (adoption) and removes them.
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), |fib| {
        assert_eq!(fib.stats().routes, 2);
        fib.apply(&[
            Change::Remove(net("192.0.2.0/24")),
            Change::Remove(net("2001:db8:1::/48")),
        ])
        .unwrap()
    });
    assert!(failed.is_empty(), "{failed:?}");
    assert!(!routes(&lab, "-4").contains("192.0.2.0"));
    assert!(!routes(&lab, "-6").contains("2001:db8:1::"));
    assert!(nexthops(&lab).is_empty(), "{:?}", nexthops(&lab));
}

#[test]
fn ipv4_route_via_ipv6_gateway() {
    let lab = lab();
    let v0 = lab.v0;
    for mode in [SinglePath::NexthopObject, SinglePath::Inline] {
        let mut config = Config::new(TABLE, RTPROT_CLOS);
        config.single_path = mode;
        let failed = with_fib(&lab, config, move |fib| {
            let failed = fib
                .apply(&[upsert("198.51.100.0/24", vec![v4("2001:db8::2", v0)])])
                .unwrap();
            let dumped = fib.dump().unwrap();
            assert_eq!(
                dumped,
                vec![Route::new(
                    net("198.51.100.0/24"),
                    vec![v4("2001:db8::2", v0)]
                )]
            );
            failed
        });
        assert!(failed.is_empty(), "{mode:?}: {failed:?}");
        let shown = routes(&lab, "-4");
        assert!(
            shown.contains("198.51.100.0/24") && shown.contains("via inet6 2001:db8::2 dev v0"),
            "{mode:?}: {shown}"
        );
        with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), |fib| {
            assert_eq!(fib.remove_stale(&HashSet::new()).unwrap(), 1);
        });
    }
}

#[test]
fn ecmp_route_uses_one_group_of_two_members() {
    let lab = lab();
    let v0 = lab.v0;
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        let failed = fib
            .apply(&[upsert(
                "203.0.113.0/24",
                vec![v4("10.0.0.2", v0), v4("10.0.0.3", v0)],
            )])
            .unwrap();
        let stats = fib.stats();
        assert_eq!((stats.nexthops, stats.groups), (2, 1));
        failed
    });
    assert!(failed.is_empty(), "{failed:?}");
    let nh = nexthops(&lab);
    let groups: Vec<&String> = nh.iter().filter(|l| l.contains("group")).collect();
    assert_eq!(groups.len(), 1, "{nh:?}");
    let members = groups[0].split_whitespace().nth(3).unwrap();
    assert_eq!(members.split('/').count(), 2, "{nh:?}");
    assert!(
        nh.iter().any(|l| l.contains("via 10.0.0.2 dev v0")),
        "{nh:?}"
    );
    assert!(
        nh.iter().any(|l| l.contains("via 10.0.0.3 dev v0")),
        "{nh:?}"
    );
    let group_id = groups[0].split_whitespace().nth(1).unwrap();
    let shown = routes(&lab, "-4");
    assert!(
        shown.contains(&format!("203.0.113.0/24 nhid {group_id}")),
        "{shown}"
    );
}

#[test]
fn thousand_routes_with_one_ecmp_set_share_one_group() {
    let lab = lab();
    let v0 = lab.v0;
    let set: Vec<NextHop> = (2..6).map(|i| v4(&format!("10.0.0.{i}"), v0)).collect();
    let changes: Vec<Change> = (0..1000u32)
        .map(|i| upsert(&format!("100.{}.{}.0/24", i / 256, i % 256), set.clone()))
        .collect();
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        fib.apply(&changes).unwrap()
    });
    assert!(failed.is_empty(), "{failed:?}");
    let nh = nexthops(&lab);
    assert_eq!(
        nh.iter().filter(|l| l.contains("group")).count(),
        1,
        "{nh:?}"
    );
    assert_eq!(nh.len(), 5, "{nh:?}");
    let shown = routes(&lab, "-4");
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("100.")).count(),
        1000
    );

    // Moving half of them to a new set creates one more group; removing
    // the rest deletes the first group and its unused members.
    let new_set: Vec<NextHop> = (6..8).map(|i| v4(&format!("10.0.0.{i}"), v0)).collect();
    let mut changes: Vec<Change> = (0..500u32)
        .map(|i| {
            upsert(
                &format!("100.{}.{}.0/24", i / 256, i % 256),
                new_set.clone(),
            )
        })
        .collect();
    changes.extend(
        (500..1000u32).map(|i| Change::Remove(net(&format!("100.{}.{}.0/24", i / 256, i % 256)))),
    );
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        let failed = fib.apply(&changes).unwrap();
        assert_eq!(fib.stats().groups, 1);
        assert_eq!(fib.stats().nexthops, 2);
        failed
    });
    assert!(failed.is_empty(), "{failed:?}");
    let nh = nexthops(&lab);
    assert_eq!(nh.len(), 3, "{nh:?}");
    assert!(nh.iter().all(|l| !l.contains("10.0.0.2 ")), "{nh:?}");
}

#[test]
fn rejected_route_is_reported_and_the_rest_installed() {
    let lab = lab();
    let v0 = lab.v0;
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        fib.apply(&[
            upsert("192.0.2.0/24", vec![v4("10.0.0.2", v0)]),
            // Not on v0's subnet: the kernel refuses the nexthop object.
            upsert("192.0.2.128/25", vec![v4("172.31.0.1", v0)]),
            // No interface and no route to resolve one.
            upsert(
                "198.51.100.0/24",
                vec![NextHop::new("172.31.0.1".parse().unwrap(), None)],
            ),
            // ECMP with one bad member fails as a whole.
            upsert(
                "203.0.113.0/24",
                vec![v4("10.0.0.3", v0), v4("172.31.0.2", v0)],
            ),
            upsert("2001:db8:2::/48", vec![v4("2001:db8::2", v0)]),
        ])
        .unwrap()
    });
    let mut prefixes: Vec<String> = failed.iter().map(|(p, _)| p.to_string()).collect();
    prefixes.sort();
    assert_eq!(
        prefixes,
        vec!["192.0.2.128/25", "198.51.100.0/24", "203.0.113.0/24"],
        "{failed:?}"
    );
    for (prefix, error) in &failed {
        match prefix.to_string().as_str() {
            "198.51.100.0/24" => assert!(matches!(error, Error::Unresolvable { .. }), "{error}"),
            _ => {
                let kind = std::io::Error::from_raw_os_error(error.errno().unwrap()).kind();
                assert_eq!(kind, std::io::ErrorKind::NetworkUnreachable, "{error}");
                assert!(
                    error.to_string().contains("kernel refused add nexthop"),
                    "{error}"
                );
            }
        }
    }
    let shown = routes(&lab, "-4");
    assert!(shown.contains("192.0.2.0/24"), "{shown}");
    assert!(!shown.contains("192.0.2.128/25"), "{shown}");
    assert!(routes(&lab, "-6").contains("2001:db8:2::/48"));
    // The failed objects left nothing behind.
    assert_eq!(nexthops(&lab).len(), 2, "{:?}", nexthops(&lab));
}

#[test]
fn dump_returns_only_our_protocol() {
    let lab = lab();
    let v0 = lab.v0;
    let table = TABLE.to_string();
    lab.ns
        .ip(&[
            "route",
            "add",
            "10.9.0.0/16",
            "via",
            "10.0.0.9",
            "proto",
            "static",
            "table",
            &table,
        ])
        .unwrap();
    lab.ns
        .ip(&[
            "route",
            "add",
            "10.8.0.0/16",
            "via",
            "10.0.0.9",
            "proto",
            "bird",
            "table",
            &table,
        ])
        .unwrap();
    lab.ns
        .ip(&[
            "route",
            "add",
            "10.7.0.0/16",
            "via",
            "10.0.0.9",
            "proto",
            "201",
            "table",
            "200",
        ])
        .unwrap();
    let dumped = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        let failed = fib
            .apply(&[
                upsert("10.1.0.0/16", vec![v4("10.0.0.2", v0)]),
                upsert("10.2.0.0/16", vec![v4("10.0.0.2", v0), v4("10.0.0.3", v0)]),
            ])
            .unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        fib.dump().unwrap()
    });
    let mut prefixes: Vec<String> = dumped.iter().map(|r| r.prefix.to_string()).collect();
    prefixes.sort();
    assert_eq!(prefixes, vec!["10.1.0.0/16", "10.2.0.0/16"]);
    let ecmp = dumped
        .iter()
        .find(|r| r.prefix == net("10.2.0.0/16"))
        .unwrap();
    let mut gateways: Vec<IpAddr> = ecmp.next_hops.iter().map(NextHop::gateway).collect();
    gateways.sort();
    assert_eq!(
        gateways,
        ["10.0.0.2", "10.0.0.3"].map(|g| g.parse::<IpAddr>().unwrap())
    );
}

#[test]
fn remove_stale_leaves_other_protocols_alone() {
    let lab = lab();
    let v0 = lab.v0;
    let table = TABLE.to_string();
    lab.ns
        .ip(&[
            "route",
            "add",
            "10.9.0.0/16",
            "via",
            "10.0.0.9",
            "proto",
            "static",
            "table",
            &table,
        ])
        .unwrap();
    // Same prefix as one of ours, other protocol, other metric.
    lab.ns
        .ip(&[
            "route",
            "add",
            "10.1.0.0/16",
            "via",
            "10.0.0.9",
            "proto",
            "static",
            "metric",
            "5",
            "table",
            &table,
        ])
        .unwrap();
    let removed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        let failed = fib
            .apply(&[upsert("10.1.0.0/16", vec![v4("10.0.0.2", v0)])])
            .unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        fib.remove_stale(&HashSet::new()).unwrap()
    });
    assert_eq!(removed, 1);
    let shown = routes(&lab, "-4");
    assert!(
        shown.contains("10.9.0.0/16 via 10.0.0.9 dev v0 proto static"),
        "{shown}"
    );
    assert!(
        shown.contains("10.1.0.0/16 via 10.0.0.9 dev v0 proto static metric 5"),
        "{shown}"
    );
    assert!(!shown.contains("proto 201"), "{shown}");
}

#[test]
fn foreign_route_at_same_prefix_and_metric_is_not_replaced() {
    let lab = lab();
    let v0 = lab.v0;
    let table = TABLE.to_string();
    lab.ns
        .ip(&[
            "route",
            "add",
            "10.1.0.0/16",
            "via",
            "10.0.0.9",
            "proto",
            "static",
            "metric",
            "20",
            "table",
            &table,
        ])
        .unwrap();
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        fib.apply(&[upsert("10.1.0.0/16", vec![v4("10.0.0.2", v0)])])
            .unwrap()
    });
    assert_eq!(failed.len(), 1);
    assert!(
        matches!(failed[0].1, Error::ForeignRoute { .. }),
        "{:?}",
        failed
    );
    let shown = routes(&lab, "-4");
    assert!(
        shown.contains("10.1.0.0/16 via 10.0.0.9 dev v0 proto static metric 20"),
        "{shown}"
    );
    assert!(nexthops(&lab).is_empty(), "{:?}", nexthops(&lab));
}

#[test]
fn restart_adopts_routes_and_removes_only_stale_ones() {
    let lab = lab();
    let v0 = lab.v0;
    let ecmp = vec![v4("10.0.0.2", v0), v4("10.0.0.3", v0)];
    let first = {
        let ecmp = ecmp.clone();
        move |fib: &mut KernelFib| {
            fib.apply(&[
                upsert("10.1.0.0/16", ecmp.clone()),
                upsert("10.2.0.0/16", ecmp.clone()),
                upsert("10.3.0.0/16", vec![v4("10.0.0.4", v0)]),
                upsert("2001:db8:3::/48", vec![v4("2001:db8::2", v0)]),
            ])
            .unwrap()
        }
    };
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), first);
    assert!(failed.is_empty(), "{failed:?}");
    let before = nexthops(&lab);
    // An orphan nexthop of ours, as a crash between phases would leave.
    lab.ns
        .ip(&[
            "nexthop",
            "add",
            "id",
            "3254779888",
            "via",
            "10.0.0.9",
            "dev",
            "v0",
            "proto",
            "201",
        ])
        .unwrap();

    // "Restart": a new instance adopts everything, and the orphan goes.
    let mut second = open(&lab);
    assert_eq!(nexthops(&lab), before);
    let (dumped, stats) = lab
        .ns
        .run(|| (second.dump().unwrap(), second.stats()))
        .unwrap();
    assert_eq!(dumped.len(), 4);
    assert_eq!((stats.routes, stats.nexthops, stats.groups), (4, 4, 1));

    // Sessions come back with 10.1 and 10.2 unchanged: nothing is sent.
    let (failed, removed) = lab
        .ns
        .run(|| {
            let failed = second
                .apply(&[
                    upsert("10.1.0.0/16", ecmp.clone()),
                    upsert("10.2.0.0/16", ecmp.clone()),
                ])
                .unwrap();
            let keep: HashSet<IpNet> = [net("10.1.0.0/16"), net("10.2.0.0/16")].into();
            (failed, second.remove_stale(&keep).unwrap())
        })
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(removed, 2);
    let shown = routes(&lab, "-4");
    assert!(
        shown.contains("10.1.0.0/16") && shown.contains("10.2.0.0/16"),
        "{shown}"
    );
    assert!(!shown.contains("10.3.0.0/16"), "{shown}");
    assert!(!routes(&lab, "-6").contains("2001:db8:3::"));
    // The single-path objects of the removed routes are gone; the group stays.
    let nh = nexthops(&lab);
    assert_eq!(nh.len(), 3, "{nh:?}");
    assert!(nh.iter().all(|l| !l.contains("10.0.0.4")), "{nh:?}");
}

#[test]
fn replacing_next_hops_collects_the_old_group() {
    let lab = lab();
    let v0 = lab.v0;
    with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        let p = "10.5.0.0/16";
        assert!(fib
            .apply(&[upsert(p, vec![v4("10.0.0.2", v0), v4("10.0.0.3", v0)])])
            .unwrap()
            .is_empty());
        assert!(fib
            .apply(&[upsert(p, vec![v4("10.0.0.4", v0)])])
            .unwrap()
            .is_empty());
        let stats = fib.stats();
        assert_eq!((stats.routes, stats.nexthops, stats.groups), (1, 1, 0));
        // Duplicate prefixes in one batch: the last change wins.
        assert!(fib
            .apply(&[upsert(p, vec![v4("10.0.0.2", v0)]), Change::Remove(net(p))])
            .unwrap()
            .is_empty());
        assert!(!fib.is_installed(&net(p)));
    });
    assert!(nexthops(&lab).is_empty(), "{:?}", nexthops(&lab));
    assert!(!routes(&lab, "-4").contains("10.5.0.0"));
}

#[test]
fn invalid_routes_are_refused_without_a_kernel_call() {
    let lab = lab();
    let v0 = lab.v0;
    let failed = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        fib.apply(&[
            upsert("2001:db8:9::/48", vec![v4("10.0.0.2", v0)]),
            upsert("10.6.0.0/16", vec![]),
            upsert(
                "10.7.0.0/16",
                vec![NextHop::new("fe80::1".parse().unwrap(), None)],
            ),
        ])
        .unwrap()
    });
    assert_eq!(failed.len(), 3);
    assert!(failed
        .iter()
        .all(|(_, e)| matches!(e, Error::InvalidRoute { .. })));
}

#[test]
fn lookup_route_resolves_through_connected_and_static_routes() {
    let lab = lab();
    let v0 = lab.v0;
    lab.ns
        .ip(&[
            "route",
            "add",
            "172.16.0.0/16",
            "via",
            "10.0.0.2",
            "proto",
            "static",
        ])
        .unwrap();
    with_fib(&lab, Config::new(254, RTPROT_CLOS), move |fib| {
        let connected = fib
            .lookup_route("10.0.0.7".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!((connected.gateway, connected.ifindex), (None, v0));
        let via = fib
            .lookup_route("172.16.3.4".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(via.gateway, Some("10.0.0.2".parse().unwrap()));
        assert_eq!((via.ifindex, via.protocol, via.table), (v0, 4, 254));
        assert_eq!(via.prefix, net("172.16.0.0/16"));
        let v6 = fib
            .lookup_route("2001:db8::5".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(v6.ifindex, v0);
        assert_eq!(
            fib.lookup_route("192.0.2.1".parse().unwrap()).unwrap(),
            None
        );
        // A next hop without an interface is resolved the same way.
        let failed = fib
            .apply(&[upsert(
                "10.4.0.0/16",
                vec![NextHop::new("10.0.0.2".parse().unwrap(), None)],
            )])
            .unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(
            fib.installed().collect::<Vec<_>>(),
            vec![Route::new(net("10.4.0.0/16"), vec![v4("10.0.0.2", v0)])]
        );
    });
}

#[test]
fn notifications_report_links_addresses_and_routes() {
    let lab = lab();
    let name = lab.ns.name().to_owned();
    let events = lab
        .ns
        .run(move || {
            let mut events = Subscription::open(&[
                EventGroup::Link,
                EventGroup::Ipv4Address,
                EventGroup::Ipv4Route,
            ])
            .unwrap();
            events
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let ip = |args: &[&str]| {
                let status = std::process::Command::new("ip")
                    .args(["-n", &name])
                    .args(args)
                    .status()
                    .unwrap();
                assert!(status.success());
            };
            ip(&["link", "add", "w0", "type", "veth", "peer", "name", "w1"]);
            ip(&["addr", "add", "10.20.0.1/24", "dev", "w0"]);
            ip(&[
                "route",
                "add",
                "10.30.0.0/16",
                "via",
                "10.0.0.2",
                "proto",
                "static",
            ]);
            let mut seen = Vec::new();
            while let Some(Ok(event)) = events.next() {
                let last = matches!(event, Event::RouteAdded { protocol: 4, .. });
                seen.push(event);
                if last {
                    break;
                }
            }
            seen
        })
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LinkChanged { name, .. } if name == "w0")),
        "{events:?}"
    );
    assert!(
        events.contains(&Event::AddressAdded {
            ifindex: ifindex(&lab.ns, "w0"),
            address: net("10.20.0.1/24"),
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&Event::RouteAdded {
            prefix: net("10.30.0.0/16"),
            table: 254,
            protocol: 4,
        }),
        "{events:?}"
    );
}

#[test]
fn resync_after_the_kernel_dropped_our_nexthops() {
    let lab = lab();
    let v0 = lab.v0;
    let mut fib = open(&lab);
    let changes = vec![
        upsert("10.1.0.0/16", vec![v4("10.0.0.2", v0), v4("10.0.0.3", v0)]),
        upsert("10.2.0.0/16", vec![v4("10.0.0.4", v0)]),
    ];
    let failed = lab.ns.run(|| fib.apply(&changes).unwrap()).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    // A link flap: the kernel flushes nexthops (and their routes) on v0.
    lab.ns.ip(&["link", "set", "v0", "down"]).unwrap();
    lab.ns.ip(&["link", "set", "v0", "up"]).unwrap();
    assert!(!routes(&lab, "-4").contains("10.1.0.0/16"));
    let stats = lab
        .ns
        .run(|| {
            fib.resync().unwrap();
            let stats = fib.stats();
            let failed = fib.apply(&changes).unwrap();
            assert!(failed.is_empty(), "{failed:?}");
            stats
        })
        .unwrap();
    assert_eq!((stats.routes, stats.groups), (0, 0));
    let shown = routes(&lab, "-4");
    assert!(
        shown.contains("10.1.0.0/16") && shown.contains("10.2.0.0/16"),
        "{shown}"
    );
}

#[test]
fn thousands_of_failures_in_one_pipeline_are_all_reported() {
    // 3,000 static routes at our prefixes and metric: every create fails
    // with EEXIST, so whole chunks come back as error replies.
    let lab = lab();
    let v0 = lab.v0;
    let prefixes: Vec<String> = (0..3000u32)
        .map(|i| format!("100.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let batch = std::env::temp_dir().join(format!("{}.batch", lab.ns.name()));
    let lines: Vec<String> = prefixes
        .iter()
        .map(|p| format!("route add {p} via 10.0.0.9 proto static metric 20 table {TABLE}"))
        .collect();
    std::fs::write(&batch, lines.join("\n") + "\n").unwrap();
    lab.ns.ip_batch(&batch).unwrap();
    std::fs::remove_file(&batch).unwrap();
    let mut changes: Vec<Change> = prefixes
        .iter()
        .map(|p| upsert(p, vec![v4("10.0.0.2", v0)]))
        .collect();
    changes.push(upsert("10.1.0.0/16", vec![v4("10.0.0.2", v0)]));
    let (failed, stats) = with_fib(&lab, Config::new(TABLE, RTPROT_CLOS), move |fib| {
        (fib.apply(&changes).unwrap(), fib.stats())
    });
    assert_eq!(failed.len(), 3000);
    assert!(failed
        .iter()
        .all(|(_, e)| matches!(e, Error::ForeignRoute { .. })));
    assert_eq!(stats.routes, 1);
    let shown = routes(&lab, "-4");
    assert_eq!(
        shown.lines().filter(|l| l.contains("proto static")).count(),
        3000
    );
    assert!(shown.contains("10.1.0.0/16 nhid"), "{shown}");
}
