//! Two of us on a veth pair between two network namespaces.
//!
//! Needs root and `ip netns`; prints `SKIP:` and passes otherwise.

mod common;

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use clos_nd::packet::RouterAdvertisement;
use clos_nd::{lookup, Neighbor, ALL_NODES};
use common::{netns_usable, options, parse_mac, veth, wait_until, Netns};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Sends `advertisement` on `dev` from inside `ns`, with IPv6 hop limit
/// `hop_limit`, from `source` (else the kernel's choice).
fn send_advertisement(
    ns: &Netns,
    dev: &str,
    advertisement: &RouterAdvertisement,
    hop_limit: u32,
    source: Option<Ipv6Addr>,
) {
    let bytes = advertisement.encode();
    ns.run(|| {
        let link = lookup(dev).expect("netlink").expect("interface exists");
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)).unwrap();
        socket.bind_device(Some(dev.as_bytes())).unwrap();
        socket.set_multicast_hops_v6(hop_limit).unwrap();
        if let Some(source) = source {
            let scope = if source.segments()[0] == 0xfe80 {
                link.ifindex
            } else {
                0
            };
            socket
                .bind(&SockAddr::from(SocketAddrV6::new(source, 0, 0, scope)))
                .unwrap();
        }
        let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, link.ifindex));
        socket.send_to(&bytes, &to).unwrap();
    });
}

fn default_routes(ns: &Netns) -> String {
    ns.ip(&["-6", "route", "show", "default"])
}

