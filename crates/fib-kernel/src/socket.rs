//! A blocking `NETLINK_ROUTE` socket with pipelined requests.
//!
//! Owns: the socket options, sequence numbers, and the two ways we talk to
//! the kernel: [`RouteSocket::execute`] (a batch of change requests) and
//! [`RouteSocket::dump`] (a multi-part `NLM_F_DUMP` answer).
//!
//! # Pipelining
//! rtnetlink processes every message of one `sendmsg` synchronously, in
//! order, inside the system call. So a batch is sent in chunks of up to
//! [`CHUNK_BYTES`]; only the *last* message of a chunk asks for an ACK
//! (`NLM_F_ACK`). The kernel answers every failed request with an
//! `NLMSG_ERROR` regardless, so after one chunk the receive queue holds the
//! errors (matched to requests by sequence number) followed by the final
//! ACK. A million routes cost about two thousand `sendmsg`/`recv` pairs,
//! where `ip -batch` pays one pair per route.
//!
//! The receive buffer is forced to [`RECV_BUFFER`] (`SO_RCVBUFFORCE`, we are
//! root) so a chunk whose every request fails still fits; if the kernel
//! ever drops an answer anyway, we return [`Error::Overrun`] rather than
//! guess.

use std::io;
use std::os::fd::AsFd;

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{Error, Op, Result};
use crate::wire::{self, RequestBuf, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};

/// Most bytes handed to one `sendmsg` (well under the default `SO_SNDBUF`).
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;
/// Most requests in one `sendmsg`: bounds the error replies one chunk can
/// queue (each costs roughly 1 KiB of receive-buffer truesize).
pub(crate) const CHUNK_MESSAGES: usize = 1024;
/// Receive buffer we force on the socket.
pub(crate) const RECV_BUFFER: usize = 8 * 1024 * 1024;
/// Size of one `recv`. Dump datagrams are at most 32 KiB.
const RECV_CHUNK: usize = 64 * 1024;

/// What [`RouteSocket::dump`] hands its callback.
pub(crate) enum DumpItem<'a> {
    /// One message of the answer: type and payload.
    Message(u16, &'a [u8]),
    /// The dump was interrupted and starts over: drop what was collected.
    Restart,
}

/// A `NETLINK_ROUTE` socket bound in the network namespace of the thread
/// that opened it.
pub(crate) struct RouteSocket {
    socket: Socket,
    next_seq: u32,
    recv_buf: Vec<u8>,
}

