//! Socket options that protect a session from the wire, on Linux:
//! the Generalized TTL Security Mechanism (GTSM, RFC 5082) and TCP MD5
//! signatures (RFC 2385).
//!
//! Owns: the option numbers, the byte layout of `struct tcp_md5sig`, and
//! the only unsafe code of this crate — [`setsockopt`] and [`getsockopt`],
//! two calls on a borrowed descriptor with a byte buffer. Everything else
//! builds bytes safely and goes through them. `socket2` covers the plain
//! TTL options; it has no minimum-TTL, MD5 or saved-SYN options, and `nix`
//! 0.30 has none of them either.
//!
//! Does not own: when these apply (the speaker's listeners and dispatch,
//! the session's `connect`) or the configuration that asks for them.
//!
//! GTSM in short: a directly connected peer sends with TTL 255, so its
//! packets arrive with 255; anyone further away cannot make them arrive
//! with more than 254. The kernel drops segments below the socket's
//! minimum (`IP_MINTTL`, `IPV6_MINHOPCOUNT`). A minimum is per socket, not
//! per peer, so a listener cannot carry it for one neighbor only: for
//! accepted connections the SYN's own TTL is read back from the kernel
//! (`TCP_SAVED_SYN`, enabled on the listener with `TCP_SAVE_SYN`) and the
//! minimum is set on the accepted socket before a byte is read.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// The TTL (IPv4) or hop limit (IPv6) of GTSM: packets are sent with it,
/// and a directly connected peer's packets must arrive with it.
pub const GTSM_TTL: u8 = 255;

/// Longest TCP MD5 key Linux accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const TCP_MD5_MAX_KEY_LEN: usize = 80;

/// Size of `struct tcp_md5sig`: a `sockaddr_storage` (128 bytes), flags,
/// prefix length, key length, interface index, and the key buffer.
const TCP_MD5SIG_LEN: usize = 128 + 1 + 1 + 2 + 4 + TCP_MD5_MAX_KEY_LEN;

/// `TCP_SAVE_SYN = 1`: keep the network and TCP headers of the SYN.
const SAVE_SYN_NETWORK_HEADERS: i32 = 1;

/// A TCP MD5 signature key (RFC 2385): 1..=80 bytes. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TcpMd5Key(Vec<u8>);

impl TcpMd5Key {
    /// The key, or `None` when it is empty or longer than
    /// [`TCP_MD5_MAX_KEY_LEN`] bytes.
    pub fn new(key: &[u8]) -> Option<TcpMd5Key> {
        (1..=TCP_MD5_MAX_KEY_LEN)
            .contains(&key.len())
            .then(|| TcpMd5Key(key.to_vec()))
    }
}

impl std::fmt::Debug for TcpMd5Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TcpMd5Key(<redacted>)")
    }
}

/// Sets the TTL (IPv4 peer, also over an IPv6 socket with a mapped
/// address) or the unicast hop limit (IPv6 peer) of packets sent to `peer`.
pub fn set_hop_limit(socket: &impl AsFd, peer: IpAddr, ttl: u8) -> io::Result<()> {
    let socket = socket2::SockRef::from(socket);
    match peer {
        IpAddr::V4(_) => socket.set_ttl_v4(u32::from(ttl)),
        IpAddr::V6(_) => socket.set_unicast_hops_v6(u32::from(ttl)),
    }
}

/// Sets the smallest TTL / hop limit the kernel accepts from `peer` on
/// this socket; segments below it are dropped before TCP sees them.
pub fn set_min_hop_limit(socket: &impl AsFd, peer: IpAddr, min: u8) -> io::Result<()> {
    let value = i32::from(min).to_ne_bytes();
    match peer {
        IpAddr::V4(_) => setsockopt(socket.as_fd(), libc::IPPROTO_IP, libc::IP_MINTTL, &value),
        IpAddr::V6(_) => setsockopt(
            socket.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MINHOPCOUNT,
            &value,
        ),
    }
}

