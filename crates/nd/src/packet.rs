//! Router Advertisement messages: encoding (RFC 4861 §4.2), decoding, and
//! the receive-side validity checks of RFC 4861 §6.1.2.
//!
//! Owns the bytes only. No sockets: the caller hands [`validate`] the
//! ICMPv6 message together with what the socket layer knows about it (the
//! IPv6 hop limit from the `IPV6_HOPLIMIT` control message and the source
//! address), so every rule is tested without a network.
//!
//! The ICMPv6 checksum is not handled here: for `IPPROTO_ICMPV6` raw
//! sockets Linux computes it on send and verifies it on receive (RFC 3542
//! §3.1), so encoded messages carry zero there.

use std::fmt;
use std::net::Ipv6Addr;

/// ICMPv6 type of a Router Advertisement (RFC 4861 §4.2).
pub const ROUTER_ADVERTISEMENT: u8 = 134;
/// Length of the fixed part of a Router Advertisement, options excluded.
pub const HEADER_LEN: usize = 16;
/// The IPv6 hop limit every Neighbor Discovery message must arrive with
/// (RFC 4861 §6.1.2): a packet that crossed a router has a lower one, so
/// this proves the sender is on our link.
pub const REQUIRED_HOP_LIMIT: u8 = 255;
/// Cur Hop Limit we advertise: the usual default for hosts.
pub const DEFAULT_CUR_HOP_LIMIT: u8 = 64;

/// Option type: Source Link-Layer Address (RFC 4861 §4.6.1).
pub const OPTION_SOURCE_LINK_LAYER_ADDRESS: u8 = 1;
/// Option type: MTU (RFC 4861 §4.6.4).
pub const OPTION_MTU: u8 = 5;

/// The fields of a Router Advertisement that this crate sends or reads.
///
/// Options other than Source Link-Layer Address and MTU are skipped on
/// decode, as RFC 4861 §4.2 requires, and never sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterAdvertisement {
    /// Cur Hop Limit: the hop limit hosts should use; 0 means unspecified.
    pub cur_hop_limit: u8,
    /// The flags octet as sent (M, O, and later extensions); we send 0.
    pub flags: u8,
    /// Router Lifetime in seconds. 0 means "not a default router" (§4.2):
    /// a host does not install a default route through the sender.
    pub router_lifetime: u16,
    /// Reachable Time in milliseconds; 0 means unspecified.
    pub reachable_time: u32,
    /// Retrans Timer in milliseconds; 0 means unspecified.
    pub retrans_timer: u32,
    /// The sender's Ethernet address, from a Source Link-Layer Address
    /// option of length 1 (8 octets). Link types with longer addresses
    /// decode as `None`.
    pub source_link_layer_address: Option<[u8; 6]>,
    /// The link MTU, from an MTU option.
    pub mtu: Option<u32>,
}

impl RouterAdvertisement {
    /// The advertisement we send on an unnumbered BGP interface: Router
    /// Lifetime 0 (hosts must not route through us because we speak BGP
    /// here), Cur Hop Limit 64, no prefixes, and our MAC so the receiver's
    /// neighbor cache is filled without an extra Neighbor Solicitation.
    pub fn unnumbered(mac: Option<[u8; 6]>) -> RouterAdvertisement {
        RouterAdvertisement {
            cur_hop_limit: DEFAULT_CUR_HOP_LIMIT,
            flags: 0,
            router_lifetime: 0,
            reachable_time: 0,
            retrans_timer: 0,
            source_link_layer_address: mac,
            mtu: None,
        }
    }

