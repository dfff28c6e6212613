//! clos-wire: the BGP-4 message codec (RFC 4271 §4) and its extensions.
//!
//! Owns: the byte layout of BGP messages, capabilities and path attributes,
//! and the RFC 7606 classification of malformed UPDATEs. Owns no I/O, no
//! timers, no async: every function takes bytes or values and returns values,
//! so it is fuzzed and property-tested directly.
//!
//! Layout:
//! - `types`        — message, capability and attribute values (the contract)
//! - `decode`       — bytes → values, with RFC 7606 outcomes
//! - `encode`       — values → bytes
//! - `error`        — NOTIFICATION codes and the decode error type
#![forbid(unsafe_code)]

pub mod types;

pub use types::*;
