//! Arrival times in media-clock units and the jitter estimate: the earliest and latest relative
//! transit (arrival minus timestamp) seen within a sliding window, corrected for the clock skew
//! between sender and receiver.

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
///
/// When the sender's clock runs faster than ours, transit falls steadily and a plain window
/// would remember the old, higher level for its whole length: the delay would stay too high by
/// drift x window. The window therefore measures the skew (the slope of the transit extremes
/// from one window length to the next) and reads each sub-window's extremes as they would be
/// under today's clock relation.
#[derive(Debug)]
pub(super) struct TransitWindow {
    buckets: [Bucket; BUCKETS],
    /// Length of one sub-window, in clock units (at least 1).
    bucket_len: i64,
    skew: Skew,
}

impl TransitWindow {
    /// A window of about `window` clock units.
    pub fn new(window: u64) -> Self {
        let bucket_len = signed(window / BUCKETS as u64).max(1);
        Self {
            buckets: [UNUSED; BUCKETS],
            bucket_len,
            skew: Skew::new(bucket_len * BUCKETS as i64),
        }
    }

    fn slot(&self, at: i64) -> (i64, usize) {
        let span = at.div_euclid(self.bucket_len);
        // rem_euclid of a positive modulus is in 0..BUCKETS.
        (span, span.rem_euclid(BUCKETS as i64) as usize)
    }

    /// Records a packet that arrived at `at` with relative transit `transit`.
    pub fn record(&mut self, at: i64, transit: i64) {
        self.skew.record(at, transit);
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

    /// The extremes of the transits recorded within the window that ends at `at`, each
    /// sub-window's projected to `at` along the measured skew.
    pub fn edges(&self, at: i64) -> Option<Edges> {
        let (now_span, _) = self.slot(at);
        let oldest = now_span - (BUCKETS as i64 - 1);
        self.buckets
            .iter()
            .filter(|b| b.used && b.span >= oldest && b.span <= now_span)
            .map(|b| {
                let age = at.saturating_sub((b.span + 1).saturating_mul(self.bucket_len));
                let drift = self.skew.drift_over(age.max(0));
                Edges {
                    early: b.early.saturating_add(drift),
                    late: b.late.saturating_add(drift),
                }
            })
            .reduce(|a, b| Edges {
                early: a.early.min(b.early),
                late: a.late.max(b.late),
            })
    }

    /// The measured skew: transit change per clock unit (negative when the sender's clock is
    /// faster than ours).
    pub fn skew(&self) -> f64 {
        self.skew.slope
    }

    /// Forgets everything (a new timeline).
    pub fn clear(&mut self) {
        self.buckets = [UNUSED; BUCKETS];
        self.skew = Skew::new(self.skew.period);
    }
}

/// Clock skew, from the lowest and highest transit of consecutive periods of one window length.
/// Drift moves both extremes alike; a burst of early packets moves only the lowest and a delay
/// spike only the highest, so a period's sample is the smaller of the two slopes when they
/// agree in sign, and zero when they do not.
#[derive(Debug, Clone, Copy)]
struct Skew {
    /// Period length in clock units.
    period: i64,
    /// The period being filled.
    filling: Option<Period>,
    /// The last completed period.
    completed: Option<Period>,
    /// Smoothed slope: transit change per clock unit.
    slope: f64,
    /// Whether `slope` holds a measurement yet.
    measured: bool,
}

/// Extremes of transit within one period.
#[derive(Debug, Clone, Copy)]
struct Period {
    index: i64,
    early: i64,
    late: i64,
}

impl Skew {
    fn new(period: i64) -> Self {
        Self {
            period: period.max(1),
            filling: None,
            completed: None,
            slope: 0.0,
            measured: false,
        }
    }

    fn record(&mut self, at: i64, transit: i64) {
        let index = at.div_euclid(self.period);
        let fresh = Period {
            index,
            early: transit,
            late: transit,
        };
        match self.filling.as_mut() {
            Some(p) if p.index == index => {
                p.early = p.early.min(transit);
                p.late = p.late.max(transit);
            }
            Some(done) => {
                let done = *done;
                self.complete(done);
                self.filling = Some(fresh);
            }
            None => self.filling = Some(fresh),
        }
    }

    /// Takes a slope sample when `done` follows the last completed period directly.
    fn complete(&mut self, done: Period) {
        if let Some(before) = self.completed
            && before.index + 1 == done.index
        {
            let sample = self.sample(before, done);
            self.slope = if self.measured {
                (self.slope + sample) / 2.0
            } else {
                sample
            };
            self.measured = true;
        }
        self.completed = Some(done);
    }

    fn sample(&self, before: Period, after: Period) -> f64 {
        let early = after.early.saturating_sub(before.early);
        let late = after.late.saturating_sub(before.late);
        let agreed = if early.signum() != late.signum() {
            0
        } else if early.abs() < late.abs() {
            early
        } else {
            late
        };
        agreed as f64 / self.period as f64
    }

    /// Transit change over `units` of time at the measured slope, when transit is falling (a
    /// faster sender). A rising transit needs no projection: the newest sub-windows already
    /// hold the highest values, and late packets make the buffer grow by themselves.
    fn drift_over(&self, units: i64) -> i64 {
        (self.slope.min(0.0) * units as f64) as i64
    }
}
