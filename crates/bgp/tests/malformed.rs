//! The malformed-message corpus ("Hardened against the wire"): one test per
//! malformation, each sent by a scripted peer over a real TCP session.
//!
//! Every test runs the same scene. The speaker (AS 65000) originates `O`
//! and has two neighbours, both scripted by the test: B, a bystander
//! (AS 65002), is established and has announced `Q`; A, the attacker
//! (AS 65001, or 65000 when a test needs iBGP), announces a valid `P`,
//! which the speaker passes on to B, and then sends the malformed message.
//! The test asserts the outcome the RFC requires:
//!
//! - session reset: A gets the NOTIFICATION with the exact code, subcode
//!   and (where the RFC fixes it) data, the connection closes, `P` leaves
//!   the Loc-RIB and B hears it withdrawn;
//! - treat-as-withdraw (RFC 7606 §2): `P` leaves the Loc-RIB, B hears it
//!   withdrawn, `withdrawn_treated` counts it, and A's session carries on
//!   (a later valid UPDATE is accepted on the same connection);
//! - attribute discard (RFC 7606 §2): `P` is accepted without the bad
//!   attribute, `attributes_discarded` counts it, B hears the new path.
//!
//! And in every case that B's session, `Q` and `O` are unharmed.
//!
//! RFC references: RFC 4271 (BGP-4) §4, §6; RFC 7606 (revised UPDATE error
//! handling); RFC 4760 (multiprotocol); RFC 5492 (capabilities); RFC 6608
//! (FSM error subcodes); RFC 7313 (enhanced route refresh); RFC 8092
//! (large communities).

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use clos_bgp::fsm::State;
use clos_bgp::peer::{PeerId, PeerShared};
use clos_bgp::speaker::Speaker;
use clos_wire::{
    attribute_type as ty, message_type as mt, Capability, Message, Open, Origin, PathAttributes,
    Update,
};
use common::bytes::{
    as_path, attr, communities, contains, header, message, mp_reach_value, mp_unreach_value,
    next_hop, open_message, origin, prefix, update, OPTIONAL, OPTIONAL_TRANSITIVE, WELL_KNOWN,
};
use common::{
    has, listener, open, p, peer_config, route_from, speaker, wait_for, wait_routes, Scripted,
    LOCAL_AS,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// The attacker's AS when eBGP.
const A_AS: u32 = 65001;
/// The bystander's AS.
const B_AS: u32 = 65002;
/// Peer ids in the speaker: configuration order, from 1.
const A_ID: PeerId = 1;
const B_ID: PeerId = 2;
const LOCAL_PEER: PeerId = 0;
/// A's prefix, B's prefix, the speaker's own prefix.
const P: &str = "198.51.100.0/24";
const Q: &str = "203.0.113.0/24";
const O: &str = "10.100.0.0/24";
/// The next hop A announces.
const A_NEXT_HOP: [u8; 4] = [192, 0, 2, 1];
/// The community A's first, valid announcement of P carries.
const FIRST: u32 = (A_AS << 16) | 100;
/// A community that marks a later announcement of P as having arrived.
const MARK: u32 = (A_AS << 16) | 777;

/// The speaker, A and B.
struct Harness {
    speaker: Arc<Speaker>,
    a: Scripted,
    b: Scripted,
    /// Kept so the speaker can dial A again after a reset.
    a_listener: TcpListener,
    _b_listener: TcpListener,
    a_asn: u32,
}

impl Harness {
    /// eBGP A established, P announced and passed on to B.
    async fn new() -> Harness {
        Harness::with(A_AS, open(A_AS, 90)).await
    }

    /// iBGP A (remote AS = local AS) established, P announced.
    async fn ibgp() -> Harness {
        Harness::with(LOCAL_AS, open(LOCAL_AS, 90)).await
    }

    /// A established with `a_open` as its OPEN, P announced.
    async fn with(a_asn: u32, a_open: Open) -> Harness {
        let mut h = Harness::connected(a_asn).await;
        h.a.establish(a_open).await;
        let dump = h.a.until_end_of_rib().await;
        assert!(dump.iter().any(|u| u.announced().any(|x| x == p(O))));
        h.announce_p().await;
        h
    }

    /// B established with Q; A's connection accepted, the speaker's OPEN to
    /// A not yet read (OpenSent).
    async fn connected(a_asn: u32) -> Harness {
        let (a_listener, a_port) = listener([127, 0, 0, 2]).await;
        let (b_listener, b_port) = listener([127, 0, 0, 3]).await;
        let speaker = speaker(
            vec![
                peer_config(Ipv4Addr::new(127, 0, 0, 2), a_port, a_asn),
                peer_config(Ipv4Addr::new(127, 0, 0, 3), b_port, B_AS),
            ],
            vec![p(O)],
        )
        .await;
        let mut b = Scripted::accept(&b_listener).await;
        b.establish(open(B_AS, 90)).await;
        let dump = b.until_end_of_rib().await;
        assert!(dump.iter().any(|u| u.announced().any(|x| x == p(O))));
        let q = update(
            &[],
            &[origin(0), as_path(&[B_AS]), next_hop([192, 0, 2, 2])].concat(),
            &prefix(Q),
        );
        b.send_raw(&q).await;
        wait_routes(&speaker, "B's route Q", |r| {
            route_from(r, Q, B_ID).is_some()
        })
        .await;
        let a = Scripted::accept(&a_listener).await;
        Harness {
            speaker,
            a,
            b,
            a_listener,
            _b_listener: b_listener,
            a_asn,
        }
    }

    fn a_shared(&self) -> &PeerShared {
        &self.speaker.peers()[0]
    }

    fn b_shared(&self) -> &PeerShared {
        &self.speaker.peers()[1]
    }

    fn ebgp(&self) -> bool {
        self.a_asn != LOCAL_AS
    }

    /// A's AS_PATH: its own AS first when eBGP (RFC 4271 §5.1.2).
    fn a_as_path(&self) -> Vec<u8> {
        if self.ebgp() {
            as_path(&[self.a_asn, 64999])
        } else {
            as_path(&[64999])
        }
    }

    /// ORIGIN, AS_PATH and NEXT_HOP, all valid.
    fn well_known(&self) -> Vec<u8> {
        [origin(0), self.a_as_path(), next_hop(A_NEXT_HOP)].concat()
    }

    /// An UPDATE from A announcing P with these attributes.
    fn p_update(&self, attributes: &[u8]) -> Vec<u8> {
        update(&[], attributes, &prefix(P))
    }

    /// A announces P validly; wait until the Loc-RIB and B have it.
    async fn announce_p(&mut self) {
        let bytes = self.p_update(&[self.well_known(), communities(&[FIRST])].concat());
        self.a.send_raw(&bytes).await;
        wait_routes(&self.speaker, "A's route P", |r| {
            route_from(r, P, A_ID).is_some()
        })
        .await;
        self.b.expect_announced(P).await;
    }

    /// B's session, B's route Q and the originated O are as they were.
    async fn assert_bystander_unharmed(&mut self) {
        wait_routes(&self.speaker, "Q from B and O", |r| {
            route_from(r, Q, B_ID).is_some() && route_from(r, O, LOCAL_PEER).is_some()
        })
        .await;
        assert_eq!(self.b_shared().state(), State::Established);
        assert_eq!(
            self.b_shared()
                .counters
                .established_transitions
                .load(Ordering::Relaxed),
            1,
            "B's session flapped"
        );
        // B's session still reads: a KEEPALIVE is taken.
        let b_peer = self.speaker.peers()[1].clone();
        let before = b_peer.counters.keepalives_received.load(Ordering::Relaxed);
        self.b.send(&Message::Keepalive).await;
        wait_for("B's KEEPALIVE to be counted", || {
            b_peer.counters.keepalives_received.load(Ordering::Relaxed) > before
        })
        .await;
        assert_eq!(self.b_shared().state(), State::Established);
    }

    /// Session reset: A gets exactly `code`/`subcode` (and `data` when
    /// given), the connection closes, P is flushed and B hears it
    /// withdrawn.
    async fn expect_reset(&mut self, code: u8, subcode: u8, data: Option<&[u8]>) {
        let n = self.a.expect_notification().await;
        assert_eq!((n.code, n.subcode), (code, subcode), "{n:?}");
        if let Some(data) = data {
            assert_eq!(n.data, data, "NOTIFICATION data");
        }
        self.a.expect_closed().await;
        wait_routes(&self.speaker, "A's routes flushed", |r| !has(r, P)).await;
        let a = &self.speaker.peers()[0];
        wait_for("A to leave Established", || a.state() != State::Established).await;
        let sent = a.session().last_notification_sent;
        assert!(sent.contains(&format!("{code}/{subcode}")), "{sent}");
        self.b.expect_withdrawn(P).await;
        self.assert_bystander_unharmed().await;
        self.finish().await;
    }

    /// An OPEN-stage refusal: A gets `code`/`subcode` (and `data`), the
    /// connection closes, A never reached Established, B is unharmed.
    async fn expect_refused(&mut self, code: u8, subcode: u8, data: Option<&[u8]>) {
        let n = self.a.expect_notification().await;
        assert_eq!((n.code, n.subcode), (code, subcode), "{n:?}");
        if let Some(data) = data {
            assert_eq!(n.data, data, "NOTIFICATION data");
        }
        self.a.expect_closed().await;
        assert_eq!(
            self.a_shared()
                .counters
                .established_transitions
                .load(Ordering::Relaxed),
            0
        );
        self.assert_bystander_unharmed().await;
        self.finish().await;
    }

    /// A's session is still the same Established session.
    async fn assert_a_survived(&mut self) {
        self.a.send(&Message::Keepalive).await;
        assert_eq!(self.a_shared().state(), State::Established);
        assert_eq!(
            self.a_shared()
                .counters
                .established_transitions
                .load(Ordering::Relaxed),
            1,
            "A's session was reset"
        );
        let sent = self.a_shared().session().last_notification_sent;
        assert!(sent.is_empty(), "NOTIFICATION sent to A: {sent}");
    }

    /// Treat-as-withdraw: P leaves the Loc-RIB and B, the counter moves, and
    /// A's session still works: a valid UPDATE brings P back.
    async fn expect_treat_as_withdraw(&mut self) {
        self.treat_as_withdraw_outcome(true).await;
    }

    /// Treat-as-withdraw, checking `withdrawn_treated` only when `counted`.
    async fn treat_as_withdraw_outcome(&mut self, counted: bool) {
        wait_routes(&self.speaker, "P treated as withdrawn", |r| !has(r, P)).await;
        self.b.expect_withdrawn(P).await;
        let treated = self
            .a_shared()
            .counters
            .withdrawn_treated
            .load(Ordering::Relaxed);
        assert!(!counted || treated >= 1, "withdrawn_treated = {treated}");
        self.assert_a_survived().await;
        // The same connection still carries routes.
        let again = self.p_update(&[self.well_known(), communities(&[MARK])].concat());
        self.a.send_raw(&again).await;
        wait_routes(&self.speaker, "P announced again", |r| {
            route_from(r, P, A_ID).is_some()
        })
        .await;
        self.b.expect_announced(P).await;
        self.assert_a_survived().await;
        self.assert_bystander_unharmed().await;
        self.finish().await;
    }

    /// Attribute discard: P is replaced by the announcement carrying MARK,
    /// minus the bad attribute. Returns the Loc-RIB attributes and what B
    /// was sent.
    async fn expect_discard(&mut self) -> (Arc<PathAttributes>, Update) {
        let routes = wait_routes(&self.speaker, "P with the new attributes", |r| {
            route_from(r, P, A_ID).is_some_and(|v| v.attributes.communities.contains(&MARK))
        })
        .await;
        let attributes = route_from(&routes, P, A_ID).unwrap().attributes.clone();
        let (to_b, _) = self.b.expect_announced(P).await;
        assert!(to_b.attributes.communities.contains(&MARK), "{to_b:?}");
        let discarded = self
            .a_shared()
            .counters
            .attributes_discarded
            .load(Ordering::Relaxed);
        assert!(discarded >= 1, "attributes_discarded = {discarded}");
        assert_eq!(
            self.a_shared()
                .counters
                .withdrawn_treated
                .load(Ordering::Relaxed),
            0
        );
        self.assert_a_survived().await;
        self.assert_bystander_unharmed().await;
        (attributes, to_b)
    }

    async fn finish(&self) {
        self.speaker.shutdown().await;
    }
}

/// A KEEPALIVE as bytes.
fn keepalive() -> Vec<u8> {
    message(mt::KEEPALIVE, &[])
}

// ---------------------------------------------------------------------------
// Message header (RFC 4271 §6.1)

/// RFC 4271 §6.1: a marker that is not all ones is Connection Not
/// Synchronized, 1/1.
#[tokio::test]
async fn header_marker_not_all_ones_is_1_1() {
    let mut h = Harness::new().await;
    let mut bytes = keepalive();
    bytes[5] = 0xfe;
    h.a.send_raw(&bytes).await;
    h.expect_reset(1, 1, None).await;
}

/// RFC 4271 §6.1: Length below 19 is Bad Message Length, 1/2, the data
/// the erroneous Length field.
#[tokio::test]
async fn header_length_below_19_is_1_2_with_length() {
    let mut h = Harness::new().await;
    h.a.send_raw(&header(18, mt::KEEPALIVE)).await;
    h.expect_reset(1, 2, Some(&[0, 18])).await;
}

/// RFC 4271 §6.1, RFC 8654 §4: without the Extended Message capability a
/// Length above 4096 is 1/2 with the Length field.
#[tokio::test]
async fn header_length_above_4096_without_extended_messages_is_1_2() {
    let mut h = Harness::new().await;
    let mut bytes = header(4097, mt::UPDATE);
    bytes.extend_from_slice(&[0; 64]);
    h.a.send_raw(&bytes).await;
    h.expect_reset(1, 2, Some(&[0x10, 0x01])).await;
}

/// RFC 4271 §6.1: a KEEPALIVE is exactly 19 octets; one of 20 is 1/2 with
/// the Length field.
#[tokio::test]
async fn keepalive_of_length_20_is_1_2() {
    let mut h = Harness::new().await;
    h.a.send_raw(&message(mt::KEEPALIVE, &[0])).await;
    h.expect_reset(1, 2, Some(&[0, 20])).await;
}

/// RFC 4271 §6.1: an UPDATE shorter than 23 octets is 1/2 with the Length
/// field.
#[tokio::test]
async fn update_shorter_than_23_is_1_2() {
    let mut h = Harness::new().await;
    h.a.send_raw(&message(mt::UPDATE, &[0, 0, 0])).await;
    h.expect_reset(1, 2, Some(&[0, 22])).await;
}

/// RFC 4271 §6.1: an unknown Type is Bad Message Type, 1/3, the data the
/// erroneous Type field.
#[tokio::test]
async fn unknown_message_type_is_1_3_with_type() {
    let mut h = Harness::new().await;
    h.a.send_raw(&message(42, &[])).await;
    h.expect_reset(1, 3, Some(&[42])).await;
}

/// RFC 4271 §8.2.2 (event 18, TcpConnectionFails): half an UPDATE and then
/// the connection closes. No crash: the session ends, A's routes are
/// flushed, and the speaker dials A again and can establish afresh.
#[tokio::test]
async fn truncated_message_then_close_ends_the_session_only() {
    let mut h = Harness::new().await;
    let bytes = h.p_update(&h.well_known());
    h.a.send_raw(&bytes[..30]).await;
    h.a.stream.shutdown().await.unwrap();
    h.a.expect_closed().await;
    wait_routes(&h.speaker, "A's routes flushed", |r| !has(r, P)).await;
    h.b.expect_withdrawn(P).await;
    h.assert_bystander_unharmed().await;
    // The speaker is alive and tries A again (idle hold 1 s).
    let mut again = Scripted::accept(&h.a_listener).await;
    again.establish(open(A_AS, 90)).await;
    again.until_end_of_rib().await;
    wait_for("A Established again", || {
        h.a_shared().state() == State::Established
    })
    .await;
    h.finish().await;
}

// ---------------------------------------------------------------------------
// UPDATE layout: lengths, NLRI, mandatory attributes

/// RFC 4271 §6.3, RFC 7606 §4: a Withdrawn Routes Length that runs past the
/// message leaves nothing parseable: Malformed Attribute List, 3/1.
#[tokio::test]
async fn withdrawn_routes_length_overrunning_is_3_1() {
    let mut h = Harness::new().await;
    h.a.send_raw(&message(mt::UPDATE, &[0, 200, 0, 0, 24, 198]))
        .await;
    h.expect_reset(3, 1, Some(&[])).await;
}

/// RFC 4271 §6.3, RFC 7606 §4: a Total Path Attribute Length that runs past
/// the message is 3/1 (the NLRI cannot be located).
#[tokio::test]
async fn total_path_attribute_length_overrunning_is_3_1() {
    let mut h = Harness::new().await;
    let mut body = vec![0, 0, 0x01, 0x00];
    body.extend_from_slice(&h.well_known());
    body.extend_from_slice(&prefix(P));
    h.a.send_raw(&message(mt::UPDATE, &body)).await;
    h.expect_reset(3, 1, Some(&[])).await;
}

/// RFC 7606 §4: the last attribute's length overruns the attribute field:
/// treat-as-withdraw, the NLRI found by the Total Path Attribute Length.
#[tokio::test]
async fn attribute_length_overrunning_the_list_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    // COMMUNITIES claims 8 octets; 4 follow before the field ends.
    let attrs = [
        h.well_known(),
        vec![OPTIONAL_TRANSITIVE, ty::COMMUNITIES, 8, 0, 0, 0, 1],
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §4 (second case): too few octets left for an attribute header:
/// treat-as-withdraw.
#[tokio::test]
async fn attribute_list_ending_in_a_partial_header_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [h.well_known(), vec![OPTIONAL_TRANSITIVE, ty::COMMUNITIES]].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §3 d: NLRI with an empty attribute list misses every
/// well-known mandatory attribute: treat-as-withdraw.
#[tokio::test]
async fn zero_length_attribute_list_with_nlri_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    h.a.send_raw(&h.p_update(&[])).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §3 d: ORIGIN missing: treat-as-withdraw.
#[tokio::test]
async fn missing_origin_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [h.a_as_path(), next_hop(A_NEXT_HOP)].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §3 d: NEXT_HOP missing with classic NLRI: treat-as-withdraw.
#[tokio::test]
async fn missing_next_hop_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [origin(0), h.a_as_path()].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §5.3, RFC 4271 §6.3: an NLRI prefix length above 32 makes the
/// field unparseable: session reset with Invalid Network Field, 3/10.
#[tokio::test]
async fn nlri_prefix_length_above_32_is_3_10() {
    let mut h = Harness::new().await;
    let bytes = update(&[], &h.well_known(), &[33, 198, 51, 100, 0, 0]);
    h.a.send_raw(&bytes).await;
    h.expect_reset(3, 10, None).await;
}

/// RFC 7606 §5.3: the last NLRI prefix runs past the end of the message:
/// 3/10.
#[tokio::test]
async fn nlri_overrunning_the_message_is_3_10() {
    let mut h = Harness::new().await;
    let bytes = update(&[], &h.well_known(), &[24, 198, 51]);
    h.a.send_raw(&bytes).await;
    h.expect_reset(3, 10, None).await;
}

/// RFC 7606 §5.3 (the Withdrawn Routes field is parsed as NLRI): a
/// withdrawn prefix of length 33 is a session reset, 3/10.
#[tokio::test]
async fn withdrawn_prefix_length_above_32_is_3_10() {
    let mut h = Harness::new().await;
    h.a.send_raw(&update(&[33, 1, 2, 3, 4, 5], &[], &[])).await;
    h.expect_reset(3, 10, None).await;
}

// ---------------------------------------------------------------------------
// Attribute list: duplicates, flags, unrecognised attributes

/// RFC 7606 §3 g: an attribute other than MP_REACH/MP_UNREACH appearing
/// twice: all but the first are discarded and the UPDATE stands.
#[tokio::test]
async fn duplicate_origin_keeps_the_first() {
    let mut h = Harness::new().await;
    let attrs = [
        origin(1),
        h.a_as_path(),
        next_hop(A_NEXT_HOP),
        communities(&[MARK]),
        origin(2),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (rib, to_b) = h.expect_discard().await;
    assert_eq!(rib.origin, Some(Origin::Egp));
    assert_eq!(to_b.attributes.origin, Some(Origin::Egp));
    h.finish().await;
}

/// RFC 7606 §3 g: MP_REACH_NLRI twice: Malformed Attribute List, 3/1.
#[tokio::test]
async fn duplicate_mp_reach_is_3_1() {
    let mut h = Harness::new().await;
    let reach = attr(
        OPTIONAL,
        ty::MP_REACH_NLRI,
        &mp_reach_value(1, 1, &A_NEXT_HOP, &prefix(P)),
    );
    let attrs = [reach.clone(), reach, origin(0), h.a_as_path()].concat();
    h.a.send_raw(&update(&[], &attrs, &[])).await;
    h.expect_reset(3, 1, None).await;
}

/// RFC 7606 §3 g: MP_UNREACH_NLRI twice: 3/1.
#[tokio::test]
async fn duplicate_mp_unreach_is_3_1() {
    let mut h = Harness::new().await;
    let unreach = attr(
        OPTIONAL,
        ty::MP_UNREACH_NLRI,
        &mp_unreach_value(1, 1, &prefix(P)),
    );
    h.a.send_raw(&update(&[], &[unreach.clone(), unreach].concat(), &[]))
        .await;
    h.expect_reset(3, 1, None).await;
}

/// RFC 7606 §3 c: ORIGIN with the Optional bit set conflicts with its
/// well-known flags: treat-as-withdraw.
#[tokio::test]
async fn origin_with_optional_flag_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        attr(OPTIONAL_TRANSITIVE, ty::ORIGIN, &[0]),
        h.a_as_path(),
        next_hop(A_NEXT_HOP),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 4271 §6.3 (unchanged by RFC 7606): an unrecognised well-known
/// attribute is 3/2, the data the attribute (flags, type, length, value).
#[tokio::test]
async fn unrecognised_well_known_attribute_is_3_2_with_the_attribute() {
    let mut h = Harness::new().await;
    let unknown = attr(WELL_KNOWN, 99, &[1, 2, 3]);
    let attrs = [h.well_known(), unknown.clone()].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_reset(3, 2, Some(&unknown)).await;
}

/// RFC 4271 §5, §9.1.4: an unrecognised optional transitive attribute is
/// passed on with the Partial bit set (flags 0xC0 → 0xE0), value intact.
#[tokio::test]
async fn unknown_optional_transitive_is_passed_on_with_partial() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        communities(&[MARK]),
        attr(OPTIONAL_TRANSITIVE, 99, &[1, 2, 3]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (update, bytes) = h.b.expect_announced(P).await;
    assert!(update.attributes.communities.contains(&MARK), "{update:?}");
    assert!(
        contains(&bytes, &[0xe0, 99, 3, 1, 2, 3]),
        "B did not get the attribute with Partial set: {bytes:02x?}"
    );
    h.assert_a_survived().await;
    h.assert_bystander_unharmed().await;
    h.finish().await;
}

/// RFC 4271 §5: an unrecognised optional non-transitive attribute is
/// quietly ignored: the route stands and the attribute is not passed on.
#[tokio::test]
async fn unknown_optional_non_transitive_is_not_passed_on() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        communities(&[MARK]),
        attr(OPTIONAL, 100, &[1, 2, 3]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (update, bytes) = h.b.expect_announced(P).await;
    assert!(update.attributes.communities.contains(&MARK), "{update:?}");
    assert!(update.attributes.rare.unknown.is_empty(), "{update:?}");
    assert!(!contains(&bytes, &[100, 3, 1, 2, 3]), "{bytes:02x?}");
    h.assert_a_survived().await;
    h.assert_bystander_unharmed().await;
    h.finish().await;
}

// ---------------------------------------------------------------------------
// Individual attributes (RFC 7606 §7)

/// RFC 7606 §7.1: ORIGIN value 3 is undefined: treat-as-withdraw.
#[tokio::test]
async fn origin_value_3_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [origin(3), h.a_as_path(), next_hop(A_NEXT_HOP)].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.1: ORIGIN of length 2: treat-as-withdraw.
#[tokio::test]
async fn origin_length_2_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        attr(WELL_KNOWN, ty::ORIGIN, &[0, 0]),
        h.a_as_path(),
        next_hop(A_NEXT_HOP),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// An AS_PATH attribute with a raw value, then ORIGIN and NEXT_HOP.
fn with_as_path_value(value: &[u8]) -> Vec<u8> {
    [
        origin(0),
        attr(WELL_KNOWN, ty::AS_PATH, value),
        next_hop(A_NEXT_HOP),
    ]
    .concat()
}

/// RFC 7606 §7.2: an unknown AS_PATH segment type (5): treat-as-withdraw.
#[tokio::test]
async fn as_path_bad_segment_type_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let mut value = vec![5, 1];
    value.extend_from_slice(&A_AS.to_be_bytes());
    h.a.send_raw(&h.p_update(&with_as_path_value(&value))).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.2: an AS_PATH segment of length zero: treat-as-withdraw.
#[tokio::test]
async fn as_path_zero_length_segment_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let mut value = vec![2, 1];
    value.extend_from_slice(&A_AS.to_be_bytes());
    value.extend_from_slice(&[2, 0]);
    h.a.send_raw(&h.p_update(&with_as_path_value(&value))).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.2: a segment claiming more ASNs than the attribute holds:
/// treat-as-withdraw.
#[tokio::test]
async fn as_path_segment_overrun_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let mut value = vec![2, 3];
    value.extend_from_slice(&A_AS.to_be_bytes());
    h.a.send_raw(&h.p_update(&with_as_path_value(&value))).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.2 (RFC 4271 §6.3): from an eBGP peer, a leftmost AS that is
/// not the peer's is handled as treat-as-withdraw. (The counter is checked
/// by the next test.)
#[tokio::test]
async fn as_path_first_as_not_the_peers_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [origin(0), as_path(&[65099, 64999]), next_hop(A_NEXT_HOP)].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.treat_as_withdraw_outcome(false).await;
}

/// As above, and the treat-as-withdraw shows in `withdrawn_treated` like
/// every other one, so an operator can see the peer's routes being dropped.
#[tokio::test]

async fn as_path_first_as_not_the_peers_is_counted_as_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [origin(0), as_path(&[65099, 64999]), next_hop(A_NEXT_HOP)].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.3: NEXT_HOP of length 5: treat-as-withdraw.
#[tokio::test]
async fn next_hop_length_5_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        origin(0),
        h.a_as_path(),
        attr(WELL_KNOWN, ty::NEXT_HOP, &[192, 0, 2, 1, 0]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.4: MULTI_EXIT_DISC of length 3: treat-as-withdraw.
#[tokio::test]
async fn med_length_3_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL, ty::MULTI_EXIT_DISC, &[0, 0, 1]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.5: from an internal peer, LOCAL_PREF of length 5 is
/// malformed: treat-as-withdraw.
#[tokio::test]
async fn local_pref_length_5_from_ibgp_is_treat_as_withdraw() {
    let mut h = Harness::ibgp().await;
    let attrs = [
        h.well_known(),
        attr(WELL_KNOWN, ty::LOCAL_PREF, &[0, 0, 0, 200, 0]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 4271 §5.1.5, RFC 7606 §7.5: a LOCAL_PREF from an external peer is
/// ignored: the route is accepted without it.
#[tokio::test]
async fn local_pref_from_ebgp_is_ignored() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(WELL_KNOWN, ty::LOCAL_PREF, &500u32.to_be_bytes()),
        communities(&[MARK]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let routes = wait_routes(&h.speaker, "P with MARK", |r| {
        route_from(r, P, A_ID).is_some_and(|v| v.attributes.communities.contains(&MARK))
    })
    .await;
    assert_eq!(
        route_from(&routes, P, A_ID).unwrap().attributes.local_pref,
        None
    );
    h.b.expect_announced(P).await;
    h.assert_a_survived().await;
    h.assert_bystander_unharmed().await;
    h.finish().await;
}

/// RFC 7606 §7.5: "if the LOCAL_PREF attribute is received from an
/// external neighbor, it SHALL be discarded using the approach of
/// attribute discard" — whatever its length. A LOCAL_PREF of length 5 from
/// eBGP must not withdraw the route.
#[tokio::test]

async fn local_pref_length_5_from_ebgp_is_attribute_discard() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(WELL_KNOWN, ty::LOCAL_PREF, &[0, 0, 0, 200, 0]),
        communities(&[MARK]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (rib, to_b) = h.expect_discard().await;
    assert_eq!(rib.local_pref, None);
    assert_eq!(to_b.attributes.local_pref, None);
    h.finish().await;
}

/// RFC 7606 §7.6: ATOMIC_AGGREGATE of length 1: attribute discard.
#[tokio::test]
async fn atomic_aggregate_length_1_is_attribute_discard() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(WELL_KNOWN, ty::ATOMIC_AGGREGATE, &[0]),
        communities(&[MARK]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (rib, to_b) = h.expect_discard().await;
    assert!(!rib.atomic_aggregate);
    assert!(!to_b.attributes.atomic_aggregate);
    h.finish().await;
}

/// RFC 7606 §7.7: AGGREGATOR of length 5 (8 expected between 4-octet-AS
/// speakers): attribute discard.
#[tokio::test]
async fn aggregator_length_5_is_attribute_discard() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL_TRANSITIVE, ty::AGGREGATOR, &[0, 0, 0xfd, 0xe9, 10]),
        communities(&[MARK]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (rib, to_b) = h.expect_discard().await;
    assert_eq!(rib.rare.aggregator, None);
    assert_eq!(to_b.attributes.rare.aggregator, None);
    h.finish().await;
}

/// RFC 7606 §7.8: COMMUNITIES of length 6 (not a multiple of 4):
/// treat-as-withdraw.
#[tokio::test]
async fn communities_length_6_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL_TRANSITIVE, ty::COMMUNITIES, &[0, 1, 0, 2, 0, 3]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.8: COMMUNITIES of length 0 (not a non-zero multiple of 4):
/// treat-as-withdraw.
#[tokio::test]
async fn communities_length_0_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL_TRANSITIVE, ty::COMMUNITIES, &[]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.9: from an internal peer, ORIGINATOR_ID of length 3 is
/// malformed: treat-as-withdraw.
#[tokio::test]
async fn originator_id_length_3_from_ibgp_is_treat_as_withdraw() {
    let mut h = Harness::ibgp().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL, ty::ORIGINATOR_ID, &[1, 2, 3]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.9: "if the ORIGINATOR_ID attribute is received from an
/// external neighbor, it SHALL be discarded using the approach of
/// attribute discard" — so a length-3 one from eBGP must not withdraw P.
#[tokio::test]

async fn originator_id_length_3_from_ebgp_is_attribute_discard() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL, ty::ORIGINATOR_ID, &[1, 2, 3]),
        communities(&[MARK]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let (rib, _) = h.expect_discard().await;
    assert_eq!(rib.rare.originator_id, None);
    h.finish().await;
}

/// RFC 7606 §7.9, §7.10: a well-formed ORIGINATOR_ID or CLUSTER_LIST from
/// an external neighbour is discarded (attribute discard): it must not
/// reach the Loc-RIB.
#[tokio::test]

async fn originator_id_and_cluster_list_from_ebgp_are_discarded() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL, ty::ORIGINATOR_ID, &[10, 9, 9, 9]),
        attr(OPTIONAL, ty::CLUSTER_LIST, &[10, 8, 8, 8]),
        communities(&[MARK]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    let routes = wait_routes(&h.speaker, "P with MARK", |r| {
        route_from(r, P, A_ID).is_some_and(|v| v.attributes.communities.contains(&MARK))
    })
    .await;
    let rib = &route_from(&routes, P, A_ID).unwrap().attributes;
    assert_eq!(rib.rare.originator_id, None, "ORIGINATOR_ID from eBGP kept");
    assert!(
        rib.rare.cluster_list.is_empty(),
        "CLUSTER_LIST from eBGP kept"
    );
    h.b.expect_announced(P).await;
    h.assert_a_survived().await;
    h.assert_bystander_unharmed().await;
    h.finish().await;
}

/// RFC 7606 §7.10: from an internal peer, CLUSTER_LIST of length 6:
/// treat-as-withdraw.
#[tokio::test]
async fn cluster_list_length_6_from_ibgp_is_treat_as_withdraw() {
    let mut h = Harness::ibgp().await;
    let attrs = [h.well_known(), attr(OPTIONAL, ty::CLUSTER_LIST, &[0; 6])].concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 7606 §7.14: EXTENDED_COMMUNITIES of length 7 (not a multiple of 8):
/// treat-as-withdraw.
#[tokio::test]
async fn extended_communities_length_7_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL_TRANSITIVE, ty::EXTENDED_COMMUNITIES, &[0; 7]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

/// RFC 8092 §6: LARGE_COMMUNITY of length 10 (not a non-zero multiple of
/// 12): treat-as-withdraw.
#[tokio::test]
async fn large_community_length_10_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let attrs = [
        h.well_known(),
        attr(OPTIONAL_TRANSITIVE, ty::LARGE_COMMUNITY, &[0; 10]),
    ]
    .concat();
    h.a.send_raw(&h.p_update(&attrs)).await;
    h.expect_treat_as_withdraw().await;
}

// ---------------------------------------------------------------------------
// MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 7606 §7.11, §7.12, §5.3; RFC 4760 §7)

/// An UPDATE announcing only through this MP_REACH_NLRI value, with ORIGIN
/// and AS_PATH.
fn mp_update(h: &Harness, reach_value: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let reach = attr(OPTIONAL, ty::MP_REACH_NLRI, reach_value);
    let bytes = update(
        &[],
        &[reach.clone(), origin(0), h.a_as_path()].concat(),
        &[],
    );
    (bytes, reach)
}

/// RFC 7606 §7.11: a next-hop length (5) inconsistent with the AFI makes
/// the NLRI unlocatable: session reset. RFC 4760 §7 and RFC 4271 §6.3: 3/9
/// Optional Attribute Error, data the attribute.
#[tokio::test]
async fn mp_reach_bad_next_hop_length_is_3_9() {
    let mut h = Harness::new().await;
    let (bytes, reach) = mp_update(&h, &mp_reach_value(1, 1, &[192, 0, 2, 1, 0], &prefix(P)));
    h.a.send_raw(&bytes).await;
    h.expect_reset(3, 9, Some(&reach)).await;
}

/// RFC 7606 §7.11: AFI 2 (IPv6) with a 4-octet next hop: the length does
/// not match the AFI: session reset, 3/9.
#[tokio::test]
async fn mp_reach_ipv6_afi_with_ipv4_next_hop_is_3_9() {
    let mut h = Harness::new().await;
    let (bytes, reach) = mp_update(
        &h,
        &mp_reach_value(2, 1, &A_NEXT_HOP, &prefix("2001:db8::/32")),
    );
    h.a.send_raw(&bytes).await;
    h.expect_reset(3, 9, Some(&reach)).await;
}

/// RFC 7606 §7.11: "that which was expected ... potentially modified by
/// any extensions in use": a 16-octet next hop for AFI 1 is only expected
/// when RFC 8950 extended next hop was negotiated, which it was not here.
/// Session reset, 3/9.
#[tokio::test]

async fn mp_reach_ipv4_afi_with_ipv6_next_hop_unnegotiated_is_3_9() {
    let mut h = Harness::new().await;
    let nh: [u8; 16] = "2001:db8::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let (bytes, reach) = mp_update(&h, &mp_reach_value(1, 1, &nh, &prefix(P)));
    h.a.send_raw(&bytes).await;
    h.expect_reset(3, 9, Some(&reach)).await;
}

/// RFC 7606 §7.11, §5.3: the last MP_REACH prefix overruns the attribute:
/// session reset, 3/9.
#[tokio::test]
async fn mp_reach_nlri_overrun_is_3_9() {
    let mut h = Harness::new().await;
    let (bytes, reach) = mp_update(&h, &mp_reach_value(1, 1, &A_NEXT_HOP, &[24, 198, 51]));
    h.a.send_raw(&bytes).await;
    h.expect_reset(3, 9, Some(&reach)).await;
}

/// RFC 7606 §4 with §3 (last paragraph): MP_REACH_NLRI whose length
/// overruns the attribute field cannot be parsed, so treat-as-withdraw is
/// impossible: session reset, Malformed Attribute List 3/1.
#[tokio::test]
async fn mp_reach_overrunning_the_attribute_list_is_3_1() {
    let mut h = Harness::new().await;
    let mut reach = attr(
        OPTIONAL,
        ty::MP_REACH_NLRI,
        &mp_reach_value(1, 1, &A_NEXT_HOP, &prefix(P)),
    );
    reach[2] += 20;
    let attrs = [origin(0), h.a_as_path(), reach].concat();
    h.a.send_raw(&update(&[], &attrs, &[])).await;
    h.expect_reset(3, 1, None).await;
}

/// RFC 7606 §7.12, §5.3: an MP_UNREACH prefix overrunning the attribute:
/// session reset, 3/9 with the attribute.
#[tokio::test]
async fn mp_unreach_overrun_is_3_9() {
    let mut h = Harness::new().await;
    let unreach = attr(
        OPTIONAL,
        ty::MP_UNREACH_NLRI,
        &mp_unreach_value(1, 1, &[24, 198]),
    );
    h.a.send_raw(&update(&[], &unreach, &[])).await;
    h.expect_reset(3, 9, Some(&unreach)).await;
}

/// RFC 7606 §3 d, §5.1: MP_REACH_NLRI announcing P without ORIGIN: the
/// well-known mandatory attribute is missing: treat-as-withdraw of the MP
/// NLRI.
#[tokio::test]
async fn mp_reach_without_origin_is_treat_as_withdraw() {
    let mut h = Harness::new().await;
    let reach = attr(
        OPTIONAL,
        ty::MP_REACH_NLRI,
        &mp_reach_value(1, 1, &A_NEXT_HOP, &prefix(P)),
    );
    let attrs = [reach, h.a_as_path()].concat();
    h.a.send_raw(&update(&[], &attrs, &[])).await;
    h.expect_treat_as_withdraw().await;
}

// ---------------------------------------------------------------------------
// Liveness

/// RFC 7606 §2 (the point of treat-as-withdraw): a flood of 1,000 malformed
/// UPDATEs costs A nothing but its route, and B nothing at all.
#[tokio::test]
async fn flood_of_1000_treat_as_withdraw_updates_leaves_b_alone() {
    let mut h = Harness::new().await;
    let one = h.p_update(&[origin(7), h.a_as_path(), next_hop(A_NEXT_HOP)].concat());
    let flood: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    h.a.send_raw(&flood).await;
    let treated = &h.speaker.peers()[0].counters.withdrawn_treated;
    wait_for("1,000 UPDATEs treated as withdraw", || {
        treated.load(Ordering::Relaxed) >= 1000
    })
    .await;
    assert_eq!(
        h.a_shared()
            .counters
            .updates_received
            .load(Ordering::Relaxed),
        1001
    );
    h.expect_treat_as_withdraw().await;
}

// ---------------------------------------------------------------------------
// OPEN and capabilities (RFC 4271 §6.2, RFC 5492)

/// RFC 4271 §6.2: version 3 is Unsupported Version Number, 2/1; the data
/// is our version (the smallest we support is above the peer's bid): 4.
#[tokio::test]
async fn open_version_3_is_2_1_with_version_4() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    let mut bad = open(A_AS, 90);
    bad.version = 3;
    h.a.send(&Message::Open(bad)).await;
    h.expect_refused(2, 1, Some(&[0, 4])).await;
}

/// RFC 4271 §6.2: a hold time of 1 s is Unacceptable Hold Time, 2/6.
#[tokio::test]
async fn open_hold_time_1_is_2_6() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    h.a.send(&Message::Open(open(A_AS, 1))).await;
    h.expect_refused(2, 6, None).await;
}

/// RFC 4271 §6.2, RFC 6286 §2.2: BGP Identifier 0.0.0.0 is Bad BGP
/// Identifier, 2/3.
#[tokio::test]
async fn open_bgp_identifier_zero_is_2_3() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    let mut bad = open(A_AS, 90);
    bad.bgp_identifier = Ipv4Addr::UNSPECIFIED;
    h.a.send(&Message::Open(bad)).await;
    h.expect_refused(2, 3, None).await;
}

/// RFC 4271 §6.2: optional parameter type 1 (deprecated Authentication) is
/// Unsupported Optional Parameter, 2/4.
#[tokio::test]
async fn open_unsupported_optional_parameter_is_2_4() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    let parameters = [vec![1, 0], vec![2, 6, 65, 4], A_AS.to_be_bytes().to_vec()].concat();
    let bytes = open_message(A_AS as u16, 90, [10, 0, 0, 2], &parameters);
    h.a.send_raw(&bytes).await;
    h.expect_refused(2, 4, None).await;
}

