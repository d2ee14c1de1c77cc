//! The recording tap: both directions as 8 kHz PCM at positions on the stream's schedule.

use std::sync::Arc;

use super::harness::*;
use crate::codec::g711::{linear_to_ulaw, ulaw_to_linear};
use crate::codec::{CodecKind, Encoder};
use crate::jitter::JitterMode;
use crate::prompt::{EncodedPrompt, PromptAudio};
use crate::stream::{CAPTURE_BUFFER_SAMPLES, CaptureChannel, MAX_CATCH_UP, StreamConfig};

use CaptureChannel::{Received, Sent};

/// Samples in 20 ms at 8 kHz.
const FRAME: usize = 160;

/// A 1 kHz sine at `rate` Hz, `frames` frames of 20 ms long, frame `j` at `amplitude(j)`: every
/// frame has its own level, so a captured frame tells which one it is.
fn sine(rate: u32, frames: usize, amplitude: impl Fn(usize) -> f64) -> Vec<i16> {
    let frame = rate as usize / 50;
    (0..frames * frame)
        .map(|n| {
            let phase = std::f64::consts::TAU * 1000.0 * n as f64 / f64::from(rate);
            (amplitude(n / frame) * phase.sin()).round() as i16
        })
        .collect()
}

fn rising(frame: usize) -> f64 {
    1000.0 + 150.0 * frame as f64
}

/// Loud, then 200 ms of silence, then loud again.
fn loud_quiet_loud(frame: usize) -> f64 {
    if (10..20).contains(&frame) {
        0.0
    } else {
        10_000.0
    }
}

/// A stream of `codec` whose jitter buffer keeps a fixed delay, long enough for the packets
/// after a short loss to be there when it plays out: the adaptive one may drop or insert a
/// frame to follow the network, which would shift the audio by a slot.
fn steady(codec: CodecKind) -> StreamConfig {
    let mut cfg = config(codec, 20);
    cfg.jitter.mode = JitterMode::Fixed { delay: ms(80) };
    cfg
}

fn prompt_of(pcm: &[i16], rate: u32, codec: CodecKind) -> Arc<EncodedPrompt> {
    let audio = PromptAudio::new(pcm.to_vec(), rate).unwrap();
    Arc::new(EncodedPrompt::encode(&audio, codec, ms(20)).unwrap())
}

/// `pcm` through µ-law and back.
fn ulaw_round_trip(pcm: &[i16]) -> Vec<i16> {
    pcm.iter()
        .map(|&x| ulaw_to_linear(linear_to_ulaw(x)))
        .collect()
}

/// `decoded` is `original` within the quantisation error of µ-law.
fn assert_within_ulaw(original: &[i16], decoded: &[i16]) {
    assert_eq!(original.len(), decoded.len());
    for (&x, &y) in original.iter().zip(decoded) {
        let error = (i32::from(x) - i32::from(y)).abs();
        assert!(error <= i32::from(x).abs() / 16 + 8, "{x} came back as {y}");
    }
}

fn rms(pcm: &[i16]) -> f64 {
    let energy: f64 = pcm.iter().map(|&x| f64::from(x).powi(2)).sum();
    (energy / pcm.len().max(1) as f64).sqrt()
}

#[test]
fn the_received_channel_reproduces_a_pcmu_waveform_at_exact_positions_across_a_loss() {
    // Telephone events negotiated: no in-band detection, the stream decodes for the tap only.
    let mut h = Harness::new(steady(CodecKind::Pcmu));
    h.run_for(ms(7));
    h.stream.start_capture(h.now);
    h.run_for(ms(23));
    let pcm = sine(8_000, 40, |k| 1000.0 * 1.08f64.powi(k as i32));
    let frames: Vec<&[i16]> = pcm.chunks(FRAME).collect();
    let decoded: Vec<Vec<i16>> = frames.iter().map(|f| ulaw_round_trip(f)).collect();
    for (k, frame) in decoded.iter().enumerate() {
        assert_eq!(
            decoded.iter().position(|f| f == frame),
            Some(k),
            "frames differ"
        );
    }
    let mut peer = Peer::new(0xabc);
    let lost = 20..23;
    for (k, frame) in frames.iter().enumerate() {
        let payload: Vec<u8> = frame.iter().map(|&x| linear_to_ulaw(x)).collect();
        let packet = peer.audio(&payload);
        if !lost.contains(&k) {
            h.receive(A, &packet);
        }
        h.run_for(ms(20));
    }
    h.run_for(ms(300));

    // Packet 0 only proves the source (RFC 3550 probation) and is not played. Packet 1
    // arrived 50 ms after the start, 43 ms after the origin, and plays 80 ms later: from there
    // one chunk per slot, the lost packets' slots filled by G.711 concealment.
    let chunks = h.captured(Received);
    assert_eq!(chunks.len(), frames.len() - 1);
    for (i, chunk) in chunks.iter().enumerate() {
        let k = i + 1;
        assert_eq!(chunk.position, (43 + 80) * 8 + 160 * i as u64, "packet {k}");
        if lost.contains(&k) {
            assert!(!decoded.contains(&chunk.pcm), "concealment for packet {k}");
            assert!(
                rms(&chunk.pcm) > 100.0,
                "concealment for packet {k} is not silence"
            );
        } else if k == lost.end {
            // Concealment blends into the first packet after the loss.
            assert_ne!(chunk.pcm, decoded[k]);
        } else {
            assert_eq!(chunk.pcm, decoded[k], "packet {k}");
            assert_within_ulaw(frames[k], &chunk.pcm);
        }
    }
    assert_eq!(h.stream.stats().concealed, 3);
}

