//! Gives meaning to one dialplan file: TOML shape (`file_format.rs`) in, checked routes out.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use toml::Spanned;

use crate::error::{DialplanError, ErrorKind, Location};
use crate::file_format::{FileToml, HoursToml, OneOrMany, RecordingToml, RouteToml};
use crate::number_pattern::NumberPattern;
use crate::route::{
    Action, Answer, Application, Criteria, Language, LanguageTag, RecordingPolicy, RejectStatus,
    Route,
};
use crate::schedule::{ClockTime, Days, Schedule, Window};

type Result<T> = std::result::Result<T, DialplanError>;

/// Parses the routes of one file, in file order.
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<Vec<Route>> {
    let file = File {
        path,
        text,
        zones: TimeZoneDatabase::bundled(),
    };
    let toml: FileToml = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
    let zone = toml.zone.as_ref().map(|z| file.zone(z)).transpose()?;
    let routes = toml
        .route
        .into_iter()
        .map(|route| file.route(route, zone.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    check_unique_names(&routes)?;
    Ok(routes)
}

/// Fails on the second route that reuses a name, naming where the first one is.
pub(crate) fn check_unique_names(routes: &[Route]) -> Result<()> {
    let mut seen: HashMap<&str, &Location> = HashMap::new();
    for route in routes {
        if let Some(first) = seen.insert(&route.name, &route.source) {
            return Err(DialplanError {
                location: route.source.clone(),
                kind: ErrorKind::DuplicateName {
                    name: route.name.clone(),
                    first: first.clone(),
                },
            });
        }
    }
    Ok(())
}

/// One file being parsed: what errors need to say where they are.
struct File<'a> {
    path: &'a Path,
    text: &'a str,
    /// The IANA database compiled into the binary, so that every host routes alike.
    zones: TimeZoneDatabase,
}

impl File<'_> {
    fn error(&self, span: Range<usize>, kind: ErrorKind) -> DialplanError {
        DialplanError {
            location: Location::at(self.path, self.text, span.start),
            kind,
        }
    }

    fn at(&self, span: Range<usize>) -> impl FnOnce(ErrorKind) -> DialplanError + '_ {
        move |kind| self.error(span, kind)
    }

    fn toml_error(&self, error: &toml::de::Error) -> DialplanError {
        let span = error.span().unwrap_or(0..0);
        self.error(span, ErrorKind::Toml(toml_message(error.message())))
    }

    /// Where a route starts: toml spans a `[[route]]` table by its header, an inline table by
    /// its `{`.
    fn header(span: &Range<usize>) -> Range<usize> {
        span.start..span.start
    }

    fn zone(&self, name: &Spanned<String>) -> Result<TimeZone> {
        self.zones
            .get(name.get_ref())
            .map_err(|_| self.error(name.span(), ErrorKind::UnknownZone(name.get_ref().clone())))
    }

    fn route(&self, route: Spanned<RouteToml>, file_zone: Option<&TimeZone>) -> Result<Route> {
        let header = Self::header(&route.span());
        let route = route.into_inner();
        let name = route.name.get_ref();
        if name.trim().is_empty() {
            return Err(self.error(route.name.span(), ErrorKind::Empty("name")));
        }
        Ok(Route {
            name: name.clone(),
            source: Location::at(self.path, self.text, header.start),
            criteria: self.criteria(&route, file_zone, header.clone())?,
            action: self.action(&route, header)?,
        })
    }
}

