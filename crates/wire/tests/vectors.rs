//! Byte-exact vectors, written by hand from the RFC layouts, decoded and
//! re-encoded. The same bytes seed the fuzz corpus (fuzz/corpus/).

mod common;

use clos_wire::*;
use common::*;
use std::net::Ipv4Addr;

const KEEPALIVE: [u8; 19] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, //
    0x00, 0x13, 0x04,
];

#[test]
fn keepalive() {
    seed("keepalive", &KEEPALIVE);
    assert_eq!(frame(&KEEPALIVE, &TWO), Ok(Some(19)));
    let d = decode_message(&KEEPALIVE, &TWO).unwrap();
    assert_eq!(d.message, Message::Keepalive);
    assert_eq!(encode(&Message::Keepalive, &TWO), KEEPALIVE);
}

/// OPEN, RFC 4271 §4.2, with capabilities (RFC 5492) in one parameter.
pub fn open_bytes() -> Vec<u8> {
    let mut b = vec![0xff; 16];
    b.extend_from_slice(&[0x00, 0x4d, 0x01]); // length 77, OPEN
    b.extend_from_slice(&[0x04, 0xfd, 0xe9, 0x00, 0x5a, 10, 0, 0, 1]); // v4, AS 65001, hold 90, id
    b.extend_from_slice(&[0x30, 0x02, 0x2e]); // opt len 48, param 2 len 46
    b.extend_from_slice(&[0x01, 0x04, 0x00, 0x01, 0x00, 0x01]); // MP ipv4 unicast
    b.extend_from_slice(&[0x01, 0x04, 0x00, 0x02, 0x00, 0x01]); // MP ipv6 unicast
    b.extend_from_slice(&[0x02, 0x00]); // route refresh
    b.extend_from_slice(&[0x41, 0x04, 0xfa, 0x56, 0xea, 0x01]); // 4-octet AS 4200000001
    b.extend_from_slice(&[0x06, 0x00]); // extended message
    b.extend_from_slice(&[0x46, 0x00]); // enhanced route refresh
    b.extend_from_slice(&[0x40, 0x06, 0x80, 0x78, 0x00, 0x01, 0x01, 0x80]); // GR R=1 120 s, v4 F
    b.extend_from_slice(&[0x05, 0x06, 0x00, 0x01, 0x00, 0x01, 0x00, 0x02]); // ENH v4 via v6
    b.extend_from_slice(&[0x45, 0x04, 0x00, 0x01, 0x01, 0x03]); // ADD-PATH v4 both
    b
}

pub fn open_value() -> Open {
    Open {
        version: 4,
        my_as: 65001,
        hold_time: 90,
        bgp_identifier: Ipv4Addr::new(10, 0, 0, 1),
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            Capability::Multiprotocol { afi: 2, safi: 1 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(4_200_000_001),
            Capability::ExtendedMessage,
            Capability::EnhancedRouteRefresh,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: false,
                restart_time: 120,
                families: vec![GracefulRestartFamily {
                    afi: 1,
                    safi: 1,
                    forwarding_preserved: true,
                }],
            }),
            Capability::ExtendedNextHop(vec![ExtendedNextHopEntry {
                nlri_afi: 1,
                nlri_safi: 1,
                next_hop_afi: 2,
            }]),
            Capability::AddPath(vec![AddPathEntry {
                afi: 1,
                safi: 1,
                send_receive: 3,
            }]),
        ],
    }
}

#[test]
fn open_with_capabilities() {
    let bytes = open_bytes();
    seed("open", &bytes);
    let d = decode_message(&bytes, &TWO).unwrap();
    assert_eq!(d.message, Message::Open(open_value()));
    assert_eq!(encode(&Message::Open(open_value()), &TWO), bytes);
    if let Message::Open(o) = d.message {
        assert_eq!(o.asn(), 4_200_000_001);
    }
}

