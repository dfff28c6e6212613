//! Shared pieces of the scripted-peer tests: a BGP speaker played by the
//! test over real TCP (`Scripted`), a speaker under test on loopback, and
//! builders that write messages byte by byte from the RFC 4271 §4 layouts,
//! so a test can say exactly which octet is wrong.
// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub mod bytes;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clos_bgp::decision::DecisionOptions;
use clos_bgp::fsm::RemoteAsRule;
use clos_bgp::peer::{PeerConfig, PeerId};
use clos_bgp::policy::Policy;
use clos_bgp::rib::{RouteFilter, RouteView};
use clos_bgp::speaker::{Speaker, SpeakerConfig};
use clos_wire::{
    decode_message, encode_message, frame, Capability, Family, IpNet, Message, Notification, Open,
    SessionCodec, Update,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// The AS of the speaker under test.
pub const LOCAL_AS: u32 = 65000;
/// How long anything may take on a slow, shared CI machine.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn p(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub fn peer_config(address: Ipv4Addr, port: u16, remote_as: u32) -> PeerConfig {
    PeerConfig {
        address: IpAddr::V4(address),
        port,
        local_address: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
        remote_as: RemoteAsRule::Exact(remote_as),
        passive: false,
        families: vec![Family::Ipv4Unicast],
        import: Policy::Accept,
        export: Policy::Accept,
        hold_time: 90,
        connect_retry: Duration::from_secs(1),
        max_prefix: None,
        description: String::new(),
        next_hop_self: false,
        ttl: 64,
        ttl_security: false,
        tcp_md5_key: None,
        interface: None,
    }
}

pub async fn speaker(peers: Vec<PeerConfig>, originate: Vec<IpNet>) -> Arc<Speaker> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Arc::new(
        Speaker::start(SpeakerConfig {
            asn: LOCAL_AS,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![],
            originate,
            multipath: 1,
            decision: DecisionOptions::default(),
            peers,
            fib: None,
        })
        .await
        .unwrap(),
    )
}

