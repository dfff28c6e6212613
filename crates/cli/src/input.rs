//! Validation of what the user typed, done before anything is sent to
//! closd, so a typo is reported locally and precisely.

use anyhow::{bail, Context};
use ipnet::IpNet;

/// Address families accepted by `--family`, as sent in `RoutesRequest`.
pub const FAMILIES: [&str; 2] = ["ipv4", "ipv6"];

/// Checks a `--family` value; returns it in the form the API expects.
pub fn family(text: &str) -> anyhow::Result<&'static str> {
    let wanted = text.trim().to_ascii_lowercase();
    match FAMILIES.iter().find(|family| **family == wanted) {
        Some(family) => Ok(family),
        None => bail!(
            "invalid --family '{text}': expected {}",
            FAMILIES.join(" or ")
        ),
    }
}

/// Parses a prefix and insists on its canonical form: host bits set
/// (`10.1.0.1/24`) is a mistake to point out, not to fix silently, since
/// the user may have meant another length.
pub fn prefix(text: &str) -> anyhow::Result<IpNet> {
    let trimmed = text.trim();
    let net: IpNet = trimmed.parse().with_context(|| {
        format!(
            "invalid prefix '{text}': expected ADDRESS/LENGTH, e.g. 10.1.0.0/24 or 2001:db8::/32"
        )
    })?;
    let canonical = net.trunc();
    if canonical != net {
        bail!("invalid prefix {trimmed}: host bits are set; the canonical form is {canonical}");
    }
    Ok(net)
}

/// The `--family` name of a prefix.
pub fn family_of(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "ipv4",
        IpNet::V6(_) => "ipv6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family("ipv4").unwrap(), "ipv4");
        assert_eq!(family("IPv6").unwrap(), "ipv6");
        assert_eq!(
            family("ipv5").unwrap_err().to_string(),
            "invalid --family 'ipv5': expected ipv4 or ipv6"
        );
    }

    #[test]
    fn canonical_prefixes_pass() {
        assert_eq!(prefix("10.1.0.0/24").unwrap().to_string(), "10.1.0.0/24");
        assert_eq!(
            prefix(" 2001:DB8:1::/48 ").unwrap().to_string(),
            "2001:db8:1::/48"
        );
        assert_eq!(prefix("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
    }

    #[test]
    fn host_bits_name_the_canonical_form() {
        assert_eq!(
            prefix("10.1.0.1/24").unwrap_err().to_string(),
            "invalid prefix 10.1.0.1/24: host bits are set; the canonical form is 10.1.0.0/24"
        );
        assert_eq!(
            prefix("2001:db8::1/32").unwrap_err().to_string(),
            "invalid prefix 2001:db8::1/32: host bits are set; the canonical form is 2001:db8::/32"
        );
    }

    #[test]
    fn garbage_is_explained() {
        for bad in ["10.1.0.0", "10.1.0.0/33", "banana", ""] {
            let message = prefix(bad).unwrap_err().to_string();
            assert!(message.starts_with("invalid prefix"), "{bad}: {message}");
            assert!(message.contains("ADDRESS/LENGTH"), "{bad}: {message}");
        }
    }
}
