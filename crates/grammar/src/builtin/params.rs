//! The `?name=value;name=value` parameters of a builtin grammar URI.

use crate::GrammarError;
use crate::key::Key;

/// One `name=value` pair, with its text as written for error messages.
pub(crate) struct Param<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) raw: &'a str,
}

/// Splits a query (the text after `?`) into parameters. `;` separates them as in
/// VoiceXML 2.0 Appendix P; `&` is accepted too. A name given twice is an error.
pub(crate) fn split_query<'a>(kind: &str, query: &'a str) -> Result<Vec<Param<'a>>, GrammarError> {
    let mut params: Vec<Param<'a>> = Vec::new();
    for raw in query.split([';', '&']).filter(|p| !p.trim().is_empty()) {
        let Some((name, value)) = raw.split_once('=') else {
            return Err(bad(kind, raw, "expected name=value"));
        };
        let (name, value) = (name.trim(), value.trim());
        if params.iter().any(|p| p.name == name) {
            return Err(bad(kind, raw, "given more than once"));
        }
        params.push(Param { name, value, raw });
    }
    Ok(params)
}

/// Rejects parameters whose name is not in `allowed`.
pub(crate) fn only_known(
    kind: &str,
    params: &[Param<'_>],
    allowed: &[&str],
) -> Result<(), GrammarError> {
    match params.iter().find(|p| !allowed.contains(&p.name)) {
        Some(p) if allowed.is_empty() => Err(bad(kind, p.raw, "this type takes no parameters")),
        Some(p) => Err(bad(
            kind,
            p.raw,
            &format!(
                "unknown parameter (expected one of: {})",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The value of parameter `name` as a non-negative integer, if given.
pub(crate) fn count(
    kind: &str,
    params: &[Param<'_>],
    name: &str,
) -> Result<Option<usize>, GrammarError> {
    let Some(p) = params.iter().find(|p| p.name == name) else {
        return Ok(None);
    };
    let valid = !p.value.is_empty() && p.value.bytes().all(|b| b.is_ascii_digit());
    match p.value.parse::<usize>() {
        Ok(n) if valid => Ok(Some(n)),
        _ => Err(bad(kind, p.raw, "expected a non-negative integer")),
    }
}

/// The value of parameter `name` as a single DTMF key, if given.
pub(crate) fn key(
    kind: &str,
    params: &[Param<'_>],
    name: &str,
) -> Result<Option<Key>, GrammarError> {
    let Some(p) = params.iter().find(|p| p.name == name) else {
        return Ok(None);
    };
    let mut chars = p.value.chars();
    match (chars.next().and_then(Key::from_char), chars.next()) {
        (Some(key), None) => Ok(Some(key)),
        _ => Err(bad(
            kind,
            p.raw,
            "expected a single DTMF key (0-9, *, #, A-D)",
        )),
    }
}

/// The raw text of parameter `name`, if given.
pub(crate) fn text<'p, 'a>(params: &'p [Param<'a>], name: &str) -> Option<&'p Param<'a>> {
    params.iter().find(|p| p.name == name)
}

/// A [`GrammarError::BadParameter`].
pub(crate) fn bad(kind: &str, parameter: &str, reason: &str) -> GrammarError {
    GrammarError::BadParameter {
        kind: kind.to_owned(),
        parameter: parameter.to_owned(),
        reason: reason.to_owned(),
    }
}
