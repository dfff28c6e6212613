//! The closd API: protobuf types, gRPC stubs, and its two transports: a
//! Unix socket, and TCP with a token.
//!
//! This crate owns the edge between the daemon and its clients:
//! - [`pb`] — the types and service generated from `proto/clos.proto`
//!   (`pb::clos_server` for the daemon, `pb::clos_client` for `closctl`).
//!   Every message derives `serde::Serialize` with the proto field names as
//!   keys, which is the `--json` contract of the CLI.
//! - [`serve`] and [`connect`] — gRPC over a Unix domain socket, with the
//!   socket housekeeping a daemon needs (stale sockets, a second daemon,
//!   owner-only permissions, clean-up on shutdown). No token: the socket's
//!   mode decides who may talk.
//! - [`bind_tcp`], [`serve_tcp`] and [`connect_to`] — gRPC over TCP, every
//!   request carrying the API token (`authorization: Bearer TOKEN`,
//!   checked in constant time; [`ApiToken`], `auth.rs`).
//!
//! It does not own the daemon's state or the CLI's rendering: conversions
//! from internal types live with the daemon, tables live in `closctl`.
#![forbid(unsafe_code)]

mod auth;
mod error;
mod tcp;
mod transport;

pub use auth::{ApiToken, RequireToken, SendToken};
pub use error::ApiError;
pub use tcp::{bind_tcp, connect_to, serve_tcp, Client, Target};
pub use transport::{connect, serve};

/// Types and gRPC stubs generated from `proto/clos.proto` (package `clos.v1`).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("clos.v1");
}

/// Serde helpers referenced from the generated code (see `build.rs`).
#[doc(hidden)]
pub mod json {
    use serde::{Serialize, Serializer};

    /// Serializes an absent message as its default value, so JSON readers
    /// always find every key of a nested message.
    pub fn some_or_default<T, S>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize + Default,
        S: Serializer,
    {
        match value {
            Some(v) => v.serialize(serializer),
            None => T::default().serialize(serializer),
        }
    }
}
