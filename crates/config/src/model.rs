//! The validated configuration: plain data that the daemon, the CLI and the
//! lab read. Everything here has already passed validation, so consumers
//! never re-check ranges or cross-references (a [`Policy::PrefixList`]
//! always names a list in [`Config::prefix_lists`]).
//!
//! This module owns no parsing; see `load.rs` for how TOML becomes these
//! types.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clos_wire::Family;
use ipnet::IpNet;

/// The BGP port (RFC 4271 §8.2.1): default for `listen` entries without a
/// port and for `neighbor.port`.
pub const BGP_PORT: u16 = 179;
/// Default `router.hold-time`, seconds (RFC 4271 §10 suggests 90).
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// Default `router.connect-retry`, seconds. RFC 4271 §10 suggests 120; a lab
/// wants sessions back quickly.
pub const DEFAULT_CONNECT_RETRY: u16 = 5;
/// Default `api.socket`.
pub const DEFAULT_API_SOCKET: &str = "/run/clos/closd.sock";
/// Default `fib.table`: Linux's main routing table.
pub const DEFAULT_FIB_TABLE: u32 = 254;
/// Default `fib.protocol`: the `rtm_protocol` of clos's kernel routes
/// (`ip route show proto clos` with `/etc/iproute2/rt_protos.d/clos.conf`).
pub const DEFAULT_FIB_PROTOCOL: u8 = 201;
/// Default `fib.stale-time`, seconds: how long routes left by an earlier run
/// are kept while BGP converges.
pub const DEFAULT_STALE_TIME: u16 = 120;
/// Default `fib.initial-hold`, seconds: how long kernel writes wait at
/// start-up for every neighbor's End-of-RIB (with two or more neighbors).
pub const DEFAULT_INITIAL_HOLD: u16 = 30;
/// Default `neighbor.bfd-interval`, milliseconds (FRR's and BIRD's default).
pub const DEFAULT_BFD_INTERVAL_MS: u16 = 300;
/// Default `neighbor.bfd-multiplier`.
pub const DEFAULT_BFD_MULTIPLIER: u8 = 3;
/// Largest `router.multipath`.
pub const MAX_MULTIPATH: u16 = 64;
/// `AS_TRANS` (RFC 6793 §9): a placeholder on the wire, never a real AS.
pub const AS_TRANS: u32 = 23456;

/// A whole `closd` configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[router]`: this speaker's identity and global timers.
    pub router: Router,
    /// `[api]`: the control socket `closctl` talks to.
    pub api: Api,
    /// `[[neighbor]]`, in file order.
    pub neighbors: Vec<Neighbor>,
    /// `[[prefix-list]]`, in file order; names are unique.
    pub prefix_lists: Vec<PrefixList>,
    /// `[fib]`: where best routes are installed.
    pub fib: Fib,
    /// The file this was read from; `None` when parsed from a string.
    pub source: Option<PathBuf>,
}

impl Config {
    /// The prefix list called `name`, if any.
    pub fn prefix_list(&self, name: &str) -> Option<&PrefixList> {
        self.prefix_lists.iter().find(|list| list.name == name)
    }
}

/// `[router]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    /// Local AS number, 1..=4294967295, never [`AS_TRANS`].
    pub asn: u32,
    /// BGP Identifier (RFC 4271 §4.2), never 0.0.0.0.
    pub router_id: Ipv4Addr,
    /// Addresses to accept BGP connections on. Default `[::]:179`
    /// (dual-stack); empty means connect out only.
    pub listen: Vec<SocketAddr>,
    /// Prefixes this router announces; canonical (host bits zero), unique.
    pub originate: Vec<IpNet>,
    /// Proposed hold time, seconds: 0 or 3..=65535 (RFC 4271 §4.2).
    pub hold_time: u16,
    /// ConnectRetryTimer, seconds, 1..=65535.
    pub connect_retry: u16,
    /// Maximum number of equal-cost paths installed per prefix, 1..=64.
    pub multipath: u16,
    /// Allow multipath across paths learned from different neighbour ASes.
    pub multipath_relax: bool,
    /// Close an unnumbered session the moment its interface loses its link
    /// (FRR's `bgp fast-external-failover`, on by default), instead of
    /// waiting for BFD or the hold timer.
    pub fast_external_failover: bool,
}

