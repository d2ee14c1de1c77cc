//! Arrival times in media-clock units and the jitter estimate: the earliest and latest relative
//! transit (arrival minus timestamp) seen within a sliding window.

use std::time::Instant;

use super::config::{signed, to_units};

/// Converts instants to media-clock units counted from the first instant it is shown.
#[derive(Debug)]
pub(super) struct MediaClock {
    epoch: Option<Instant>,
    rate: u64,
}

impl MediaClock {
    /// A clock ticking `rate` units per second.
    pub fn new(rate: u64) -> Self {
        Self { epoch: None, rate }
    }

    /// `now` in clock units since the first call; an instant before that counts as zero.
    pub fn units(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        signed(to_units(now.saturating_duration_since(epoch), self.rate))
    }
}

/// Number of sub-windows; the window slides by one sub-window at a time.
const BUCKETS: usize = 8;

/// Extremes of the transits that arrived within one sub-window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Which sub-window (arrival time / sub-window length) the extremes belong to.
    span: i64,
    early: i64,
    late: i64,
    used: bool,
}

const UNUSED: Bucket = Bucket {
    span: 0,
    early: 0,
    late: 0,
    used: false,
};

/// Earliest and latest relative transit within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Edges {
    /// Smallest transit: the packets that arrived earliest for their timestamp.
    pub early: i64,
    /// Largest transit: the packets that arrived latest.
    pub late: i64,
}

impl Edges {
    /// The spread between the two: the jitter the window saw.
    pub fn spread(&self) -> i64 {
        self.late.saturating_sub(self.early)
    }

    /// These edges widened to include `transit`.
    pub fn with(self, transit: i64) -> Self {
        Self {
            early: self.early.min(transit),
            late: self.late.max(transit),
        }
    }
}

/// Sliding-window minimum and maximum of relative transit, in fixed memory.
#[derive(Debug)]
pub(super) struct TransitWindow {
    buckets: [Bucket; BUCKETS],
    /// Length of one sub-window, in clock units (at least 1).
    bucket_len: i64,
}

impl TransitWindow {
    /// A window of about `window` clock units.
    pub fn new(window: u64) -> Self {
        let bucket_len = signed(window / BUCKETS as u64).max(1);
        Self {
            buckets: [UNUSED; BUCKETS],
            bucket_len,
        }
    }

    fn slot(&self, at: i64) -> (i64, usize) {
        let span = at.div_euclid(self.bucket_len);
        // rem_euclid of a positive modulus is in 0..BUCKETS.
        (span, span.rem_euclid(BUCKETS as i64) as usize)
    }

    /// Records a packet that arrived at `at` with relative transit `transit`.
    pub fn record(&mut self, at: i64, transit: i64) {
        let (span, index) = self.slot(at);
        let bucket = &mut self.buckets[index];
        if !bucket.used || bucket.span != span {
            *bucket = Bucket {
                span,
                early: transit,
                late: transit,
                used: true,
            };
        } else {
            bucket.early = bucket.early.min(transit);
            bucket.late = bucket.late.max(transit);
        }
    }

    /// The extremes of the transits recorded within the window that ends at `at`.
    pub fn edges(&self, at: i64) -> Option<Edges> {
        let (now_span, _) = self.slot(at);
        let oldest = now_span - (BUCKETS as i64 - 1);
        self.buckets
            .iter()
            .filter(|b| b.used && b.span >= oldest && b.span <= now_span)
            .map(|b| Edges {
                early: b.early,
                late: b.late,
            })
            .reduce(|a, b| Edges {
                early: a.early.min(b.early),
                late: a.late.max(b.late),
            })
    }

    /// Forgets everything (a new timeline).
    pub fn clear(&mut self) {
        self.buckets = [UNUSED; BUCKETS];
    }
}