/// RFC 4271 §6.2: an AS other than the configured one is Bad Peer AS, 2/2.
#[tokio::test]
async fn open_peer_as_mismatch_is_2_2() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    h.a.send(&Message::Open(open(65099, 90))).await;
    h.expect_refused(2, 2, None).await;
}

/// RFC 5492 §3, RFC 4760 §8: a peer offering only IPv6 unicast shares no
/// family with an IPv4-only neighbour: Unsupported Capability, 2/7, the
/// data the capability we need (MP IPv4 unicast).
#[tokio::test]
async fn open_no_shared_family_is_2_7_with_the_capability() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    let mut bad = open(A_AS, 90);
    bad.capabilities = vec![
        Capability::Multiprotocol { afi: 2, safi: 1 },
        Capability::FourOctetAs(A_AS),
    ];
    h.a.send(&Message::Open(bad)).await;
    h.expect_refused(2, 7, Some(&[1, 4, 0, 1, 0, 1])).await;
}

/// RFC 4271 §6.2: a recognised optional parameter that is malformed (a
/// 4-octet-AS capability of 3 octets, RFC 6793 §3) is 2/0, Unspecific.
#[tokio::test]
async fn open_malformed_four_octet_as_capability_is_2_0() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    let capability = [65, 3, 0, 0xfd, 0xe9];
    let parameters = [vec![2, 5], capability.to_vec()].concat();
    let bytes = open_message(A_AS as u16, 90, [10, 0, 0, 2], &parameters);
    h.a.send_raw(&bytes).await;
    h.expect_refused(2, 0, None).await;
}