/// The default `router.listen`: every address, both families, port 179.
pub fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), BGP_PORT)]
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// Unix socket of the management API (owner-only, no token).
    pub socket: PathBuf,
    /// The API over TCP as well (`listen` and `token-file`), if configured.
    pub tcp: Option<ApiTcp>,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            socket: PathBuf::from(DEFAULT_API_SOCKET),
            tcp: None,
        }
    }
}

/// The management API on a TCP address, for clients that present a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTcp {
    /// `api.listen`: where to accept gRPC connections.
    pub listen: SocketAddr,
    /// `api.token-file`: the file the token was read from.
    pub token_file: PathBuf,
    /// The token clients must send (`authorization: Bearer TOKEN`): at
    /// least [`MIN_API_TOKEN_LEN`] printable ASCII characters, read when
    /// the configuration was loaded.
    pub token: Secret,
}

/// Shortest API token accepted, in characters: a token is the only thing
/// between the network and the daemon's control.
pub const MIN_API_TOKEN_LEN: usize = 16;
/// Longest TCP MD5 key (`password`), in bytes: Linux's
/// `TCP_MD5SIG_MAXKEYLEN`.
pub const MAX_PASSWORD_LEN: usize = 80;

/// A secret from the configuration (a session password, the API token).
/// Its `Debug` never shows it, so printing a [`Config`] leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One `[[neighbor]]`: a configured BGP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    /// Where the peer is: an address, or an interface (BGP unnumbered).
    pub peer: PeerAddress,
    /// The AS the peer must announce in its OPEN.
    pub remote_as: RemoteAs,
    /// Free text for operators.
    pub description: Option<String>,
    /// Remote TCP port, 1..=65535, default 179.
    pub port: u16,
    /// Source address for outgoing connections; same family as the peer
    /// address.
    pub local_address: Option<IpAddr>,
    /// Wait for the peer to connect; never connect out.
    pub passive: bool,
    /// Address families to negotiate (RFC 4760), unique, non-empty.
    pub families: Vec<Family>,
    /// Policy on routes received. Default: reject for eBGP (RFC 8212),
    /// accept for iBGP.
    pub import: Policy,
    /// Policy on routes sent. Defaults as for `import`.
    pub export: Policy,
    /// Overrides `router.hold_time` for this session.
    pub hold_time: Option<u16>,
    /// Limit on prefixes accepted from this peer.
    pub max_prefix: Option<MaxPrefix>,
    /// Rewrite the next hop to our own address (iBGP).
    pub next_hop_self: bool,
    /// IP TTL for eBGP sessions, 1..=255; 1 means directly connected.
    pub ebgp_multihop: u8,
    /// GTSM (RFC 5082): send with TTL 255, accept only what arrives with
    /// 255. eBGP, directly connected (`ebgp_multihop` 1) only.
    pub ttl_security: bool,
    /// TCP MD5 signature key (RFC 2385), 1..=[`MAX_PASSWORD_LEN`] bytes.
    /// Numbered neighbors only.
    pub password: Option<Secret>,
    /// BFD for this session (`bfd = true`), single hop (RFC 5881).
    pub bfd: Option<Bfd>,
}

/// BFD timers of a neighbour: desired min TX and required min RX interval
/// (both `interval_ms`), and the detection multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bfd {
    /// Milliseconds, 10..=10000.
    pub interval_ms: u16,
    /// 1..=255.
    pub multiplier: u8,
}

impl Neighbor {
    /// Whether the session is external (eBGP) when the local AS is
    /// `local_asn`. Always `Some`: `External` and `Internal` decide it
    /// without knowing the peer's AS.
    pub fn is_ebgp(&self, local_asn: u32) -> Option<bool> {
        Some(self.remote_as.is_ebgp(local_asn))
    }

    /// A name that identifies this neighbour among all others: its address
    /// or its interface name. Unique within a [`Config`].
    pub fn key(&self) -> String {
        self.peer.to_string()
    }

