//! Config file → speaker settings. The speaker never sees config structs
//! (GoBGP's regret: config reused as internal state).

use std::sync::Arc;
use std::time::Duration;

use clos_bgp::decision::DecisionOptions;
use clos_bgp::fsm::RemoteAsRule;
use clos_bgp::peer::{InterfacePeer, LinkPeer, MaxPrefix, MaxPrefixAction, PeerConfig};
use clos_bgp::policy::{self, Policy};
use clos_bgp::sockopt::TcpMd5Key;
use clos_bgp::speaker::SpeakerConfig;
use clos_config::{Config, PeerAddress, RemoteAs};

fn prefix_list(config: &Config, name: &str) -> Arc<policy::PrefixList> {
    let entries = config
        .prefix_list(name)
        .map(|l| {
            l.entries
                .iter()
                .map(|e| policy::PrefixListEntry {
                    action: match e.action {
                        clos_config::Action::Permit => policy::Action::Permit,
                        clos_config::Action::Deny => policy::Action::Deny,
                    },
                    prefix: e.prefix,
                    ge: e.ge,
                    le: e.le,
                })
                .collect()
        })
        .unwrap_or_default();
    Arc::new(policy::PrefixList {
        name: name.to_string(),
        entries,
    })
}

fn policy(config: &Config, p: &clos_config::Policy) -> Policy {
    match p {
        clos_config::Policy::Accept => Policy::Accept,
        clos_config::Policy::Reject => Policy::Reject,
        clos_config::Policy::PrefixList(name) => Policy::PrefixList(prefix_list(config, name)),
    }
}

/// Where neighbor discovery reports the peer of each unnumbered neighbor's
/// interface.
pub type Links = Vec<(String, tokio::sync::watch::Sender<Option<LinkPeer>>)>;

