//! Span-carrying access to the parsed intent file (`toml::de::DeTable`), so
//! every check, however late, can name the file, the line and the key.
//!
//! The same approach as `clos-config`'s reader (whose types are private to
//! that crate): [`Table`] and [`Field`] carry the dotted key path that led
//! to them. This module knows TOML, not fabrics.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::IntentError;

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

    /// Parses the whole text; a syntax error keeps its line.
    pub(crate) fn parse(&self) -> Result<Spanned<DeTable<'a>>, IntentError> {
        DeTable::parse(self.text).map_err(|error| IntentError {
            file: self.origin.to_string(),
            line: error.span().map(|span| self.line(span.start)),
            key: String::new(),
            message: format!("invalid TOML: {}", error.message().trim()),
        })
    }

    /// An error at `span` (or nowhere) about `key`.
    pub(crate) fn error(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> IntentError {
        IntentError {
            file: self.origin.to_string(),
            line: span.map(|span| self.line(span.start)),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// A TOML table and where it came from.
pub(crate) struct Table<'a> {
    src: &'a Source<'a>,
    /// Dotted path, empty for the document root.
    path: String,
    /// How the table is written, for messages: `[fabric]`.
    header: String,
    entries: &'a DeTable<'a>,
}

impl<'a> Table<'a> {
    pub(crate) fn root(src: &'a Source<'a>, document: &'a Spanned<DeTable<'a>>) -> Self {
        Table {
            src,
            path: String::new(),
            header: "the top level".to_string(),
            entries: document.get_ref(),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Refuses any key not in `known`, suggesting the closest known one.
    pub(crate) fn check_keys(&self, known: &[&str]) -> Result<(), IntentError> {
        for (key, _) in self.entries.iter() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let mut message = format!("unknown key `{name}` in {}", self.header);
            match did_you_mean(name, known) {
                Some(candidate) => message.push_str(&format!(" (did you mean `{candidate}`?)")),
                None => {
                    let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                    message.push_str(&format!("; expected one of {}", list.join(", ")));
                }
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

    /// Every entry in file order, as (key, field).
    pub(crate) fn entries(&self) -> Vec<(String, Field<'a>)> {
        self.entries
            .iter()
            .map(|(name, value)| {
                let name: &str = name.get_ref();
                (
                    name.to_string(),
                    Field {
                        src: self.src,
                        path: self.key_path(name),
                        value,
                    },
                )
            })
            .collect()
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
    pub(crate) fn error(&self, message: impl Into<String>) -> IntentError {
        self.src.error(Some(self.value.span()), &self.path, message)
    }

    /// "expected WHAT, found VALUE".
    pub(crate) fn expected(&self, what: &str) -> IntentError {
        self.error(format!("expected {what}, found {}", self.describe()))
    }

    /// The value as written (scalars) or its kind (containers).
    pub(crate) fn describe(&self) -> String {
        match self.value.get_ref() {
            DeValue::String(text) => format!("{:?}", text.as_ref()),
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => self
                .src
                .text
                .get(self.value.span())
                .unwrap_or_default()
                .to_string(),
            DeValue::Datetime(_) => "a date-time".to_string(),
            DeValue::Array(_) => "an array".to_string(),
            DeValue::Table(_) => "a table".to_string(),
        }
    }

    /// A string, or an error saying `what` was expected.
    pub(crate) fn str(&self, what: &str) -> Result<&'a str, IntentError> {
        match self.value.get_ref() {
            DeValue::String(text) => Ok(text.as_ref()),
            _ => Err(self.expected(what)),
        }
    }

    pub(crate) fn bool(&self) -> Result<bool, IntentError> {
        match self.value.get_ref() {
            DeValue::Boolean(value) => Ok(*value),
            _ => Err(self.expected("true or false")),
        }
    }

    /// An integer in `low..=high`; `what` names the quantity in messages.
    pub(crate) fn int_in(&self, what: &str, low: i128, high: i128) -> Result<u32, IntentError> {
        let DeValue::Integer(int) = self.value.get_ref() else {
            return Err(self.expected(&format!("{what} (an integer, {low}..={high})")));
        };
        i128::from_str_radix(int.as_str(), int.radix())
            .ok()
            .filter(|value| (low..=high).contains(value))
            .and_then(|value| u32::try_from(value).ok())
            .ok_or_else(|| {
                self.error(format!(
                    "{} is out of range for {what}: expected {low}..={high}",
                    self.describe()
                ))
            })
    }

    /// The value as a table; `header` names it in messages (`[fabric]`).
    pub(crate) fn table(&self, header: &str) -> Result<Table<'a>, IntentError> {
        match self.value.get_ref() {
            DeValue::Table(entries) => Ok(Table {
                src: self.src,
                path: self.path.clone(),
                header: header.to_string(),
                entries,
            }),
            _ => Err(self.expected(&format!("a table {header}"))),
        }
    }
}

/// The candidate closest to a mistyped `name`, if close enough to be a
/// typo: equal after `_`→`-` and lowercasing, or within a small edit
/// distance.
pub(crate) fn did_you_mean<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let normal = name.replace('_', "-").to_lowercase();
    if let Some(found) = candidates.iter().find(|c| **c == normal) {
        return Some(found);
    }
    // A unique candidate that the name begins: `interval` for `interval-ms`.
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

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let src = Source::new("t", "a\nbc\n\nd");
        assert_eq!(src.line(0), 1);
        assert_eq!(src.line(2), 2);
        assert_eq!(src.line(5), 3);
        assert_eq!(src.line(6), 4);
    }

    #[test]
    fn suggestions() {
        let known = ["spines", "leaves", "hosts-per-leaf"];
        assert_eq!(
            did_you_mean("hosts_per_leaf", &known),
            Some("hosts-per-leaf")
        );
        assert_eq!(did_you_mean("spine", &known), Some("spines"));
        assert_eq!(did_you_mean("leavs", &known), Some("leaves"));
        assert_eq!(did_you_mean("colour", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