impl RouteSocket {
    pub(crate) fn open() -> Result<Self> {
        let mut socket =
            Socket::new(NETLINK_ROUTE).map_err(|e| Error::socket("open NETLINK_ROUTE", e))?;
        socket.bind_auto().map_err(|e| Error::socket("bind", e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::socket("connect", e))?;
        // Error replies carry only the request header plus the kernel's text.
        socket
            .set_cap_ack(true)
            .map_err(|e| Error::socket("NETLINK_CAP_ACK", e))?;
        socket
            .set_ext_ack(true)
            .map_err(|e| Error::socket("NETLINK_EXT_ACK", e))?;
        // Lets the kernel filter route dumps by table and protocol.
        socket
            .set_netlink_get_strict_chk(true)
            .map_err(|e| Error::socket("NETLINK_GET_STRICT_CHK", e))?;
        force_recv_buffer(&socket, RECV_BUFFER)?;
        Ok(RouteSocket {
            socket,
            next_seq: 1,
            recv_buf: Vec::with_capacity(RECV_CHUNK),
        })
    }

    /// A fresh request buffer whose sequence numbers this socket reserves.
    pub(crate) fn requests(&mut self) -> RequestBuf {
        RequestBuf::new(self.next_seq)
    }

    fn reserve(&mut self, buf: &RequestBuf) {
        self.next_seq = self.next_seq.wrapping_add(buf.len() as u32 + 1);
    }

    /// Sends every request of `buf`; returns, per request, `None` when the
    /// kernel accepted it or the kernel's error. `op(i)` names request `i`
    /// in errors.
    pub(crate) fn execute(
        &mut self,
        mut buf: RequestBuf,
        op: impl Fn(usize) -> Op,
    ) -> Result<Vec<Option<Error>>> {
        self.reserve(&buf);
        let mut results: Vec<Option<Error>> = vec![None; buf.len()];
        let mut first = 0;
        while first < buf.len() {
            // Grow the chunk while it fits.
            let start_byte = buf.starts[first];
            let mut last = first;
            while last + 1 < buf.len()
                && last + 1 - first < CHUNK_MESSAGES
                && buf.message_end(last + 1) - start_byte <= CHUNK_BYTES
            {
                last += 1;
            }
            buf.request_ack(last);
            let end_byte = buf.message_end(last);
            self.socket
                .send(&buf.bytes[start_byte..end_byte], 0)
                .map_err(|e| Error::socket("send requests", e))?;
            let last_seq = buf.first_seq.wrapping_add(last as u32);
            let mut done = false;
            while !done {
                self.recv()?;
                for message in wire::messages(&self.recv_buf) {
                    if message.kind != NLMSG_ERROR {
                        continue;
                    }
                    let index = message.seq.wrapping_sub(buf.first_seq) as usize;
                    if index < first || index > last {
                        continue; // a stale answer to an earlier call
                    }
                    let ack = wire::parse_ack(message.flags, message.payload)
                        .ok_or(Error::Decode { what: "nlmsgerr" })?;
                    if ack.errno != 0 {
                        results[index] = Some(Error::Kernel {
                            op: op(index),
                            errno: ack.errno,
                            message: ack.message,
                        });
                    }
                    if message.seq == last_seq {
                        done = true;
                    }
                }
            }
            first = last + 1;
        }
        Ok(results)
    }

    /// Sends one request and returns the first answer that is not an ACK
    /// (e.g. `RTM_NEWROUTE` for `RTM_GETROUTE`), or the kernel's error.
    pub(crate) fn request(&mut self, buf: RequestBuf, op: Op) -> Result<(u16, Vec<u8>)> {
        self.reserve(&buf);
        self.socket
            .send(&buf.bytes, 0)
            .map_err(|e| Error::socket("send request", e))?;
        loop {
            self.recv()?;
            for message in wire::messages(&self.recv_buf) {
                if message.seq != buf.first_seq {
                    continue;
                }
                if message.kind == NLMSG_ERROR {
                    let ack = wire::parse_ack(message.flags, message.payload)
                        .ok_or(Error::Decode { what: "nlmsgerr" })?;
                    return Err(Error::Kernel {
                        op,
                        errno: ack.errno,
                        message: ack.message,
                    });
                }
                return Ok((message.kind, message.payload.to_vec()));
            }
        }
    }

    /// Runs a dump request and calls `each` for every message of the
    /// answer. A dump interrupted by a concurrent change (`NLM_F_DUMP_INTR`)
    /// is retried from scratch, up to three times, after
    /// `each(DumpItem::Restart)`.
    pub(crate) fn dump(
        &mut self,
        build: impl Fn(&mut RequestBuf),
        mut each: impl FnMut(DumpItem<'_>) -> Result<()>,
    ) -> Result<()> {
        for attempt in 0.. {
            let mut buf = self.requests();
            build(&mut buf);
            self.reserve(&buf);
            self.socket
                .send(&buf.bytes, 0)
                .map_err(|e| Error::socket("send dump request", e))?;
            let mut interrupted = false;
            loop {
                self.recv()?;
                let recv_buf = std::mem::take(&mut self.recv_buf);
                let outcome =
                    Self::dump_datagram(&recv_buf, buf.first_seq, &mut interrupted, &mut each);
                self.recv_buf = recv_buf;
                if outcome? {
                    break;
                }
            }
            if !interrupted || attempt >= 3 {
                return Ok(());
            }
            tracing::debug!(attempt, "dump interrupted by a concurrent change; retrying");
            each(DumpItem::Restart)?;
        }
        Ok(())
    }

    /// Handles one datagram of a dump; true once `NLMSG_DONE` is seen.
    fn dump_datagram(
        datagram: &[u8],
        seq: u32,
        interrupted: &mut bool,
        each: &mut impl FnMut(DumpItem<'_>) -> Result<()>,
    ) -> Result<bool> {
        for message in wire::messages(datagram) {
            if message.seq != seq {
                continue;
            }
            *interrupted |= message.flags & wire::NLM_F_DUMP_INTR != 0;
            match message.kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let ack = wire::parse_ack(message.flags, message.payload)
                        .ok_or(Error::Decode { what: "nlmsgerr" })?;
                    return Err(Error::Kernel {
                        op: Op::Dump,
                        errno: ack.errno,
                        message: ack.message,
                    });
                }
                NLMSG_NOOP => {}
                NLMSG_OVERRUN => return Err(Error::Overrun),
                kind => each(DumpItem::Message(kind, message.payload))?,
            }
        }
        Ok(false)
    }

    fn recv(&mut self) -> Result<()> {
        loop {
            self.recv_buf.clear();
            self.recv_buf.reserve(RECV_CHUNK);
            match self.socket.recv(&mut self.recv_buf, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::socket("recv", e)),
            }
        }
    }
}

/// `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`); falls back to `SO_RCVBUF`,
/// which the kernel caps at `net.core.rmem_max`.
pub(crate) fn force_recv_buffer(socket: &Socket, bytes: usize) -> Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(&socket.as_fd(), sockopt::RcvBufForce, &bytes).is_err() {
        setsockopt(&socket.as_fd(), sockopt::RcvBuf, &bytes)
            .map_err(|e| Error::socket("SO_RCVBUF", io::Error::from(e)))?;
    }
    Ok(())
}
