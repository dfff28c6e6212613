//! Route policy: whether a prefix may be imported from or exported to a peer.
//!
//! Owns: the evaluation of a [`Policy`] against a prefix, and prefix lists
//! with the `ge`/`le` length ranges operators know from Cisco, FRR and
//! BIRD. Does not own: parsing or validating configuration (the config crate
//! builds these values), nor which policy applies to which peer and
//! direction, nor the RFC 8212 default (reject on eBGP without policy),
//! which whoever builds the session's policies applies.
//!
//! Policies only filter; none modify attributes yet.

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

/// What a matching prefix-list entry does with the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Permit,
    Deny,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Permit => "permit",
            Action::Deny => "deny",
        })
    }
}

/// One line of a prefix list: `permit 10.0.0.0/8 ge 24 le 32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixListEntry {
    pub action: Action,
    pub prefix: IpNet,
    /// Shortest prefix length matched; see [`PrefixListEntry::matches`].
    pub ge: Option<u8>,
    /// Longest prefix length matched; see [`PrefixListEntry::matches`].
    pub le: Option<u8>,
}

impl PrefixListEntry {
    /// Whether `route` matches this entry.
    ///
    /// Without `ge` or `le` the route must be exactly `prefix`. With either,
    /// the route must lie inside `prefix` (same family, covered by it) and
    /// have a length in `ge..=le`, where `ge` defaults to the length of
    /// `prefix`, and `le` defaults to the family's maximum (32 or 128) when
    /// only `ge` is given. Host bits set in `prefix` or `route` are ignored.
    ///
    /// Values the config crate should reject still evaluate predictably: a
    /// `ge` below the entry's length changes nothing (a covered route is never
    /// shorter), an `le` above the maximum means the maximum, and `ge` above
    /// `le` matches nothing.
    pub fn matches(&self, route: &IpNet) -> bool {
        let entry_len = self.prefix.prefix_len();
        let (low, high) = match (self.ge, self.le) {
            (None, None) => (entry_len, entry_len),
            (ge, Some(le)) => (ge.unwrap_or(entry_len), le),
            (Some(ge), None) => (ge, self.prefix.max_prefix_len()),
        };
        let len = route.prefix_len();
        // `contains` is false across families, and for a route shorter than
        // the entry (it would spill outside it).
        len >= low && len <= high && self.prefix.trunc().contains(&route.trunc())
    }
}

/// An ordered list of entries, evaluated first match wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixList {
    pub name: String,
    pub entries: Vec<PrefixListEntry>,
}

impl PrefixList {
    /// The action of the first entry `prefix` matches; `Deny` when none
    /// does (the implicit deny at the end of every list).
    pub fn evaluate(&self, prefix: &IpNet) -> Action {
        self.entries
            .iter()
            .find(|entry| entry.matches(prefix))
            .map_or(Action::Deny, |entry| entry.action)
    }
}

/// The policy applied to a peer in one direction (`import` / `export` in
/// the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Every route passes.
    Accept,
    /// No route passes.
    Reject,
    /// Routes the named prefix list permits pass. Shared: one list serves
    /// every peer that names it.
    PrefixList(Arc<PrefixList>),
}

impl Policy {
    /// Whether a route to `prefix` passes this policy.
    pub fn permits(&self, prefix: &IpNet) -> bool {
        match self {
            Policy::Accept => true,
            Policy::Reject => false,
            Policy::PrefixList(list) => list.evaluate(prefix) == Action::Permit,
        }
    }