/// Criteria: who calls, which number, on which trunk, when.
impl File<'_> {
    fn criteria(
        &self,
        route: &RouteToml,
        file_zone: Option<&TimeZone>,
        header: Range<usize>,
    ) -> Result<Criteria> {
        Ok(Criteria {
            called: self.patterns(route.called.as_ref(), "called")?,
            caller: self.patterns(route.caller.as_ref(), "caller")?,
            trunks: self.trunks(route)?,
            schedule: self.schedule(route, file_zone, header)?,
        })
    }

    fn patterns(
        &self,
        value: Option<&Spanned<OneOrMany>>,
        key: &'static str,
    ) -> Result<Option<Vec<NumberPattern>>> {
        let Some(value) = value else { return Ok(None) };
        let parse = |text: &str, span| NumberPattern::parse(text).map_err(self.at(span));
        let patterns = match value.get_ref() {
            OneOrMany::One(text) => vec![parse(text, value.span())?],
            OneOrMany::Many(items) => items
                .iter()
                .map(|item| parse(item.get_ref(), item.span()))
                .collect::<Result<_>>()?,
        };
        if patterns.is_empty() {
            return Err(self.error(value.span(), ErrorKind::EmptyList(key)));
        }
        Ok(Some(patterns))
    }

    fn trunks(&self, route: &RouteToml) -> Result<Option<Vec<String>>> {
        let list = match (&route.trunk, &route.trunks) {
            (Some(_), Some(trunks)) => {
                return Err(self.error(trunks.span(), ErrorKind::TrunkAndTrunks));
            }
            (None, None) => return Ok(None),
            (Some(trunk), None) => vec![trunk],
            (None, Some(trunks)) if trunks.get_ref().is_empty() => {
                return Err(self.error(trunks.span(), ErrorKind::EmptyList("trunks")));
            }
            (None, Some(trunks)) => trunks.get_ref().iter().collect(),
        };
        let checked = list.into_iter().map(|trunk| match trunk.get_ref().trim() {
            "" => Err(self.error(trunk.span(), ErrorKind::EmptyTrunk)),
            _ => Ok(trunk.get_ref().clone()),
        });
        checked.collect::<Result<_>>().map(Some)
    }

    fn schedule(
        &self,
        route: &RouteToml,
        file_zone: Option<&TimeZone>,
        header: Range<usize>,
    ) -> Result<Option<Schedule>> {
        let route_zone = route.zone.as_ref().map(|z| self.zone(z)).transpose()?;
        if route.hours.is_none() && route.closed_dates.is_none() {
            return Ok(None);
        }
        let Some(zone) = route_zone.or_else(|| file_zone.cloned()) else {
            let span = match (&route.hours, &route.closed_dates) {
                (Some(hours), _) => hours.span(),
                (None, Some(dates)) => dates.span(),
                (None, None) => header,
            };
            return Err(self.error(span, ErrorKind::MissingZone));
        };
        let windows = match &route.hours {
            Some(hours) if hours.get_ref().is_empty() => {
                return Err(self.error(hours.span(), ErrorKind::EmptyList("hours")));
            }
            Some(hours) => hours
                .get_ref()
                .iter()
                .map(|h| self.window(h))
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let closed = route
            .closed_dates
            .as_ref()
            .map_or(Ok(Vec::new()), |dates| {
                dates
                    .get_ref()
                    .iter()
                    .map(|d| self.date(d))
                    .collect::<Result<_>>()
            })?;
        Ok(Some(Schedule::new(zone, windows, closed)))
    }

    fn window(&self, hours: &Spanned<HoursToml>) -> Result<Window> {
        let hours = hours.get_ref();
        let days = match &hours.days {
            Some(days) => Days::parse(days.get_ref()).map_err(self.at(days.span()))?,
            None => Days::ALL,
        };
        let from = self.clock_time(&hours.from, false)?;
        let to = self.clock_time(&hours.to, true)?;
        Window::new(days, from, to).map_err(self.at(hours.to.span()))
    }

    /// `"08:00"`, or a TOML local time `08:00` / `08:00:00`.
    fn clock_time(
        &self,
        value: &Spanned<toml::Value>,
        allow_end_of_day: bool,
    ) -> Result<ClockTime> {
        let parsed = match value.get_ref() {
            toml::Value::String(text) => ClockTime::parse(text, allow_end_of_day),
            toml::Value::Datetime(toml::value::Datetime {
                date: None,
                time: Some(time),
                offset: None,
            }) if time.second == 0 && time.nanosecond == 0 => {
                let hm = ClockTime::from_hm(time.hour.into(), time.minute.into(), false);
                hm.ok_or_else(|| ErrorKind::BadTime(value.get_ref().to_string()))
            }
            other => Err(ErrorKind::BadTime(other.to_string())),
        };
        parsed.map_err(self.at(value.span()))
    }

    /// `"2026-12-25"`, or a TOML local date `2026-12-25`.
    fn date(&self, value: &Spanned<toml::Value>) -> Result<Date> {
        let parsed = match value.get_ref() {
            toml::Value::String(text) => parse_date(text),
            toml::Value::Datetime(toml::value::Datetime {
                date: Some(date),
                time: None,
                offset: None,
            }) => calendar_date(date.year.into(), date.month.into(), date.day.into()),
            _ => None,
        };
        parsed.ok_or_else(|| {
            let text = match value.get_ref() {
                toml::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            self.error(value.span(), ErrorKind::BadDate(text))
        })
    }
}

/// The TOML parser's message in dialplan words: serde's "field" is a TOML "key".
fn toml_message(message: &str) -> String {
    let message = message.trim_end();
    for (serde_word, toml_word) in [
        ("unknown field", "unknown key"),
        ("missing field", "missing key"),
    ] {
        if let Some(rest) = message.strip_prefix(serde_word) {
            return format!("{toml_word}{rest}");
        }
    }
    message.to_owned()
}

/// Strictly `YYYY-MM-DD`, a real calendar date.
fn parse_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let field = |range: Range<usize>| text.get(range)?.parse().ok();
    calendar_date(field(0..4)?, field(5..7)?, field(8..10)?)
}

