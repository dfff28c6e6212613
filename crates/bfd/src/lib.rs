//! Bidirectional Forwarding Detection for `clos`: RFC 5880 asynchronous
//! mode over RFC 5881 single-hop UDP (IPv4 and IPv6), as a library that a
//! client — BGP — asks for sessions and hears state changes from. A BFD
//! Down is meant to tear the client's session down at once.
//!
//! Files, one idea each:
//! - `packet.rs` — the Control packet (RFC 5880 §4.1) and the packet-level
//!   reception checks of §6.8.6. No I/O.
//! - `session.rs` — one session as a pure state machine,
//!   `step(event, now) -> actions` (§6.2 states, §6.5 Poll Sequence,
//!   §6.8.1–§6.8.7 variables, timers and transmission rules). No I/O, no
//!   clock.
//! - `socket.rs` — the UDP sockets of RFC 5881: port 3784, source ports
//!   49152–65535, TTL 255 sent and checked on receipt.
//! - `manager.rs` — [`BfdManager`]: receive tasks that demultiplex packets to
//!   sessions (§6.3), a task per session that owns its state machine, send
//!   socket and timer, and the channel of [`StateChange`]s.
//!
//! Not implemented: authentication (§6.7; packets with the A bit are
//! discarded), Demand mode and the Echo function (we never ask for them, and
//! honour a peer's Demand mode by ceasing periodic packets, §6.8.7),
//! multihop (RFC 5883).
//!
//! ```no_run
//! # async fn example() -> clos_bfd::Result<()> {
//! use std::time::Duration;
//! use clos_bfd::{BfdManager, SessionConfig, SessionState};
//!
//! let (bfd, mut changes) = BfdManager::start().await?;
//! let peer = "192.0.2.2".parse().unwrap();
//! bfd.add(SessionConfig::new(peer).with_timers(Duration::from_millis(50), 3))?;
//! while let Some(change) = changes.recv().await {
//!     if change.state == SessionState::Down && change.previous == SessionState::Up {
//!         // tear the BGP session to change.peer down
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod error;
mod manager;
pub mod packet;
pub mod session;
pub mod socket;

pub use error::{Error, Result};
pub use manager::{
    BfdManager, ReceiveCounters, SessionConfig, SessionCounters, SessionId, SessionInfo,
    StateChange,
};
pub use packet::{ControlPacket, Diagnostic, PacketError, SessionState};
pub use session::{Action, Event, Session, Timers, Transition};
