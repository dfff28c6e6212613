//! The speaker against scripted peers over real TCP on loopback: each test
//! plays one side of a BGP session byte by byte (with `clos-wire`) and
//! checks what the speaker sends and what lands in its Loc-RIB.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clos_bgp::decision::DecisionOptions;
use clos_bgp::peer::{MaxPrefix, MaxPrefixAction};
use clos_bgp::policy::Policy;
use clos_bgp::rib::RouteFilter;
use clos_bgp::speaker::{Speaker, SpeakerConfig};
use clos_wire::{
    encode_message, AsPath, Family, IpNet, Message, Origin, PathAttributes, RouteRefresh, Update,
};
use common::*;

fn announcement(asn: u32, prefixes: &[&str]) -> Message {
    Message::Update(Update {
        withdrawn: vec![],
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([asn, 64999])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(42),
            communities: vec![(asn << 16) | 100],
            rare: clos_wire::RareAttributes {
                large_communities: vec![clos_wire::LargeCommunity {
                    global_admin: asn,
                    local_data1: 1,
                    local_data2: 2,
                }],
                ..Default::default()
            }
            .into(),
            ..Default::default()
        },
        nlri: prefixes
            .iter()
            .map(|s| match p(s) {
                IpNet::V4(v4) => v4,
                IpNet::V6(_) => unreachable!(),
            })
            .collect(),
    })
}

#[tokio::test]
async fn routes_flow_both_ways_with_attributes() {
    let (l, port) = listener([127, 0, 0, 2]).await;
    let s = speaker(
        vec![peer_config(Ipv4Addr::new(127, 0, 0, 2), port, 65001)],
        vec![p("10.100.0.0/24")],
    )
    .await;
    let mut peer = Scripted::accept(&l).await;
    let their_open = peer.establish(open(65001, 90)).await;
    assert_eq!(their_open.asn(), LOCAL_AS);

    // The originated prefix arrives with our AS and our address as next hop.
    let updates = peer.until_end_of_rib().await;
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert_eq!(u.nlri, vec!["10.100.0.0/24".parse().unwrap()]);
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([LOCAL_AS])));
    assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(127, 0, 0, 1)));
    assert_eq!(u.attributes.origin, Some(Origin::Igp));
    assert_eq!(u.attributes.local_pref, None, "no LOCAL_PREF towards eBGP");

    // Ours arrive in the Loc-RIB with every attribute intact.
    peer.send(&announcement(65001, &["198.51.100.0/24", "203.0.113.0/24"]))
        .await;
    let routes = wait_routes(&s, "two learned routes", |r| {
        has(r, "198.51.100.0/24") && has(r, "203.0.113.0/24")
    })
    .await;
    let r = routes
        .iter()
        .find(|r| r.prefix == p("198.51.100.0/24"))
        .unwrap();
    assert!(r.best);
    assert_eq!(r.attributes.med, Some(42));
    assert_eq!(r.attributes.communities, vec![(65001 << 16) | 100]);
    assert_eq!(r.attributes.rare.large_communities.len(), 1);
    assert_eq!(r.attributes.as_path, Some(AsPath::sequence([65001, 64999])));

    // Withdraw one.
    peer.send(&Message::Update(Update {
        withdrawn: vec!["198.51.100.0/24".parse().unwrap()],
        ..Default::default()
    }))
    .await;
    wait_routes(&s, "the withdrawal", |r| {
        !has(r, "198.51.100.0/24") && has(r, "203.0.113.0/24")
    })
    .await;

    // Run-time origination reaches the peer; removal withdraws it.
    assert!(s.originate(p("10.200.0.0/16"), true).await.unwrap());
    assert!(!s.originate(p("10.200.0.0/16"), true).await.unwrap());
    match peer.recv_significant().await {
        Some(Message::Update(u)) => assert_eq!(u.nlri, vec!["10.200.0.0/16".parse().unwrap()]),
        other => panic!("expected announcement, got {other:?}"),
    }
    assert!(s.originate(p("10.200.0.0/16"), false).await.unwrap());
    match peer.recv_significant().await {
        Some(Message::Update(u)) => {
            assert_eq!(u.withdrawn, vec!["10.200.0.0/16".parse().unwrap()])
        }
        other => panic!("expected withdrawal, got {other:?}"),
    }
    s.shutdown().await;
}

