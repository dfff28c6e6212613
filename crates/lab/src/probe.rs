//! Traffic between hosts, sent from this process: ICMP echo for
//! `ping-all`, and a paced, sequence-numbered UDP stream for `converge`.
//! No external tools: sockets are opened by threads that have entered the
//! hosts' namespaces ([`in_netns`]), and keep those namespaces afterwards.
//!
//! ICMP uses datagram "ping" sockets (`SOCK_DGRAM`, `IPPROTO_ICMP`/
//! `IPPROTO_ICMPV6`), allowed in host namespaces by
//! `net.ipv4.ping_group_range`: the kernel fills in the identifier and the
//! checksum and hands back only replies to this socket.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};

use crate::sys::in_netns;

/// An ICMP echo socket inside namespace `ns`.
fn icmp_socket(ns: &str, v6: bool) -> Result<UdpSocket> {
    in_netns(ns, || {
        let (family, protocol) = if v6 {
            (AddressFamily::Inet6, SockProtocol::IcmpV6)
        } else {
            (AddressFamily::Inet, SockProtocol::Icmp)
        };
        let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, protocol)
            .with_context(|| {
                format!("cannot open an ICMP socket in {ns} (is net.ipv4.ping_group_range set?)")
            })?;
        // A datagram socket of another protocol: std's UdpSocket only
        // wraps send_to/recv_from, which is all an ICMP echo needs.
        Ok(UdpSocket::from(fd))
    })
}

/// An echo request (RFC 792 type 8 / RFC 4443 type 128); identifier and
/// checksum are the kernel's.
fn echo_request(v6: bool, sequence: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0, 0, 0];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(b"clos-lab ping");
    packet
}

fn is_echo_reply(v6: bool, packet: &[u8]) -> bool {
    packet.first() == Some(&if v6 { 129 } else { 0 })
}