#[test]
fn peers_learn_each_other_and_do_not_become_default_routers() {
    if !netns_usable("peers_learn_each_other_and_do_not_become_default_routers") {
        return;
    }
    let a = Netns::create("nd-a", false);
    let b = Netns::create("nd-b", false);
    veth(&a, "veth-a", &b, "veth-b");
    let (a_address, b_address) = (a.wait_link_local("veth-a"), b.wait_link_local("veth-b"));
    let (a_mac, b_mac) = (a.mac("veth-a"), b.mac("veth-b"));
    let (a_index, b_index) = (a.ifindex("veth-a"), b.ifindex("veth-b"));

    // `lookup` sees what `ip` sees, in the namespace of the calling thread.
    let link = a.run(|| lookup("veth-a")).unwrap().expect("veth-a exists");
    assert_eq!(link.ifindex, a_index);
    assert_eq!(link.link_local, Some(a_address));
    assert_eq!(link.mac, Some(a_mac));
    assert!(link.up);
    assert_eq!(a.run(|| lookup("nope0")).unwrap(), None);

    let in_a = a.start_discovery(&["veth-a"], options(Duration::from_secs(2)));
    let in_b = b.start_discovery(&["veth-b"], options(Duration::from_secs(2)));

    let expected_in_a = Neighbor {
        address: b_address,
        ifindex: a_index,
        mac: Some(b_mac),
    };
    let expected_in_b = Neighbor {
        address: a_address,
        ifindex: b_index,
        mac: Some(a_mac),
    };
    in_a.wait_neighbor("A to learn B", "veth-a", |n| n == Some(expected_in_a));
    in_b.wait_neighbor("B to learn A", "veth-b", |n| n == Some(expected_in_b));

    let status = in_a.status("veth-a");
    assert_eq!(status.ifindex, Some(a_index));
    assert_eq!(status.link_local, Some(a_address));
    assert_eq!(status.mac, Some(a_mac));
    assert!(status.up);
    assert_eq!(status.neighbor, Some(expected_in_a));
    assert_eq!(status.advertisements_rejected, 0, "{status:?}");
    assert_eq!(in_a.discovery().status(), vec![status]);

    // Several advertisements each way, and still exactly the peer.
    for (running, dev) in [(&in_a, "veth-a"), (&in_b, "veth-b")] {
        running.wait_status("3 advertisements received", dev, |s| {
            s.advertisements_received >= 3
        });
    }
    assert_eq!(in_a.neighbor("veth-a"), Some(expected_in_a));
    assert_eq!(in_b.neighbor("veth-b"), Some(expected_in_b));

    // Both kernels accept RAs (accept_ra=1, forwarding off) and processed
    // ours: they learned the sender's MAC from our option...
    let neighbors = b.ip(&["-6", "neigh", "show", "dev", "veth-b"]);
    let a_mac_text = a_mac.map(|b| format!("{b:02x}")).join(":");
    assert!(
        neighbors
            .lines()
            .any(|l| l.starts_with(&format!("{a_address} ")) && l.contains(&a_mac_text)),
        "B's kernel has no neighbor entry {a_address} lladdr {a_mac_text}:\n{neighbors}"
    );
    // ...but installed no default route: our Router Lifetime is 0.
    assert_eq!(default_routes(&a), "", "default route in A");
    assert_eq!(default_routes(&b), "", "default route in B");

    // Control: the same advertisement with a lifetime does install one, so
    // the check above could have failed.
    let with_lifetime = RouterAdvertisement {
        router_lifetime: 1800,
        ..RouterAdvertisement::unnumbered(Some(a_mac))
    };
    let route = wait_until("a default route in B", Duration::from_secs(30), || {
        send_advertisement(&a, "veth-a", &with_lifetime, 255, Some(a_address));
        let routes = default_routes(&b);
        (!routes.is_empty()).then_some(routes)
    });
    assert!(route.contains(&format!("via {a_address}")), "{route}");
    // It named the same peer, so nothing changed for us.
    assert_eq!(in_b.neighbor("veth-b"), Some(expected_in_b));

    // RFC 4861 §6.1.2 end to end: a hop limit below 255 is refused...
    send_advertisement(&a, "veth-a", &with_lifetime, 64, Some(a_address));
    let status = in_b.wait_status("a rejection", "veth-b", |s| s.advertisements_rejected >= 1);
    let reason = status.last_rejection.unwrap();
    assert!(reason.contains("hop limit 64"), "{reason}");
    // ...and so is a source that is not link-local.
    a.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::a/64",
        "dev",
        "veth-a",
        "nodad",
    ]);
    let global: Ipv6Addr = "2001:db8::a".parse().unwrap();
    send_advertisement(&a, "veth-a", &with_lifetime, 255, Some(global));
    let status = in_b.wait_status("a second rejection", "veth-b", |s| {
        s.advertisements_rejected >= 2
    });
    let reason = status.last_rejection.unwrap();
    assert!(reason.contains("not link-local"), "{reason}");
    assert_eq!(in_b.neighbor("veth-b"), Some(expected_in_b));

    in_a.stop().expect("A ends cleanly");
    in_b.stop().expect("B ends cleanly");
}

