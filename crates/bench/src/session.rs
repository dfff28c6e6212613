//! A minimal BGP speaker for feeders and monitors: TCP, OPEN/KEEPALIVE
//! handshake (RFC 4271 §8), keepalives, framing, and the keepalive log
//! that tells whether the DUT kept its own keepalives on time.
//!
//! Owns: one TCP session from connect (or accept) to close. Owns no route
//! state: UPDATE messages go to a callback.
//!
//! Threads: a session has one reader thread (`Receiver::poll` in a loop),
//! which also sends our KEEPALIVEs, and for feeders one writer thread that
//! writes the pre-encoded stream in ~1 MiB chunks. Both write through one
//! mutex so KEEPALIVEs land between whole messages; the reader only
//! `try_lock`s it (while the writer holds it, UPDATEs are flowing and keep
//! the DUT's hold timer running anyway, RFC 4271 §4.4).

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clos_wire::{
    decode_message, encode_message, Capability, Message, Open, HEADER_LEN, MAX_MESSAGE_LEN,
};
use socket2::{Domain, Socket, Type};

use crate::stream::codec;
use crate::util::Family;

/// How long a blocked read waits before the reader checks its timers and
/// the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Receive buffer: big reads amortise the syscall.
const READ_BUF: usize = 4 << 20;
/// Socket buffer sizes asked of the kernel.
const SOCK_BUF: usize = 4 << 20;

/// Who we are on a session.
#[derive(Debug, Clone)]
pub struct Speaker {
    pub name: String,
    pub local: IpAddr,
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub family: Family,
    pub hold: u16,
}

/// What a session saw, for the report.
#[derive(Debug, Clone)]
pub struct SessionStats {
    pub name: String,
    pub last_keepalive: Instant,
    /// Longest interval between Established, the KEEPALIVEs received, and
    /// the end of the run (see `finish`).
    pub worst_keepalive_gap: Duration,
    pub keepalives: u64,
    /// Longest interval with no message at all from the peer (what its
    /// hold timer would see of us, RFC 4271 §4.4: any message resets it).
    pub worst_silence: Duration,
    pub last_message: Instant,
    pub bytes_in: u64,
    /// Why the session ended before we stopped it (NOTIFICATION, close).
    pub down: Option<String>,
}

impl SessionStats {
    fn new(name: &str, at: Instant) -> SessionStats {
        SessionStats {
            name: name.to_string(),
            last_keepalive: at,
            worst_keepalive_gap: Duration::ZERO,
            keepalives: 0,
            worst_silence: Duration::ZERO,
            last_message: at,
            bytes_in: 0,
            down: None,
        }
    }

    fn keepalive(&mut self, now: Instant) {
        self.worst_keepalive_gap = self
            .worst_keepalive_gap
            .max(now.duration_since(self.last_keepalive));
        self.last_keepalive = now;
        self.keepalives += 1;
    }

    /// Close the log at `end`: the open interval since the last KEEPALIVE
    /// counts too (a DUT that stops sending is late even if the run ends
    /// before its next one).
    pub fn finish(&mut self, end: Instant) {
        self.worst_keepalive_gap = self
            .worst_keepalive_gap
            .max(end.saturating_duration_since(self.last_keepalive));
        self.worst_silence = self
            .worst_silence
            .max(end.saturating_duration_since(self.last_message));
    }

    fn message(&mut self, now: Instant) {
        self.worst_silence = self
            .worst_silence
            .max(now.duration_since(self.last_message));
        self.last_message = now;
    }
}

fn keepalive_bytes() -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    // A KEEPALIVE always fits.
    let _ = encode_message(&Message::Keepalive, &codec(), &mut out);
    out
}

