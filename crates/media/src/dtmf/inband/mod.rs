//! [`InbandDetector`]: DTMF tones in 8 kHz audio, found with Goertzel filters.

mod goertzel;

use std::f32::consts::TAU;
use std::fmt;

use goertzel::{Complex, GoertzelBank, dft_norm_sqr_at};

use super::digit::{COL_HZ, ROW_HZ};
use super::queue::OutputQueue;
use super::{Digit, DtmfError};
use crate::tone::dbm0_to_peak;

/// The only sample rate the detector reads.
pub const SAMPLE_RATE: u32 = 8000;

/// Tones quieter than this (each, in dBm0) are ignored.
pub const MIN_TONE_DBM0: f64 = -42.0;

/// Consecutive windows that must agree on a digit before it is reported.
pub const WINDOWS_TO_REPORT: u32 = 4;

/// Consecutive windows without the digit after which a burst is over.
pub const WINDOWS_TO_END: u32 = 4;

/// Samples per half-block: the hop between analysis windows.
const HALF: usize = 51;

/// Samples per analysis window.
const WINDOW: usize = 2 * HALF;

/// Samples kept for the checks made before reporting: two windows.
const RECENT: usize = 2 * WINDOW;

/// Normal twist (row louder) accepted over a burst, in dB.
const NORMAL_TWIST_DB: f32 = 9.0;

/// Reverse twist (column louder) accepted over a burst, in dB.
const REVERSE_TWIST_DB: f32 = 5.0;

/// Extra twist a single window is allowed, in dB.
const WINDOW_TWIST_SLACK_DB: f32 = 3.0;

/// How far each tone must stand above the other tones of its group, in dB.
const PEAK_OVER_GROUP_DB: f32 = 8.0;

/// The share of a window's energy the two tones must carry.
const MIN_TONE_SHARE: f32 = 0.7;

/// Largest accepted deviation from a nominal frequency, as a fraction of it.
const FREQUENCY_TOLERANCE: f32 = 0.025;

/// How far the column tone's second harmonic must stay below the tone, in dB.
const HARMONIC_BELOW_DB: f32 = 10.0;

/// The band where voiced speech has its fundamental and first harmonics and DTMF has nothing,
/// in Hz, and the spacing of the filters that scan it (a Hann window over 204 samples is
/// 78 Hz wide, so 25 Hz steps miss no partial by more than 1 dB).
const PITCH_BAND_HZ: (f64, f64) = (100.0, 600.0);
const PITCH_STEP_HZ: f64 = 25.0;

/// How far below the weaker tone anything in [`PITCH_BAND_HZ`] must stay, in dB.
const PITCH_BELOW_DB: f32 = 15.0;

/// Digits held for [`InbandDetector::poll_digit`]: at least 57 ms of audio per digit, so this
/// covers more than 3.6 s of audio per `process` call.
const QUEUE_CAPACITY: usize = 64;

/// The eight DTMF frequencies: rows, then columns.
const FREQS: [f64; 8] = [
    ROW_HZ[0], ROW_HZ[1], ROW_HZ[2], ROW_HZ[3], COL_HZ[0], COL_HZ[1], COL_HZ[2], COL_HZ[3],
];

/// A DTMF digit found in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InbandDigit {
    /// The key.
    pub digit: Digit,
    /// Where its tone began, to within a half-block: the index of the first sample of the
    /// first window that showed it, counting every sample given to the detector from 0.
    pub position: u64,
}

