//! `BfdManager`: the I/O around the pure sessions of `session.rs`.
//!
//! ```text
//!   UDP *:3784 (IPv4) ──► receive task ─┐   TTL 255? (RFC 5881 §5)
//!   UDP [::]:3784     ──► receive task ─┤   decode + §6.8.6 packet checks
//!                                       │   demultiplex (RFC 5880 §6.3):
//!                                       │     Your Discr ≠ 0 → by discriminator
//!                                       │     Your Discr = 0 → by source address
//!                                       │                      (+ arrival interface)
//!                                       ▼
//!                        per-session packet queue (bounded; full ⇒ drop)
//!                                       ▼
//!   add()/remove()/set_timers() ──► session task: owns a `Session`, its
//!                                   send socket (source port 49152–65535,
//!                                   TTL 255) and its one timer
//!                                       │
//!                                       ▼
//!                        StateChange channel to the client (BGP)
//! ```
//!
//! The registry of sessions (discriminator → queues and published
//! `SessionInfo`) sits behind one mutex: `add`, `remove` and `sessions` are
//! synchronous calls from any thread, and the receive tasks only hold the
//! lock for a lookup. Each session's protocol state has a single owner, its
//! task.
//!
//! Sockets are created on the thread that calls `start` or `add`, so they
//! belong to that thread's network namespace: tests run two managers in two
//! namespaces from two threads.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn, Instrument};

use crate::error::{Error, Result};
use crate::packet::{ControlPacket, Diagnostic, SessionState};
use crate::session::{Action, Event, Session, Timers};
use crate::socket::{self, CONTROL_PORT, REQUIRED_TTL};

/// Capacity of the channel of state changes to the client.
const STATE_CHANGE_CAPACITY: usize = 4096;
/// Capacity of each session's queue of received packets.
const PACKET_QUEUE_CAPACITY: usize = 64;
/// Capacity of each session's command queue.
const COMMAND_QUEUE_CAPACITY: usize = 16;
/// How long at most a removed session keeps sending AdminDown (§6.8.16
/// asks for a Detection Time).
const MAX_LINGER: Duration = Duration::from_secs(10);

/// What a client configures for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The neighbour, one hop away (RFC 5881).
    pub peer: IpAddr,
    /// Source address; None lets the kernel choose.
    pub local: Option<IpAddr>,
    /// Interface the neighbour is on; required for a link-local peer.
    pub interface: Option<String>,
    pub desired_min_tx: Duration,
    pub required_min_rx: Duration,
    pub detect_mult: u8,
}

impl SessionConfig {
    /// A session to `peer` with the default timers (300 ms × 3).
    pub fn new(peer: IpAddr) -> SessionConfig {
        let timers = Timers::default();
        SessionConfig {
            peer,
            local: None,
            interface: None,
            desired_min_tx: timers.desired_min_tx,
            required_min_rx: timers.required_min_rx,
            detect_mult: timers.detect_mult,
        }
    }

    /// Sets the intervals and multiplier.
    pub fn with_timers(mut self, interval: Duration, detect_mult: u8) -> SessionConfig {
        self.desired_min_tx = interval;
        self.required_min_rx = interval;
        self.detect_mult = detect_mult;
        self
    }

    fn timers(&self) -> Timers {
        Timers {
            desired_min_tx: self.desired_min_tx,
            required_min_rx: self.required_min_rx,
            detect_mult: self.detect_mult,
        }
    }
}

fn validate(peer: IpAddr, interface: Option<&str>, timers: &Timers) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidConfig {
        peer,
        reason: reason.to_string(),
    };
    if timers.detect_mult == 0 {
        return Err(invalid("detect multiplier must be at least 1"));
    }
    if timers.desired_min_tx.is_zero() {
        return Err(invalid("desired minimum TX interval must be positive"));
    }
    let limit = Duration::from_micros(u32::MAX.into());
    if timers.desired_min_tx > limit || timers.required_min_rx > limit {
        return Err(invalid("intervals must fit in 32 bits of microseconds"));
    }
    if let IpAddr::V6(v6) = peer {
        if v6.is_unicast_link_local() && interface.is_none() {
            return Err(invalid("a link-local peer needs an interface"));
        }
    }
    if peer.is_unspecified() || peer.is_multicast() {
        return Err(invalid("peer must be a unicast address"));
    }
    Ok(())
}

/// A session's handle: its local discriminator, unique on this system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u32);

