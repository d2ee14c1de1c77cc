//! When to send the next report (RFC 3550 §6.2, §6.3), simplified for two-party calls.

use std::time::{Duration, Instant};

use rand::Rng;

/// The minimum interval between reports (RFC 3550 §6.2).
pub const MIN_REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// The time of the next report: [`MIN_REPORT_INTERVAL`] after `now` (half of it before our
/// first report, as §6.2 allows), scaled by a random factor in 0.5..1.5 so that endpoints
/// started together do not report in step.
///
/// For a call with two participants the bandwidth term of §6.3.1 is far below five seconds
/// (5% of 64 kbit/s, 100-byte reports), so the minimum governs and timer reconsideration has
/// nothing to do; this helper does not implement them. The RNG is injected (seed it in tests).
pub fn next_report_at<R: Rng + ?Sized>(now: Instant, first: bool, rng: &mut R) -> Instant {
    let base = if first {
        MIN_REPORT_INTERVAL / 2
    } else {
        MIN_REPORT_INTERVAL
    };
    now + base.mul_f64(rng.random_range(0.5..1.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn stays_within_the_randomised_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        #[allow(
            clippy::disallowed_methods,
            reason = "one arbitrary epoch; no time passes"
        )]
        let now = Instant::now();
        for _ in 0..200 {
            let next = next_report_at(now, false, &mut rng) - now;
            assert!((Duration::from_millis(2500)..Duration::from_millis(7500)).contains(&next));
            let first = next_report_at(now, true, &mut rng) - now;
            assert!((Duration::from_millis(1250)..Duration::from_millis(3750)).contains(&first));
        }
    }
}
