//! Opus through libopus: round trips of speech-like audio, in-band FEC against plain
//! concealment, and robustness against garbage.

mod codec_signals;

use codec_signals::{best_lag, correlation, level_db, rms, snr_db, speech_like};
use herald_media::codec::{CodecError, CodecKind, Decoder, Encoder, UsageError};
use proptest::prelude::*;

/// Encodes `pcm` in 20 ms frames.
fn encode_frames(pcm: &[i16], rate: u32) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(CodecKind::Opus, rate).expect("Opus rate");
    let frame = CodecKind::Opus.samples_per_frame(rate, 20);
    let mut payload = vec![0u8; CodecKind::Opus.max_payload_len(20)];
    pcm.chunks_exact(frame)
        .map(|chunk| {
            let n = encoder.encode(chunk, &mut payload).expect("20 ms frame");
            payload[..n].to_vec()
        })
        .collect()
}

/// Decodes every packet in order.
fn decode_frames(packets: &[Vec<u8>], rate: u32) -> Vec<i16> {
    let mut decoder = Decoder::new(CodecKind::Opus, rate).expect("Opus rate");
    let mut out = vec![0i16; CodecKind::Opus.samples_per_frame(rate, 120)];
    let mut pcm = Vec::new();
    for packet in packets {
        let n = decoder.decode(packet, &mut out).expect("valid packet");
        pcm.extend_from_slice(&out[..n]);
    }
    pcm
}

fn round_trip(rate: u32) {
    let input = speech_like(rate, rate as usize * 2);
    let packets = encode_frames(&input, rate);
    let output = decode_frames(&packets, rate);
    assert_eq!(output.len(), input.len());
    let delay = best_lag(&input, &output, rate as usize / 40);
    let skip = rate as usize / 10;
    let reference = &input[skip..input.len() - delay];
    let aligned = &output[skip + delay..];
    let similarity = correlation(reference, aligned);
    let level = level_db(reference, aligned);
    assert!(similarity > 0.9, "{rate} Hz: correlation {similarity:.3}");
    assert!(level.abs() < 1.5, "{rate} Hz: level {level:.2} dB");
    let bytes: usize = packets.iter().map(Vec::len).sum();
    let kbps = bytes as f64 * 8.0 / 2.0 / 1000.0;
    assert!((10.0..48.0).contains(&kbps), "{rate} Hz: {kbps:.1} kbit/s");
}

#[test]
fn speech_round_trips_at_16khz() {
    round_trip(16_000);
}

#[test]
fn speech_round_trips_at_48khz() {
    round_trip(48_000);
}

/// For each lost packet, how close FEC and plain concealment come to what the decoder would
/// have produced from the packet itself: (FEC correlation, PLC correlation, FEC SNR, PLC SNR).
fn fec_against_plc(rate: u32, lost: usize) -> (f64, f64, f64, f64) {
    let input = speech_like(rate, rate as usize * 2);
    let packets = encode_frames(&input, rate);
    let reference = decode_frames(&packets, rate);
    let frame = CodecKind::Opus.samples_per_frame(rate, 20);
    let expected = &reference[lost * frame..(lost + 1) * frame];

    let mut with_fec = Decoder::new(CodecKind::Opus, rate).expect("Opus rate");
    let mut with_plc = Decoder::new(CodecKind::Opus, rate).expect("Opus rate");
    let mut out = vec![0i16; frame];
    for packet in &packets[..lost] {
        with_fec.decode(packet, &mut out).expect("valid packet");
        with_plc.decode(packet, &mut out).expect("valid packet");
    }
    let mut fec = vec![0i16; frame];
    assert_eq!(with_fec.decode_fec(&packets[lost + 1], &mut fec), Ok(frame));
    let mut plc = vec![0i16; frame];
    assert_eq!(with_plc.conceal(&mut plc), Ok(frame));
    (
        correlation(expected, &fec),
        correlation(expected, &plc),
        snr_db(expected, &fec),
        snr_db(expected, &plc),
    )
}