fn calendar_date(year: u32, month: u32, day: u32) -> Option<Date> {
    let year = i16::try_from(year).ok()?;
    let month = i8::try_from(month).ok()?;
    let day = i8::try_from(day).ok()?;
    Date::new(year, month, day).ok()
}

/// Actions: answer with an application, or reject.
impl File<'_> {
    fn action(&self, route: &RouteToml, header: Range<usize>) -> Result<Action> {
        match (&route.application, &route.reject) {
            (Some(_), Some(reject)) => {
                Err(self.error(reject.span(), ErrorKind::ApplicationAndReject))
            }
            (None, None) => {
                Err(self.error(header, ErrorKind::NoAction(route.name.get_ref().clone())))
            }
            (None, Some(reject)) => self.reject(route, reject),
            (Some(application), None) => self.answer(route, application, header),
        }
    }

    fn reject(&self, route: &RouteToml, reject: &Spanned<i64>) -> Result<Action> {
        let answer_only = [
            ("language", route.language.as_ref().map(Spanned::span)),
            ("languages", route.languages.as_ref().map(Spanned::span)),
            ("recording", route.recording.as_ref().map(Spanned::span)),
            ("retention", route.retention.as_ref().map(Spanned::span)),
            ("agent_group", route.agent_group.as_ref().map(Spanned::span)),
            ("variables", first_key_span(route.variables.as_ref())),
        ];
        if let Some((key, Some(span))) = answer_only.into_iter().find(|(_, span)| span.is_some()) {
            return Err(self.error(span, ErrorKind::NotForReject(key)));
        }
        let code = *reject.get_ref();
        RejectStatus::from_code(code)
            .map(Action::Reject)
            .ok_or_else(|| self.error(reject.span(), ErrorKind::UnsupportedReject(code)))
    }

    fn answer(
        &self,
        route: &RouteToml,
        application: &Spanned<String>,
        header: Range<usize>,
    ) -> Result<Action> {
        let (language, languages) = self.languages(route, header)?;
        Ok(Action::Answer(Answer {
            application: self.application(application)?,
            language,
            languages,
            recording: match route.recording.as_ref().map(|r| *r.get_ref()) {
                None | Some(RecordingToml::Ask) => RecordingPolicy::Ask,
                Some(RecordingToml::Always) => RecordingPolicy::Always,
                Some(RecordingToml::Never) => RecordingPolicy::Never,
            },
            retention: match &route.retention {
                Some(retention) => Some(self.non_empty(retention, "retention")?),
                None => None,
            },
            agent_group: route
                .agent_group
                .as_ref()
                .map(|group| self.non_empty(group, "agent_group"))
                .transpose()?,
            variables: self.variables(route.variables.as_ref())?,
        }))
    }

    fn application(&self, value: &Spanned<String>) -> Result<Application> {
        let text = value.get_ref();
        let bad = |reason| {
            let kind = ErrorKind::BadApplication {
                text: text.clone(),
                reason,
            };
            self.error(value.span(), kind)
        };
        if text.trim().is_empty() {
            return Err(bad("empty"));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            let dir = self.path.parent().unwrap_or(Path::new(""));
            return Ok(Application::File(dir.join(text)));
        };
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return Err(bad(
                "only http:// and https:// URLs can be fetched; other documents are files relative to the dialplan",
            ));
        }
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(bad("a URL needs a host and no spaces"));
        }
        Ok(Application::Url(text.clone()))
    }

    fn languages(
        &self,
        route: &RouteToml,
        header: Range<usize>,
    ) -> Result<(Language, Vec<LanguageTag>)> {
        let Some(language) = &route.language else {
            let name = route.name.get_ref().clone();
            return Err(self.error(header, ErrorKind::MissingLanguage(name)));
        };
        let parsed = match language.get_ref().as_str() {
            "menu" => Language::Menu,
            tag => Language::Tag(LanguageTag::parse(tag).map_err(self.at(language.span()))?),
        };
        let declared = match (&route.languages, &parsed) {
            (Some(list), _) if list.get_ref().is_empty() => {
                return Err(self.error(list.span(), ErrorKind::EmptyList("languages")));
            }
            (Some(list), _) => list
                .get_ref()
                .iter()
                .map(|t| self.tag(t))
                .collect::<Result<_>>()?,
            (None, Language::Tag(tag)) => vec![tag.clone()],
            (None, Language::Menu) => {
                return Err(self.error(language.span(), ErrorKind::MenuWithoutLanguages));
            }
        };
        Ok((parsed, declared))
    }

    fn tag(&self, value: &Spanned<String>) -> Result<LanguageTag> {
        let text = value.get_ref();
        let parsed = match text.as_str() {
            "menu" => Err(ErrorKind::BadLanguage(text.clone())),
            tag => LanguageTag::parse(tag),
        };
        parsed.map_err(self.at(value.span()))
    }

    fn non_empty(&self, value: &Spanned<String>, key: &'static str) -> Result<String> {
        match value.get_ref().trim() {
            "" => Err(self.error(value.span(), ErrorKind::Empty(key))),
            _ => Ok(value.get_ref().clone()),
        }
    }

    fn variables(
        &self,
        variables: Option<&BTreeMap<Spanned<String>, String>>,
    ) -> Result<BTreeMap<String, String>> {
        let Some(variables) = variables else {
            return Ok(BTreeMap::new());
        };
        let check = |(name, value): (&Spanned<String>, &String)| {
            if is_identifier(name.get_ref()) {
                Ok((name.get_ref().clone(), value.clone()))
            } else {
                let kind = ErrorKind::BadVariableName(name.get_ref().clone());
                Err(self.error(name.span(), kind))
            }
        };
        variables.iter().map(check).collect()
    }
}

fn first_key_span(variables: Option<&BTreeMap<Spanned<String>, String>>) -> Option<Range<usize>> {
    variables?
        .keys()
        .map(Spanned::span)
        .min_by_key(|span| span.start)
}

/// Letters, digits and `_`, not starting with a digit: a name the IVR can expose.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert_eq!(parse_date("2026-12-25"), Date::new(2026, 12, 25).ok());
        for bad in [
            "2026-02-30",
            "2026-1-05",
            "20261225",
            "2026-12-25T00:00",
            "",
            "２０２６-12-25",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("queue_hint") && is_identifier("_x1"));
        assert!(!is_identifier("") && !is_identifier("1x") && !is_identifier("a-b"));
    }
}
