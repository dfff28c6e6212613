//! One test per RFC 7606 case: the classification (session reset,
//! treat-as-withdraw, attribute discard) and the RFC 4271 subcode.

mod common;

use clos_wire::*;
use common::*;

const ORIGIN: [u8; 4] = [0x40, 0x01, 0x01, 0x00];
const AS_PATH: [u8; 9] = [0x40, 0x02, 0x06, 0x02, 0x01, 0x00, 0x00, 0xfd, 0xe9];
const NEXT_HOP: [u8; 7] = [0x40, 0x03, 0x04, 10, 0, 0, 1];
const NLRI: [u8; 2] = [0x08, 10];

/// ORIGIN, AS_PATH, NEXT_HOP, then `extra`.
fn attrs(extra: &[u8]) -> Vec<u8> {
    [&ORIGIN[..], &AS_PATH, &NEXT_HOP, extra].concat()
}

/// Decode (4-octet AS session) and return the single issue.
fn one_issue(name: &str, bytes: &[u8]) -> (Update, UpdateIssue) {
    seed(&format!("rfc7606-{name}"), bytes);
    let (u, issues) = decode_update(bytes, &FOUR);
    assert_eq!(issues.len(), 1, "{name}: {issues:?}");
    (u, issues[0].clone())
}

fn assert_withdraw(name: &str, bytes: &[u8], type_code: u8, subcode: u8) -> Update {
    let (u, i) = one_issue(name, bytes);
    assert_eq!(i.action, UpdateAction::TreatAsWithdraw, "{name}: {i:?}");
    assert_eq!(
        (i.type_code, i.subcode),
        (type_code, subcode),
        "{name}: {i:?}"
    );
    let d = decode_message(bytes, &FOUR).unwrap();
    assert!(d.treat_as_withdraw());
    // The NLRI is still there to be withdrawn.
    assert!(u.announced().count() > 0, "{name}: no NLRI decoded");
    u
}

fn assert_discard(name: &str, bytes: &[u8], type_code: u8, subcode: u8) -> Update {
    let (u, i) = one_issue(name, bytes);
    assert_eq!(i.action, UpdateAction::AttributeDiscard, "{name}: {i:?}");
    assert_eq!(
        (i.type_code, i.subcode),
        (type_code, subcode),
        "{name}: {i:?}"
    );
    assert!(!decode_message(bytes, &FOUR).unwrap().treat_as_withdraw());
    u
}

fn assert_reset(name: &str, bytes: &[u8], code: u8, subcode: u8) -> DecodeError {
    seed(&format!("rfc7606-{name}"), bytes);
    let e = decode_message(bytes, &FOUR).expect_err(name);
    assert_eq!((e.code, e.subcode), (code, subcode), "{name}: {e}");
    e
}

// --- Session reset -------------------------------------------------------

#[test]
fn withdrawn_length_overruns_message() {
    let mut m = update(&[], &attrs(&[]), &NLRI);
    m[19..21].copy_from_slice(&[0x10, 0x00]);
    assert_reset("withdrawn-length", &m, 3, 1);
}

#[test]
fn total_attribute_length_overruns_message() {
    let a = attrs(&[]);
    let mut m = update(&[], &a, &NLRI);
    m[21..23].copy_from_slice(&((a.len() + 3) as u16).to_be_bytes());
    assert_reset("total-attribute-length", &m, 3, 1);
}

#[test]
fn malformed_nlri_and_withdrawn_routes() {
    assert_reset(
        "nlri-length-33",
        &update(&[], &attrs(&[]), &[33, 1, 2, 3, 4, 5]),
        3,
        10,
    );
    assert_reset(
        "nlri-overrun",
        &update(&[], &attrs(&[]), &[24, 10, 0]),
        3,
        10,
    );
    assert_reset("withdrawn-overrun", &update(&[16, 10], &[], &[]), 3, 10);
}