#[test]
fn the_sent_channel_is_the_prompt_decoded_back_at_its_packet_slots() {
    let mut h = Harness::new(pcmu());
    h.run_for(ms(13));
    h.stream.start_capture(h.now);
    let pcm = sine(8_000, 30, rising);
    h.play(prompt_of(&pcm, 8_000, CodecKind::Pcmu), false);
    h.run_for(ms(800));

    // Silence before and after the prompt gives nothing; the prompt's 30 packets went out in
    // slots 1 to 30, slot n due 20 n ms after the stream started, 13 ms before the origin.
    let chunks = h.captured(Sent);
    assert_eq!(chunks.len(), 30);
    for (j, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.position, (20 * (j as u64 + 1) - 13) * 8, "frame {j}");
        let original = &pcm[j * FRAME..][..FRAME];
        assert_eq!(chunk.pcm, ulaw_round_trip(original));
        assert_within_ulaw(original, &chunk.pcm);
    }
    assert!(h.captured(Received).is_empty());
}

#[test]
fn a_stall_skips_sent_slots_at_exact_positions_and_hold_captures_nothing() {
    let mut h = Harness::new(pcmu());
    let t0 = h.t0;
    let slot = |n: u32| t0 + ms(20) * n;
    h.run_for(ms(13));
    h.stream.start_capture(h.now);
    let pcm = sine(8_000, 100, |j| 500.0 + 80.0 * j as f64);
    h.play(prompt_of(&pcm, 8_000, CodecKind::Pcmu), false);
    for n in 1..=5 {
        h.serve(slot(n));
    }
    // A stall longer than the catch-up: the missed slots are skipped.
    let skipped_to = 6 + MAX_CATCH_UP + 1;
    h.serve(slot(skipped_to));
    h.run_for(ms(200));
    h.update(A, false, true);
    let held = h.now;
    h.run_for(ms(400));
    let resumed = h.now;
    h.update(A, true, true);
    h.run_for(ms(200));

    // Every chunk is the prompt frame of its slot (frame n - 1 in slot n: the prompt moves on
    // with time through stalls and hold), at the position of that slot.
    let slots: Vec<u32> = h
        .captured(Sent)
        .into_iter()
        .map(|chunk| {
            let since_start = chunk.position + 13 * 8;
            assert_eq!(since_start % 160, 0, "off the grid: {}", chunk.position);
            let n = (since_start / 160) as usize;
            assert_eq!(chunk.pcm, ulaw_round_trip(&pcm[(n - 1) * FRAME..][..FRAME]));
            n as u32
        })
        .collect();
    assert_eq!(slots[..6], [1, 2, 3, 4, 5, skipped_to]);
    assert!(slots.windows(2).all(|w| w[0] < w[1]));
    assert!(
        slots.iter().all(|&n| slot(n) <= held || slot(n) > resumed),
        "nothing captured on hold"
    );
    assert!(
        slots.iter().any(|&n| slot(n) > resumed),
        "captured again after hold"
    );
    // One chunk per prompt packet on the wire.
    let prompt_packets = h
        .rtp()
        .iter()
        .filter(|p| p.at > t0 && p.payload != [0xff; 160])
        .count();
    assert_eq!(slots.len(), prompt_packets);
}