/// GTSM on a session socket (RFC 5082 §3): send with TTL 255 and accept
/// nothing from `peer` that arrives with less.
pub fn enable_gtsm(socket: &impl AsFd, peer: IpAddr) -> io::Result<()> {
    set_hop_limit(socket, peer, GTSM_TTL)?;
    set_min_hop_limit(socket, peer, GTSM_TTL)
}

/// Prepares a listener for GTSM neighbors: its SYN-ACKs leave with TTL
/// 255 (a GTSM peer drops anything less) and the kernel keeps each SYN's
/// headers, so [`syn_hop_limit`] can tell where an accepted connection
/// came from.
pub fn prepare_gtsm_listener(listener: &impl AsFd) -> io::Result<()> {
    let socket = socket2::SockRef::from(listener);
    match socket.domain()? {
        socket2::Domain::IPV6 => {
            socket.set_unicast_hops_v6(u32::from(GTSM_TTL))?;
            if !socket.only_v6()? {
                // Dual-stack: IPv4 SYN-ACKs use the IPv4 TTL.
                socket.set_ttl_v4(u32::from(GTSM_TTL))?;
            }
        }
        _ => socket.set_ttl_v4(u32::from(GTSM_TTL))?,
    }
    setsockopt(
        listener.as_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_SAVE_SYN,
        &SAVE_SYN_NETWORK_HEADERS.to_ne_bytes(),
    )
}

/// The TTL / hop limit the SYN of an accepted connection arrived with, as
/// saved by a listener prepared with [`prepare_gtsm_listener`]. `None`
/// when the kernel kept no SYN (the listener was not prepared, or SYN
/// cookies answered it). Reading it frees the kernel's copy.
pub fn syn_hop_limit(stream: &impl AsFd) -> io::Result<Option<u8>> {
    let mut headers = [0u8; 512];
    let len = getsockopt(
        stream.as_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_SAVED_SYN,
        &mut headers,
    )?;
    Ok(hop_limit_of(&headers[..len]))
}

/// The TTL (IPv4) or hop limit (IPv6) field of a packet's network header.
fn hop_limit_of(header: &[u8]) -> Option<u8> {
    match header.first().map(|b| b >> 4) {
        Some(4) => header.get(8).copied(),
        Some(6) => header.get(7).copied(),
        _ => None,
    }
}

/// Installs `key` for segments to and from `peer` on this socket
/// (`TCP_MD5SIG`). On a listener it applies to connections `peer` opens;
/// others connect without signatures. An IPv4 peer on an IPv6 (dual-stack)
/// socket is keyed by its IPv4-mapped address, as Linux expects.
pub fn set_tcp_md5_key(socket: &impl AsFd, peer: IpAddr, key: &TcpMd5Key) -> io::Result<()> {
    let ipv6_socket = socket2::SockRef::from(socket).domain()? == socket2::Domain::IPV6;
    let option = tcp_md5sig(ipv6_socket, peer, &key.0)?;
    setsockopt(socket.as_fd(), libc::IPPROTO_TCP, libc::TCP_MD5SIG, &option)
}

/// `struct tcp_md5sig` (linux/tcp.h) for `peer` and `key`, as bytes.
fn tcp_md5sig(ipv6_socket: bool, peer: IpAddr, key: &[u8]) -> io::Result<[u8; TCP_MD5SIG_LEN]> {
    if key.len() > TCP_MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a TCP MD5 key is at most 80 bytes",
        ));
    }
    let mut option = [0u8; TCP_MD5SIG_LEN];
    // tcpm_addr: a sockaddr_in or sockaddr_in6 (port ignored, left 0).
    match (peer, ipv6_socket) {
        (IpAddr::V4(v4), false) => {
            option[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            option[4..8].copy_from_slice(&v4.octets());
        }
        (IpAddr::V6(_), false) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv6 peer cannot reach an IPv4 socket",
            ))
        }
        (ip, true) => {
            let v6 = match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            option[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            // sin6_port (2), sin6_flowinfo (4), then the address.
            option[8..24].copy_from_slice(&v6.octets());
        }
    }
    // tcpm_flags and tcpm_prefixlen (bytes 128, 129) stay 0: plain
    // TCP_MD5SIG ignores them. tcpm_keylen, tcpm_ifindex, tcpm_key:
    option[130..132].copy_from_slice(&(key.len() as u16).to_ne_bytes());
    option[136..136 + key.len()].copy_from_slice(key);
    Ok(option)
}

