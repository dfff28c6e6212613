//! The BGP speaker: spawns the listener, one task per neighbor and the RIB
//! task, and answers the API's questions.
//!
//! ```text
//!   listener(s) ──TcpStream──▶ peer task ×N ──RibEvent──▶ RIB task
//!                                  ▲   │                     │
//!                                  │   └─ writer/reader      │ AdjRibOutQueue
//!                                  └──── PeerCommand ◀───────┘ (per peer)
//!   Speaker (API) ── reads PeerShared directly; asks the RIB via RibEvent
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use clos_wire::{Asn, IpNet};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::decision::DecisionOptions;
use crate::fib::FibSink;
use crate::fsm::{LocalParams, RemoteAsRule};
use crate::peer::{PeerConfig, PeerId, PeerShared};
use crate::rib::{Rib, RibConfig, RibEvent, RibPeerHandle, RouteFilter, RouteView, RIB_CHANNEL};
use crate::session::{canonical_ip, PeerHandle, PeerTask};
use crate::sockopt;
use crate::Error;

/// Router-wide settings.
#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    pub asn: Asn,
    pub router_id: Ipv4Addr,
    pub listen: Vec<SocketAddr>,
    pub originate: Vec<IpNet>,
    pub multipath: usize,
    pub decision: DecisionOptions,
    pub peers: Vec<PeerConfig>,
    /// Where forwarding changes go (the kernel FIB), if anywhere.
    pub fib: Option<FibHandle>,
}

/// A [`FibSink`] in a config: cloneable, printable.
#[derive(Clone)]
pub struct FibHandle(pub Arc<dyn FibSink>);

impl std::fmt::Debug for FibHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FibHandle")
    }
}

