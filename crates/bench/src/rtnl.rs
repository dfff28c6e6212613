//! Counting a namespace's kernel routes over rtnetlink, for the `kernel`
//! scenario.
//!
//! Owns: `NETLINK_ROUTE` sockets in the calling thread's network namespace
//! (one for `RTM_GETROUTE` / `RTM_GETNEXTHOP` dumps, one subscribed to the
//! IPv4 route and nexthop notifications), and the pure decoding of both
//! into counts: how many routes of one protocol a table holds, and how many
//! of them have the expected number of next hops ([`Tally`] for one dump,
//! [`Tracker`] kept current by notifications). Owns no timing and no
//! daemon.
//!
//! Deliberately independent of closd's own netlink code (`clos-fib-kernel`):
//! the benchmark checks the daemon under test, it must not share its
//! decoder. Layouts are those of `linux/netlink.h`, `linux/rtnetlink.h`
//! and `linux/nexthop.h` (host byte order, attributes aligned to 4).
//!
//! Next hops of a route: `RTA_MULTIPATH` (one `rtnexthop` per path) as
//! BIRD and `ip route add … nexthop via … nexthop via …` install them; one
//! `RTA_GATEWAY`/`RTA_OIF` for a single path; or `RTA_NH_ID`, a kernel
//! nexthop object or group (what closd, FRR's zebra and `ip route add …
//! nhid N` use). With `net.ipv4.nexthop_compat_mode = 1`, the default, the
//! kernel also expands a nexthop object into the first two forms in dumps;
//! without it the group sizes are taken from an `RTM_GETNEXTHOP` dump.

use std::collections::HashMap;
use std::io::Read as _;
use std::os::fd::AsRawFd;

use anyhow::{anyhow, bail, Context, Result};
use socket2::{Domain, Protocol, Socket, Type};

use crate::util::FastMap;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEXTHOP: u16 = 104;
const RTM_DELNEXTHOP: u16 = 105;
const RTM_GETNEXTHOP: u16 = 106;
/// Multicast groups (`enum rtnetlink_groups`).
const RTNLGRP_IPV4_ROUTE: libc::c_int = 7;
const RTNLGRP_NEXTHOP: libc::c_int = 32;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
/// Receive buffer of the notification socket (SO_RCVBUFFORCE, root): a
/// million small notifications cost ~0.8 GB of skb truesize if unread; we
/// read continuously, this only absorbs bursts while we are descheduled.
const EVENT_RCVBUF: libc::c_int = 512 << 20;
/// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope,
/// type (one octet each), flags (u32).
const RTMSG_LEN: usize = 12;
/// `struct nhmsg`: family, scope, protocol, resvd (octets), flags (u32).
const NHMSG_LEN: usize = 8;
/// `struct rtnexthop`: len (u16), flags, hops (octets), ifindex (i32).
const RTNH_LEN: usize = 8;
/// `struct nexthop_grp`: id (u32), weight, resvd1 (octets), resvd2 (u16).
const NEXTHOP_GRP_LEN: usize = 8;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_NH_ID: u16 = 30;
const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const RTN_UNICAST: u8 = 1;
const AF_INET: u8 = 2;
/// Largest datagram a dump sends is 32 KiB; room for several.
const RECV_BUF: usize = 1 << 20;

/// `rtm_protocol` values of the installers we measure
/// (`/etc/iproute2/rt_protos`).
pub const RTPROT_STATIC: u8 = 4;
pub const RTPROT_BIRD: u8 = 12;
pub const RTPROT_BGP: u8 = 186;
pub const RTPROT_CLOS: u8 = 201;

/// Which routes to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// Routing table (254 = main).
    pub table: u32,
    pub protocol: u8,
    /// Next hops a complete route has (1, or the ECMP width).
    pub paths: u32,
}

/// How a route's next hops were given to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `RTA_NH_ID`: a nexthop object or group.
    NexthopObject,
    /// `RTA_MULTIPATH` without a nexthop object.
    Multipath,
    /// One `RTA_GATEWAY` / `RTA_OIF`.
    Gateway,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::NexthopObject => "nhid",
            Form::Multipath => "multipath",
            Form::Gateway => "gateway",
        }
    }
}

