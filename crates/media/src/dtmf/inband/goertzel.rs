//! A bank of Goertzel filters over half-blocks, giving complex DFT values at chosen
//! frequencies, and the little complex arithmetic the detector needs.

use std::f32::consts::TAU;

/// A complex number, enough for phases and powers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Complex {
    pub(super) re: f32,
    pub(super) im: f32,
}

impl Complex {
    /// `e^{jθ}`.
    pub(super) fn unit(theta: f32) -> Complex {
        Complex {
            re: theta.cos(),
            im: theta.sin(),
        }
    }

    pub(super) fn add(self, o: Complex) -> Complex {
        Complex {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }

    pub(super) fn mul(self, o: Complex) -> Complex {
        Complex {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }

    pub(super) fn conj(self) -> Complex {
        Complex {
            re: self.re,
            im: -self.im,
        }
    }

    /// `|z|²`.
    pub(super) fn norm_sqr(self) -> f32 {
        self.re * self.re + self.im * self.im
    }

    /// The argument, in (-π, π].
    pub(super) fn arg(self) -> f32 {
        self.im.atan2(self.re)
    }
}

/// Goertzel recursions for `N` frequencies, run sample by sample over blocks of `len`
/// samples. [`GoertzelBank::finish`] turns each into `Σ x[n]·e^{-jωn}` with `n` counted
/// from the block's first sample, so that values of consecutive blocks can be combined.
#[derive(Debug, Clone)]
pub(super) struct GoertzelBank<const N: usize> {
    coef: [f32; N],
    cos: [f32; N],
    sin: [f32; N],
    /// `e^{-jω(len-1)}`: moves the phase reference from the last sample to the first.
    to_start: [Complex; N],
    s1: [f32; N],
    s2: [f32; N],
}

impl<const N: usize> GoertzelBank<N> {
    /// Filters at `freqs` Hz for blocks of `len` samples at `rate` Hz.
    pub(super) fn new(freqs: [f64; N], rate: f64, len: usize) -> Self {
        let omega = freqs.map(|f| (f64::from(TAU) * f / rate) as f32);
        GoertzelBank {
            coef: omega.map(|w| 2.0 * w.cos()),
            cos: omega.map(f32::cos),
            sin: omega.map(f32::sin),
            to_start: omega.map(|w| Complex::unit(-w * (len as f32 - 1.0))),
            s1: [0.0; N],
            s2: [0.0; N],
        }
    }

    /// Feeds one sample to every filter.
    #[inline]
    pub(super) fn push(&mut self, x: f32) {
        for i in 0..N {
            let s0 = x + self.coef[i] * self.s1[i] - self.s2[i];
            self.s2[i] = self.s1[i];
            self.s1[i] = s0;
        }
    }

    /// The DFT values of the block just fed (which must have had the `len` given to
    /// [`GoertzelBank::new`] samples), and resets the filters for the next block.
    pub(super) fn finish(&mut self) -> [Complex; N] {
        let mut out = [Complex::default(); N];
        for (i, value) in out.iter_mut().enumerate() {
            let y = Complex {
                re: self.s1[i] - self.cos[i] * self.s2[i],
                im: self.sin[i] * self.s2[i],
            };
            *value = y.mul(self.to_start[i]);
        }
        self.s1 = [0.0; N];
        self.s2 = [0.0; N];
        out
    }
}

/// `|X|²` of the DFT value at `hz` of `samples` (a one-off Goertzel, for checks made rarely).
///
/// In `f64`: near DC the recursion's coefficient approaches 2 and `f32` rounding, amplified
/// by about `1/ω²`, would show a loud tone's rounding noise as a partial at 100 Hz.
pub(super) fn dft_norm_sqr_at(samples: impl Iterator<Item = f32>, hz: f64, rate: f64) -> f32 {
    let omega = std::f64::consts::TAU * hz / rate;
    let coef = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = f64::from(x) + coef * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    // |s1 - e^{-jω}·s2|², the phase reference does not change the magnitude.
    (s1 * s1 + s2 * s2 - coef * s1 * s2) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_direct_dft() {
        let rate = 8000.0;
        let len = 51;
        let x: Vec<f32> = (0..len)
            .map(|n| 1000.0 * (0.37 * n as f32).sin() + 300.0 * (1.9 * n as f32 + 0.4).cos())
            .collect();
        let freqs = [697.0, 1209.0, 2000.0];
        let mut bank = GoertzelBank::new(freqs, rate, len);
        x.iter().for_each(|&s| bank.push(s));
        let got = bank.finish();
        for (k, &f) in freqs.iter().enumerate() {
            let w = (std::f64::consts::TAU * f / rate) as f32;
            let want = x
                .iter()
                .enumerate()
                .fold(Complex::default(), |acc, (n, &s)| {
                    acc.add(Complex::unit(-w * n as f32).mul(Complex { re: s, im: 0.0 }))
                });
            let tolerance = 1e-3 * want.norm_sqr().sqrt().max(1000.0);
            assert!(
                (got[k].re - want.re).abs() < tolerance,
                "{f} Hz: {got:?} vs {want:?}"
            );
            assert!(
                (got[k].im - want.im).abs() < tolerance,
                "{f} Hz: {got:?} vs {want:?}"
            );
        }
        // The filters were reset.
        assert_eq!(bank.finish(), [Complex::default(); 3]);
    }
}
