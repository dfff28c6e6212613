//! Property tests: encode → decode round trips of arbitrary valid messages
//! under 2- and 4-octet AS codecs, UPDATE packing, and decode never
//! panicking on arbitrary bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use clos_wire::fuzzing::{
    check_packing_values, check_roundtrip, codecs, decode_stream, through_old_speaker,
};
use clos_wire::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn ipv4_net() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
}

fn ipv6_net() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
}

fn asn() -> impl Strategy<Value = Asn> {
    prop_oneof![1u32..=65535, any::<u32>(), Just(u32::from(AS_TRANS))]
}

fn as_path() -> impl Strategy<Value = AsPath> {
    let segment = |kinds: Vec<SegmentType>, asns: BoxedStrategy<Asn>| {
        (proptest::sample::select(kinds), vec(asns, 1..8))
            .prop_map(|(kind, asns)| AsPathSegment { kind, asns })
    };
    // Confederation segments only lead the path (RFC 5065 §4).
    (
        vec(
            segment(
                vec![SegmentType::ConfedSequence, SegmentType::ConfedSet],
                asn().boxed(),
            ),
            0..2,
        ),
        vec(
            segment(
                vec![SegmentType::AsSequence, SegmentType::AsSet],
                asn().boxed(),
            ),
            0..4,
        ),
    )
        .prop_map(|(mut confed, rest)| {
            confed.extend(rest);
            AsPath { segments: confed }
        })
}

fn next_hop_v6() -> impl Strategy<Value = NextHop> {
    (any::<u128>(), option::of(any::<u128>())).prop_map(|(g, ll)| NextHop::V6 {
        global: Ipv6Addr::from(g),
        link_local: ll.map(Ipv6Addr::from),
    })
}

fn mp_reach() -> impl Strategy<Value = MpReach> {
    prop_oneof![
        (next_hop_v6(), vec(ipv6_net(), 0..6)).prop_map(|(next_hop, nlri)| MpReach {
            afi: 2,
            safi: 1,
            next_hop,
            nlri: nlri.into_iter().map(IpNet::V6).collect(),
        }),
        (
            prop_oneof![
                next_hop_v6(),
                any::<u32>().prop_map(|a| NextHop::V4(a.into()))
            ],
            vec(ipv4_net(), 0..6)
        )
            .prop_map(|(next_hop, nlri)| MpReach {
                afi: 1,
                safi: 1,
                next_hop,
                nlri: nlri.into_iter().map(IpNet::V4).collect(),
            }),
    ]
}

fn mp_unreach() -> impl Strategy<Value = MpUnreach> {
    prop_oneof![
        vec(ipv6_net(), 0..6).prop_map(|w| MpUnreach {
            afi: 2,
            safi: 1,
            withdrawn: w.into_iter().map(IpNet::V6).collect()
        }),
        vec(ipv4_net(), 0..6).prop_map(|w| MpUnreach {
            afi: 1,
            safi: 1,
            withdrawn: w.into_iter().map(IpNet::V4).collect()
        }),
    ]
}

/// Unknown optional transitive attributes with distinct, unassigned-here
/// type codes, in type order, with the Partial bit (as re-sent).
fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    vec(
        (
            40u8..=255,
            prop_oneof![Just(0xe0u8), Just(0xf0)],
            vec(any::<u8>(), 0..300),
        ),
        0..3,
    )
    .prop_map(|mut v| {
        v.sort_by_key(|a| a.0);
        v.dedup_by_key(|a| a.0);
        v.into_iter()
            .map(|(type_code, flags, value)| RawAttribute {
                flags,
                type_code,
                value,
            })
            .collect()
    })
}