    /// The ICMPv6 message, checksum left zero for the kernel to fill.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 16);
        out.extend_from_slice(&[ROUTER_ADVERTISEMENT, 0, 0, 0]);
        out.push(self.cur_hop_limit);
        out.push(self.flags);
        out.extend_from_slice(&self.router_lifetime.to_be_bytes());
        out.extend_from_slice(&self.reachable_time.to_be_bytes());
        out.extend_from_slice(&self.retrans_timer.to_be_bytes());
        if let Some(mac) = self.source_link_layer_address {
            // Length is in units of 8 octets: type, length, 6-byte MAC.
            out.extend_from_slice(&[OPTION_SOURCE_LINK_LAYER_ADDRESS, 1]);
            out.extend_from_slice(&mac);
        }
        if let Some(mtu) = self.mtu {
            out.extend_from_slice(&[OPTION_MTU, 1, 0, 0]);
            out.extend_from_slice(&mtu.to_be_bytes());
        }
        out
    }

    /// Decodes an ICMPv6 message, applying the message-level checks of
    /// RFC 4861 §6.1.2: type 134, code 0, at least 16 octets, and every
    /// option of non-zero length that fits in the message. The IP-level
    /// checks need more than the bytes: see [`validate`].
    pub fn decode(message: &[u8]) -> Result<RouterAdvertisement, Rejection> {
        if message.len() < HEADER_LEN {
            return Err(Rejection::Truncated {
                length: message.len(),
            });
        }
        if message[0] != ROUTER_ADVERTISEMENT {
            return Err(Rejection::NotRouterAdvertisement { kind: message[0] });
        }
        if message[1] != 0 {
            return Err(Rejection::Code { code: message[1] });
        }
        let be16 = |at: usize| u16::from_be_bytes([message[at], message[at + 1]]);
        let be32 = |at: usize| {
            u32::from_be_bytes([
                message[at],
                message[at + 1],
                message[at + 2],
                message[at + 3],
            ])
        };
        let mut advertisement = RouterAdvertisement {
            cur_hop_limit: message[4],
            flags: message[5],
            router_lifetime: be16(6),
            reachable_time: be32(8),
            retrans_timer: be32(12),
            source_link_layer_address: None,
            mtu: None,
        };
        let mut rest = &message[HEADER_LEN..];
        let mut offset = HEADER_LEN;
        while !rest.is_empty() {
            if rest.len() < 2 {
                return Err(Rejection::OptionTruncated { offset });
            }
            let (kind, units) = (rest[0], usize::from(rest[1]));
            if units == 0 {
                return Err(Rejection::ZeroLengthOption { offset });
            }
            let length = units * 8;
            if length > rest.len() {
                return Err(Rejection::OptionTruncated { offset });
            }
            let body = &rest[2..length];
            match kind {
                OPTION_SOURCE_LINK_LAYER_ADDRESS if units == 1 => {
                    let mut mac = [0; 6];
                    mac.copy_from_slice(body);
                    advertisement.source_link_layer_address = Some(mac);
                }
                OPTION_MTU if units == 1 => {
                    advertisement.mtu =
                        Some(u32::from_be_bytes([body[2], body[3], body[4], body[5]]));
                }
                _ => {}
            }
            rest = &rest[length..];
            offset += length;
        }
        Ok(advertisement)
    }
}

/// Why a received message was not accepted as a Router Advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The IPv6 hop limit was not 255: the packet was forwarded by a
    /// router, so it did not come from our link (RFC 4861 §6.1.2).
    HopLimit {
        /// The hop limit it arrived with.
        hop_limit: u8,
    },
    /// The socket did not report the hop limit, so the link-locality of
    /// the sender cannot be proven.
    HopLimitUnknown,
    /// The IPv6 source was not a link-local address (RFC 4861 §6.1.2):
    /// routers advertise from their link-local address only.
    SourceNotLinkLocal {
        /// The source address.
        source: Ipv6Addr,
    },
    /// Shorter than the 16 octets of the fixed header.
    Truncated {
        /// The message length.
        length: usize,
    },
    /// Another ICMPv6 type (the socket filter should not let it through).
    NotRouterAdvertisement {
        /// The ICMPv6 type.
        kind: u8,
    },
    /// ICMP Code other than 0.
    Code {
        /// The code.
        code: u8,
    },
    /// An option with length 0, which would loop a naive parser.
    ZeroLengthOption {
        /// Offset of the option in the message.
        offset: usize,
    },
    /// An option runs past the end of the message.
    OptionTruncated {
        /// Offset of the option in the message.
        offset: usize,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::HopLimit { hop_limit } => {
                write!(f, "hop limit {hop_limit}, not 255: not from this link")
            }
            Rejection::HopLimitUnknown => write!(f, "hop limit not reported by the socket"),
            Rejection::SourceNotLinkLocal { source } => {
                write!(f, "source {source} is not link-local")
            }
            Rejection::Truncated { length } => {
                write!(
                    f,
                    "{length} octets, shorter than the {HEADER_LEN}-octet header"
                )
            }
            Rejection::NotRouterAdvertisement { kind } => {
                write!(f, "ICMPv6 type {kind}, not a Router Advertisement")
            }
            Rejection::Code { code } => write!(f, "ICMP code {code}, not 0"),
            Rejection::ZeroLengthOption { offset } => {
                write!(f, "option of length 0 at offset {offset}")
            }
            Rejection::OptionTruncated { offset } => {
                write!(
                    f,
                    "option at offset {offset} runs past the end of the message"
                )
            }
        }
    }
}

/// Whether `address` is in fe80::/10, the link-local unicast range.
pub fn is_link_local(address: &Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

/// Applies every receive check of RFC 4861 §6.1.2 that a raw socket leaves
/// to us and decodes the message:
///
/// - IP Hop Limit is 255 (`hop_limit` is the `IPV6_HOPLIMIT` control
///   message; `None` is rejected, since nothing else proves the sender is
///   on-link);
/// - IP Source Address is link-local;
/// - ICMP Code is 0, length is 16 octets or more, all options have a
///   length greater than zero ([`RouterAdvertisement::decode`]).
///
/// The checksum is verified by the kernel before we see the packet.
pub fn validate(
    message: &[u8],
    hop_limit: Option<u8>,
    source: Ipv6Addr,
) -> Result<RouterAdvertisement, Rejection> {
    match hop_limit {
        Some(REQUIRED_HOP_LIMIT) => {}
        Some(hop_limit) => return Err(Rejection::HopLimit { hop_limit }),
        None => return Err(Rejection::HopLimitUnknown),
    }
    if !is_link_local(&source) {
        return Err(Rejection::SourceNotLinkLocal { source });
    }
    RouterAdvertisement::decode(message)
}
