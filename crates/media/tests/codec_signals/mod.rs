//! Test signals and measurements shared by the codec tests.
#![allow(dead_code)]

use std::f64::consts::TAU;

/// A sine of `freq` Hz at `rate` Hz with peak `amplitude`.
pub fn sine(freq: f64, rate: u32, amplitude: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| (amplitude * (TAU * freq * n as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// A linear chirp from `f0` to `f1` Hz over `len` samples.
pub fn chirp(f0: f64, f1: f64, rate: u32, amplitude: f64, len: usize) -> Vec<i16> {
    let duration = len as f64 / f64::from(rate);
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let phase = TAU * (f0 * t + (f1 - f0) * t * t / (2.0 * duration));
            (amplitude * phase.sin()).round() as i16
        })
        .collect()
}

/// A voiced, speech-like signal: harmonics of a fundamental gliding 105-135 Hz (so a 20 ms
/// frame never holds a whole number of periods), shaped by two formant-like peaks, with a 3 Hz
/// syllabic amplitude envelope. Harmonics stay under 3.4 kHz and under the Nyquist frequency.
pub fn speech_like(rate: u32, len: usize) -> Vec<i16> {
    let fs = f64::from(rate);
    let mut phases = [0.0f64; 40];
    (0..len)
        .map(|n| {
            let t = n as f64 / fs;
            let f0 = 120.0 + 15.0 * (TAU * 0.7 * t).sin();
            let envelope = 0.55 + 0.45 * (TAU * 3.0 * t).sin();
            let mut value = 0.0;
            for (k, phase) in phases.iter_mut().enumerate() {
                let f = f0 * (k + 1) as f64;
                *phase += TAU * f / fs;
                if f >= 3400.0 || f >= fs / 2.0 {
                    continue;
                }
                let formants = (-((f - 600.0) / 300.0).powi(2)).exp()
                    + 0.6 * (-((f - 1700.0) / 400.0).powi(2)).exp()
                    + 0.15;
                value += formants * phase.sin() / (k + 1) as f64;
            }
            (6000.0 * envelope * value).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Root-mean-square level.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (energy / samples.len() as f64).sqrt()
}

/// Level difference in dB of `b` relative to `a`.
pub fn level_db(a: &[i16], b: &[i16]) -> f64 {
    20.0 * (rms(b) / rms(a)).log10()
}

/// Signal-to-noise ratio of `test` against `reference`, in dB.
pub fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
    let (mut signal, mut noise) = (0.0, 0.0);
    for (&r, &t) in reference.iter().zip(test) {
        signal += f64::from(r).powi(2);
        noise += (f64::from(r) - f64::from(t)).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

/// Normalized cross-correlation of two equally long signals (1 = identical shape).
pub fn correlation(a: &[i16], b: &[i16]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-9)
}

/// The delay (0..=max_lag) of `test` behind `reference` that maximizes their correlation.
pub fn best_lag(reference: &[i16], test: &[i16], max_lag: usize) -> usize {
    let len = reference.len().min(test.len()).saturating_sub(max_lag);
    (0..=max_lag)
        .max_by(|&a, &b| {
            let ca = correlation(&reference[..len], &test[a..a + len]);
            let cb = correlation(&reference[..len], &test[b..b + len]);
            ca.total_cmp(&cb)
        })
        .unwrap_or(0)
}

/// Power of the `freq` Hz component (Goertzel), normalized so a full sine of peak A gives A²/4.
pub fn goertzel(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let coefficient = 2.0 * (TAU * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = f64::from(x) + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let n = samples.len() as f64;
    (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (n * n)
}

/// Frequency estimated from rising zero crossings, in Hz.
pub fn zero_crossing_frequency(samples: &[i16], rate: u32) -> f64 {
    let crossings: Vec<usize> = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0 && w[1] >= 0)
        .map(|(i, _)| i)
        .collect();
    match (crossings.first(), crossings.last()) {
        (Some(&first), Some(&last)) if last > first => {
            (crossings.len() - 1) as f64 * f64::from(rate) / (last - first) as f64
        }
        _ => 0.0,
    }
}

/// Fits `a sin + b cos` at `freq` Hz; returns (amplitude, phase in radians, residual RMS).
/// The phase is that of the sine: a signal `A sin(w (n + d))` has phase `w d`.
pub fn fit_tone(samples: &[i16], freq: f64, rate: u32) -> (f64, f64, f64) {
    let w = TAU * freq / f64::from(rate);
    let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (n, &x) in samples.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        let x = f64::from(x);
        ss += s * s;
        sc += s * c;
        cc += c * c;
        xs += x * s;
        xc += x * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let residual: f64 = samples
        .iter()
        .enumerate()
        .map(|(n, &x)| {
            let (s, c) = (w * n as f64).sin_cos();
            (f64::from(x) - a * s - b * c).powi(2)
        })
        .sum();
    (
        a.hypot(b),
        b.atan2(a),
        (residual / samples.len() as f64).sqrt(),
    )
}

/// Signal to noise-and-distortion ratio of a tone at `freq` Hz, in dB.
pub fn sinad_db(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let (amplitude, _, residual) = fit_tone(samples, freq, rate);
    20.0 * (amplitude / std::f64::consts::SQRT_2 / residual.max(1e-9)).log10()
}
