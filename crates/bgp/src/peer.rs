//! A neighbor as the rest of the daemon sees it: its configuration
//! (`PeerConfig`, built by the daemon from the config file, never the config
//! structs themselves) and the state it shares with the API
//! (`PeerShared`: counters as atomics, session facts behind a short mutex).
//!
//! The session task is the only writer of `PeerShared`'s session facts; the
//! RIB task the only writer of the prefix counters.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clos_wire::Family;

use crate::fsm::{Negotiated, RemoteAsRule, State};
use crate::policy::Policy;
use crate::sockopt::TcpMd5Key;

/// Index of a peer in the speaker; 0 is the router itself (originated routes).
pub type PeerId = u32;

/// The id of locally originated paths.
pub const LOCAL_PEER: PeerId = 0;

/// What to do when a neighbor sends more prefixes than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxPrefixAction {
    /// Cease 6/1 (RFC 4486) and tear the session down.
    Teardown,
    /// Log a warning, keep the session.
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPrefix {
    pub limit: u64,
    pub action: MaxPrefixAction,
    /// Re-enable the session after a teardown; None: stay down until the
    /// daemon restarts or the config is reloaded.
    pub restart: Option<Duration>,
}

/// One neighbor's settings.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    pub remote_as: RemoteAsRule,
    pub passive: bool,
    pub families: Vec<Family>,
    pub import: Policy,
    pub export: Policy,
    pub hold_time: u16,
    pub connect_retry: Duration,
    pub max_prefix: Option<MaxPrefix>,
    pub description: String,
    pub next_hop_self: bool,
    /// IP TTL / hop limit of the session's packets (1 for directly
    /// connected eBGP).
    pub ttl: u8,
    /// GTSM (RFC 5082): send with TTL 255 and drop whatever arrives from
    /// the peer with less, on our connection and on accepted ones (whose
    /// SYN must have arrived with 255). Directly connected eBGP only.
    pub ttl_security: bool,
    /// TCP MD5 signatures (RFC 2385) with this key, on our connection and
    /// on every listener, for this peer's address. Numbered peers only.
    pub tcp_md5_key: Option<TcpMd5Key>,
    /// BGP unnumbered: the session runs over this interface to the peer's
    /// IPv6 link-local address, as neighbor discovery finds it; `address`
    /// is then unspecified.
    pub interface: Option<InterfacePeer>,
}

impl PeerConfig {
    /// How operators name this neighbor: its address, or its interface.
    pub fn name(&self) -> String {
        match &self.interface {
            Some(i) => i.name.clone(),
            None => self.address.to_string(),
        }
    }
}

/// The interface of an unnumbered neighbor and what is known of the peer
/// on it (fed by neighbor discovery in the daemon).
#[derive(Debug, Clone)]
pub struct InterfacePeer {
    pub name: String,
    pub peer: tokio::sync::watch::Receiver<Option<LinkPeer>>,
}

/// A peer found on a link: its link-local address and the interface index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkPeer {
    pub address: std::net::Ipv6Addr,
    pub ifindex: u32,
}

/// Counters of one neighbor (monotonic across sessions unless noted).
#[derive(Debug, Default)]
pub struct PeerCounters {
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    pub updates_received: AtomicU64,
    pub updates_sent: AtomicU64,
    pub keepalives_received: AtomicU64,
    pub keepalives_sent: AtomicU64,
    pub notifications_received: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub route_refresh_received: AtomicU64,
    pub route_refresh_sent: AtomicU64,
    pub established_transitions: AtomicU32,
    pub withdrawn_treated: AtomicU64,
    pub attributes_discarded: AtomicU64,
    /// Worst lateness of a keepalive we sent, in microseconds.
    pub max_keepalive_delay_us: AtomicU64,
    /// Current session: prefixes received (before import policy).
    pub prefixes_received: AtomicU64,
    /// Current session: prefixes accepted into Adj-RIB-In.
    pub prefixes_accepted: AtomicU64,
    /// Current session: prefixes advertised (Adj-RIB-Out).
    pub prefixes_advertised: AtomicU64,
}

impl PeerCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Session facts shown by the API.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub state: State,
    pub since: Instant,
    pub negotiated: Option<Negotiated>,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub last_notification_sent: String,
    pub last_notification_received: String,
    pub last_error: String,
    pub local_capabilities: Vec<clos_wire::Capability>,
}

/// A neighbor's configuration and live state, shared with the API.
#[derive(Debug)]
pub struct PeerShared {
    pub id: PeerId,
    pub config: PeerConfig,
    pub counters: PeerCounters,
    session: Mutex<SessionInfo>,
}

impl PeerShared {
    pub fn new(id: PeerId, config: PeerConfig) -> PeerShared {
        PeerShared {
            id,
            config,
            counters: PeerCounters::default(),
            session: Mutex::new(SessionInfo {
                state: State::Idle,
                since: Instant::now(),
                negotiated: None,
                local: None,
                remote: None,
                last_notification_sent: String::new(),
                last_notification_received: String::new(),
                last_error: String::new(),
                local_capabilities: Vec::new(),
            }),
        }
    }

    /// A copy of the session facts.
    pub fn session(&self) -> SessionInfo {
        match self.session.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Change the session facts under the lock.
    pub fn update_session(&self, f: impl FnOnce(&mut SessionInfo)) {
        match self.session.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Move to `state`, stamping the time when it changes.
    pub fn set_state(&self, state: State) {
        self.update_session(|s| {
            if s.state != state {
                s.state = state;
                s.since = Instant::now();
            }
        });
    }

    pub fn state(&self) -> State {
        self.session().state
    }
}