#[test]
fn open_one_capability_per_parameter_and_rfc9072() {
    // Two parameters, one capability each.
    let mut body = vec![0x04, 0xfd, 0xe9, 0x00, 0x00, 10, 0, 0, 1, 0x0e];
    body.extend_from_slice(&[0x02, 0x06, 0x01, 0x04, 0x00, 0x02, 0x00, 0x01]);
    body.extend_from_slice(&[0x02, 0x04, 0x02, 0x00, 0x46, 0x00]);
    let expected = vec![
        Capability::Multiprotocol { afi: 2, safi: 1 },
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
    ];
    let Message::Open(o) = decode_message(&msg(1, &body), &TWO).unwrap().message else {
        panic!()
    };
    assert_eq!(o.capabilities, expected);
    assert_eq!(o.hold_time, 0);

    // RFC 9072: 255, 255, 2-octet length, parameters with 2-octet lengths.
    let mut body = vec![
        0x04, 0xfd, 0xe9, 0x00, 0x03, 10, 0, 0, 1, 0xff, 0xff, 0x00, 0x0b,
    ];
    body.extend_from_slice(&[
        0x02, 0x00, 0x08, 0x01, 0x04, 0x00, 0x02, 0x00, 0x01, 0x02, 0x00,
    ]);
    let Message::Open(o) = decode_message(&msg(1, &body), &TWO).unwrap().message else {
        panic!()
    };
    assert_eq!(o.capabilities, expected[..2]);

    // Encode switches to RFC 9072 when capabilities exceed 255 octets.
    let big = Open {
        capabilities: vec![
            Capability::Unknown {
                code: 200,
                value: vec![7; 200]
            };
            2
        ],
        ..open_value()
    };
    let bytes = encode(&Message::Open(big.clone()), &TWO);
    assert_eq!(bytes[28..31], [0xff, 0xff, 0x01]);
    assert_eq!(
        decode_message(&bytes, &TWO).unwrap().message,
        Message::Open(big)
    );
}

/// Attributes of the every-attribute UPDATE, 4-octet AS session.
fn every_attribute_bytes() -> Vec<u8> {
    let mut a = vec![];
    a.extend_from_slice(&[0x40, 0x01, 0x01, 0x00]); // ORIGIN IGP
    a.extend_from_slice(&[0x40, 0x02, 0x0e, 0x02, 0x03]); // AS_PATH, one sequence of 3
    a.extend_from_slice(&[
        0x00, 0x00, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01, 0x00, 0x00, 0x00, 0x64,
    ]);
    a.extend_from_slice(&[0x40, 0x03, 0x04, 10, 0, 0, 1]); // NEXT_HOP
    a.extend_from_slice(&[0x80, 0x04, 0x04, 0, 0, 0, 100]); // MED 100
    a.extend_from_slice(&[0x40, 0x05, 0x04, 0, 0, 0, 200]); // LOCAL_PREF 200
    a.extend_from_slice(&[0x40, 0x06, 0x00]); // ATOMIC_AGGREGATE
    a.extend_from_slice(&[0xc0, 0x07, 0x08, 0, 0, 0xfd, 0xe9, 10, 0, 0, 1]); // AGGREGATOR
    a.extend_from_slice(&[
        0xc0, 0x08, 0x08, 0xfd, 0xe9, 0x00, 0x64, 0xff, 0xff, 0xff, 0x01,
    ]); // COMMUNITIES
    a.extend_from_slice(&[0x80, 0x09, 0x04, 10, 0, 0, 2]); // ORIGINATOR_ID
    a.extend_from_slice(&[0x80, 0x0a, 0x04, 10, 0, 0, 3]); // CLUSTER_LIST
    a.extend_from_slice(&[0xc0, 0x10, 0x08, 0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 100]); // EXT COMM rt
    a.extend_from_slice(&[
        0xc0, 0x20, 0x0c, 0xfa, 0x56, 0xea, 0x01, 0, 0, 0, 1, 0, 0, 0, 2,
    ]); // LARGE
    a.extend_from_slice(&[0xe0, 0x63, 0x02, 0xab, 0xcd]); // unknown 99, optional transitive partial
    assert_eq!(a.len(), 112);
    a
}

pub fn every_attribute_update_bytes() -> Vec<u8> {
    let mut b = vec![0xff; 16];
    b.extend_from_slice(&[0x00, 0x91, 0x02]); // length 145, UPDATE
    b.extend_from_slice(&[0x00, 0x03, 0x10, 10, 9]); // withdrawn 10.9.0.0/16
    b.extend_from_slice(&[0x00, 0x70]); // 112 octets of attributes
    b.extend_from_slice(&every_attribute_bytes());
    b.extend_from_slice(&[0x18, 192, 0, 2, 0x10, 10, 1]); // 192.0.2.0/24 10.1.0.0/16
    b
}

