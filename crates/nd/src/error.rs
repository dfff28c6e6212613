//! The crate's error type.

use std::io;

/// Errors of peer discovery. Invalid arguments are reported by
/// [`crate::Discovery::start`]; the others end [`crate::DiscoveryTask::run`]
/// or [`crate::lookup`]. Trouble on one interface that may pass (it does
/// not exist yet, its address is still tentative, a send failed) is not an
/// error: it is retried, logged, and shown in [`crate::InterfaceStatus`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An interface name the kernel would never accept.
    #[error("invalid interface name {name:?}: {reason}")]
    InvalidInterface {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An option out of range.
    #[error("invalid discovery option {option}: {reason}")]
    InvalidOption {
        /// The field of [`crate::Options`].
        option: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The process may not open raw ICMPv6 sockets.
    #[error(
        "cannot open a raw ICMPv6 socket on {interface}: {source} \
         (sending Router Advertisements needs CAP_NET_RAW)"
    )]
    Permission {
        /// The interface.
        interface: String,
        /// The system error.
        source: io::Error,
    },
    /// The `NETLINK_ROUTE` socket that reports interfaces failed.
    #[error("netlink: {operation}: {source}")]
    Netlink {
        /// What we were doing.
        operation: &'static str,
        /// The system error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn netlink(operation: &'static str, source: impl Into<io::Error>) -> Error {
        Error::Netlink {
            operation,
            source: source.into(),
        }
    }
}
