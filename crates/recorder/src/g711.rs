//! G.711 A-law and µ-law (ITU-T G.711), the two payload codecs besides L16. Encoding computes
//! the segment directly; decoding uses 256-entry tables built at compile time.

/// A-law code of one 16-bit linear sample (the top 13 bits are used).
pub fn alaw_encode(sample: i16) -> u8 {
    let (magnitude, sign_mask) = if sample >= 0 {
        (sample >> 3, 0xd5)
    } else {
        (-(sample >> 3) - 1, 0x55)
    };
    // `magnitude` is 0..=4095: 12 bits.
    let magnitude = magnitude as u16;
    let segment = (16 - magnitude.leading_zeros() as u16).saturating_sub(5);
    let mantissa = if segment == 0 {
        (magnitude >> 1) & 0x0f
    } else {
        (magnitude >> segment) & 0x0f
    };
    ((segment << 4) as u8 | mantissa as u8) ^ sign_mask
}

/// µ-law code of one 16-bit linear sample (the top 14 bits are used).
pub fn ulaw_encode(sample: i16) -> u8 {
    const CLIP: i16 = 8159;
    const BIAS: u16 = 0x21;
    let (magnitude, sign_mask) = if sample >= 0 {
        (sample >> 2, 0xff)
    } else {
        (-(sample >> 2), 0x7f)
    };
    let biased = magnitude.min(CLIP) as u16 + BIAS;
    // `biased` is 0x21..=0x2000, so its bit length is 6..=14; 14 only for full scale.
    let bit_length = 16 - biased.leading_zeros() as u16;
    if bit_length > 13 {
        return 0x7f ^ sign_mask;
    }
    let segment = bit_length - 6;
    let mantissa = (biased >> (segment + 1)) & 0x0f;
    ((segment << 4) as u8 | mantissa as u8) ^ sign_mask
}

/// Linear value of an A-law code.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

/// Linear value of a µ-law code.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

static ALAW_TABLE: [i16; 256] = alaw_table();
static ULAW_TABLE: [i16; 256] = ulaw_table();

const fn alaw_table() -> [i16; 256] {
    let mut table = [0; 256];
    let mut code = 0;
    while code < 256 {
        let value = code as u8 ^ 0x55;
        let segment = ((value & 0x70) >> 4) as i32;
        let mut linear = ((value & 0x0f) as i32) << 4;
        linear += if segment == 0 { 8 } else { 0x108 };
        if segment > 1 {
            linear <<= segment - 1;
        }
        table[code] = if value & 0x80 != 0 {
            linear as i16
        } else {
            -linear as i16
        };
        code += 1;
    }
    table
}

const fn ulaw_table() -> [i16; 256] {
    const BIAS: i32 = 0x84;
    let mut table = [0; 256];
    let mut code = 0;
    while code < 256 {
        let value = !(code as u8);
        let mut linear = (((value & 0x0f) as i32) << 3) + BIAS;
        linear <<= (value & 0x70) >> 4;
        table[code] = if value & 0x80 != 0 {
            (BIAS - linear) as i16
        } else {
            (linear - BIAS) as i16
        };
        code += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xaa), 32_256);
        assert_eq!(alaw_decode(0x2a), -32_256);
        assert_eq!(alaw_encode(i16::MAX), 0xaa);
        assert_eq!(alaw_encode(i16::MIN), 0x2a);
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
            // µ-law has two zeros (0x7f and 0xff); zero encodes to 0xff.
            if code != 0x7f {
                assert_eq!(ulaw_encode(ulaw_decode(code)), code, "µ-law {code:#04x}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic_in_the_decoded_value() {
        let mut previous = (i16::MIN, i16::MIN);
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let decoded = (
                alaw_decode(alaw_encode(sample)),
                ulaw_decode(ulaw_encode(sample)),
            );
            assert!(
                decoded.0 >= previous.0 && decoded.1 >= previous.1,
                "{sample}"
            );
            assert!((i32::from(decoded.0) - i32::from(sample)).abs() <= 1024);
            assert!((i32::from(decoded.1) - i32::from(sample)).abs() <= 1024);
            previous = decoded;
        }
    }
}
