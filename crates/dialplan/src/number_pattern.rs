//! Called and caller number patterns: exact, prefix (`+4930*`) or any (`*`).

use crate::error::ErrorKind;

/// Characters dropped from numbers before comparing: space, `-`, `.`, `(` and `)`.
pub const VISUAL_SEPARATORS: [char; 5] = [' ', '-', '.', '(', ')'];

/// A pattern for the user part of a SIP URI (a phone number, or a name such as `support`).
///
/// Both the pattern and the number it is compared with are normalized first: the
/// [`VISUAL_SEPARATORS`] are removed, nothing else changes (`+49` and `0049` stay different).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberPattern {
    /// `*`: every number, including an empty one.
    Any,
    /// `+4930*`: numbers starting with these characters (normalized, without the `*`).
    Prefix(String),
    /// `+493012345`: this number only (normalized).
    Exact(String),
}

impl NumberPattern {
    /// Parses a pattern as written in a dialplan.
    pub fn parse(text: &str) -> Result<NumberPattern, ErrorKind> {
        let bad = |reason| ErrorKind::BadPattern {
            pattern: text.to_owned(),
            reason,
        };
        let normalized: String = normalize(text).collect();
        let (body, is_prefix) = match normalized.strip_suffix('*') {
            Some(body) => (body, true),
            None => (normalized.as_str(), false),
        };
        if body.contains('*') {
            return Err(bad("'*' is only allowed at the end (a prefix match)"));
        }
        if let Some(c) = body.chars().find(|c| !is_user_part_char(*c)) {
            return Err(bad(if c.is_whitespace() || c.is_control() {
                "contains a space or control character"
            } else {
                "contains a character that cannot occur in a number or SIP user part"
            }));
        }
        match (body.is_empty(), is_prefix) {
            (true, true) => Ok(NumberPattern::Any),
            (true, false) => Err(bad("empty (use \"*\" to match any number)")),
            (false, true) => Ok(NumberPattern::Prefix(body.to_owned())),
            (false, false) => Ok(NumberPattern::Exact(body.to_owned())),
        }
    }

    /// Whether `number` (as received, not yet normalized) matches. Does not allocate.
    pub fn matches(&self, number: &str) -> bool {
        match self {
            NumberPattern::Any => true,
            NumberPattern::Exact(exact) => exact.chars().eq(normalize(number)),
            NumberPattern::Prefix(prefix) => {
                let mut number = normalize(number);
                prefix.chars().all(|p| number.next() == Some(p))
            }
        }
    }
}

/// The characters of `number` without visual separators.
fn normalize(number: &str) -> impl Iterator<Item = char> + '_ {
    number.chars().filter(|c| !VISUAL_SEPARATORS.contains(c))
}

/// Characters a SIP URI user part may carry unescaped (RFC 3261 `user`), plus `#` which
/// trunks send for DTMF-style service numbers.
fn is_user_part_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+#_!~'&=$,;?/%".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> NumberPattern {
        NumberPattern::parse(text).expect("test pattern is valid")
    }

    #[test]
    fn exact_matches_only_that_number() {
        let p = pattern("+493012345");
        assert!(p.matches("+493012345"));
        assert!(!p.matches("+4930123456"));
        assert!(!p.matches("+49301234"));
        assert!(!p.matches("00493012345"));
    }

    #[test]
    fn prefix_matches_longer_and_equal_numbers() {
        let p = pattern("+4930*");
        assert!(p.matches("+4930"));
        assert!(p.matches("+493012345"));
        assert!(!p.matches("+4989123"));
        assert!(!p.matches("+49"));
    }

    #[test]
    fn star_alone_matches_anything() {
        assert_eq!(pattern("*"), NumberPattern::Any);
        assert!(pattern("*").matches(""));
        assert!(pattern("*").matches("anonymous"));
    }

    #[test]
    fn separators_are_ignored_on_both_sides() {
        assert_eq!(
            pattern("+49 (30) 123-45*"),
            NumberPattern::Prefix("+493012345".into())
        );
        assert!(pattern("+49 30 12345").matches("+49-30-123.45"));
        assert!(pattern("+4930*").matches("+49 (30) 1"));
    }

    #[test]
    fn names_are_patterns_too() {
        assert!(pattern("support").matches("support"));
        assert!(!pattern("support").matches("Support"));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (text, reason) in [
            ("", "empty"),
            ("  ", "empty"),
            ("+49*1", "only allowed at the end"),
            ("**", "only allowed at the end"),
            ("+49\t1", "space or control"),
            ("+49\u{e9}", "cannot occur"),
            ("sip:+49@x", "cannot occur"),
        ] {
            let err = NumberPattern::parse(text).expect_err(text);
            assert!(err.to_string().contains(reason), "{text:?}: {err}");
        }
    }
}
