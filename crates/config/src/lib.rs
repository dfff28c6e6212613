//! Configuration of the `closd` daemon: TOML in, a validated [`Config`] out.
//!
//! This crate owns the file format and its validation; it does no I/O
//! beyond reading the file (and the API token file it names, checked for
//! mode and read at load time), and knows nothing of sessions or routes. The
//! daemon, the CLI (for the default API socket) and the lab (which renders
//! per-switch files) all read the same types. The reference of every key is
//! `docs/config.md` at the repository root.
//!
//! Every refusal is a [`ConfigError`] that names the file, the line and the
//! dotted key, e.g.
//!
//! ```text
//! closd.toml:12: neighbor[1].remote-as: expected an AS number or "external"/"internal", found "foo"
//! ```
//!
//! so `closd` can exit with a message an operator acts on, and never start
//! half-configured. Validation happens after TOML parsing on a document that
//! keeps the byte span of every key and value (`toml::de::DeTable`), which
//! is why even cross-table checks (a policy naming an unknown prefix list,
//! a duplicate neighbour) point at a line.
//!
//! Files:
//! - `model.rs` — the validated types and their small helpers
//!   ([`PrefixList::evaluate`], [`Neighbor::is_ebgp`]);
//! - `load.rs` — TOML to [`Config`], one function per table;
//! - `source.rs` — span-carrying access to the TOML document;
//! - `error.rs` — [`ConfigError`].
//!
//! ```
//! let config = clos_config::Config::from_str(
//!     r#"
//!     [router]
//!     asn = 65000
//!     router-id = "10.0.0.1"
//!
//!     [[neighbor]]
//!     address = "192.0.2.2"
//!     remote-as = 65001
//!     "#,
//!     "closd.toml",
//! )?;
//! assert_eq!(config.router.hold_time, 90);
//! assert_eq!(config.neighbors[0].import, clos_config::Policy::Reject); // RFC 8212
//! # Ok::<(), clos_config::ConfigError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod load;
mod model;
mod source;

use std::path::Path;

pub use clos_wire::Family;
pub use error::{ConfigError, ErrorKind};
pub use model::*;

impl Config {
    /// Reads, parses and validates the file at `path`. Errors name the file
    /// as given; an unreadable file gives the OS error.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::read(path, &e))?;
        let mut config = load::load(&path.display().to_string(), &text)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates `text`. `origin` names the file in errors
    /// (e.g. `"closd.toml"`, `"<stdin>"`); [`Config::source`] stays `None`.
    #[allow(clippy::should_implement_trait)] // two arguments: not `FromStr`
    pub fn from_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        load::load(origin, text)
    }
}
