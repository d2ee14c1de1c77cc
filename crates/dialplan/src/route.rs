//! Routes: what a call must look like (criteria) and what happens to it (action).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use jiff::Timestamp;

use crate::error::{ErrorKind, Location};
use crate::number_pattern::NumberPattern;
use crate::schedule::Schedule;

/// What the server knows about a new incoming call when it asks for a route.
#[derive(Clone, Copy)]
pub struct CallFacts<'a> {
    /// The Request-URI user part (the DID), as received.
    pub called: &'a str,
    /// The From user part (the caller's number, or e.g. `anonymous`), as received.
    pub caller: &'a str,
    /// The trunk the call came in on; `None` for registered phones and unknown sources.
    pub trunk: Option<&'a str>,
    /// When the call arrived.
    pub at: Timestamp,
}

/// Hides the numbers: they are personal data and must not reach a log.
impl fmt::Debug for CallFacts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallFacts")
            .field("called", &"<redacted>")
            .field("caller", &"<redacted>")
            .field("trunk", &self.trunk)
            .field("at", &self.at)
            .finish()
    }
}

/// One route of a dialplan.
#[derive(Debug, Clone)]
pub struct Route {
    /// Unique across all dialplan files; written to the call record.
    pub name: String,
    /// Where the route's `[[route]]` header is (column 1 of that line).
    pub source: Location,
    /// What happens to a matching call.
    pub action: Action,
    pub(crate) criteria: Criteria,
}

impl Route {
    /// Whether `call` meets every criterion of this route.
    pub fn matches(&self, call: &CallFacts<'_>) -> bool {
        self.criteria.matches(call)
    }
}

/// What happens to a call that a route matches.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer and run an IVR application.
    Answer(Answer),
    /// Refuse the call with this SIP status.
    Reject(RejectStatus),
}

/// How an answered call is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The VoiceXML document to run.
    pub application: Application,
    /// The language the call starts in, or a menu that asks the caller.
    pub language: Language,
    /// The languages the application provides prompts for (`herald check` verifies each).
    pub languages: Vec<LanguageTag>,
    /// Whether the call is recorded, and whether the caller may opt out.
    pub recording: RecordingPolicy,
    /// The retention class of the recording (`herald check` validates it against the server's
    /// configuration); `None`: the server's default class.
    pub retention: Option<String>,
    /// The queue a transfer to an agent goes to.
    pub agent_group: Option<String>,
    /// Session variables handed to the IVR.
    pub variables: BTreeMap<String, String>,
}

/// A VoiceXML document: a file beside the dialplans or a URL fetched when the call arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Application {
    /// A path, already joined to the directory of the dialplan file that names it.
    File(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
}

/// The language a call starts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    /// This language from the start.
    Tag(LanguageTag),
    /// The IVR asks the caller to choose among the route's `languages`.
    Menu,
}

/// A BCP 47 language tag such as `de` or `de-DE`, checked for shape only (letters and digits
/// in `-`-separated subtags of 1 to 8, the first 2 to 8 letters, at most
/// [`LanguageTag::MAX_LEN`] in all, as the prompt directories allow), kept as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LanguageTag(String);

impl LanguageTag {
    /// The longest tag accepted, in bytes.
    pub const MAX_LEN: usize = 35;

    /// Checks the shape of a tag.
    pub fn parse(text: &str) -> Result<LanguageTag, ErrorKind> {
        if text.len() > Self::MAX_LEN {
            return Err(ErrorKind::BadLanguage(text.to_owned()));
        }
        let mut subtags = text.split('-');
        let primary = subtags.next().unwrap_or_default();
        let primary_ok =
            (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
        let rest_ok = subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        if primary_ok && rest_ok {
            Ok(LanguageTag(text.to_owned()))
        } else {
            Err(ErrorKind::BadLanguage(text.to_owned()))
        }
    }

    /// The tag as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a call is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordingPolicy {
    /// Disclose the recording and let the caller opt out.
    #[default]
    Ask,
    /// Disclose the recording; no opt-out.
    Always,
    /// Do not record.
    Never,
}

/// The SIP statuses a route may reject a call with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectStatus {
    /// 403 Forbidden: barred callers.
    Forbidden,
    /// 404 Not Found: numbers that are not in service.
    NotFound,
    /// 480 Temporarily Unavailable: closed hours.
    TemporarilyUnavailable,
    /// 486 Busy Here.
    BusyHere,
    /// 503 Service Unavailable.
    ServiceUnavailable,
}

