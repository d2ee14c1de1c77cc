//! The sixteen DTMF keys.

use std::fmt;

/// One DTMF key: the digits `0`-`9`, `*`, `#` and the column keys `A`-`D`
/// (RFC 4733 events 0-15).
///
/// `Debug` does not print which key it is: a key is part of what a caller typed,
/// and typed digits can be card numbers or PINs (STYLE rule 12).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

impl Key {
    /// All sixteen keys, digits first, in RFC 4733 event order.
    pub const ALL: [Key; 16] = [
        Key::D0,
        Key::D1,
        Key::D2,
        Key::D3,
        Key::D4,
        Key::D5,
        Key::D6,
        Key::D7,
        Key::D8,
        Key::D9,
        Key::Star,
        Key::Pound,
        Key::A,
        Key::B,
        Key::C,
        Key::D,
    ];

    /// The key written as `c`: `0`-`9`, `*`, `#`, `A`-`D` (lower case `a`-`d` accepted).
    pub fn from_char(c: char) -> Option<Key> {
        let key = match c {
            '0'..='9' => Key::digit(c as u8 - b'0')?,
            '*' => Key::Star,
            '#' => Key::Pound,
            'A' | 'a' => Key::A,
            'B' | 'b' => Key::B,
            'C' | 'c' => Key::C,
            'D' | 'd' => Key::D,
            _ => return None,
        };
        Some(key)
    }

    /// The key for the decimal digit `n` (0-9).
    pub fn digit(n: u8) -> Option<Key> {
        Key::ALL.get(usize::from(n)).copied().filter(|_| n < 10)
    }

    /// The character that names this key (`A`-`D` in upper case).
    pub fn as_char(self) -> char {
        match self {
            Key::Star => '*',
            Key::Pound => '#',
            Key::A => 'A',
            Key::B => 'B',
            Key::C => 'C',
            Key::D => 'D',
            digit => char::from(b'0' + digit.event()),
        }
    }

    /// The RFC 4733 event code (0-15).
    pub fn event(self) -> u8 {
        self as u8
    }

    /// The decimal value of a digit key, `None` for `*`, `#` and `A`-`D`.
    pub fn digit_value(self) -> Option<u8> {
        let event = self.event();
        (event < 10).then_some(event)
    }

    /// Parses a key sequence such as `"123#"`; whitespace between keys is skipped.
    pub fn parse_sequence(text: &str) -> Option<Vec<Key>> {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .map(Key::from_char)
            .collect()
    }

    /// Writes a key sequence as a space-free string, e.g. `"123#"`.
    pub fn sequence_string(keys: &[Key]) -> String {
        keys.iter().map(|k| k.as_char()).collect()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_through_its_char() {
        for key in Key::ALL {
            assert!(Key::from_char(key.as_char()) == Some(key));
        }
        assert_eq!(
            Key::ALL.map(Key::as_char).iter().collect::<String>(),
            "0123456789*#ABCD"
        );
    }

    #[test]
    fn lower_case_letters_and_junk() {
        assert!(Key::from_char('c') == Some(Key::C));
        assert!(Key::from_char('e').is_none());
        assert!(Key::from_char(' ').is_none());
        assert!(Key::digit(10).is_none());
        assert!(Key::digit(7) == Some(Key::D7));
    }

    #[test]
    fn sequences() {
        let keys = Key::parse_sequence("1 2 *#").expect("valid sequence");
        assert_eq!(Key::sequence_string(&keys), "12*#");
        assert!(Key::parse_sequence("12x").is_none());
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", Key::D7), "Key(<redacted>)");
    }
}
