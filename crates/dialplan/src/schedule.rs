//! Opening hours in a named time zone: weekly windows and closed dates.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;

use crate::error::ErrorKind;

/// A wall-clock time with minute precision, `00:00` to `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    /// Parses `HH:MM`; `24:00` only when `allow_end_of_day`.
    pub fn parse(text: &str, allow_end_of_day: bool) -> Result<ClockTime, ErrorKind> {
        let bad = || ErrorKind::BadTime(text.to_owned());
        let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return Err(bad());
        }
        let hours: u16 = hours.parse().map_err(|_| bad())?;
        let minutes: u16 = minutes.parse().map_err(|_| bad())?;
        Self::from_hm(hours, minutes, allow_end_of_day).ok_or_else(bad)
    }

    /// `hours:minutes`, if it is a time of day (or 24:00 when `allow_end_of_day`).
    pub fn from_hm(hours: u16, minutes: u16, allow_end_of_day: bool) -> Option<ClockTime> {
        let in_day = hours < 24 && minutes < 60;
        let end_of_day = allow_end_of_day && hours == 24 && minutes == 0;
        (in_day || end_of_day).then_some(ClockTime {
            minutes: hours * 60 + minutes,
        })
    }

    /// Seconds since midnight at the start of this minute.
    fn seconds(self) -> u32 {
        u32::from(self.minutes) * 60
    }
}

impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

/// A set of weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    /// Bit 0 is Monday, bit 6 Sunday.
    bits: u8,
}

const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

impl Days {
    /// Every day of the week.
    pub const ALL: Days = Days { bits: 0x7f };

    /// Parses `"mon-fri"`, `"sat"`, `"mon,wed,fri"`, `"fri-mon"` (wraps past Sunday),
    /// `"mon-fri, sun"`; names are case-insensitive and may be written in full.
    pub fn parse(text: &str) -> Result<Days, ErrorKind> {
        text.split(',')
            .try_fold(Days { bits: 0 }, |days, part| {
                let part = part.trim();
                let range = match part.split_once('-') {
                    Some((first, last)) => day_range(day_index(first)?, day_index(last)?),
                    None => day_range(day_index(part)?, day_index(part)?),
                };
                Ok(Days {
                    bits: days.bits | range.bits,
                })
            })
            .map_err(|_: ErrorKind| ErrorKind::UnknownDay(text.to_owned()))
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        let index = day.to_monday_zero_offset();
        self.bits & (1 << index) != 0
    }
}

/// Monday = 0 .. Sunday = 6.
fn day_index(name: &str) -> Result<u8, ErrorKind> {
    let name = name.trim().to_ascii_lowercase();
    let position = DAY_NAMES
        .iter()
        .position(|(short, long)| name == *short || name == *long);
    position
        .and_then(|index| u8::try_from(index).ok())
        .ok_or(ErrorKind::UnknownDay(name))
}

/// Days from `first` to `last` inclusive, wrapping past Sunday.
fn day_range(first: u8, last: u8) -> Days {
    let mut bits = 0u8;
    let mut day = first;
    loop {
        bits |= 1 << day;
        if day == last {
            return Days { bits };
        }
        day = (day + 1) % 7;
    }
}

/// One weekly opening window: on `days`, from `from` (inclusive) to `to` (exclusive). When
/// `to` is not after `from` the window wraps past midnight into the next day; it belongs to
/// the day it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    days: Days,
    from: ClockTime,
    to: ClockTime,
}

impl Window {
    /// A window; `from == to` is refused as empty.
    pub fn new(days: Days, from: ClockTime, to: ClockTime) -> Result<Window, ErrorKind> {
        if from == to {
            return Err(ErrorKind::EmptyWindow(from.to_string()));
        }
        Ok(Window { days, from, to })
    }

    /// Whether local wall-clock time `local` falls in this window.
    fn contains(&self, local: DateTime) -> bool {
        let second = seconds_since_midnight(local);
        let today = self.days.contains(local.weekday());
        if self.from < self.to {
            return today && (self.from.seconds()..self.to.seconds()).contains(&second);
        }
        let yesterday = self.days.contains(local.weekday().previous());
        (today && second >= self.from.seconds()) || (yesterday && second < self.to.seconds())
    }
}

