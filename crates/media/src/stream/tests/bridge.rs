//! Bridging: a caller's stream A and an agent's stream B relayed to each other, served and
//! relayed the way a media worker does it, in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use herald_sdp::PayloadType;

use super::harness::*;
use crate::codec::g711::ulaw_to_linear;
use crate::codec::{CodecKind, Decoder, Encoder};
use crate::dtmf::DtmfSource;
use crate::jitter::JitterMode;
use crate::rtp::Ssrc;
use crate::stream::{
    Bridge, CaptureChannel, RELAY_QUEUE, RelayMode, StreamConfig, StreamEvent, decode_rate,
};

/// The agent's phone: where B sends.
const AGENT: SocketAddr = D;

/// A leg of `codec` and `ptime_ms` whose jitter buffer keeps a fixed 80 ms, so that what is
/// played out (and relayed) follows from the arrivals without adaptation.
fn leg(codec: CodecKind, ptime_ms: u64) -> StreamConfig {
    let mut cfg = config(codec, ptime_ms);
    cfg.jitter.mode = JitterMode::Fixed { delay: ms(80) };
    cfg
}

/// Two legs served at every deadline either has, relayed after each round, as a worker does.
pub(super) struct Call {
    pub(super) a: Harness,
    pub(super) b: Harness,
    pub(super) bridge: Option<Bridge>,
    /// The caller's phone (sends to A) and the agent's (sends to B).
    pub(super) caller: Peer,
    pub(super) agent: Peer,
}

impl Call {
    pub(super) fn new(a: StreamConfig, mut b: StreamConfig) -> Self {
        b.remote = AGENT;
        b.ssrc = Ssrc::new(SSRC + 1);
        let (codec_a, codec_b) = (a.codec, b.codec);
        let t0 = epoch();
        let mut call = Self {
            a: Harness::starting_at(a, t0),
            b: Harness::starting_at(b, t0),
            bridge: None,
            caller: Peer::new(0xca11),
            agent: Peer::new(0xa6e7),
        };
        call.caller.payload_type = payload_type(codec_a);
        call.agent.payload_type = payload_type(codec_b);
        call.bridge();
        call
    }

    pub(super) fn bridge(&mut self) {
        let bridge = Bridge::new(&mut self.a.stream, &mut self.b.stream);
        self.bridge = Some(bridge.expect("every codec pair relays"));
    }

    pub(super) fn run_until(&mut self, until: Instant) {
        loop {
            let deadlines = [&self.a, &self.b].map(|h| h.stream.poll_timeout());
            let Some(next) = deadlines
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= until)
            else {
                break;
            };
            let now = next.max(self.a.now).max(self.b.now);
            for (h, due) in [&mut self.a, &mut self.b].into_iter().zip(deadlines) {
                match due {
                    Some(due) if due <= now => h.serve(now),
                    _ => h.now = now,
                }
            }
            self.relay();
        }
        self.a.now = self.a.now.max(until);
        self.b.now = self.b.now.max(until);
    }

    pub(super) fn relay(&mut self) {
        if let Some(bridge) = self.bridge.as_mut() {
            bridge.relay(&mut self.a.stream, &mut self.b.stream);
        }
    }

    pub(super) fn run_for(&mut self, duration: Duration) {
        self.run_until(self.a.now + duration);
    }

    /// The caller sends `payloads` to A, one per `ptime`, starting now; returns when each
    /// arrived.
    fn caller_sends(&mut self, payloads: &[Vec<u8>], ptime: Duration) -> Vec<Instant> {
        let step = rtp_step(self.a.stream.format().codec, ptime);
        let mut arrivals = Vec::new();
        for payload in payloads {
            let packet = next_packet(&mut self.caller, payload, step);
            arrivals.push(self.a.now);
            self.a.receive(A, &packet);
            self.run_for(ptime);
        }
        arrivals
    }
}

fn rtp_step(codec: CodecKind, ptime: Duration) -> u32 {
    codec.rtp_ticks_per_frame(ptime.as_millis() as u32)
}

/// The peer's next audio packet, its timestamp `step` after the one before.
pub(super) fn next_packet(peer: &mut Peer, payload: &[u8], step: u32) -> Vec<u8> {
    let ts = peer.ts;
    peer.ts = peer.ts.wrapping_add(step);
    peer.packet(false, peer.payload_type, ts, payload)
}

