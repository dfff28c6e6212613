//! The UDP sockets of RFC 5881 (BFD for IPv4 and IPv6, single hop).
//!
//! - One receive socket per address family, bound to port 3784 on the
//!   wildcard address, with IP_RECVTTL / IPV6_RECVHOPLIMIT so that every
//!   datagram comes with the TTL or Hop Limit it arrived with (§5: packets
//!   not received with 255 are discarded, which proves the sender is one
//!   hop away), and IP_PKTINFO / IPV6_RECVPKTINFO for the arrival interface
//!   (needed to tell apart sessions to the same link-local address).
//! - One send socket per session (§4): source port picked at random in
//!   49152–65535 and kept for the session's life, TTL / Hop Limit 255,
//!   bound to the session's interface when it has one, traffic class CS6.
//!
//! `recvmsg` with control messages goes through `nix`, readiness through
//! tokio, so no `unsafe` is needed here.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    self as nix_socket, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// RFC 5881 §4: the destination port of single-hop Control packets.
pub const CONTROL_PORT: u16 = 3784;
/// RFC 5881 §4: the range of source ports.
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// RFC 5881 §5: the TTL / Hop Limit sent, and required on receipt.
pub const REQUIRED_TTL: u8 = 255;
/// DSCP CS6 (network control), as other implementations send BFD.
const TOS_NETWORK_CONTROL: u32 = 0xc0;

/// One datagram from a receive socket.
#[derive(Debug, Clone, Copy)]
pub struct Datagram {
    pub len: usize,
    pub source: SocketAddr,
    /// TTL or Hop Limit as received; None if the kernel did not say.
    pub ttl: Option<u8>,
    /// Arrival interface, from IP_PKTINFO / IPV6_PKTINFO.
    pub ifindex: Option<u32>,
}

/// Opens the receive socket of one family on port 3784.
pub fn open_receiver(ipv6: bool) -> io::Result<UdpSocket> {
    let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    let address: SocketAddr = if ipv6 {
        socket.set_only_v6(true)?;
        nix_socket::setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)?;
        nix_socket::setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)?;
        (Ipv6Addr::UNSPECIFIED, CONTROL_PORT).into()
    } else {
        nix_socket::setsockopt(&socket, sockopt::Ipv4RecvTtl, &true)?;
        nix_socket::setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
        (Ipv4Addr::UNSPECIFIED, CONTROL_PORT).into()
    };
    socket.bind(&address.into())?;
    UdpSocket::from_std(socket.into())
}

/// Receives one datagram with its TTL and arrival interface.
pub async fn receive(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Datagram> {
    let fd = socket.as_raw_fd();
    socket
        .async_io(Interest::READABLE, || {
            let mut control = nix::cmsg_space!(nix::libc::in6_pktinfo, nix::libc::c_int);
            let mut iov = [IoSliceMut::new(buffer)];
            let message = nix_socket::recvmsg::<SockaddrStorage>(
                fd,
                &mut iov,
                Some(&mut control),
                MsgFlags::empty(),
            )?;
            let source = message
                .address
                .as_ref()
                .and_then(socket_address)
                .ok_or_else(|| io::Error::other("datagram without a source address"))?;
            let mut datagram = Datagram {
                len: message.bytes,
                source,
                ttl: None,
                ifindex: None,
            };
            for cmsg in message.cmsgs()? {
                match cmsg {
                    ControlMessageOwned::Ipv4Ttl(ttl) | ControlMessageOwned::Ipv6HopLimit(ttl) => {
                        datagram.ttl = u8::try_from(ttl).ok();
                    }
                    ControlMessageOwned::Ipv4PacketInfo(info) => {
                        datagram.ifindex = u32::try_from(info.ipi_ifindex).ok();
                    }
                    ControlMessageOwned::Ipv6PacketInfo(info) => {
                        datagram.ifindex = Some(info.ipi6_ifindex);
                    }
                    _ => {}
                }
            }
            Ok(datagram)
        })
        .await
}

fn socket_address(storage: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    storage
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// Opens a session's send socket: TTL 255, bound to `interface` if given,
/// to `local` (or the wildcard) and a free source port in 49152–65535,
/// trying ports from `start` upward. Returns the socket and its port.
pub fn open_sender(
    peer: IpAddr,
    local: Option<IpAddr>,
    interface: Option<&str>,
    start: u16,
) -> io::Result<(UdpSocket, u16)> {
    let ipv6 = peer.is_ipv6();
    let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    if ipv6 {
        socket.set_only_v6(true)?;
        socket.set_unicast_hops_v6(REQUIRED_TTL.into())?;
        socket.set_tclass_v6(TOS_NETWORK_CONTROL)?;
    } else {
        socket.set_ttl_v4(REQUIRED_TTL.into())?;
        socket.set_tos_v4(TOS_NETWORK_CONTROL)?;
    }
    if let Some(interface) = interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    let local = local.unwrap_or(if ipv6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    let first = *SOURCE_PORTS.start();
    let count = u32::from(*SOURCE_PORTS.end() - first) + 1;
    let offset = u32::from(start.saturating_sub(first)) % count;
    let mut last_error = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..count {
        let port = first + ((offset + i) % count) as u16;
        let mut address = SocketAddr::new(local, port);
        if let (SocketAddr::V6(v6), Some(index)) = (&mut address, scope_for(local, interface)) {
            v6.set_scope_id(index);
        }
        match socket.bind(&address.into()) {
            Ok(()) => return Ok((UdpSocket::from_std(socket.into())?, port)),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// The scope id a link-local IPv6 address needs: the interface's index.
fn scope_for(address: IpAddr, interface: Option<&str>) -> Option<u32> {
    match address {
        IpAddr::V6(v6) if v6.is_unicast_link_local() => {
            interface.and_then(|name| nix::net::if_::if_nametoindex(name).ok())
        }
        _ => None,
    }
}

/// The index of a network interface.
pub fn interface_index(name: &str) -> io::Result<u32> {
    Ok(nix::net::if_::if_nametoindex(name)?)
}