#[test]
fn malformed_mp_reach_resets() {
    // NLRI prefix length 129.
    let reach = [
        0x80, 0x0e, 0x16, 0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        129,
    ];
    let a = [&reach[..], &ORIGIN, &AS_PATH].concat();
    assert_reset("mp-reach-nlri", &update(&[], &a, &[]), 3, 9);
    // Next hop length 5 for IPv6 (RFC 7606 §7.11).
    let reach = [0x80, 0x0e, 0x0b, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0, 0];
    let a = [&reach[..], &ORIGIN, &AS_PATH].concat();
    assert_reset("mp-reach-next-hop", &update(&[], &a, &[]), 3, 9);
    // Next hop length running past the attribute.
    let reach = [0x80, 0x0e, 0x05, 0, 2, 1, 16, 0];
    assert_reset("mp-reach-short", &update(&[], &reach, &[]), 3, 9);
    // MP_UNREACH with an overrunning prefix.
    let unreach = [0x80, 0x0f, 0x05, 0, 2, 1, 64, 0x20];
    assert_reset("mp-unreach-nlri", &update(&[], &unreach, &[]), 3, 9);
}

#[test]
fn mp_reach_overrunning_attribute_list_resets() {
    let a = [0x80, 0x0e, 0x30, 0, 2, 1, 16];
    assert_reset("mp-reach-overrun", &update(&[], &a, &[]), 3, 1);
}

#[test]
fn duplicate_mp_reach_or_unreach_resets() {
    let unreach = [0x80, 0x0f, 0x03, 0, 2, 1];
    let a = [&unreach[..], &unreach].concat();
    assert_reset("duplicate-mp-unreach", &update(&[], &a, &[]), 3, 1);
}

#[test]
fn unrecognised_well_known_resets() {
    let e = assert_reset(
        "unknown-well-known",
        &update(&[], &attrs(&[0x40, 0x63, 0x00]), &NLRI),
        3,
        2,
    );
    assert_eq!(e.data, [0x40, 0x63, 0x00]);
    assert_eq!(e.to_notification().data, e.data);
}

// --- Treat-as-withdraw ---------------------------------------------------

#[test]
fn attribute_overrunning_the_list() {
    // Last attribute claims 9 octets, 4 remain (RFC 7606 §4).
    let a = attrs(&[0xc0, 0x08, 0x09, 0, 0, 0, 1]);
    assert_withdraw("attribute-overrun", &update(&[], &a, &NLRI), 8, 1);
    // Two octets left: too few for a header.
    let a = attrs(&[0x40, 0x01]);
    assert_withdraw("attribute-header-underrun", &update(&[], &a, &NLRI), 0, 1);
}

#[test]
fn malformed_origin() {
    let a = [&[0x40, 0x01, 0x02, 0, 0][..], &AS_PATH, &NEXT_HOP].concat();
    assert_withdraw("origin-length", &update(&[], &a, &NLRI), 1, 5);
    let a = [&[0x40, 0x01, 0x01, 3][..], &AS_PATH, &NEXT_HOP].concat();
    assert_withdraw("origin-value", &update(&[], &a, &NLRI), 1, 6);
}

#[test]
fn malformed_as_path() {
    for (name, path) in [
        (
            "as-path-segment-type",
            &[0x40, 0x02, 0x06, 0x05, 0x01, 0, 0, 0, 1][..],
        ),
        ("as-path-zero-segment", &[0x40, 0x02, 0x02, 0x02, 0x00]),
        (
            "as-path-overrun",
            &[0x40, 0x02, 0x06, 0x02, 0x02, 0, 0, 0, 1],
        ),
        (
            "as-path-one-octet-left",
            &[0x40, 0x02, 0x07, 0x02, 0x01, 0, 0, 0, 1, 2],
        ),
    ] {
        let a = [&ORIGIN[..], path, &NEXT_HOP].concat();
        let u = assert_withdraw(name, &update(&[], &a, &NLRI), 2, 11);
        assert_eq!(u.attributes.as_path, None);
    }
}

#[test]
fn malformed_next_hop_med_local_pref() {
    let a = [&ORIGIN[..], &AS_PATH, &[0x40, 0x03, 0x05, 10, 0, 0, 1, 0]].concat();
    assert_withdraw("next-hop-length", &update(&[], &a, &NLRI), 3, 5);
    let a = attrs(&[0x80, 0x04, 0x03, 0, 0, 1]);
    assert_withdraw("med-length", &update(&[], &a, &NLRI), 4, 5);
    let a = attrs(&[0x40, 0x05, 0x05, 0, 0, 0, 0, 1]);
    assert_withdraw("local-pref-length", &update(&[], &a, &NLRI), 5, 5);
}