    /// The name operators use for the policy: `accept`, `reject`, or the
    /// prefix list's name.
    pub fn name(&self) -> String {
        match self {
            Policy::Accept => "accept".to_owned(),
            Policy::Reject => "reject".to_owned(),
            Policy::PrefixList(list) => list.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test prefix literal")
    }

    fn entry(action: Action, prefix: &str, ge: Option<u8>, le: Option<u8>) -> PrefixListEntry {
        PrefixListEntry {
            action,
            prefix: net(prefix),
            ge,
            le,
        }
    }

    fn list(entries: Vec<PrefixListEntry>) -> PrefixList {
        PrefixList {
            name: "test".to_owned(),
            entries,
        }
    }

    /// Permitted by a one-entry permit list?
    fn permitted(e: PrefixListEntry, route: &str) -> bool {
        list(vec![e]).evaluate(&net(route)) == Action::Permit
    }

    #[test]
    fn exact_match_without_ge_or_le() {
        let e = || entry(Action::Permit, "10.1.0.0/16", None, None);
        assert!(permitted(e(), "10.1.0.0/16"));
        assert!(!permitted(e(), "10.1.1.0/24"));
        assert!(!permitted(e(), "10.0.0.0/8"));
        assert!(!permitted(e(), "10.2.0.0/16"));
    }

    #[test]
    fn host_bits_are_ignored() {
        assert!(permitted(
            entry(Action::Permit, "10.1.2.3/16", None, None),
            "10.1.0.0/16"
        ));
        assert!(permitted(
            entry(Action::Permit, "10.1.0.0/16", None, None),
            "10.1.9.9/16"
        ));
    }

    #[test]
    fn ge_alone_extends_to_the_family_maximum() {
        let e = || entry(Action::Permit, "10.0.0.0/8", Some(24), None);
        assert!(!permitted(e(), "10.1.0.0/16"));
        assert!(!permitted(e(), "10.1.2.0/23"));
        assert!(permitted(e(), "10.1.2.0/24"));
        assert!(permitted(e(), "10.1.2.3/32"));
        assert!(!permitted(e(), "11.1.2.0/24"));
    }

    #[test]
    fn le_alone_starts_at_the_entry_length() {
        let e = || entry(Action::Permit, "10.0.0.0/8", None, Some(16));
        assert!(permitted(e(), "10.0.0.0/8"));
        assert!(permitted(e(), "10.1.0.0/16"));
        assert!(!permitted(e(), "10.1.2.0/24"));
        assert!(!permitted(e(), "0.0.0.0/0"));
        assert!(!permitted(e(), "11.0.0.0/16"));
    }

    #[test]
    fn ge_and_le_bound_both_ends() {
        let e = || entry(Action::Permit, "192.168.0.0/16", Some(20), Some(24));
        assert!(!permitted(e(), "192.168.0.0/16"));
        assert!(!permitted(e(), "192.168.0.0/19"));
        assert!(permitted(e(), "192.168.16.0/20"));
        assert!(permitted(e(), "192.168.1.0/24"));
        assert!(!permitted(e(), "192.168.1.0/25"));
        assert!(!permitted(e(), "192.169.1.0/24"));
    }

    #[test]
    fn ge_greater_than_le_matches_nothing() {
        let e = || entry(Action::Permit, "10.0.0.0/8", Some(24), Some(16));
        assert!(!permitted(e(), "10.1.0.0/16"));
        assert!(!permitted(e(), "10.1.2.0/24"));
        assert!(!permitted(e(), "10.1.2.0/20"));
    }

    #[test]
    fn family_mismatch_never_matches() {
        let v4_any = || entry(Action::Permit, "0.0.0.0/0", None, Some(32));
        let v6_any = || entry(Action::Permit, "::/0", None, Some(128));
        assert!(!permitted(v4_any(), "2001:db8::/32"));
        assert!(!permitted(v4_any(), "::/0"));
        assert!(!permitted(v6_any(), "10.0.0.0/8"));
        assert!(!permitted(v6_any(), "0.0.0.0/0"));
        // A v4-mapped v6 prefix is still v6.
        assert!(!permitted(v4_any(), "::ffff:10.0.0.0/104"));
        // A deny in the wrong family does not stop a later permit.
        let l = list(vec![
            entry(Action::Deny, "::/0", None, Some(128)),
            entry(Action::Permit, "10.0.0.0/8", None, Some(32)),
        ]);
        assert_eq!(l.evaluate(&net("10.1.0.0/16")), Action::Permit);
    }

    #[test]
    fn first_match_wins() {
        let deny_first = list(vec![
            entry(Action::Deny, "10.1.0.0/16", None, Some(32)),
            entry(Action::Permit, "10.0.0.0/8", None, Some(32)),
        ]);
        assert_eq!(deny_first.evaluate(&net("10.1.2.0/24")), Action::Deny);
        assert_eq!(deny_first.evaluate(&net("10.2.2.0/24")), Action::Permit);

        let permit_first = list(vec![
            entry(Action::Permit, "10.0.0.0/8", None, Some(32)),
            entry(Action::Deny, "10.1.0.0/16", None, Some(32)),
        ]);
        assert_eq!(permit_first.evaluate(&net("10.1.2.0/24")), Action::Permit);
    }

    #[test]
    fn no_match_is_implicit_deny() {
        let l = list(vec![entry(Action::Permit, "10.0.0.0/8", None, None)]);
        assert_eq!(l.evaluate(&net("192.0.2.0/24")), Action::Deny);
        assert_eq!(list(vec![]).evaluate(&net("10.0.0.0/8")), Action::Deny);
    }

    #[test]
    fn v4_default_le_32_matches_every_v4_prefix() {
        let e = entry(Action::Permit, "0.0.0.0/0", None, Some(32));
        for route in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "192.0.2.0/24",
            "255.255.255.255/32",
        ] {
            assert!(e.matches(&net(route)), "{route}");
        }
        // Without le it is the default route alone.
        let default_only = entry(Action::Permit, "0.0.0.0/0", None, None);
        assert!(default_only.matches(&net("0.0.0.0/0")));
        assert!(!default_only.matches(&net("10.0.0.0/8")));
    }

