//! G.711 µ-law and A-law against the ITU-T G.711 code points, plus round-trip properties.

use herald_media::codec::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use herald_media::codec::{CodecError, CodecKind, Decoder, Encoder, UsageError};
use proptest::prelude::*;

#[test]
fn ulaw_code_points() {
    assert_eq!(ulaw_to_linear(0xFF), 0);
    assert_eq!(ulaw_to_linear(0x7F), 0);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0xFE), 8);
    assert_eq!(ulaw_to_linear(0x7E), -8);
    assert_eq!(ulaw_to_linear(0xEF), 132);
    assert_eq!(linear_to_ulaw(0), 0xFF);
    assert_eq!(linear_to_ulaw(-1), 0x7F);
    assert_eq!(linear_to_ulaw(32124), 0x80);
    assert_eq!(linear_to_ulaw(-32124), 0x00);
}

#[test]
fn alaw_code_points() {
    assert_eq!(alaw_to_linear(0xD5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xAA), 32256);
    assert_eq!(alaw_to_linear(0x2A), -32256);
    assert_eq!(alaw_to_linear(0xD4), 24);
    assert_eq!(alaw_to_linear(0xC5), 264);
    assert_eq!(linear_to_alaw(0), 0xD5);
    assert_eq!(linear_to_alaw(-1), 0x55);
    assert_eq!(linear_to_alaw(32256), 0xAA);
    assert_eq!(linear_to_alaw(-32256), 0x2A);
}

#[test]
fn every_ulaw_code_survives_decode_then_encode() {
    for code in 0..=255u8 {
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            linear_to_ulaw(ulaw_to_linear(code)),
            expected,
            "{code:#04x}"
        );
    }
}

#[test]
fn every_alaw_code_survives_decode_then_encode() {
    for code in 0..=255u8 {
        assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "{code:#04x}");
    }
}

#[test]
fn decoded_levels_are_monotonic_and_symmetric() {
    for (decode, encode) in [
        (
            ulaw_to_linear as fn(u8) -> i16,
            linear_to_ulaw as fn(i16) -> u8,
        ),
        (alaw_to_linear, linear_to_alaw),
    ] {
        let mut previous = i16::MIN;
        for x in (i16::MIN..=i16::MAX).step_by(7) {
            let y = decode(encode(x));
            assert!(y >= previous, "{x} decoded to {y} after {previous}");
            previous = y;
        }
    }
    // µ-law codes the magnitude, so it is exactly symmetric.
    for x in 1..=i16::MAX {
        assert_eq!(
            ulaw_to_linear(linear_to_ulaw(x)),
            -ulaw_to_linear(linear_to_ulaw(-x))
        );
    }
}

proptest! {
    #[test]
    fn ulaw_error_is_within_half_a_step(x in any::<i16>()) {
        let error = (i32::from(ulaw_to_linear(linear_to_ulaw(x))) - i32::from(x)).abs();
        let bound = i32::from(x).abs() / 16 + 8;
        prop_assert!(error <= bound, "{} -> error {}", x, error);
    }

    #[test]
    fn alaw_error_is_within_half_a_step(x in any::<i16>()) {
        let error = (i32::from(alaw_to_linear(linear_to_alaw(x))) - i32::from(x)).abs();
        let bound = i32::from(x).abs() / 16 + 16;
        prop_assert!(error <= bound, "{} -> error {}", x, error);
    }

    #[test]
    fn codec_frames_round_trip(pcm in proptest::collection::vec(any::<i16>(), 1..480)) {
        for kind in [CodecKind::Pcmu, CodecKind::Pcma] {
            let mut encoder = Encoder::new(kind, 8000).expect("G.711 runs at 8 kHz");
            let mut decoder = Decoder::new(kind, 8000).expect("G.711 runs at 8 kHz");
            let mut payload = vec![0u8; pcm.len()];
            prop_assert_eq!(encoder.encode(&pcm, &mut payload), Ok(pcm.len()));
            let mut out = vec![0i16; pcm.len()];
            prop_assert_eq!(decoder.decode(&payload, &mut out), Ok(pcm.len()));
            for (&x, &y) in pcm.iter().zip(&out) {
                prop_assert!((i32::from(x) - i32::from(y)).abs() <= i32::from(x).abs() / 16 + 16);
            }
        }
    }
}

#[test]
fn a_frame_is_one_byte_per_sample() {
    let mut encoder = Encoder::new(CodecKind::Pcma, 8000).expect("G.711 runs at 8 kHz");
    let pcm = vec![0i16; CodecKind::Pcma.samples_per_frame(8000, 20)];
    let mut payload = vec![0u8; CodecKind::Pcma.max_payload_len(20)];
    assert_eq!(encoder.encode(&pcm, &mut payload), Ok(160));
    assert!(payload.iter().all(|&b| b == 0xD5));
}

#[test]
fn misuse_and_bad_payloads_are_told_apart() {
    let mut encoder = Encoder::new(CodecKind::Pcmu, 8000).expect("G.711 runs at 8 kHz");
    let mut decoder = Decoder::new(CodecKind::Pcmu, 8000).expect("G.711 runs at 8 kHz");
    let short = encoder.encode(&[0; 160], &mut [0; 100]);
    assert_eq!(
        short,
        Err(CodecError::Usage(UsageError::BufferTooSmall {
            needed: 160,
            got: 100
        }))
    );
    let empty = decoder.decode(&[], &mut [0; 160]);
    assert!(empty.is_err_and(|e| e.is_bad_payload()));
    let overlong = decoder.decode(&[0xFF; 200], &mut [0; 160]);
    assert!(matches!(overlong, Err(CodecError::Usage(_))));
}
