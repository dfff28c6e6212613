//! Router Advertisement bytes: exact encodings, decoding of what FRR sends,
//! and every RFC 4861 §6.1.2 rejection.

use std::net::Ipv6Addr;

use clos_nd::packet::{is_link_local, validate, Rejection, RouterAdvertisement};

const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// What we send: type 134, code 0, checksum 0 (the kernel fills it), Cur
/// Hop Limit 64, no flags, Router Lifetime 0, Reachable Time 0, Retrans
/// Timer 0, then Source Link-Layer Address (type 1, length 1) and the MAC.
const OURS: [u8; 24] = [
    0x86, 0x00, 0x00, 0x00, // type, code, checksum
    0x40, 0x00, 0x00, 0x00, // cur hop limit, flags, router lifetime
    0x00, 0x00, 0x00, 0x00, // reachable time
    0x00, 0x00, 0x00, 0x00, // retrans timer
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // SLLA option
];

/// Shaped like FRR zebra's advertisements: lifetime 1800 s, a checksum as
/// received, SLLA, MTU, and an option we do not know (RDNSS, type 25).
const FRR_LIKE: [u8; 56] = [
    0x86, 0x00, 0x12, 0x34, // type, code, checksum
    0x40, 0x00, 0x07, 0x08, // cur hop limit 64, flags, router lifetime 1800
    0x00, 0x00, 0x00, 0x00, // reachable time
    0x00, 0x00, 0x00, 0x00, // retrans timer
    0x19, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x10, // RDNSS, 24 octets...
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // ...2001:db8::53
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
    0x01, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // SLLA
    0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, // MTU 1500
];

fn link_local() -> Ipv6Addr {
    "fe80::aabb:ccff:fedd:eeff".parse().unwrap()
}

#[test]
fn encodes_our_advertisement_exactly() {
    assert_eq!(RouterAdvertisement::unnumbered(Some(MAC)).encode(), OURS);
}

#[test]
fn encodes_without_mac() {
    assert_eq!(RouterAdvertisement::unnumbered(None).encode(), OURS[..16]);
}

#[test]
fn our_advertisement_says_not_a_default_router() {
    let ours = RouterAdvertisement::unnumbered(Some(MAC));
    assert_eq!(ours.router_lifetime, 0);
    assert_eq!(ours.cur_hop_limit, 64);
    assert_eq!(ours.flags, 0);
}

#[test]
fn decodes_our_advertisement() {
    let decoded = validate(&OURS, Some(255), link_local()).unwrap();
    assert_eq!(decoded, RouterAdvertisement::unnumbered(Some(MAC)));
    assert_eq!(decoded.encode(), OURS);
}

#[test]
fn decodes_frr_like_advertisement() {
    let decoded = validate(&FRR_LIKE, Some(255), link_local()).unwrap();
    assert_eq!(
        decoded,
        RouterAdvertisement {
            cur_hop_limit: 64,
            flags: 0,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_timer: 0,
            source_link_layer_address: Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
            mtu: Some(1500),
        }
    );
}

#[test]
fn encodes_every_field() {
    let advertisement = RouterAdvertisement {
        cur_hop_limit: 255,
        flags: 0xc0,
        router_lifetime: 0xabcd,
        reachable_time: 0x0102_0304,
        retrans_timer: 0x0506_0708,
        source_link_layer_address: None,
        mtu: Some(9000),
    };
    let bytes = advertisement.encode();
    assert_eq!(
        bytes,
        [
            0x86, 0, 0, 0, 0xff, 0xc0, 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8, // header
            5, 1, 0, 0, 0x00, 0x00, 0x23, 0x28, // MTU 9000
        ]
    );
    assert_eq!(RouterAdvertisement::decode(&bytes).unwrap(), advertisement);
}

#[test]
fn rejects_hop_limit_other_than_255() {
    for hop_limit in [0, 1, 64, 254] {
        assert_eq!(
            validate(&OURS, Some(hop_limit), link_local()),
            Err(Rejection::HopLimit { hop_limit })
        );
    }
    assert_eq!(
        validate(&OURS, None, link_local()),
        Err(Rejection::HopLimitUnknown)
    );
}

#[test]
fn rejects_sources_that_are_not_link_local() {
    for source in ["2001:db8::1", "fec0::1", "ff02::1", "::", "::1", "fd00::1"] {
        let source: Ipv6Addr = source.parse().unwrap();
        assert_eq!(
            validate(&OURS, Some(255), source),
            Err(Rejection::SourceNotLinkLocal { source })
        );
    }
}

#[test]
fn link_local_is_fe80_slash_10() {
    for (address, expected) in [
        ("fe80::1", true),
        ("fe80::aabb:ccff:fedd:eeff", true),
        ("febf:ffff::1", true),
        ("fec0::1", false),
        ("fe7f::1", false),
        ("ff02::1", false),
    ] {
        let address: Ipv6Addr = address.parse().unwrap();
        assert_eq!(is_link_local(&address), expected, "{address}");
    }
}

#[test]
fn rejects_truncated_messages() {
    for length in 0..16 {
        assert_eq!(
            validate(&OURS[..length], Some(255), link_local()),
            Err(Rejection::Truncated { length })
        );
    }
    // A cut option: any length between the header and the full message.
    for length in 17..OURS.len() {
        assert_eq!(
            validate(&OURS[..length], Some(255), link_local()),
            Err(Rejection::OptionTruncated { offset: 16 }),
            "length {length}"
        );
    }
    let mut overlong = OURS;
    overlong[17] = 2; // claims 16 octets, 8 present
    assert_eq!(
        RouterAdvertisement::decode(&overlong),
        Err(Rejection::OptionTruncated { offset: 16 })
    );
}

#[test]
fn rejects_zero_length_option() {
    let mut message = OURS.to_vec();
    message.extend_from_slice(&[0x05, 0x00, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        validate(&message, Some(255), link_local()),
        Err(Rejection::ZeroLengthOption { offset: 24 })
    );
}

#[test]
fn rejects_nonzero_code() {
    let mut message = OURS;
    message[1] = 1;
    assert_eq!(
        validate(&message, Some(255), link_local()),
        Err(Rejection::Code { code: 1 })
    );
}

#[test]
fn rejects_other_icmp_types() {
    let mut message = OURS;
    message[0] = 135; // Neighbor Solicitation
    assert_eq!(
        RouterAdvertisement::decode(&message),
        Err(Rejection::NotRouterAdvertisement { kind: 135 })
    );
}

#[test]
fn longer_link_layer_addresses_are_skipped() {
    // An SLLA option of 16 octets (say, a 14-byte address): not Ethernet.
    let mut message = OURS[..16].to_vec();
    message.extend_from_slice(&[1, 2]);
    message.extend_from_slice(&[0x11; 14]);
    let decoded = RouterAdvertisement::decode(&message).unwrap();
    assert_eq!(decoded.source_link_layer_address, None);
}

#[test]
fn every_prefix_of_valid_input_decodes_or_rejects_cleanly() {
    for length in 0..=FRR_LIKE.len() {
        let _ = RouterAdvertisement::decode(&FRR_LIKE[..length]);
    }
}

#[test]
fn rejections_explain_themselves() {
    let text = Rejection::HopLimit { hop_limit: 64 }.to_string();
    assert!(text.contains("64") && text.contains("255"), "{text}");
    let source: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert!(Rejection::SourceNotLinkLocal { source }
        .to_string()
        .contains("2001:db8::1"));
}
