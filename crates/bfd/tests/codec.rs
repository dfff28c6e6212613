//! Control packet codec (RFC 5880 §4.1) and the packet checks of §6.8.6.

use clos_bfd::packet::{ControlPacket, Diagnostic, PacketError, SessionState};
use proptest::prelude::*;

/// A Down packet as FRR 8.4 sends it first: diag 0, state Down, mult 3,
/// my discr 0x4a1a2b3c, your discr 0, 1 s / 50 ms / 50 ms.
const FRR_DOWN: [u8; 24] = [
    0x20, 0x40, 0x03, 0x18, 0x4a, 0x1a, 0x2b, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42, 0x40,
    0x00, 0x00, 0xc3, 0x50, 0x00, 0x00, 0xc3, 0x50,
];

fn up() -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state: SessionState::Up,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 1,
        your_discriminator: 2,
        desired_min_tx_us: 50_000,
        required_min_rx_us: 50_000,
        required_min_echo_rx_us: 0,
    }
}

#[test]
fn decodes_a_down_packet_byte_exact() {
    let packet = ControlPacket::decode(&FRR_DOWN).expect("valid");
    assert_eq!(packet.state, SessionState::Down);
    assert_eq!(packet.diagnostic, Diagnostic::NoDiagnostic);
    assert_eq!(packet.detect_mult, 3);
    assert_eq!(packet.my_discriminator, 0x4a1a_2b3c);
    assert_eq!(packet.your_discriminator, 0);
    assert_eq!(packet.desired_min_tx_us, 1_000_000);
    assert_eq!(packet.required_min_rx_us, 50_000);
    assert_eq!(packet.required_min_echo_rx_us, 50_000);
    assert!(!packet.poll && !packet.final_ && !packet.demand);
    assert_eq!(packet.encode(), FRR_DOWN);
}

#[test]
fn encodes_flags_and_diagnostic_byte_exact() {
    let mut packet = up();
    packet.poll = true;
    packet.diagnostic = Diagnostic::NeighborSignaledSessionDown;
    packet.control_plane_independent = true;
    packet.state = SessionState::Init;
    // 001 00011 | 10 1 0 1 0 0 0
    assert_eq!(&packet.encode()[..4], &[0x23, 0xa8, 0x03, 0x18]);
    packet.poll = false;
    packet.final_ = true;
    packet.demand = true;
    packet.state = SessionState::AdminDown;
    packet.diagnostic = Diagnostic::AdministrativelyDown;
    // 001 00111 | 00 0 1 1 0 1 0
    assert_eq!(&packet.encode()[..4], &[0x27, 0x1a, 0x03, 0x18]);
}

#[test]
fn ignores_bytes_past_length() {
    let mut bytes = up().encode().to_vec();
    bytes.extend_from_slice(&[0xde, 0xad]);
    assert_eq!(ControlPacket::decode(&bytes), Ok(up()));
}

fn with(edit: impl FnOnce(&mut [u8; 24])) -> Result<ControlPacket, PacketError> {
    let mut bytes = up().encode();
    edit(&mut bytes);
    ControlPacket::decode(&bytes)
}

#[test]
fn discards_version_other_than_one() {
    assert_eq!(with(|b| b[0] = 0x40), Err(PacketError::BadVersion(2)));
    assert_eq!(with(|b| b[0] = 0x00), Err(PacketError::BadVersion(0)));
}

#[test]
fn discards_short_packets_and_short_length() {
    let bytes = up().encode();
    assert_eq!(
        ControlPacket::decode(&bytes[..23]),
        Err(PacketError::Truncated(23))
    );
    assert_eq!(ControlPacket::decode(&[]), Err(PacketError::Truncated(0)));
    assert_eq!(
        with(|b| b[3] = 23),
        Err(PacketError::LengthTooSmall {
            length: 23,
            minimum: 24
        })
    );
    // With the A bit the minimum is 26.
    assert_eq!(
        with(|b| {
            b[1] |= 0x04;
            b[3] = 25;
        }),
        Err(PacketError::LengthTooSmall {
            length: 25,
            minimum: 26
        })
    );
}

