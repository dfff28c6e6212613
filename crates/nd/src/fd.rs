//! Registration of our sockets with the tokio reactor: the crate's one
//! `unsafe` block.
//!
//! tokio has no type for raw ICMPv6 or netlink sockets, so they are polled
//! through [`AsyncFd`], whose constructor is `unsafe` since tokio 1.54: the
//! reactor keys its registration on the descriptor number, so the object
//! must keep returning the same open descriptor until it is dropped. That
//! invariant holds by construction for an [`OwnedFd`], which is the only
//! type this function accepts.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;

/// Registers `fd` with the current tokio runtime's reactor.
#[allow(unsafe_code)]
pub(crate) fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` owns an open descriptor, closes it only when
    // dropped, and its `as_raw_fd()` always returns that same descriptor;
    // the `AsyncFd` owns the `OwnedFd`, so the descriptor stays open and
    // unchanged for the registration's whole life.
    unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)
}
