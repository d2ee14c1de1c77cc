//! G.722 64 kbit/s: interoperability vectors, audio quality through encode and decode, and
//! robustness against garbage.

mod codec_signals;

use codec_signals::{best_lag, chirp, sine, snr_db};
use herald_media::codec::{CodecError, CodecKind, Decoder, Encoder, UsageError};
use proptest::prelude::*;

/// A deterministic full-scale test input: a 37-sample sawtooth plus xorshift noise, clipped.
fn vector_input() -> Vec<i16> {
    let mut state: u32 = 0x1234_5678;
    (0..640)
        .map(|n| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = i32::from((state >> 16) as u16 as i16 >> 2);
            let saw = (n % 37) * 1500 - 27000;
            (saw + noise).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
        })
        .collect()
}

/// FFmpeg 5.1's G.722 encoder output for [`vector_input`] (`-c:a g722 -f g722`).
const FFMPEG_ENCODED: &str = "22842084208404068686d4989096baac2f2daee9a326a82904860bd8513b8c1b\
bb382cea7bace32e3063880447d35a3a9ada5c3237f72e6e672c28e429048452fbcb7b59be7c5d3ff36ce2d9a33264\
868492fb489f517f3ad32f3371f7e4b2a6ea3504c669d0543cd2512cbc752e6a5ba3f67b2085057350d7d84f3393e8\
f99f77646eaf28aa270486f197d4d6bf7e79d7295eea5aa37de62484c6a609784cee0b6ff19dfff66d27ec37e92a04\
88d5b349f4513958f0b4eb3bf1ac2de6278444e449b7dfcebbed1dfced77ea35692bee2c044af45f53f9fd8eb778f4\
b7e91fe4fea92284c4f81a7d72c8effd142ad567dd5b632edb250488f14fdfbfdbd5ae9af6b4ade9b9eced6484c4f6\
5f5cf7509fea1e3aba6a76eb3d287024448877f65cd036d634ec99dbec287aada8e58444ad187b4e51b774be1b71ab\
3decf3296c2d";

/// FNV-1a 64 of the little-endian PCM FFmpeg decodes from [`FFMPEG_ENCODED`].
const FFMPEG_DECODED_FNV: u64 = 0xb841_9b1d_37db_1d9f;
/// FNV-1a 64 of the PCM FFmpeg decodes from the bytes 0, 1, ..., 255, 0, 1, ..., 255.
const FFMPEG_CYCLE_DECODED_FNV: u64 = 0x54fc_0abd_23d6_ef94;

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("valid hex"))
        .collect()
}