/// A 160-byte payload that tells its index apart (and from silence and prompt frames).
fn numbered(i: usize) -> Vec<u8> {
    let mut payload = vec![0xa5, (i >> 8) as u8, i as u8];
    payload.extend((0..157).map(|j| (i as u8).wrapping_mul(31).wrapping_add(j as u8)));
    payload
}

/// The index of a payload made by [`numbered`].
fn index_of(payload: &[u8]) -> Option<usize> {
    (payload.len() == 160 && payload[0] == 0xa5)
        .then(|| usize::from(payload[1]) << 8 | usize::from(payload[2]))
}

/// `frames` payloads of `codec` at `ptime_ms` carrying a 1 kHz sine of peak `amplitude`.
fn tone(codec: CodecKind, ptime_ms: u32, frames: usize, amplitude: f64) -> Vec<Vec<u8>> {
    let rate = decode_rate(codec);
    let mut encoder = Encoder::new(codec, rate).unwrap();
    let len = codec.samples_per_frame(rate, ptime_ms);
    let mut n = 0usize;
    (0..frames)
        .map(|_| {
            let pcm: Vec<i16> = (0..len)
                .map(|_| {
                    n += 1;
                    let phase = std::f64::consts::TAU * 1000.0 * n as f64 / f64::from(rate);
                    (amplitude * phase.sin()).round() as i16
                })
                .collect();
            let mut out = vec![0u8; codec.max_payload_len(ptime_ms)];
            let len = encoder.encode(&pcm, &mut out).unwrap();
            out.truncate(len);
            out
        })
        .collect()
}

/// The payloads of `h`'s RTP packets that are not its silence packet.
fn relayed(h: &Harness) -> Vec<SentRtp> {
    let silence = h.stream.silence_frame().to_vec();
    h.rtp()
        .into_iter()
        .filter(|p| p.payload != silence)
        .collect()
}

/// Everything `h` sent, decoded in order by a decoder of its codec; the samples of the
/// packets that were not silence.
fn decoded_relayed(h: &Harness) -> Vec<i16> {
    let codec = h.stream.format().codec;
    let silence = h.stream.silence_frame().to_vec();
    let mut decoder = Decoder::new(codec, decode_rate(codec)).unwrap();
    let mut pcm = vec![0i16; 5760];
    let mut out = Vec::new();
    for packet in h.rtp() {
        let n = decoder.decode(&packet.payload, &mut pcm).unwrap();
        if packet.payload != silence {
            out.extend_from_slice(&pcm[..n]);
        }
    }
    out
}

fn rms(pcm: &[i16]) -> f64 {
    let energy: f64 = pcm.iter().map(|&x| f64::from(x).powi(2)).sum();
    (energy / pcm.len().max(1) as f64).sqrt()
}

/// Frequency from rising zero crossings, in Hz.
fn zero_crossing_frequency(pcm: &[i16], rate: u32) -> f64 {
    let crossings: Vec<usize> = (1..pcm.len())
        .filter(|&i| pcm[i - 1] < 0 && pcm[i] >= 0)
        .collect();
    match (crossings.first(), crossings.last()) {
        (Some(&first), Some(&last)) if last > first => {
            (crossings.len() - 1) as f64 * f64::from(rate) / (last - first) as f64
        }
        _ => 0.0,
    }
}

/// `h` sent one packet per ptime, on its slots from the start, with consecutive sequence
/// numbers and timestamps: no burst, no hole.
fn assert_paced(h: &Harness) {
    let format = h.stream.format();
    let step = rtp_step(format.codec, format.ptime);
    let rtp = h.rtp();
    assert!(rtp.len() > 10);
    for (n, packet) in (0u32..).zip(&rtp) {
        assert_eq!(packet.at, h.t0 + format.ptime * n, "packet {n} on its slot");
        let header = packet.header;
        assert_eq!(
            header.sequence,
            FIRST_SEQ.wrapping_add(n as u16),
            "packet {n}"
        );
        assert_eq!(
            header.timestamp,
            FIRST_TS.wrapping_add(step * n),
            "packet {n}"
        );
        assert_eq!(header.payload_type, payload_type(format.codec));
    }
    assert_eq!(h.stream.stats().packets_late, 0);
}

