//! The fixed-length builtins `date` (`yyyymmdd`) and `time` (`hhmm`).
//!
//! A prefix is `Incomplete` only if some completion is a valid date or time,
//! so `2001 13` is rejected at the `3`, not after eight keys.

use crate::MatchState;
use crate::key::Key;

/// `date`: 8 digits `yyyymmdd` naming a real calendar day (proleptic Gregorian).
pub(crate) fn date_state(keys: &[Key]) -> MatchState {
    let Some(digits) = digit_values(keys, 8) else {
        return MatchState::NoMatch;
    };
    // Any incomplete year can still become a leap year: ten consecutive years
    // hold at least two multiples of four, at most one of them a century.
    let leap = match digits.get(..4) {
        Some(&[a, b, c, d]) => is_leap_year(
            u32::from(a) * 1000 + u32::from(b) * 100 + u32::from(c) * 10 + u32::from(d),
        ),
        _ => true,
    };
    let typed_month_day = digits.get(4..).unwrap_or_default();
    let possible = (1..=12u8).any(|month| {
        (1..=days_in_month(month, leap))
            .any(|day| is_prefix(typed_month_day, &two_pairs(month, day)))
    });
    fixed_length_state(possible, digits.len(), 8)
}

/// `time`: 4 digits `hhmm`, hours 00-23 and minutes 00-59.
pub(crate) fn time_state(keys: &[Key]) -> MatchState {
    let Some(digits) = digit_values(keys, 4) else {
        return MatchState::NoMatch;
    };
    let possible =
        (0..24u8).any(|hour| (0..60u8).any(|minute| is_prefix(&digits, &two_pairs(hour, minute))));
    fixed_length_state(possible, digits.len(), 4)
}

/// `time`'s result for a complete `hhmm`: the digits and `h` when the hour can only
/// be read on a 24-hour clock (00, 13-23), `?` when it could be a.m. or p.m. (01-12).
/// VoiceXML 2.0 Appendix P: DTMF has no a.m./p.m. convention, so a DTMF result
/// always ends with `h` or `?`.
pub(crate) fn time_value(keys: &[Key]) -> String {
    let text = Key::sequence_string(keys);
    let hour = text
        .get(..2)
        .and_then(|h| h.parse::<u8>().ok())
        .unwrap_or_default();
    let suffix = if (1..=12).contains(&hour) { '?' } else { 'h' };
    format!("{text}{suffix}")
}

fn fixed_length_state(possible: bool, len: usize, full: usize) -> MatchState {
    match (possible, len == full) {
        (false, _) => MatchState::NoMatch,
        (true, true) => MatchState::Complete { can_extend: false },
        (true, false) => MatchState::Incomplete,
    }
}

/// The digit values of `keys`, `None` if any is not a digit or there are more than `max`.
fn digit_values(keys: &[Key], max: usize) -> Option<Vec<u8>> {
    if keys.len() > max {
        return None;
    }
    keys.iter().map(|k| k.digit_value()).collect()
}

fn two_pairs(a: u8, b: u8) -> [u8; 4] {
    [a / 10, a % 10, b / 10, b % 10]
}

fn is_prefix(typed: &[u8], candidate: &[u8]) -> bool {
    candidate.starts_with(typed)
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(month: u8, leap: bool) -> u8 {
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<Key> {
        Key::parse_sequence(text).expect("test sequence")
    }

    #[test]
    fn leap_years() {
        assert_eq!(
            date_state(&keys("20000229")),
            MatchState::Complete { can_extend: false }
        );
        assert_eq!(date_state(&keys("19000229")), MatchState::NoMatch);
        assert_eq!(
            date_state(&keys("20240229")),
            MatchState::Complete { can_extend: false }
        );
        assert_eq!(date_state(&keys("20230229")), MatchState::NoMatch);
        assert_eq!(date_state(&keys("199")), MatchState::Incomplete);
    }

    #[test]
    fn time_suffixes() {
        assert_eq!(time_value(&keys("0930")), "0930?");
        assert_eq!(time_value(&keys("1230")), "1230?");
        assert_eq!(time_value(&keys("1330")), "1330h");
        assert_eq!(time_value(&keys("0005")), "0005h");
    }
}