/// Finds DTMF tones in 8 kHz audio.
///
/// For callers whose equipment sends neither RFC 4733 events nor SIP INFO, the keys are only
/// in the audio. The detector reads 16-bit linear PCM at 8000 Hz (the media layer decodes and
/// decimates first), in slices of any length, and reports each tone burst once.
///
/// It does not detect other tones (fax, busy, MF R1/R2), does not remove the tone from the
/// audio, and does not know about RFC 4733: [`DtmfPipeline`](super::DtmfPipeline) silences it
/// when the call signals keys out of band.
///
/// # How
///
/// Eight Goertzel filters, one per DTMF frequency, run over half-blocks of 51 samples
/// (6.4 ms). Two consecutive half-blocks form an analysis window of 102 samples (12.75 ms,
/// 78 Hz resolution) that advances by one half-block, so each window's DFT values are the
/// sum of two half-block values and cost nothing more. Each window is classified:
///
/// 1. **Level**: the strongest row (low group) tone and column (high group) tone are each at
///    least [`MIN_TONE_DBM0`] (-42 dBm0).
/// 2. **Twist**: the row tone is at most 9 dB louder than the column tone (normal twist) and
///    at most 5 dB quieter (reverse twist), so 8 dB / 4 dB are accepted and 10 dB / 6 dB
///    refused. A window alone is allowed 3 dB more, because the two tones leak into each
///    other's filter; the limits hold over the burst (check 6).
/// 3. **Peaks**: each of the two tones is at least 8 dB above the other tones of its group.
/// 4. **Energy share**: the two tones carry at least 70 % of the window's energy. Speech
///    spreads its energy over many harmonics and formants; a DTMF tone concentrates it.
///
/// A digit is reported when [`WINDOWS_TO_REPORT`] (4) consecutive windows agree on it, which
/// needs about 30 ms of tone (bursts of 34 ms or more are always reported, bursts of 23 ms or
/// less never are: they cannot fill four overlapping windows to 70 %), and the whole burst then
/// passes four more checks:
///
/// 5. **Frequency**: each tone is within ±2.5 % of its nominal frequency (ITU-T Q.24: accept
///    ±1.5 %, refuse ±3.5 %). A 78 Hz filter cannot tell 1.5 % from 3.5 % by amplitude, so
///    the frequency is measured from phase: the phase advance of each tone between
///    half-blocks (lag 51 samples, unambiguous to ±78 Hz) and between windows (lag 102, twice
///    as precise, unambiguous to ±39 Hz, unwrapped with the first), summed over the burst.
/// 6. **Twist** over the burst's average powers, with the limits of check 2.
/// 7. **Second harmonic** of the column tone at least 10 dB below the tone. (The row tone's
///    second harmonic, 1394-1882 Hz, lies within 60-90 Hz of column frequencies for three
///    rows: one filter cannot tell it from a genuine column tone, so it is left to checks 4
///    and 8.)
/// 8. **No voice pitch**: nothing between 100 and 600 Hz within 15 dB of the weaker tone,
///    scanned every 25 Hz over the last 204 samples through a Hann window (which keeps the
///    697 Hz row tone out of the band). A vowel whose harmonics happen to fall on a row and a
///    column frequency (say the 5th and 8th of a 154 Hz voice: 770 and 1232 Hz) also has its
///    fundamental and first harmonics there; a DTMF signal has nothing below 697 Hz. This runs
///    only when a burst is about to be reported, so it costs nothing per sample.
///
/// Checks 4 and 8 guard against talk-off independently: on the 25 minutes of Asterisk's
/// English prompts (the `dtmf_inband` talk-off test) either alone gives no false digit.
///
/// The burst ends after [`WINDOWS_TO_END`] (4) consecutive windows that do not show its digit
/// (25 ms): dropouts of 10 ms inside a tone are bridged, pauses of 40 ms separate two presses of
/// the same key.
///
/// ```text
///                 4 windows agree on a digit and the burst passes 5-8 / report it
///  +--------+ --------------------------------------------------------------> +---------+
///  | Silent |                                                                  | Present |--+ window shows
///  +--------+ <-------------------------------------------------------------- +---------+<-+ the digit
///                     4 windows in a row without the digit                      |     ^
///                                                                               +-----+
///                                     4 windows agree on another digit, 5-8 pass / report it
/// ```
///
/// # Levels and cost
///
/// dBm0 as in [`crate::tone`]: 0 dBm0 is a sine of peak 22 828. Tones are detected from
/// -38 dBm0 to -3 dBm0 each (above, the sum of two tones clips 16 bits), and 40 ms bursts in
/// white noise down to a signal-to-noise ratio of 10 dB (both tones' power over the noise's
/// in 0-4 kHz; 8 dB still finds 159 in 160); tones quieter than -42 dBm0 are ignored.
///
/// Per sample: eight Goertzel updates (one multiply, two adds each) and one square; per
/// 51 samples a few dozen complex operations; per reported digit about 25 one-off Goertzels
/// over at most 204 samples. Nothing allocates after [`new`](Self::new).
///
/// `Debug` shows how much audio it has read and whether a tone is sounding, never which key
/// (nor the samples, which would tell it too).
pub struct InbandDetector {
    bank: GoertzelBank<8>,
    /// `e^{-jω·51}` per frequency: joins half-blocks, removes the nominal phase advance.
    hop: [Complex; 8],
    /// `e^{-jω·102}` per frequency: removes the nominal phase advance between windows.
    lag: [Complex; 8],
    /// Samples of the current half-block so far, and their energy.
    filled: usize,
    energy: f32,
    /// The last four half-blocks, oldest first.
    halves: [HalfBlock; 4],
    /// Half-blocks completed since the start.
    completed: u64,
    /// The last [`RECENT`] samples, for checks 7 and 8; `recent_next` is the oldest.
    recent: [f32; RECENT],
    recent_next: usize,
    /// A Hann window over [`RECENT`] samples, for check 8.
    hann: [f32; RECENT],
    state: ToneState,
    run: Option<Run>,
    digits: OutputQueue<InbandDigit>,
}