/// A change of a session's state, for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub session: SessionId,
    pub peer: IpAddr,
    pub interface: Option<String>,
    pub previous: SessionState,
    pub state: SessionState,
    /// bfd.LocalDiag: why (1 = detection time expired, 3 = neighbour said
    /// Down, 7 = administratively down).
    pub diagnostic: Diagnostic,
    /// The neighbour's state as last received. When it is AdminDown the
    /// path did not fail, and RFC 5882 §3.2 says a client such as BGP
    /// should not tear its session down for it.
    pub remote_state: SessionState,
    pub at: Instant,
}

/// Per-session counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounters {
    pub packets_sent: u64,
    pub packets_received: u64,
    pub send_errors: u64,
    /// Packets dropped because the session's queue was full.
    pub queue_drops: u64,
    pub up_transitions: u64,
    pub down_transitions: u64,
}

/// A snapshot of one session, for the CLI and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
    pub interface: Option<String>,
    pub source_port: u16,
    pub state: SessionState,
    pub remote_state: SessionState,
    pub local_diagnostic: Diagnostic,
    pub remote_diagnostic: Diagnostic,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    /// Configured timers.
    pub timers: Timers,
    /// Negotiated transmission interval (before jitter).
    pub tx_interval: Duration,
    /// Negotiated interval at which the peer's packets are expected.
    pub rx_interval: Duration,
    /// How long without packets before the session goes Down.
    pub detection_time: Duration,
    pub remote_detect_mult: u8,
    /// When the state last changed.
    pub since: Instant,
    pub counters: SessionCounters,
}

/// Counters of the receive sockets (packets that found no session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveCounters {
    pub datagrams: u64,
    /// TTL / Hop Limit not 255 (RFC 5881 §5).
    pub bad_ttl: u64,
    /// Failed a §6.8.6 packet check.
    pub malformed: u64,
    /// Your Discriminator unknown, or no session for the source address.
    pub no_session: u64,
    /// Your Discriminator known, but from another address or interface.
    pub wrong_source: u64,
}

enum Command {
    SetTimers(Timers),
    AdminDown(bool),
}

struct Entry {
    peer: IpAddr,
    interface: Option<String>,
    ifindex: Option<u32>,
    packets: mpsc::Sender<(ControlPacket, Instant)>,
    commands: mpsc::Sender<Command>,
    info: Arc<Mutex<SessionInfo>>,
}

#[derive(Default)]
struct Registry {
    sessions: HashMap<u32, Entry>,
    counters: ReceiveCounters,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    registry: Mutex<Registry>,
    changes: mpsc::Sender<StateChange>,
    runtime: tokio::runtime::Handle,
    random: RandomState,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves the maps consistent (every
        // update is a single insert or remove), so poisoning is ignored.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn random(&self, salt: u64) -> u64 {
        self.random.hash_one((salt, Instant::now()))
    }
}

/// BFD for a set of single-hop sessions (RFC 5880 asynchronous mode over
/// RFC 5881). Dropping it stops every session without notice to peers.
pub struct BfdManager {
    shared: Arc<Shared>,
}

