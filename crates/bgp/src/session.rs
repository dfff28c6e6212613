//! The task of one neighbor: connections, timers, and the FSM driven over
//! them.
//!
//! ```text
//!            incoming TcpStream (from the listener)
//!                      │
//!   connect task ──────┤          ┌──────────── reader task (per connection):
//!   (Connect state)    ▼          │   frame + decode, RFC 7606 issues
//!              ┌───────────────┐  │
//!   commands ─▶│   peer task   │◀─┘ (conn id, Input)
//!   (RIB)      │ fsm::Connection│
//!              │ per connection │──▶ RibEvent (bounded: backpressure)
//!              └───────┬───────┘
//!                      │ WriterCmd
//!                      ▼
//!              writer task (per connection): KEEPALIVEs on their own timer,
//!              UPDATEs drained from the AdjRibOutQueue, NOTIFICATIONs
//! ```
//!
//! Keepalives are sent by the writer on its own timer, so they never wait
//! behind route processing in the peer or RIB tasks (the GoBGP regret).
//!
//! Peer-level states (RFC 4271 §8.2.2): Idle while held down after an error
//! (idle hold time doubling from 1 s to 60 s while sessions keep failing,
//! RFC 4271 §8.1.1 DampPeerOscillations), Connect while our connection
//! attempt is outstanding, Active while waiting for the peer (passive, or
//! between attempts). Up to two connections may be in OpenSent/OpenConfirm
//! at once; collisions are resolved by BGP Identifier (§6.8).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use clos_wire::{
    decode_message, encode_announcements, encode_end_of_rib, encode_message, encode_withdrawals,
    frame, notification as code, Capability, Decoded, Family, IpNet, Message, Notification,
    RouteRefresh, SessionCodec, UpdateAction,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn, Instrument};

use crate::adj_out::{AdjRibOutQueue, Batch};
use crate::fsm::{
    describe_notification, Connection, DownReason, Input, LocalParams, Output, State,
};
use crate::peer::{PeerConfig, PeerCounters, PeerShared};
use crate::rib::{PeerCommand, RibEvent};
use crate::sockopt::{self, TcpMd5Key};

/// Largest idle hold time between failing sessions.
const MAX_IDLE_HOLD: Duration = Duration::from_secs(60);
/// Writer flush threshold: UPDATEs are written in chunks of about this size
/// so a keepalive that falls due during a large dump goes out between them.
const WRITE_CHUNK: usize = 64 * 1024;

/// What the speaker keeps of a running peer task.
pub struct PeerHandle {
    pub shared: Arc<PeerShared>,
    pub incoming: mpsc::Sender<TcpStream>,
}

/// Commands from the peer task to a connection's writer.
#[allow(clippy::large_enum_variant)]
enum WriterCmd {
    Send(Message),
    /// Established: start keepalives and draining the Adj-RIB-Out queue.
    Start {
        codec: SessionCodec,
        keepalive: Option<Duration>,
        out: Arc<AdjRibOutQueue>,
    },
    /// Flush and close (after any NOTIFICATION sent with `Send`).
    Close,
}

struct Conn {
    id: u64,
    outbound: bool,
    fsm: Connection,
    hold_deadline: Option<Instant>,
    writer: mpsc::UnboundedSender<WriterCmd>,
    writer_task: JoinHandle<()>,
    reader_task: JoinHandle<()>,
    local: SocketAddr,
    remote: SocketAddr,
    link: Arc<ReaderLink>,
}

/// What a connection's reader shares with the peer task.
///
/// Once the session is Established the reader turns UPDATEs into RIB events
/// itself (the fast path), so bulk routes do not pass through the peer task
/// and its FSM. It switches only when the peer task has finished every
/// message the reader forwarded before (`processed`), so the RIB sees the
/// connection's UPDATEs in order. Every message read stamps `last_rx_ms`,
/// which the peer task's hold timer accepts as liveness (RFC 4271 §4.4: any
/// UPDATE or KEEPALIVE restarts the hold timer).
#[derive(Default)]
struct ReaderLink {
    established: std::sync::OnceLock<FastPath>,
    processed: std::sync::atomic::AtomicU64,
    last_rx_ms: std::sync::atomic::AtomicU64,
}

struct FastPath {
    shared: Arc<PeerShared>,
    negotiated: Arc<crate::fsm::Negotiated>,
    local_asn: clos_wire::Asn,
    rib: mpsc::Sender<RibEvent>,
}

/// Milliseconds on a process-wide monotonic clock.
fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// Everything a peer task needs.
pub struct PeerTask {
    shared: Arc<PeerShared>,
    local: LocalParams,
    rib: mpsc::Sender<RibEvent>,
    incoming: mpsc::Receiver<TcpStream>,
    commands: mpsc::Receiver<PeerCommand>,
    shutdown: watch::Receiver<bool>,
    events_tx: mpsc::Sender<(u64, Input)>,
    events: mpsc::Receiver<(u64, Input)>,
    connect_tx: mpsc::Sender<std::io::Result<TcpStream>>,
    connect_rx: mpsc::Receiver<std::io::Result<TcpStream>>,
    conns: Vec<Conn>,
    next_conn_id: u64,
    connecting: bool,
    next_connect_at: Instant,
    idle_hold: Duration,
    established_at: Option<Instant>,
    /// Max-prefix teardown: down until this instant (None: indefinitely).
    admin_down: Option<Option<Instant>>,
    /// The established session's parameters (a copy of what `PeerShared`
    /// shows, kept here so UPDATE handling takes no lock).
    negotiated: Option<Arc<crate::fsm::Negotiated>>,
    /// BGP unnumbered: the peer found on the interface, when known.
    link: Option<watch::Receiver<Option<crate::peer::LinkPeer>>>,
}

