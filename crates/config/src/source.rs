//! Reading a span-carrying TOML document (`toml::de::DeTable`) with errors
//! that point into the file.
//!
//! [`Table`] and [`Field`] wrap the parsed document together with the key
//! path that led to them, so every check made while building the
//! configuration, however late, can name the file, the line and the key.
//! This module knows TOML types and nothing of BGP; `load.rs` knows BGP.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{ConfigError, ErrorKind};

/// The text being parsed and its name, with a line index for spans.
pub(crate) struct Source<'a> {
    origin: &'a str,
    text: &'a str,
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(origin: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Source {
            origin,
            text,
            line_starts,
        }
    }

    /// 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }

    /// Parses the whole text, turning a TOML syntax error into a
    /// [`ConfigError`] with its line.
    pub(crate) fn parse(&self) -> Result<Spanned<DeTable<'a>>, ConfigError> {
        DeTable::parse(self.text).map_err(|error| {
            let line = error.span().map(|span| self.line(span.start));
            let mut message = format!("invalid TOML: {}", error.message());
            if let Some(hint) = line.and_then(|line| self.quoting_hint(line)) {
                message.push_str("; ");
                message.push_str(&hint);
            }
            ConfigError {
                file: self.origin.to_string(),
                line,
                key: String::new(),
                message,
                kind: ErrorKind::Syntax,
            }
        })
    }

    /// The commonest TOML mistake in a router config is an unquoted address
    /// (`router-id = 10.0.0.1`), which the TOML parser reports as a bad
    /// float. When 1-based `line` is `key = value` with a bare value that is
    /// no TOML number or boolean, suggest the quoted form.
    fn quoting_hint(&self, line: usize) -> Option<String> {
        let text = self.text.lines().nth(line.checked_sub(1)?)?;
        let (key, value) = text.split_once('=')?;
        let (key, value) = (key.trim(), value.split('#').next()?.trim());
        let bare = !value.is_empty()
            && !value.starts_with(['"', '\'', '[', '{'])
            && value != "true"
            && value != "false"
            && value.replace('_', "").parse::<f64>().is_err();
        bare.then(|| format!("strings, addresses and prefixes must be quoted: {key} = \"{value}\""))
    }

    /// An [`ErrorKind::Invalid`] error at `span` (or nowhere).
    pub(crate) fn error(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.origin.to_string(),
            line: span.map(|span| self.line(span.start)),
            key: key.to_string(),
            message: message.into(),
            kind: ErrorKind::Invalid,
        }
    }
}

/// A TOML table and where it came from.
pub(crate) struct Table<'a> {
    src: &'a Source<'a>,
    /// Dotted path of the table, empty for the document root.
    path: String,
    /// How the table is written, for messages: `[router]`, `[[neighbor]]`.
    header: &'static str,
    span: Range<usize>,
    entries: &'a DeTable<'a>,
}

impl<'a> Table<'a> {
    pub(crate) fn root(src: &'a Source<'a>, document: &'a Spanned<DeTable<'a>>) -> Self {
        Table {
            src,
            path: String::new(),
            header: "the top level",
            span: document.span(),
            entries: document.get_ref(),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Path of a key inside this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about the table as a whole, at its header.
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        self.src.error(Some(self.span.clone()), &self.path, message)
    }

    /// The 1-based line of the table's header.
    pub(crate) fn line(&self) -> usize {
        self.src.line(self.span.start)
    }

    /// Refuses any key not in `known`, suggesting the closest known one.
    pub(crate) fn check_keys(&self, known: &[&str]) -> Result<(), ConfigError> {
        for (key, _) in self.entries.iter() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let mut message = format!("unknown key `{name}` in {}", self.header);
            match did_you_mean(name, known) {
                Some(candidate) => message.push_str(&format!(" (did you mean `{candidate}`?)")),
                None => message.push_str(&format!(
                    "; expected one of {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            return Err(self
                .src
                .error(Some(key.span()), &self.key_path(name), message));
        }
        Ok(())
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<Field<'a>> {
        self.entries
            .iter()
            .find(|(name, _)| name.get_ref() == key)
            .map(|(_, value)| Field {
                src: self.src,
                path: self.key_path(key),
                value,
            })
    }

    /// The value of `key`, or an error at the table's header saying it is
    /// missing.
    pub(crate) fn require(&self, key: &str) -> Result<Field<'a>, ConfigError> {
        self.get(key).ok_or_else(|| {
            self.src.error(
                Some(self.span.clone()),
                &self.key_path(key),
                format!("missing required key `{key}` in {}", self.header),
            )
        })
    }
}

/// One value in the document, with its key path and span.
pub(crate) struct Field<'a> {
    src: &'a Source<'a>,
    path: String,
    value: &'a Spanned<DeValue<'a>>,
}

impl<'a> Field<'a> {
    /// The 1-based line of the value.
    pub(crate) fn line(&self) -> usize {
        self.src.line(self.value.span().start)
    }