impl fmt::Debug for InbandDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let samples = self.completed * HALF as u64 + self.filled as u64;
        let sounding = matches!(self.state, ToneState::Present { .. });
        f.debug_struct("InbandDetector")
            .field("samples", &samples)
            .field("sounding", &sounding)
            .finish_non_exhaustive()
    }
}

/// Whether a burst is sounding: see the diagram on [`InbandDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToneState {
    /// No reported burst is sounding.
    Silent,
    /// A reported burst of `digit` is sounding; `misses` windows in a row have not shown it.
    Present { digit: Digit, misses: u32 },
}

/// DFT values and energy of one half-block.
#[derive(Debug, Clone, Copy, Default)]
struct HalfBlock {
    dft: [Complex; 8],
    energy: f32,
}

/// One analysis window's verdict: the digit it shows and its two tone powers.
#[derive(Clone, Copy)]
struct Verdict {
    row: usize,
    col: usize,
    row_power: f32,
    col_power: f32,
}

/// Consecutive windows that showed the same digit, not yet reported.
#[derive(Clone, Copy)]
struct Run {
    row: usize,
    col: usize,
    windows: u32,
    /// First sample of the first window.
    start: u64,
    /// Sums of the row and column tone powers over the windows.
    power: [f32; 2],
    /// Sums of lag-51 and lag-102 phase products of the row and column tones.
    lag_half: [Complex; 2],
    lag_window: [Complex; 2],
}

impl InbandDetector {
    /// A detector for audio at `sample_rate` Hz, which must be [`SAMPLE_RATE`].
    pub fn new(sample_rate: u32) -> Result<InbandDetector, DtmfError> {
        if sample_rate != SAMPLE_RATE {
            return Err(DtmfError::UnsupportedSampleRate { rate: sample_rate });
        }
        let rate = f64::from(SAMPLE_RATE);
        let rotation = |lag: usize| FREQS.map(|f| Complex::unit(-omega(f) * lag as f32));
        Ok(InbandDetector {
            bank: GoertzelBank::new(FREQS, rate, HALF),
            hop: rotation(HALF),
            lag: rotation(WINDOW),
            filled: 0,
            energy: 0.0,
            halves: [HalfBlock::default(); 4],
            completed: 0,
            recent: [0.0; RECENT],
            recent_next: 0,
            hann: std::array::from_fn(|n| 0.5 - 0.5 * (TAU * n as f32 / RECENT as f32).cos()),
            state: ToneState::Silent,
            run: None,
            digits: OutputQueue::new(QUEUE_CAPACITY),
        })
    }

    /// Reads the next samples. Slices may have any length; state carries over between calls.
    pub fn process(&mut self, pcm: &[i16]) {
        for &sample in pcm {
            let x = f32::from(sample);
            self.bank.push(x);
            self.energy += x * x;
            self.recent[self.recent_next] = x;
            self.recent_next = (self.recent_next + 1) % RECENT;
            self.filled += 1;
            if self.filled == HALF {
                self.end_half_block();
            }
        }
    }

    /// The next digit found, once each.
    pub fn poll_digit(&mut self) -> Option<InbandDigit> {
        self.digits.pop()
    }

    /// Digits dropped because more than the queue holds were found between two polls.
    pub fn dropped_digits(&self) -> u64 {
        self.digits.dropped()
    }

