//! The BFD Control packet (RFC 5880 §4.1): encode, decode, and every check
//! of the reception rules (§6.8.6) that can be made from the packet alone.
//!
//! No I/O and no session state here. What the packet checks cannot decide —
//! whether a non-zero Your Discriminator names a session of ours, whether
//! the source address belongs to that session, whether the TTL was 255
//! (RFC 5881 §5) — is the business of the I/O layer (`manager.rs`).
//!
//! Authentication (§4.2–4.4, §6.7) is not implemented: this crate never sets
//! the A bit, and since `bfd.AuthType` is therefore always zero, a received
//! packet with the A bit set is discarded, as §6.8.6 requires.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! |                      Your Discriminator                       |
//! |                    Desired Min TX Interval                    |
//! |                   Required Min RX Interval                    |
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;

/// The only version this crate speaks (§4.1 "Version").
pub const VERSION: u8 = 1;
/// Length of a Control packet without an authentication section (§4.1).
pub const MANDATORY_LENGTH: usize = 24;
/// Minimum length of a packet with the A bit set: the mandatory section plus
/// the Auth Type and Auth Len octets (§6.8.6).
pub const MINIMUM_AUTHENTICATED_LENGTH: usize = 26;

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
const FLAG_AUTHENTICATION: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// `bfd.SessionState` and the "Sta" field (§4.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionState {
    AdminDown,
    Down,
    Init,
    Up,
}

impl SessionState {
    /// The two-bit wire value.
    pub fn code(self) -> u8 {
        match self {
            SessionState::AdminDown => 0,
            SessionState::Down => 1,
            SessionState::Init => 2,
            SessionState::Up => 3,
        }
    }

    /// From the two-bit wire value (only the low two bits are used).
    pub fn from_code(code: u8) -> SessionState {
        match code & 0x03 {
            0 => SessionState::AdminDown,
            1 => SessionState::Down,
            2 => SessionState::Init,
            _ => SessionState::Up,
        }
    }

    /// The RFC's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::AdminDown => "AdminDown",
            SessionState::Down => "Down",
            SessionState::Init => "Init",
            SessionState::Up => "Up",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Diagnostic field (§4.1): why the sender's session last changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diagnostic {
    /// 0
    NoDiagnostic,
    /// 1
    ControlDetectionTimeExpired,
    /// 2
    EchoFunctionFailed,
    /// 3
    NeighborSignaledSessionDown,
    /// 4
    ForwardingPlaneReset,
    /// 5
    PathDown,
    /// 6
    ConcatenatedPathDown,
    /// 7
    AdministrativelyDown,
    /// 8
    ReverseConcatenatedPathDown,
    /// 9–31: reserved in RFC 5880 (9 is used by RFC 6428); kept so that
    /// decode and encode round-trip.
    Other(u8),
}

impl Diagnostic {
    /// The five-bit wire value.
    pub fn code(self) -> u8 {
        match self {
            Diagnostic::NoDiagnostic => 0,
            Diagnostic::ControlDetectionTimeExpired => 1,
            Diagnostic::EchoFunctionFailed => 2,
            Diagnostic::NeighborSignaledSessionDown => 3,
            Diagnostic::ForwardingPlaneReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdministrativelyDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
            Diagnostic::Other(code) => code & 0x1f,
        }
    }

    /// From the five-bit wire value (only the low five bits are used).
    pub fn from_code(code: u8) -> Diagnostic {
        match code & 0x1f {
            0 => Diagnostic::NoDiagnostic,
            1 => Diagnostic::ControlDetectionTimeExpired,
            2 => Diagnostic::EchoFunctionFailed,
            3 => Diagnostic::NeighborSignaledSessionDown,
            4 => Diagnostic::ForwardingPlaneReset,
            5 => Diagnostic::PathDown,
            6 => Diagnostic::ConcatenatedPathDown,
            7 => Diagnostic::AdministrativelyDown,
            8 => Diagnostic::ReverseConcatenatedPathDown,
            other => Diagnostic::Other(other),
        }
    }

    /// The RFC's wording, for logs and the CLI.
    pub fn description(self) -> &'static str {
        match self {
            Diagnostic::NoDiagnostic => "No Diagnostic",
            Diagnostic::ControlDetectionTimeExpired => "Control Detection Time Expired",
            Diagnostic::EchoFunctionFailed => "Echo Function Failed",
            Diagnostic::NeighborSignaledSessionDown => "Neighbor Signaled Session Down",
            Diagnostic::ForwardingPlaneReset => "Forwarding Plane Reset",
            Diagnostic::PathDown => "Path Down",
            Diagnostic::ConcatenatedPathDown => "Concatenated Path Down",
            Diagnostic::AdministrativelyDown => "Administratively Down",
            Diagnostic::ReverseConcatenatedPathDown => "Reverse Concatenated Path Down",
            Diagnostic::Other(_) => "Reserved",
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

/// A decoded BFD Control packet without authentication section.
///
/// Intervals are in microseconds, exactly as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket {
    pub diagnostic: Diagnostic,
    pub state: SessionState,
    /// P: the sender asks for verification of a parameter change (§6.5).
    pub poll: bool,
    /// F: the answer to a Poll.
    pub final_: bool,
    /// C: the sender's BFD is independent of its control plane.
    pub control_plane_independent: bool,
    /// D: the sender wishes to run in Demand mode (§6.6).
    pub demand: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    pub desired_min_tx_us: u32,
    pub required_min_rx_us: u32,
    pub required_min_echo_rx_us: u32,
}

/// Why a received packet is discarded (§6.8.6, packet-level rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet of {0} bytes is shorter than the 24-byte mandatory section")]
    Truncated(usize),
    #[error("version {0} is not 1")]
    BadVersion(u8),
    #[error("length field {length} is below the minimum of {minimum}")]
    LengthTooSmall { length: u8, minimum: usize },
    #[error("length field {length} exceeds the {payload}-byte payload")]
    LengthExceedsPayload { length: u8, payload: usize },
    #[error("detect multiplier is zero")]
    ZeroDetectMult,
    #[error("multipoint bit is set")]
    Multipoint,
    #[error("my discriminator is zero")]
    ZeroMyDiscriminator,
    #[error("your discriminator is zero while the state is {0}")]
    ZeroYourDiscriminator(SessionState),
    #[error("authentication bit is set but no authentication is configured")]
    AuthenticationNotConfigured,
    #[error("both poll and final bits are set")]
    PollAndFinal,
}

