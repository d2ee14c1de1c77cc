//! Tone generation: DTMF digits, beeps and ringback, as 16-bit linear PCM.
//!
//! A [`ToneGenerator`] plays one [`ToneSpec`]: one or two sine waves, each with its own
//! frequency and level in dBm0, switched on and off by a [`Cadence`]. It is used to send DTMF
//! in band, to play a beep before recording and ringback during a transfer, and by the tests
//! of the in-band detector, which is why it is exact:
//!
//! - each sample is computed from the sample index (`sin(2π·f·n/rate)`), so the phase is
//!   continuous across [`ToneGenerator::fill`] calls of any length and across the silent
//!   parts of a cadence (the oscillator keeps running while gated off), and never drifts;
//! - durations are whole samples, rounded to the nearest one (40 ms at 8 kHz is exactly 320);
//! - there is no ramp: tones switch on and off at a sample boundary, as test tapes do.
//!
//! It does not resample, mix into other audio, or encode: the media layer does that.
//!
//! # Levels
//!
//! dBm0 are measured the G.711 way: a sine wave at full scale (peak 32768) is +3.14 dBm0 (the
//! A-law figure; µ-law's +3.17 differs by 0.03 dB), so 0 dBm0 is a sine of peak
//! [`dbm0_to_peak`]`(0.0)` ≈ 22 828, and -10 dBm0 one of peak ≈ 7219. Samples that would
//! exceed the 16-bit range are clipped.
//!
//! # Predefined tones
//!
//! | tone | frequencies | level | cadence |
//! | --- | --- | --- | --- |
//! | [`ToneSpec::dtmf`] | ITU-T Q.23 pair | -10 dBm0 low, -8 dBm0 high (2 dB twist, as telephone sets send) | once, for the given time |
//! | [`ToneSpec::beep`] | 1000 Hz | -10 dBm0 | once, 200 ms |
//! | [`ToneSpec::ringback_europe`] | 425 Hz | -13 dBm0 | 1 s on, 4 s off (ETSI/CEPT) |
//! | [`ToneSpec::ringback_north_america`] | 440 + 480 Hz | -19 dBm0 each | 2 s on, 4 s off (precise tone plan) |

use std::f64::consts::TAU;
use std::fmt;
use std::time::Duration;

use crate::dtmf::Digit;

/// Level in dBm0 of a sine wave whose peak is full scale (32768), per ITU-T G.711 (A-law).
#[allow(clippy::approx_constant, reason = "a level in dB from G.711, not π")]
pub const FULL_SCALE_SINE_DBM0: f64 = 3.14;

/// The peak amplitude, in 16-bit linear units, of a sine wave at `dbm0` dBm0.
pub fn dbm0_to_peak(dbm0: f64) -> f64 {
    32768.0 * 10f64.powf((dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)
}

/// The level in dBm0 of a sine wave whose power (mean square, in 16-bit units squared) is
/// `power`; the inverse of `dbm0_to_peak(x)² / 2`.
pub fn power_to_dbm0(power: f64) -> f64 {
    let peak = (2.0 * power).sqrt();
    20.0 * (peak / 32768.0).log10() + FULL_SCALE_SINE_DBM0
}

/// One sine wave of a tone.
#[derive(Clone, Copy, PartialEq)]
pub struct ToneComponent {
    /// Frequency in Hz; above half the sample rate it aliases.
    pub hz: f64,
    /// Level in dBm0.
    pub dbm0: f64,
}

/// When a tone sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Always on.
    Continuous,
    /// On for this long, then silent for good ([`ToneGenerator::is_finished`]).
    Once(Duration),
    /// On, then off, repeated for ever, starting with `on`.
    Repeat {
        /// How long the tone sounds in each cycle.
        on: Duration,
        /// How long it is silent in each cycle.
        off: Duration,
    },
}

/// What a [`ToneGenerator`] plays: one or two sine waves and a cadence.
///
/// `Debug` hides the frequencies, which for a DTMF tone are the digit.
#[derive(Clone, Copy, PartialEq)]
pub struct ToneSpec {
    /// The first sine wave.
    pub first: ToneComponent,
    /// The second sine wave, for dual tones.
    pub second: Option<ToneComponent>,
    /// When the tone sounds.
    pub cadence: Cadence,
}

impl ToneSpec {
    /// One sine wave.
    pub fn single(hz: f64, dbm0: f64, cadence: Cadence) -> ToneSpec {
        ToneSpec {
            first: ToneComponent { hz, dbm0 },
            second: None,
            cadence,
        }
    }

    /// Two sine waves, each with its own level.
    pub fn dual(first: ToneComponent, second: ToneComponent, cadence: Cadence) -> ToneSpec {
        ToneSpec {
            first,
            second: Some(second),
            cadence,
        }
    }

