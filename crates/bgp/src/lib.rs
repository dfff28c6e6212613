//! clos-bgp: the BGP-4 speaker (RFC 4271) — sessions, FSM, Adj-RIBs, the
//! decision process and policy.
//!
//! Owns: everything between a TCP connection to a neighbor and the Loc-RIB.
//! Does not own: the byte layout of messages (`clos-wire`), the config file
//! (`clos-config`; the daemon converts it into `SpeakerConfig`), the API
//! transport (`clos-api`), or forwarding tables (the RIB reports forwarding
//! changes to a `fib::FibSink` the daemon provides).
//!
//! Layout:
//! - `fsm`       — per-connection state machine and OPEN negotiation, pure
//! - `session`   — the task per neighbor: connections, timers, reader/writer
//! - `rib`       — the RIB task: Adj-RIB-In, Loc-RIB, export to peers
//! - `adj_out`   — pending-prefix map between the RIB and a session writer
//! - `fib`       — the forwarding changes the RIB hands to a FIB (`FibSink`)
//! - `loc_rib`   — per-family prefix maps: an index table over a chunked slab
//! - `decision`  — best path per RFC 4271 §9.1.2.2, with the losing reason
//! - `policy`    — prefix lists and import/export policies
//! - `peer`      — neighbor configuration and the state shared with the API
//! - `speaker`   — starts all tasks; the API's entry point
//! - `sockopt`   — GTSM (RFC 5082) and TCP MD5 (RFC 2385) socket options
//!
//! Unsafe code is denied everywhere but in `sockopt`'s two system calls,
//! which carry their own `#[allow]` and safety argument.
#![deny(unsafe_code)]

pub mod adj_out;
pub mod decision;
pub mod fib;
pub mod fsm;
mod loc_rib;
pub mod peer;
pub mod policy;
pub mod rib;
pub mod session;
pub mod sockopt;
pub mod speaker;

use std::net::SocketAddr;

/// Errors of the speaker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A per-neighbor socket option on a listener could not be set (TCP
    /// MD5 key, GTSM): starting without it would weaken the session.
    #[error("cannot set {what} for neighbor {peer} on the listener {address}: {source}")]
    ListenerOption {
        what: &'static str,
        peer: String,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the BGP speaker has stopped")]
    Stopped,
}
