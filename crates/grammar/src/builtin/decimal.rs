//! The digit-string builtins: `digits`, `number`, `currency` and `phone`.
//!
//! `number`, `currency` and `phone` share one shape, digits with an optional
//! `*` followed by more digits; they differ in what the `*` means and in how
//! many keys may follow it.

use crate::MatchState;
use crate::key::Key;

/// `digits`: one or more of `0`-`9`, between `min` and `max` of them.
pub(crate) fn digits_state(keys: &[Key], min: usize, max: Option<usize>) -> MatchState {
    if !all_digits(keys) || max.is_some_and(|max| keys.len() > max) {
        return MatchState::NoMatch;
    }
    if keys.len() < min {
        return MatchState::Incomplete;
    }
    MatchState::Complete {
        can_extend: max.is_none_or(|max| keys.len() < max),
    }
}

/// A key sequence split at its `*`: `whole` before it, `fraction` after it.
pub(crate) struct Decimal {
    whole: String,
    fraction: Option<String>,
}

impl Decimal {
    /// Splits `keys`; `None` if they contain anything but digits and one `*`
    /// placed after at least one digit.
    pub(crate) fn split(keys: &[Key]) -> Option<Decimal> {
        let star = keys.iter().position(|k| *k == Key::Star);
        let (whole, fraction) = match star {
            Some(at) => {
                let (whole, star_and_fraction) = keys.split_at(at);
                (whole, star_and_fraction.get(1..))
            }
            None => (keys, None),
        };
        let valid = all_digits(whole) && fraction.is_none_or(all_digits);
        if !valid || (whole.is_empty() && fraction.is_some()) {
            return None;
        }
        Some(Decimal {
            whole: Key::sequence_string(whole),
            fraction: fraction.map(Key::sequence_string),
        })
    }

    /// The state for a grammar that allows at most `max_fraction` keys after `*`.
    pub(crate) fn state(keys: &[Key], max_fraction: Option<usize>) -> MatchState {
        let Some(decimal) = Decimal::split(keys) else {
            return MatchState::NoMatch;
        };
        let fraction_len = decimal.fraction.as_ref().map(String::len);
        if fraction_len
            .zip(max_fraction)
            .is_some_and(|(len, max)| len > max)
        {
            return MatchState::NoMatch;
        }
        if decimal.whole.is_empty() || fraction_len == Some(0) {
            return MatchState::Incomplete;
        }
        let can_extend = match (fraction_len, max_fraction) {
            (Some(len), Some(max)) => len < max,
            _ => true,
        };
        MatchState::Complete { can_extend }
    }

    /// `number`'s result: digits without leading zeros, `.` for `*`, e.g. `"12.5"`.
    pub(crate) fn number(&self) -> String {
        let mut out = strip_leading_zeros(&self.whole).to_owned();
        if let Some(fraction) = &self.fraction {
            out.push('.');
            out.push_str(fraction);
        }
        out
    }

    /// `currency`'s result: `[UUU]mm.nn`, cents padded to two digits.
    pub(crate) fn currency(&self, code: Option<&str>) -> String {
        let fraction = self.fraction.as_deref().unwrap_or_default();
        format!(
            "{}{}.{:0<2}",
            code.unwrap_or_default(),
            strip_leading_zeros(&self.whole),
            fraction
        )
    }

    /// `phone`'s result: the digits, `x` and the extension if `*` was pressed.
    pub(crate) fn phone(&self) -> String {
        match &self.fraction {
            Some(extension) => format!("{}x{extension}", self.whole),
            None => self.whole.clone(),
        }
    }
}

/// Whether every key is `0`-`9`.
pub(crate) fn all_digits(keys: &[Key]) -> bool {
    keys.iter().all(|k| k.digit_value().is_some())
}

/// `"007"` -> `"7"`, `"000"` -> `"0"`: a leading zero would make ECMAScript read
/// the string as octal (VoiceXML 2.0 Appendix P, `number`).
fn strip_leading_zeros(digits: &str) -> &str {
    let stripped = digits.trim_start_matches('0');
    if stripped.is_empty() && !digits.is_empty() {
        "0"
    } else {
        stripped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<Key> {
        Key::parse_sequence(text).expect("test sequence")
    }

    fn split(text: &str) -> Decimal {
        Decimal::split(&keys(text)).expect("valid decimal")
    }

    #[test]
    fn number_strings() {
        assert_eq!(split("007").number(), "7");
        assert_eq!(split("000").number(), "0");
        assert_eq!(split("0*50").number(), "0.50");
        assert_eq!(split("12*5").number(), "12.5");
    }

    #[test]
    fn currency_strings() {
        assert_eq!(split("12").currency(None), "12.00");
        assert_eq!(split("12*5").currency(None), "12.50");
        assert_eq!(split("0012*05").currency(Some("EUR")), "EUR12.05");
    }

    #[test]
    fn phone_strings() {
        assert_eq!(split("8005551234").phone(), "8005551234");
        assert_eq!(split("8005551234*789").phone(), "8005551234x789");
    }

    #[test]
    fn malformed_decimals() {
        for text in ["*1", "1**2", "1*2*3", "1#", "A"] {
            assert!(Decimal::split(&keys(text)).is_none(), "{text}");
        }
    }
}