/// Pings every address in `targets` from namespace `ns`, up to `attempts`
/// rounds of one second; returns the round-trip time of each that
/// answered.
pub fn ping_from(
    ns: &str,
    targets: &[IpAddr],
    attempts: u32,
) -> Result<BTreeMap<IpAddr, Duration>> {
    let mut answered = BTreeMap::new();
    for v6 in [false, true] {
        let family: Vec<IpAddr> = targets
            .iter()
            .copied()
            .filter(|t| t.is_ipv6() == v6)
            .collect();
        if family.is_empty() {
            continue;
        }
        let socket = icmp_socket(ns, v6)?;
        for attempt in 0..attempts {
            let pending: Vec<IpAddr> = family
                .iter()
                .copied()
                .filter(|t| !answered.contains_key(t))
                .collect();
            if pending.is_empty() {
                break;
            }
            let mut sent = BTreeMap::new();
            for (i, target) in pending.iter().enumerate() {
                let sequence = u16::try_from(attempt as usize * 1000 + i).unwrap_or(u16::MAX);
                // An unreachable target fails at once on some errors
                // (EHOSTUNREACH): that is a lost ping, not our error.
                let at = Instant::now();
                if socket
                    .send_to(&echo_request(v6, sequence), SocketAddr::new(*target, 0))
                    .is_ok()
                {
                    sent.insert(*target, at);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(1);
            let mut buffer = [0u8; 1500];
            while Instant::now() < deadline && pending.iter().any(|t| !answered.contains_key(t)) {
                let left = deadline.saturating_duration_since(Instant::now());
                socket.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                let Ok((length, from)) = socket.recv_from(&mut buffer) else {
                    continue;
                };
                if !is_echo_reply(v6, &buffer[..length]) {
                    continue;
                }
                if let Some(start) = sent.get(&from.ip()) {
                    answered.entry(from.ip()).or_insert_with(|| start.elapsed());
                }
            }
        }
    }
    Ok(answered)
}

/// One probe packet received: sequence number, when it was sent and when
/// it arrived (nanoseconds since the probe started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Sequence number, from 0.
    pub sequence: u64,
    /// Send time.
    pub sent_ns: u64,
    /// Arrival time.
    pub received_ns: u64,
}

const MAGIC: &[u8; 8] = b"closlab1";

/// A UDP stream from one host to another, one packet every `interval`.
pub struct Probe {
    start: Instant,
    stop_sending: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    sender: Option<JoinHandle<u64>>,
    receiver: Option<JoinHandle<()>>,
}

impl Probe {
    /// Starts sending from `source` (in namespace `source_ns`) to
    /// `destination:port` (in `destination_ns`).
    pub fn start(
        source_ns: &str,
        source: IpAddr,
        destination_ns: &str,
        destination: IpAddr,
        port: u16,
        interval: Duration,
    ) -> Result<Probe> {
        let receive = in_netns(destination_ns, || {
            UdpSocket::bind(SocketAddr::new(destination, port))
                .with_context(|| format!("cannot bind {destination}:{port} in {destination_ns}"))
        })?;
        receive.set_read_timeout(Some(Duration::from_millis(20)))?;
        let send = in_netns(source_ns, || {
            // A fixed source port: one flow, so ECMP keeps it on one path.
            UdpSocket::bind(SocketAddr::new(source, port))
                .with_context(|| format!("cannot bind {source}:{port} in {source_ns}"))
        })?;
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_sending = Arc::new(AtomicBool::new(false));
        let arrivals = Arc::new(Mutex::new(Vec::new()));

        let receiver = {
            let stop = stop.clone();
            let arrivals = arrivals.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(length) = receive.recv(&mut buffer) else {
                        continue;
                    };
                    let received_ns = start.elapsed().as_nanos() as u64;
                    if let Some((sequence, sent_ns)) = decode(&buffer[..length]) {
                        if let Ok(mut list) = arrivals.lock() {
                            list.push(Arrival {
                                sequence,
                                sent_ns,
                                received_ns,
                            });
                        }
                    }
                }
            })
        };
        let sender = {
            let stop = stop_sending.clone();
            let target = SocketAddr::new(destination, port);
            std::thread::spawn(move || {
                let mut sequence = 0u64;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    let sent_ns = start.elapsed().as_nanos() as u64;
                    // Errors while a path is down (no route) are losses.
                    let _ = send.send_to(&encode(sequence, sent_ns), target);
                    sequence += 1;
                    // Keep the pace, but never burst to catch up after a
                    // stall: a burst would hide a loss window.
                    next = (next + interval).max(Instant::now());
                }
                sequence
            })
        };
        Ok(Probe {
            start,
            stop_sending,
            stop,
            arrivals,
            sender: Some(sender),
            receiver: Some(receiver),
        })
    }

    /// Nanoseconds since the probe started, on the probe's clock.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// A copy of what has arrived so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Stops sending, waits `drain` for packets in flight, stops
    /// receiving; returns the number sent and every arrival.
    pub fn finish(mut self, drain: Duration) -> (u64, Vec<Arrival>) {
        self.stop_sending.store(true, Ordering::Relaxed);
        let sent = self.sender.take().and_then(|s| s.join().ok()).unwrap_or(0);
        std::thread::sleep(drain);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(receiver) = self.receiver.take() {
            let _ = receiver.join();
        }
        (sent, self.arrivals())
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop_sending.store(true, Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
        if let Some(receiver) = self.receiver.take() {
            let _ = receiver.join();
        }
    }
}

fn encode(sequence: u64, sent_ns: u64) -> Vec<u8> {
    let mut packet = MAGIC.to_vec();
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&sent_ns.to_be_bytes());
    packet
}

fn decode(packet: &[u8]) -> Option<(u64, u64)> {
    let rest = packet.strip_prefix(MAGIC.as_slice())?;
    let sequence = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let sent_ns = u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?);
    Some((sequence, sent_ns))
}

/// The losses in a probe's arrivals: gaps in the sequence, each measured
/// on the sender's clock from the last packet before it to the first
/// after it, less one interval (so back-to-back packets count as no loss).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    /// Total time during which packets were lost, milliseconds.
    pub loss_ms: f64,
    /// Packets lost inside gaps.
    pub lost: u64,
    /// Number of separate gaps.
    pub gaps: usize,
}