/// RFC 4271 §8.2.2 (Established, event 19), RFC 6608 §3: an OPEN in
/// Established is an FSM Error, 5/3 (unexpected message in Established).
#[tokio::test]
async fn open_in_established_is_5_3() {
    let mut h = Harness::new().await;
    h.a.send(&Message::Open(open(A_AS, 90))).await;
    h.expect_reset(5, 3, None).await;
}

/// RFC 4271 §8.2.2 (OpenSent, event 27), RFC 6608 §3: an UPDATE before the
/// peer's OPEN is 5/1 (unexpected message in OpenSent).
#[tokio::test]
async fn update_before_open_is_5_1() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    h.a.send_raw(&update(&[], &[], &[])).await;
    h.expect_refused(5, 1, None).await;
}

/// RFC 4271 §8.2.2 (OpenConfirm, event 27), RFC 6608 §3: an UPDATE before
/// the KEEPALIVE that confirms the OPEN is 5/2.
#[tokio::test]
async fn update_in_open_confirm_is_5_2() {
    let mut h = Harness::connected(A_AS).await;
    h.a.expect_open().await;
    h.a.send(&Message::Open(open(A_AS, 90))).await;
    // The speaker's KEEPALIVE: it is in OpenConfirm now.
    assert_eq!(h.a.recv().await, Some(Message::Keepalive));
    h.a.send_raw(&update(&[], &[], &[])).await;
    h.expect_refused(5, 2, None).await;
}

/// RFC 7313 §5: with enhanced route refresh negotiated, a BoRR (subtype 1)
/// ROUTE-REFRESH whose body is not 4 octets is ROUTE-REFRESH Message
/// Error / Invalid Message Length, 7/1, the data the complete message.
#[tokio::test]

async fn route_refresh_borr_of_wrong_length_is_7_1() {
    let mut a_open = open(A_AS, 90);
    a_open.capabilities.push(Capability::EnhancedRouteRefresh);
    let mut h = Harness::with(A_AS, a_open).await;
    let bytes = message(mt::ROUTE_REFRESH, &[0, 1, 1, 1, 0, 0, 0, 0]);
    h.a.send_raw(&bytes).await;
    h.expect_reset(7, 1, Some(&bytes)).await;
}
