//! NTP timestamps (RFC 3550 §4, RFC 5905 §6), the wall clock of sender reports.

use std::time::{Duration, SystemTime};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const UNIX_EPOCH_IN_NTP: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp: seconds since 1900 in the high 32 bits (modulo 2^32: era 1 starts
/// in 2036), the fraction of a second in the low 32.
///
/// Made from a wall-clock value the caller read; nothing here reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// Wraps the 64-bit wire value.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The 64-bit wire value.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The timestamp `since_unix_epoch` after 1970-01-01 (modulo the 136-year NTP era).
    pub fn from_unix(since_unix_epoch: Duration) -> Self {
        let seconds = since_unix_epoch.as_secs().wrapping_add(UNIX_EPOCH_IN_NTP) as u32;
        let fraction = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        Self(u64::from(seconds) << 32 | fraction)
    }

    /// The timestamp of a wall-clock reading; times before 1970 count as 1970.
    pub fn from_system_time(wall_clock: SystemTime) -> Self {
        let since = wall_clock
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix(since)
    }

    /// The middle 32 bits, in 1/65536 s: the "last SR" field of a report block and the unit of
    /// round-trip arithmetic.
    pub const fn middle_32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// `duration` in 1/65536 s, saturating at `u32::MAX` (about 18 hours).
pub(crate) fn to_short_units(duration: Duration) -> u32 {
    let units = duration.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// `units` of 1/65536 s as a duration.
pub(crate) fn from_short_units(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_unix_time() {
        let ntp = NtpTimestamp::from_unix(Duration::new(1_561_696_713, 500_000_000));
        assert_eq!(ntp.get() >> 32, 1_561_696_713 + UNIX_EPOCH_IN_NTP);
        assert_eq!(ntp.get() as u32, 1 << 31);
        let system = SystemTime::UNIX_EPOCH + Duration::new(1_561_696_713, 500_000_000);
        assert_eq!(NtpTimestamp::from_system_time(system), ntp);
    }

    #[test]
    fn wraps_into_era_one_in_2036() {
        let era_end = Duration::from_secs((1 << 32) - UNIX_EPOCH_IN_NTP);
        assert_eq!(NtpTimestamp::from_unix(era_end).get(), 0);
    }

    #[test]
    fn middle_bits_and_short_units() {
        assert_eq!(
            NtpTimestamp::new(0x1234_5678_9abc_def0).middle_32(),
            0x5678_9abc
        );
        assert_eq!(to_short_units(Duration::from_millis(1500)), 98_304);
        assert_eq!(from_short_units(98_304), Duration::from_millis(1500));
        assert_eq!(to_short_units(Duration::from_secs(100_000)), u32::MAX);
    }
}
