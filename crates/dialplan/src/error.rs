//! Errors: where in which file, and what is wrong there.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a dialplan file, shown as `path:line:column` (both 1-based, the column counted
/// in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The dialplan file, as given to [`Dialplan::parse`](crate::Dialplan::parse).
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`. An offset past the end, or inside a character,
    /// is clamped to the nearest character boundary before it.
    pub(crate) fn at(path: &Path, text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Location {
            path: path.to_path_buf(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// A dialplan that cannot be used, with the place that says so.
///
/// Displays as `path:line:column: message`, the form `herald check` prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct DialplanError {
    /// Where the offending text starts.
    pub location: Location,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a dialplan. Each message is written for the engineer editing the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The TOML parser refused the text: a syntax error, a value of the wrong type, an unknown
    /// key (named in the message) or a missing required key.
    #[error("{0}")]
    Toml(String),
    /// A time that is not `HH:MM` between 00:00 and 23:59 (`to` may also be 24:00).
    #[error("bad time {0:?}: expected HH:MM from 00:00 to 23:59 (24:00 is allowed for `to`)")]
    BadTime(String),
    /// `from` and `to` are the same time, which leaves no window.
    #[error(
        "`from` and `to` are both {0}: the window is empty (for the whole day use from = \"00:00\", to = \"24:00\")"
    )]
    EmptyWindow(String),
    /// A day name or range that is not understood.
    #[error(
        "unknown day {0:?}: expected mon, tue, wed, thu, fri, sat or sun, a range such as mon-fri, or a comma-separated list of those"
    )]
    UnknownDay(String),
    /// A date that is not `YYYY-MM-DD`.
    #[error("bad date {0:?}: expected a date such as 2026-12-25")]
    BadDate(String),
    /// A time zone name that the bundled IANA database does not know.
    #[error("unknown time zone {0:?}: expected an IANA name such as \"Europe/Berlin\"")]
    UnknownZone(String),
    /// `hours` or `closed_dates` without a `zone` on the route or at the top of the file.
    #[error(
        "`hours` and `closed_dates` need a time zone: set `zone` on the route or at the top of the file"
    )]
    MissingZone,
    /// A called or caller number pattern that cannot be matched.
    #[error("bad pattern {pattern:?}: {reason}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A list criterion (`called`, `caller`, `trunks`, `hours`) given as an empty list, which
    /// would match no call.
    #[error("`{0}` is empty, so the route would never match: leave the key out to match any call")]
    EmptyList(&'static str),
    /// Both `trunk` and `trunks` on one route.
    #[error("give either `trunk` or `trunks`, not both")]
    TrunkAndTrunks,
    /// An empty trunk name.
    #[error("empty trunk name")]
    EmptyTrunk,
    /// Both `application` and `reject` on one route.
    #[error("a route has either `application` or `reject`, not both")]
    ApplicationAndReject,
    /// Neither `application` nor `reject` on a route.
    #[error("route {0:?} needs `application` (a VoiceXML document) or `reject` (a SIP status)")]
    NoAction(String),
    /// A key that only makes sense when the call is answered, on a `reject` route.
    #[error("`{0}` has no effect on a route that rejects the call: remove it")]
    NotForReject(&'static str),
    /// A reject status other than the supported ones.
    #[error("reject = {0} is not supported: use 403, 404, 480, 486 or 503")]
    UnsupportedReject(i64),
    /// An application that is neither a relative path nor an http(s) URL.
    #[error("bad application {text:?}: {reason}")]
    BadApplication {
        /// The application as written.
        text: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An application route without `language`.
    #[error("route {0:?} needs `language`: a language tag such as \"de-DE\", or \"menu\"")]
    MissingLanguage(String),
    /// A language that is not a BCP 47 tag (nor `"menu"` where that is allowed).
    #[error("bad language tag {0:?}: expected a BCP 47 tag such as \"de\" or \"de-DE\"")]
    BadLanguage(String),
    /// `language = "menu"` without the `languages` the menu offers.
    #[error("language = \"menu\" needs `languages`: the languages the menu offers")]
    MenuWithoutLanguages,
    /// An empty `name` or `retention`.
    #[error("`{0}` must not be empty")]
    Empty(&'static str),
    /// A variable name that the IVR could not expose as a session variable.
    #[error("bad variable name {0:?}: use letters, digits and '_', not starting with a digit")]
    BadVariableName(String),
    /// A route name used twice, in one file or across files.
    #[error("duplicate route name {name:?}: first defined at {first}")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first route with that name is.
        first: Location,
    },
}