#[test]
fn discards_length_beyond_payload() {
    assert_eq!(
        with(|b| b[3] = 25),
        Err(PacketError::LengthExceedsPayload {
            length: 25,
            payload: 24
        })
    );
}

#[test]
fn discards_zero_detect_mult() {
    assert_eq!(with(|b| b[2] = 0), Err(PacketError::ZeroDetectMult));
}

#[test]
fn discards_multipoint() {
    assert_eq!(with(|b| b[1] |= 0x01), Err(PacketError::Multipoint));
}

#[test]
fn discards_zero_my_discriminator() {
    assert_eq!(
        with(|b| b[4..8].fill(0)),
        Err(PacketError::ZeroMyDiscriminator)
    );
}

#[test]
fn your_discriminator_zero_only_when_down_or_admin_down() {
    for (state, ok) in [
        (SessionState::AdminDown, true),
        (SessionState::Down, true),
        (SessionState::Init, false),
        (SessionState::Up, false),
    ] {
        let mut packet = up();
        packet.state = state;
        packet.your_discriminator = 0;
        let decoded = ControlPacket::decode(&packet.encode());
        if ok {
            assert_eq!(decoded, Ok(packet));
        } else {
            assert_eq!(decoded, Err(PacketError::ZeroYourDiscriminator(state)));
        }
    }
}

#[test]
fn discards_authentication_when_none_configured() {
    let mut bytes = up().encode().to_vec();
    bytes[1] |= 0x04;
    // Simple Password auth section: type 1, len 4, key id 1, password "x".
    bytes.extend_from_slice(&[1, 4, 1, b'x']);
    bytes[3] = 28;
    assert_eq!(
        ControlPacket::decode(&bytes),
        Err(PacketError::AuthenticationNotConfigured)
    );
}

#[test]
fn discards_poll_with_final() {
    assert_eq!(with(|b| b[1] |= 0x30), Err(PacketError::PollAndFinal));
}

fn state() -> impl Strategy<Value = SessionState> {
    (0u8..4).prop_map(SessionState::from_code)
}

prop_compose! {
    fn valid_packet()(
        diag in 0u8..32,
        state in state(),
        poll_final in 0u8..3,
        cpi: bool,
        demand: bool,
        detect_mult in 1u8..=255,
        my in 1u32..,
        your: u32,
        tx: u32,
        rx: u32,
        echo: u32,
    ) -> ControlPacket {
        let your = if matches!(state, SessionState::Init | SessionState::Up) { your.max(1) } else { your };
        ControlPacket {
            diagnostic: Diagnostic::from_code(diag),
            state,
            poll: poll_final == 1,
            final_: poll_final == 2,
            control_plane_independent: cpi,
            demand,
            detect_mult,
            my_discriminator: my,
            your_discriminator: your,
            desired_min_tx_us: tx,
            required_min_rx_us: rx,
            required_min_echo_rx_us: echo,
        }
    }
}

proptest! {
    #[test]
    fn round_trips(packet in valid_packet()) {
        prop_assert_eq!(ControlPacket::decode(&packet.encode()), Ok(packet));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(packet) = ControlPacket::decode(&bytes) {
            // Whatever decodes re-encodes to the same mandatory section,
            // except the A and M bits and the length, which must then be
            // clear and 24..=len.
            let encoded = packet.encode();
            prop_assert_eq!(&encoded[4..], &bytes[4..24]);
            prop_assert_eq!(encoded[0], bytes[0]);
            prop_assert_eq!(encoded[1], bytes[1]);
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(packet in valid_packet(), at in 0usize..24, byte: u8) {
        let mut bytes = packet.encode();
        bytes[at] = byte;
        let _ = ControlPacket::decode(&bytes);
    }
}
