//! The crate's error type.

use std::io;
use std::net::IpAddr;

/// Everything that can go wrong when starting BFD or adding a session.
/// Received packets never produce an `Error`: they are discarded, logged
/// and counted (RFC 5880 §6.8.6).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the BFD {what} socket: {source}")]
    Socket {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("no free UDP source port in 49152-65535 for the BFD session to {peer}: {source}")]
    NoSourcePort {
        peer: IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("interface {interface} of the BFD session to {peer}: {source}")]
    Interface {
        peer: IpAddr,
        interface: String,
        #[source]
        source: io::Error,
    },
    #[error("BFD session to {peer}: {reason}")]
    InvalidConfig { peer: IpAddr, reason: String },
    #[error("a BFD session to {peer} already exists")]
    Duplicate { peer: IpAddr },
    #[error("BFD needs a running tokio runtime (call from inside one)")]
    NoRuntime,
    #[error("the BFD manager has stopped")]
    Stopped,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
