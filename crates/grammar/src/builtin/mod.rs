//! VoiceXML 2.0 Appendix P builtin DTMF grammars.
//!
//! | type | keys | value |
//! |---|---|---|
//! | `boolean` | `1` (or `y=`) / `2` (or `n=`) | `Bool(true)` / `Bool(false)` |
//! | `date` | 8 digits `yyyymmdd`, a real calendar day | `String("yyyymmdd")` |
//! | `digits` | digits, `minlength`/`maxlength`/`length` (default 1..) | `String` of the digits |
//! | `currency` | digits, optional `*` and 1-2 digits of cents | `String("mm.nn")`, e.g. `"12.50"` |
//! | `number` | digits, optional `*` as decimal point and digits | `String`, e.g. `"12.5"`, no leading zero |
//! | `phone` | digits, optional `*` and extension digits | `String`, e.g. `"8005551234x789"` |
//! | `time` | 4 digits `hhmm`, 00-23 and 00-59 | `String("hhmmh")` or `String("hhmm?")` |
//!
//! Choices where Appendix P leaves room, documented here once:
//! - `currency`: DTMF cannot name a currency, so per Appendix P the result is
//!   `mm.nn` without the ISO 4217 code. Herald extension: `currency=EUR` (three
//!   upper-case letters) prefixes that code (`"EUR12.50"`). Cents are always
//!   written with two digits; at most two keys may follow `*`.
//! - `number`: Appendix P defines the result as a *string* of digits with an
//!   optional `.` and no leading zero (ECMAScript converts it in arithmetic),
//!   so the value is `Value::String`, not `Value::Number`. DTMF has no sign key.
//! - `time`: Appendix P says a DTMF result ends in `h` or `?`; hours that only
//!   exist on a 24-hour clock (00, 13-23) give `h`, 01-12 give `?`.
//! - `number`, `currency` and `phone` need a digit before `*`; a trailing `*`
//!   is `Incomplete`. Lengths are unbounded.
//! - Unknown parameters are errors, so a typo does not silently widen a grammar.

mod calendar;
mod decimal;
mod params;

use crate::key::Key;
use crate::{GrammarError, MatchState, Value};
use decimal::Decimal;
use params::{Param, bad};

/// A parsed builtin grammar reference.
pub(crate) enum BuiltinRef {
    /// A `builtin:dtmf/...` (or bare `type?params`) grammar.
    Dtmf(Builtin),
    /// A `builtin:grammar/...` (speech) grammar: valid, but not for DTMF.
    Voice,
}

/// One builtin DTMF grammar with its parameters applied.
#[derive(Clone, Debug)]
pub(crate) enum Builtin {
    Boolean { yes: Key, no: Key },
    Date,
    Digits { min: usize, max: Option<usize> },
    Currency { code: Option<String> },
    Number,
    Phone,
    Time,
}

const TYPES: [&str; 7] = [
    "boolean", "date", "digits", "currency", "number", "phone", "time",
];

