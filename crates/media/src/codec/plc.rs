//! Packet-loss concealment for the waveform codecs (G.711 and G.722), after ITU-T G.711
//! Appendix I: repeat the last pitch period, widen the repeated span as the loss goes on, fade
//! out, and blend back into the first packet that arrives.
//!
//! The algorithm, with every length given at 8 kHz and doubled at 16 kHz:
//!
//! - The last 48.75 ms (390 samples) of output are kept as history.
//! - When a loss starts, the pitch period (40-120 samples, i.e. 66-200 Hz) is the lag that
//!   maximizes the normalized correlation of the last 20 ms with the history before it.
//! - The first 10 ms of the loss repeat the last period; the next 10 ms repeat the last two
//!   periods and from 20 ms on the last three, which avoids the buzz of a single period repeated
//!   for long. Each widening cross-fades over a quarter period.
//! - The tail of the repeated span is cross-faded with the samples one period earlier, so the
//!   wrap-around from its end to its start is smooth; the first concealed samples carry a
//!   decaying correction so they continue from the last sample that was played.
//! - After the first 10 ms the output fades linearly by 20 % per 10 ms: silence at 60 ms.
//! - The first packet after a loss is cross-faded with the continuation of the concealment over
//!   a quarter period plus 4 ms per further 10 ms lost, at most 10 ms.
//!
//! Unlike Appendix I, the output is not delayed by 3.75 ms to make room for an overlap-add at
//! the start of the loss: a media server should not add latency to every received packet for
//! the sake of the lost ones. The decaying correction above takes its place.
//!
//! Everything lives in fixed arrays: concealment never allocates.

/// Samples per millisecond at the 8 kHz base rate; lengths below scale with the sample rate.
const BASE_PER_MS: usize = 8;
/// History kept, in base-rate samples (48.75 ms: three maximal periods plus a quarter).
const HISTORY: usize = 390;
/// Shortest pitch period searched, in base-rate samples (200 Hz).
const PITCH_MIN: usize = 40;
/// Longest pitch period searched, in base-rate samples (66.7 Hz).
const PITCH_MAX: usize = 120;
/// Length of the correlation window, in base-rate samples (20 ms).
const CORR_LEN: usize = 160;
/// Highest supported ratio of the sample rate to 8 kHz.
const MAX_SCALE: usize = 2;
/// Storage for the history at the highest supported rate.
const MAX_HISTORY: usize = HISTORY * MAX_SCALE;
/// Number of periods the repeated span grows to.
const MAX_PERIODS: usize = 3;

/// Concealment state for one decoded stream at 8 or 16 kHz.
#[derive(Debug, Clone)]
pub(crate) struct Concealer {
    /// Sample rate divided by 8000.
    scale: usize,
    /// The most recent output, oldest first; only the last `history_len()` samples are used.
    history: [i16; MAX_HISTORY],
    /// Samples concealed since the last received packet; 0 when no loss is in progress.
    erased: usize,
    /// Pitch period of the current loss, in samples.
    pitch: usize,
    /// The repeated span: the last three periods plus a quarter of history, tail smoothed.
    span: [f32; MAX_HISTORY],
    /// Number of periods currently repeated (1 to 3).
    periods: usize,
    /// Read position in `span`.
    pos: usize,
    /// Read position of the span being faded out after a widening.
    old_pos: usize,
    /// Periods of the span being faded out.
    old_periods: usize,
    /// Samples left in the cross-fade after a widening.
    fade_left: usize,
    /// Mismatch between the last played sample and the predecessor of the first repeated one.
    junction: f32,
    /// Samples left over which `junction` decays.
    junction_left: usize,
}

impl Concealer {
    /// A concealer for audio at `rate` Hz, which must be 8000 or 16000.
    pub(crate) fn new(rate: u32) -> Self {
        let scale = if rate >= 16_000 { 2 } else { 1 };
        Concealer {
            scale,
            history: [0; MAX_HISTORY],
            erased: 0,
            pitch: PITCH_MIN * scale,
            span: [0.0; MAX_HISTORY],
            periods: 1,
            pos: 0,
            old_pos: 0,
            old_periods: 1,
            fade_left: 0,
            junction: 0.0,
            junction_left: 0,
        }
    }

    /// Length of the history at this rate.
    fn history_len(&self) -> usize {
        HISTORY * self.scale
    }

    /// Samples in 10 ms at this rate.
    fn ten_ms(&self) -> usize {
        10 * BASE_PER_MS * self.scale
    }