#[test]
fn wideband_codecs_give_160_samples_per_slot_whose_energy_follows_the_input() {
    for codec in [CodecKind::G722, CodecKind::Opus] {
        let mut h = Harness::new(steady(codec));
        h.stream.start_capture(h.now);
        let rate = codec.native_rate();
        h.play(
            prompt_of(&sine(16_000, 30, loud_quiet_loud), 16_000, codec),
            false,
        );
        let mut encoder = Encoder::new(codec, rate).unwrap();
        let mut peer = Peer::new(0xabc);
        peer.payload_type = payload_type(codec);
        let pcm = sine(rate, 30, loud_quiet_loud);
        for frame in pcm.chunks(rate as usize / 50) {
            let mut payload = vec![0; codec.max_payload_len(20)];
            let len = encoder.encode(frame, &mut payload).unwrap();
            let ts = peer.ts;
            peer.ts = peer.ts.wrapping_add(codec.rtp_ticks_per_frame(20));
            let packet = peer.packet(false, peer.payload_type, ts, &payload[..len]);
            h.receive(A, &packet);
            h.run_for(ms(20));
        }
        h.run_for(ms(300));

        // Silence gives nothing on the sent channel; the first received packet is not played
        // (probation).
        for (channel, first) in [(Sent, 0), (Received, 1)] {
            let chunks = h.captured(channel);
            assert_eq!(chunks.len(), 30 - first, "{codec} {channel:?}");
            for (i, chunk) in chunks.iter().enumerate() {
                let j = i + first;
                assert_eq!(chunk.pcm.len(), FRAME, "{codec} {channel:?} {j}");
                if i > 0 {
                    assert_eq!(chunk.position, chunks[i - 1].position + 160);
                }
                let level = rms(&chunk.pcm);
                match j {
                    3..8 | 23..28 => assert!(level > 4000.0, "{codec} {channel:?} {j}: {level}"),
                    13..18 => assert!(level < 200.0, "{codec} {channel:?} {j}: {level}"),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn without_capture_nothing_is_decoded_or_buffered() {
    // Telephone events negotiated: no in-band detection.
    let mut h = Harness::new(pcmu());
    let mut peer = Peer::new(0xabc);
    h.play(
        prompt_of(&sine(8_000, 50, rising), 8_000, CodecKind::Pcmu),
        false,
    );
    h.feed(A, peer.silence(20), ms(20));
    assert_eq!(h.stream.stats().frames_decoded, 0);
    assert!(h.captured.is_empty());

    h.stream.start_capture(h.now);
    h.feed(A, peer.silence(10), ms(20));
    let decoded = h.stream.stats().frames_decoded;
    assert!(decoded >= 18, "{decoded}");
    assert_eq!(h.captured(Received).len(), 10);
    assert_eq!(h.captured(Sent).len(), 10);

    // Stopped: no more work, nothing more captured.
    h.stream.stop_capture(h.now);
    let captured = h.captured.len();
    h.feed(A, peer.silence(10), ms(20));
    assert_eq!(h.stream.stats().frames_decoded, decoded);
    assert_eq!(h.captured.len(), captured);

    // In-band detection decodes for itself, and captures nothing.
    let mut cfg = pcmu();
    cfg.telephone_event = None;
    let mut h = Harness::new(cfg);
    h.feed(A, Peer::new(0xabc).silence(10), ms(20));
    assert!(h.stream.stats().frames_decoded > 0);
    assert!(h.captured.is_empty());
}

#[test]
fn a_restart_continues_the_timeline() {
    let mut h = Harness::new(pcmu());
    h.run_for(ms(5));
    h.stream.start_capture(h.now);
    h.play(
        prompt_of(&sine(8_000, 50, rising), 8_000, CodecKind::Pcmu),
        false,
    );
    h.run_for(ms(100));
    h.stream.stop_capture(h.now);
    h.run_for(ms(200));
    h.stream.start_capture(h.now);
    h.run_for(ms(100));
    // Slots 1-5, then 16-20: positions from the first start, 5 ms after slot 0.
    let positions: Vec<u64> = h.captured(Sent).iter().map(|c| c.position).collect();
    let expected: Vec<u64> = (1..=5).chain(16..=20).map(|n| (20 * n - 5) * 8).collect();
    assert_eq!(positions, expected);
}

#[test]
fn an_undrained_capture_keeps_the_newest_and_counts_what_it_dropped() {
    let run = |drain: bool| {
        let mut h = Harness::new(pcmu());
        h.drain_capture = drain;
        h.stream.start_capture(h.now);
        h.play(
            prompt_of(&sine(8_000, 150, rising), 8_000, CodecKind::Pcmu),
            false,
        );
        h.feed(A, Peer::new(0xabc).silence(150), ms(20));
        h.drain_captured();
        h
    };
    let drained = run(true);
    let undrained = run(false);
    let samples = |h: &Harness| h.captured.iter().map(|c| c.pcm.len() as u64).sum::<u64>();
    let (all, kept) = (samples(&drained), samples(&undrained));
    let dropped = undrained.stream.stats().capture_dropped;
    assert_eq!(drained.stream.stats().capture_dropped, 0);
    assert!(kept <= CAPTURE_BUFFER_SAMPLES as u64);
    assert!(kept + 160 > CAPTURE_BUFFER_SAMPLES as u64, "{kept}");
    assert!(dropped > 0);
    assert_eq!(kept + dropped, all);
    // What was kept is the end of what a worker that drains got.
    let tail = drained.captured.len() - undrained.captured.len();
    assert_eq!(undrained.captured[..], drained.captured[tail..]);
}