/// Loss in gaps that end at or after `from_ns` (the failure), from
/// arrivals in any order (ECMP changes may reorder) with duplicates.
pub fn loss(arrivals: &[Arrival], from_ns: u64, interval: Duration) -> Loss {
    let mut by_sequence: Vec<Arrival> = arrivals.to_vec();
    by_sequence.sort_by_key(|a| a.sequence);
    by_sequence.dedup_by_key(|a| a.sequence);
    let interval_ns = interval.as_nanos() as u64;
    let mut result = Loss {
        loss_ms: 0.0,
        lost: 0,
        gaps: 0,
    };
    for pair in by_sequence.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        if after.sequence > before.sequence + 1 && after.sent_ns >= from_ns {
            let window = after
                .sent_ns
                .saturating_sub(before.sent_ns)
                .saturating_sub(interval_ns);
            result.loss_ms += window as f64 / 1e6;
            result.lost += after.sequence - before.sequence - 1;
            result.gaps += 1;
        }
    }
    result
}

/// Whether traffic has recovered after a failure at `from_ns`: packets
/// sent at least `settle` after the failure and at least `settle` after
/// the end of the last gap have arrived.
pub fn recovered(arrivals: &[Arrival], from_ns: u64, settle: Duration) -> bool {
    let settle_ns = settle.as_nanos() as u64;
    let mut sequences: Vec<(u64, u64)> = arrivals.iter().map(|a| (a.sequence, a.sent_ns)).collect();
    sequences.sort_unstable();
    sequences.dedup();
    let Some(&(_, newest)) = sequences.last() else {
        return false;
    };
    let last_gap_end = sequences
        .windows(2)
        .filter(|p| p[1].0 > p[0].0 + 1)
        .map(|p| p[1].1)
        .max()
        .unwrap_or(0);
    newest >= from_ns + settle_ns && newest >= last_gap_end + settle_ns
}

/// Distinct sequence numbers received.
pub fn distinct(arrivals: &[Arrival]) -> usize {
    arrivals
        .iter()
        .map(|a| a.sequence)
        .collect::<BTreeSet<_>>()
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Arrivals for sequences `0..n` sent every ms, minus `missing`.
    fn stream(n: u64, missing: std::ops::Range<u64>) -> Vec<Arrival> {
        (0..n)
            .filter(|s| !missing.contains(s))
            .map(|s| Arrival {
                sequence: s,
                sent_ns: s * MS,
                received_ns: s * MS + 100_000,
            })
            .collect()
    }

    #[test]
    fn packets_round_trip() {
        assert_eq!(decode(&encode(7, 99)), Some((7, 99)));
        assert_eq!(decode(b"nonsense"), None);
    }

    #[test]
    fn one_gap_is_measured_on_the_sender_clock() {
        let arrivals = stream(1000, 500..520);
        let loss = loss(&arrivals, 450 * MS, Duration::from_millis(1));
        assert_eq!(loss.lost, 20);
        assert_eq!(loss.gaps, 1);
        assert!((loss.loss_ms - 20.0).abs() < 1e-9, "{loss:?}");
    }

    #[test]
    fn gaps_before_the_failure_do_not_count_and_order_does_not_matter() {
        let mut arrivals = stream(1000, 100..105);
        arrivals.retain(|a| !(600..610).contains(&a.sequence));
        arrivals.reverse();
        arrivals.push(arrivals[3]);
        let loss = loss(&arrivals, 500 * MS, Duration::from_millis(1));
        assert_eq!(loss.lost, 10);
        assert_eq!(loss.gaps, 1);
        assert_eq!(
            super::loss(&stream(100, 0..0), 0, Duration::from_millis(1)).lost,
            0
        );
    }

    #[test]
    fn recovery_needs_steady_traffic_after_the_last_gap() {
        let settle = Duration::from_millis(100);
        assert!(!recovered(&[], 0, settle));
        // Gap ends at 520 ms, stream runs to 999 ms: recovered.
        assert!(recovered(&stream(1000, 500..520), 500 * MS, settle));
        // Gap ends at 950 ms: not yet.
        assert!(!recovered(&stream(1000, 500..950), 500 * MS, settle));
        // Nothing sent long enough after the failure yet.
        assert!(!recovered(&stream(550, 0..0), 500 * MS, settle));
    }
}
