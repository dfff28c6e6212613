//! The raw ICMPv6 socket of one interface.
//!
//! Owns the socket options that make Neighbor Discovery safe to speak:
//!
//! - `SO_BINDTODEVICE`: only this interface's traffic;
//! - bound to our link-local address, which is therefore the source of
//!   every advertisement (RFC 4861 §6.1.2 has receivers drop others). The
//!   kernel refuses to bind a tentative address, which is how "not before
//!   Duplicate Address Detection is done" is enforced: we retry;
//! - unicast and multicast hop limit 255, the value receivers check;
//! - `IPV6_RECVHOPLIMIT`, so each received packet says what hop limit it
//!   arrived with, which [`crate::packet::validate`] checks;
//! - multicast loop off: our own advertisements to ff02::1 must not come
//!   back to us;
//! - a type filter passing only Router Advertisements, so the task is not
//!   woken by every Neighbor Solicitation or echo on the link. It is a
//!   classic BPF program (`SO_ATTACH_FILTER`) rather than `ICMP6_FILTER`:
//!   the same effect (on a raw IPv6 socket the program sees the ICMPv6
//!   header at offset 0), but socket2 sets it without `unsafe`.

use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, Protocol, SockAddr, SockFilter, SockRef, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::packet::{REQUIRED_HOP_LIMIT, ROUTER_ADVERTISEMENT};

/// ff02::1, the link-scope all-nodes group that unsolicited advertisements
/// go to (RFC 4861 §6.2.4).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Largest message we read; a Router Advertisement fits in one MTU.
const RECV_BUFFER: usize = 9216;

/// `ldb [0]; jeq #134, accept, drop`: the ICMPv6 type is the first octet.
const ROUTER_ADVERTISEMENTS_ONLY: [SockFilter; 4] = [
    SockFilter::new(0x30, 0, 0, 0), // BPF_LD|BPF_B|BPF_ABS 0
    SockFilter::new(0x15, 0, 1, ROUTER_ADVERTISEMENT as u32), // BPF_JMP|BPF_JEQ|BPF_K
    SockFilter::new(0x06, 0, 0, u32::MAX), // BPF_RET|BPF_K: whole packet
    SockFilter::new(0x06, 0, 0, 0), // BPF_RET|BPF_K: drop
];

/// One received ICMPv6 message.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) source: Ipv6Addr,
    /// From the `IPV6_HOPLIMIT` control message.
    pub(crate) hop_limit: Option<u8>,
    pub(crate) message: Vec<u8>,
}

/// A raw ICMPv6 socket bound to one interface and link-local address.
pub(crate) struct RaSocket {
    fd: AsyncFd<OwnedFd>,
    ifindex: u32,
    buf: Vec<u8>,
}

/// Opens a raw ICMPv6 socket on interface `name` (index `ifindex`), ready
/// to send Router Advertisements from `source` and receive them. Must run
/// in the interface's network namespace, inside a tokio runtime.
pub(crate) fn open(name: &str, ifindex: u32, source: Ipv6Addr) -> io::Result<RaSocket> {
    let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    socket.set_nonblocking(true)?;
    socket.bind_device(Some(name.as_bytes()))?;
    socket.attach_filter(&ROUTER_ADVERTISEMENTS_ONLY)?;
    socket.set_recv_hoplimit_v6(true)?;
    socket.set_multicast_hops_v6(u32::from(REQUIRED_HOP_LIMIT))?;
    socket.set_unicast_hops_v6(u32::from(REQUIRED_HOP_LIMIT))?;
    socket.set_multicast_loop_v6(false)?;
    socket.set_multicast_if_v6(ifindex)?;
    socket.bind(&SockAddr::from(SocketAddrV6::new(source, 0, 0, ifindex)))?;
    Ok(RaSocket {
        fd: crate::fd::register(OwnedFd::from(socket))?,
        ifindex,
        buf: vec![0; RECV_BUFFER],
    })
}

impl RaSocket {
    /// Sends `message` to all nodes on the link.
    pub(crate) fn send_all_nodes(&self, message: &[u8]) -> io::Result<()> {
        let destination = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.ifindex));
        let sent = SockRef::from(self.fd.get_ref()).send_to(message, &destination)?;
        if sent != message.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short send"));
        }
        Ok(())
    }

    /// Receives the next message. Cancel-safe: nothing is read until a
    /// message can be returned whole.
    pub(crate) async fn receive(&mut self) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            let buf = &mut self.buf;
            match guard.try_io(|fd| receive_now(fd.get_ref(), buf)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(result) => return result,
                Err(_would_block) => {}
            }
        }
    }
}

fn receive_now(socket: &OwnedFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut space = nix::cmsg_space!(libc_int);
    let (length, truncated, source, hop_limit) = {
        let mut iov = [IoSliceMut::new(buf)];
        let message = recvmsg::<SockaddrIn6>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let mut hop_limit = None;
        // A truncated control buffer (cannot happen with the space above)
        // leaves the hop limit unknown, and validation rejects the packet.
        if let Ok(controls) = message.cmsgs() {
            for control in controls {
                if let ControlMessageOwned::Ipv6HopLimit(value) = control {
                    hop_limit = u8::try_from(value).ok();
                }
            }
        }
        (
            message.bytes,
            message.flags.contains(MsgFlags::MSG_TRUNC),
            message.address.map(|address| address.ip()),
            hop_limit,
        )
    };
    let source =
        source.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no source address"))?;
    // Options cut off by a short buffer: hand over a message that fails to
    // decode rather than a silently shortened one.
    let length = if truncated { 0 } else { length.min(buf.len()) };
    Ok(Received {
        source,
        hop_limit,
        message: buf[..length].to_vec(),
    })
}

/// The C `int` the hop-limit control message carries.
#[allow(non_camel_case_types)]
type libc_int = i32;