#[tokio::test]
async fn routes_are_readvertised_between_ebgp_peers() {
    let (la, pa) = listener([127, 0, 0, 3]).await;
    let (lb, pb) = listener([127, 0, 0, 4]).await;
    let s = speaker(
        vec![
            peer_config(Ipv4Addr::new(127, 0, 0, 3), pa, 65001),
            peer_config(Ipv4Addr::new(127, 0, 0, 4), pb, 65002),
        ],
        vec![],
    )
    .await;
    let mut a = Scripted::accept(&la).await;
    let mut b = Scripted::accept(&lb).await;
    a.establish(open(65001, 90)).await;
    b.establish(open(65002, 90)).await;
    assert!(a.until_end_of_rib().await.is_empty());
    assert!(b.until_end_of_rib().await.is_empty());

    a.send(&announcement(65001, &["198.51.100.0/24"])).await;
    match b.recv_significant().await {
        Some(Message::Update(u)) => {
            assert_eq!(u.nlri, vec!["198.51.100.0/24".parse().unwrap()]);
            assert_eq!(
                u.attributes.as_path,
                Some(AsPath::sequence([LOCAL_AS, 65001, 64999]))
            );
            assert_eq!(u.attributes.med, None, "MED is not passed to a third AS");
            assert_eq!(u.attributes.communities, vec![(65001 << 16) | 100]);
            assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(127, 0, 0, 1)));
        }
        other => panic!("expected UPDATE at b, got {other:?}"),
    }
    // A is not told its own route back.
    a.send(&Message::Keepalive).await;
    // When A goes away, B hears the withdrawal.
    drop(a);
    match b.recv_significant().await {
        Some(Message::Update(u)) => {
            assert_eq!(u.withdrawn, vec!["198.51.100.0/24".parse().unwrap()])
        }
        other => panic!("expected withdrawal at b, got {other:?}"),
    }
    s.shutdown().await;
}

#[tokio::test]
async fn wrong_peer_as_is_refused_with_bad_peer_as() {
    let (l, port) = listener([127, 0, 0, 5]).await;
    let s = speaker(
        vec![peer_config(Ipv4Addr::new(127, 0, 0, 5), port, 65001)],
        vec![],
    )
    .await;
    let mut peer = Scripted::accept(&l).await;
    let Some(Message::Open(_)) = peer.recv().await else {
        panic!("expected OPEN");
    };
    peer.send(&Message::Open(open(65099, 90))).await;
    match peer.recv().await {
        Some(Message::Notification(n)) => assert_eq!((n.code, n.subcode), (2, 2)),
        other => panic!("expected NOTIFICATION 2/2, got {other:?}"),
    }
    let info = s.peers()[0].session();
    assert!(
        info.last_notification_sent.contains("2/2"),
        "{}",
        info.last_notification_sent
    );
    s.shutdown().await;
}

