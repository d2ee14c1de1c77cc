//! The TOML shape of a dialplan file, as serde reads it: every value keeps its span so that
//! `parse` can point at it. Meaning is given to these values in `parse.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole dialplan file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileToml {
    /// Default time zone for the routes of this file.
    pub zone: Option<Spanned<String>>,
    #[serde(default)]
    pub route: Vec<Spanned<RouteToml>>,
}

/// One `[[route]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteToml {
    pub name: Spanned<String>,
    pub called: Option<Spanned<OneOrMany>>,
    pub caller: Option<Spanned<OneOrMany>>,
    pub trunk: Option<Spanned<String>>,
    pub trunks: Option<Spanned<Vec<Spanned<String>>>>,
    pub zone: Option<Spanned<String>>,
    pub hours: Option<Spanned<Vec<Spanned<HoursToml>>>>,
    pub closed_dates: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    pub application: Option<Spanned<String>>,
    pub reject: Option<Spanned<i64>>,
    pub language: Option<Spanned<String>>,
    pub languages: Option<Spanned<Vec<Spanned<String>>>>,
    pub recording: Option<Spanned<RecordingToml>>,
    pub retention: Option<Spanned<String>>,
    pub agent_group: Option<Spanned<String>>,
    pub variables: Option<BTreeMap<Spanned<String>, String>>,
}

/// One entry of `hours`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoursToml {
    pub days: Option<Spanned<String>>,
    pub from: Spanned<toml::Value>,
    pub to: Spanned<toml::Value>,
}

/// `recording = "ask" | "always" | "never"`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RecordingToml {
    Ask,
    Always,
    Never,
}

/// A pattern list that may also be written as a single string.
#[derive(Debug)]
pub(crate) enum OneOrMany {
    /// A single string: its span is the span of the whole value.
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

struct OneOrManyVisitor;

impl<'de> serde::de::Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a pattern string or a list of pattern strings")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany::One(text.to_owned()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OneOrMany::Many(items))
    }
}
