//! Prefix encoding shared by the Withdrawn Routes and NLRI fields
//! (RFC 4271 §4.3) and by MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760 §5):
//! a length in bits, then the fewest octets that hold it.
//!
//! Decode normalises prefixes (host bits cleared), so `10.1.2.3/8` on the
//! wire reads as `10.0.0.0/8`. A malformed field (prefix length above
//! 32/128, or a prefix running past the field) cannot be parsed, which
//! RFC 7606 §5.3 makes a session reset; callers map the error to the
//! subcode of the field they parse.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::types::{Family, IpNet, Ipv4Net, Ipv6Net};

/// Octets one prefix takes on the wire.
pub(crate) fn prefix_wire_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}

/// Append one prefix in NLRI form.
pub(crate) fn write_prefix(prefix: &IpNet, out: &mut Vec<u8>) {
    let len = prefix.prefix_len();
    let octets = usize::from(len).div_ceil(8);
    out.push(len);
    match prefix.trunc() {
        IpNet::V4(p) => out.extend_from_slice(&p.network().octets()[..octets]),
        IpNet::V6(p) => out.extend_from_slice(&p.network().octets()[..octets]),
    }
}

/// Walk a prefix field, calling `f` with each prefix length and its
/// zero-padded address octets.
fn for_each_prefix(
    field: &[u8],
    max_bits: u8,
    mut f: impl FnMut(u8, [u8; 16]),
) -> Result<(), String> {
    let mut rest = field;
    while let Some((&len, tail)) = rest.split_first() {
        if len > max_bits {
            return Err(format!("prefix length {len} exceeds {max_bits}"));
        }
        let octets = usize::from(len).div_ceil(8);
        let Some(bytes) = tail.get(..octets) else {
            return Err(format!(
                "prefix of length {len} needs {octets} octets, {} remain",
                tail.len()
            ));
        };
        let mut addr = [0u8; 16];
        addr[..octets].copy_from_slice(bytes);
        f(len, addr);
        rest = &tail[octets..];
    }
    Ok(())
}

/// Parse an IPv4 prefix field (Withdrawn Routes, NLRI, or MP NLRI of AFI 1).
pub(crate) fn parse_ipv4(field: &[u8]) -> Result<Vec<Ipv4Net>, String> {
    let mut out = Vec::new();
    for_each_prefix(field, 32, |len, a| {
        let addr = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        if let Ok(net) = Ipv4Net::new(addr, len) {
            out.push(net.trunc());
        }
    })?;
    Ok(out)
}

/// Parse an IPv6 prefix field (MP NLRI of AFI 2).
pub(crate) fn parse_ipv6(field: &[u8]) -> Result<Vec<Ipv6Net>, String> {
    let mut out = Vec::new();
    for_each_prefix(field, 128, |len, a| {
        if let Ok(net) = Ipv6Net::new(Ipv6Addr::from(a), len) {
            out.push(net.trunc());
        }
    })?;
    Ok(out)
}

/// Parse the prefixes of an MP_REACH/MP_UNREACH attribute of `family`.
pub(crate) fn parse_family(field: &[u8], family: Family) -> Result<Vec<IpNet>, String> {
    Ok(match family {
        Family::Ipv4Unicast => parse_ipv4(field)?.into_iter().map(IpNet::V4).collect(),
        Family::Ipv6Unicast => parse_ipv6(field)?.into_iter().map(IpNet::V6).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_normalise() {
        let p: IpNet = "10.1.2.3/9".parse().unwrap();
        let mut out = Vec::new();
        write_prefix(&p, &mut out);
        assert_eq!(out, [9, 10, 0]);
        assert_eq!(prefix_wire_len(&p), 3);
        assert_eq!(
            parse_ipv4(&[9, 10, 0x81]).unwrap(),
            vec!["10.128.0.0/9".parse().unwrap()]
        );
        assert_eq!(
            parse_ipv4(&[0]).unwrap(),
            vec!["0.0.0.0/0".parse().unwrap()]
        );
    }

    #[test]
    fn malformed() {
        assert!(parse_ipv4(&[33, 1, 2, 3, 4, 5]).is_err());
        assert!(parse_ipv4(&[24, 1, 2]).is_err());
        assert!(parse_ipv6(&[129]).is_err());
        assert!(parse_ipv6(&[128, 0]).is_err());
    }
}