    /// Length of the cross-fades: a quarter of the pitch period.
    fn quarter(&self) -> usize {
        self.pitch / 4
    }

    /// Length of the repeated span.
    fn span_len(&self) -> usize {
        MAX_PERIODS * self.pitch + self.quarter()
    }

    /// The last `N` samples of output (real or concealed), oldest first.
    pub(crate) fn recent<const N: usize>(&self) -> [i16; N] {
        let mut recent = [0; N];
        let len = self.history_len();
        let take = N.min(len);
        recent[N - take..].copy_from_slice(&self.history[len - take..len]);
        recent
    }

    /// Takes a frame of decoded audio: blends it with the concealment if it ends a loss, and
    /// remembers it for the next loss.
    pub(crate) fn receive(&mut self, pcm: &mut [i16]) {
        if self.erased > 0 {
            self.blend_into(pcm);
            self.erased = 0;
        }
        self.remember(pcm);
    }

    /// Fills `out` with concealment for a lost frame and remembers it as output.
    pub(crate) fn conceal(&mut self, out: &mut [i16]) {
        if self.erased == 0 {
            self.start_loss();
        }
        for sample in out.iter_mut() {
            *sample = to_i16(self.next_sample());
        }
        self.remember(out);
    }

    /// Appends `pcm` to the history.
    fn remember(&mut self, pcm: &[i16]) {
        let len = self.history_len();
        let history = &mut self.history[..len];
        if pcm.len() >= len {
            history.copy_from_slice(&pcm[pcm.len() - len..]);
        } else {
            history.copy_within(pcm.len().., 0);
            history[len - pcm.len()..].copy_from_slice(pcm);
        }
    }

    /// Sets up the repeated span at the start of a loss.
    fn start_loss(&mut self) {
        let len = self.history_len();
        self.pitch = find_pitch(&self.history[..len], self.scale);
        let span_len = self.span_len();
        let quarter = self.quarter();
        for (slot, &sample) in self.span.iter_mut().zip(&self.history[len - span_len..len]) {
            *slot = f32::from(sample);
        }
        // Smooth the wrap-around: the tail slides into the samples one period earlier.
        for k in 0..quarter {
            let w = ramp(k, quarter);
            let at = span_len - quarter + k;
            self.span[at] = (1.0 - w) * self.span[at] + w * self.span[at - self.pitch];
        }
        self.periods = 1;
        self.fade_left = 0;
        self.pos = span_len - self.pitch;
        let last_played = f32::from(self.history[len - 1]);
        let predecessor = f32::from(self.history[len - self.pitch - 1]);
        self.junction = last_played - predecessor;
        self.junction_left = quarter;
    }

    /// The next concealed sample, faded according to how long the loss has lasted.
    fn next_sample(&mut self) -> f32 {
        let wanted = (1 + self.erased / self.ten_ms()).min(MAX_PERIODS);
        if wanted > self.periods {
            self.widen(wanted);
        }
        let mut value = self.read_span();
        if self.fade_left > 0 {
            let w = ramp(self.quarter() - self.fade_left, self.quarter());
            value = w * value + (1.0 - w) * self.read_old_span();
            self.fade_left -= 1;
        }
        if self.junction_left > 0 {
            value += self.junction * self.junction_left as f32 / (self.quarter() + 1) as f32;
            self.junction_left -= 1;
        }
        let gain = self.gain();
        self.erased = self.erased.saturating_add(1);
        value * gain
    }

    /// Repeats `periods` periods from now on, cross-fading from the current span.
    fn widen(&mut self, periods: usize) {
        let span_len = self.span_len();
        let offset = (self.pos + self.periods * self.pitch - span_len) % self.pitch;
        self.old_pos = self.pos;
        self.old_periods = self.periods;
        self.periods = periods;
        self.pos = span_len - periods * self.pitch + offset;
        self.fade_left = self.quarter();
    }

    /// Reads the span at the current position and advances, wrapping within the repeated periods.
    fn read_span(&mut self) -> f32 {
        let (value, next) = self.read_at(self.pos, self.periods);
        self.pos = next;
        value
    }

    /// Reads the span being faded out and advances it.
    fn read_old_span(&mut self) -> f32 {
        let (value, next) = self.read_at(self.old_pos, self.old_periods);
        self.old_pos = next;
        value
    }

    /// The span sample at `pos` and the position after it when repeating `periods` periods.
    fn read_at(&self, pos: usize, periods: usize) -> (f32, usize) {
        let span_len = self.span_len();
        let value = self.span.get(pos).copied().unwrap_or(0.0);
        let next = if pos + 1 >= span_len {
            span_len - periods * self.pitch
        } else {
            pos + 1
        };
        (value, next)
    }