    /// An error about this value.
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        self.src.error(Some(self.value.span()), &self.path, message)
    }

    /// "expected WHAT, found VALUE".
    pub(crate) fn expected(&self, what: &str) -> ConfigError {
        self.error(format!("expected {what}, found {}", self.describe()))
    }

    /// A short rendering of the value for messages: strings quoted,
    /// numbers and booleans as written, containers by kind.
    pub(crate) fn describe(&self) -> String {
        match self.value.get_ref() {
            DeValue::String(text) => format!("{:?}", text.as_ref()),
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {
                // As written in the file, underscores and radix prefix
                // included.
                self.src
                    .text
                    .get(self.value.span())
                    .unwrap_or_default()
                    .to_string()
            }
            DeValue::Datetime(_) => "a date-time".to_string(),
            DeValue::Array(_) => "an array".to_string(),
            DeValue::Table(_) => "a table".to_string(),
        }
    }

    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match self.value.get_ref() {
            DeValue::String(text) => Some(text.as_ref()),
            _ => None,
        }
    }

    /// A string, or an error naming `what` was expected.
    pub(crate) fn str(&self, what: &str) -> Result<&'a str, ConfigError> {
        self.as_str().ok_or_else(|| self.expected(what))
    }

    pub(crate) fn bool(&self) -> Result<bool, ConfigError> {
        match self.value.get_ref() {
            DeValue::Boolean(value) => Ok(*value),
            _ => Err(self.expected("true or false")),
        }
    }

    /// The value as an integer, if it is one. Wide enough for any TOML
    /// integer; values past `i128` (not valid TOML anyway) read as `None`.
    pub(crate) fn as_int(&self) -> Option<i128> {
        match self.value.get_ref() {
            DeValue::Integer(int) => i128::from_str_radix(int.as_str(), int.radix()).ok(),
            _ => None,
        }
    }

    pub(crate) fn is_int(&self) -> bool {
        matches!(self.value.get_ref(), DeValue::Integer(_))
    }

    /// An integer in `low..=high`, converted to `T`; `what` names the
    /// quantity in messages ("a hold time").
    pub(crate) fn int_in<T: TryFrom<i128>>(
        &self,
        what: &str,
        low: i128,
        high: i128,
    ) -> Result<T, ConfigError> {
        if !self.is_int() {
            return Err(self.expected(&format!("{what} (an integer, {low}..={high})")));
        }
        self.as_int()
            .filter(|value| (low..=high).contains(value))
            .and_then(|value| T::try_from(value).ok())
            .ok_or_else(|| {
                self.error(format!(
                    "{} is out of range for {what}: expected {low}..={high}",
                    self.describe()
                ))
            })
    }

    /// The elements of an array, each with its indexed path.
    pub(crate) fn array(&self, what: &str) -> Result<Vec<Field<'a>>, ConfigError> {
        match self.value.get_ref() {
            DeValue::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(index, value)| Field {
                    src: self.src,
                    path: format!("{}[{index}]", self.path),
                    value,
                })
                .collect()),
            _ => Err(self.expected(what)),
        }
    }

    /// The value as a table; `header` names it in messages.
    pub(crate) fn table(&self, header: &'static str) -> Result<Table<'a>, ConfigError> {
        match self.value.get_ref() {
            DeValue::Table(entries) => Ok(Table {
                src: self.src,
                path: self.path.clone(),
                header,
                span: self.value.span(),
                entries,
            }),
            _ => Err(self.expected(&format!("a table {header}"))),
        }
    }

    /// Whether the value is a table (as opposed to an array of tables).
    pub(crate) fn is_table(&self) -> bool {
        matches!(self.value.get_ref(), DeValue::Table(_))
    }
}

/// The candidate closest to a mistyped `name`, if one is close enough to be
/// a plausible typo: same after `_`→`-` and lowercasing, or within a small
/// edit distance.
pub(crate) fn did_you_mean<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let normal = name.replace('_', "-").to_lowercase();
    if let Some(found) = candidates.iter().find(|c| **c == normal) {
        return Some(found);
    }
    // A unique candidate that the name begins: `ipv4` for `ipv4-unicast`.
    if name.len() >= 3 {
        let mut extending = candidates.iter().filter(|c| c.starts_with(&normal));
        if let (Some(found), None) = (extending.next(), extending.next()) {
            return Some(found);
        }
    }
    let budget = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|candidate| (edit_distance(&normal, candidate), *candidate))
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance over chars, counting a swap of neighbours as one edit
/// (optimal string alignment), since `tabel` for `table` is one typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let src = Source::new("t", "a\nbc\n\nd");
        assert_eq!(src.line(0), 1);
        assert_eq!(src.line(1), 1);
        assert_eq!(src.line(2), 2);
        assert_eq!(src.line(5), 3);
        assert_eq!(src.line(6), 4);
    }

    #[test]
    fn suggestions() {
        let known = ["remote-as", "address", "interface"];
        assert_eq!(did_you_mean("remote_as", &known), Some("remote-as"));
        assert_eq!(did_you_mean("adress", &known), Some("address"));
        assert_eq!(did_you_mean("interfce", &known), Some("interface"));
        assert_eq!(did_you_mean("colour", &known), None);
        assert_eq!(did_you_mean("tabel", &["kernel", "table"]), Some("table"));
        let families = ["ipv4-unicast", "ipv6-unicast"];
        assert_eq!(did_you_mean("ipv4", &families), Some("ipv4-unicast"));
        assert_eq!(did_you_mean("ipv", &families), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