/// A running speaker.
pub struct Speaker {
    pub asn: Asn,
    pub router_id: Ipv4Addr,
    peers: Vec<Arc<PeerShared>>,
    rib: mpsc::Sender<RibEvent>,
    commands: Vec<(PeerId, mpsc::Sender<crate::rib::PeerCommand>)>,
    shutdown: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Speaker {
    /// Bind the listeners and start every task. Fails (starting nothing)
    /// when a listen address cannot be bound.
    pub async fn start(config: SpeakerConfig) -> Result<Speaker, Error> {
        let listeners = bind_all(&config.listen)?;
        Speaker::start_with(config, listeners).await
    }

    /// Start with listeners bound beforehand (`bind_all`), so a daemon can
    /// bind port 179 and drop its privileges before any thread exists.
    pub async fn start_with(
        config: SpeakerConfig,
        bound: Vec<std::net::TcpListener>,
    ) -> Result<Speaker, Error> {
        let mut listeners = Vec::new();
        for listener in bound {
            let address = listener
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            secure_listener(&listener, address, &config.peers)?;
            listeners.push(
                TcpListener::from_std(listener)
                    .map_err(|e| Error::Listen { address, source: e })?,
            );
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (rib_tx, rib_rx) = mpsc::channel(RIB_CHANNEL);
        let mut tasks = Vec::new();
        let mut handles: Vec<PeerHandle> = Vec::new();
        let mut rib_peers = Vec::new();
        let mut commands = Vec::new();
        for (i, pc) in config.peers.into_iter().enumerate() {
            let id = (i + 1) as PeerId;
            let shared = Arc::new(PeerShared::new(id, pc.clone()));
            let (cmd_tx, cmd_rx) = mpsc::channel(4);
            let local = LocalParams {
                asn: config.asn,
                router_id: config.router_id,
                hold_time: pc.hold_time,
                remote_as: pc.remote_as,
                families: pc.families.clone(),
                // RFC 8950 IPv4 routes over the IPv6 link-local session.
                extended_next_hop: pc.interface.is_some(),
            };
            let (task, handle) = PeerTask::new(
                shared.clone(),
                local,
                rib_tx.clone(),
                cmd_rx,
                shutdown_rx.clone(),
            );
            tasks.push(tokio::spawn(task.run()));
            handles.push(handle);
            commands.push((id, cmd_tx.clone()));
            rib_peers.push(RibPeerHandle {
                shared,
                command: cmd_tx,
            });
        }
        let rib = Rib::new(
            RibConfig {
                asn: config.asn,
                router_id: config.router_id,
                originate: config.originate,
                multipath: config.multipath.max(1),
                decision: config.decision,
            },
            rib_peers,
        );
        let rib = match config.fib {
            Some(FibHandle(sink)) => {
                let hold = sink.initial_hold();
                let rib = rib.with_fib(sink);
                if rib.fib_held() {
                    let rib_tx = rib_tx.clone();
                    tasks.push(tokio::spawn(async move {
                        tokio::time::sleep(hold).await;
                        let _ = rib_tx.send(RibEvent::FibHoldExpired).await;
                    }));
                }
                rib
            }
            None => rib,
        };
        tasks.push(tokio::spawn(rib.run(rib_rx)));
        let peers: Vec<Arc<PeerShared>> = handles.iter().map(|h| h.shared.clone()).collect();
        let handles = Arc::new(handles);
        for listener in listeners {
            let handles = handles.clone();
            let mut stop = shutdown_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, remote)) => dispatch(&handles, stream, remote).await,
                            Err(e) => {
                                warn!(error = %e, "accept failed");
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
            }));
        }
        info!(asn = config.asn, router_id = %config.router_id, peers = peers.len(), "BGP speaker started");
        Ok(Speaker {
            asn: config.asn,
            router_id: config.router_id,
            peers,
            rib: rib_tx,
            commands,
            shutdown,
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    pub fn peers(&self) -> &[Arc<PeerShared>] {
        &self.peers
    }

    /// The peer configured with this address.
    pub fn peer(&self, address: IpAddr) -> Option<&Arc<PeerShared>> {
        self.peers
            .iter()
            .find(|p| p.config.interface.is_none() && p.config.address == address)
    }

    /// The peer an operator names: an address, or an unnumbered neighbor's
    /// interface.
    pub fn peer_named(&self, name: &str) -> Option<&Arc<PeerShared>> {
        match name.parse::<IpAddr>() {
            Ok(address) => self.peer(address),
            Err(_) => self
                .peers
                .iter()
                .find(|p| p.config.interface.as_ref().is_some_and(|i| i.name == name)),
        }
    }

    /// Close the session with `peer` because its interface lost its link.
    pub async fn link_down(&self, peer: PeerId) -> Result<(), Error> {
        self.command(peer, crate::rib::PeerCommand::LinkDown).await
    }

    /// Tear the session with `peer` down because BFD saw it fail.
    pub async fn bfd_down(&self, peer: PeerId) -> Result<(), Error> {
        self.command(peer, crate::rib::PeerCommand::BfdDown).await
    }

    /// Hands `command` to `peer`'s session; an unknown peer is a no-op.
    async fn command(&self, peer: PeerId, command: crate::rib::PeerCommand) -> Result<(), Error> {
        let Some((_, tx)) = self.commands.iter().find(|(id, _)| *id == peer) else {
            return Ok(());
        };
        tx.send(command).await.map_err(|_| Error::Stopped)
    }

    /// Peer id → shared state, for rendering routes.
    pub fn peer_by_id(&self, id: PeerId) -> Option<&Arc<PeerShared>> {
        self.peers.iter().find(|p| p.id == id)
    }

    pub async fn routes(&self, filter: RouteFilter) -> Result<Vec<RouteView>, Error> {
        let (reply, rx) = oneshot::channel();
        self.rib
            .send(RibEvent::Routes { filter, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Loc-RIB (prefixes, paths).
    pub async fn counts(&self) -> Result<(u64, u64), Error> {
        let (reply, rx) = oneshot::channel();
        self.rib
            .send(RibEvent::Counts { reply })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Ask the neighbor `peer` to resend its routes (ROUTE-REFRESH for each
    /// negotiated family); the families asked for, or why not.
    pub async fn request_refresh(
        &self,
        peer: PeerId,
    ) -> Result<Result<Vec<clos_wire::Family>, String>, Error> {
        let Some((_, tx)) = self.commands.iter().find(|(id, _)| *id == peer) else {
            return Ok(Err(format!("no peer {peer}")));
        };
        let (reply, rx) = oneshot::channel();
        tx.send(crate::rib::PeerCommand::RequestRefresh(reply))
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Start (`add`) or stop originating `prefix`; true when it changed.
    pub async fn originate(&self, prefix: IpNet, add: bool) -> Result<bool, Error> {
        let (reply, rx) = oneshot::channel();
        self.rib
            .send(RibEvent::Originate { prefix, add, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Send Cease to every peer and stop all tasks.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        // Peer tasks send their NOTIFICATIONs on the way out; the RIB and
        // listener tasks are stopped once they have.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        let (peers, others): (Vec<_>, Vec<_>) = tasks
            .into_iter()
            .enumerate()
            .partition(|(i, _)| *i < self.peers.len());
        for (_, t) in peers {
            let _ = tokio::time::timeout_at(deadline, t).await;
        }
        for (_, t) in others {
            t.abort();
        }
    }
}

async fn dispatch(handles: &[PeerHandle], stream: tokio::net::TcpStream, remote: SocketAddr) {
    let ip = canonical_ip(remote.ip());
    // A link-local peer is the unnumbered neighbor of the interface it
    // came in on (point-to-point links: whoever is on it is the peer).
    let on_link = |h: &&PeerHandle| match (&h.shared.config.interface, remote) {
        (Some(i), SocketAddr::V6(r)) if r.scope_id() != 0 => {
            i.peer.borrow().is_some_and(|p| p.ifindex == r.scope_id())
        }
        _ => false,
    };
    let found = handles
        .iter()
        .find(|h| h.shared.config.interface.is_none() && h.shared.config.address == ip)
        .or_else(|| handles.iter().find(on_link));
    match found {
        Some(h) => {
            if h.shared.config.ttl_security {
                if let Err(reason) = accept_gtsm(&stream, ip) {
                    warn!(%remote, %reason, "incoming connection refused");
                    h.shared.update_session(|s| {
                        s.last_error =
                            format!("incoming connection from {remote} refused: {reason}")
                    });
                    return;
                }
            }
            debug!(%remote, "incoming connection");
            let _ = h.incoming.send(stream).await;
        }
        None => {
            info!(%remote, "connection from an unconfigured address refused");
        }
    }
}

/// GTSM for an accepted connection (RFC 5082 §3), before a byte of it is
/// read: its SYN must have arrived with TTL 255 (the listener saved it, see
/// [`secure_listener`]), and from now on the kernel drops anything from the
/// peer that arrives with less. The reason when it is refused.
fn accept_gtsm(stream: &tokio::net::TcpStream, peer: IpAddr) -> Result<(), String> {
    match sockopt::syn_hop_limit(stream) {
        Ok(Some(sockopt::GTSM_TTL)) => {}
        Ok(Some(ttl)) => {
            return Err(format!(
                "ttl-security: its SYN arrived with TTL {ttl}, not 255 (the peer is not \
                 directly connected, or does not send with TTL 255)"
            ))
        }
        Ok(None) => {
            // Fail closed: SYN cookies (a full accept queue) keep no SYN.
            return Err(
                "ttl-security: the kernel kept no copy of its SYN (SYN cookies?), \
                 so its TTL cannot be checked"
                    .to_string(),
            );
        }
        Err(e) => return Err(format!("ttl-security: cannot read the TTL of its SYN: {e}")),
    }
    sockopt::enable_gtsm(stream, peer)
        .map_err(|e| format!("ttl-security: cannot set the minimum TTL: {e}"))
}

/// What must be on a listener before a neighbor connects, since the kernel
/// checks it during the handshake: each numbered neighbor's TCP MD5 key
/// (RFC 2385; a SYN from a keyed address without the right signature is
/// dropped, other addresses connect unsigned), and when any neighbor uses
/// GTSM, SYN-ACKs sent with TTL 255 and saved SYNs.
fn secure_listener(
    listener: &std::net::TcpListener,
    address: SocketAddr,
    peers: &[PeerConfig],
) -> Result<(), Error> {
    let failed = |what: &'static str, peer: &PeerConfig| {
        let peer = peer.name();
        move |source| Error::ListenerOption {
            what,
            peer,
            address,
            source,
        }
    };
    if let Some(peer) = peers.iter().find(|p| p.ttl_security) {
        sockopt::prepare_gtsm_listener(listener)
            .map_err(failed("ttl-security (TTL 255, saved SYNs)", peer))?;
    }
    // An IPv4 neighbor reaches `[::]` too, under its IPv4-mapped address.
    let dual_stack =
        address.is_ipv6() && !socket2::SockRef::from(listener).only_v6().unwrap_or(true);
    for peer in peers.iter().filter(|p| p.interface.is_none()) {
        let Some(key) = &peer.tcp_md5_key else {
            continue;
        };
        let reaches_us = match (address, peer.address) {
            (SocketAddr::V4(_), IpAddr::V4(_)) | (SocketAddr::V6(_), IpAddr::V6(_)) => true,
            (SocketAddr::V6(_), IpAddr::V4(_)) => dual_stack,
            (SocketAddr::V4(_), IpAddr::V6(_)) => false,
        };
        if reaches_us {
            sockopt::set_tcp_md5_key(listener, peer.address, key)
                .map_err(failed("the TCP MD5 key", peer))?;
        }
    }
    Ok(())
}

/// Bind every listen address (no runtime needed). Fails on the first
/// address that cannot be bound, naming it.
pub fn bind_all(addresses: &[SocketAddr]) -> Result<Vec<std::net::TcpListener>, Error> {
    addresses
        .iter()
        .map(|a| {
            bind(*a).map_err(|e| Error::Listen {
                address: *a,
                source: e,
            })
        })
        .collect()
}

fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let domain = match addr {
        SocketAddr::V4(_) => socket2::Domain::IPV4,
        SocketAddr::V6(_) => socket2::Domain::IPV6,
    };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // `[::]:179` takes IPv4 too (mapped addresses), like BIRD and FRR.
        let unspecified = addr.ip().is_unspecified();
        sock.set_only_v6(!unspecified)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(128)?;
    Ok(sock.into())
}

/// The remote-AS rule's eBGP/iBGP nature for TTL defaults.
pub fn is_internal(rule: RemoteAsRule, asn: Asn) -> bool {
    match rule {
        RemoteAsRule::Exact(a) => a == asn,
        RemoteAsRule::Internal => true,
        RemoteAsRule::External => false,
    }
}

#[cfg(test)]
mod tests {
    //! The listener side of GTSM and TCP MD5 through a running speaker, on
    //! loopback (no privileges): loopback keeps the TTL a client sends
    //! with, so TTL 64 stands for a peer further away than one hop.

    use std::net::Ipv4Addr;
    use std::time::Duration;

    use socket2::{Domain, Protocol, Socket, Type};
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::policy::Policy;
    use crate::sockopt::TcpMd5Key;

    const WAIT: Duration = Duration::from_secs(10);

    fn peer(ttl_security: bool, tcp_md5_key: Option<TcpMd5Key>) -> PeerConfig {
        PeerConfig {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 179,
            local_address: None,
            remote_as: RemoteAsRule::Exact(65001),
            passive: true,
            families: vec![clos_wire::Family::Ipv4Unicast],
            import: Policy::Accept,
            export: Policy::Accept,
            hold_time: 90,
            connect_retry: std::time::Duration::from_secs(1),
            max_prefix: None,
            description: String::new(),
            next_hop_self: false,
            ttl: 1,
            ttl_security,
            tcp_md5_key,
            interface: None,
        }
    }

    /// A speaker listening on loopback (`[::]` when `dual_stack`) for one
    /// passive neighbor at 127.0.0.1; the address to connect to.
    async fn speaker(peer: PeerConfig, dual_stack: bool) -> (Speaker, SocketAddr) {
        let any = if dual_stack { "[::]:0" } else { "127.0.0.1:0" };
        let listener = bind(any.parse().unwrap()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let speaker = Speaker::start_with(
            SpeakerConfig {
                asn: 65000,
                router_id: Ipv4Addr::new(10, 0, 0, 1),
                listen: vec![],
                originate: vec![],
                multipath: 1,
                decision: DecisionOptions::default(),
                peers: vec![peer],
                fib: None,
            },
            vec![listener],
        )
        .await
        .unwrap();
        (speaker, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    async fn client(
        to: SocketAddr,
        ttl: u8,
        key: Option<&TcpMd5Key>,
    ) -> std::io::Result<tokio::net::TcpStream> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        sockopt::set_hop_limit(&socket, to.ip(), ttl)?;
        if let Some(key) = key {
            sockopt::set_tcp_md5_key(&socket, to.ip(), key)?;
        }
        socket.set_nonblocking(true)?;
        let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
        match tokio::time::timeout(Duration::from_secs(1), socket.connect(to)).await {
            Ok(result) => result,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// The speaker's first message on `stream` is its OPEN; a refused
    /// connection is closed instead.
    async fn receives_open(stream: &mut tokio::net::TcpStream) -> bool {
        let mut header = [0u8; 19];
        match tokio::time::timeout(WAIT, stream.read_exact(&mut header)).await {
            Ok(Ok(_)) => header[..16] == [0xff; 16] && header[18] == 1,
            Ok(Err(_)) => false,
            Err(_) => panic!("neither an OPEN nor a close within {WAIT:?}"),
        }
    }

    #[tokio::test]
    async fn gtsm_refuses_connections_whose_syn_arrived_below_ttl_255() {
        for dual_stack in [false, true] {
            let (speaker, to) = speaker(peer(true, None), dual_stack).await;
            let mut far = client(to, 64, None).await.unwrap();
            assert!(!receives_open(&mut far).await, "dual stack {dual_stack}");
            let error = speaker.peers()[0].session().last_error;
            assert!(
                error.contains("refused: ttl-security: its SYN arrived with TTL 64, not 255"),
                "{error}"
            );
            let mut near = client(to, 255, None).await.unwrap();
            assert!(receives_open(&mut near).await, "dual stack {dual_stack}");
            speaker.shutdown().await;
        }
    }

    #[tokio::test]
    async fn without_gtsm_any_ttl_is_accepted() {
        let (speaker, to) = speaker(peer(false, None), false).await;
        let mut far = client(to, 64, None).await.unwrap();
        assert!(receives_open(&mut far).await);
        speaker.shutdown().await;
    }

    #[tokio::test]
    async fn listeners_carry_each_neighbors_md5_key() {
        let secret = TcpMd5Key::new(b"secret").unwrap();
        let other = TcpMd5Key::new(b"other").unwrap();
        for dual_stack in [false, true] {
            let (speaker, to) = speaker(peer(false, Some(secret.clone())), dual_stack).await;
            for key in [None, Some(&other)] {
                let error = client(to, 64, key).await.unwrap_err();
                assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
            }
            let mut signed = client(to, 64, Some(&secret)).await.unwrap();
            assert!(receives_open(&mut signed).await, "dual stack {dual_stack}");
            speaker.shutdown().await;
        }
    }
}