#[test]
fn malformed_communities() {
    let a = attrs(&[0xc0, 0x08, 0x05, 0, 0, 0, 1, 2]);
    assert_withdraw("communities-length", &update(&[], &a, &NLRI), 8, 5);
    let a = attrs(&[0xc0, 0x08, 0x00]);
    assert_withdraw("communities-empty", &update(&[], &a, &NLRI), 8, 5);
    let a = attrs(&[0xc0, 0x10, 0x09, 0, 2, 0, 0, 0, 0, 0, 1, 9]);
    assert_withdraw(
        "extended-communities-length",
        &update(&[], &a, &NLRI),
        16,
        5,
    );
    let mut large = vec![0xc0, 0x20, 13];
    large.extend_from_slice(&[1; 13]);
    assert_withdraw(
        "large-communities-length",
        &update(&[], &attrs(&large), &NLRI),
        32,
        5,
    );
}

#[test]
fn malformed_originator_id_and_cluster_list() {
    let a = attrs(&[0x80, 0x09, 0x03, 10, 0, 0]);
    assert_withdraw("originator-id-length", &update(&[], &a, &NLRI), 9, 5);
    let a = attrs(&[0x80, 0x0a, 0x06, 10, 0, 0, 1, 10, 0]);
    assert_withdraw("cluster-list-length", &update(&[], &a, &NLRI), 10, 5);
}

#[test]
fn missing_well_known_attributes() {
    let a = [&AS_PATH[..], &NEXT_HOP].concat();
    assert_withdraw("missing-origin", &update(&[], &a, &NLRI), 1, 3);
    let a = [&ORIGIN[..], &NEXT_HOP].concat();
    assert_withdraw("missing-as-path", &update(&[], &a, &NLRI), 2, 3);
    let a = [&ORIGIN[..], &AS_PATH].concat();
    assert_withdraw("missing-next-hop", &update(&[], &a, &NLRI), 3, 3);
    // NLRI with no attributes at all: three missing.
    let bytes = update(&[], &[], &NLRI);
    let d = decode_message(&bytes, &FOUR).unwrap();
    assert!(d.treat_as_withdraw());
    assert_eq!(
        d.issues
            .iter()
            .map(|i| (i.type_code, i.subcode))
            .collect::<Vec<_>>(),
        [(1, 3), (2, 3), (3, 3)]
    );
    // MP_REACH without ORIGIN.
    let reach = [
        0x80, 0x0e, 0x1a, 0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        0x20, 0x20, 1, 0, 0,
    ];
    let u = assert_withdraw(
        "mp-reach-missing-origin",
        &update(&[], &[&reach[..], &AS_PATH].concat(), &[]),
        1,
        3,
    );
    assert_eq!(u.announced().collect::<Vec<_>>(), [net("2001::/32")]);
}

#[test]
fn no_attributes_needed() {
    // Withdraw only, or MP_REACH only (no NEXT_HOP needed).
    let (_, issues) = decode_update(&update(&[8, 10], &[], &[]), &FOUR);
    assert!(issues.is_empty());
    let reach = [
        0x80, 0x0e, 0x1a, 0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        0x20, 0x20, 1, 0, 0,
    ];
    let (_, issues) = decode_update(
        &update(&[], &[&reach[..], &ORIGIN, &AS_PATH].concat(), &[]),
        &FOUR,
    );
    assert!(issues.is_empty());
}