/// Connect from `me.local` to `peer`, retrying refused connections (the
/// DUT may still be starting) until `deadline`.
pub fn connect(
    me: &Speaker,
    peer: SocketAddr,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<TcpStream> {
    loop {
        let domain = if peer.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let sock = Socket::new(domain, Type::STREAM, None)?;
        sock.set_recv_buffer_size(SOCK_BUF)?;
        sock.set_send_buffer_size(SOCK_BUF)?;
        sock.bind(&SocketAddr::new(me.local, 0).into())
            .with_context(|| format!("{}: binding {}", me.name, me.local))?;
        match sock.connect_timeout(&peer.into(), Duration::from_secs(2)) {
            Ok(()) => {
                let s: TcpStream = sock.into();
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => {
                if Instant::now() > deadline || stop.load(Ordering::Relaxed) {
                    bail!("{}: could not connect to {peer}: {e}", me.name);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// An Established session.
pub struct Session {
    pub receiver: Receiver,
    /// Shared with a feeder's writer thread.
    pub writer: Arc<Mutex<TcpStream>>,
    /// A handle to shut the socket down from outside (unblocks writes).
    pub shutdown: TcpStream,
}

/// Exchange OPEN and KEEPALIVE (RFC 4271 §8.2.2: OpenSent → OpenConfirm →
/// Established). The negotiated hold time is the smaller of the two
/// (§4.2); we send KEEPALIVEs every third of it.
pub fn handshake(mut stream: TcpStream, me: &Speaker) -> Result<Session> {
    let (afi, safi) = me.family.wire().afi_safi();
    let open = Open {
        version: 4,
        my_as: u16::try_from(me.asn).unwrap_or(clos_wire::AS_TRANS),
        hold_time: me.hold,
        bgp_identifier: me.router_id,
        capabilities: vec![
            Capability::Multiprotocol { afi, safi },
            Capability::FourOctetAs(me.asn),
        ],
    };
    let mut out = Vec::new();
    encode_message(&Message::Open(open), &codec(), &mut out)
        .map_err(|e| anyhow!("encoding OPEN: {e}"))?;
    stream.write_all(&out)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut buf = vec![0u8; READ_BUF];
    let (mut start, mut end) = (0usize, 0usize);
    let mut hold = me.hold;
    let mut got_open = false;
    loop {
        // Frame what we have.
        while end - start >= HEADER_LEN {
            let len = usize::from(u16::from_be_bytes([buf[start + 16], buf[start + 17]]));
            if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
                bail!("{}: bad message length {len} in handshake", me.name);
            }
            if end - start < len {
                break;
            }
            let msg = &buf[start..start + len];
            start += len;
            match decode_message(msg, &codec()).map(|d| d.message) {
                Ok(Message::Open(o)) => {
                    hold = if o.hold_time == 0 || me.hold == 0 {
                        0
                    } else {
                        o.hold_time.min(me.hold)
                    };
                    got_open = true;
                    stream.write_all(&keepalive_bytes())?;
                }
                Ok(Message::Keepalive) if got_open => {
                    let writer = Arc::new(Mutex::new(stream.try_clone()?));
                    let shutdown = stream.try_clone()?;
                    stream.set_read_timeout(Some(POLL))?;
                    let now = Instant::now();
                    let interval = if hold == 0 {
                        Duration::from_secs(3600)
                    } else {
                        Duration::from_secs(u64::from(hold) / 3).max(Duration::from_secs(1))
                    };
                    return Ok(Session {
                        receiver: Receiver {
                            stream,
                            writer: writer.clone(),
                            buf,
                            start,
                            end,
                            keepalive_every: interval,
                            next_keepalive: now + interval,
                            stats: SessionStats::new(&me.name, now),
                            keepalive: keepalive_bytes(),
                        },
                        writer,
                        shutdown,
                    });
                }
                Ok(Message::Notification(n)) => bail!(
                    "{}: NOTIFICATION {}/{} during handshake",
                    me.name,
                    n.code,
                    n.subcode
                ),
                Ok(_) => {}
                Err(e) => bail!("{}: bad message in handshake: {e:?}", me.name),
            }
        }
        if start == end {
            start = 0;
            end = 0;
        }
        let n = match stream.read(&mut buf[end..]) {
            Ok(0) => bail!("{}: peer closed the connection during handshake", me.name),
            Ok(n) => n,
            Err(e) => bail!("{}: handshake: {e}", me.name),
        };
        end += n;
    }
}

/// The receiving half of a session.
pub struct Receiver {
    stream: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    keepalive_every: Duration,
    next_keepalive: Instant,
    keepalive: Vec<u8>,
    pub stats: SessionStats,
}

/// What `poll` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// Keep polling.
    Open,
    /// We were asked to stop.
    Stopped,
    /// The session is down (`stats.down` says why).
    Down,
}

impl Receiver {
    /// One read (or a timeout), then every whole message in the buffer:
    /// KEEPALIVEs are logged, UPDATEs (whole message, header included) go
    /// to `on_update`; a NOTIFICATION or a close ends the session. Sends
    /// our KEEPALIVE when due.
    pub fn poll(
        &mut self,
        stop: &AtomicBool,
        mut on_update: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<Poll> {
        if stop.load(Ordering::Relaxed) {
            return Ok(Poll::Stopped);
        }
        let now = Instant::now();
        if now >= self.next_keepalive {
            if let Ok(mut w) = self.writer.try_lock() {
                if let Err(e) = w.write_all(&self.keepalive) {
                    self.stats.down = Some(format!("sending KEEPALIVE: {e}"));
                    return Ok(Poll::Down);
                }
                self.next_keepalive = now + self.keepalive_every;
            }
        }
        // Process what the handshake left over before reading more.
        if self.end > self.start {
            if let Some(p) = self.drain(&mut on_update)? {
                return Ok(p);
            }
        }
        if self.buf.len() - self.end < MAX_MESSAGE_LEN {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        match self.stream.read(&mut self.buf[self.end..]) {
            Ok(0) => {
                if stop.load(Ordering::Relaxed) {
                    return Ok(Poll::Stopped);
                }
                self.stats.down = Some("connection closed by the DUT".into());
                return Ok(Poll::Down);
            }
            Ok(n) => {
                self.end += n;
                self.stats.bytes_in += n as u64;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(Poll::Open)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(Poll::Open),
            Err(e) => {
                if stop.load(Ordering::Relaxed) {
                    return Ok(Poll::Stopped);
                }
                self.stats.down = Some(format!("read: {e}"));
                return Ok(Poll::Down);
            }
        }
        Ok(self.drain(&mut on_update)?.unwrap_or(Poll::Open))
    }

    fn drain(
        &mut self,
        on_update: &mut impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<Option<Poll>> {
        let mut pos = self.start;
        let first = pos;
        let end = self.end;
        let mut keepalives = 0u32;
        while end - pos >= HEADER_LEN {
            let b = &self.buf[pos..end];
            let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
            if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) || b[..16] != [0xff; 16] {
                self.start = pos;
                bail!(
                    "{}: bad message header (length {len}); stream out of sync",
                    self.stats.name
                );
            }
            if b.len() < len {
                break;
            }
            match b[18] {
                2 => {
                    if let Err(e) = on_update(&b[..len]) {
                        self.start = pos + len;
                        bail!("{}: {e}", self.stats.name);
                    }
                }
                3 => {
                    let code = b.get(19).copied().unwrap_or(0);
                    let sub = b.get(20).copied().unwrap_or(0);
                    self.stats.down = Some(format!(
                        "NOTIFICATION {code}/{sub} received ({})",
                        clos_wire::notification_name(code, sub)
                    ));
                    self.start = pos + len;
                    return Ok(Some(Poll::Down));
                }
                4 => keepalives += 1,
                _ => {}
            }
            pos += len;
        }
        self.start = pos;
        if pos > first {
            self.stats.message(Instant::now());
        }
        if keepalives > 0 {
            let now = Instant::now();
            for _ in 0..keepalives {
                self.stats.keepalive(now);
            }
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(None)
    }
}

/// Write `bytes` in `chunks`, holding the session's write lock per chunk.
/// Returns the instant just before the first byte went out.
pub fn write_stream(
    writer: &Mutex<TcpStream>,
    bytes: &[u8],
    chunks: &[std::ops::Range<usize>],
    stop: &AtomicBool,
) -> Result<Instant> {
    let mut first = None;
    for c in chunks {
        if stop.load(Ordering::Relaxed) {
            bail!("stopped");
        }
        let mut w = writer.lock().map_err(|_| anyhow!("writer lock poisoned"))?;
        first.get_or_insert_with(Instant::now);
        w.write_all(&bytes[c.clone()])
            .context("writing the UPDATE stream")?;
    }
    Ok(first.unwrap_or_else(Instant::now))
}