fn attributes() -> impl Strategy<Value = PathAttributes> {
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    (
        (
            option::of(origin),
            option::of(as_path()),
            option::of(any::<u32>().prop_map(Ipv4Addr::from)),
            option::of(any::<u32>()),
            option::of(any::<u32>()),
            any::<bool>(),
            option::of((asn(), any::<u32>()).prop_map(|(asn, a)| Aggregator {
                asn,
                address: a.into(),
            })),
        ),
        (
            vec(any::<u32>(), 0..4),
            vec(any::<[u8; 8]>(), 0..3),
            vec(any::<(u32, u32, u32)>(), 0..3),
            option::of(any::<u32>().prop_map(Ipv4Addr::from)),
            vec(any::<u32>().prop_map(Ipv4Addr::from), 0..3),
            option::of(mp_reach()),
            option::of(mp_unreach()),
            unknown_attributes(),
        ),
    )
        .prop_map(
            |((origin, as_path, next_hop, med, local_pref, atomic_aggregate, aggregator), rest)| {
                let (
                    communities,
                    extended_communities,
                    large,
                    originator_id,
                    cluster_list,
                    mp_reach,
                    mp_unreach,
                    unknown,
                ) = rest;
                PathAttributes {
                    origin,
                    as_path,
                    next_hop,
                    med,
                    local_pref,
                    atomic_aggregate,
                    communities,
                    mp_reach: mp_reach.map(Box::new),
                    rare: clos_wire::RareAttributes {
                        aggregator,
                        extended_communities,
                        large_communities: large
                            .into_iter()
                            .map(|(global_admin, local_data1, local_data2)| LargeCommunity {
                                global_admin,
                                local_data1,
                                local_data2,
                            })
                            .collect(),
                        originator_id,
                        cluster_list,
                        mp_unreach,
                        unknown,
                    }
                    .into(),
                }
            },
        )
}

/// A valid UPDATE: the mandatory attributes present when it announces.
fn update() -> impl Strategy<Value = Update> {
    (vec(ipv4_net(), 0..6), attributes(), vec(ipv4_net(), 0..6)).prop_map(
        |(withdrawn, mut attributes, nlri)| {
            let announces = !nlri.is_empty()
                || attributes
                    .mp_reach
                    .as_ref()
                    .is_some_and(|r| !r.nlri.is_empty());
            if announces {
                attributes.origin.get_or_insert(Origin::Igp);
                attributes.as_path.get_or_insert_with(AsPath::default);
            }
            if !nlri.is_empty() {
                attributes
                    .next_hop
                    .get_or_insert(Ipv4Addr::new(192, 0, 2, 1));
            }
            Update {
                withdrawn,
                attributes,
                nlri,
            }
        },
    )
}

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| Capability::Multiprotocol { afi, safi }),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        Just(Capability::EnhancedRouteRefresh),
        any::<u32>().prop_map(Capability::FourOctetAs),
        vec(any::<(u16, u16, u16)>(), 0..4).prop_map(|v| Capability::ExtendedNextHop(
            v.into_iter()
                .map(|(nlri_afi, nlri_safi, next_hop_afi)| ExtendedNextHopEntry {
                    nlri_afi,
                    nlri_safi,
                    next_hop_afi
                })
                .collect()
        )),
        (
            any::<bool>(),
            any::<bool>(),
            0u16..4096,
            vec(any::<(u16, u8, bool)>(), 0..4)
        )
            .prop_map(|(r, n, t, f)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: r,
                    notification: n,
                    restart_time: t,
                    families: f
                        .into_iter()
                        .map(|(afi, safi, forwarding_preserved)| GracefulRestartFamily {
                            afi,
                            safi,
                            forwarding_preserved,
                        })
                        .collect(),
                })
            }),
        vec(any::<(u16, u8, u8)>(), 0..4).prop_map(|v| Capability::AddPath(
            v.into_iter()
                .map(|(afi, safi, send_receive)| AddPathEntry {
                    afi,
                    safi,
                    send_receive
                })
                .collect()
        )),
        (
            prop_oneof![3u8..=4, 7u8..=63, 71u8..=255],
            vec(any::<u8>(), 0..20)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        Just(Message::Keepalive),
        (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..64)).prop_map(|(code, subcode, data)| {
            Message::Notification(Notification {
                code,
                subcode,
                data,
            })
        }),
        any::<(u16, u8, u8)>().prop_map(|(afi, subtype, safi)| Message::RouteRefresh(
            RouteRefresh { afi, subtype, safi }
        )),
        (
            any::<u16>(),
            prop_oneof![Just(0u16), 3u16..],
            1u32..,
            vec(capability(), 0..60)
        )
            .prop_map(|(my_as, hold_time, id, capabilities)| Message::Open(Open {
                version: 4,
                my_as,
                hold_time,
                bgp_identifier: id.into(),
                capabilities,
            })),
        update().prop_map(Message::Update),
        update().prop_map(Message::Update),
    ]
}