/// One IPv4 route of a dump, as far as counting needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Destination (host order) and prefix length; with the metric, what
    /// tells two routes of a table apart here.
    pub dst: u32,
    pub dst_len: u8,
    pub metric: u32,
    pub table: u32,
    pub protocol: u8,
    pub kind: u8,
    /// Next hops, when the message says (`None`: only a nexthop id).
    pub paths: Option<u32>,
    pub nexthop_id: Option<u32>,
    pub multipath: bool,
}

impl RouteInfo {
    pub fn form(&self) -> Form {
        if self.nexthop_id.is_some() {
            Form::NexthopObject
        } else if self.multipath {
            Form::Multipath
        } else {
            Form::Gateway
        }
    }
}

/// The count of one dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Routes of the filter's protocol in its table.
    pub routes: usize,
    /// Of those, routes with exactly the filter's number of next hops.
    pub complete: usize,
    /// Routes by form: nexthop object, multipath, gateway.
    pub forms: [usize; 3],
    /// Routes that named only a nexthop id: id → routes; resolved with
    /// [`Tally::resolve`].
    pub pending: HashMap<u32, usize>,
}

impl Filter {
    /// A unicast route of our protocol in our table.
    pub fn matches(&self, route: &RouteInfo) -> bool {
        route.table == self.table && route.protocol == self.protocol && route.kind == RTN_UNICAST
    }
}

impl Tally {
    /// Count one route against `filter`.
    pub fn add(&mut self, route: &RouteInfo, filter: &Filter) {
        if !filter.matches(route) {
            return;
        }
        self.routes += 1;
        self.forms[match route.form() {
            Form::NexthopObject => 0,
            Form::Multipath => 1,
            Form::Gateway => 2,
        }] += 1;
        match (route.paths, route.nexthop_id) {
            (Some(n), _) => {
                if n == filter.paths {
                    self.complete += 1;
                }
            }
            (None, Some(id)) => *self.pending.entry(id).or_default() += 1,
            (None, None) => {}
        }
    }

    /// Settle the routes that named only a nexthop id, with the size of
    /// every nexthop object (`id → next hops`, see [`decode_nexthops`]).
    pub fn resolve(&mut self, sizes: &HashMap<u32, u32>, filter: &Filter) {
        for (id, routes) in self.pending.drain() {
            if sizes.get(&id) == Some(&filter.paths) {
                self.complete += routes;
            }
        }
    }

    /// The form most routes have, if any were counted.
    pub fn main_form(&self) -> Option<Form> {
        let forms = [Form::NexthopObject, Form::Multipath, Form::Gateway];
        let (i, &n) = self.forms.iter().enumerate().max_by_key(|(_, &n)| n)?;
        (n > 0).then_some(forms[i])
    }
}

/// What a tracked route's next hops are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hops {
    Paths(u32),
    /// Only a nexthop id (compat mode off): sized by the nexthop table.
    Object(u32),
}

/// The routes of one protocol in one table, kept current by applying
/// notifications (and dump messages, which have the same layout) in order.
#[derive(Debug)]
pub struct Tracker {
    filter: Filter,
    routes: FastMap<(u32, u8, u32), Hops>,
    /// Routes with explicit next hops, and exactly `filter.paths` of them.
    complete_explicit: usize,
    /// Routes naming only a nexthop id: id → routes.
    by_object: HashMap<u32, usize>,
    /// Nexthop id → next hops (group size, or 1).
    sizes: HashMap<u32, u32>,
}

impl Tracker {
    /// For routes matching `filter`, room for `routes` of them.
    pub fn new(filter: Filter, routes: usize) -> Tracker {
        let mut map = FastMap::default();
        map.reserve(routes);
        Tracker {
            filter,
            routes: map,
            complete_explicit: 0,
            by_object: HashMap::new(),
            sizes: HashMap::new(),
        }
    }

