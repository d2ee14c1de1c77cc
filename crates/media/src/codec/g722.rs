//! ITU-T G.722 at 64 kbit/s (mode 1): sub-band ADPCM of 16 kHz audio.
//!
//! A 24-tap quadrature mirror filter (QMF) splits each pair of 16 kHz input samples into one
//! low-band and one high-band sample at 8 kHz. The low band is coded with a 6-bit adaptive
//! quantizer, the high band with a 2-bit one; both share the same adaptive pole-zero predictor
//! (the standard's "block 4"). One output byte carries `high << 6 | low` for one sample pair,
//! so 20 ms of audio (320 samples) is 160 bytes. The receive QMF merges the two reconstructed
//! bands back to 16 kHz; the encoder plus decoder delay is 23 samples.
//!
//! Arithmetic follows the fixed-point description of the standard (Recommendation G.722
//! (09/2012), blocks 1L-6L, 1H-6H and 4) so that the bit stream interoperates with every other
//! implementation. Every byte is a valid code word: decoding cannot fail.
//!
//! Why not the `ezk-g722` crate (MIT): its core is a faithful translation of the spandsp/CMU C
//! code, the same algorithm as here, but reading it shows that it allocates a `Vec` on every
//! call, panics (`assert!`) on an odd number of samples, starts its scale factors at 0 instead
//! of the reset values 32 and 8 (so its first samples differ from the standard's), has broken
//! 56/48 kbit/s and 8 kHz paths (the packed encoder never emits its bytes; the 8 kHz code word
//! is computed wrongly), keeps its state private (no way to carry it through a packet loss),
//! and pulls in the `ezk` media framework for one file of arithmetic. This implementation is
//! bit-exact with FFmpeg's G.722 encoder and decoder (see `tests/codec_g722.rs`).
//!
//! The decoder also offers [`G722Decoder::track_concealment`], which runs the encoder's
//! quantizers against the decoder's own state over concealed audio, so that the ADPCM state
//! follows the synthetic signal through a packet loss instead of freezing.