impl PeerTask {
    /// Create the task's state; `run` drives it.
    pub fn new(
        shared: Arc<PeerShared>,
        local: LocalParams,
        rib: mpsc::Sender<RibEvent>,
        commands: mpsc::Receiver<PeerCommand>,
        shutdown: watch::Receiver<bool>,
    ) -> (PeerTask, PeerHandle) {
        let (incoming_tx, incoming) = mpsc::channel(4);
        let (events_tx, events) = mpsc::channel(256);
        let (connect_tx, connect_rx) = mpsc::channel(1);
        let handle = PeerHandle {
            shared: shared.clone(),
            incoming: incoming_tx,
        };
        let link = shared.config.interface.as_ref().map(|i| i.peer.clone());
        let task = PeerTask {
            link,
            shared,
            local,
            rib,
            incoming,
            commands,
            shutdown,
            events_tx,
            events,
            connect_tx,
            connect_rx,
            conns: Vec::new(),
            next_conn_id: 1,
            connecting: false,
            next_connect_at: Instant::now(),
            idle_hold: Duration::from_secs(1),
            established_at: None,
            admin_down: None,
            negotiated: None,
        };
        (task, handle)
    }

    /// Run until the speaker shuts down.
    pub async fn run(mut self) {
        let span = tracing::info_span!("peer", addr = %self.shared.config.name());
        async move {
            self.shared.update_session(|s| {
                s.local_capabilities = self.local.open().capabilities;
            });
            loop {
                self.maybe_connect();
                self.publish_state();
                let hold = self.conns.iter().filter_map(|c| c.hold_deadline).min();
                let admin_until = match self.admin_down {
                    Some(Some(t)) => Some(t),
                    _ => None,
                };
                let wants_connect_timer = !self.shared.config.passive
                    && self.remote().is_some()
                    && !self.connecting
                    && self.conns.is_empty()
                    && self.admin_down.is_none();
                tokio::select! {
                    biased;
                    _ = self.shutdown.changed() => {
                        self.shutdown_all().await;
                        return;
                    }
                    Some((id, input)) = self.events.recv() => self.on_input(id, input).await,
                    Some(cmd) = self.commands.recv() => self.on_command(cmd).await,
                    Some(stream) = self.incoming.recv() => self.on_incoming(stream).await,
                    Some(result) = self.connect_rx.recv() => self.on_connected(result).await,
                    _ = sleep_until(hold.unwrap_or_else(far_future)), if hold.is_some() => {
                        let now = Instant::now();
                        // A fast-path UPDATE counts as liveness too.
                        for c in self.conns.iter_mut() {
                            if let (Some(d), Some(hold), State::Established) =
                                (c.hold_deadline, c.fsm.negotiated().and_then(|n| n.hold_duration()), c.fsm.state())
                            {
                                let idle = Duration::from_millis(now_ms().saturating_sub(c.link.last_rx_ms.load(Ordering::Relaxed)));
                                if d <= now && idle < hold {
                                    c.hold_deadline = Some(now + (hold - idle));
                                }
                            }
                        }
                        let expired: Vec<u64> = self.conns.iter()
                            .filter(|c| c.hold_deadline.is_some_and(|d| d <= now))
                            .map(|c| c.id).collect();
                        for id in expired {
                            warn!("hold timer expired");
                            self.step(id, Input::HoldTimerExpires).await;
                        }
                    }
                    _ = sleep_until(admin_until.unwrap_or_else(far_future)), if admin_until.is_some() => {
                        info!("max-prefix restart time reached: re-enabling the session");
                        self.admin_down = None;
                    }
                    _ = sleep_until(self.next_connect_at), if wants_connect_timer => {}
                    Some(()) = link_changed(&mut self.link) => {
                        if let Some(peer) = self.remote() {
                            info!(%peer, "neighbor found on the interface");
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    fn publish_state(&self) {
        let state = self
            .conns
            .iter()
            .map(|c| c.fsm.state())
            .max_by_key(|s| match s {
                State::Established => 3,
                State::OpenConfirm => 2,
                State::OpenSent => 1,
                _ => 0,
            })
            .unwrap_or(if self.admin_down.is_some() {
                State::Idle
            } else if self.connecting {
                State::Connect
            } else if self.shared.config.passive || Instant::now() >= self.next_connect_at {
                State::Active
            } else {
                State::Idle
            });
        self.shared.set_state(state);
    }

    /// Where to connect: the configured address, or for an unnumbered
    /// neighbor the link-local address found on the interface (None until
    /// it is).
    fn remote(&self) -> Option<SocketAddr> {
        let cfg = &self.shared.config;
        match &self.link {
            None => Some(SocketAddr::new(cfg.address, cfg.port)),
            Some(link) => link.borrow().map(|p| {
                SocketAddr::V6(std::net::SocketAddrV6::new(
                    p.address, cfg.port, 0, p.ifindex,
                ))
            }),
        }
    }

    /// Start an outgoing connection attempt when one is due (Connect state).
    fn maybe_connect(&mut self) {
        let Some(remote) = self.remote() else {
            return;
        };
        let cfg = &self.shared.config;
        if cfg.passive
            || self.connecting
            || !self.conns.is_empty()
            || self.admin_down.is_some()
            || Instant::now() < self.next_connect_at
        {
            return;
        }
        self.connecting = true;
        let setup = SocketSetup::of(cfg);
        let timeout = cfg.connect_retry.max(Duration::from_secs(1));
        let tx = self.connect_tx.clone();
        tokio::spawn(async move {
            let result = match tokio::time::timeout(timeout, connect(remote, setup)).await {
                Ok(r) => r,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out",
                )),
            };
            let _ = tx.send(result).await;
        });
    }

    async fn on_connected(&mut self, result: std::io::Result<TcpStream>) {
        self.connecting = false;
        match result {
            Ok(stream) => {
                if self
                    .conns
                    .iter()
                    .any(|c| c.fsm.state() == State::Established)
                {
                    return; // an incoming connection won meanwhile
                }
                self.add_connection(stream, true).await;
            }
            Err(e) => {
                debug!(error = %e, "connect failed");
                self.shared
                    .update_session(|s| s.last_error = format!("connect: {e}"));
                self.next_connect_at = Instant::now() + self.shared.config.connect_retry;
            }
        }
    }

    async fn on_incoming(&mut self, mut stream: TcpStream) {
        let refuse = if self.admin_down.is_some() {
            Some(code::ADMINISTRATIVE_SHUTDOWN)
        } else if self.conns.len() >= 2
            || self
                .conns
                .iter()
                .any(|c| c.fsm.state() == State::Established)
        {
            // §6.8: a collision with an Established connection closes the
            // new one.
            Some(code::CONNECTION_COLLISION_RESOLUTION)
        } else {
            None
        };
        if let Some(subcode) = refuse {
            debug!(subcode, "refusing incoming connection");
            let mut buf = Vec::new();
            let n = Message::Notification(Notification {
                code: code::CEASE,
                subcode,
                data: vec![],
            });
            if encode_message(&n, &SessionCodec::default(), &mut buf).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&buf)).await;
            }
            return;
        }
        // GTSM (minimum TTL) was set by the speaker right after accept.
        if let Ok(peer) = stream.peer_addr() {
            let ttl = SocketSetup::send_ttl(&self.shared.config);
            let _ = sockopt::set_hop_limit(&stream, canonical_ip(peer.ip()), ttl);
        }
        self.add_connection(stream, false).await;
    }

    async fn add_connection(&mut self, stream: TcpStream, outbound: bool) {
        let (Ok(local), Ok(remote)) = (stream.local_addr(), stream.peer_addr()) else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        info!(%local, %remote, outbound, "connection up");
        let (read, write) = stream.into_split();
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        let writer_task =
            tokio::spawn(write_loop(write, writer_rx, self.shared.clone()).in_current_span());
        let link = Arc::new(ReaderLink::default());
        let reader_task = tokio::spawn(
            read_loop(
                id,
                read,
                self.events_tx.clone(),
                self.local.extended_next_hop,
                link.clone(),
            )
            .in_current_span(),
        );
        let (fsm, outputs) = Connection::new(self.local.clone());
        self.conns.push(Conn {
            id,
            outbound,
            fsm,
            hold_deadline: None,
            writer: writer_tx,
            writer_task,
            reader_task,
            local,
            remote,
            link,
        });
        self.apply(id, outputs).await;
    }

    async fn on_command(&mut self, cmd: PeerCommand) {
        match cmd {
            PeerCommand::RequestRefresh(reply) => {
                let result = match (
                    &self.negotiated,
                    self.conns
                        .iter()
                        .find(|c| c.fsm.state() == State::Established),
                ) {
                    (Some(neg), Some(conn)) if neg.route_refresh => {
                        for family in &neg.families {
                            let (afi, safi) = family.afi_safi();
                            let _ = conn.writer.send(WriterCmd::Send(Message::RouteRefresh(
                                RouteRefresh {
                                    afi,
                                    subtype: 0,
                                    safi,
                                },
                            )));
                        }
                        Ok(neg.families.clone())
                    }
                    (Some(_), Some(_)) => Err(
                        "the neighbor did not advertise the route refresh capability (RFC 2918)"
                            .to_string(),
                    ),
                    _ => Err("the session is not established".to_string()),
                };
                let _ = reply.send(result);
            }
            PeerCommand::LinkDown => {
                if !self.conns.is_empty() {
                    warn!("interface down: closing the session (fast external failover)");
                }
                self.step_all(false, || Input::TcpConnectionFails).await;
                self.shared.update_session(|s| {
                    s.last_error = "interface went down (fast external failover)".to_string()
                });
            }
            PeerCommand::BfdDown => {
                if self
                    .conns
                    .iter()
                    .any(|c| c.fsm.state() == State::Established)
                {
                    warn!("BFD down: closing the session");
                }
                self.step_all(true, || cease(code::BFD_DOWN)).await;
            }
            PeerCommand::MaxPrefixExceeded => {
                let restart = self.shared.config.max_prefix.and_then(|m| m.restart);
                self.admin_down = Some(restart.map(|r| Instant::now() + r));
                self.step_all(false, || cease(code::MAXIMUM_PREFIXES_REACHED))
                    .await;
            }
        }
    }

    async fn shutdown_all(&mut self) {
        self.step_all(false, || cease(code::ADMINISTRATIVE_SHUTDOWN))
            .await;
    }

    /// Feeds `input()` to every connection, or only to the Established one.
    async fn step_all(&mut self, established_only: bool, input: impl Fn() -> Input) {
        let ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|c| !established_only || c.fsm.state() == State::Established)
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.step(id, input()).await;
        }
    }

    async fn on_input(&mut self, id: u64, input: Input) {
        if let Input::Message(d) = &input {
            let c = &self.shared.counters;
            PeerCounters::add(&c.messages_received, 1);
            match &d.message {
                Message::Update(_) => PeerCounters::add(&c.updates_received, 1),
                Message::Keepalive => PeerCounters::add(&c.keepalives_received, 1),
                Message::Notification(n) => {
                    PeerCounters::add(&c.notifications_received, 1);
                    let text = describe_notification(n);
                    self.shared
                        .update_session(|s| s.last_notification_received = text);
                }
                Message::RouteRefresh(_) => PeerCounters::add(&c.route_refresh_received, 1),
                Message::Open(_) => {}
            }
        }
        self.step(id, input).await;
        if let Some(conn) = self.conns.iter().find(|c| c.id == id) {
            conn.link.processed.fetch_add(1, Ordering::Release);
        }
    }

    /// Feed the connection's FSM and carry out its outputs.
    async fn step(&mut self, id: u64, input: Input) {
        let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) else {
            return;
        };
        let outputs = conn.fsm.step(input);
        self.apply(id, outputs).await;
    }

    async fn apply(&mut self, id: u64, outputs: Vec<Output>) {
        for output in outputs {
            let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) else {
                return;
            };
            match output {
                Output::Send(message) => {
                    if let Message::Notification(n) = &message {
                        PeerCounters::add(&self.shared.counters.notifications_sent, 1);
                        let text = describe_notification(n);
                        warn!(notification = %text, "sending NOTIFICATION");
                        self.shared
                            .update_session(|s| s.last_notification_sent = text);
                    }
                    let _ = conn.writer.send(WriterCmd::Send(message));
                }
                Output::HoldTimer(d) => conn.hold_deadline = d.map(|d| Instant::now() + d),
                Output::Established(neg) => self.on_established(id, *neg).await,
                Output::Update(update, issues) => self.on_update(*update, issues).await,
                Output::RouteRefresh(rr) => self.on_route_refresh(rr).await,
                Output::Close(reason) => self.on_close(id, reason).await,
            }
        }
        // §6.8 collision detection once a second connection has the peer's OPEN.
        self.resolve_collision().await;
    }

    async fn resolve_collision(&mut self) {
        let confirmed: Vec<(u64, bool, std::net::Ipv4Addr)> = self
            .conns
            .iter()
            .filter(|c| c.fsm.state() == State::OpenConfirm)
            .filter_map(|c| c.fsm.negotiated().map(|n| (c.id, c.outbound, n.remote_id)))
            .collect();
        if confirmed.len() < 2 {
            return;
        }
        let remote_id = confirmed[0].2;
        // The connection initiated by the side with the higher identifier
        // survives.
        let keep_outbound = u32::from(self.local.router_id) > u32::from(remote_id);
        let loser = confirmed
            .iter()
            .find(|(_, outbound, _)| *outbound != keep_outbound)
            .map(|(id, _, _)| *id);
        if let Some(loser) = loser {
            info!(
                keep_outbound,
                "connection collision: closing one connection"
            );
            Box::pin(self.step(loser, cease(code::CONNECTION_COLLISION_RESOLUTION))).await;
        }
    }

    async fn on_established(&mut self, id: u64, neg: crate::fsm::Negotiated) {
        // Close every other connection (§6.8).
        let others: Vec<u64> = self
            .conns
            .iter()
            .filter(|c| c.id != id)
            .map(|c| c.id)
            .collect();
        for other in others {
            Box::pin(self.step(other, cease(code::CONNECTION_COLLISION_RESOLUTION))).await;
        }
        let Some(conn) = self.conns.iter().find(|c| c.id == id) else {
            return;
        };
        info!(
            remote_as = neg.remote_asn,
            remote_id = %neg.remote_id,
            hold = neg.hold_time,
            families = ?neg.families,
            "session established"
        );
        PeerCounters::add(&self.shared.counters.messages_sent, 0);
        self.shared
            .counters
            .established_transitions
            .fetch_add(1, Ordering::Relaxed);
        self.established_at = Some(Instant::now());
        self.negotiated = Some(Arc::new(neg.clone()));
        let (local, remote) = (conn.local, conn.remote);
        self.shared.update_session(|s| {
            s.negotiated = Some(neg.clone());
            s.local = Some(local);
            s.remote = Some(remote);
            s.last_error.clear();
        });
        let _ = conn.link.established.set(FastPath {
            shared: self.shared.clone(),
            negotiated: Arc::new(neg.clone()),
            local_asn: self.local.asn,
            rib: self.rib.clone(),
        });
        let out = AdjRibOutQueue::new();
        let keepalive = (neg.keepalive > 0).then(|| Duration::from_secs(neg.keepalive as u64));
        let _ = conn.writer.send(WriterCmd::Start {
            codec: neg.codec,
            keepalive,
            out: out.clone(),
        });
        let local_address = canonical_ip(local.ip());
        // A session between link-local addresses (BGP unnumbered) is bound
        // to its interface: our link-local is the next hop we advertise,
        // and the peer's link-local next hops are on that interface.
        let (local_link_local, ifindex) = match local {
            SocketAddr::V6(a) if a.scope_id() != 0 && a.ip().is_unicast_link_local() => {
                (Some(*a.ip()), Some(a.scope_id()))
            }
            _ => (None, None),
        };
        let _ = self
            .rib
            .send(RibEvent::PeerUp {
                peer: self.shared.id,
                negotiated: Box::new(neg),
                local_address,
                local_link_local,
                ifindex,
                out,
            })
            .await;
    }

    async fn on_close(&mut self, id: u64, reason: DownReason) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let conn = self.conns.remove(pos);
        let was_established = self.shared.session().negotiated.is_some()
            && conn.fsm.negotiated().is_some()
            && self.established_at.is_some()
            && self
                .conns
                .iter()
                .all(|c| c.fsm.state() != State::Established);
        info!(%reason, "connection closed");
        let _ = conn.writer.send(WriterCmd::Close);
        conn.reader_task.abort();
        // Let the writer flush a NOTIFICATION before the socket goes.
        let writer_task = conn.writer_task;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
        });
        self.shared.update_session(|s| {
            if !matches!(reason, DownReason::NotificationSent(_))
                && !matches!(reason, DownReason::NotificationReceived(_))
            {
                s.last_error = reason.to_string();
            }
        });
        if was_established && self.established_at.is_some() {
            let lasted = self.established_at.map(|t| t.elapsed()).unwrap_or_default();
            self.established_at = None;
            self.negotiated = None;
            self.shared.update_session(|s| s.negotiated = None);
            let _ = self
                .rib
                .send(RibEvent::PeerDown {
                    peer: self.shared.id,
                })
                .await;
            // A session that stayed up a while resets the back-off.
            if lasted > Duration::from_secs(30) {
                self.idle_hold = Duration::from_secs(1);
            }
        }
        if self.conns.is_empty() {
            self.next_connect_at = Instant::now() + self.idle_hold;
            self.idle_hold = (self.idle_hold * 2).min(MAX_IDLE_HOLD);
        }
    }

    async fn on_route_refresh(&mut self, rr: RouteRefresh) {
        // BoRR/EoRR (RFC 7313 subtypes 1, 2) from the peer only delimit its
        // own re-advertisement; only a plain request (0) asks us to resend.
        if rr.subtype != 0 {
            return;
        }
        if let Some(family) = Family::from_afi_safi(rr.afi, rr.safi) {
            let _ = self
                .rib
                .send(RibEvent::RouteRefresh {
                    peer: self.shared.id,
                    family,
                })
                .await;
        }
    }

    /// An UPDATE in Established: RFC 7606 outcome, eBGP checks, import
    /// policy, then one RIB event per next hop group.
    async fn on_update(&mut self, update: clos_wire::Update, issues: Vec<clos_wire::UpdateIssue>) {
        let Some(neg) = self.negotiated.clone() else {
            return;
        };
        for e in update_events(&self.shared, &neg, self.local.asn, update, issues) {
            if self.rib.send(e).await.is_err() {
                return;
            }
        }
    }
}