impl BuiltinRef {
    /// Parses `digits?minlength=3`, `builtin:dtmf/digits?length=4` or `builtin:grammar/boolean`.
    pub(crate) fn parse(uri: &str) -> Result<BuiltinRef, GrammarError> {
        let uri = uri.trim();
        let (voice, rest) = if let Some(rest) = uri.strip_prefix("builtin:dtmf/") {
            (false, rest)
        } else if let Some(rest) = uri.strip_prefix("builtin:grammar/") {
            (true, rest)
        } else if uri.starts_with("builtin:") {
            return Err(GrammarError::UnknownBuiltin(uri.to_owned()));
        } else {
            (false, uri)
        };
        let (kind, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !TYPES.contains(&kind) {
            return Err(GrammarError::UnknownBuiltin(kind.to_owned()));
        }
        if voice {
            return Ok(BuiltinRef::Voice);
        }
        let params = params::split_query(kind, query)?;
        Builtin::with_params(kind, &params).map(BuiltinRef::Dtmf)
    }
}

impl Builtin {
    fn with_params(kind: &str, params: &[Param<'_>]) -> Result<Builtin, GrammarError> {
        let allowed: &[&str] = match kind {
            "boolean" => &["y", "n"],
            "digits" => &["minlength", "maxlength", "length"],
            "currency" => &["currency"],
            _ => &[],
        };
        params::only_known(kind, params, allowed)?;
        Ok(match kind {
            "boolean" => boolean(params)?,
            "digits" => digits(params)?,
            "currency" => currency(params)?,
            "date" => Builtin::Date,
            "number" => Builtin::Number,
            "phone" => Builtin::Phone,
            _ => Builtin::Time,
        })
    }

    /// How far `keys` get through this grammar.
    pub(crate) fn state(&self, keys: &[Key]) -> MatchState {
        match self {
            Builtin::Boolean { yes, no } => boolean_state(keys, *yes, *no),
            Builtin::Date => calendar::date_state(keys),
            Builtin::Digits { min, max } => decimal::digits_state(keys, *min, *max),
            Builtin::Currency { .. } => Decimal::state(keys, Some(2)),
            Builtin::Number | Builtin::Phone => Decimal::state(keys, None),
            Builtin::Time => calendar::time_state(keys),
        }
    }

    /// The value of a complete match, `None` if `keys` are not one.
    pub(crate) fn value(&self, keys: &[Key]) -> Option<Value> {
        if !matches!(self.state(keys), MatchState::Complete { .. }) {
            return None;
        }
        let text = || Value::String(Key::sequence_string(keys));
        Some(match self {
            Builtin::Boolean { yes, .. } => Value::Bool(keys.first() == Some(yes)),
            Builtin::Date | Builtin::Digits { .. } => text(),
            Builtin::Time => Value::String(calendar::time_value(keys)),
            Builtin::Currency { code } => {
                Value::String(Decimal::split(keys)?.currency(code.as_deref()))
            }
            Builtin::Number => Value::String(Decimal::split(keys)?.number()),
            Builtin::Phone => Value::String(Decimal::split(keys)?.phone()),
        })
    }
}

fn boolean(params: &[Param<'_>]) -> Result<Builtin, GrammarError> {
    let yes = params::key("boolean", params, "y")?.unwrap_or(Key::D1);
    let no = params::key("boolean", params, "n")?.unwrap_or(Key::D2);
    if yes == no {
        let raw = params.first().map_or("y/n", |p| p.raw);
        return Err(bad("boolean", raw, "y and n must be different keys"));
    }
    Ok(Builtin::Boolean { yes, no })
}

fn digits(params: &[Param<'_>]) -> Result<Builtin, GrammarError> {
    let length = params::count("digits", params, "length")?;
    let min = params::count("digits", params, "minlength")?;
    let max = params::count("digits", params, "maxlength")?;
    let first_raw = || params.first().map_or("", |p| p.raw);
    let (min, max) = match (length, min, max) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(bad(
                "digits",
                first_raw(),
                "length cannot be combined with minlength or maxlength",
            ));
        }
        (Some(n), None, None) => (n, Some(n)),
        (None, min, max) => (min.unwrap_or(1), max),
    };
    if max == Some(0) {
        return Err(bad("digits", first_raw(), "a length of 0 matches nothing"));
    }
    if max.is_some_and(|max| min > max) {
        return Err(bad(
            "digits",
            first_raw(),
            "minlength is greater than maxlength",
        ));
    }
    Ok(Builtin::Digits { min, max })
}

fn currency(params: &[Param<'_>]) -> Result<Builtin, GrammarError> {
    let Some(p) = params::text(params, "currency") else {
        return Ok(Builtin::Currency { code: None });
    };
    if p.value.len() != 3 || !p.value.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(
            "currency",
            p.raw,
            "expected an ISO 4217 code such as USD",
        ));
    }
    Ok(Builtin::Currency {
        code: Some(p.value.to_owned()),
    })
}

fn boolean_state(keys: &[Key], yes: Key, no: Key) -> MatchState {
    match keys {
        [] => MatchState::Incomplete,
        [key] if *key == yes || *key == no => MatchState::Complete { can_extend: false },
        _ => MatchState::NoMatch,
    }
}