/// Packets whose frame is loud enough for the encoder to spend FEC bits on it: libopus only
/// adds the redundant copy for frames its voice activity detector finds active.
fn loud_packets(rate: u32) -> Vec<usize> {
    let input = speech_like(rate, rate as usize * 2);
    let frame = CodecKind::Opus.samples_per_frame(rate, 20);
    (5..95)
        .filter(|&i| rms(&input[i * frame..(i + 1) * frame]) > 1500.0)
        .step_by(7)
        .collect()
}

fn fec_beats_plc(rate: u32) {
    let lost_packets = loud_packets(rate);
    assert!(lost_packets.len() >= 5, "{lost_packets:?}");
    for lost in lost_packets {
        let (fec, plc, fec_snr, plc_snr) = fec_against_plc(rate, lost);
        assert!(
            fec > 0.8,
            "{rate} Hz, packet {lost}: FEC correlation {fec:.3}"
        );
        assert!(
            fec > plc,
            "{rate} Hz, packet {lost}: FEC {fec:.3} vs PLC {plc:.3}"
        );
        assert!(
            fec_snr > plc_snr,
            "{rate} Hz, packet {lost}: FEC {fec_snr:.1} dB vs PLC {plc_snr:.1} dB"
        );
    }
}

#[test]
fn fec_recovers_a_lost_packet_better_than_concealment_at_16khz() {
    fec_beats_plc(16_000);
}

#[test]
fn fec_recovers_a_lost_packet_better_than_concealment_at_48khz() {
    fec_beats_plc(48_000);
}

#[test]
fn misuse_is_reported_as_usage_errors() {
    let mut encoder = Encoder::new(CodecKind::Opus, 16_000).expect("Opus rate");
    let thirty_ms = encoder.encode(&[0; 480], &mut [0; 1500]);
    assert!(matches!(
        thirty_ms,
        Err(CodecError::Usage(UsageError::FrameLength {
            samples: 480,
            ..
        }))
    ));
    let mut decoder = Decoder::new(CodecKind::Opus, 16_000).expect("Opus rate");
    assert!(matches!(
        decoder.conceal(&mut [0; 7]),
        Err(CodecError::Usage(UsageError::FrameLength { .. }))
    ));
    let sixty_ms = encode_sixty_ms();
    assert_eq!(
        decoder.decode(&sixty_ms, &mut [0; 320]),
        Err(CodecError::Usage(UsageError::BufferTooSmall {
            needed: 960,
            got: 320
        }))
    );
    assert_eq!(decoder.decode(&sixty_ms, &mut [0; 960]), Ok(960));
}

fn encode_sixty_ms() -> Vec<u8> {
    let mut encoder = Encoder::new(CodecKind::Opus, 16_000).expect("Opus rate");
    let mut payload = vec![0u8; 1500];
    let n = encoder
        .encode(&speech_like(16_000, 960), &mut payload)
        .expect("60 ms is an Opus frame");
    payload.truncate(n);
    payload
}

#[test]
fn empty_and_corrupt_packets_are_bad_payloads() {
    let mut decoder = Decoder::new(CodecKind::Opus, 48_000).expect("Opus rate");
    let mut out = vec![0i16; 5760];
    assert!(
        decoder
            .decode(&[], &mut out)
            .is_err_and(|e| e.is_bad_payload())
    );
    assert!(
        decoder
            .decode_fec(&[], &mut out[..960])
            .is_err_and(|e| e.is_bad_payload())
    );
    // TOC code 3 (arbitrary frame count) with a frame count of zero is invalid (RFC 6716 §3.2.5).
    assert!(
        decoder
            .decode(&[0x03, 0x00], &mut out)
            .is_err_and(|e| e.is_bad_payload())
    );
}

proptest! {
    #[test]
    fn garbage_never_panics_and_the_decoder_keeps_working(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6)
    ) {
        let mut decoder = Decoder::new(CodecKind::Opus, 48_000).expect("Opus rate");
        let mut out = vec![0i16; 5760];
        for packet in &packets {
            match decoder.decode(packet, &mut out) {
                Ok(n) => prop_assert!(n <= out.len()),
                Err(error) => prop_assert!(error.is_bad_payload(), "{:?}", error),
            }
            let _ = decoder.decode_fec(packet, &mut out[..960]);
        }
        let valid = encode_frames(&speech_like(48_000, 960), 48_000);
        prop_assert_eq!(decoder.decode(&valid[0], &mut out), Ok(960));
    }
}