fn every_attribute_value() -> Update {
    Update {
        withdrawn: vec![net4("10.9.0.0/16")],
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([65001, 4_200_000_001, 100])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            med: Some(100),
            local_pref: Some(200),
            atomic_aggregate: true,
            communities: vec![65001 << 16 | 100, 0xffff_ff01],
            mp_reach: None,
            rare: clos_wire::RareAttributes {
                aggregator: Some(Aggregator {
                    asn: 65001,
                    address: Ipv4Addr::new(10, 0, 0, 1),
                }),
                extended_communities: vec![[0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 100]],
                large_communities: vec![LargeCommunity {
                    global_admin: 4_200_000_001,
                    local_data1: 1,
                    local_data2: 2,
                }],
                originator_id: Some(Ipv4Addr::new(10, 0, 0, 2)),
                cluster_list: vec![Ipv4Addr::new(10, 0, 0, 3)],
                mp_unreach: None,
                unknown: vec![RawAttribute {
                    flags: 0xe0,
                    type_code: 99,
                    value: vec![0xab, 0xcd],
                }],
            }
            .into(),
        },
        nlri: vec![net4("192.0.2.0/24"), net4("10.1.0.0/16")],
    }
}

#[test]
fn update_with_every_attribute() {
    let bytes = every_attribute_update_bytes();
    seed("update-every-attribute", &bytes);
    let (u, issues) = decode_update(&bytes, &FOUR);
    assert_eq!(issues, vec![]);
    assert_eq!(u, every_attribute_value());
    assert_eq!(encode(&Message::Update(u), &FOUR), bytes);
}

pub fn mp_reach_ipv6_bytes() -> Vec<u8> {
    let mut a = vec![0x80, 0x0e, 0x35, 0x00, 0x02, 0x01, 0x20]; // MP_REACH, AFI 2 SAFI 1, NH len 32
    a.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // 2001:db8::1
    a.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // fe80::1
    a.push(0); // reserved
    a.extend_from_slice(&[0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01]); // 2001:db8:1::/48
    a.extend_from_slice(&[0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00]); // 2001:db8:2::/64
    a.extend_from_slice(&[0x40, 0x01, 0x01, 0x00]); // ORIGIN
    a.extend_from_slice(&[0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9]); // AS_PATH 65001
    assert_eq!(a.len(), 0x45);
    update(&[], &a, &[])
}

#[test]
fn mp_reach_ipv6_with_link_local() {
    let bytes = mp_reach_ipv6_bytes();
    seed("update-mp-reach-ipv6", &bytes);
    let (u, issues) = decode_update(&bytes, &FOUR);
    assert!(issues.is_empty());
    let expected = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([65001])),
            mp_reach: Some(Box::new(MpReach {
                afi: 2,
                safi: 1,
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: vec![net("2001:db8:1::/48"), net("2001:db8:2::/64")],
            })),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(u, expected);
    assert_eq!(encode(&Message::Update(u), &FOUR), bytes);
}

pub fn rfc8950_bytes() -> Vec<u8> {
    let mut a = vec![0x80, 0x0e, 0x19, 0x00, 0x01, 0x01, 0x10]; // AFI 1 SAFI 1, NH len 16
    a.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    a.push(0);
    a.extend_from_slice(&[0x18, 198, 51, 100]); // 198.51.100.0/24
    a.extend_from_slice(&[0x40, 0x01, 0x01, 0x02]); // ORIGIN INCOMPLETE
    a.extend_from_slice(&[0x40, 0x02, 0x00]); // empty AS_PATH (iBGP)
    update(&[], &a, &[])
}

#[test]
fn rfc8950_ipv4_over_ipv6_next_hop() {
    let bytes = rfc8950_bytes();
    seed("update-rfc8950", &bytes);
    // Only a session that negotiated RFC 8950 accepts it (RFC 7606 §7.11).
    let codec = SessionCodec {
        extended_next_hop_ipv4: true,
        ..FOUR
    };
    let (u, issues) = decode_update(&bytes, &codec);
    assert!(issues.is_empty());
    let reach = u.attributes.mp_reach.clone().unwrap();
    assert_eq!((reach.afi, reach.safi), (1, 1));
    assert_eq!(
        reach.next_hop,
        NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None
        }
    );
    assert_eq!(
        u.announced().collect::<Vec<_>>(),
        vec![net("198.51.100.0/24")]
    );
    assert_eq!(u.attributes.as_path, Some(AsPath::default()));
    assert_eq!(encode(&Message::Update(u), &codec), bytes);
}