#[test]
fn follows_link_down_up_and_a_new_link_local_address() {
    if !netns_usable("follows_link_down_up_and_a_new_link_local_address") {
        return;
    }
    let a = Netns::create("nd-a", false);
    let b = Netns::create("nd-b", false);
    veth(&a, "veth-a", &b, "veth-b");
    let b_address = b.wait_link_local("veth-b");
    a.wait_link_local("veth-a");
    // Only the fast advertisements matter: the periodic ones are an hour
    // apart, so learning anything later proves that coming up (or learning
    // a new peer) sends at once.
    let hourly = options(Duration::from_secs(3600));
    let in_a = a.start_discovery(&["veth-a"], hourly);
    let in_b = b.start_discovery(&["veth-b"], hourly);
    let old = in_a
        .wait_neighbor("A to learn B", "veth-a", |n| {
            n.is_some_and(|n| n.address == b_address)
        })
        .unwrap();
    in_b.wait_neighbor("B to learn A", "veth-b", |n| n.is_some());
    // Let the fast advertisements finish.
    std::thread::sleep(Duration::from_secs(3));

    b.ip(&["link", "set", "veth-b", "down"]);
    in_b.wait_status("B down, not advertising", "veth-b", |s| {
        !s.up && s.link_local.is_none()
    });
    in_a.wait_status("A sees no carrier", "veth-a", |s| {
        !s.up && s.link_local.is_none()
    });
    assert_eq!(in_a.neighbor("veth-a"), Some(old), "a down peer is kept");
    let received_by_b = in_b.status("veth-b").advertisements_received;

    // A new MAC gives B a new EUI-64 link-local address when it comes up.
    let new_mac = "02:00:00:00:00:42";
    b.ip(&["link", "set", "veth-b", "address", new_mac]);
    b.ip(&["link", "set", "veth-b", "up"]);
    let new_address = b.wait_link_local("veth-b");
    assert_ne!(new_address, b_address);
    assert_eq!(new_address, "fe80::ff:fe00:42".parse::<Ipv6Addr>().unwrap());

    let new = in_a.wait_neighbor("A to learn B's new address", "veth-a", |n| {
        n.is_some_and(|n| n.address == new_address)
    });
    assert_eq!(
        new,
        Some(Neighbor {
            address: new_address,
            ifindex: old.ifindex,
            mac: Some(parse_mac(new_mac)),
        })
    );
    // A advertised again when its carrier came back.
    in_a.wait_status("A up again", "veth-a", |s| s.up && s.link_local.is_some());
    in_b.wait_status("B hears A again", "veth-b", |s| {
        s.advertisements_received > received_by_b
    });
    assert_eq!(
        in_b.status("veth-b").link_local,
        Some(new_address),
        "B advertises from its new address"
    );
}

#[test]
fn waits_for_the_interface_keeps_a_silent_peer_and_forgets_a_deleted_one() {
    if !netns_usable("waits_for_the_interface_keeps_a_silent_peer_and_forgets_a_deleted_one") {
        return;
    }
    // Duplicate Address Detection on: link-local addresses are tentative
    // for a while and must not be used until it is done.
    let a = Netns::create("nd-a", true);
    let b = Netns::create("nd-b", true);
    let quick = options(Duration::from_secs(1));
    let in_a = a.start_discovery(&["veth-a"], quick);
    std::thread::sleep(Duration::from_millis(500));
    let status = in_a.status("veth-a");
    assert_eq!(status.ifindex, None);
    assert_eq!(status.link_local, None);

    veth(&a, "veth-a", &b, "veth-b");
    let in_b = b.start_discovery(&["veth-b"], quick);
    let b_address = b.wait_link_local("veth-b");
    let first = in_a
        .wait_neighbor("A to learn B once the link exists", "veth-a", |n| {
            n.is_some_and(|n| n.address == b_address)
        })
        .unwrap();
    assert_eq!(first.ifindex, a.ifindex("veth-a"));
    let status = in_a.status("veth-a");
    assert_eq!(status.send_errors, 0, "{status:?}");

    // B stops advertising: A keeps it (BGP's hold timer decides).
    in_b.stop().expect("B ends cleanly");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(in_a.neighbor("veth-a"), Some(first));

    // The interface goes away: its neighbor is meaningless.
    a.ip(&["link", "del", "veth-a"]);
    in_a.wait_status("A without interface", "veth-a", |s| {
        s.ifindex.is_none() && s.neighbor.is_none()
    });
    assert_eq!(in_a.neighbor("veth-a"), None);

    // Re-created (new index): learned again.
    veth(&a, "veth-a", &b, "veth-b");
    let in_b = b.start_discovery(&["veth-b"], quick);
    let b_address = b.wait_link_local("veth-b");
    let second = in_a
        .wait_neighbor("A to learn B on the new link", "veth-a", |n| {
            n.is_some_and(|n| n.address == b_address)
        })
        .unwrap();
    assert_eq!(second.ifindex, a.ifindex("veth-a"));
    assert_ne!(second.ifindex, first.ifindex);
    drop(in_b);
}
