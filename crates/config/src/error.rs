//! The crate's one error type. Every error says where: the file, the
//! 1-based line when there is one, and the dotted key path of the
//! offending setting, so an operator can go straight to it.

/// Why a configuration was refused.
///
/// Displays as `FILE:LINE: KEY: MESSAGE`, leaving out the parts that are
/// unknown, e.g.
/// `closd.toml:12: neighbor[1].remote-as: expected an AS number or "external"/"internal", found "foo"`.
///
/// Key paths use the TOML names and count array elements from 0:
/// `neighbor[1]` is the second `[[neighbor]]` in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file (or the origin given to [`Config::from_str`](crate::Config::from_str)).
    pub file: String,
    /// 1-based line of the offending key or value; `None` when the problem
    /// has no place in the file (it cannot be read, a whole table is missing).
    pub line: Option<usize>,
    /// Dotted path of the offending key, e.g. `neighbor[0].hold-time`;
    /// empty for errors that concern no key (unreadable file, TOML syntax).
    pub key: String,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
    /// Which stage refused the configuration.
    pub kind: ErrorKind,
}

/// The stage at which a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Read(std::io::ErrorKind),
    /// The text is not valid TOML.
    Syntax,
    /// Valid TOML, but not a valid `closd` configuration.
    Invalid,
}

impl ConfigError {
    fn render(&self) -> String {
        let mut out = self.file.clone();
        if let Some(line) = self.line {
            out.push(':');
            out.push_str(&line.to_string());
        }
        out.push_str(": ");
        if !self.key.is_empty() {
            out.push_str(&self.key);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }

    pub(crate) fn read(file: &std::path::Path, error: &std::io::Error) -> Self {
        ConfigError {
            file: file.display().to_string(),
            line: None,
            key: String::new(),
            message: format!("cannot read config file: {error}"),
            kind: ErrorKind::Read(error.kind()),
        }
    }
}
