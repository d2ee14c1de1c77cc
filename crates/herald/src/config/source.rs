//! Where things are in the TOML source: key paths, their byte spans, and line/column positions.
//!
//! The typed configuration is deserialized with serde, which loses positions. This module keeps
//! a second, span-preserving parse of the same text (`toml::de::DeTable`) so that any error, from
//! serde or from semantic validation, can point at `FILE:LINE:COL` and name the key.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::ConfigError;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A path to a value in the document, displayed as `sip.registrar.min_expires` or
/// `users[0].username`. The empty path is the document root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeyPath(Vec<Segment>);

impl KeyPath {
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path extended by the key `key`.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    /// This path extended by the array index `index`.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn depth(&self) -> usize {
        self.0.len()
    }

    /// The path without its last segment (the root stays the root).
    pub(crate) fn parent(&self) -> Self {
        let mut segments = self.0.clone();
        segments.pop();
        Self(segments)
    }

    /// The last segment when it is a key.
    pub(crate) fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Segment::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// The table header a user would write for this path: `[sip.registrar]`, `[[users]]`.
    pub(crate) fn header(&self) -> String {
        match self.0.last() {
            Some(Segment::Index(_)) => format!("[[{}]]", self.parent()),
            _ => format!("[{self}]"),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write_key(f, key)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes a key bare when TOML allows it, quoted otherwise.
fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        f.write_str(key)
    } else {
        write!(f, "{key:?}")
    }
}

/// The source text, its name for messages, and (once it parsed) its span-preserving tree.
pub(crate) struct SourceMap<'a> {
    origin: &'a str,
    src: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> SourceMap<'a> {
    /// Parses `src` keeping spans; a syntax error comes back as a positioned [`ConfigError`].
    pub(crate) fn parse(src: &'a str, origin: &'a str) -> Result<Self, ConfigError> {
        let mut map = Self {
            origin,
            src,
            root: None,
        };
        match DeTable::parse(src) {
            Ok(root) => {
                map.root = Some(root);
                Ok(map)
            }
            Err(err) => {
                let offset = err.span().map(|span| span.start);
                Err(map.error_at_offset(
                    offset,
                    None,
                    format!("TOML syntax error: {}", err.message()),
                ))
            }
        }
    }

    /// A map with no source (used for the embedded defaults): errors carry no position.
    pub(crate) fn without_source(origin: &'a str) -> Self {
        Self {
            origin,
            src: "",
            root: None,
        }
    }

    /// An error about `path`, positioned at its value, or at its nearest ancestor present in the
    /// source when the key itself is absent (a default or a missing required key).
    pub(crate) fn error_at(&self, path: &KeyPath, message: impl fmt::Display) -> ConfigError {
        let offset = self.nearest_span(path).map(|span| span.start);
        self.error_at_offset(offset, Some(path), format!("`{path}`: {message}"))
    }

    /// A one-line `FILE:LINE:COL: message` string for warnings about `path`.
    pub(crate) fn warning_at(&self, path: &KeyPath, message: impl fmt::Display) -> String {
        self.error_at(path, message).to_string()
    }

    pub(crate) fn error_at_offset(
        &self,
        offset: Option<usize>,
        path: Option<&KeyPath>,
        message: String,
    ) -> ConfigError {
        let position = offset.map(|offset| self.line_col(offset));
        let key = path.filter(|p| !p.is_root()).map(ToString::to_string);
        ConfigError::new(self.origin, position, key, message)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.src.len());
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.src[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// Whether the document sets `path` explicitly.
    pub(crate) fn contains(&self, path: &KeyPath) -> bool {
        self.value(path).is_some()
    }

    /// Whether the value at `path` is a table (`[section]` or inline).
    pub(crate) fn is_table(&self, path: &KeyPath) -> bool {
        matches!(
            self.value(path).map(Spanned::get_ref),
            Some(DeValue::Table(_))
        )
    }

    fn nearest_span(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut path = path.clone();
        while !path.is_root() {
            if let Some(value) = self.value(&path) {
                return Some(value.span());
            }
            path = path.parent();
        }
        None
    }

    fn value(&self, path: &KeyPath) -> Option<&Spanned<DeValue<'a>>> {
        let root = self.root.as_ref()?;
        let mut segments = path.0.iter();
        let Some(Segment::Key(first)) = segments.next() else {
            return None;
        };
        let mut current = table_get(root.get_ref(), first)?;
        for segment in segments {
            current = match (segment, current.get_ref()) {
                (Segment::Key(key), DeValue::Table(table)) => table_get(table, key)?,
                (Segment::Index(index), DeValue::Array(array)) => array.get(*index)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The key path at `offset`: the deepest key whose name covers it, else the deepest value.
    ///
    /// Keys win because implicit tables (`[a.b.c]` creating `a` and `a.b`) carry the span of
    /// the whole header, which covers the names of their parents too.
    pub(crate) fn path_at(&self, offset: usize) -> KeyPath {
        let mut found = Found::default();
        if let Some(root) = &self.root {
            walk_table(root.get_ref(), &KeyPath::root(), offset, &mut found);
        }
        if found.key.is_root() {
            found.value
        } else {
            found.key
        }
    }
}

#[derive(Default)]
struct Found {
    key: KeyPath,
    value: KeyPath,
}

fn table_get<'t, 'a>(table: &'t DeTable<'a>, key: &str) -> Option<&'t Spanned<DeValue<'a>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

fn deeper(candidate: &KeyPath, best: &mut KeyPath) {
    if candidate.depth() > best.depth() {
        *best = candidate.clone();
    }
}

// A table's own span is its header only, not its body, so every node is visited.
fn walk_table(table: &DeTable<'_>, path: &KeyPath, offset: usize, found: &mut Found) {
    for (key, value) in table.iter() {
        let child = path.key(key.get_ref());
        if covers(&key.span(), offset) {
            deeper(&child, &mut found.key);
        }
        walk_value(value, &child, offset, found);
    }
}

fn walk_value(value: &Spanned<DeValue<'_>>, path: &KeyPath, offset: usize, found: &mut Found) {
    if covers(&value.span(), offset) {
        deeper(path, &mut found.value);
    }
    match value.get_ref() {
        DeValue::Table(table) => walk_table(table, path, offset, found),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                walk_value(item, &path.index(index), offset, found);
            }
        }
        _ => {}
    }
}