    /// Apply one netlink message (type, payload after the header).
    pub fn apply(&mut self, kind: u16, payload: &[u8]) {
        match kind {
            RTM_NEWROUTE | RTM_DELROUTE => {
                let Some(route) = decode_route(payload) else {
                    return;
                };
                if !self.filter.matches(&route) {
                    return;
                }
                let key = (route.dst, route.dst_len, route.metric);
                let old = if kind == RTM_NEWROUTE {
                    let hops = match (route.paths, route.nexthop_id) {
                        (Some(n), _) => Hops::Paths(n),
                        (None, Some(id)) => Hops::Object(id),
                        (None, None) => Hops::Paths(0),
                    };
                    self.count(hops, 1);
                    self.routes.insert(key, hops)
                } else {
                    self.routes.remove(&key)
                };
                if let Some(old) = old {
                    self.count(old, -1);
                }
            }
            RTM_NEWNEXTHOP => {
                if let Some((id, n)) = decode_nexthop(payload) {
                    self.sizes.insert(id, n);
                }
            }
            RTM_DELNEXTHOP => {
                if let Some((id, _)) = decode_nexthop(payload) {
                    self.sizes.remove(&id);
                }
            }
            _ => {}
        }
    }

    fn count(&mut self, hops: Hops, delta: isize) {
        match hops {
            Hops::Paths(n) if n == self.filter.paths => {
                self.complete_explicit = self.complete_explicit.saturating_add_signed(delta);
            }
            Hops::Paths(_) => {}
            Hops::Object(id) => {
                let c = self.by_object.entry(id).or_default();
                *c = c.saturating_add_signed(delta);
            }
        }
    }

    /// Routes of the protocol in the table.
    pub fn routes(&self) -> usize {
        self.routes.len()
    }