impl RejectStatus {
    /// The status for `code`, if it is one a route may use.
    pub fn from_code(code: i64) -> Option<RejectStatus> {
        Some(match code {
            403 => RejectStatus::Forbidden,
            404 => RejectStatus::NotFound,
            480 => RejectStatus::TemporarilyUnavailable,
            486 => RejectStatus::BusyHere,
            503 => RejectStatus::ServiceUnavailable,
            _ => return None,
        })
    }

    /// The SIP status code.
    pub fn code(self) -> u16 {
        match self {
            RejectStatus::Forbidden => 403,
            RejectStatus::NotFound => 404,
            RejectStatus::TemporarilyUnavailable => 480,
            RejectStatus::BusyHere => 486,
            RejectStatus::ServiceUnavailable => 503,
        }
    }

    /// The standard reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            RejectStatus::Forbidden => "Forbidden",
            RejectStatus::NotFound => "Not Found",
            RejectStatus::TemporarilyUnavailable => "Temporarily Unavailable",
            RejectStatus::BusyHere => "Busy Here",
            RejectStatus::ServiceUnavailable => "Service Unavailable",
        }
    }
}

/// The conditions of a route; an absent criterion matches every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Criteria {
    pub(crate) called: Option<Vec<NumberPattern>>,
    pub(crate) caller: Option<Vec<NumberPattern>>,
    pub(crate) trunks: Option<Vec<String>>,
    pub(crate) schedule: Option<Schedule>,
}

impl Criteria {
    fn matches(&self, call: &CallFacts<'_>) -> bool {
        let any_pattern = |patterns: &Option<Vec<NumberPattern>>, number: &str| {
            patterns
                .as_ref()
                .is_none_or(|patterns| patterns.iter().any(|p| p.matches(number)))
        };
        let trunk_ok = self.trunks.as_ref().is_none_or(|trunks| {
            call.trunk
                .is_some_and(|trunk| trunks.iter().any(|t| t == trunk))
        });
        any_pattern(&self.called, call.called)
            && any_pattern(&self.caller, call.caller)
            && trunk_ok
            && self.schedule.as_ref().is_none_or(|s| s.is_open(call.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_checked_loosely() {
        for good in [
            "de",
            "de-DE",
            "en-GB",
            "zh-Hant-TW",
            "es-419",
            "gsw",
            "sr-Latn-RS",
        ] {
            assert_eq!(
                LanguageTag::parse(good).map(|t| t.to_string()),
                Ok(good.into())
            );
        }
        let too_long = "de-AAAAAAAA-BBBBBBBB-CCCCCCCC-DDDDDDDD";
        for bad in [
            too_long,
            "",
            "d",
            "de_DE",
            "de-",
            "-de",
            "1de",
            "de-DE-",
            "de DE",
            "menu-",
            "de-toolongsubtag",
        ] {
            assert_eq!(
                LanguageTag::parse(bad),
                Err(ErrorKind::BadLanguage(bad.into()))
            );
        }
    }

    #[test]
    fn reject_codes_round_trip() {
        for code in [403, 404, 480, 486, 503] {
            let status = RejectStatus::from_code(code).expect("supported");
            assert_eq!(i64::from(status.code()), code);
            assert!(!status.reason().is_empty());
        }
        assert_eq!(RejectStatus::from_code(500), None);
    }

    #[test]
    fn call_facts_debug_hides_numbers() {
        let call = CallFacts {
            called: "+493012345",
            caller: "+4917012345",
            trunk: Some("carrier-a"),
            at: Timestamp::UNIX_EPOCH,
        };
        let shown = format!("{call:?}");
        assert!(!shown.contains("12345"), "{shown}");
        assert!(shown.contains("carrier-a"));
    }
}
