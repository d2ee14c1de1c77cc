//! Configuration errors: one line each, `FILE:LINE:COL: message`, naming the offending key.

use std::fmt;

use super::source::SourceMap;

/// One problem in a configuration file.
///
/// Displays as a single line, `FILE:LINE:COL: message` (or `FILE: message` when the problem has
/// no position, e.g. the file cannot be read). The message names the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    position: Option<(usize, usize)>,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(
        origin: &str,
        position: Option<(usize, usize)>,
        key: Option<String>,
        message: String,
    ) -> Self {
        Self {
            origin: origin.to_owned(),
            position,
            key,
            message,
        }
    }

    /// The file name (or other origin) given to the loader.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// 1-based column in characters, when known.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    /// The dotted key path the error is about (`sip.listen[1]`, `users[0].username`), if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The message without the `FILE:LINE:COL: ` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.origin, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration file (never empty). Displays one error per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    pub(crate) fn one(error: ConfigError) -> Self {
        Self(vec![error])
    }

    /// In file order; `None` when `errors` is empty.
    pub(crate) fn from_vec(mut errors: Vec<ConfigError>) -> Option<Self> {
        errors.sort_by_key(|e| e.position.unwrap_or_default());
        (!errors.is_empty()).then_some(Self(errors))
    }

    pub fn as_slice(&self) -> &[ConfigError] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<ConfigError> {
        self.0
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Turns a serde error from `toml::from_str` into a positioned error naming the key.
pub(crate) fn from_deserialize(map: &SourceMap<'_>, err: &toml::de::Error) -> ConfigError {
    let offset = err.span().map(|span| span.start);
    let path = offset.map(|offset| map.path_at(offset)).unwrap_or_default();
    let raw = err.message();
    let message = match unknown_field(raw) {
        Some((name, expected)) => {
            let parent = path.parent();
            let place = if !parent.is_root() {
                format!("unknown key `{name}` in {}", parent.header())
            } else if map.is_table(&path) {
                format!("unknown section [{name}]")
            } else {
                format!("unknown top-level key `{name}`")
            };
            format!("{place}, {}", plain_types(expected))
        }
        None if path.is_root() => plain_types(raw),
        None => format!("`{path}`: {}", plain_types(raw)),
    };
    map.error_at_offset(offset, Some(&path), message)
}

/// Splits serde's "unknown field `foo`, expected one of ..." into the name and the rest.
fn unknown_field(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    Some((name, rest.trim_start_matches(',').trim_start()))
}

/// Replaces Rust type names in serde messages with TOML words.
fn plain_types(message: &str) -> String {
    let mut out = message
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace("expected a borrowed string", "expected a string")
        .replace("invalid type: map", "invalid type: table")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("` as i128", "` (out of range)");
    if let Some(at) = out.find("expected struct Raw") {
        out.replace_range(at.., "expected a table");
    }
    out
}