    /// The hold time to propose: this neighbour's, else the router's.
    pub fn effective_hold_time(&self, router: &Router) -> u16 {
        self.hold_time.unwrap_or(router.hold_time)
    }
}

/// Where a neighbour is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerAddress {
    /// A numbered session to this address.
    Address(IpAddr),
    /// BGP unnumbered on this interface: the peer is found by IPv6
    /// neighbour discovery on the link (RFC 7938 §5.2.5, RFC 8950 next hops).
    Interface(String),
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddress::Address(address) => address.fmt(f),
            PeerAddress::Interface(name) => f.write_str(name),
        }
    }
}

/// The AS a neighbour must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteAs {
    /// Exactly this AS.
    Asn(u32),
    /// Any AS other than ours (eBGP), learned from the OPEN.
    External,
    /// Our own AS (iBGP).
    Internal,
}

impl RemoteAs {
    /// Whether a peer of this AS is external when the local AS is
    /// `local_asn`.
    pub fn is_ebgp(self, local_asn: u32) -> bool {
        match self {
            RemoteAs::Asn(asn) => asn != local_asn,
            RemoteAs::External => true,
            RemoteAs::Internal => false,
        }
    }
}

impl std::fmt::Display for RemoteAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteAs::Asn(asn) => asn.fmt(f),
            RemoteAs::External => f.write_str("external"),
            RemoteAs::Internal => f.write_str("internal"),
        }
    }
}

/// An import or export policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Every route passes.
    Accept,
    /// No route passes.
    Reject,
    /// Routes pass when the named [`PrefixList`] permits their prefix.
    PrefixList(String),
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::Accept => f.write_str("accept"),
            Policy::Reject => f.write_str("reject"),
            Policy::PrefixList(name) => f.write_str(name),
        }
    }
}

/// A limit on prefixes received from one neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPrefix {
    /// Most prefixes accepted, at least 1.
    pub limit: u64,
    /// What to do when the limit is passed.
    pub action: MaxPrefixAction,
    /// Seconds after a teardown before the session may start again; `None`
    /// keeps it down until an operator resets it.
    pub restart: Option<u16>,
}

/// What happens when a neighbour sends more than `max-prefix` prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaxPrefixAction {
    /// Send NOTIFICATION Cease, "Maximum Number of Prefixes Reached"
    /// (RFC 4486 §4, subcode 1) and close the session.
    Teardown,
    /// Log and keep the session up.
    Warning,
}

/// A `[[prefix-list]]`: an ordered list of prefix matches. Only the data:
/// what it matches is `clos_bgp::policy::PrefixList`'s business (first match
/// wins, no match denies, like FRR and Cisco).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixList {
    /// Unique name, referenced by neighbour `import`/`export`.
    pub name: String,
    /// Entries in order; the first that matches decides.
    pub entries: Vec<PrefixListEntry>,
}

/// One line of a prefix list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixListEntry {
    /// Permit or deny what matches.
    pub action: Action,
    /// The covering prefix, canonical.
    pub prefix: IpNet,
    /// Shortest length matched; `prefix.prefix_len() <= ge`.
    pub ge: Option<u8>,
    /// Longest length matched; `ge <= le <= 32/128`.
    pub le: Option<u8>,
}

/// Permit or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The route passes.
    Permit,
    /// The route is filtered.
    Deny,
}

/// `[fib]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fib {
    /// Install best routes into the kernel over netlink.
    pub kernel: bool,
    /// Kernel routing table, 1..=4294967295.
    pub table: u32,
    /// `rtm_protocol` of our routes, 5..=255.
    pub protocol: u8,
    /// Seconds routes from an earlier run are kept while BGP converges.
    pub stale_time: u16,
    /// Seconds kernel writes wait at start-up for BGP to converge.
    pub initial_hold: u16,
}

impl Default for Fib {
    fn default() -> Self {
        Fib {
            kernel: false,
            table: DEFAULT_FIB_TABLE,
            protocol: DEFAULT_FIB_PROTOCOL,
            stale_time: DEFAULT_STALE_TIME,
            initial_hold: DEFAULT_INITIAL_HOLD,
        }
    }
}