    /// Gain after `erased` samples of loss: 1 for 10 ms, then 20 % less per 10 ms.
    fn gain(&self) -> f32 {
        let ten = self.ten_ms();
        let faded = self.erased.saturating_sub(ten) as f32 / ten as f32;
        (1.0 - 0.2 * faded).max(0.0)
    }

    /// Cross-fades the start of the first received frame with the concealment's continuation.
    fn blend_into(&mut self, pcm: &mut [i16]) {
        let ten = self.ten_ms();
        let lost_blocks = self.erased.div_ceil(ten);
        let extra = (lost_blocks - 1) * 4 * BASE_PER_MS * self.scale;
        let len = (self.quarter() + extra).min(ten).min(pcm.len());
        for (k, sample) in pcm[..len].iter_mut().enumerate() {
            let w = ramp(k, len);
            let synthetic = self.next_sample();
            *sample = to_i16(w * f32::from(*sample) + (1.0 - w) * synthetic);
        }
    }
}

/// Weight of the incoming signal at step `k` of a linear cross-fade of `len` steps (never 0 or 1).
fn ramp(k: usize, len: usize) -> f32 {
    (k + 1) as f32 / (len + 1) as f32
}

/// Rounds and saturates to a 16-bit sample.
fn to_i16(value: f32) -> i16 {
    value
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// The pitch period of the end of `history`, in samples: the lag in 40-120 base-rate samples
/// whose normalized cross-correlation with the last 20 ms is highest.
fn find_pitch(history: &[i16], scale: usize) -> usize {
    let window = CORR_LEN * scale;
    let (min, max) = (PITCH_MIN * scale, PITCH_MAX * scale);
    let Some(start) = history.len().checked_sub(window + max) else {
        return min;
    };
    let target = &history[start + max..];
    let mut best = (f32::MIN, max);
    for lag in min..=max {
        let candidate = &history[start + max - lag..start + max - lag + window];
        let score = normalized_correlation(target, candidate);
        if score > best.0 {
            best = (score, lag);
        }
    }
    best.1
}

/// Cross-correlation of `target` and `candidate`, divided by the candidate's RMS energy.
fn normalized_correlation(target: &[i16], candidate: &[i16]) -> f32 {
    let (mut corr, mut energy) = (0.0f32, 0.0f32);
    for (&t, &c) in target.iter().zip(candidate) {
        let (t, c) = (f32::from(t), f32::from(c));
        corr += t * c;
        energy += c * c;
    }
    corr / energy.max(1.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn periodic(period: usize, len: usize) -> Vec<i16> {
        (0..len)
            .map(|n| {
                let phase = (n % period) as f32 / period as f32;
                (8000.0 * (std::f32::consts::TAU * phase).sin()
                    + 3000.0 * (2.0 * std::f32::consts::TAU * phase).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn pitch_is_found_at_both_rates() {
        assert_eq!(find_pitch(&periodic(57, 390), 1), 57);
        assert_eq!(find_pitch(&periodic(150, 780), 2), 150);
    }

    #[test]
    fn concealment_of_a_periodic_signal_continues_it() {
        let signal = periodic(64, 800);
        let mut plc = Concealer::new(8000);
        let mut received = signal[..640].to_vec();
        plc.receive(&mut received);
        let mut out = [0i16; 80];
        plc.conceal(&mut out);
        let worst = out
            .iter()
            .zip(&signal[640..720])
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .max();
        assert!(worst.is_some_and(|w| w <= 2), "{worst:?}");
    }

    #[test]
    fn widening_keeps_a_periodic_signal_intact() {
        let signal = periodic(50, 1200);
        let mut plc = Concealer::new(8000);
        let mut received = signal[..400].to_vec();
        plc.receive(&mut received);
        let mut out = [0i16; 160];
        plc.conceal(&mut out);
        // The first 10 ms are at full gain; the span widening at 10 ms repeats whole periods,
        // so only the fade (20 % per 10 ms) separates the output from the signal.
        for (k, (&got, &want)) in out.iter().zip(&signal[400..560]).enumerate() {
            let gain = 1.0 - 0.2 * k.saturating_sub(80) as f32 / 80.0;
            let error = (f32::from(got) - gain * f32::from(want)).abs();
            assert!(error <= 2.0, "sample {k}: {got} vs {want} x {gain}");
        }
    }
}