#[test]
fn same_codec_and_ptime_pass_payloads_through_byte_identical_and_paced() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    assert_eq!(
        call.bridge.as_ref().unwrap().modes(),
        [RelayMode::PassThrough; 2]
    );
    call.run_for(ms(7));
    // The caller's packets come in bursts of three every 60 ms: A's jitter buffer smooths
    // them, B sends one per 20 ms.
    let sent: Vec<Vec<u8>> = (0..120).map(numbered).collect();
    for burst in sent.chunks(3) {
        for payload in burst {
            let packet = call.caller.audio(payload);
            call.a.receive(A, &packet);
        }
        call.run_for(ms(60));
    }
    call.run_for(ms(300));

    let b = &call.b;
    assert_paced(b);
    let relayed = relayed(b);
    // Packet 0 only proves the caller's source (RFC 3550 probation); every other one crosses,
    // in order, byte for byte, back to back.
    let payloads: Vec<Vec<u8>> = relayed.iter().map(|p| p.payload.clone()).collect();
    assert_eq!(payloads, sent[1..]);
    let slots: Vec<Instant> = relayed.iter().map(|p| p.at).collect();
    assert!(slots.windows(2).all(|w| w[1] - w[0] == ms(20)), "no hole");
    let markers: Vec<usize> = b
        .rtp()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.header.marker)
        .map(|(n, _)| n)
        .collect();
    let first_relayed = b.rtp().iter().position(|p| p.payload == sent[1]).unwrap();
    assert_eq!(
        markers,
        [0, first_relayed],
        "a marker starts the relayed talkspurt"
    );
    assert!(b.rtp().iter().all(|p| p.to == AGENT));
    // Nothing was decoded or encoded, nothing dropped.
    assert_eq!(call.a.stream.stats().frames_decoded, 0);
    assert_eq!(call.bridge.as_ref().unwrap().frames_encoded(), 0);
    let stats = b.stream.stats();
    assert_eq!((stats.relayed, stats.relay_dropped), (119, 0));
    assert_eq!(call.a.stream.stats().relay_dropped, 0);
}

#[test]
fn the_agent_is_heard_on_the_callers_leg_too() {
    // Both ways at once: what the agent's phone sends to B goes out on A.
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(3));
    for i in 0..50 {
        let to_a = call.caller.audio(&numbered(i));
        let to_b = call.agent.audio(&numbered(1000 + i));
        call.a.receive(A, &to_a);
        call.b.receive(AGENT, &to_b);
        call.run_for(ms(20));
    }
    call.run_for(ms(200));
    let indices = |h: &Harness| -> Vec<usize> {
        relayed(h)
            .iter()
            .filter_map(|p| index_of(&p.payload))
            .collect()
    };
    assert_eq!(indices(&call.b), (1..50).collect::<Vec<_>>());
    assert_eq!(indices(&call.a), (1001..1050).collect::<Vec<_>>());
    assert!(call.a.rtp().iter().all(|p| p.to == A));
}

/// The caller's 1 kHz tone in `from` at `from_ptime`, out of B in `to` at `to_ptime`: same
/// frequency and level, one packet per ptime; returns the bridge's modes.
fn relays_a_tone(
    (from, from_ptime): (CodecKind, u64),
    (to, to_ptime): (CodecKind, u64),
    level_db: f64,
) -> RelayMode {
    let mut call = Call::new(leg(from, from_ptime), leg(to, to_ptime));
    call.run_for(ms(11));
    let frames = (1500 / from_ptime) as usize;
    let payloads = tone(from, from_ptime as u32, frames, 8000.0);
    call.caller_sends(&payloads, ms(from_ptime));
    call.run_for(ms(300));

    let b = &call.b;
    assert_paced(b);
    let pcm = decoded_relayed(b);
    let rate = decode_rate(to);
    let settled = &pcm[rate as usize / 10..pcm.len() - rate as usize / 10];
    assert!(
        settled.len() > rate as usize,
        "{from}->{to}: {} samples",
        pcm.len()
    );
    let frequency = zero_crossing_frequency(settled, rate);
    assert!(
        (frequency - 1000.0).abs() < 3.0,
        "{from}->{to}: {frequency:.1} Hz"
    );
    let level = 20.0 * (rms(settled) / (8000.0 / std::f64::consts::SQRT_2)).log10();
    assert!(level.abs() < level_db, "{from}->{to}: {level:.2} dB");
    // About 1.5 s of audio crossed, in B's frames.
    let expected = 1500 / to_ptime as usize;
    let got = relayed(b).len();
    assert!(
        (expected - 2..=expected + 2).contains(&got),
        "{from}->{to}: {got} frames"
    );
    assert_eq!(b.stream.stats().relay_dropped, 0);
    call.bridge.as_ref().unwrap().modes()[0]
}