#[test]
fn attribute_flags_errors() {
    // ORIGIN marked optional.
    let a = [&[0xc0, 0x01, 0x01, 0][..], &AS_PATH, &NEXT_HOP].concat();
    assert_withdraw("origin-flags", &update(&[], &a, &NLRI), 1, 4);
    // MED marked transitive.
    assert_withdraw(
        "med-flags",
        &update(&[], &attrs(&[0xc0, 0x04, 0x04, 0, 0, 0, 1]), &NLRI),
        4,
        4,
    );
    // MP_REACH marked transitive: withdraw, but its NLRI is decoded.
    let reach = [
        0xc0, 0x0e, 0x1a, 0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        0x20, 0x20, 1, 0, 0,
    ];
    let u = assert_withdraw(
        "mp-reach-flags",
        &update(&[], &[&reach[..], &ORIGIN, &AS_PATH].concat(), &[]),
        14,
        4,
    );
    assert_eq!(u.announced().collect::<Vec<_>>(), [net("2001::/32")]);
    // AGGREGATOR marked well-known: discard (its malformation rule).
    let u = assert_discard(
        "aggregator-flags",
        &update(
            &[],
            &attrs(&[0x40, 0x07, 0x08, 0, 0, 0, 1, 1, 1, 1, 1]),
            &NLRI,
        ),
        7,
        4,
    );
    assert_eq!(u.attributes.rare.aggregator, None);
    // The Partial bit and the unused low bits are not checked.
    let (_, issues) = decode_update(
        &update(&[], &attrs(&[0xe3, 0x08, 0x04, 0, 0, 0, 1]), &NLRI),
        &FOUR,
    );
    assert!(issues.is_empty());
}

#[test]
fn duplicate_attributes_keep_the_first() {
    let a = attrs(&[0x40, 0x01, 0x01, 0x02]);
    let u = assert_discard("duplicate-origin", &update(&[], &a, &NLRI), 1, 1);
    assert_eq!(u.attributes.origin, Some(Origin::Igp));
}

// --- Attribute discard ---------------------------------------------------

#[test]
fn malformed_atomic_aggregate_and_aggregator() {
    let u = assert_discard(
        "atomic-aggregate-length",
        &update(&[], &attrs(&[0x40, 0x06, 0x01, 0]), &NLRI),
        6,
        5,
    );
    assert!(!u.attributes.atomic_aggregate);
    assert_eq!(u.attributes.origin, Some(Origin::Igp));
    let u = assert_discard(
        "aggregator-length",
        &update(&[], &attrs(&[0xc0, 0x07, 0x06, 0, 1, 1, 1, 1, 1]), &NLRI),
        7,
        5,
    );
    assert_eq!(u.attributes.rare.aggregator, None);
}

#[test]
fn as4_attributes() {
    let two_attrs = |extra: &[u8]| {
        [
            &ORIGIN[..],
            &[0x40, 0x02, 0x04, 0x02, 0x01, 0x5b, 0xa0],
            &NEXT_HOP,
            extra,
        ]
        .concat()
    };
    // Malformed AS4_PATH from an OLD speaker: discard, AS_PATH stands.
    let bytes = update(&[], &two_attrs(&[0xc0, 0x11, 0x02, 0x02, 0x00]), &NLRI);
    seed("rfc7606-as4-path-malformed", &bytes);
    let (u, issues) = decode_update(&bytes, &TWO);
    assert_eq!(issues.len(), 1);
    assert_eq!(
        (issues[0].action, issues[0].type_code),
        (UpdateAction::AttributeDiscard, 17)
    );
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([23456])));
    // Malformed AS4_AGGREGATOR: discard.
    let (_, issues) = decode_update(
        &update(
            &[],
            &two_attrs(&[0xc0, 0x12, 0x07, 0, 0, 0, 1, 1, 1, 1]),
            &NLRI,
        ),
        &TWO,
    );
    assert_eq!(
        (issues[0].action, issues[0].type_code),
        (UpdateAction::AttributeDiscard, 18)
    );
    // AS4_PATH longer than AS_PATH: ignored.
    let as4 = [
        0xc0, 0x11, 0x0a, 0x02, 0x02, 0, 1, 0x11, 0x70, 0, 1, 0x11, 0x71,
    ];
    let (u, issues) = decode_update(&update(&[], &two_attrs(&as4), &NLRI), &TWO);
    assert!(issues.is_empty());
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([23456])));
    // AGGREGATOR with a 2-octet ASN other than AS_TRANS: AS4 attributes ignored.
    let as4 = [0xc0, 0x11, 0x06, 0x02, 0x01, 0, 1, 0x11, 0x70];
    let agg = [0xc0, 0x07, 0x06, 0, 100, 10, 0, 0, 1];
    let (u, _) = decode_update(
        &update(&[], &two_attrs(&[&agg[..], &as4].concat()), &NLRI),
        &TWO,
    );
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([23456])));
    assert_eq!(u.attributes.rare.aggregator.map(|a| a.asn), Some(100));
    // Without it, merged.
    let (u, _) = decode_update(&update(&[], &two_attrs(&as4), &NLRI), &TWO);
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([70000])));
    // From a NEW speaker, AS4_PATH is discarded (RFC 6793 §3).
    let u = assert_discard(
        "as4-path-from-new-speaker",
        &update(&[], &attrs(&as4), &NLRI),
        17,
        9,
    );
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([65001])));
}