#[tokio::test]
async fn hold_timer_expiry_sends_4_0_and_flushes_routes() {
    let (l, port) = listener([127, 0, 0, 6]).await;
    let mut cfg = peer_config(Ipv4Addr::new(127, 0, 0, 6), port, 65001);
    cfg.hold_time = 3;
    let s = speaker(vec![cfg], vec![]).await;
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 3)).await;
    peer.send(&announcement(65001, &["198.51.100.0/24"])).await;
    wait_routes(&s, "the route", |r| has(r, "198.51.100.0/24")).await;
    // Go silent: no KEEPALIVEs. Within the hold time the speaker gives up.
    let started = std::time::Instant::now();
    loop {
        match peer.recv().await {
            Some(Message::Notification(n)) => {
                assert_eq!((n.code, n.subcode), (4, 0));
                break;
            }
            Some(_) => continue,
            None => panic!("closed without NOTIFICATION"),
        }
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "expired early: {waited:?}"
    );
    wait_routes(&s, "routes flushed", |r| r.is_empty()).await;
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_attribute_is_treat_as_withdraw_and_session_survives() {
    let (l, port) = listener([127, 0, 0, 7]).await;
    let s = speaker(
        vec![peer_config(Ipv4Addr::new(127, 0, 0, 7), port, 65001)],
        vec![],
    )
    .await;
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 90)).await;
    peer.send(&announcement(65001, &["198.51.100.0/24"])).await;
    wait_routes(&s, "the route", |r| has(r, "198.51.100.0/24")).await;
    // The same prefix again with ORIGIN = 7 (invalid): RFC 7606 §7.1 says
    // treat-as-withdraw.
    let mut bytes = Vec::new();
    encode_message(
        &announcement(65001, &["198.51.100.0/24"]),
        &peer.codec,
        &mut bytes,
    )
    .unwrap();
    // ORIGIN is the first attribute: header(19) + withdrawn len(2) + attr
    // len(2) + flags, type, len = value at offset 26.
    assert_eq!(&bytes[23..26], &[0x40, 1, 1]);
    bytes[26] = 7;
    peer.send_raw(&bytes).await;
    wait_routes(&s, "treat-as-withdraw", |r| !has(r, "198.51.100.0/24")).await;
    // Still up: a route refresh is answered.
    peer.send(&Message::Keepalive).await;
    assert_eq!(s.peers()[0].state(), clos_bgp::fsm::State::Established);
    let treated = s.peers()[0]
        .counters
        .withdrawn_treated
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(treated, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn route_refresh_resends_the_table() {
    let (l, port) = listener([127, 0, 0, 8]).await;
    let s = speaker(
        vec![peer_config(Ipv4Addr::new(127, 0, 0, 8), port, 65001)],
        vec![p("10.100.0.0/24")],
    )
    .await;
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 90)).await;
    assert_eq!(peer.until_end_of_rib().await.len(), 1);
    peer.send(&Message::RouteRefresh(RouteRefresh {
        afi: 1,
        subtype: 0,
        safi: 1,
    }))
    .await;
    match peer.recv_significant().await {
        Some(Message::Update(u)) => assert_eq!(u.nlri, vec!["10.100.0.0/24".parse().unwrap()]),
        other => panic!("expected the table again, got {other:?}"),
    }
    s.shutdown().await;
}

#[tokio::test]
async fn max_prefix_teardown_sends_cease_6_1() {
    let (l, port) = listener([127, 0, 0, 9]).await;
    let mut cfg = peer_config(Ipv4Addr::new(127, 0, 0, 9), port, 65001);
    cfg.max_prefix = Some(MaxPrefix {
        limit: 2,
        action: MaxPrefixAction::Teardown,
        restart: None,
    });
    let s = speaker(vec![cfg], vec![]).await;
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 90)).await;
    peer.until_end_of_rib().await;
    peer.send(&announcement(
        65001,
        &["198.51.100.0/24", "198.51.101.0/24", "198.51.102.0/24"],
    ))
    .await;
    match peer.recv_significant().await {
        Some(Message::Notification(n)) => assert_eq!((n.code, n.subcode), (6, 1)),
        other => panic!("expected Cease 6/1, got {other:?}"),
    }
    wait_routes(&s, "routes flushed", |r| r.is_empty()).await;
    s.shutdown().await;
}

#[tokio::test]
async fn import_policy_reject_keeps_routes_out() {
    let (l, port) = listener([127, 0, 0, 10]).await;
    let mut cfg = peer_config(Ipv4Addr::new(127, 0, 0, 10), port, 65001);
    cfg.import = Policy::Reject;
    let s = speaker(vec![cfg], vec![]).await;
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 90)).await;
    peer.until_end_of_rib().await;
    peer.send(&announcement(65001, &["198.51.100.0/24"])).await;
    // Wait until the UPDATE was processed: the received counter moves.
    let deadline = std::time::Instant::now() + WAIT;
    while s.peers()[0]
        .counters
        .prefixes_received
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "UPDATE never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.routes(RouteFilter::default()).await.unwrap().is_empty());
    s.shutdown().await;
}