fn seconds_since_midnight(local: DateTime) -> u32 {
    let [h, m, s] = [local.hour(), local.minute(), local.second()].map(|v| v.unsigned_abs());
    u32::from(h) * 3600 + u32::from(m) * 60 + u32::from(s)
}

/// When a route is open: weekly windows and closed dates, in one time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: TimeZone,
    /// Empty means open all week (only `closed` applies).
    windows: Vec<Window>,
    closed: Vec<Date>,
}

impl Schedule {
    /// A schedule in `zone`.
    pub fn new(zone: TimeZone, windows: Vec<Window>, closed: Vec<Date>) -> Schedule {
        Schedule {
            zone,
            windows,
            closed,
        }
    }

    /// Whether the route is open at instant `at`: its local date is not a closed date, and
    /// its local time falls in a window (or there are no windows).
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.zone.to_datetime(at);
        if self.closed.contains(&local.date()) {
            return false;
        }
        self.windows.is_empty() || self.windows.iter().any(|w| w.contains(local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> ClockTime {
        ClockTime::parse(text, true).expect("test time is valid")
    }

    fn local(text: &str) -> DateTime {
        text.parse().expect("test datetime is valid")
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(time("08:30").to_string(), "08:30");
        assert_eq!(time("24:00").to_string(), "24:00");
        for bad in [
            "25:00", "24:01", "8:00", "08:60", "08-00", "", "0800", "+8:00", "08:00:00",
        ] {
            assert_eq!(
                ClockTime::parse(bad, true),
                Err(ErrorKind::BadTime(bad.into()))
            );
        }
        assert!(ClockTime::parse("24:00", false).is_err());
    }

    #[test]
    fn days_parse_lists_and_ranges() {
        let weekdays = Days::parse("mon-fri").expect("valid");
        assert!(weekdays.contains(Weekday::Monday) && weekdays.contains(Weekday::Friday));
        assert!(!weekdays.contains(Weekday::Saturday));
        let wrapped = Days::parse("Fri-Mon").expect("valid");
        assert!(wrapped.contains(Weekday::Sunday) && !wrapped.contains(Weekday::Tuesday));
        let list = Days::parse("monday, wed ,sun").expect("valid");
        assert!(list.contains(Weekday::Wednesday) && !list.contains(Weekday::Tuesday));
        assert_eq!(Days::parse("mon-sun"), Ok(Days::ALL));
        for bad in ["", "mun", "mon-", "mon,,fri", "mon-fri-sat", "mo"] {
            assert_eq!(Days::parse(bad), Err(ErrorKind::UnknownDay(bad.into())));
        }
    }

    #[test]
    fn window_is_half_open() {
        let w = Window::new(Days::ALL, time("08:00"), time("18:00")).expect("valid");
        assert!(w.contains(local("2026-03-02T08:00:00")));
        assert!(w.contains(local("2026-03-02T17:59:59")));
        assert!(!w.contains(local("2026-03-02T18:00:00")));
        assert!(!w.contains(local("2026-03-02T07:59:59")));
    }

    #[test]
    fn window_wraps_past_midnight_into_the_next_day() {
        let friday = Days::parse("fri").expect("valid");
        let w = Window::new(friday, time("22:00"), time("06:00")).expect("valid");
        assert!(w.contains(local("2026-03-06T23:00:00")), "friday night");
        assert!(w.contains(local("2026-03-07T05:59:00")), "saturday early");
        assert!(
            !w.contains(local("2026-03-07T06:00:00")),
            "saturday morning"
        );
        assert!(!w.contains(local("2026-03-07T23:00:00")), "saturday night");
        assert!(!w.contains(local("2026-03-06T05:00:00")), "friday early");
    }

    #[test]
    fn whole_day_window() {
        let w = Window::new(Days::ALL, time("00:00"), time("24:00")).expect("valid");
        assert!(w.contains(local("2026-03-02T00:00:00")));
        assert!(w.contains(local("2026-03-02T23:59:59")));
    }

    #[test]
    fn equal_from_and_to_is_refused() {
        let err = Window::new(Days::ALL, time("08:00"), time("08:00")).expect_err("empty");
        assert_eq!(err, ErrorKind::EmptyWindow("08:00".into()));
    }
}