/// An UPDATE received in Established, as RIB events: RFC 7606 outcome,
/// eBGP checks (§5.1.5, §6.3), import policy, one event per next-hop group.
/// Used by the peer task and by the reader's fast path alike.
fn update_events(
    shared: &PeerShared,
    neg: &crate::fsm::Negotiated,
    local_asn: clos_wire::Asn,
    update: clos_wire::Update,
    issues: Vec<clos_wire::UpdateIssue>,
) -> Vec<RibEvent> {
    let counters = &shared.counters;
    if issues.is_empty() {
        if let Some(family) = update.end_of_rib() {
            return vec![RibEvent::EndOfRib {
                peer: shared.id,
                family,
            }];
        }
    }
    let mut treat_as_withdraw = false;
    for issue in &issues {
        // RFC 7606 §7.5, §7.9, §7.10: LOCAL_PREF, ORIGINATOR_ID and
        // CLUSTER_LIST from an external peer are discarded, whatever
        // their length; the codec does not know the peer is external.
        let external_only = !neg.internal
            && matches!(issue.type_code, 5 | 9 | 10)
            && issue.action == UpdateAction::TreatAsWithdraw;
        let action = if external_only {
            UpdateAction::AttributeDiscard
        } else {
            issue.action
        };
        match action {
            UpdateAction::TreatAsWithdraw => {
                treat_as_withdraw = true;
                PeerCounters::add(&counters.withdrawn_treated, 1);
                warn!(type_code = issue.type_code, reason = %issue.reason, "malformed UPDATE: treat-as-withdraw (RFC 7606)");
            }
            UpdateAction::AttributeDiscard => {
                PeerCounters::add(&counters.attributes_discarded, 1);
                warn!(type_code = issue.type_code, reason = %issue.reason, "malformed attribute discarded (RFC 7606)");
            }
        }
    }
    let mut attributes = update.attributes;
    let mp_reach = attributes.mp_reach.take();
    let mp_unreach = attributes.rare.get_mut().and_then(|r| r.mp_unreach.take());
    let mut withdrawn: Vec<IpNet> = update.withdrawn.iter().map(|p| IpNet::V4(*p)).collect();
    withdrawn.extend(mp_unreach.iter().flat_map(|u| u.withdrawn.iter().copied()));

    if !neg.internal {
        // §5.1.5: LOCAL_PREF from an external peer is ignored; RFC
        // 7606 §7.9/§7.10: ORIGINATOR_ID and CLUSTER_LIST from one are
        // discarded (they would otherwise leak into the iBGP mesh).
        attributes.local_pref = None;
        if let Some(rare) = attributes.rare.get_mut() {
            if rare.originator_id.take().is_some() {
                PeerCounters::add(&counters.attributes_discarded, 1);
            }
            if !rare.cluster_list.is_empty() {
                rare.cluster_list.clear();
                PeerCounters::add(&counters.attributes_discarded, 1);
            }
        }
        let first_ok =
            attributes.as_path.as_ref().and_then(|p| p.first_asn()) == Some(neg.remote_asn);
        let has_nlri =
            !update.nlri.is_empty() || mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
        if has_nlri && !first_ok {
            // RFC 4271 §6.3, RFC 7606 §7.2: the leftmost AS must be
            // the peer's.
            warn!(as_path = ?attributes.as_path, "first AS of AS_PATH is not the peer's: treat-as-withdraw");
            treat_as_withdraw = true;
            PeerCounters::add(&counters.withdrawn_treated, 1);
        }
    }
    let own_as_in_path = attributes
        .as_path
        .as_ref()
        .is_some_and(|p| p.contains(local_asn));

    // Taking MP_UNREACH or a discarded attribute may have left the box of
    // rare attributes empty: the stored set must not keep it.
    attributes.rare.compact();

    // Group announcements by next hop: classic NLRI and MP_REACH.
    let mut groups: Vec<(clos_wire::PathAttributes, Vec<IpNet>)> = Vec::new();
    let both = !update.nlri.is_empty() && mp_reach.is_some();
    if !update.nlri.is_empty() {
        let a = if both {
            attributes.clone()
        } else {
            std::mem::take(&mut attributes)
        };
        groups.push((a, update.nlri.iter().map(|p| IpNet::V4(*p)).collect()));
    }
    if let Some(mut reach) = mp_reach {
        let mut a = std::mem::take(&mut attributes);
        a.next_hop = None;
        let nlri = std::mem::take(&mut reach.nlri);
        a.mp_reach = Some(reach);
        if !nlri.is_empty() {
            groups.push((a, nlri));
        }
    }
    let import = &shared.config.import;
    let mut events = Vec::new();
    for (attrs, prefixes) in groups {
        let mut announced = Vec::with_capacity(prefixes.len());
        let mut filtered = 0u64;
        for p in prefixes {
            if !neg.families.contains(&Family::of(&p)) {
                continue; // a family not negotiated: ignore (RFC 4760 §7)
            }
            if treat_as_withdraw || own_as_in_path || !import.permits(&p) {
                // Not accepted: any earlier path for it is withdrawn.
                withdrawn.push(p);
                if !treat_as_withdraw {
                    filtered += 1;
                }
            } else {
                announced.push(p);
            }
        }
        events.push(RibEvent::Update {
            peer: shared.id,
            attributes: Arc::new(attrs),
            announced,
            withdrawn: Vec::new(),
            filtered,
        });
    }
    if !withdrawn.is_empty() {
        events.push(RibEvent::Update {
            peer: shared.id,
            attributes: Arc::new(clos_wire::PathAttributes::default()),
            announced: Vec::new(),
            withdrawn,
            filtered: 0,
        });
    }
    events
}