    /// The DTMF tone of `digit`, sounding for `on`: low group at -10 dBm0, high group at
    /// -8 dBm0.
    pub fn dtmf(digit: Digit, on: Duration) -> ToneSpec {
        ToneSpec::dtmf_at(digit, -10.0, -8.0, on)
    }

    /// The DTMF tone of `digit` with the given levels of its low and high group tones.
    pub fn dtmf_at(digit: Digit, low_dbm0: f64, high_dbm0: f64, on: Duration) -> ToneSpec {
        let (low, high) = digit.frequencies();
        ToneSpec::dual(
            ToneComponent {
                hz: low,
                dbm0: low_dbm0,
            },
            ToneComponent {
                hz: high,
                dbm0: high_dbm0,
            },
            Cadence::Once(on),
        )
    }

    /// A 200 ms beep at 1000 Hz, -10 dBm0, such as the one before a recording starts.
    pub fn beep() -> ToneSpec {
        ToneSpec::single(1000.0, -10.0, Cadence::Once(Duration::from_millis(200)))
    }

    /// European (ETSI/CEPT) ringback: 425 Hz at -13 dBm0, 1 s on, 4 s off.
    pub fn ringback_europe() -> ToneSpec {
        let on = Duration::from_secs(1);
        ToneSpec::single(
            425.0,
            -13.0,
            Cadence::Repeat {
                on,
                off: Duration::from_secs(4),
            },
        )
    }

    /// North American ringback (precise tone plan): 440 + 480 Hz at -19 dBm0 each, 2 s on,
    /// 4 s off.
    pub fn ringback_north_america() -> ToneSpec {
        let on = Duration::from_secs(2);
        ToneSpec::dual(
            ToneComponent {
                hz: 440.0,
                dbm0: -19.0,
            },
            ToneComponent {
                hz: 480.0,
                dbm0: -19.0,
            },
            Cadence::Repeat {
                on,
                off: Duration::from_secs(4),
            },
        )
    }
}

impl fmt::Debug for ToneComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToneComponent")
            .field("hz", &format_args!(".."))
            .field("dbm0", &self.dbm0)
            .finish()
    }
}

impl fmt::Debug for ToneSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToneSpec")
            .field("first", &self.first)
            .field("second", &self.second)
            .field("cadence", &self.cadence)
            .finish()
    }
}

/// Plays a [`ToneSpec`] at a sample rate. See the [module documentation](self).
///
/// `Debug` shows the position, not the frequencies.
#[derive(Clone)]
pub struct ToneGenerator {
    /// Per sine wave: frequency in cycles per sample, and peak amplitude.
    oscillators: [(f64, f64); 2],
    /// Samples generated so far.
    position: u64,
    /// Samples the tone sounds in each cycle.
    on: u64,
    /// Samples in a whole cycle; `None` when the cadence does not repeat.
    period: Option<u64>,
    /// Whether the tone never stops.
    continuous: bool,
}

impl ToneGenerator {
    /// A generator playing `spec` at `sample_rate` Hz, from its beginning.
    pub fn new(sample_rate: u32, spec: ToneSpec) -> ToneGenerator {
        let rate = f64::from(sample_rate.max(1));
        let oscillator = |c: ToneComponent| (c.hz / rate, dbm0_to_peak(c.dbm0));
        let oscillators = [
            oscillator(spec.first),
            spec.second.map_or((0.0, 0.0), oscillator),
        ];
        let samples = |d: Duration| duration_to_samples(d, sample_rate);
        let (on, period, continuous) = match spec.cadence {
            Cadence::Continuous => (0, None, true),
            Cadence::Once(on) => (samples(on), None, false),
            Cadence::Repeat { on, off } => {
                let on = samples(on);
                (on, Some(on + samples(off)), false)
            }
        };
        ToneGenerator {
            oscillators,
            position: 0,
            on,
            period,
            continuous,
        }
    }

    /// Writes the next `out.len()` samples. After a [`Cadence::Once`] tone has finished, the
    /// samples are silence.
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out {
            *sample = self.next_sample();
        }
    }

    /// Whether a [`Cadence::Once`] tone has played to its end. Repeating and continuous tones
    /// never finish.
    pub fn is_finished(&self) -> bool {
        !self.continuous && self.period.is_none() && self.position >= self.on
    }

    /// Samples generated so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    fn next_sample(&mut self) -> i16 {
        let n = self.position;
        self.position += 1;
        if !self.sounding(n) {
            return 0;
        }
        let value: f64 = self
            .oscillators
            .iter()
            .map(|&(cycles, peak)| peak * (TAU * (n as f64 * cycles).fract()).sin())
            .sum();
        // `as` saturates: values beyond the 16-bit range clip.
        value.round() as i16
    }

    fn sounding(&self, n: u64) -> bool {
        if self.continuous {
            return true;
        }
        match self.period {
            Some(period) if period > 0 => n % period < self.on,
            _ => n < self.on,
        }
    }
}