/// What decode returns for `m` sent over `codec`.
fn expected(m: &Message, codec: &SessionCodec) -> Message {
    let mut m = m.clone();
    clos_wire::fuzzing::normalise(&mut m);
    match &m {
        Message::Update(u) if !codec.four_octet_as => Message::Update(Update {
            attributes: through_old_speaker(&u.attributes),
            ..u.clone()
        }),
        _ => m,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trip(m in message()) {
        for codec in codecs() {
            let mut bytes = Vec::new();
            match encode_message(&m, &codec, &mut bytes) {
                Ok(()) => {}
                Err(EncodeError::TooLong { .. }) => {
                    prop_assert!(bytes.is_empty());
                    continue;
                }
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            }
            prop_assert!(bytes.len() <= codec.max_message_len());
            let d = decode_message(&bytes, &codec).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(&d.issues, &vec![]);
            prop_assert_eq!(d.message, expected(&m, &codec));
            check_roundtrip(&bytes, &codec);
        }
    }

    #[test]
    fn update_packing(mut attrs in attributes(), v4 in vec(ipv4_net(), 0..1500), v6 in vec(ipv6_net(), 0..800)) {
        if let Some(r) = attrs.rare.get_mut() {
            r.mp_unreach = None;
        }
        attrs.origin.get_or_insert(Origin::Igp);
        attrs.as_path.get_or_insert_with(AsPath::default);
        let v4: Vec<IpNet> = v4.into_iter().map(IpNet::V4).collect();
        let v6: Vec<IpNet> = v6.into_iter().map(IpNet::V6).collect();
        for codec in codecs() {
            // Classic IPv4 NLRI.
            let mut classic = attrs.clone();
            classic.mp_reach = None;
            classic.next_hop.get_or_insert(Ipv4Addr::new(192, 0, 2, 1));
            check_packing_values(&classic, &v4, &codec);
            // MP_REACH for whichever family the template has.
            if let Some(reach) = &attrs.mp_reach {
                let prefixes = if reach.afi == 2 { &v6 } else { &v4 };
                check_packing_values(&attrs, prefixes, &codec);
            }
        }
    }

    #[test]
    fn decode_never_panics(bytes in vec(any::<u8>(), 0..600)) {
        // Give it a valid marker most of the time, so decoding goes deep.
        let mut framed = vec![0xff; 16];
        framed.extend_from_slice(&bytes);
        for codec in codecs() {
            decode_stream(&bytes, &codec);
            decode_stream(&framed, &codec);
            check_roundtrip(&framed, &codec);
        }
    }
}

#[test]
fn packing_fills_messages() {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([65001])),
        next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
        ..Default::default()
    };
    let prefixes: Vec<IpNet> = (0..3000u32)
        .map(|i| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i << 8), 24).unwrap()))
        .collect();
    let codec = SessionCodec::default();
    let mut out = Vec::new();
    let n = encode_announcements(&attrs, &prefixes, &codec, &mut out).unwrap();
    // 4 octets a /24; room = 4096 - 23 - 20 octets of attributes.
    assert_eq!(n, 3000usize.div_ceil((4096 - 23 - 20) / 4));
    check_packing_values(&attrs, &prefixes, &codec);
    let extended = SessionCodec {
        extended_message: true,
        ..codec
    };
    out.clear();
    assert_eq!(
        encode_announcements(&attrs, &prefixes, &extended, &mut out).unwrap(),
        1
    );
    out.clear();
    assert_eq!(
        encode_withdrawals(&prefixes, &codec, &mut out).unwrap(),
        3000usize.div_ceil((4096 - 23) / 4)
    );
    let mixed = [prefixes[0], "2001:db8::/32".parse().unwrap()];
    assert_eq!(
        encode_withdrawals(&mixed, &codec, &mut out),
        Err(EncodeError::MixedFamilies)
    );
    let v6 = ["2001:db8::/32".parse().unwrap()];
    assert_eq!(
        encode_announcements(&attrs, &v6, &codec, &mut out),
        Err(EncodeError::MissingNextHop {
            family: Family::Ipv6Unicast
        })
    );
}
