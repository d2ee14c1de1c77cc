//! [`Digit`]: one DTMF key, 0-9, `*`, `#` and A-D, that never shows its value in logs.

use std::fmt;

/// One DTMF key: `0`-`9`, `*`, `#` or `A`-`D`.
///
/// Stored as its RFC 4733 event code (0-9 for the digits, 10 for `*`, 11 for `#`, 12-15 for
/// A-D), so every value of this type is a valid key.
///
/// Privacy: digits are card numbers and PINs. `Debug` and `Display` print `Digit(..)` and
/// never the key; code that needs the value asks for it with [`Digit::as_char`] or
/// [`Digit::event_code`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit {
    code: u8,
}

/// The keys in event-code order (RFC 4733 §3.2, Table 7).
const KEYS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// Low-group (row) frequencies in Hz, ITU-T Q.23.
pub(crate) const ROW_HZ: [f64; 4] = [697.0, 770.0, 852.0, 941.0];

/// High-group (column) frequencies in Hz, ITU-T Q.23.
pub(crate) const COL_HZ: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Keypad position `(row, col)` of each key, in event-code order (the inverse of `PAD`).
const POSITION: [(usize, usize); 16] = [
    (3, 1),
    (0, 0),
    (0, 1),
    (0, 2),
    (1, 0),
    (1, 1),
    (1, 2),
    (2, 0),
    (2, 1),
    (2, 2),
    (3, 0),
    (3, 2),
    (0, 3),
    (1, 3),
    (2, 3),
    (3, 3),
];

/// The keypad layout: `PAD[row][col]` is the key at that row and column, as a char.
const PAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

impl Digit {
    /// All sixteen keys, in event-code order.
    pub fn all() -> impl Iterator<Item = Digit> {
        (0..16).map(|code| Digit { code })
    }

    /// The key for an RFC 4733 event code, or `None` for codes above 15 (which are other
    /// events, such as 16 for a hook flash).
    pub fn from_event_code(code: u8) -> Option<Digit> {
        (code < 16).then_some(Digit { code })
    }

    /// The key for a character: `0`-`9`, `*`, `#`, and `A`-`D` in either case.
    pub fn from_char(c: char) -> Option<Digit> {
        let upper = c.to_ascii_uppercase();
        KEYS.iter()
            .position(|&k| k == upper)
            .map(|i| Digit { code: i as u8 })
    }

    /// The key for a keypad position (`row` 0-3 from the top, `col` 0-3 from the left).
    pub(crate) fn from_row_col(row: usize, col: usize) -> Option<Digit> {
        let c = *PAD.get(row)?.get(col)?;
        Digit::from_char(c)
    }

    /// The key as a character: `0`-`9`, `*`, `#`, `A`-`D` (upper case).
    pub fn as_char(self) -> char {
        KEYS[usize::from(self.code)]
    }

    /// The RFC 4733 event code (0-15).
    pub fn event_code(self) -> u8 {
        self.code
    }

    /// The key's keypad position, `(row, col)`, each 0-3.
    pub(crate) fn row_col(self) -> (usize, usize) {
        POSITION[usize::from(self.code)]
    }

    /// The key's two frequencies in Hz, `(low group, high group)`, as ITU-T Q.23 defines them.
    pub fn frequencies(self) -> (f64, f64) {
        let (row, col) = self.row_col();
        (ROW_HZ[row], COL_HZ[col])
    }
}

impl fmt::Debug for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digit(..)")
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digit(..)")
    }
}

impl TryFrom<char> for Digit {
    type Error = super::DtmfError;

    fn try_from(c: char) -> Result<Self, Self::Error> {
        Digit::from_char(c).ok_or(super::DtmfError::NotADigit)
    }
}

impl TryFrom<u8> for Digit {
    type Error = super::DtmfError;

    /// From an RFC 4733 event code (0-15).
    fn try_from(code: u8) -> Result<Self, Self::Error> {
        Digit::from_event_code(code).ok_or(super::DtmfError::NotADigit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_and_chars_agree() {
        let chars: String = Digit::all().map(Digit::as_char).collect();
        assert_eq!(chars, "0123456789*#ABCD");
        for d in Digit::all() {
            assert_eq!(Digit::from_char(d.as_char()), Some(d));
            assert_eq!(Digit::from_event_code(d.event_code()), Some(d));
        }
        assert_eq!(Digit::from_char('b').map(Digit::as_char), Some('B'));
        assert_eq!(Digit::from_event_code(16), None);
        assert_eq!(Digit::from_char('E'), None);
        assert_eq!(Digit::from_char('٣'), None);
    }

    #[test]
    fn frequencies_follow_the_keypad() {
        let f = |c| Digit::from_char(c).map(Digit::frequencies);
        assert_eq!(f('1'), Some((697.0, 1209.0)));
        assert_eq!(f('5'), Some((770.0, 1336.0)));
        assert_eq!(f('9'), Some((852.0, 1477.0)));
        assert_eq!(f('*'), Some((941.0, 1209.0)));
        assert_eq!(f('0'), Some((941.0, 1336.0)));
        assert_eq!(f('#'), Some((941.0, 1477.0)));
        assert_eq!(f('D'), Some((941.0, 1633.0)));
        for d in Digit::all() {
            let (r, c) = d.row_col();
            assert_eq!(Digit::from_row_col(r, c), Some(d));
            assert_eq!(PAD[r][c], d.as_char());
        }
    }

    #[test]
    fn debug_and_display_hide_the_key() {
        for d in Digit::all() {
            assert_eq!(format!("{d:?}"), "Digit(..)");
            assert_eq!(format!("{d}"), "Digit(..)");
            assert_eq!(format!("{:?}", Some(d)), "Some(Digit(..))");
        }
    }
}