/// Low-band quantizer decision levels (QUANTL, table Q6), relative to the scale factor.
const Q6: [i32; 31] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0,
];
/// Low-band 6-bit code for a negative difference, indexed by quantizer interval.
const ILN: [i32; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
/// Low-band 6-bit code for a positive difference, indexed by quantizer interval.
const ILP: [i32; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];
/// Low-band 6-bit inverse quantizer outputs (INVQBL, 64 kbit/s mode).
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// Low-band 4-bit inverse quantizer outputs (INVQAL), used for predictor adaptation.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// Maps a 4-bit low-band code to its magnitude class for the log scale factor (RL42).
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Low-band log scale factor multipliers (WL).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// Inverse log base-2 table shared by both scale factor adaptations (ILB).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// High-band 2-bit inverse quantizer outputs (INVQAH).
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// Maps a 2-bit high-band code to its magnitude class (RH2).
const RH2: [usize; 4] = [2, 1, 2, 1];
/// High-band log scale factor multipliers (WH).
const WH: [i32; 3] = [0, -214, 798];
/// High-band code for a negative difference, by magnitude class (IHN).
const IHN: [i32; 3] = [0, 1, 0];
/// High-band code for a positive difference, by magnitude class (IHP).
const IHP: [i32; 3] = [0, 3, 2];
/// Half of the symmetric 24-tap QMF (its other half is this one reversed).
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/// Clamps to the 16-bit range, as the standard's `LIMIT` operations do.
fn saturate(value: i32) -> i32 {
    value.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// Adaptive state of one sub-band: the pole-zero predictor and the quantizer scale factor.
#[derive(Debug, Clone, Copy)]
struct Band {
    /// Predicted signal (`SL`/`SH`).
    s: i32,
    /// Pole part of the prediction.
    sp: i32,
    /// Zero part of the prediction.
    sz: i32,
    /// Reconstructed signal history.
    r: [i32; 3],
    /// Pole coefficients.
    a: [i32; 3],
    /// Pole coefficients being adapted.
    ap: [i32; 3],
    /// Partially reconstructed signal history.
    p: [i32; 3],
    /// Quantized difference history.
    d: [i32; 7],
    /// Zero coefficients.
    b: [i32; 7],
    /// Zero coefficients being adapted.
    bp: [i32; 7],
    /// Log scale factor (`NBL`/`NBH`).
    nb: i32,
    /// Scale factor (`DETL`/`DETH`).
    det: i32,
}

impl Band {
    /// The reset state of a band; the scale factors start at 32 (low) and 8 (high).
    const fn reset(det: i32) -> Self {
        Band {
            s: 0,
            sp: 0,
            sz: 0,
            r: [0; 3],
            a: [0; 3],
            ap: [0; 3],
            p: [0; 3],
            d: [0; 7],
            b: [0; 7],
            bp: [0; 7],
            nb: 0,
            det,
        }
    }

    /// Blocks 3L/3H: log scale factor adaptation and its conversion to a linear scale factor.
    fn adapt_scale(&mut self, weight: i32, nb_max: i32, shift_base: i32) {
        self.nb = (((self.nb * 127) >> 7) + weight).clamp(0, nb_max);
        let fraction = ILB[((self.nb >> 6) & 31) as usize];
        let shift = shift_base - (self.nb >> 11);
        let linear = if shift < 0 {
            fraction << -shift
        } else {
            fraction >> shift
        };
        self.det = linear << 2;
    }

    /// Block 4: reconstruct, adapt the pole and zero coefficients, and predict the next sample.
    fn adapt_predictor(&mut self, d: i32) {
        self.d[0] = d;
        self.r[0] = saturate(self.s + d);
        self.p[0] = saturate(self.sz + d);
        self.adapt_poles();
        self.adapt_zeros(d);
        self.delay();
        self.predict();
    }

    /// UPPOL2 and UPPOL1: second- then first-order pole coefficient updates.
    fn adapt_poles(&mut self) {
        let sg = [self.p[0] >> 15, self.p[1] >> 15, self.p[2] >> 15];
        let a1x4 = saturate(self.a[1] << 2);
        let wd2 = (if sg[0] == sg[1] { -a1x4 } else { a1x4 }).min(32767);
        let mut ap2 = (wd2 >> 7) + if sg[0] == sg[2] { 128 } else { -128 };
        ap2 += (self.a[2] * 32512) >> 15;
        self.ap[2] = ap2.clamp(-12288, 12288);

        let step = if sg[0] == sg[1] { 192 } else { -192 };
        let ap1 = saturate(step + ((self.a[1] * 32640) >> 15));
        let bound = saturate(15360 - self.ap[2]);
        self.ap[1] = ap1.clamp(-bound, bound);
    }

    /// UPZERO: sign-sign update of the six zero coefficients.
    fn adapt_zeros(&mut self, d: i32) {
        let step = if d == 0 { 0 } else { 128 };
        let sign = d >> 15;
        for i in 1..7 {
            let same = (self.d[i] >> 15) == sign;
            let leak = (self.b[i] * 32640) >> 15;
            self.bp[i] = saturate(if same { step } else { -step } + leak);
        }
    }

    /// DELAYA: shift the histories and commit the adapted coefficients.
    fn delay(&mut self) {
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
            self.b[i] = self.bp[i];
        }
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
            self.a[i] = self.ap[i];
        }
    }

    /// FILTEP, FILTEZ and PREDIC: the next prediction from the pole and zero sections.
    fn predict(&mut self) {
        let pole1 = (self.a[1] * saturate(self.r[1] + self.r[1])) >> 15;
        let pole2 = (self.a[2] * saturate(self.r[2] + self.r[2])) >> 15;
        self.sp = saturate(pole1 + pole2);
        let zeros: i32 = (1..7)
            .map(|i| (self.b[i] * saturate(self.d[i] + self.d[i])) >> 15)
            .sum();
        self.sz = saturate(zeros);
        self.s = saturate(self.sp + self.sz);
    }
}

/// The two sub-bands of one direction of a G.722 channel.
#[derive(Debug, Clone, Copy)]
struct Bands {
    /// 0-4 kHz band, 6 bits per sample.
    low: Band,
    /// 4-8 kHz band, 2 bits per sample.
    high: Band,
}

impl Bands {
    /// Reset state of both bands.
    const fn reset() -> Self {
        Bands {
            low: Band::reset(32),
            high: Band::reset(8),
        }
    }