#[test]
fn pcmu_to_pcma_is_transcoded_with_the_tone_intact() {
    let mode = relays_a_tone((CodecKind::Pcmu, 20), (CodecKind::Pcma, 20), 0.5);
    assert_eq!(mode, RelayMode::Transcode);
}

#[test]
fn pcmu_and_g722_are_transcoded_both_ways_through_the_resamplers() {
    let up = relays_a_tone((CodecKind::Pcmu, 20), (CodecKind::G722, 20), 1.0);
    let down = relays_a_tone((CodecKind::G722, 20), (CodecKind::Pcmu, 20), 1.0);
    assert_eq!([up, down], [RelayMode::Transcode; 2]);
}

#[test]
fn opus_and_pcmu_are_transcoded_both_ways() {
    relays_a_tone((CodecKind::Opus, 20), (CodecKind::Pcmu, 20), 2.0);
    relays_a_tone((CodecKind::Pcmu, 20), (CodecKind::Opus, 20), 2.0);
}

#[test]
fn twenty_and_thirty_ms_legs_are_reframed() {
    // Another codec and another ptime: decoded, resampled, cut into 30 ms, encoded.
    relays_a_tone((CodecKind::G722, 20), (CodecKind::Pcmu, 30), 1.0);
    relays_a_tone((CodecKind::Pcma, 30), (CodecKind::Pcmu, 20), 0.5);
    // The same codec: its bytes are cut again, nothing decoded.
    let mode = relays_a_tone((CodecKind::G722, 30), (CodecKind::G722, 20), 1.0);
    assert_eq!(mode, RelayMode::Repacketize);
}

#[test]
fn repacketized_pcmu_carries_every_byte_and_pads_the_last_frame_with_silence() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 30));
    assert_eq!(
        call.bridge.as_ref().unwrap().modes(),
        [RelayMode::Repacketize; 2]
    );
    call.run_for(ms(5));
    let sent: Vec<Vec<u8>> = (0..61).map(numbered).collect();
    call.caller_sends(&sent, ms(20));
    call.run_for(ms(300));

    assert_paced(&call.b);
    let relayed = relayed(&call.b);
    assert!(relayed.iter().all(|p| p.payload.len() == 240));
    let bytes: Vec<u8> = relayed.iter().flat_map(|p| p.payload.clone()).collect();
    // 60 packets after the probation one: 9,600 bytes, 40 frames of 30 ms.
    let expected: Vec<u8> = sent[1..].concat();
    assert_eq!(bytes, expected);
    assert_eq!(call.a.stream.stats().frames_decoded, 0);

    // One more packet, then the caller pauses: its 20 ms go out in a 30 ms frame padded
    // with µ-law silence when the pause shows.
    call.caller_sends(&[numbered(61)], ms(20));
    call.run_for(ms(300));
    let last = relayed_after(&call.b, relayed.len());
    assert_eq!(last.len(), 1);
    assert_eq!(last[0][..160], numbered(61)[..]);
    assert_eq!(last[0][160..], [0xff; 80]);
}

fn relayed_after(h: &Harness, skip: usize) -> Vec<Vec<u8>> {
    relayed(h)
        .into_iter()
        .skip(skip)
        .map(|p| p.payload)
        .collect()
}

#[test]
fn a_full_queue_drops_the_oldest_frames_and_counts_them() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    assert_eq!(RELAY_QUEUE, ms(60));
    for i in 0..10 {
        call.b.stream.push_relayed(&numbered(i));
    }
    call.run_for(ms(200));
    let payloads: Vec<Vec<u8>> = relayed(&call.b).into_iter().map(|p| p.payload).collect();
    assert_eq!(payloads, [numbered(7), numbered(8), numbered(9)]);
    assert_eq!(call.b.stream.stats().relay_dropped, 7);
}