    fn end_half_block(&mut self) {
        self.halves.rotate_left(1);
        self.halves[3] = HalfBlock {
            dft: self.bank.finish(),
            energy: self.energy,
        };
        self.filled = 0;
        self.energy = 0.0;
        self.completed += 1;
        if self.completed >= 2 {
            let verdict = self.classify();
            self.advance(verdict);
        }
    }

    /// The DFT values and energy of the window ending `back` half-blocks ago (0 or 2).
    fn window(&self, back: usize) -> ([Complex; 8], f32) {
        let (older, newer) = (&self.halves[2 - back], &self.halves[3 - back]);
        let dft = std::array::from_fn(|i| older.dft[i].add(self.hop[i].mul(newer.dft[i])));
        (dft, older.energy + newer.energy)
    }

    /// Checks 1-4 on the newest window.
    fn classify(&self) -> Option<Verdict> {
        let (dft, energy) = self.window(0);
        let power = dft.map(|x| 2.0 * x.norm_sqr() / (WINDOW * WINDOW) as f32);
        let (row, row_power, row_second) = strongest(&power[..4]);
        let (col, col_power, col_second) = strongest(&power[4..]);
        let min_power = tone_power(MIN_TONE_DBM0);
        let mean_power = energy / WINDOW as f32;
        let loud_enough = row_power >= min_power && col_power >= min_power;
        let slack = WINDOW_TWIST_SLACK_DB;
        let twist_ok = twist_ok(row_power, col_power, slack);
        let peaks = row_power >= db(PEAK_OVER_GROUP_DB) * row_second
            && col_power >= db(PEAK_OVER_GROUP_DB) * col_second;
        let share = row_power + col_power >= MIN_TONE_SHARE * mean_power;
        (loud_enough && twist_ok && peaks && share).then_some(Verdict {
            row,
            col,
            row_power,
            col_power,
        })
    }

    /// Moves the state machine on by one window.
    fn advance(&mut self, verdict: Option<Verdict>) {
        if let ToneState::Present { digit, misses } = self.state {
            if verdict.is_some_and(|v| digit_of(v.row, v.col) == Some(digit)) {
                self.state = ToneState::Present { digit, misses: 0 };
                self.run = None;
                return;
            }
            self.state = if misses + 1 >= WINDOWS_TO_END {
                ToneState::Silent
            } else {
                ToneState::Present {
                    digit,
                    misses: misses + 1,
                }
            };
        }
        let Some(verdict) = verdict else {
            self.run = None;
            return;
        };
        self.extend_run(verdict);
        self.maybe_report();
    }

    /// Adds the newest window to the run of its digit, or starts a new run.
    fn extend_run(&mut self, v: Verdict) {
        let start = (self.completed - 2) * HALF as u64;
        let mut run = match self.run {
            Some(run) if run.row == v.row && run.col == v.col => run,
            _ => Run {
                row: v.row,
                col: v.col,
                windows: 0,
                start,
                power: [0.0; 2],
                lag_half: [Complex::default(); 2],
                lag_window: [Complex::default(); 2],
            },
        };
        run.windows += 1;
        run.power[0] += v.row_power;
        run.power[1] += v.col_power;
        let (newest, older) = (&self.halves[3], &self.halves[2]);
        let (now_dft, _) = self.window(0);
        let (before_dft, _) = self.window(2);
        for (k, i) in [v.row, 4 + v.col].into_iter().enumerate() {
            let half = newest.dft[i].mul(older.dft[i].conj());
            run.lag_half[k] = run.lag_half[k].add(half);
            if run.windows >= 3 {
                let whole = now_dft[i].mul(before_dft[i].conj());
                run.lag_window[k] = run.lag_window[k].add(whole);
            }
        }
        self.run = Some(run);
    }

    /// Reports the run's digit if it is long enough and passes checks 5-7.
    fn maybe_report(&mut self) {
        let Some(run) = self.run else { return };
        if run.windows < WINDOWS_TO_REPORT {
            return;
        }
        let Some(digit) = digit_of(run.row, run.col) else {
            return;
        };
        let n = run.windows as f32;
        let (row_power, col_power) = (run.power[0] / n, run.power[1] / n);
        if !twist_ok(row_power, col_power, 0.0)
            || !self.frequencies_ok(&run)
            || !self.harmonic_ok(run.col)
            || !self.no_voice_pitch(row_power.min(col_power))
        {
            return;
        }
        self.digits.push(InbandDigit {
            digit,
            position: run.start,
        });
        self.state = ToneState::Present { digit, misses: 0 };
        self.run = None;
    }

