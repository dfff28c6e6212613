//! The error type of this crate.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong while serving or reaching the API (socket or TCP).
///
/// Each message is complete on its own, the underlying error included, so
/// the variants expose no `source()`: printing the chain (anyhow's `{:#}`)
/// would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A live daemon already answers on the socket path.
    #[error("another closd is running on {}", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },

    /// Something other than a socket sits at the socket path; we never
    /// delete a file we did not create.
    #[error("{} exists and is not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// The offending path.
        path: PathBuf,
    },

    /// A file-system or socket operation on the API socket failed.
    #[error("{action} {}: {}", path.display(), describe_io(error))]
    Io {
        /// What we were doing, e.g. "cannot bind API socket".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },

    /// A client could not reach the daemon.
    #[error(
        "cannot connect to closd at {}: {} — is closd running? (--socket PATH)",
        path.display(),
        describe_io(error)
    )]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },

    /// The gRPC transport failed (HTTP/2 set-up, serving).
    #[error("gRPC transport error on {}: {}", path.display(), describe_chain(error))]
    Transport {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        error: tonic::transport::Error,
    },

    /// The API's TCP listener could not be bound.
    #[error("cannot listen on {address}: {} ([api] listen)", describe_io(error))]
    TcpBind {
        /// The `[api] listen` address.
        address: SocketAddr,
        /// The underlying error.
        error: io::Error,
    },

    /// Serving the API on TCP failed.
    #[error("gRPC transport error on {address}: {error}")]
    TcpTransport {
        /// The listener's address.
        address: SocketAddr,
        /// The error and its causes, on one line.
        error: String,
    },

    /// A client could not reach the daemon's TCP listener.
    #[error(
        "cannot connect to closd at {address}: {error} — is closd listening there? ([api] listen)"
    )]
    TcpConnect {
        /// The address tried.
        address: SocketAddr,
        /// The error and its causes, on one line.
        error: String,
    },

    /// An API token is unusable (empty, unreadable, not printable ASCII).
    #[error("{origin}: {reason}")]
    Token {
        /// Where the token came from: a file path, or a description.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// An `io::Error` as a person reads it: "No such file or directory", without
/// the "(os error 2)" that `Display` appends.
pub(crate) fn describe_io(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(cut) if text.ends_with(')') => text[..cut].to_string(),
        _ => text,
    }
}

/// An error and its causes on one line, e.g. "transport error: connection
/// reset". tonic's transport errors keep the useful part in `source()`.
pub(crate) fn describe_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let part = inner.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_lose_the_os_error_suffix() {
        let error = io::Error::from_raw_os_error(2);
        assert_eq!(describe_io(&error), "No such file or directory");
        let custom = io::Error::other("plain");
        assert_eq!(describe_io(&custom), "plain");
    }

    #[test]
    fn messages_carry_their_cause_and_expose_no_source() {
        let error = ApiError::Io {
            action: "cannot bind API socket",
            path: PathBuf::from("/run/clos/closd.sock"),
            error: io::Error::from_raw_os_error(13),
        };
        assert_eq!(
            error.to_string(),
            "cannot bind API socket /run/clos/closd.sock: Permission denied"
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn connect_error_names_path_and_hint() {
        let error = ApiError::Connect {
            path: PathBuf::from("/run/clos/closd.sock"),
            error: io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            error.to_string(),
            "cannot connect to closd at /run/clos/closd.sock: No such file or directory \
             — is closd running? (--socket PATH)"
        );
    }
}