#[test]
fn unknown_optional_attributes() {
    // Optional transitive: kept with flags as received.
    let (u, issues) = decode_update(&update(&[], &attrs(&[0xc0, 0x63, 0x01, 7]), &NLRI), &FOUR);
    assert!(issues.is_empty());
    assert_eq!(
        u.attributes.rare.unknown,
        [RawAttribute {
            flags: 0xc0,
            type_code: 0x63,
            value: vec![7]
        }]
    );
    // Passed on with the Partial bit.
    let bytes = encode(&Message::Update(u), &FOUR);
    assert!(bytes.windows(4).any(|w| w == [0xe0, 0x63, 0x01, 7]));
    // Optional non-transitive: dropped.
    let (u, issues) = decode_update(&update(&[], &attrs(&[0x80, 0x63, 0x01, 7]), &NLRI), &FOUR);
    assert!(issues.is_empty());
    assert!(u.attributes.rare.unknown.is_empty());
}

#[test]
fn unsupported_family_is_discarded() {
    // MP_UNREACH for L2VPN EVPN (25/70).
    let u = assert_discard_no_nlri(
        "mp-unreach-evpn",
        &update(&[], &[0x80, 0x0f, 0x03, 0, 25, 70], &[]),
    );
    assert_eq!(u.attributes.rare.mp_unreach, None);
}

fn assert_discard_no_nlri(name: &str, bytes: &[u8]) -> Update {
    let (u, i) = one_issue(name, bytes);
    assert_eq!((i.action, i.subcode), (UpdateAction::AttributeDiscard, 9));
    u
}

// --- Header and OPEN errors ---------------------------------------------

#[test]
fn header_errors() {
    let mut m = msg(4, &[]);
    m[3] = 0;
    assert_eq!(frame(&m, &TWO).unwrap_err().subcode, 1);
    assert_eq!(frame(&m[..5], &TWO).unwrap_err().subcode, 1);
    let e = frame(&[[0xff; 16].as_slice(), &[0x00, 0x12, 4]].concat(), &TWO).unwrap_err();
    assert_eq!(
        (e.code, e.subcode, e.data.clone()),
        (1, 2, vec![0x00, 0x12])
    );
    let e = frame(&[[0xff; 16].as_slice(), &[0x10, 0x01, 2]].concat(), &TWO).unwrap_err();
    assert_eq!((e.code, e.subcode), (1, 2));
    assert_eq!(
        frame(
            &[[0xff; 16].as_slice(), &[0x10, 0x01, 2]].concat(),
            &SessionCodec {
                extended_message: true,
                ..TWO
            }
        ),
        Ok(None)
    );
    let e = frame(&msg(9, &[]), &TWO).unwrap_err();
    assert_eq!((e.code, e.subcode, e.data.clone()), (1, 3, vec![9]));
    for (kind, body) in [(4, &[0u8][..]), (1, &[0; 9]), (2, &[0; 3]), (3, &[0; 1])] {
        let e = frame(&msg(kind, body), &TWO).unwrap_err();
        assert_eq!((e.code, e.subcode), (1, 2), "type {kind}");
    }
    // RFC 7313 §5: a ROUTE-REFRESH of the wrong length is 7/1 with the
    // whole message as data, not a header error.
    let rr = msg(5, &[0, 1, 1, 1, 0]);
    assert_eq!(frame(&rr, &TWO), Ok(Some(24)));
    let e = decode_message(&rr, &TWO).unwrap_err();
    assert_eq!((e.code, e.subcode, e.data.clone()), (7, 1, rr));
    // Incomplete, then two messages back to back.
    assert_eq!(frame(&KEEPALIVE_PREFIX, &TWO), Ok(None));
    let two = [msg(4, &[]), msg(4, &[])].concat();
    assert_eq!(frame(&two, &TWO), Ok(Some(19)));
    assert_eq!(frame(&two[..30], &TWO), Ok(Some(19)));
    assert_eq!(frame(&msg(2, &[0, 0, 0, 0])[..20], &TWO), Ok(None));
}