fn fnv1a(samples: &[i16]) -> u64 {
    samples
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

fn encode_all(pcm: &[i16]) -> Vec<u8> {
    let mut encoder = Encoder::new(CodecKind::G722, 16_000).expect("G.722 runs at 16 kHz");
    let mut payload = vec![0u8; 160];
    let mut stream = Vec::new();
    for frame in pcm.chunks(320) {
        let n = encoder.encode(frame, &mut payload).expect("even frames");
        stream.extend_from_slice(&payload[..n]);
    }
    stream
}

fn decode_all(stream: &[u8]) -> Vec<i16> {
    let mut decoder = Decoder::new(CodecKind::G722, 16_000).expect("G.722 runs at 16 kHz");
    let mut out = vec![0i16; 320];
    let mut pcm = Vec::new();
    for packet in stream.chunks(160) {
        let n = decoder.decode(packet, &mut out).expect("any bytes decode");
        pcm.extend_from_slice(&out[..n]);
    }
    pcm
}

#[test]
fn encoder_is_bit_exact_with_ffmpeg() {
    assert_eq!(encode_all(&vector_input()), hex_bytes(FFMPEG_ENCODED));
}

#[test]
fn decoder_is_bit_exact_with_ffmpeg() {
    assert_eq!(
        fnv1a(&decode_all(&hex_bytes(FFMPEG_ENCODED))),
        FFMPEG_DECODED_FNV
    );
    let cycle: Vec<u8> = (0..512).map(|i| (i % 256) as u8).collect();
    assert_eq!(fnv1a(&decode_all(&cycle)), FFMPEG_CYCLE_DECODED_FNV);
}

/// Encodes and decodes `input`; returns the output.
fn round_trip(input: &[i16]) -> Vec<i16> {
    decode_all(&encode_all(input))
}

/// SNR of `output` against `input` delayed by `delay`, skipping 20 ms of ADPCM adaptation.
fn snr_after(input: &[i16], output: &[i16], delay: usize) -> f64 {
    let reference = &input[320..input.len() - delay];
    snr_db(reference, &output[320 + delay..])
}

/// The encoder plus decoder delay, found by cross-correlating a broadband chirp (a sine would
/// leave it ambiguous by whole periods).
const DELAY: usize = 22;

#[test]
fn a_telephone_band_chirp_survives() {
    let input = chirp(300.0, 3400.0, 16_000, 10_000.0, 32_000);
    let output = round_trip(&input);
    assert_eq!(
        best_lag(&input, &output, 64),
        DELAY,
        "transmit plus receive QMF delay"
    );
    let snr = snr_after(&input, &output, DELAY);
    assert!(snr > 20.0, "SNR {snr:.1} dB");
}

#[test]
fn a_1khz_sine_survives() {
    let input = sine(1000.0, 16_000, 10_000.0, 16_000);
    let output = round_trip(&input);
    // The sine's own correlation peak agrees with the codec delay, modulo its 16-sample period.
    assert_eq!(best_lag(&input, &output, 64) % 16, DELAY % 16);
    let snr = snr_after(&input, &output, DELAY);
    assert!(snr > 20.0, "SNR {snr:.1} dB");
}

#[test]
fn wideband_content_above_4khz_survives() {
    let input = chirp(4500.0, 7000.0, 16_000, 8_000.0, 32_000);
    let output = round_trip(&input);
    let snr = snr_after(&input, &output, DELAY);
    assert!(snr > 10.0, "high band SNR {snr:.1} dB");
}

#[test]
fn a_frame_is_half_a_byte_per_sample() {
    let mut encoder = Encoder::new(CodecKind::G722, 16_000).expect("G.722 runs at 16 kHz");
    let samples = CodecKind::G722.samples_per_frame(16_000, 20);
    let mut payload = vec![0u8; CodecKind::G722.max_payload_len(20)];
    assert_eq!(encoder.encode(&vec![0; samples], &mut payload), Ok(160));
    assert_eq!(CodecKind::G722.rtp_ticks_per_frame(20), 160);
}

#[test]
fn odd_frames_and_short_buffers_are_misuse() {
    let mut encoder = Encoder::new(CodecKind::G722, 16_000).expect("G.722 runs at 16 kHz");
    assert!(matches!(
        encoder.encode(&[0; 319], &mut [0; 160]),
        Err(CodecError::Usage(UsageError::FrameLength {
            samples: 319,
            ..
        }))
    ));
    let mut decoder = Decoder::new(CodecKind::G722, 16_000).expect("G.722 runs at 16 kHz");
    assert_eq!(
        decoder.decode(&[0; 160], &mut [0; 319]),
        Err(CodecError::Usage(UsageError::BufferTooSmall {
            needed: 320,
            got: 319
        }))
    );
    assert!(
        decoder
            .decode(&[], &mut [0; 320])
            .is_err_and(|e| e.is_bad_payload())
    );
}

proptest! {
    #[test]
    fn garbage_decodes_without_panic(packets in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 1..400), 1..8)) {
        let mut decoder = Decoder::new(CodecKind::G722, 16_000).expect("G.722 runs at 16 kHz");
        let mut out = vec![0i16; 800];
        for packet in &packets {
            prop_assert_eq!(decoder.decode(packet, &mut out), Ok(2 * packet.len()));
            prop_assert_eq!(decoder.conceal(&mut out[..320]), Ok(320));
        }
    }
}