#[test]
fn after_a_stalled_relay_the_queue_settles_back_to_its_least_latency() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(5));
    let mut arrivals = call.caller_sends(&(0..20).map(numbered).collect::<Vec<_>>(), ms(20));
    // The relay stops for 200 ms (a stalled worker) while both streams go on.
    let bridge = call.bridge.take();
    arrivals.extend(call.caller_sends(&(20..30).map(numbered).collect::<Vec<_>>(), ms(20)));
    call.bridge = bridge;
    arrivals.extend(call.caller_sends(&(30..120).map(numbered).collect::<Vec<_>>(), ms(20)));
    call.run_for(ms(200));

    let sent: Vec<(usize, Instant)> = relayed(&call.b)
        .iter()
        .filter_map(|p| Some((index_of(&p.payload)?, p.at)))
        .collect();
    let latency = |(i, at): (usize, Instant)| at - arrivals[i];
    let steady = latency(sent[10]);
    let resumed = sent.iter().position(|(i, _)| *i >= 20).unwrap();
    // What waited during the stall went out first, late by at most the queue...
    let right_after = latency(sent[resumed]);
    assert!(right_after > steady, "{right_after:?} vs {steady:?}");
    assert!(
        right_after <= steady + RELAY_QUEUE,
        "{right_after:?} vs {steady:?}"
    );
    // ... and the queue settled back within a second: the latency is what it was.
    let last = *sent.last().unwrap();
    assert_eq!(last.0, 119);
    assert_eq!(latency(last), steady);
    // Every frame that did not cross was counted as dropped, on one side or the other.
    let missing = (119 - sent[0].0 + 1) - sent.len();
    let dropped = call.a.stream.stats().relay_dropped + call.b.stream.stats().relay_dropped;
    assert!(missing >= 7, "{missing}");
    assert_eq!(dropped as usize, missing);
}

#[test]
fn a_prompt_on_the_bridged_leg_wins_and_relaying_resumes_fresh_after_it() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(9));
    call.caller_sends(&(0..40).map(numbered).collect::<Vec<_>>(), ms(20));
    call.b.play(numbered_prompt(160, ms(20), 5), false);
    call.caller_sends(&(40..80).map(numbered).collect::<Vec<_>>(), ms(20));
    call.run_for(ms(200));

    let rtp = call.b.rtp();
    let first_prompt = rtp.iter().position(|p| p.payload == frame(0)).unwrap();
    let prompt: Vec<Vec<u8>> = rtp[first_prompt..first_prompt + 5]
        .iter()
        .map(|p| p.payload.clone())
        .collect();
    assert_eq!(prompt, (0..5).map(frame).collect::<Vec<_>>());
    assert!(rtp[first_prompt].header.marker);
    // Right after the prompt, relayed audio again, fresh (what the caller said during the
    // prompt is not queued behind it), starting a talkspurt.
    let before = index_of(&rtp[first_prompt - 1].payload).unwrap();
    let after = &rtp[first_prompt + 5];
    let resumed = index_of(&after.payload).expect("relayed right after the prompt");
    assert!(after.header.marker);
    assert!(
        (before + 5..=before + 6).contains(&resumed),
        "{before} {resumed}"
    );
    assert!(
        call.b
            .events
            .iter()
            .any(|(_, e)| *e == StreamEvent::PlaybackFinished { interrupted: false })
    );
    assert_eq!(call.b.stream.stats().relay_dropped, 0);
}

#[test]
fn the_receiving_streams_sent_channel_records_the_relayed_audio() {
    // The recording tap is on the caller's stream A: the agent's audio, relayed to A, is
    // A's sent channel, decoded from the packets A sent, at their slots.
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(4));
    call.a.stream.start_capture(call.a.now);
    for i in 0..30 {
        let packet = call.agent.audio(&numbered(i));
        call.b.receive(AGENT, &packet);
        call.run_for(ms(20));
    }
    call.run_for(ms(200));

    let origin = call.a.t0 + ms(4);
    let sent = call.a.captured(CaptureChannel::Sent);
    let relayed = relayed(&call.a);
    assert_eq!(sent.len(), relayed.len());
    assert_eq!(relayed.len(), 29);
    for (chunk, packet) in sent.iter().zip(&relayed) {
        let decoded: Vec<i16> = packet.payload.iter().map(|&b| ulaw_to_linear(b)).collect();
        assert_eq!(chunk.pcm, decoded);
        let position = (packet.at - origin).as_nanos() as u64 * 8_000 / 1_000_000_000;
        assert_eq!(chunk.position, position);
    }
}