    /// Of those, routes with exactly the filter's number of next hops.
    pub fn complete(&self) -> usize {
        let paths = self.filter.paths;
        self.complete_explicit
            + self
                .by_object
                .iter()
                .filter(|(id, _)| self.sizes.get(id) == Some(&paths))
                .map(|(_, n)| n)
                .sum::<usize>()
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Route attributes: (type without flag bits, value).
fn attributes(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(b, 0)?);
        let kind = u16_at(b, 2)? & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let value = &b[4..len];
        b = b.get(align4(len)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

/// Decode an `RTM_NEWROUTE` payload (after the netlink header). `None`
/// for a message too short to be one, or not IPv4.
pub fn decode_route(payload: &[u8]) -> Option<RouteInfo> {
    let header = payload.get(..RTMSG_LEN)?;
    if header[0] != AF_INET {
        return None;
    }
    let mut route = RouteInfo {
        dst: 0,
        dst_len: header[1],
        metric: 0,
        table: u32::from(header[4]),
        protocol: header[5],
        kind: header[7],
        paths: None,
        nexthop_id: None,
        multipath: false,
    };
    let mut single = false;
    for (kind, value) in attributes(&payload[RTMSG_LEN..]) {
        match kind {
            RTA_DST => {
                route.dst = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
            }
            RTA_PRIORITY => route.metric = u32_at(value, 0)?,
            RTA_TABLE => route.table = u32_at(value, 0)?,
            RTA_NH_ID => route.nexthop_id = Some(u32_at(value, 0)?),
            RTA_GATEWAY | RTA_OIF => single = true,
            RTA_MULTIPATH => {
                route.multipath = true;
                let mut n = 0;
                let mut at = 0;
                while at + RTNH_LEN <= value.len() {
                    let len = usize::from(u16_at(value, at)?);
                    if len < RTNH_LEN {
                        break;
                    }
                    n += 1;
                    at += align4(len);
                }
                route.paths = Some(n);
            }
            _ => {}
        }
    }
    if route.paths.is_none() && single {
        route.paths = Some(1);
    }
    Some(route)
}

/// Decode an `RTM_NEWNEXTHOP` payload: (id, next hops: the group's size,
/// or 1 for a single next hop).
pub fn decode_nexthop(payload: &[u8]) -> Option<(u32, u32)> {
    let mut id = None;
    let mut size = 1;
    for (kind, value) in attributes(payload.get(NHMSG_LEN..)?) {
        match kind {
            NHA_ID => id = Some(u32_at(value, 0)?),
            NHA_GROUP => size = (value.len() / NEXTHOP_GRP_LEN) as u32,
            _ => {}
        }
    }
    Some((id?, size))
}

/// Walk the netlink messages of one datagram, calling `each(type,
/// payload)`. Returns true at `NLMSG_DONE`; an `NLMSG_ERROR` with a
/// non-zero code is an error.
pub fn walk_messages(mut b: &[u8], mut each: impl FnMut(u16, &[u8])) -> Result<bool> {
    while b.len() >= NLMSG_HDRLEN {
        let len = u32_at(b, 0).unwrap_or(0) as usize;
        let kind = u16_at(b, 4).unwrap_or(0);
        if len < NLMSG_HDRLEN || len > b.len() {
            bail!("malformed netlink message (length {len} of {})", b.len());
        }
        let payload = &b[NLMSG_HDRLEN..len];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = u32_at(payload, 0).map_or(0, |c| c as i32);
                if code != 0 {
                    return Err(anyhow!(
                        "netlink dump refused: {}",
                        std::io::Error::from_raw_os_error(-code)
                    ));
                }
            }
            _ => each(kind, payload),
        }
        b = b.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(false)
}

/// A dump request: netlink header, then `family` and zeros to `body_len`.
fn dump_request(kind: u16, seq: u32, family: u8, body_len: usize) -> Vec<u8> {
    let len = NLMSG_HDRLEN + body_len;
    let mut req = Vec::with_capacity(len);
    req.extend_from_slice(&(len as u32).to_ne_bytes());
    req.extend_from_slice(&kind.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.push(family);
    req.resize(len, 0);
    req
}

/// A route-dumping socket in the namespace of the thread that opened it.
pub struct RouteDumper {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl RouteDumper {
    pub fn open() -> Result<RouteDumper> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )
        .context("opening a NETLINK_ROUTE socket")?;
        // Best effort: a larger buffer only saves wake-ups.
        let _ = socket.set_recv_buffer_size(8 << 20);
        Ok(RouteDumper {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Send a dump request and feed every message to `each` until done.
    fn dump(
        &mut self,
        kind: u16,
        family: u8,
        body: usize,
        mut each: impl FnMut(u16, &[u8]),
    ) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        // Unconnected and unbound: the kernel (port 0) is the destination
        // and the socket is bound automatically on this first send.
        self.socket
            .send(&dump_request(kind, self.seq, family, body))
            .context("sending a netlink dump request")?;
        loop {
            let n = (&self.socket)
                .read(&mut self.buf)
                .context("reading a netlink dump")?;
            if n == 0 {
                bail!("netlink socket closed during a dump");
            }
            if walk_messages(&self.buf[..n], &mut each)? {
                return Ok(());
            }
        }
    }

    /// Count the IPv4 routes matching `filter` (one `RTM_GETROUTE` dump,
    /// plus an `RTM_GETNEXTHOP` dump if some route named only a nexthop id).
    pub fn count(&mut self, filter: &Filter) -> Result<Tally> {
        let mut tally = Tally::default();
        self.dump(RTM_GETROUTE, AF_INET, RTMSG_LEN, |kind, payload| {
            if kind == RTM_NEWROUTE {
                if let Some(route) = decode_route(payload) {
                    tally.add(&route, filter);
                }
            }
        })?;
        if !tally.pending.is_empty() {
            let mut sizes = HashMap::new();
            self.dump(RTM_GETNEXTHOP, 0, NHMSG_LEN, |kind, payload| {
                if kind == RTM_NEWNEXTHOP {
                    if let Some((id, n)) = decode_nexthop(payload) {
                        sizes.insert(id, n);
                    }
                }
            })?;
            tally.resolve(&sizes, filter);
        }
        Ok(tally)
    }
}

impl RouteDumper {
    /// Feed a full route dump, then a nexthop dump, to `tracker` (the
    /// starting state for notifications).
    pub fn load(&mut self, tracker: &mut Tracker) -> Result<()> {
        self.dump(RTM_GETNEXTHOP, 0, NHMSG_LEN, |k, p| tracker.apply(k, p))?;
        self.dump(RTM_GETROUTE, AF_INET, RTMSG_LEN, |k, p| tracker.apply(k, p))
    }
}

/// Set an integer socket option.
fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: setsockopt(2) reads exactly `size_of::<c_int>()` bytes from
    // the pointer, which points at `value`, alive for the whole call; the
    // descriptor is owned by `socket`, which outlives the call.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Bind a netlink socket to a kernel-chosen port id: multicast
/// notifications are delivered to bound sockets only.
fn bind_any_port(socket: &Socket) -> std::io::Result<()> {
    // SAFETY: `sockaddr_nl` is plain data for which all-zero bytes are
    // valid; bind(2) reads exactly `size_of::<sockaddr_nl>()` bytes from the
    // pointer, which points at `address`, alive for the whole call; the
    // descriptor is owned by `socket`, which outlives the call.
    #[allow(unsafe_code)]
    let rc = unsafe {
        let mut address: libc::sockaddr_nl = std::mem::zeroed();
        address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        libc::bind(
            socket.as_raw_fd(),
            (&address as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What one drain of the notification socket gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drain {
    /// Datagrams applied.
    pub datagrams: usize,
    /// The socket overflowed (ENOBUFS): notifications were lost, the
    /// tracker is no longer exact.
    pub overflow: bool,
}

/// Datagrams taken per recvmmsg(2) call by [`EventSocket::drain_into`].
const BATCH: usize = 256;
/// Room per datagram: a route notification with 8 next hops is ~200
/// bytes; a longer one is reported as an error, never cut silently.
const SLOT: usize = 4096;

/// Receive up to `lens.len()` datagrams without waiting, datagram i into
/// `buf[i * SLOT..][..SLOT]`, its length into `lens[i]`. Returns how many
/// (`WouldBlock` when none is queued).
fn recv_batch(socket: &Socket, buf: &mut [u8], lens: &mut [usize]) -> std::io::Result<usize> {
    let slots = lens.len().min(buf.len() / SLOT);
    let mut iovecs: Vec<libc::iovec> = buf
        .chunks_exact_mut(SLOT)
        .take(slots)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: SLOT,
        })
        .collect();
    // SAFETY: `mmsghdr` is plain data for which all-zero bytes are valid
    // (null name and control pointers with zero lengths, which recvmmsg(2)
    // leaves alone). Each header points at one `iovec` of `iovecs`, and
    // each iovec at a distinct SLOT-byte chunk of `buf`; both vectors and
    // `buf` outlive the call and are not touched during it, so the kernel
    // writes only inside `buf`. `headers.len()` is passed as the count.
    #[allow(unsafe_code)]
    let (n, headers) = unsafe {
        let mut headers: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .map(|iov| {
                let mut h: libc::mmsghdr = std::mem::zeroed();
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        let n = libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            headers.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        );
        (n, headers)
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let n = n as usize;
    for (len, h) in lens.iter_mut().zip(&headers[..n]) {
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a netlink notification longer than {SLOT} bytes"),
            ));
        }
        *len = h.msg_len as usize;
    }
    Ok(n)
}

/// A socket subscribed to IPv4 route and nexthop notifications, drained
/// periodically without waiting rather than read as each notification
/// arrives: a reader blocked in recv(2) is woken by every notification, and
/// the wake-up is paid by the sender, the installer we measure (one `ip
/// -batch` of 300k routes: 3.6–4.0 s alone, 6.6–7.0 s next to a listener
/// woken per route, 3.9–4.0 s next to this one drained every 10 ms).
pub struct EventSocket {
    socket: Socket,
    buf: Vec<u8>,
    lens: Vec<usize>,
}

impl EventSocket {
    pub fn open() -> Result<EventSocket> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )
        .context("opening a NETLINK_ROUTE socket")?;
        if set_int_option(
            &socket,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            EVENT_RCVBUF,
        )
        .is_err()
        {
            let _ = socket.set_recv_buffer_size(EVENT_RCVBUF as usize);
        }
        bind_any_port(&socket).context("binding a NETLINK_ROUTE socket")?;
        for group in [RTNLGRP_IPV4_ROUTE, RTNLGRP_NEXTHOP] {
            set_int_option(&socket, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
                .with_context(|| format!("joining rtnetlink group {group}"))?;
        }
        Ok(EventSocket {
            socket,
            buf: vec![0; BATCH * SLOT],
            lens: vec![0; BATCH],
        })
    }

    /// Apply every queued datagram to `tracker`, without waiting; after
    /// each batch, `stop_after(tracker)` may end the drain early (so a
    /// completion is stamped when its batch is read, not at the end of a
    /// long backlog).
    pub fn drain_into(
        &mut self,
        tracker: &mut Tracker,
        mut stop_after: impl FnMut(&Tracker) -> bool,
    ) -> Result<Drain> {
        let mut d = Drain::default();
        loop {
            match recv_batch(&self.socket, &mut self.buf, &mut self.lens) {
                Ok(n) => {
                    for (slot, &len) in self.buf.chunks_exact(SLOT).zip(&self.lens[..n]) {
                        walk_messages(&slot[..len], |k, p| tracker.apply(k, p))?;
                    }
                    d.datagrams += n;
                    if n == 0 || stop_after(tracker) {
                        return Ok(d);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    d.overflow = true;
                    return Ok(d);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(d),
                Err(e) => return Err(e).context("reading netlink notifications"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize(align4(a.len()), 0);
        a
    }

    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    /// An IPv4 unicast route in `table` (RTA_TABLE carries it when > 255)
    /// of `protocol`, with the given attributes.
    fn route(table: u32, protocol: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        // rtm_table holds RT_TABLE_COMPAT (252) for ids above 255.
        let compat = u8::try_from(table).unwrap_or(252);
        let mut p = vec![AF_INET, 24, 0, 0, compat, protocol, 0, RTN_UNICAST];
        p.extend_from_slice(&0u32.to_ne_bytes());
        p.extend(attr(RTA_TABLE, &table.to_ne_bytes()));
        for a in attrs {
            p.extend_from_slice(a);
        }
        message(RTM_NEWROUTE, &p)
    }

    fn multipath(gateways: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for g in 0..gateways {
            let gw = attr(RTA_GATEWAY, &[10, 99, 0, 2 + g as u8]);
            v.extend_from_slice(&((RTNH_LEN + gw.len()) as u16).to_ne_bytes());
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&3i32.to_ne_bytes());
            v.extend_from_slice(&gw);
        }
        attr(RTA_MULTIPATH, &v)
    }

    fn done() -> Vec<u8> {
        message(NLMSG_DONE, &0i32.to_ne_bytes())
    }

    fn tally_of(datagram: &[u8], filter: &Filter) -> (Tally, bool) {
        let mut t = Tally::default();
        let finished = walk_messages(datagram, |kind, payload| {
            if kind == RTM_NEWROUTE {
                if let Some(r) = decode_route(payload) {
                    t.add(&r, filter);
                }
            }
        })
        .unwrap();
        (t, finished)
    }

    #[test]
    fn counts_one_protocol_in_one_table_by_next_hops() {
        let gw = attr(RTA_GATEWAY, &[10, 99, 0, 2]);
        let oif = attr(RTA_OIF, &3u32.to_ne_bytes());
        let mut d = Vec::new();
        d.extend(route(254, RTPROT_BIRD, &[gw.clone(), oif.clone()]));
        d.extend(route(254, RTPROT_BIRD, &[multipath(8)]));
        d.extend(route(254, RTPROT_BIRD, &[multipath(3)]));
        d.extend(route(254, RTPROT_BGP, &[multipath(8)])); // other protocol
        d.extend(route(255, RTPROT_BIRD, &[multipath(8)])); // other table
        d.extend(route(1000, RTPROT_BIRD, std::slice::from_ref(&gw))); // table > 255
        let (t, finished) = tally_of(
            &d,
            &Filter {
                table: 254,
                protocol: RTPROT_BIRD,
                paths: 8,
            },
        );
        assert!(!finished);
        assert_eq!((t.routes, t.complete), (3, 1));
        assert_eq!(t.forms, [0, 2, 1]);
        assert_eq!(t.main_form(), Some(Form::Multipath));

        let (t, _) = tally_of(
            &d,
            &Filter {
                table: 1000,
                protocol: RTPROT_BIRD,
                paths: 1,
            },
        );
        assert_eq!((t.routes, t.complete), (1, 1));
        assert_eq!(t.main_form(), Some(Form::Gateway));
    }

    #[test]
    fn nexthop_objects_with_and_without_compat_expansion() {
        let filter = Filter {
            table: 254,
            protocol: RTPROT_CLOS,
            paths: 8,
        };
        let nh = |id: u32| attr(RTA_NH_ID, &id.to_ne_bytes());
        let mut d = Vec::new();
        // compat mode on: the group is expanded next to the id
        d.extend(route(254, RTPROT_CLOS, &[nh(7), multipath(8)]));
        // compat mode off: the id alone
        d.extend(route(254, RTPROT_CLOS, &[nh(7)]));
        d.extend(route(254, RTPROT_CLOS, &[nh(7)]));
        d.extend(route(254, RTPROT_CLOS, &[nh(1)]));
        d.extend(done());
        d.extend(route(254, RTPROT_CLOS, &[nh(9)])); // after DONE: ignored
        let (mut t, finished) = tally_of(&d, &filter);
        assert!(finished);
        assert_eq!((t.routes, t.complete), (4, 1));
        assert_eq!(t.main_form(), Some(Form::NexthopObject));
        assert_eq!(t.pending.get(&7), Some(&2));

        // The nexthop dump: object 1 is one gateway, 7 a group of 8.
        let mut group = Vec::new();
        for id in 1..=8u32 {
            group.extend_from_slice(&id.to_ne_bytes());
            group.extend_from_slice(&[1, 0, 0, 0]);
        }
        let nhmsg = [AF_INET, 0, RTPROT_CLOS, 0, 0, 0, 0, 0];
        let one = [&nhmsg[..], &attr(NHA_ID, &1u32.to_ne_bytes())].concat();
        let grp = [
            &[0u8, 0, RTPROT_CLOS, 0, 0, 0, 0, 0][..],
            &attr(NHA_ID, &7u32.to_ne_bytes()),
            &attr(NHA_GROUP, &group),
        ]
        .concat();
        assert_eq!(decode_nexthop(&one), Some((1, 1)));
        assert_eq!(decode_nexthop(&grp), Some((7, 8)));
        let mut sizes = HashMap::new();
        let dump = [
            message(RTM_NEWNEXTHOP, &one),
            message(RTM_NEWNEXTHOP, &grp),
            done(),
        ]
        .concat();
        walk_messages(&dump, |k, p| {
            if k == RTM_NEWNEXTHOP {
                let (id, n) = decode_nexthop(p).unwrap();
                sizes.insert(id, n);
            }
        })
        .unwrap();
        t.resolve(&sizes, &filter);
        assert_eq!((t.routes, t.complete), (4, 3));
        assert!(t.pending.is_empty());
    }

    #[test]
    fn errors_and_garbage() {
        let err = message(NLMSG_ERROR, &(-1i32).to_ne_bytes());
        assert!(walk_messages(&err, |_, _| {}).is_err());
        let ack = message(NLMSG_ERROR, &0i32.to_ne_bytes());
        assert!(!walk_messages(&ack, |_, _| {}).unwrap());
        let mut bad = route(254, RTPROT_BGP, &[]);
        bad[0] = 200; // length beyond the datagram
        assert!(walk_messages(&bad, |_, _| {}).is_err());
        assert_eq!(decode_route(&[AF_INET, 24]), None);
        // IPv6 routes are not counted.
        assert_eq!(
            decode_route(&[10, 64, 0, 0, 254, 186, 0, 1, 0, 0, 0, 0]),
            None
        );
        // A truncated attribute ends the walk without panicking.
        let mut r = vec![
            AF_INET,
            24,
            0,
            0,
            254,
            RTPROT_BGP,
            0,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        r.extend_from_slice(&[40, 0, 5, 0, 10]);
        let info = decode_route(&r).unwrap();
        assert_eq!(info.paths, None);
    }

    fn with_dst(mut msg: Vec<u8>, dst: [u8; 4], metric: u32) -> Vec<u8> {
        let mut extra = attr(RTA_DST, &dst);
        extra.extend(attr(RTA_PRIORITY, &metric.to_ne_bytes()));
        msg.extend_from_slice(&extra);
        let len = msg.len() as u32;
        msg[..4].copy_from_slice(&len.to_ne_bytes());
        msg
    }

    fn apply_all(t: &mut Tracker, datagram: &[u8]) {
        walk_messages(datagram, |k, p| t.apply(k, p)).unwrap();
    }

    #[test]
    fn tracker_follows_adds_replaces_and_deletes() {
        let filter = Filter {
            table: 254,
            protocol: RTPROT_BIRD,
            paths: 8,
        };
        let mut t = Tracker::new(filter, 4);
        let gw = attr(RTA_GATEWAY, &[10, 99, 0, 2]);
        let a = [1, 2, 3, 0];
        // first path, then the 8-way replacement of the same route
        apply_all(
            &mut t,
            &with_dst(route(254, RTPROT_BIRD, std::slice::from_ref(&gw)), a, 32),
        );
        assert_eq!((t.routes(), t.complete()), (1, 0));
        let mut d = with_dst(route(254, RTPROT_BIRD, &[multipath(8)]), a, 32);
        d.extend(with_dst(
            route(254, RTPROT_BIRD, &[multipath(8)]),
            [1, 2, 4, 0],
            32,
        ));
        // the same prefix at another metric is another route
        d.extend(with_dst(route(254, RTPROT_BIRD, &[multipath(8)]), a, 100));
        // not ours
        d.extend(with_dst(
            route(254, RTPROT_BGP, &[multipath(8)]),
            [9, 9, 9, 0],
            20,
        ));
        apply_all(&mut t, &d);
        assert_eq!((t.routes(), t.complete()), (3, 3));
        // a delete notification
        let mut del = with_dst(route(254, RTPROT_BIRD, &[multipath(8)]), a, 100);
        del[4..6].copy_from_slice(&RTM_DELROUTE.to_ne_bytes());
        apply_all(&mut t, &del);
        assert_eq!((t.routes(), t.complete()), (2, 2));
        // back to fewer paths
        apply_all(
            &mut t,
            &with_dst(route(254, RTPROT_BIRD, &[multipath(7)]), a, 32),
        );
        assert_eq!((t.routes(), t.complete()), (2, 1));
    }

    #[test]
    fn tracker_sizes_bare_nexthop_ids_from_nexthop_messages() {
        let filter = Filter {
            table: 254,
            protocol: RTPROT_CLOS,
            paths: 2,
        };
        let mut t = Tracker::new(filter, 4);
        let nh = attr(RTA_NH_ID, &5u32.to_ne_bytes());
        apply_all(
            &mut t,
            &with_dst(
                route(254, RTPROT_CLOS, std::slice::from_ref(&nh)),
                [1, 0, 0, 0],
                20,
            ),
        );
        apply_all(
            &mut t,
            &with_dst(route(254, RTPROT_CLOS, &[nh]), [2, 0, 0, 0], 20),
        );
        assert_eq!((t.routes(), t.complete()), (2, 0));
        let mut group = Vec::new();
        for id in [1u32, 2] {
            group.extend_from_slice(&id.to_ne_bytes());
            group.extend_from_slice(&[1, 0, 0, 0]);
        }
        let grp = [
            &[0u8, 0, RTPROT_CLOS, 0, 0, 0, 0, 0][..],
            &attr(NHA_ID, &5u32.to_ne_bytes()),
            &attr(NHA_GROUP, &group),
        ]
        .concat();
        apply_all(&mut t, &message(RTM_NEWNEXTHOP, &grp));
        assert_eq!(t.complete(), 2);
        apply_all(&mut t, &message(RTM_DELNEXTHOP, &grp));
        assert_eq!(t.complete(), 0);
    }

    #[test]
    fn dump_request_layout() {
        let r = dump_request(RTM_GETROUTE, 7, AF_INET, RTMSG_LEN);
        assert_eq!(r.len(), 28);
        assert_eq!(u32_at(&r, 0), Some(28));
        assert_eq!(u16_at(&r, 4), Some(RTM_GETROUTE));
        assert_eq!(u16_at(&r, 6), Some(NLM_F_REQUEST | NLM_F_DUMP));
        assert_eq!(u32_at(&r, 8), Some(7));
        assert_eq!(r[16], AF_INET);
    }
}