impl fmt::Debug for ToneGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToneGenerator")
            .field("position", &self.position)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// `d` at `sample_rate`, rounded to the nearest sample.
fn duration_to_samples(d: Duration, sample_rate: u32) -> u64 {
    let samples = (d.as_nanos() * u128::from(sample_rate) + 500_000_000) / 1_000_000_000;
    u64::try_from(samples).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(spec: ToneSpec, rate: u32, n: usize) -> Vec<i16> {
        let mut g = ToneGenerator::new(rate, spec);
        let mut out = vec![0; n];
        g.fill(&mut out);
        out
    }

    #[test]
    fn levels_follow_g711() {
        assert!((dbm0_to_peak(FULL_SCALE_SINE_DBM0) - 32768.0).abs() < 1e-9);
        assert!(
            (dbm0_to_peak(0.0) - 22828.0).abs() < 1.0,
            "{}",
            dbm0_to_peak(0.0)
        );
        let p = dbm0_to_peak(-13.0);
        assert!((power_to_dbm0(p * p / 2.0) + 13.0).abs() < 1e-9);
    }

    #[test]
    fn a_single_tone_is_an_exact_sine() {
        // 1000 Hz at 8000 Hz: eight samples per cycle, so the values repeat exactly.
        let out = generate(ToneSpec::beep(), 8000, 16);
        let peak = dbm0_to_peak(-10.0);
        for (n, &s) in out.iter().enumerate() {
            let want = (peak * (TAU * n as f64 / 8.0).sin()).round() as i16;
            assert_eq!(s, want, "sample {n}");
        }
        let rms = (out.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 16.0).sqrt();
        assert!((power_to_dbm0(rms * rms) + 10.0).abs() < 0.01);
    }

    #[test]
    fn phase_is_continuous_across_fill_calls() {
        let spec = ToneSpec::ringback_north_america();
        let whole = generate(spec, 8000, 1000);
        let mut g = ToneGenerator::new(8000, spec);
        let mut pieces = vec![0; 1000];
        for chunk in pieces.chunks_mut(37) {
            g.fill(chunk);
        }
        assert_eq!(whole, pieces);
    }

    #[test]
    fn once_plays_exactly_its_duration() {
        let spec = ToneSpec::dtmf(Digit::from_char('5').unwrap(), Duration::from_millis(40));
        let mut g = ToneGenerator::new(8000, spec);
        let mut out = vec![0; 400];
        g.fill(&mut out[..319]);
        assert!(!g.is_finished());
        g.fill(&mut out[319..]);
        assert!(g.is_finished());
        let last_loud = out.iter().rposition(|&s| s != 0).unwrap();
        assert!(last_loud < 320 && last_loud > 310, "{last_loud}");
        assert!(out[320..].iter().all(|&s| s == 0));
    }

    #[test]
    fn cadence_repeats_with_the_oscillator_running() {
        let spec = ToneSpec::ringback_europe();
        let out = generate(spec, 8000, 8000 * 11);
        let loud = |range: std::ops::Range<usize>| out[range].iter().any(|&s| s != 0);
        assert!(loud(0..8000) && !loud(8000..40000) && loud(40000..48000));
        assert!(!loud(48000..80000) && loud(80000..88000));
        // The second burst continues the phase of the first, as if never interrupted.
        let continuous = generate(
            ToneSpec::single(425.0, -13.0, Cadence::Continuous),
            8000,
            48000,
        );
        assert_eq!(out[40000..48000], continuous[40000..48000]);
    }

    #[test]
    fn loud_tones_clip_instead_of_wrapping() {
        let c = ToneComponent {
            hz: 1000.0,
            dbm0: 3.0,
        };
        let out = generate(ToneSpec::dual(c, c, Cadence::Continuous), 8000, 8);
        assert_eq!(out.iter().max(), Some(&i16::MAX));
        assert_eq!(out.iter().min(), Some(&i16::MIN));
    }

    #[test]
    fn debug_hides_frequencies() {
        let spec = ToneSpec::dtmf(Digit::from_char('1').unwrap(), Duration::from_millis(100));
        let s = format!("{spec:?}");
        assert!(!s.contains("697") && !s.contains("1209"), "{s}");
        let g = ToneGenerator::new(8000, spec);
        assert_eq!(
            format!("{g:?}"),
            "ToneGenerator { position: 0, finished: false, .. }"
        );
    }
}
