//! Bridging robustness: any sequence of packets, time, stalls, bridging, unbridging, holds,
//! prompts, captures and closes on two legs of any formats never panics, never makes the run
//! loop spin, and never sends anything but the leg's own codec.

use std::time::Duration;

use proptest::prelude::*;

use super::bridge::{Call, next_packet};
use super::harness::*;
use crate::codec::{CodecKind, Encoder};
use crate::jitter::JitterMode;
use crate::stream::{RelayMode, StreamConfig, decode_rate};

/// One side of the call.
#[derive(Debug, Clone, Copy)]
enum Side {
    A,
    B,
}

#[derive(Debug, Clone)]
enum Op {
    /// The side's phone sends a packet: a real frame of its codec, or arbitrary bytes; its
    /// timestamp may jump.
    Packet {
        side: Side,
        real: bool,
        bytes: Vec<u8>,
        jump: bool,
    },
    /// Serve and relay every deadline for this long.
    Advance(u64),
    /// A stalled worker: nothing is served or relayed for this long, then once.
    Stall(u64),
    Bridge,
    /// Relaying stops for a while (the bridge is kept aside, as a worker that skips it).
    Pause(u64),
    Unbridge(Side),
    Hold {
        side: Side,
        send: bool,
        receive: bool,
    },
    Play {
        side: Side,
        frames: u8,
    },
    Stop(Side),
    Capture(Side, bool),
    Close(Side),
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (side(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..400), prop::bool::weighted(0.05))
            .prop_map(|(side, real, bytes, jump)| Op::Packet { side, real, bytes, jump }),
        4 => (0u64..200).prop_map(Op::Advance),
        1 => (0u64..400).prop_map(Op::Stall),
        1 => Just(Op::Bridge),
        1 => (0u64..300).prop_map(Op::Pause),
        1 => side().prop_map(Op::Unbridge),
        1 => (side(), any::<bool>(), any::<bool>())
            .prop_map(|(side, send, receive)| Op::Hold { side, send, receive }),
        1 => (side(), 0u8..10).prop_map(|(side, frames)| Op::Play { side, frames }),
        1 => side().prop_map(Op::Stop),
        1 => (side(), any::<bool>()).prop_map(|(side, on)| Op::Capture(side, on)),
        1 => prop::bool::weighted(0.2).prop_flat_map(|close| {
            side().prop_map(move |side| if close { Op::Close(side) } else { Op::Stop(side) })
        }),
    ]
}

/// A leg: one of the codecs at a packet time it can frame, with a fixed or adaptive jitter
/// buffer.
#[derive(Debug, Clone, Copy)]
struct Leg {
    codec: CodecKind,
    ptime_ms: u64,
    fixed: bool,
}

impl Leg {
    fn config(self) -> StreamConfig {
        let mut cfg = config(self.codec, self.ptime_ms);
        if self.fixed {
            cfg.jitter.mode = JitterMode::Fixed { delay: ms(60) };
        }
        cfg
    }
}

fn leg() -> impl Strategy<Value = Leg> {
    (0usize..4, 0usize..3, any::<bool>()).prop_map(|(codec, ptime, fixed)| {
        let codec = [
            CodecKind::Pcmu,
            CodecKind::Pcma,
            CodecKind::G722,
            CodecKind::Opus,
        ][codec];
        let ptimes = match codec {
            CodecKind::Opus => [10, 20, 40],
            _ => [20, 30, 40],
        };
        Leg {
            codec,
            ptime_ms: ptimes[ptime],
            fixed,
        }
    })
}

/// One real 20 ms frame of `codec`: a 1 kHz tone.
fn real_frame(codec: CodecKind) -> Vec<u8> {
    let rate = decode_rate(codec);
    let pcm: Vec<i16> = (0..codec.samples_per_frame(rate, 20))
        .map(|n| {
            (6000.0 * (std::f64::consts::TAU * 1000.0 * n as f64 / f64::from(rate)).sin()) as i16
        })
        .collect();
    let mut out = vec![0; codec.max_payload_len(20)];
    let len = Encoder::new(codec, rate)
        .unwrap()
        .encode(&pcm, &mut out)
        .unwrap();
    out.truncate(len);
    out
}