    /// Blocks 1L and 1H: quantize one sub-band sample pair against the current prediction.
    fn quantize(&self, xlow: i32, xhigh: i32) -> u8 {
        let ilow = quantize_low(xlow - self.low.s, self.low.det);
        let ihigh = quantize_high(saturate(xhigh - self.high.s), self.high.det);
        ((ihigh << 6) | ilow) as u8
    }

    /// Decodes one code word: returns the reconstructed (low, high) sub-band samples and adapts
    /// both bands exactly as the encoder did when it produced the code.
    fn reconstruct(&mut self, code: u8) -> (i32, i32) {
        let ilr = usize::from(code & 0x3F);
        let ih = usize::from(code >> 6);
        let low = &mut self.low;
        let rlow = (low.s + ((low.det * QM6[ilr]) >> 15)).clamp(-16384, 16383);
        let dlow = (low.det * QM4[ilr >> 2]) >> 15;
        low.adapt_scale(WL[RL42[ilr >> 2]], 18432, 8);
        low.adapt_predictor(dlow);

        let high = &mut self.high;
        let dhigh = (high.det * QM2[ih]) >> 15;
        let rhigh = (dhigh + high.s).clamp(-16384, 16383);
        high.adapt_scale(WH[RH2[ih]], 22528, 10);
        high.adapt_predictor(dhigh);
        (rlow, rhigh)
    }
}

/// QUANTL: the 6-bit low-band code for the prediction error `el`.
fn quantize_low(el: i32, det: i32) -> i32 {
    let el = saturate(el);
    let magnitude = if el >= 0 { el } else { -(el + 1) };
    let interval = (1..30)
        .find(|&i| magnitude < ((Q6[i] * det) >> 12))
        .unwrap_or(30);
    if el < 0 { ILN[interval] } else { ILP[interval] }
}

/// QUANTH: the 2-bit high-band code for the prediction error `eh`.
fn quantize_high(eh: i32, det: i32) -> i32 {
    let magnitude = if eh >= 0 { eh } else { -(eh + 1) };
    let class = if magnitude >= ((564 * det) >> 12) {
        2
    } else {
        1
    };
    if eh < 0 { IHN[class] } else { IHP[class] }
}

/// Transmit QMF: splits 16 kHz sample pairs into low and high sub-band samples.
#[derive(Debug, Clone, Copy)]
struct AnalysisQmf {
    /// The last 24 input samples, oldest first.
    x: [i32; 24],
}

impl AnalysisQmf {
    /// Pushes two input samples and returns the (low, high) sub-band pair.
    fn split(&mut self, first: i16, second: i16) -> (i32, i32) {
        self.x.copy_within(2.., 0);
        self.x[22] = i32::from(first);
        self.x[23] = i32::from(second);
        let (mut odd, mut even) = (0, 0);
        for (i, &h) in QMF.iter().enumerate() {
            odd += self.x[2 * i] * h;
            even += self.x[2 * i + 1] * QMF[11 - i];
        }
        ((even + odd) >> 14, (even - odd) >> 14)
    }

    /// Loads the filter history with the most recent 16 kHz samples (oldest first).
    fn prime(&mut self, recent: &[i16]) {
        self.x = [0; 24];
        let take = recent.len().min(24);
        let start = recent.len() - take;
        for (slot, &sample) in self.x[24 - take..].iter_mut().zip(&recent[start..]) {
            *slot = i32::from(sample);
        }
    }
}

/// Receive QMF: merges low and high sub-band samples back into 16 kHz sample pairs.
#[derive(Debug, Clone, Copy)]
struct SynthesisQmf {
    /// The last 12 sub-band sum/difference pairs, oldest first.
    x: [i32; 24],
}

impl SynthesisQmf {
    /// Pushes one sub-band pair and returns the next two 16 kHz samples.
    fn merge(&mut self, rlow: i32, rhigh: i32) -> (i16, i16) {
        self.x.copy_within(2.., 0);
        self.x[22] = rlow + rhigh;
        self.x[23] = rlow - rhigh;
        let (mut first, mut second) = (0, 0);
        for (i, &h) in QMF.iter().enumerate() {
            second += self.x[2 * i] * h;
            first += self.x[2 * i + 1] * QMF[11 - i];
        }
        (saturate(first >> 11) as i16, saturate(second >> 11) as i16)
    }
}

