//! Text forms for operators: communities (RFC 1997, RFC 8092, RFC 4360),
//! NOTIFICATION codes (RFC 4271 §4.5, RFC 4486, RFC 7313) and the
//! shutdown communication (RFC 9003). Used by the CLI and logs.

use std::fmt;

use crate::types::{notification as n, LargeCommunity, Notification};

/// Well-known communities (IANA "BGP Well-known Communities").
const WELL_KNOWN_COMMUNITIES: &[(u32, &str)] = &[
    (0xFFFF_0000, "GRACEFUL_SHUTDOWN"),
    (0xFFFF_0001, "ACCEPT_OWN"),
    (0xFFFF_0006, "LLGR_STALE"),
    (0xFFFF_0007, "NO_LLGR"),
    (0xFFFF_029A, "BLACKHOLE"),
    (0xFFFF_FF01, "NO_EXPORT"),
    (0xFFFF_FF02, "NO_ADVERTISE"),
    (0xFFFF_FF03, "NO_EXPORT_SUBCONFED"),
    (0xFFFF_FF04, "NOPEER"),
];

/// `65000:100`, or the well-known name (`NO_EXPORT`, ...).
pub fn format_community(c: u32) -> String {
    match WELL_KNOWN_COMMUNITIES.iter().find(|(v, _)| *v == c) {
        Some((_, name)) => (*name).to_string(),
        None => format!("{}:{}", c >> 16, c & 0xffff),
    }
}

/// Inverse of [`format_community`]: `ASN:VALUE` (each 16 bits) or a
/// well-known name, case-insensitive.
pub fn parse_community(s: &str) -> Option<u32> {
    if let Some((_, v)) = WELL_KNOWN_COMMUNITIES
        .iter()
        .map(|(v, name)| (name, v))
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
    {
        return Some(*v);
    }
    let (hi, lo) = s.split_once(':')?;
    Some(u32::from(hi.parse::<u16>().ok()?) << 16 | u32::from(lo.parse::<u16>().ok()?))
}

/// `GLOBAL:LOCAL1:LOCAL2` (RFC 8092 §3 canonical form).
pub fn format_large_community(c: &LargeCommunity) -> String {
    format!("{}:{}:{}", c.global_admin, c.local_data1, c.local_data2)
}

/// Inverse of [`format_large_community`].
pub fn parse_large_community(s: &str) -> Option<LargeCommunity> {
    let mut parts = s.split(':').map(str::parse::<u32>);
    let c = LargeCommunity {
        global_admin: parts.next()?.ok()?,
        local_data1: parts.next()?.ok()?,
        local_data2: parts.next()?.ok()?,
    };
    parts.next().is_none().then_some(c)
}

