//! ITU-T G.711: µ-law (PCMU) and A-law (PCMA) companding of 16-bit linear PCM at 8 kHz.
//!
//! Encoding is bit manipulation on the segment (exponent) and step (mantissa) of the 14-bit
//! (µ-law) or 13-bit (A-law) magnitude; decoding reads a 256-entry `const` table built at
//! compile time from the same definition. Every byte is a valid code word, so decoding cannot
//! fail. The decoded values are the ITU-T G.711 reconstruction levels scaled to 16 bits
//! (µ-law 0x00 → -32124, 0x80 → 32124, 0xFF → 0; A-law 0xAA → 32256, 0xD5 → 8, 0x55 → -8).

/// µ-law bias added to the magnitude before the segment search (33 in 14-bit units, times 4).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent once the bias is added (8159 in 14-bit units, times 4).
const ULAW_CLIP: i32 = 32635;

/// Decoded value of every µ-law code word.
const ULAW_TABLE: [i16; 256] = build_table(Law::Ulaw);
/// Decoded value of every A-law code word.
const ALAW_TABLE: [i16; 256] = build_table(Law::Alaw);

/// Builds a decode table by evaluating the expansion formula on every code word at compile time.
const fn build_table(law: Law) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = match law {
            Law::Ulaw => ulaw_decode_formula(code as u8),
            Law::Alaw => alaw_decode_formula(code as u8),
        };
        code += 1;
    }
    table
}

/// µ-law expansion: invert the bits, rebuild the biased magnitude, remove the bias.
const fn ulaw_decode_formula(code: u8) -> i16 {
    let u = !code as i32;
    let magnitude = ((((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// A-law expansion: undo the even-bit inversion, rebuild the magnitude at the middle of its step.
const fn alaw_decode_formula(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let segment = (a & 0x70) >> 4;
    let step = (a & 0x0F) << 4;
    let magnitude = match segment {
        0 => step + 8,
        1 => step + 0x108,
        _ => (step + 0x108) << (segment - 1),
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Compresses one linear sample to a µ-law code word.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (magnitude, mask) = if value < 0 {
        (-value, 0x7F)
    } else {
        (value, 0xFF)
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` is in 0x84..=0x7FFF, so its top bit is bit 7..=14: segment 0..=7.
    let segment = (31 - biased.leading_zeros() as i32) - 7;
    let word = (segment << 4) | ((biased >> (segment + 3)) & 0x0F);
    (word ^ mask) as u8
}

/// Expands one µ-law code word to a linear sample.
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// Compresses one linear sample to an A-law code word.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let value = i32::from(sample) >> 3;
    let (magnitude, mask) = if value >= 0 {
        (value, 0xD5)
    } else {
        (-value - 1, 0x55)
    };
    if magnitude > 0xFFF {
        return (0x7F ^ mask) as u8;
    }
    // Segment 0 and 1 share the step size; above that each segment doubles it.
    let top_bit = 31 - (magnitude | 1).leading_zeros() as i32;
    let segment = (top_bit - 4).max(0);
    let shift = segment.max(1);
    let word = (segment << 4) | ((magnitude >> shift) & 0x0F);
    (word ^ mask) as u8
}

/// Expands one A-law code word to a linear sample.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

/// Which of the two G.711 laws a codec instance uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Law {
    /// µ-law, North America and Japan.
    Ulaw,
    /// A-law, Europe and the rest of the world.
    Alaw,
}

impl Law {
    /// The law of a G.711 codec kind (A-law for anything but PCMU).
    pub(crate) fn of(kind: super::CodecKind) -> Self {
        if kind == super::CodecKind::Pcmu {
            Law::Ulaw
        } else {
            Law::Alaw
        }
    }

    /// Compresses `pcm` into `out`, one byte per sample. `out` must be at least as long.
    pub(crate) fn encode(self, pcm: &[i16], out: &mut [u8]) {
        let compress = match self {
            Law::Ulaw => linear_to_ulaw,
            Law::Alaw => linear_to_alaw,
        };
        for (byte, &sample) in out.iter_mut().zip(pcm) {
            *byte = compress(sample);
        }
    }

    /// Expands `payload` into `out`, one sample per byte. `out` must be at least as long.
    pub(crate) fn decode(self, payload: &[u8], out: &mut [i16]) {
        let table = match self {
            Law::Ulaw => &ULAW_TABLE,
            Law::Alaw => &ALAW_TABLE,
        };
        for (sample, &byte) in out.iter_mut().zip(payload) {
            *sample = table[usize::from(byte)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alaw_segment_boundaries_follow_the_standard() {
        // 13-bit magnitudes 31 and 32 sit on either side of the segment 0/1 boundary, and 63 and
        // 64 on either side of the segment 1/2 boundary where the step size starts doubling.
        assert_eq!(linear_to_alaw(31 << 3) ^ 0xD5, 0x0F);
        assert_eq!(linear_to_alaw(32 << 3) ^ 0xD5, 0x10);
        assert_eq!(linear_to_alaw(63 << 3) ^ 0xD5, 0x1F);
        assert_eq!(linear_to_alaw(64 << 3) ^ 0xD5, 0x20);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn ulaw_clips_extremes() {
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    }
}