/// RFC 4271 §6.8: both sides connect at once; after both OPENs are in, the
/// connection initiated by the side with the higher BGP Identifier stays
/// (here the peer's, 10.0.0.2 > 10.0.0.1) and the other gets Cease 6/7.
#[tokio::test]
async fn connection_collision_keeps_the_higher_identifiers_connection() {
    let (l, port) = listener([127, 0, 0, 11]).await;
    // A free port for the speaker's listener.
    let speaker_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = peer_config(Ipv4Addr::new(127, 0, 0, 11), port, 65001);
    cfg.local_address = None;
    let s = Arc::new(
        Speaker::start(SpeakerConfig {
            asn: LOCAL_AS,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![SocketAddr::from(([127, 0, 0, 1], speaker_port))],
            originate: vec![],
            multipath: 1,
            decision: DecisionOptions::default(),
            peers: vec![cfg],
            fib: None,
        })
        .await
        .unwrap(),
    );
    // X: the speaker's connection to us.
    let mut x = Scripted::accept(&l).await;
    // Y: ours to the speaker, from the configured peer address.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from(([127, 0, 0, 11], 0))).unwrap();
    let stream = sock
        .connect(SocketAddr::from(([127, 0, 0, 1], speaker_port)))
        .await
        .unwrap();
    let mut y = Scripted::new(stream);
    // OPENs cross on both connections.
    let Some(Message::Open(_)) = x.recv().await else {
        panic!("expected OPEN on X");
    };
    y.send(&Message::Open(open(65001, 90))).await;
    let Some(Message::Open(_)) = y.recv().await else {
        panic!("expected OPEN on Y");
    };
    x.send(&Message::Open(open(65001, 90))).await;
    // X (initiated by the lower identifier, the speaker) is closed with 6/7.
    loop {
        match x.recv().await {
            Some(Message::Keepalive) => continue,
            Some(Message::Notification(n)) => {
                assert_eq!((n.code, n.subcode), (6, 7));
                break;
            }
            other => panic!("expected Cease 6/7 on X, got {other:?}"),
        }
    }
    // Y completes.
    y.send(&Message::Keepalive).await;
    assert_eq!(y.recv().await, Some(Message::Keepalive));
    let deadline = std::time::Instant::now() + WAIT;
    while s.peers()[0].state() != clos_bgp::fsm::State::Established {
        assert!(std::time::Instant::now() < deadline, "never Established");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.shutdown().await;
}

/// eBGP-learned routes go to iBGP peers with LOCAL_PREF, the AS path and
/// next hop unchanged (RFC 4271 §5.1.3, §5.1.5); iBGP-learned routes are not
/// passed to other iBGP peers (§9.1.3, no route reflection).
#[tokio::test]
async fn ibgp_export_rules() {
    let (le, pe) = listener([127, 0, 0, 12]).await;
    let (li1, pi1) = listener([127, 0, 0, 13]).await;
    let (li2, pi2) = listener([127, 0, 0, 14]).await;
    let s = speaker(
        vec![
            peer_config(Ipv4Addr::new(127, 0, 0, 12), pe, 65001),
            peer_config(Ipv4Addr::new(127, 0, 0, 13), pi1, LOCAL_AS),
            peer_config(Ipv4Addr::new(127, 0, 0, 14), pi2, LOCAL_AS),
        ],
        vec![],
    )
    .await;
    let mut e = Scripted::accept(&le).await;
    let mut i1 = Scripted::accept(&li1).await;
    let mut i2 = Scripted::accept(&li2).await;
    e.establish(open(65001, 90)).await;
    i1.establish(open(LOCAL_AS, 90)).await;
    i2.establish(open(LOCAL_AS, 90)).await;
    for p in [&mut e, &mut i1, &mut i2] {
        assert!(p.until_end_of_rib().await.is_empty());
    }
    e.send(&announcement(65001, &["198.51.100.0/24"])).await;
    for p in [&mut i1, &mut i2] {
        match p.recv_significant().await {
            Some(Message::Update(u)) => {
                assert_eq!(u.attributes.as_path, Some(AsPath::sequence([65001, 64999])));
                assert_eq!(u.attributes.local_pref, Some(100));
                assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 1)));
                assert_eq!(u.attributes.med, Some(42), "MED stays inside the AS");
            }
            other => panic!("expected UPDATE, got {other:?}"),
        }
    }
    // A route from i1 reaches the eBGP peer but not i2.
    let mut from_i1 = announcement(LOCAL_AS, &["203.0.113.0/24"]);
    if let Message::Update(u) = &mut from_i1 {
        u.attributes.as_path = Some(AsPath::sequence([64998]));
        u.attributes.local_pref = Some(200);
    }
    i1.send(&from_i1).await;
    match e.recv_significant().await {
        Some(Message::Update(u)) => {
            assert_eq!(u.nlri, vec!["203.0.113.0/24".parse().unwrap()]);
            assert_eq!(
                u.attributes.as_path,
                Some(AsPath::sequence([LOCAL_AS, 64998]))
            );
            assert_eq!(u.attributes.local_pref, None);
        }
        other => panic!("expected UPDATE at the eBGP peer, got {other:?}"),
    }
    let routes = wait_routes(&s, "i1's route", |r| has(r, "203.0.113.0/24")).await;
    let r = routes
        .iter()
        .find(|r| r.prefix == p("203.0.113.0/24"))
        .unwrap();
    assert_eq!(
        r.attributes.local_pref,
        Some(200),
        "iBGP LOCAL_PREF is kept"
    );
    // i2 hears nothing of it: the next thing it gets is our KEEPALIVE-free
    // silence; send a probe prefix from e and check it is the next UPDATE.
    e.send(&announcement(65001, &["192.0.2.0/24"])).await;
    match i2.recv_significant().await {
        Some(Message::Update(u)) => assert_eq!(u.nlri, vec!["192.0.2.0/24".parse().unwrap()]),
        other => panic!("expected only the probe at i2, got {other:?}"),
    }
    s.shutdown().await;
}