const KEEPALIVE_PREFIX: [u8; 10] = [0xff; 10];

#[test]
fn open_errors() {
    let open = |version: u8, hold: u16, id: [u8; 4], params: &[u8]| {
        let mut b = vec![version, 0xfd, 0xe9];
        b.extend_from_slice(&hold.to_be_bytes());
        b.extend_from_slice(&id);
        b.push(params.len() as u8);
        b.extend_from_slice(params);
        msg(1, &b)
    };
    let check = |name: &str, m: Vec<u8>, code: u8, sub: u8| {
        seed(&format!("open-{name}"), &m);
        let e = decode_message(&m, &TWO).expect_err(name);
        assert_eq!((e.code, e.subcode), (code, sub), "{name}: {e}");
        e
    };
    let e = check("version", open(3, 90, [1, 1, 1, 1], &[]), 2, 1);
    assert_eq!(e.data, [0, 4]);
    check("hold-1", open(4, 1, [1, 1, 1, 1], &[]), 2, 6);
    check("hold-2", open(4, 2, [1, 1, 1, 1], &[]), 2, 6);
    check("identifier", open(4, 90, [0, 0, 0, 0], &[]), 2, 3);
    check(
        "parameter-type",
        open(4, 90, [1, 1, 1, 1], &[1, 2, 0, 0]),
        2,
        4,
    );
    check(
        "capability-length",
        open(4, 90, [1, 1, 1, 1], &[2, 5, 65, 3, 0, 0, 1]),
        2,
        0,
    );
    check(
        "capability-overrun",
        open(4, 90, [1, 1, 1, 1], &[2, 3, 65, 4, 0]),
        2,
        0,
    );
    assert!(decode_message(&open(4, 0, [1, 1, 1, 1], &[]), &TWO).is_ok());
    // Unknown capabilities are kept verbatim.
    let Message::Open(o) = decode_message(&open(4, 3, [1, 1, 1, 1], &[2, 3, 200, 1, 9]), &TWO)
        .unwrap()
        .message
    else {
        panic!()
    };
    assert_eq!(
        o.capabilities,
        [Capability::Unknown {
            code: 200,
            value: vec![9]
        }]
    );
}

/// RFC 7606 §7.11 with RFC 8950: an IPv4 MP_REACH with an IPv6 next hop is
/// malformed (session reset 3/9) unless extended next hop was negotiated.
#[test]
fn ipv4_mp_reach_with_ipv6_next_hop_needs_rfc8950() {
    let bytes = rfc8950_update_bytes();
    let e = decode_message(&bytes, &FOUR).unwrap_err();
    assert_eq!((e.code, e.subcode), (3, 9));
    let with = SessionCodec {
        extended_next_hop_ipv4: true,
        ..FOUR
    };
    assert!(decode_message(&bytes, &with).is_ok());
}

fn rfc8950_update_bytes() -> Vec<u8> {
    let update = Message::Update(Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([65001])),
            mp_reach: Some(Box::new(MpReach {
                afi: AFI_IPV4,
                safi: SAFI_UNICAST,
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
                nlri: vec!["192.0.2.0/24".parse().unwrap()],
            })),
            ..Default::default()
        },
        ..Default::default()
    });
    let mut out = Vec::new();
    encode_message(&update, &FOUR, &mut out).unwrap();
    out
}