/// `setsockopt(2)` with `value` as the option's bytes.
#[allow(unsafe_code)]
fn setsockopt(fd: BorrowedFd<'_>, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "socket option too long"))?;
    // SAFETY: `fd` is an open descriptor for the whole call (it is
    // borrowed); the pointer and length describe `value`, a live slice the
    // kernel only reads, and the kernel keeps no reference after returning.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `getsockopt(2)` into `buffer`; returns how many bytes the kernel wrote.
#[allow(unsafe_code)]
fn getsockopt(fd: BorrowedFd<'_>, level: i32, name: i32, buffer: &mut [u8]) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(buffer.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer too long"))?;
    // SAFETY: `fd` is an open descriptor for the whole call; the kernel
    // writes at most `len` bytes into `buffer`, a live, exclusively
    // borrowed slice of that length, and stores the length it wrote in
    // `len`, a live local.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            buffer.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok((len as usize).min(buffer.len()))
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    //! Real sockets on loopback, no privileges needed: the kernel enforces
    //! what these options promise. Loopback does not decrement the TTL, so
    //! a client sending with TTL 64 stands for a peer one or more hops away.

    use super::*;
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    use socket2::{Domain, Protocol, Socket, Type};

    const SHORT: Duration = Duration::from_millis(700);

    fn listener(addr: &str) -> Option<TcpListener> {
        let addr: SocketAddr = addr.parse().unwrap();
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).ok()?;
        if addr.is_ipv6() {
            socket.set_only_v6(!addr.ip().is_unspecified()).ok()?;
        }
        socket.bind(&addr.into()).ok()?;
        socket.listen(8).ok()?;
        Some(socket.into())
    }

    fn client(to: SocketAddr, ttl: u8, key: Option<&TcpMd5Key>) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
        set_hop_limit(&socket, to.ip(), ttl)?;
        if let Some(key) = key {
            set_tcp_md5_key(&socket, to.ip(), key)?;
        }
        socket.connect_timeout(&to.into(), SHORT)?;
        Ok(socket.into())
    }

    /// Connects to `listener` with `ttl` (IPv4 loopback as seen from a
    /// dual-stack listener, else the listener's own address).
    fn connect_to(listener: &TcpListener, ttl: u8) -> (TcpStream, TcpStream) {
        let mut to = listener.local_addr().unwrap();
        if to.ip().is_unspecified() {
            to.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let client = client(to, ttl, None).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        (client, accepted)
    }

    fn received(stream: &mut TcpStream) -> Vec<u8> {
        stream.set_read_timeout(Some(SHORT)).unwrap();
        let mut buf = [0u8; 16];
        match stream.read(&mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Vec::new()
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    #[test]
    fn keys_are_1_to_80_bytes_and_never_printed() {
        assert!(TcpMd5Key::new(b"").is_none());
        assert!(TcpMd5Key::new(&[b'k'; 81]).is_none());
        let key = TcpMd5Key::new(&[b'k'; 80]).unwrap();
        assert_eq!(format!("{key:?}"), "TcpMd5Key(<redacted>)");
    }

    #[test]
    fn tcp_md5sig_layout() {
        let v4 = tcp_md5sig(false, "192.0.2.1".parse().unwrap(), b"secret").unwrap();
        assert_eq!(u16::from_ne_bytes([v4[0], v4[1]]), libc::AF_INET as u16);
        assert_eq!(&v4[4..8], &[192, 0, 2, 1]);
        assert_eq!(u16::from_ne_bytes([v4[130], v4[131]]), 6);
        assert_eq!(&v4[136..142], b"secret");
        assert!(v4[142..].iter().all(|b| *b == 0));
        // An IPv4 peer on a dual-stack socket: its mapped address.
        let mapped = tcp_md5sig(true, "192.0.2.1".parse().unwrap(), b"k").unwrap();
        assert_eq!(
            u16::from_ne_bytes([mapped[0], mapped[1]]),
            libc::AF_INET6 as u16
        );
        assert_eq!(
            &mapped[8..24],
            &"::ffff:192.0.2.1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        assert!(tcp_md5sig(false, "2001:db8::1".parse().unwrap(), b"k").is_err());
    }

    #[test]
    fn saved_syn_tells_the_ttl_it_arrived_with() {
        for addr in ["127.0.0.1:0", "[::]:0", "[::1]:0"] {
            let Some(listener) = listener(addr) else {
                eprintln!("SKIP {addr}: cannot listen");
                continue;
            };
            prepare_gtsm_listener(&listener).unwrap();
            for ttl in [64, 255] {
                let (_client, accepted) = connect_to(&listener, ttl);
                assert_eq!(syn_hop_limit(&accepted).unwrap(), Some(ttl), "{addr}");
                // Read once: the kernel's copy is gone.
                assert_eq!(syn_hop_limit(&accepted).unwrap(), None, "{addr}");
            }
        }
    }

    #[test]
    fn without_save_syn_there_is_no_syn_to_read() {
        let listener = listener("127.0.0.1:0").unwrap();
        let (_client, accepted) = connect_to(&listener, 255);
        assert_eq!(syn_hop_limit(&accepted).unwrap(), None);
    }

    #[test]
    fn gtsm_drops_segments_that_arrive_below_ttl_255() {
        for addr in ["127.0.0.1:0", "[::]:0", "[::1]:0"] {
            let Some(listener) = listener(addr) else {
                eprintln!("SKIP {addr}: cannot listen");
                continue;
            };
            for (ttl, delivered) in [(64u8, false), (254, false), (255, true)] {
                let (mut client, mut accepted) = connect_to(&listener, ttl);
                let peer = crate::session::canonical_ip(accepted.peer_addr().unwrap().ip());
                enable_gtsm(&accepted, peer).unwrap();
                client.write_all(b"OPEN").unwrap();
                let got = received(&mut accepted);
                assert_eq!(got == b"OPEN", delivered, "{addr} TTL {ttl}: got {got:?}");
            }
        }
    }

    #[test]
    fn md5_listener_refuses_unsigned_and_wrongly_signed_syns() {
        for addr in ["127.0.0.1:0", "[::]:0", "[::1]:0"] {
            let Some(listener) = listener(addr) else {
                eprintln!("SKIP {addr}: cannot listen");
                continue;
            };
            let mut to = listener.local_addr().unwrap();
            if to.ip().is_unspecified() {
                to.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
            }
            let secret = TcpMd5Key::new(b"secret").unwrap();
            let other = TcpMd5Key::new(b"other").unwrap();
            set_tcp_md5_key(&listener, to.ip(), &secret).unwrap();

            // Unsigned and wrongly signed SYNs are dropped: no handshake.
            for key in [None, Some(&other)] {
                let error = client(to, 64, key).unwrap_err();
                assert!(
                    matches!(
                        error.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ),
                    "{addr}: {error}"
                );
            }
            // The right key gets through, and data flows.
            let mut signed = client(to, 64, Some(&secret)).unwrap();
            let (mut accepted, _) = listener.accept().unwrap();
            signed.write_all(b"OPEN").unwrap();
            assert_eq!(received(&mut accepted), b"OPEN", "{addr}");
        }
    }
}