/// When B sent each numbered frame, by index.
fn sent_at(h: &Harness) -> Vec<(usize, Instant)> {
    relayed(h)
        .iter()
        .filter_map(|p| Some((index_of(&p.payload)?, p.at)))
        .collect()
}

#[test]
fn hold_drops_relayed_frames_and_a_silent_peer_relays_nothing() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(6));
    let mut arrivals = call.caller_sends(&(0..20).map(numbered).collect::<Vec<_>>(), ms(20));
    // The agent's phone puts us on hold: B sends nothing, and keeps nothing for later.
    call.b.update(AGENT, false, true);
    let held = call.b.rtp().len();
    arrivals.extend(call.caller_sends(&(20..40).map(numbered).collect::<Vec<_>>(), ms(20)));
    assert_eq!(call.b.rtp().len(), held);
    call.b.update(AGENT, true, true);
    arrivals.extend(call.caller_sends(&(40..60).map(numbered).collect::<Vec<_>>(), ms(20)));
    // Off hold, what the caller says now crosses as fast as before the hold: nothing from
    // the hold waited in the queue.
    let sent = sent_at(&call.b);
    let latency = |(i, at): (usize, Instant)| at - arrivals[i];
    let resumed = sent
        .iter()
        .position(|(_, at)| *at > call.b.rtp()[held].at - ms(1));
    let resumed = sent[resumed.unwrap()];
    assert!(resumed.0 > 30, "{resumed:?}");
    assert_eq!(latency(resumed), latency(sent[5]));
    assert_eq!(call.b.stream.stats().relay_dropped, 0);

    // The caller stops sending: once the jitter buffer has played out, B goes back to
    // silence, nothing is concealed or relayed.
    call.run_for(ms(200));
    let relayed_so_far = relayed(&call.b).len();
    assert_eq!(sent_at(&call.b).last().map(|(i, _)| *i), Some(59));
    call.run_for(ms(2000));
    assert_eq!(relayed(&call.b).len(), relayed_so_far);
    assert_paced_after(&call.b, held);
}

/// After hold, sending resumed on the slot grid with consecutive numbers.
fn assert_paced_after(h: &Harness, from: usize) {
    let rtp = h.rtp();
    for pair in rtp[from..].windows(2) {
        assert_eq!(pair[1].at - pair[0].at, ms(20));
        assert_eq!(
            pair[1].header.sequence,
            pair[0].header.sequence.wrapping_add(1)
        );
        assert_eq!(
            pair[1].header.timestamp,
            pair[0].header.timestamp.wrapping_add(160)
        );
    }
}

#[test]
fn telephone_events_are_reported_not_relayed() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(5));
    let mut packets = call.caller.silence(3);
    packets.extend(call.caller.press('7', 4));
    packets.extend(call.caller.silence(3));
    for packet in packets {
        call.a.receive(A, &packet);
        call.run_for(ms(20));
    }
    call.run_for(ms(300));
    assert_eq!(call.a.take_digits(), [('7', DtmfSource::Rfc4733)]);
    let pcmu = PayloadType::PCMU;
    assert!(call.b.rtp().iter().all(|p| p.header.payload_type == pcmu));
    assert!(call.b.take_events().is_empty());
}

#[test]
fn unbridging_goes_back_to_silence_and_a_new_bridge_relays_again() {
    let mut call = Call::new(leg(CodecKind::Pcmu, 20), leg(CodecKind::Pcmu, 20));
    call.run_for(ms(5));
    let mut arrivals = call.caller_sends(&(0..10).map(numbered).collect::<Vec<_>>(), ms(20));
    call.a.stream.unbridge();
    call.b.stream.unbridge();
    let before = sent_at(&call.b);
    arrivals.extend(call.caller_sends(&(10..30).map(numbered).collect::<Vec<_>>(), ms(20)));
    assert_eq!(sent_at(&call.b), before, "unbridged: silence");
    call.bridge();
    arrivals.extend(call.caller_sends(&(30..40).map(numbered).collect::<Vec<_>>(), ms(20)));
    call.run_for(ms(200));
    let after = &sent_at(&call.b)[before.len()..];
    let latency = |(i, at): (usize, Instant)| at - arrivals[i];
    assert_eq!(latency(after[0]), latency(before[3]), "fresh audio at once");
    assert_eq!(after.last().map(|(i, _)| *i), Some(39));
}