/// A stop with NOTIFICATION Cease / `subcode` (RFC 4486).
fn cease(subcode: u8) -> Input {
    Input::Stop(Notification {
        code: code::CEASE,
        subcode,
        data: vec![],
    })
}

/// Resolves when an unnumbered neighbor's discovered peer changes; never
/// for a numbered one (or once discovery has gone away).
async fn link_changed(
    link: &mut Option<watch::Receiver<Option<crate::peer::LinkPeer>>>,
) -> Option<()> {
    match link {
        Some(rx) => rx.changed().await.ok(),
        None => std::future::pending().await,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

/// An IPv4-mapped IPv6 address (dual-stack sockets) as plain IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// How a session socket is set up, from the neighbor's configuration.
struct SocketSetup {
    local: Option<IpAddr>,
    /// TTL / hop limit of what we send (255 with GTSM).
    ttl: u8,
    ttl_security: bool,
    md5: Option<TcpMd5Key>,
}

impl SocketSetup {
    fn of(config: &PeerConfig) -> SocketSetup {
        SocketSetup {
            local: config.local_address,
            ttl: SocketSetup::send_ttl(config),
            ttl_security: config.ttl_security,
            md5: config.tcp_md5_key.clone(),
        }
    }

    /// The TTL of what we send: 255 with GTSM whatever `ttl` says.
    fn send_ttl(config: &PeerConfig) -> u8 {
        if config.ttl_security {
            sockopt::GTSM_TTL
        } else {
            config.ttl
        }
    }
}

/// Our connection to the peer. GTSM and the MD5 key are in place before
/// the SYN leaves, so even the SYN-ACK is checked (RFC 5082 §3, RFC 2385).
async fn connect(remote: SocketAddr, setup: SocketSetup) -> std::io::Result<TcpStream> {
    let domain = match remote {
        SocketAddr::V4(_) => socket2::Domain::IPV4,
        SocketAddr::V6(_) => socket2::Domain::IPV6,
    };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    let peer = canonical_ip(remote.ip());
    sockopt::set_hop_limit(&sock, peer, setup.ttl)?;
    if setup.ttl_security {
        sockopt::set_min_hop_limit(&sock, peer, sockopt::GTSM_TTL)
            .map_err(|e| with_context(e, "cannot enable ttl-security (minimum TTL 255)"))?;
    }
    if let Some(key) = &setup.md5 {
        sockopt::set_tcp_md5_key(&sock, peer, key)
            .map_err(|e| with_context(e, "cannot set the TCP MD5 signature key"))?;
    }
    sock.set_nonblocking(true)?;
    let std_stream: std::net::TcpStream = sock.into();
    let socket = TcpSocket::from_std_stream(std_stream);
    if let Some(local) = setup.local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    socket.connect(remote).await
}

/// `error` with what we were doing in front of it, same kind.
fn with_context(error: std::io::Error, doing: &str) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{doing}: {error}"))
}

/// RIB events the reader's fast path sends as one batch at most.
const READER_BATCH: usize = 32;

/// Send the fast path's pending RIB events: one event alone, several as a
/// batch (one channel slot, one wake-up of the RIB task). False when the
/// RIB is gone.
async fn flush_to_rib(link: &ReaderLink, pending: &mut Vec<RibEvent>) -> bool {
    let Some(fp) = link.established.get() else {
        return true;
    };
    let event = match pending.len() {
        0 => return true,
        1 => pending.pop().expect("one event"),
        _ => RibEvent::Batch(std::mem::take(pending)),
    };
    fp.rib.send(event).await.is_ok()
}

/// Frame and decode messages; hand them to the peer task in order.
async fn read_loop(
    id: u64,
    mut read: OwnedReadHalf,
    events: mpsc::Sender<(u64, Input)>,
    offer_extended_next_hop: bool,
    link: Arc<ReaderLink>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // Messages handed to the peer task, and whether UPDATEs now bypass it.
    let mut forwarded: u64 = 0;
    let mut fast = false;
    // RIB events of the fast path not sent yet: they go as one batch when
    // the buffer is drained, the batch is full, or anything else is sent.
    let mut pending: Vec<RibEvent> = Vec::new();
    // Until the peer's OPEN arrives: 2-octet ASNs, 4096-byte messages. We
    // always offer 4-octet ASNs and extended messages, so what the peer's
    // OPEN offers is what the session uses.
    let mut codec = SessionCodec::default();
    loop {
        loop {
            match frame(&buf, &codec) {
                Ok(Some(n)) => {
                    let bytes = buf.split_to(n);
                    match decode_message(&bytes, &codec) {
                        Ok(decoded) => {
                            if let Message::Open(open) = &decoded.message {
                                codec = SessionCodec {
                                    four_octet_as: open
                                        .capabilities
                                        .iter()
                                        .any(|c| matches!(c, Capability::FourOctetAs(_))),
                                    extended_message: open
                                        .capabilities
                                        .contains(&Capability::ExtendedMessage),
                                    extended_next_hop_ipv4: offer_extended_next_hop
                                        && open.capabilities.iter().any(|c| {
                                            matches!(c, Capability::ExtendedNextHop(entries)
                                                if entries.iter().any(|e| e.nlri_afi == clos_wire::AFI_IPV4
                                                    && e.next_hop_afi == clos_wire::AFI_IPV6))
                                        }),
                                };
                            }
                            link.last_rx_ms.store(now_ms(), Ordering::Relaxed);
                            if matches!(decoded.message, Message::Update(_)) {
                                if !fast && link.established.get().is_some() {
                                    fast = link.processed.load(Ordering::Acquire) == forwarded;
                                }
                                if let (true, Some(fp)) = (fast, link.established.get()) {
                                    let Decoded { message, issues } = decoded;
                                    let Message::Update(update) = message else {
                                        continue;
                                    };
                                    let c = &fp.shared.counters;
                                    PeerCounters::add(&c.messages_received, 1);
                                    PeerCounters::add(&c.updates_received, 1);
                                    pending.extend(update_events(
                                        &fp.shared,
                                        &fp.negotiated,
                                        fp.local_asn,
                                        update,
                                        issues,
                                    ));
                                    if pending.len() >= READER_BATCH
                                        && !flush_to_rib(&link, &mut pending).await
                                    {
                                        return;
                                    }
                                    continue;
                                }
                            }
                            if !flush_to_rib(&link, &mut pending).await {
                                return;
                            }
                            forwarded += 1;
                            if events.send((id, Input::Message(decoded))).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            flush_to_rib(&link, &mut pending).await;
                            let _ = events.send((id, Input::DecodeError(e))).await;
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    flush_to_rib(&link, &mut pending).await;
                    let _ = events.send((id, Input::DecodeError(e))).await;
                    return;
                }
            }
        }
        if !flush_to_rib(&link, &mut pending).await {
            return;
        }
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = events.send((id, Input::TcpConnectionFails)).await;
                return;
            }
            Ok(_) => {}
        }
    }
}

/// Write messages, keepalives and the Adj-RIB-Out of one connection.
async fn write_loop(
    mut write: OwnedWriteHalf,
    mut commands: mpsc::UnboundedReceiver<WriterCmd>,
    shared: Arc<PeerShared>,
) {
    let counters = &shared.counters;
    let mut codec = SessionCodec::default();
    let mut keepalive: Option<Duration> = None;
    let mut out: Option<Arc<AdjRibOutQueue>> = None;
    let mut last_sent = Instant::now();
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK * 2);
    loop {
        let keepalive_due = keepalive.map(|k| last_sent + k);
        let queue = out.clone();
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(WriterCmd::Send(message)) => {
                    buf.clear();
                    if let Err(e) = encode_message(&message, &codec, &mut buf) {
                        warn!(error = %e, "cannot encode message");
                        continue;
                    }
                    PeerCounters::add(&counters.messages_sent, 1);
                    match &message {
                        Message::Keepalive => PeerCounters::add(&counters.keepalives_sent, 1),
                        Message::RouteRefresh(_) => PeerCounters::add(&counters.route_refresh_sent, 1),
                        Message::Update(_) => PeerCounters::add(&counters.updates_sent, 1),
                        _ => {}
                    }
                    if write.write_all(&buf).await.is_err() {
                        return;
                    }
                    last_sent = Instant::now();
                }
                Some(WriterCmd::Start { codec: c, keepalive: k, out: o }) => {
                    codec = c;
                    keepalive = k;
                    out = Some(o);
                    last_sent = Instant::now();
                }
                Some(WriterCmd::Close) | None => {
                    let _ = write.shutdown().await;
                    return;
                }
            },
            _ = sleep_until(keepalive_due.unwrap_or_else(far_future)), if keepalive_due.is_some() => {
                if let Some(due) = keepalive_due {
                    let late = Instant::now().saturating_duration_since(due).as_micros() as u64;
                    counters.max_keepalive_delay_us.fetch_max(late, Ordering::Relaxed);
                }
                if send_keepalive(&mut write, &codec, counters).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
            _ = async { match &queue { Some(q) => q.woken().await, None => std::future::pending().await } } => {
                let Some(q) = queue else { continue };
                let pending = q.take();
                if drain(&mut write, &mut buf, pending, &codec, &mut last_sent, counters).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send_keepalive(
    write: &mut OwnedWriteHalf,
    codec: &SessionCodec,
    counters: &PeerCounters,
) -> std::io::Result<()> {
    let mut ka = Vec::with_capacity(19);
    if encode_message(&Message::Keepalive, codec, &mut ka).is_ok() {
        write.write_all(&ka).await?;
        PeerCounters::add(&counters.messages_sent, 1);
        PeerCounters::add(&counters.keepalives_sent, 1);
    }
    Ok(())
}

/// Encode a pending set as packed UPDATEs and write it in chunks.
async fn drain(
    write: &mut OwnedWriteHalf,
    buf: &mut Vec<u8>,
    pending: crate::adj_out::Pending,
    codec: &SessionCodec,
    last_sent: &mut Instant,
    counters: &PeerCounters,
) -> std::io::Result<()> {
    buf.clear();
    let mut messages = 0usize;
    for family in &pending.refresh {
        let (afi, safi) = family.afi_safi();
        let borr = Message::RouteRefresh(RouteRefresh {
            afi,
            subtype: 1,
            safi,
        });
        if encode_message(&borr, codec, buf).is_ok() {
            PeerCounters::add(&counters.messages_sent, 1);
        }
    }
    let batch = Batch::from_routes(pending.routes);
    let flush = |buf: &mut Vec<u8>| buf.len() >= WRITE_CHUNK;
    for (_, prefixes) in &batch.withdrawn {
        match encode_withdrawals(prefixes, codec, buf) {
            Ok(n) => messages += n,
            Err(e) => warn!(error = %e, "cannot encode withdrawals"),
        }
        if flush(buf) {
            write_chunk(write, buf, last_sent).await?;
        }
    }
    for (attrs, prefixes) in &batch.announced {
        match encode_announcements(attrs, prefixes, codec, buf) {
            Ok(n) => messages += n,
            Err(e) => warn!(error = %e, "cannot encode announcements"),
        }
        if flush(buf) {
            write_chunk(write, buf, last_sent).await?;
        }
    }
    for family in &pending.refresh {
        let (afi, safi) = family.afi_safi();
        let eorr = Message::RouteRefresh(RouteRefresh {
            afi,
            subtype: 2,
            safi,
        });
        if encode_message(&eorr, codec, buf).is_ok() {
            PeerCounters::add(&counters.messages_sent, 1);
        }
    }
    for family in &pending.end_of_rib {
        if encode_end_of_rib(*family, codec, buf).is_ok() {
            messages += 1;
        }
    }
    PeerCounters::add(&counters.messages_sent, messages as u64);
    PeerCounters::add(&counters.updates_sent, messages as u64);
    if !buf.is_empty() {
        write_chunk(write, buf, last_sent).await?;
    }
    Ok(())
}

async fn write_chunk(
    write: &mut OwnedWriteHalf,
    buf: &mut Vec<u8>,
    last_sent: &mut Instant,
) -> std::io::Result<()> {
    // UPDATEs restart the peer's view of our liveness just as KEEPALIVEs do
    // (RFC 4271 §4.4), so no keepalive is needed between chunks.
    write.write_all(buf).await?;
    buf.clear();
    *last_sent = Instant::now();
    Ok(())
}
