//! Counters and delay figures ([`JitterStats`]), in the units of pjmedia's `Jbtest.dat` bounds.

use std::time::Duration;

/// What the buffer did so far. Counts are in frames (ticks of `frame_duration`) unless said
/// otherwise; the burst and delay figures are sampled the way pjmedia's jitter buffer samples
/// them, so they compare with its `Jbtest.dat` bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Ticks that played received media (`Frame` and `Continued`).
    pub played: u64,
    /// Frames declared lost: concealed (`Missing`) or skipped because their time had passed.
    pub lost: u64,
    /// `Missing` frames handed out with the following packet (an FEC opportunity).
    pub lost_with_next: u64,
    /// `Empty` ticks, for any reason (prefetching, underrun, silence, stretch).
    pub empty: u64,
    /// Of `empty`, ticks inserted on purpose to grow the delay.
    pub stretched: u64,
    /// Packets (and frames) thrown away: the sum of the five counters below.
    pub discarded: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Packets that arrived after their turn, or too large to store.
    pub late: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Frames dropped to shrink the delay.
    pub shrunk: u64,
    /// Packets dropped by a sequence restart.
    pub flushed: u64,
    /// Sequence or timestamp restarts.
    pub restarts: u64,
    /// Largest number of packets that arrived between two ticks.
    pub burst_max: u32,
    /// Mean number of packets that arrived between two ticks (over ticks preceded by at least
    /// one arrival; pjmedia's "burst").
    pub burst_avg: f64,
    /// Smallest sampled delay: frames held (including the one played) at the first tick after
    /// one or more arrivals, as pjmedia samples it.
    pub delay_min: u32,
    /// Largest sampled delay, as `delay_min`.
    pub delay_max: u32,
    /// Mean sampled delay, as `delay_min`.
    pub delay_avg: f64,
    /// Spread of relative transit within the estimation window (latest minus earliest).
    pub jitter: Duration,
    /// Current target playout delay behind the earliest recent arrival.
    pub target_delay: Duration,
}

/// Running minimum, maximum and mean of a sampled quantity.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sampled {
    count: u64,
    sum: u64,
    min: u32,
    max: u32,
}

impl Sampled {
    /// Adds one sample.
    pub fn record(&mut self, value: u32) {
        self.min = if self.count == 0 {
            value
        } else {
            self.min.min(value)
        };
        self.max = self.max.max(value);
        self.count += 1;
        self.sum = self.sum.saturating_add(u64::from(value));
    }

    /// Minimum, maximum and mean (zeros before the first sample).
    pub fn summary(&self) -> (u32, u32, f64) {
        if self.count == 0 {
            return (0, 0, 0.0);
        }
        (self.min, self.max, self.sum as f64 / self.count as f64)
    }
}

/// The counters plus the samplers behind the burst and delay figures.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tally {
    pub counts: JitterStats,
    pub burst: Sampled,
    pub delay: Sampled,
}

impl Tally {
    /// The counters with the sampled figures filled in.
    pub fn snapshot(&self, jitter: Duration, target_delay: Duration) -> JitterStats {
        let (_, burst_max, burst_avg) = self.burst.summary();
        let (delay_min, delay_max, delay_avg) = self.delay.summary();
        let c = &self.counts;
        JitterStats {
            discarded: c.duplicates + c.late + c.overflow + c.shrunk + c.flushed,
            burst_max,
            burst_avg,
            delay_min,
            delay_max,
            delay_avg,
            jitter,
            target_delay,
            ..*c
        }
    }
}
