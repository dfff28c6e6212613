//! The crate's one error type.
//!
//! [`Error`] is used both for whole-call failures (the socket broke, a dump
//! could not be decoded) and for the per-route failures that
//! [`crate::KernelFib::apply`] reports without failing the batch. It is
//! `Clone` because one failed nexthop object fails every route that uses it.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

/// The netlink request a kernel error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `RTM_NEWNEXTHOP` for a single next hop.
    AddNexthop,
    /// `RTM_NEWNEXTHOP` for an ECMP group.
    AddGroup,
    /// `RTM_DELNEXTHOP`.
    DeleteNexthop,
    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`.
    AddRoute,
    /// `RTM_NEWROUTE` with `NLM_F_REPLACE`.
    ReplaceRoute,
    /// `RTM_DELROUTE`.
    DeleteRoute,
    /// `RTM_GETROUTE` for one destination.
    Lookup,
    /// A `NLM_F_DUMP` request.
    Dump,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::AddNexthop => "add nexthop",
            Op::AddGroup => "add nexthop group",
            Op::DeleteNexthop => "delete nexthop",
            Op::AddRoute => "add route",
            Op::ReplaceRoute => "replace route",
            Op::DeleteRoute => "delete route",
            Op::Lookup => "route lookup",
            Op::Dump => "dump",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The kernel answered a request with an error (`nlmsgerr.error < 0`).
    /// `message` is the kernel's extended-ACK text, when it gave one
    /// (e.g. "Nexthop has invalid gateway").
    #[error("kernel refused {op}: {} (errno {errno}){}", io::Error::from_raw_os_error(*errno), fmt_message(message))]
    Kernel {
        /// Which request failed.
        op: Op,
        /// Positive errno (`ENETUNREACH`, `EEXIST`, ...).
        errno: i32,
        /// Extended-ACK message, if any.
        message: Option<String>,
    },
    /// A route of another protocol already sits at this prefix (same table,
    /// same metric). We never replace it: see [`crate::KernelFib::apply`].
    #[error(
        "{prefix}: a route of another protocol exists in table {table}; refusing to replace it"
    )]
    ForeignRoute {
        /// The prefix we wanted to install.
        prefix: IpNet,
        /// Our table.
        table: u32,
    },
    /// The route cannot be expressed (no next hops, IPv6 prefix via an IPv4
    /// gateway, ...). Nothing was sent to the kernel.
    #[error("{prefix}: invalid route: {reason}")]
    InvalidRoute {
        /// The offending prefix.
        prefix: IpNet,
        /// Why.
        reason: &'static str,
    },
    /// A next hop without an interface whose gateway the kernel cannot route.
    #[error("gateway {gateway} is unreachable: no route to resolve its interface")]
    Unresolvable {
        /// The gateway that has no route.
        gateway: IpAddr,
    },
    /// A [`crate::Config`] we cannot work with.
    #[error("invalid kernel FIB configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// Our nexthop-id range is full.
    #[error("nexthop id range {start:#x}..{end:#x} is exhausted")]
    NexthopIdsExhausted {
        /// First id of the range.
        start: u32,
        /// One past the last id of the range.
        end: u32,
    },
    /// A socket call failed.
    #[error("netlink socket: {context}: {source}")]
    Socket {
        /// What we were doing.
        context: &'static str,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The kernel sent something we could not decode.
    #[error("cannot decode {what} from the kernel")]
    Decode {
        /// Which message.
        what: &'static str,
    },
    /// The kernel dropped ACKs because our receive buffer overflowed; the
    /// outcome of the requests in flight is unknown (dump to resynchronise).
    #[error("netlink receive buffer overrun: ACKs lost (ENOBUFS)")]
    Overrun,
    /// Creating, entering or deleting a network namespace failed (test and
    /// benchmark support, [`crate::netns`]).
    #[error("network namespace {name}: {reason}")]
    Netns {
        /// Namespace name.
        name: String,
        /// What failed.
        reason: String,
    },
}

fn fmt_message(message: &Option<String>) -> String {
    match message {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

impl Error {
    /// The kernel's errno, if this is a kernel error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Socket { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn socket(context: &'static str, source: io::Error) -> Self {
        if source.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) {
            return Error::Overrun;
        }
        Error::Socket {
            context,
            source: Arc::new(source),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