    /// Check 5: both tones within [`FREQUENCY_TOLERANCE`] of nominal, measured by phase.
    fn frequencies_ok(&self, run: &Run) -> bool {
        [run.row, 4 + run.col]
            .into_iter()
            .enumerate()
            .all(|(k, i)| {
                let coarse = run.lag_half[k].mul(self.hop[i]).arg() / omega(1.0) / HALF as f32;
                let fine = run.lag_window[k].mul(self.lag[i]).arg() / omega(1.0) / WINDOW as f32;
                let alias = SAMPLE_RATE as f32 / WINDOW as f32;
                let offset = [fine - alias, fine, fine + alias]
                    .into_iter()
                    .min_by(|a, b| (a - coarse).abs().total_cmp(&(b - coarse).abs()))
                    .unwrap_or(fine);
                offset.abs() <= FREQUENCY_TOLERANCE * FREQS[i] as f32
            })
    }

    /// Check 7: the column tone's second harmonic, over the newest window.
    fn harmonic_ok(&self, col: usize) -> bool {
        let rate = f64::from(SAMPLE_RATE);
        let tone = dft_norm_sqr_at(self.recent_samples(WINDOW), COL_HZ[col], rate);
        let harmonic = dft_norm_sqr_at(self.recent_samples(WINDOW), 2.0 * COL_HZ[col], rate);
        harmonic * db(HARMONIC_BELOW_DB) <= tone
    }

    /// Check 8: nothing between [`PITCH_BAND_HZ`] within [`PITCH_BELOW_DB`] of `weaker_tone`
    /// (a power), over the last two windows with a Hann window, which keeps the 697 Hz row
    /// tone out of the band.
    fn no_voice_pitch(&self, weaker_tone: f32) -> bool {
        let rate = f64::from(SAMPLE_RATE);
        // A sine of amplitude A gives |X| = A·N·0.5/2 through a Hann window: power A²/2.
        let scale = 2.0 / (RECENT as f32 * 0.5).powi(2);
        let limit = weaker_tone / db(PITCH_BELOW_DB);
        let (low, high) = PITCH_BAND_HZ;
        (0..)
            .map(|i| low + PITCH_STEP_HZ * f64::from(i))
            .take_while(|&hz| hz <= high)
            .all(|hz| {
                let windowed = self
                    .recent_samples(RECENT)
                    .zip(self.hann)
                    .map(|(x, w)| x * w);
                dft_norm_sqr_at(windowed, hz, rate) * scale < limit
            })
    }

    /// The last `len` samples (at most [`RECENT`]), oldest first.
    fn recent_samples(&self, len: usize) -> impl Iterator<Item = f32> + '_ {
        let (newer, older) = self.recent.split_at(self.recent_next);
        older
            .iter()
            .chain(newer)
            .copied()
            .skip(RECENT.saturating_sub(len))
    }
}

/// Angular frequency in radians per sample at [`SAMPLE_RATE`].
fn omega(hz: f64) -> f32 {
    (f64::from(TAU) * hz / f64::from(SAMPLE_RATE)) as f32
}

/// The power (mean square) of a sine wave at `dbm0`.
fn tone_power(dbm0: f64) -> f32 {
    let peak = dbm0_to_peak(dbm0);
    (peak * peak / 2.0) as f32
}

/// A power ratio of `x` dB.
fn db(x: f32) -> f32 {
    10f32.powf(x / 10.0)
}

/// Index and power of the strongest of `powers`, and the power of the next strongest.
fn strongest(powers: &[f32]) -> (usize, f32, f32) {
    let mut best = (0, f32::MIN, f32::MIN);
    for (i, &p) in powers.iter().enumerate() {
        if p > best.1 {
            best = (i, p, best.1);
        } else if p > best.2 {
            best.2 = p;
        }
    }
    best
}

/// Whether the twist between the two tones is acceptable, with `slack` dB to spare.
fn twist_ok(row_power: f32, col_power: f32, slack: f32) -> bool {
    row_power <= col_power * db(NORMAL_TWIST_DB + slack)
        && col_power <= row_power * db(REVERSE_TWIST_DB + slack)
}

fn digit_of(row: usize, col: usize) -> Option<Digit> {
    Digit::from_row_col(row, col)
}