/// A listener on `ip` and an ephemeral port, for the speaker to dial.
pub async fn listener(ip: [u8; 4]) -> (TcpListener, u16) {
    let l = TcpListener::bind(SocketAddr::from((ip, 0))).await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// The OPEN a well-behaved IPv4-unicast peer sends.
pub fn open(asn: u32, hold: u16) -> Open {
    Open {
        version: 4,
        my_as: u16::try_from(asn).unwrap_or(clos_wire::AS_TRANS),
        hold_time: hold,
        bgp_identifier: Ipv4Addr::new(10, 0, 0, 2),
        capabilities: vec![
            Capability::Multiprotocol { afi: 1, safi: 1 },
            Capability::RouteRefresh,
            Capability::FourOctetAs(asn),
        ],
    }
}

/// A BGP speaker played by the test.
pub struct Scripted {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pub codec: SessionCodec,
}

impl Scripted {
    /// A peer on a connection the test made itself.
    pub fn new(stream: TcpStream) -> Scripted {
        Scripted {
            stream,
            buf: Vec::new(),
            codec: SessionCodec::default(),
        }
    }

    pub async fn accept(listener: &TcpListener) -> Scripted {
        let (stream, _) = timeout(WAIT, listener.accept())
            .await
            .expect("the speaker never connected")
            .unwrap();
        Scripted {
            stream,
            buf: Vec::new(),
            codec: SessionCodec::default(),
        }
    }

    pub async fn send(&mut self, m: &Message) {
        let mut out = Vec::new();
        encode_message(m, &self.codec, &mut out).unwrap();
        self.send_raw(&out).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("timed out writing to the speaker")
            .unwrap();
    }

    /// The bytes of the next whole message, or None when the connection
    /// closed. Panics after `WAIT` without one.
    pub async fn recv_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(n) = frame(&self.buf, &self.codec).unwrap() {
                return Some(self.buf.drain(..n).collect());
            }
            // Straight into the heap buffer: a large array in this future
            // would be copied into every future that awaits it.
            self.buf.reserve(65536);
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("timed out waiting for a message")
                .ok()?;
            if n == 0 {
                return None;
            }
        }
    }

    /// The next message, or None when the connection closed.
    pub async fn recv(&mut self) -> Option<Message> {
        let bytes = self.recv_frame().await?;
        Some(decode_message(&bytes, &self.codec).unwrap().message)
    }

    /// The next message that is not a KEEPALIVE.
    pub async fn recv_significant(&mut self) -> Option<Message> {
        loop {
            match self.recv().await? {
                Message::Keepalive => continue,
                m => return Some(m),
            }
        }
    }

    /// Read the speaker's OPEN (the first message on the connection).
    pub async fn expect_open(&mut self) -> Open {
        match self.recv().await {
            Some(Message::Open(o)) => o,
            other => panic!("expected the speaker's OPEN, got {other:?}"),
        }
    }

    /// Read the speaker's OPEN, answer with `ours`, and finish the
    /// handshake.
    pub async fn establish(&mut self, ours: Open) -> Open {
        let theirs = self.expect_open().await;
        self.send(&Message::Open(ours)).await;
        self.send(&Message::Keepalive).await;
        assert_eq!(self.recv().await, Some(Message::Keepalive));
        self.codec = SessionCodec {
            four_octet_as: true,
            extended_message: false,
            extended_next_hop_ipv4: false,
        };
        theirs
    }

    /// Collect announcements until End-of-RIB for IPv4.
    pub async fn until_end_of_rib(&mut self) -> Vec<Update> {
        let mut updates = Vec::new();
        loop {
            match self.recv_significant().await {
                Some(Message::Update(u)) if u.end_of_rib() == Some(Family::Ipv4Unicast) => {
                    return updates
                }
                Some(Message::Update(u)) => updates.push(u),
                other => panic!("expected UPDATE, got {other:?}"),
            }
        }
    }

    /// The first UPDATE that announces `prefix`, with its bytes; UPDATEs
    /// about other prefixes are skipped.
    pub async fn expect_announced(&mut self, prefix: &str) -> (Update, Vec<u8>) {
        let want = p(prefix);
        loop {
            let Some(bytes) = self.recv_frame().await else {
                panic!("closed while waiting for the announcement of {prefix}");
            };
            match decode_message(&bytes, &self.codec).unwrap().message {
                Message::Update(u) if u.announced().any(|a| a == want) => return (u, bytes),
                Message::Notification(n) => {
                    panic!("NOTIFICATION {n:?} while waiting for the announcement of {prefix}")
                }
                _ => continue,
            }
        }
    }

    /// Wait for an UPDATE that withdraws `prefix`.
    pub async fn expect_withdrawn(&mut self, prefix: &str) {
        let want = p(prefix);
        loop {
            match self.recv_significant().await {
                Some(Message::Update(u)) if u.withdrawn_all().any(|w| w == want) => return,
                Some(Message::Update(_)) => continue,
                other => panic!("expected the withdrawal of {prefix}, got {other:?}"),
            }
        }
    }

    /// Wait for the NOTIFICATION, skipping anything sent before it.
    pub async fn expect_notification(&mut self) -> Notification {
        loop {
            match self.recv().await {
                Some(Message::Notification(n)) => return n,
                Some(_) => continue,
                None => panic!("the connection closed without a NOTIFICATION"),
            }
        }
    }

    /// Wait until the speaker closes the connection.
    pub async fn expect_closed(&mut self) {
        while let Some(m) = self.recv().await {
            if let Message::Update(u) = m {
                panic!("UPDATE after the session ended: {u:?}");
            }
        }
    }
}

/// Poll the Loc-RIB until `cond` holds; panic after `WAIT`.
pub async fn wait_routes(
    speaker: &Speaker,
    what: &str,
    cond: impl Fn(&[RouteView]) -> bool,
) -> Vec<RouteView> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let routes = speaker.routes(RouteFilter::default()).await.unwrap();
        if cond(&routes) {
            return routes;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}: {routes:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `cond` until it holds; panic after `WAIT`.
pub async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The path for `prefix` learned from `peer`, if the Loc-RIB has one.
pub fn route_from<'a>(
    routes: &'a [RouteView],
    prefix: &str,
    peer: PeerId,
) -> Option<&'a RouteView> {
    let want = p(prefix);
    routes.iter().find(|r| r.prefix == want && r.peer == peer)
}

pub fn has(routes: &[RouteView], prefix: &str) -> bool {
    let want = p(prefix);
    routes.iter().any(|r| r.prefix == want)
}