    #[test]
    fn v6_default() {
        let any = entry(Action::Permit, "::/0", None, Some(128));
        for route in ["::/0", "2001:db8::/32", "2001:db8:1::/48", "fe80::1/128"] {
            assert!(any.matches(&net(route)), "{route}");
        }
        let default_only = entry(Action::Permit, "::/0", None, None);
        assert!(default_only.matches(&net("::/0")));
        assert!(!default_only.matches(&net("2001:db8::/32")));
        // ge alone reaches /128.
        let long = entry(Action::Permit, "2001:db8::/32", Some(64), None);
        assert!(long.matches(&net("2001:db8:0:1::/64")));
        assert!(long.matches(&net("2001:db8::1/128")));
        assert!(!long.matches(&net("2001:db8::/48")));
    }

    #[test]
    fn policy_permits_and_names() {
        let route = net("10.1.0.0/16");
        assert!(Policy::Accept.permits(&route));
        assert!(!Policy::Reject.permits(&route));
        assert_eq!(Policy::Accept.name(), "accept");
        assert_eq!(Policy::Reject.name(), "reject");

        let l = Arc::new(PrefixList {
            name: "customers".to_owned(),
            entries: vec![entry(Action::Permit, "10.0.0.0/8", None, Some(24))],
        });
        let policy = Policy::PrefixList(Arc::clone(&l));
        assert_eq!(policy.name(), "customers");
        assert!(policy.permits(&route));
        assert!(!policy.permits(&net("10.1.1.1/32")));
        assert!(!policy.permits(&net("192.0.2.0/24")));
        assert_eq!(Action::Permit.to_string(), "permit");
    }

    #[test]
    fn entry_coverage_agrees_with_ipnet() {
        // Sanity check of the `contains` semantics matches() relies on.
        assert!(net("10.0.0.0/8").contains(&net("10.255.0.0/16")));
        assert!(!net("10.0.0.0/24").contains(&net("10.0.0.0/23")));
        assert!(!net("0.0.0.0/0").contains(&net("::/0")));
    }
}
