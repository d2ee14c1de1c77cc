//! RTP timestamp extension from 32 to 64 bits.

/// Timestamps per cycle.
const TS_MOD: u64 = 1 << 32;

/// Extends 32-bit RTP timestamps to 64 bits across wraps.
///
/// A timestamp less than 2^31 ahead of the highest so far moves the highest forward (wrapping
/// into the next cycle when it has to); one behind it is a reordered packet and gets a value
/// below the highest, which stays put. The first timestamp `t` becomes `2^32 + t`, so that a
/// reordered packet from before it still has a value.
///
/// A new timestamp origin (SSRC change, sender restart) is not detectable here: the caller
/// calls [`TimestampExtender::reset`], as [`super::SourceTracker`] does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimestampExtender {
    highest: Option<u64>,
}

impl TimestampExtender {
    /// An extender that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extends `timestamp`.
    pub fn extend(&mut self, timestamp: u32) -> u64 {
        let Some(highest) = self.highest else {
            let extended = TS_MOD + u64::from(timestamp);
            self.highest = Some(extended);
            return extended;
        };
        let delta = timestamp.wrapping_sub(highest as u32) as i32;
        if delta >= 0 {
            let extended = highest.saturating_add(u64::from(delta.unsigned_abs()));
            self.highest = Some(extended);
            extended
        } else {
            highest.saturating_sub(u64::from(delta.unsigned_abs()))
        }
    }

    /// The highest extended timestamp so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Forgets the timestamp origin.
    pub fn reset(&mut self) {
        self.highest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_two_to_the_32() {
        let mut extender = TimestampExtender::new();
        assert_eq!(
            extender.extend(u32::MAX - 159),
            TS_MOD + u64::from(u32::MAX - 159)
        );
        assert_eq!(extender.extend(0), 2 * TS_MOD);
        assert_eq!(extender.extend(160), 2 * TS_MOD + 160);
        assert_eq!(extender.highest(), Some(2 * TS_MOD + 160));
    }

    #[test]
    fn reordered_timestamps_go_back_without_moving_the_highest() {
        let mut extender = TimestampExtender::new();
        extender.extend(160);
        assert_eq!(extender.extend(480), TS_MOD + 480);
        assert_eq!(extender.extend(320), TS_MOD + 320);
        // Reordered from before the first one, across the wrap.
        assert_eq!(extender.extend(u32::MAX - 159), TS_MOD - 160);
        assert_eq!(extender.highest(), Some(TS_MOD + 480));
    }

    #[test]
    fn reset_takes_a_new_origin() {
        let mut extender = TimestampExtender::new();
        extender.extend(1_000_000);
        extender.reset();
        assert_eq!(extender.extend(5), TS_MOD + 5);
    }
}