/// The speaker's settings for a validated config, and the discovery
/// channels of its unnumbered neighbors.
pub fn speaker_config(config: &Config) -> anyhow::Result<(SpeakerConfig, Links)> {
    let mut links: Links = Vec::new();
    let router = &config.router;
    let mut peers = Vec::new();
    for n in &config.neighbors {
        let (address, interface) = match &n.peer {
            PeerAddress::Address(a) => (*a, None),
            PeerAddress::Interface(name) => {
                let (tx, rx) = tokio::sync::watch::channel(None);
                links.push((name.clone(), tx));
                (
                    std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    Some(InterfacePeer {
                        name: name.clone(),
                        peer: rx,
                    }),
                )
            }
        };
        let remote_as = match n.remote_as {
            RemoteAs::Asn(a) => RemoteAsRule::Exact(a),
            RemoteAs::External => RemoteAsRule::External,
            RemoteAs::Internal => RemoteAsRule::Internal,
        };
        let internal = clos_bgp::speaker::is_internal(remote_as, router.asn);
        peers.push(PeerConfig {
            address,
            port: n.port,
            local_address: n.local_address,
            remote_as,
            passive: n.passive,
            families: n.families.clone(),
            import: policy(config, &n.import),
            export: policy(config, &n.export),
            hold_time: n.effective_hold_time(router),
            connect_retry: Duration::from_secs(router.connect_retry as u64),
            max_prefix: n.max_prefix.map(|m| MaxPrefix {
                limit: m.limit,
                action: match m.action {
                    clos_config::MaxPrefixAction::Teardown => MaxPrefixAction::Teardown,
                    clos_config::MaxPrefixAction::Warning => MaxPrefixAction::Warning,
                },
                restart: m.restart.map(|s| Duration::from_secs(s as u64)),
            }),
            description: n.description.clone().unwrap_or_default(),
            next_hop_self: n.next_hop_self,
            ttl: if internal || n.ttl_security {
                255
            } else {
                n.ebgp_multihop.max(1)
            },
            ttl_security: n.ttl_security,
            // The config crate checked the length (1..=80 bytes).
            tcp_md5_key: match &n.password {
                Some(password) => {
                    Some(TcpMd5Key::new(password.expose().as_bytes()).ok_or_else(|| {
                        anyhow::anyhow!("neighbor {}: password must be 1..=80 bytes", n.key())
                    })?)
                }
                None => None,
            },
            interface,
        });
    }
    Ok((
        SpeakerConfig {
            asn: router.asn,
            router_id: router.router_id,
            listen: router.listen.clone(),
            originate: router.originate.clone(),
            multipath: router.multipath as usize,
            decision: DecisionOptions {
                always_compare_med: false,
                multipath_relax: router.multipath_relax,
            },
            peers,
            fib: None,
        },
        links,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> clos_wire::IpNet {
        s.parse().unwrap()
    }

    /// A prefix list from the config file, through conversion, filters as
    /// FRR/Cisco lists do: first match wins, ge/le bound the length, no match
    /// denies.
    #[test]
    fn prefix_list_policies_survive_conversion() {
        let config = Config::from_str(
            r#"
[router]
asn = 65000
router-id = "10.0.0.1"

[[neighbor]]
address = "10.0.0.2"
remote-as = 65001
import = "customers"
export = "empty"

[[prefix-list]]
name = "customers"
entries = [
  { action = "permit", prefix = "10.0.0.0/8", ge = 16, le = 24 },
  { action = "deny",   prefix = "0.0.0.0/0", le = 32 },
  { prefix = "2001:db8::/32", ge = 48 },
]

[[prefix-list]]
name = "empty"
entries = []
"#,
            "test.toml",
        )
        .unwrap();
        let (speaker, _) = speaker_config(&config).unwrap();
        let peer = &speaker.peers[0];
        let import = &peer.import;
        assert_eq!(import.name(), "customers");
        for (prefix, permitted) in [
            ("10.1.0.0/16", true),
            ("10.1.2.0/24", true),
            ("10.0.0.0/8", false),
            ("10.1.2.0/25", false),
            ("192.0.2.0/24", false),
            ("2001:db8:1::/48", true),
            ("2001:db8::1/128", true),
            ("2001:db8::/32", false),
            ("2001:db9::/48", false),
        ] {
            assert_eq!(import.permits(&net(prefix)), permitted, "{prefix}");
        }
        assert!(
            !peer.export.permits(&net("10.0.0.0/8")),
            "empty list denies"
        );
        // RFC 8212 defaults and TTL for eBGP.
        assert_eq!(peer.ttl, 1);
    }

    #[test]
    fn ebgp_defaults_to_reject_ibgp_to_accept() {
        let config = Config::from_str(
            r#"
[router]
asn = 65000
router-id = "10.0.0.1"

[[neighbor]]
address = "10.0.0.2"
remote-as = 65001

[[neighbor]]
address = "10.0.0.3"
remote-as = 65000
"#,
            "test.toml",
        )
        .unwrap();
        let (speaker, _) = speaker_config(&config).unwrap();
        let p = net("192.0.2.0/24");
        assert!(!speaker.peers[0].import.permits(&p));
        assert!(!speaker.peers[0].export.permits(&p));
        assert!(speaker.peers[1].import.permits(&p));
        assert!(speaker.peers[1].export.permits(&p));
        assert_eq!(speaker.peers[1].ttl, 255);
        assert!(!speaker.peers[0].ttl_security);
        assert!(speaker.peers[0].tcp_md5_key.is_none());
    }

    #[test]
    fn ttl_security_and_password_reach_the_session() {
        let config = Config::from_str(
            r#"
[router]
asn = 65000
router-id = "10.0.0.1"

[[neighbor]]
address = "10.0.0.2"
remote-as = 65001
ttl-security = true
password = "secret"
"#,
            "test.toml",
        )
        .unwrap();
        let (speaker, _) = speaker_config(&config).unwrap();
        let peer = &speaker.peers[0];
        assert!(peer.ttl_security);
        assert_eq!(peer.ttl, 255, "GTSM sends with TTL 255 (RFC 5082)");
        assert_eq!(peer.tcp_md5_key, TcpMd5Key::new(b"secret"));
        assert!(!format!("{peer:?}").contains("secret"));
    }
}