/// `closctl bgp refresh`: the speaker sends ROUTE-REFRESH for each
/// negotiated family (RFC 2918), and refuses when the session is down.
#[tokio::test]
async fn refresh_request_sends_route_refresh() {
    let (l, port) = listener([127, 0, 0, 15]).await;
    let s = speaker(
        vec![peer_config(Ipv4Addr::new(127, 0, 0, 15), port, 65001)],
        vec![],
    )
    .await;
    let id = s.peers()[0].id;
    assert!(
        s.request_refresh(id).await.unwrap().is_err(),
        "not established yet"
    );
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 90)).await;
    peer.until_end_of_rib().await;
    let families = s.request_refresh(id).await.unwrap().unwrap();
    assert_eq!(families, vec![Family::Ipv4Unicast]);
    assert_eq!(
        peer.recv_significant().await,
        Some(Message::RouteRefresh(RouteRefresh {
            afi: 1,
            subtype: 0,
            safi: 1
        }))
    );
    s.shutdown().await;
}

/// UPDATEs handled on the reader's fast path still count as liveness: a peer
/// that only sends UPDATEs (no KEEPALIVE) for longer than the hold time keeps
/// its session (RFC 4271 §4.4); when it goes silent the hold timer fires.
#[tokio::test]
async fn updates_alone_keep_the_hold_timer_alive() {
    let (l, port) = listener([127, 0, 0, 16]).await;
    let mut cfg = peer_config(Ipv4Addr::new(127, 0, 0, 16), port, 65001);
    cfg.hold_time = 3;
    let s = speaker(vec![cfg], vec![]).await;
    let mut peer = Scripted::accept(&l).await;
    peer.establish(open(65001, 3)).await;
    peer.until_end_of_rib().await;
    let started = std::time::Instant::now();
    let mut n = 0u8;
    while started.elapsed() < Duration::from_secs(5) {
        let prefix = format!("198.51.{n}.0/24");
        peer.send(&announcement(65001, &[prefix.as_str()])).await;
        n = n.wrapping_add(1);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(
        s.peers()[0].state(),
        clos_bgp::fsm::State::Established,
        "the session dropped although UPDATEs kept coming"
    );
    assert!(s.peers()[0].session().last_notification_sent.is_empty());
    // Silence: now the hold timer expires.
    loop {
        match peer.recv().await {
            Some(Message::Notification(n)) => {
                assert_eq!((n.code, n.subcode), (4, 0));
                break;
            }
            Some(_) => continue,
            None => panic!("closed without NOTIFICATION"),
        }
    }
    s.shutdown().await;
}