/// G.722 64 kbit/s encoder state.
#[derive(Debug, Clone)]
pub(crate) struct G722Encoder {
    /// Band-splitting filter.
    qmf: AnalysisQmf,
    /// ADPCM state of both bands.
    bands: Bands,
}

impl G722Encoder {
    /// A freshly reset encoder.
    pub(crate) fn new() -> Self {
        G722Encoder {
            qmf: AnalysisQmf { x: [0; 24] },
            bands: Bands::reset(),
        }
    }

    /// Encodes sample pairs of `pcm` (even length) into `out` (at least `pcm.len() / 2` bytes).
    /// Returns the number of bytes written.
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        let mut written = 0;
        for (byte, pair) in out.iter_mut().zip(pcm.chunks_exact(2)) {
            let (xlow, xhigh) = self.qmf.split(pair[0], pair[1]);
            let code = self.bands.quantize(xlow, xhigh);
            self.bands.reconstruct(code);
            *byte = code;
            written += 1;
        }
        written
    }
}

/// G.722 64 kbit/s decoder state.
#[derive(Debug, Clone)]
pub(crate) struct G722Decoder {
    /// Band-merging filter.
    qmf: SynthesisQmf,
    /// ADPCM state of both bands.
    bands: Bands,
    /// Band-splitting filter used to re-quantize concealed audio.
    tracker: AnalysisQmf,
}

impl G722Decoder {
    /// A freshly reset decoder.
    pub(crate) fn new() -> Self {
        G722Decoder {
            qmf: SynthesisQmf { x: [0; 24] },
            bands: Bands::reset(),
            tracker: AnalysisQmf { x: [0; 24] },
        }
    }

    /// Decodes `payload` into `out` (at least `2 * payload.len()` samples). Returns the number
    /// of samples written.
    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> usize {
        let mut written = 0;
        for (pair, &code) in out.chunks_exact_mut(2).zip(payload) {
            let (rlow, rhigh) = self.bands.reconstruct(code);
            let (first, second) = self.qmf.merge(rlow, rhigh);
            pair[0] = first;
            pair[1] = second;
            written += 2;
        }
        written
    }

    /// Moves the decoder state along concealed audio instead of leaving it frozen at the last
    /// received packet.
    ///
    /// `before` is real or concealed output that preceded `concealed` (its last 24 samples prime
    /// the band-splitting filter). Each sample pair of `concealed` is quantized against the
    /// decoder's own predictor, exactly as a G.722 encoder sharing this state would, and the
    /// resulting code is decoded: afterwards the predictor, the scale factors and the merging
    /// filter hold what they would hold had the concealed audio been received. The decoder's own
    /// reconstruction of it is discarded; the caller plays `concealed` itself.
    pub(crate) fn track_concealment(&mut self, before: &[i16], concealed: &[i16]) {
        self.tracker.prime(before);
        for pair in concealed.chunks_exact(2) {
            let (xlow, xhigh) = self.tracker.split(pair[0], pair[1]);
            let code = self.bands.quantize(xlow, xhigh);
            let (rlow, rhigh) = self.bands.reconstruct(code);
            self.qmf.merge(rlow, rhigh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_round_trips_to_near_silence() {
        let mut encoder = G722Encoder::new();
        let mut decoder = G722Decoder::new();
        let pcm = [0i16; 320];
        let mut bytes = [0u8; 160];
        assert_eq!(encoder.encode(&pcm, &mut bytes), 160);
        let mut out = [1i16; 320];
        assert_eq!(decoder.decode(&bytes, &mut out), 320);
        assert!(out.iter().all(|&s| s.abs() <= 4), "{out:?}");
    }

    #[test]
    fn every_code_word_decodes_without_overflow() {
        let mut decoder = G722Decoder::new();
        let codes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let mut out = vec![0i16; 8192];
        assert_eq!(decoder.decode(&codes, &mut out), 8192);
        let extreme = [0x04u8; 2048];
        assert_eq!(decoder.decode(&extreme, &mut out), 4096);
    }
}