impl BfdManager {
    /// Opens the receive sockets (IPv4 and IPv6 on port 3784; a family the
    /// host lacks is skipped with a warning) and starts their tasks. State
    /// changes of all sessions arrive on the returned channel, which holds
    /// 4096 of them: a session task never waits for the client (its
    /// packets must keep flowing), so a client that falls that far behind
    /// loses changes, with a warning logged; `sessions()` always has the
    /// current state.
    pub async fn start() -> Result<(BfdManager, mpsc::Receiver<StateChange>)> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (changes, receiver) = mpsc::channel(STATE_CHANGE_CAPACITY);
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry::default()),
            changes,
            runtime,
            random: RandomState::new(),
        });
        let mut opened = 0;
        let mut first_error = None;
        for (ipv6, what) in [(false, "IPv4 receive"), (true, "IPv6 receive")] {
            match socket::open_receiver(ipv6) {
                Ok(socket) => {
                    opened += 1;
                    let task = shared.runtime.spawn(
                        receive_loop(Arc::downgrade(&shared), socket).instrument(
                            tracing::info_span!(
                                "bfd_receive",
                                family = if ipv6 { "ipv6" } else { "ipv4" }
                            ),
                        ),
                    );
                    shared.lock().tasks.push(task);
                }
                Err(source) => {
                    warn!(family = what, error = %source, "BFD receive socket unavailable");
                    first_error.get_or_insert(Error::Socket { what, source });
                }
            }
        }
        if opened == 0 {
            return Err(first_error.unwrap_or(Error::Stopped));
        }
        Ok((BfdManager { shared }, receiver))
    }

    /// Adds a session and starts sending to the peer (slowly, once a second,
    /// until it is Up). Must be called from within the tokio runtime the
    /// manager was started on, or any thread while that runtime runs; the
    /// send socket is created on the calling thread.
    pub fn add(&self, config: SessionConfig) -> Result<SessionId> {
        let timers = config.timers();
        let peer = config.peer;
        validate(peer, config.interface.as_deref(), &timers)?;
        let ifindex = match &config.interface {
            Some(name) => {
                Some(
                    socket::interface_index(name).map_err(|source| Error::Interface {
                        peer,
                        interface: name.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let port_start = (self.shared.random(1) % 16384) as u16 + 49152;
        let _guard = self.shared.runtime.enter();
        let (sender, source_port) =
            socket::open_sender(peer, config.local, config.interface.as_deref(), port_start)
                .map_err(|source| Error::NoSourcePort { peer, source })?;
        let destination = match peer {
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(
                v6,
                CONTROL_PORT,
                0,
                if v6.is_unicast_link_local() {
                    ifindex.unwrap_or(0)
                } else {
                    0
                },
            )),
            IpAddr::V4(_) => SocketAddr::new(peer, CONTROL_PORT),
        };

        let (packets_tx, packets_rx) = mpsc::channel(PACKET_QUEUE_CAPACITY);
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        let now = Instant::now();
        let mut registry = self.shared.lock();
        if registry
            .sessions
            .values()
            .any(|entry| entry.peer == peer && entry.interface == config.interface)
        {
            return Err(Error::Duplicate { peer });
        }
        // §6.8.1: a non-zero discriminator, unique on this system, and
        // random to make spoofing harder.
        let mut discriminator = 0u32;
        let mut salt = 2;
        while discriminator == 0 || registry.sessions.contains_key(&discriminator) {
            discriminator = self.shared.random(salt) as u32;
            salt += 1;
        }
        let session = Session::new(discriminator, timers, self.shared.random(salt), now);
        let info = Arc::new(Mutex::new(SessionInfo {
            id: SessionId(discriminator),
            peer,
            local: config.local,
            interface: config.interface.clone(),
            source_port,
            state: session.state(),
            remote_state: session.remote_state(),
            local_diagnostic: session.local_diagnostic(),
            remote_diagnostic: session.remote_diagnostic(),
            local_discriminator: discriminator,
            remote_discriminator: 0,
            timers,
            tx_interval: session.tx_interval(),
            rx_interval: session.rx_interval(),
            detection_time: session.detection_time(),
            remote_detect_mult: 0,
            since: now,
            counters: SessionCounters::default(),
        }));
        let task = SessionTask {
            session,
            socket: sender,
            destination,
            packets: packets_rx,
            commands: commands_rx,
            info: info.clone(),
            changes: self.shared.changes.clone(),
            interface: config.interface.clone(),
            counters: SessionCounters::default(),
        };
        let span = tracing::info_span!("bfd", %peer, discriminator);
        let handle = self.shared.runtime.spawn(task.run().instrument(span));
        registry.tasks.retain(|task| !task.is_finished());
        registry.tasks.push(handle);
        registry.sessions.insert(
            discriminator,
            Entry {
                peer,
                interface: config.interface,
                ifindex,
                packets: packets_tx,
                commands: commands_tx,
                info,
            },
        );
        info!(%peer, discriminator, source_port, "BFD session added");
        Ok(SessionId(discriminator))
    }

    /// Removes a session: it goes AdminDown and tells the peer so for a
    /// Detection Time (§6.8.16), then stops. No StateChange is reported
    /// for a removed session. Unknown ids are ignored.
    pub fn remove(&self, id: SessionId) {
        // Dropping the entry closes the session's queues, which is its
        // signal to wind down.
        if self.shared.lock().sessions.remove(&id.0).is_some() {
            info!(discriminator = id.0, "BFD session removed");
        }
    }

    /// Changes a session's timers; a Poll Sequence confirms the change with
    /// the peer (§6.5, §6.8.3).
    pub fn set_timers(
        &self,
        id: SessionId,
        desired_min_tx: Duration,
        required_min_rx: Duration,
        detect_mult: u8,
    ) -> Result<()> {
        let timers = Timers {
            desired_min_tx,
            required_min_rx,
            detect_mult,
        };
        self.command(id, |peer| {
            validate(peer, None, &timers).map(|()| Command::SetTimers(timers))
        })
    }

    /// Puts a session in AdminDown (`true`) or back to Down (§6.8.16).
    pub fn set_admin_down(&self, id: SessionId, admin_down: bool) -> Result<()> {
        self.command(id, |_| Ok(Command::AdminDown(admin_down)))
    }

    fn command(&self, id: SessionId, make: impl FnOnce(IpAddr) -> Result<Command>) -> Result<()> {
        let registry = self.shared.lock();
        let entry = registry.sessions.get(&id.0).ok_or(Error::Stopped)?;
        let command = make(entry.peer)?;
        entry.commands.try_send(command).map_err(|_| Error::Stopped)
    }

    /// Snapshots of all sessions, ordered by peer.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut list: Vec<SessionInfo> = self
            .shared
            .lock()
            .sessions
            .values()
            .map(|entry| entry.info.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect();
        list.sort_by(|a, b| (a.peer, &a.interface).cmp(&(b.peer, &b.interface)));
        list
    }

    /// One session's snapshot.
    pub fn session(&self, id: SessionId) -> Option<SessionInfo> {
        self.shared
            .lock()
            .sessions
            .get(&id.0)
            .map(|entry| entry.info.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Counters of packets that were discarded before reaching a session.
    pub fn receive_counters(&self) -> ReceiveCounters {
        self.shared.lock().counters
    }
}

impl Drop for BfdManager {
    fn drop(&mut self) {
        let mut registry = self.shared.lock();
        registry.sessions.clear();
        for task in registry.tasks.drain(..) {
            task.abort();
        }
    }
}

/// Reads one receive socket until the manager is dropped.
async fn receive_loop(shared: std::sync::Weak<Shared>, socket: UdpSocket) {
    let mut buffer = [0u8; 512];
    loop {
        let datagram = match socket::receive(&socket, &mut buffer).await {
            Ok(datagram) => datagram,
            Err(error) => {
                warn!(%error, "BFD receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let at = Instant::now();
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let payload = buffer.get(..datagram.len).unwrap_or(&buffer);
        dispatch(&shared, &datagram, payload, at);
    }
}

/// Checks one datagram and hands it to its session (RFC 5881 §5, RFC 5880
/// §6.8.6 and §6.3).
fn dispatch(shared: &Shared, datagram: &socket::Datagram, payload: &[u8], at: Instant) {
    let source = datagram.source.ip();
    let mut registry = shared.lock();
    registry.counters.datagrams += 1;
    if datagram.ttl != Some(REQUIRED_TTL) {
        registry.counters.bad_ttl += 1;
        debug!(%source, ttl = ?datagram.ttl, "BFD packet discarded: TTL is not 255");
        return;
    }
    let packet = match ControlPacket::decode(payload) {
        Ok(packet) => packet,
        Err(error) => {
            registry.counters.malformed += 1;
            debug!(%source, %error, "BFD packet discarded");
            return;
        }
    };
    let interface_matches = |entry: &Entry| {
        entry.ifindex.is_none() || datagram.ifindex.is_none() || entry.ifindex == datagram.ifindex
    };
    let entry = if packet.your_discriminator != 0 {
        match registry.sessions.get(&packet.your_discriminator) {
            None => None,
            Some(entry) if entry.peer == source && interface_matches(entry) => Some(entry),
            Some(_) => {
                registry.counters.wrong_source += 1;
                debug!(%source, your_discriminator = packet.your_discriminator, "BFD packet discarded: discriminator of another peer");
                return;
            }
        }
    } else {
        // §6.3: with Your Discriminator zero the session is found by the
        // source address and, for single hop, the arrival interface. Only
        // sessions being set up see such packets, so a scan will do.
        registry
            .sessions
            .values()
            .find(|entry| entry.peer == source && interface_matches(entry))
    };
    let Some(entry) = entry else {
        registry.counters.no_session += 1;
        debug!(%source, your_discriminator = packet.your_discriminator, "BFD packet discarded: no session");
        return;
    };
    if entry.packets.try_send((packet, at)).is_err() {
        if let Ok(mut info) = entry.info.lock() {
            info.counters.queue_drops += 1;
        }
    }
}

/// Owns one session: its state machine, its send socket, its timer.
struct SessionTask {
    session: Session,
    socket: UdpSocket,
    destination: SocketAddr,
    packets: mpsc::Receiver<(ControlPacket, Instant)>,
    commands: mpsc::Receiver<Command>,
    info: Arc<Mutex<SessionInfo>>,
    changes: mpsc::Sender<StateChange>,
    interface: Option<String>,
    counters: SessionCounters,
}

impl SessionTask {
    async fn run(mut self) {
        let now = Instant::now();
        let actions = self.session.step(Event::Timer, now);
        self.carry_out(actions, now, true).await;
        let mut removed_at: Option<Instant> = None;
        loop {
            let linger_end =
                removed_at.map(|at| at + self.session.detection_time().min(MAX_LINGER));
            let deadline = match (self.session.next_deadline(), linger_end) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a
                    .or(b)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600)),
            };
            let deadline = tokio::time::Instant::from_std(deadline);
            let (event, at) = tokio::select! {
                packet = self.packets.recv(), if removed_at.is_none() => match packet {
                    Some((packet, at)) => {
                        self.counters.packets_received += 1;
                        (Event::Received(packet), at)
                    }
                    None => (Event::AdminDown, Instant::now()),
                },
                command = self.commands.recv(), if removed_at.is_none() => match command {
                    Some(Command::SetTimers(timers)) => (Event::SetTimers(timers), Instant::now()),
                    Some(Command::AdminDown(true)) => (Event::AdminDown, Instant::now()),
                    Some(Command::AdminDown(false)) => (Event::AdminUp, Instant::now()),
                    None => (Event::AdminDown, Instant::now()),
                },
                () = tokio::time::sleep_until(deadline) => (Event::Timer, Instant::now()),
            };
            if removed_at.is_none() && (self.packets.is_closed() || self.commands.is_closed()) {
                removed_at = Some(at);
                let actions = self.session.step(Event::AdminDown, at);
                self.carry_out(actions, at, false).await;
            }
            let actions = self.session.step(event, at);
            let report = removed_at.is_none();
            self.carry_out(actions, at, report).await;
            if let Some(removed) = removed_at {
                let linger = self.session.detection_time().min(MAX_LINGER);
                if at >= removed + linger {
                    debug!("BFD session stopped");
                    return;
                }
            }
        }
    }

    async fn carry_out(&mut self, actions: Vec<Action>, now: Instant, report: bool) {
        let mut changed_at = None;
        for action in actions {
            match action {
                Action::Send(packet) => match self
                    .socket
                    .send_to(&packet.encode(), self.destination)
                    .await
                {
                    Ok(_) => self.counters.packets_sent += 1,
                    Err(error) => {
                        self.counters.send_errors += 1;
                        debug!(%error, "BFD send failed");
                    }
                },
                Action::StateChange(transition) => {
                    changed_at = Some(now);
                    match transition.to {
                        SessionState::Up => self.counters.up_transitions += 1,
                        SessionState::Down if transition.from == SessionState::Up => {
                            self.counters.down_transitions += 1
                        }
                        _ => {}
                    }
                    info!(
                        from = transition.from.name(),
                        to = transition.to.name(),
                        diagnostic = %transition.diagnostic,
                        remote_state = transition.remote_state.name(),
                        "BFD session state change"
                    );
                    if !report {
                        continue;
                    }
                    let change = StateChange {
                        session: SessionId(self.session.local_discriminator()),
                        peer: self.destination.ip(),
                        interface: self.interface.clone(),
                        previous: transition.from,
                        state: transition.to,
                        diagnostic: transition.diagnostic,
                        remote_state: transition.remote_state,
                        at: now,
                    };
                    if self.changes.try_send(change).is_err() {
                        warn!("BFD state change not delivered: client channel full or closed");
                    }
                }
            }
        }
        self.publish(changed_at);
    }

    fn publish(&self, changed_at: Option<Instant>) {
        let session = &self.session;
        let mut info = self.info.lock().unwrap_or_else(|p| p.into_inner());
        let queue_drops = info.counters.queue_drops;
        info.state = session.state();
        info.remote_state = session.remote_state();
        info.local_diagnostic = session.local_diagnostic();
        info.remote_diagnostic = session.remote_diagnostic();
        info.remote_discriminator = session.remote_discriminator();
        info.timers = session.timers();
        info.tx_interval = session.tx_interval();
        info.rx_interval = session.rx_interval();
        info.detection_time = session.detection_time();
        info.remote_detect_mult = session.remote_detect_mult();
        if let Some(at) = changed_at {
            info.since = at;
        }
        info.counters = SessionCounters {
            queue_drops,
            ..self.counters
        };
    }
}