impl ControlPacket {
    /// Encodes the packet (24 bytes, no authentication). Multipoint and
    /// Authentication Present are always sent as zero.
    pub fn encode(&self) -> [u8; MANDATORY_LENGTH] {
        let mut out = [0u8; MANDATORY_LENGTH];
        out[0] = (VERSION << 5) | self.diagnostic.code();
        let mut flags = self.state.code() << 6;
        for (set, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (
                self.control_plane_independent,
                FLAG_CONTROL_PLANE_INDEPENDENT,
            ),
            (self.demand, FLAG_DEMAND),
        ] {
            if set {
                flags |= bit;
            }
        }
        out[1] = flags;
        out[2] = self.detect_mult;
        out[3] = MANDATORY_LENGTH as u8;
        out[4..8].copy_from_slice(&self.my_discriminator.to_be_bytes());
        out[8..12].copy_from_slice(&self.your_discriminator.to_be_bytes());
        out[12..16].copy_from_slice(&self.desired_min_tx_us.to_be_bytes());
        out[16..20].copy_from_slice(&self.required_min_rx_us.to_be_bytes());
        out[20..24].copy_from_slice(&self.required_min_echo_rx_us.to_be_bytes());
        out
    }

    /// Decodes and validates a UDP payload, applying in order the rules of
    /// §6.8.6 that concern the packet itself:
    ///
    /// 1. version must be 1;
    /// 2. Length must be at least 24 (26 with the A bit);
    /// 3. Length must not exceed the UDP payload;
    /// 4. Detect Mult must be non-zero;
    /// 5. the Multipoint bit must be zero;
    /// 6. My Discriminator must be non-zero;
    /// 7. Your Discriminator may be zero only in states Down and AdminDown;
    /// 8. the A bit must be clear, as no authentication is in use.
    ///
    /// Also rejected: P and F both set, which §4.1 forbids a sender to do.
    /// Bytes past Length are ignored.
    pub fn decode(payload: &[u8]) -> Result<ControlPacket, PacketError> {
        let Some(head) = payload.first_chunk::<MANDATORY_LENGTH>() else {
            return Err(PacketError::Truncated(payload.len()));
        };
        let version = head[0] >> 5;
        if version != VERSION {
            return Err(PacketError::BadVersion(version));
        }
        let flags = head[1];
        let authenticated = flags & FLAG_AUTHENTICATION != 0;
        let length = head[3];
        let minimum = if authenticated {
            MINIMUM_AUTHENTICATED_LENGTH
        } else {
            MANDATORY_LENGTH
        };
        if usize::from(length) < minimum {
            return Err(PacketError::LengthTooSmall { length, minimum });
        }
        if usize::from(length) > payload.len() {
            return Err(PacketError::LengthExceedsPayload {
                length,
                payload: payload.len(),
            });
        }
        let detect_mult = head[2];
        if detect_mult == 0 {
            return Err(PacketError::ZeroDetectMult);
        }
        if flags & FLAG_MULTIPOINT != 0 {
            return Err(PacketError::Multipoint);
        }
        let word =
            |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        let my_discriminator = word(4);
        if my_discriminator == 0 {
            return Err(PacketError::ZeroMyDiscriminator);
        }
        let state = SessionState::from_code(flags >> 6);
        let your_discriminator = word(8);
        if your_discriminator == 0 && !matches!(state, SessionState::Down | SessionState::AdminDown)
        {
            return Err(PacketError::ZeroYourDiscriminator(state));
        }
        if authenticated {
            return Err(PacketError::AuthenticationNotConfigured);
        }
        let poll = flags & FLAG_POLL != 0;
        let final_ = flags & FLAG_FINAL != 0;
        if poll && final_ {
            return Err(PacketError::PollAndFinal);
        }
        Ok(ControlPacket {
            diagnostic: Diagnostic::from_code(head[0]),
            state,
            poll,
            final_,
            control_plane_independent: flags & FLAG_CONTROL_PLANE_INDEPENDENT != 0,
            demand: flags & FLAG_DEMAND != 0,
            detect_mult,
            my_discriminator,
            your_discriminator,
            desired_min_tx_us: word(12),
            required_min_rx_us: word(16),
            required_min_echo_rx_us: word(20),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlPacket {
        ControlPacket {
            diagnostic: Diagnostic::NoDiagnostic,
            state: SessionState::Up,
            poll: false,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: 3,
            my_discriminator: 0x0102_0304,
            your_discriminator: 0x0506_0708,
            desired_min_tx_us: 50_000,
            required_min_rx_us: 50_000,
            required_min_echo_rx_us: 0,
        }
    }

    #[test]
    fn encodes_byte_exact() {
        assert_eq!(
            sample().encode(),
            [
                0x20, 0xc0, 0x03, 0x18, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00,
                0xc3, 0x50, 0x00, 0x00, 0xc3, 0x50, 0x00, 0x00, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn diagnostic_codes_round_trip() {
        for code in 0..32 {
            assert_eq!(Diagnostic::from_code(code).code(), code);
        }
    }
}