fn harness(call: &mut Call, side: Side) -> &mut Harness {
    match side {
        Side::A => &mut call.a,
        Side::B => &mut call.b,
    }
}

fn apply(call: &mut Call, op: &Op, frames: &[Vec<u8>; 2]) {
    match op {
        Op::Packet {
            side,
            real,
            bytes,
            jump,
        } => {
            let (peer, h, from, frame) = match side {
                Side::A => (&mut call.caller, &mut call.a, A, &frames[0]),
                Side::B => (&mut call.agent, &mut call.b, D, &frames[1]),
            };
            let codec = h.stream.format().codec;
            if *jump {
                peer.ts = peer.ts.wrapping_add(123_456);
                peer.seq = peer.seq.wrapping_add(5_000);
            }
            let payload = if *real { frame } else { bytes };
            let packet = next_packet(peer, payload, codec.rtp_ticks_per_frame(20));
            h.receive(from, &packet);
        }
        Op::Advance(millis) => call.run_for(ms(*millis)),
        Op::Stall(millis) => {
            let at = call.a.now + ms(*millis);
            call.a.serve(at);
            call.b.serve(at);
            call.relay();
        }
        Op::Bridge => call.bridge(),
        Op::Pause(millis) => {
            let bridge = call.bridge.take();
            call.run_for(ms(*millis));
            call.bridge = bridge;
        }
        Op::Unbridge(side) => harness(call, *side).stream.unbridge(),
        Op::Hold {
            side,
            send,
            receive,
        } => {
            let h = harness(call, *side);
            let remote = h.stream.sender.remote();
            h.update(remote, *send, *receive);
        }
        Op::Play { side, frames } => {
            let h = harness(call, *side);
            let format = h.stream.format();
            let step = format
                .codec
                .rtp_ticks_per_frame(format.ptime.as_millis() as u32);
            let prompt = numbered_prompt(step, format.ptime, *frames);
            h.play(prompt, false);
        }
        Op::Stop(side) => {
            let h = harness(call, *side);
            h.stream.stop_playback(h.now);
            h.drain_events();
        }
        Op::Capture(side, on) => {
            let h = harness(call, *side);
            match on {
                true => h.stream.start_capture(h.now),
                false => h.stream.stop_capture(h.now),
            }
        }
        Op::Close(side) => {
            let h = harness(call, *side);
            h.stream.close(h.now);
        }
    }
}

/// What each leg sent is its own: its payload type, consecutive sequence numbers, and no
/// more relayed packets than packets.
fn legs_are_consistent(call: &Call) -> Result<(), TestCaseError> {
    for h in [&call.a, &call.b] {
        let rtp = h.rtp();
        let stats = h.stream.stats();
        let pt = payload_type(h.stream.format().codec);
        prop_assert_eq!(stats.packets_sent, rtp.len() as u64);
        prop_assert!(stats.relayed <= stats.packets_sent);
        prop_assert!(rtp.iter().all(|p| p.header.payload_type == pt));
        let consecutive = rtp
            .windows(2)
            .all(|w| w[1].header.sequence == w[0].header.sequence.wrapping_add(1));
        prop_assert!(consecutive, "sequence numbers with a hole");
        prop_assert!(
            rtp.windows(2)
                .all(|w| w[1].at > w[0].at || w[1].header.timestamp != w[0].header.timestamp),
            "two packets of one slot"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_sequence_of_bridging_operations_never_panics_or_spins(
        a in leg(),
        b in leg(),
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let frames = [real_frame(a.codec), real_frame(b.codec)];
        let mut call = Call::new(a.config(), b.config());
        let modes = call.bridge.as_ref().map(|bridge| bridge.modes()).unwrap();
        let same = call.a.stream.format() == call.b.stream.format();
        prop_assert_eq!(modes[0] == RelayMode::PassThrough, same);
        for op in &ops {
            apply(&mut call, op, &frames);
            call.run_for(Duration::ZERO);
            legs_are_consistent(&call)?;
        }
        call.run_for(ms(3000));
        legs_are_consistent(&call)?;
    }
}