/// Route target / route origin in the `rt:` / `soo:` notation when the
/// type is recognisable (RFC 4360 §4, RFC 5668), else `0x` and 16 hex
/// digits.
pub fn format_extended_community(c: &[u8; 8]) -> String {
    let kind = match c[1] {
        0x02 => Some("rt"),
        0x03 => Some("soo"),
        _ => None,
    };
    let be16 = |i: usize| u16::from_be_bytes([c[i], c[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
    match (c[0], kind) {
        // Transitive two-octet AS specific.
        (0x00, Some(k)) => format!("{k}:{}:{}", be16(2), be32(4)),
        // Transitive IPv4 address specific.
        (0x01, Some(k)) => format!("{k}:{}.{}.{}.{}:{}", c[2], c[3], c[4], c[5], be16(6)),
        // Transitive four-octet AS specific.
        (0x02, Some(k)) => format!("{k}:{}:{}", be32(2), be16(6)),
        _ => format!(
            "0x{}",
            c.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

/// Name of a NOTIFICATION error code and subcode, when known.
pub fn notification_name(code: u8, subcode: u8) -> &'static str {
    match (code, subcode) {
        (n::MESSAGE_HEADER_ERROR, n::CONNECTION_NOT_SYNCHRONIZED) => "connection not synchronized",
        (n::MESSAGE_HEADER_ERROR, n::BAD_MESSAGE_LENGTH) => "bad message length",
        (n::MESSAGE_HEADER_ERROR, n::BAD_MESSAGE_TYPE) => "bad message type",
        (n::MESSAGE_HEADER_ERROR, _) => "message header error",
        (n::OPEN_MESSAGE_ERROR, n::UNSUPPORTED_VERSION_NUMBER) => "unsupported version number",
        (n::OPEN_MESSAGE_ERROR, n::BAD_PEER_AS) => "bad peer AS",
        (n::OPEN_MESSAGE_ERROR, n::BAD_BGP_IDENTIFIER) => "bad BGP identifier",
        (n::OPEN_MESSAGE_ERROR, n::UNSUPPORTED_OPTIONAL_PARAMETER) => {
            "unsupported optional parameter"
        }
        (n::OPEN_MESSAGE_ERROR, n::UNACCEPTABLE_HOLD_TIME) => "unacceptable hold time",
        (n::OPEN_MESSAGE_ERROR, n::UNSUPPORTED_CAPABILITY) => "unsupported capability",
        (n::OPEN_MESSAGE_ERROR, n::ROLE_MISMATCH) => "role mismatch",
        (n::OPEN_MESSAGE_ERROR, _) => "OPEN message error",
        (n::UPDATE_MESSAGE_ERROR, n::MALFORMED_ATTRIBUTE_LIST) => "malformed attribute list",
        (n::UPDATE_MESSAGE_ERROR, n::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE) => {
            "unrecognized well-known attribute"
        }
        (n::UPDATE_MESSAGE_ERROR, n::MISSING_WELL_KNOWN_ATTRIBUTE) => {
            "missing well-known attribute"
        }
        (n::UPDATE_MESSAGE_ERROR, n::ATTRIBUTE_FLAGS_ERROR) => "attribute flags error",
        (n::UPDATE_MESSAGE_ERROR, n::ATTRIBUTE_LENGTH_ERROR) => "attribute length error",
        (n::UPDATE_MESSAGE_ERROR, n::INVALID_ORIGIN_ATTRIBUTE) => "invalid ORIGIN attribute",
        (n::UPDATE_MESSAGE_ERROR, n::INVALID_NEXT_HOP_ATTRIBUTE) => "invalid NEXT_HOP attribute",
        (n::UPDATE_MESSAGE_ERROR, n::OPTIONAL_ATTRIBUTE_ERROR) => "optional attribute error",
        (n::UPDATE_MESSAGE_ERROR, n::INVALID_NETWORK_FIELD) => "invalid network field",
        (n::UPDATE_MESSAGE_ERROR, n::MALFORMED_AS_PATH) => "malformed AS_PATH",
        (n::UPDATE_MESSAGE_ERROR, _) => "UPDATE message error",
        (n::HOLD_TIMER_EXPIRED, _) => "hold timer expired",
        (n::FSM_ERROR, _) => "finite state machine error",
        (n::CEASE, n::MAXIMUM_PREFIXES_REACHED) => "cease: maximum number of prefixes reached",
        (n::CEASE, n::BFD_DOWN) => "cease: BFD down",
        (n::CEASE, n::ADMINISTRATIVE_SHUTDOWN) => "cease: administrative shutdown",
        (n::CEASE, n::PEER_DECONFIGURED) => "cease: peer de-configured",
        (n::CEASE, n::ADMINISTRATIVE_RESET) => "cease: administrative reset",
        (n::CEASE, n::CONNECTION_REJECTED) => "cease: connection rejected",
        (n::CEASE, n::OTHER_CONFIGURATION_CHANGE) => "cease: other configuration change",
        (n::CEASE, n::CONNECTION_COLLISION_RESOLUTION) => "cease: connection collision resolution",
        (n::CEASE, n::OUT_OF_RESOURCES) => "cease: out of resources",
        (n::CEASE, n::HARD_RESET) => "cease: hard reset",
        (n::CEASE, _) => "cease",
        (n::ROUTE_REFRESH_MESSAGE_ERROR, n::INVALID_MESSAGE_LENGTH) => {
            "route refresh: invalid message length"
        }
        (n::ROUTE_REFRESH_MESSAGE_ERROR, _) => "route refresh message error",
        _ => "unknown error",
    }
}

impl Notification {
    /// The shutdown communication of a Cease / Administrative Shutdown or
    /// Reset (RFC 9003 §2): a length octet then that many octets of UTF-8.
    /// `None` when absent or malformed.
    pub fn shutdown_communication(&self) -> Option<String> {
        if self.code != n::CEASE
            || !(self.subcode == n::ADMINISTRATIVE_SHUTDOWN
                || self.subcode == n::ADMINISTRATIVE_RESET)
        {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        if text.is_empty() {
            return None;
        }
        String::from_utf8(text.to_vec()).ok()
    }

    /// A Cease / Administrative Shutdown carrying `message` (RFC 9003),
    /// truncated on a character boundary to 255 octets.
    pub fn administrative_shutdown(message: &str) -> Notification {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = vec![end as u8];
        data.extend_from_slice(&message.as_bytes()[..end]);
        Notification {
            code: n::CEASE,
            subcode: n::ADMINISTRATIVE_SHUTDOWN,
            data,
        }
    }
}

impl fmt::Display for Notification {
    /// `6/2 (cease: administrative shutdown) "going down"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ({})",
            self.code,
            self.subcode,
            notification_name(self.code, self.subcode)
        )?;
        if let Some(text) = self.shutdown_communication() {
            write!(f, " {text:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for crate::decode::UpdateIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            crate::decode::UpdateAction::TreatAsWithdraw => "treat-as-withdraw",
            crate::decode::UpdateAction::AttributeDiscard => "attribute-discard",
        };
        write!(f, "{action} (3/{}): {}", self.subcode, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities() {
        assert_eq!(format_community(65000 << 16 | 100), "65000:100");
        assert_eq!(format_community(0xFFFF_FF01), "NO_EXPORT");
        assert_eq!(parse_community("65000:100"), Some(65000 << 16 | 100));
        assert_eq!(parse_community("no_export"), Some(0xFFFF_FF01));
        assert_eq!(parse_community("65536:1"), None);
        let lc = LargeCommunity {
            global_admin: 4200000000,
            local_data1: 1,
            local_data2: 2,
        };
        assert_eq!(format_large_community(&lc), "4200000000:1:2");
        assert_eq!(parse_large_community("4200000000:1:2"), Some(lc));
        assert_eq!(parse_large_community("1:2"), None);
    }

    #[test]
    fn extended_communities() {
        assert_eq!(
            format_extended_community(&[0, 2, 0xfd, 0xe8, 0, 0, 0, 100]),
            "rt:65000:100"
        );
        assert_eq!(
            format_extended_community(&[1, 2, 10, 0, 0, 1, 0, 7]),
            "rt:10.0.0.1:7"
        );
        assert_eq!(
            format_extended_community(&[2, 3, 0, 1, 0x11, 0x70, 0, 5]),
            "soo:70000:5"
        );
        assert_eq!(
            format_extended_community(&[0x80, 6, 0, 0, 0, 0, 0, 0]),
            "0x8006000000000000"
        );
    }

    #[test]
    fn shutdown_communication() {
        let note = Notification::administrative_shutdown("maintenance");
        assert_eq!(
            note.shutdown_communication().as_deref(),
            Some("maintenance")
        );
        assert_eq!(
            note.to_string(),
            "6/2 (cease: administrative shutdown) \"maintenance\""
        );
        let bad = Notification {
            code: 6,
            subcode: 2,
            data: vec![10, b'a'],
        };
        assert_eq!(bad.shutdown_communication(), None);
    }
}