pub fn two_octet_as4_bytes() -> Vec<u8> {
    let mut a = vec![0x40, 0x01, 0x01, 0x00];
    a.extend_from_slice(&[
        0x40, 0x02, 0x08, 0x02, 0x03, 0xfd, 0xe9, 0x5b, 0xa0, 0x00, 0x64,
    ]); // 65001 AS_TRANS 100
    a.extend_from_slice(&[0x40, 0x03, 0x04, 10, 0, 0, 1]);
    a.extend_from_slice(&[0xc0, 0x07, 0x06, 0x5b, 0xa0, 10, 0, 0, 9]); // AGGREGATOR AS_TRANS
    a.extend_from_slice(&[0xc0, 0x11, 0x0e, 0x02, 0x03]); // AS4_PATH
    a.extend_from_slice(&[
        0x00, 0x00, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01, 0x00, 0x00, 0x00, 0x64,
    ]);
    a.extend_from_slice(&[0xc0, 0x12, 0x08, 0xfa, 0x56, 0xea, 0x01, 10, 0, 0, 9]); // AS4_AGGREGATOR
    update(&[], &a, &[0x08, 10])
}

#[test]
fn two_octet_session_with_as4_path() {
    let bytes = two_octet_as4_bytes();
    seed("update-as4-path", &bytes);
    let (u, issues) = decode_update(&bytes, &TWO);
    assert!(issues.is_empty(), "{issues:?}");
    let attrs = &u.attributes;
    assert_eq!(
        attrs.as_path,
        Some(AsPath::sequence([65001, 4_200_000_001, 100]))
    );
    assert_eq!(
        attrs.rare.aggregator,
        Some(Aggregator {
            asn: 4_200_000_001,
            address: Ipv4Addr::new(10, 0, 0, 9)
        })
    );
    assert_eq!(u.nlri, vec![net4("10.0.0.0/8")]);
    assert_eq!(encode(&Message::Update(u.clone()), &TWO), bytes);
    // The same values towards a NEW speaker need no AS4 attributes.
    let four = encode(&Message::Update(u.clone()), &FOUR);
    assert!(four.len() < bytes.len());
    assert_eq!(decode_update(&four, &FOUR).0, u);
}

#[test]
fn notification_and_route_refresh() {
    let n = msg(3, &[6, 2, 4, b'b', b'y', b'e', b'!']);
    seed("notification", &n);
    let Message::Notification(note) = decode_message(&n, &TWO).unwrap().message else {
        panic!()
    };
    assert_eq!((note.code, note.subcode), (6, 2));
    assert_eq!(note.shutdown_communication().as_deref(), Some("bye!"));
    assert_eq!(encode(&Message::Notification(note), &TWO), n);

    let rr = msg(5, &[0x00, 0x02, 0x01, 0x01]); // IPv6 unicast, BoRR
    seed("route-refresh", &rr);
    let expected = RouteRefresh {
        afi: 2,
        subtype: 1,
        safi: 1,
    };
    assert_eq!(
        decode_message(&rr, &TWO).unwrap().message,
        Message::RouteRefresh(expected)
    );
    assert_eq!(encode(&Message::RouteRefresh(expected), &TWO), rr);
}

#[test]
fn end_of_rib_markers() {
    let mut out = Vec::new();
    encode_end_of_rib(Family::Ipv4Unicast, &TWO, &mut out).unwrap();
    assert_eq!(out, update(&[], &[], &[]));
    assert_eq!(
        decode_update(&out, &TWO).0.end_of_rib(),
        Some(Family::Ipv4Unicast)
    );
    out.clear();
    encode_end_of_rib(Family::Ipv6Unicast, &TWO, &mut out).unwrap();
    assert_eq!(out, update(&[], &[0x80, 0x0f, 0x03, 0x00, 0x02, 0x01], &[]));
    let (u, issues) = decode_update(&out, &TWO);
    assert!(issues.is_empty());
    assert_eq!(u.end_of_rib(), Some(Family::Ipv6Unicast));
}
