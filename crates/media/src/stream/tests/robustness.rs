//! Robustness: arbitrary datagrams from arbitrary addresses, interleaved with timeouts,
//! stalls and the application's commands, never panic and never make the run loop spin; what
//! is captured stays in order.

use std::net::SocketAddr;

use herald_sdp::PayloadType;
use proptest::prelude::*;

use super::harness::*;
use crate::codec::CodecKind;
use crate::dtmf::{Digit, TelephoneEvent};
use crate::rtp::{RtpHeader, Ssrc};
use crate::stream::{CaptureChannel, InbandMode, StreamConfig};

/// What a property test does to a stream.
#[derive(Debug, Clone)]
enum Op {
    Datagram {
        from: usize,
        bytes: Vec<u8>,
    },
    /// Serve every deadline for this long.
    Advance(u64),
    /// A stalled worker: nothing is served for this long, then once.
    Stall(u64),
    Play {
        frames: u8,
        barge_in: bool,
    },
    Stop,
    Signalled(u8),
    Update {
        remote: usize,
        send: bool,
        receive: bool,
    },
    Close,
    /// Start (true) or stop capture.
    Capture(bool),
}

const FROM: [SocketAddr; 4] = [A, B, C, D];

fn rtp_datagram() -> impl Strategy<Value = Vec<u8>> {
    let pt = prop_oneof![Just(0u8), Just(EVENT_PT), Just(13), Just(9), 0u8..128];
    (
        pt,
        any::<bool>(),
        any::<u16>(),
        any::<u32>(),
        0u32..3,
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(pt, marker, sequence, timestamp, ssrc, payload)| {
            let header = RtpHeader {
                marker,
                payload_type: PayloadType::new(pt).unwrap(),
                sequence,
                timestamp,
                ssrc: Ssrc::new(ssrc),
            };
            let mut out = vec![0; 12 + payload.len()];
            match header.write(&payload, &mut out) {
                Ok(_) => out,
                Err(_) => payload,
            }
        })
}

fn event_datagram() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..20,
        any::<bool>(),
        any::<u16>(),
        any::<bool>(),
        0u16..16,
        0u32..8,
        0u32..2,
    )
        .prop_map(|(event, end, duration, marker, seq, ts, ssrc)| {
            let mut peer = Peer::new(ssrc);
            peer.seq = seq;
            let block = TelephoneEvent {
                event,
                end,
                volume: 10,
                duration,
            };
            peer.event(marker, ts * 800, block)
        })
}

fn rtcp_datagram() -> impl Strategy<Value = Vec<u8>> {
    (0u32..3, any::<bool>(), any::<usize>(), any::<u8>()).prop_map(|(ssrc, bye, cut, flip)| {
        let mut bytes = Peer::new(ssrc).rtcp(bye);
        if flip % 4 == 0 {
            let at = cut % bytes.len();
            bytes[at] ^= flip;
        } else if flip % 4 == 1 {
            bytes.truncate(cut % bytes.len());
        }
        bytes
    })
}

fn op() -> impl Strategy<Value = Op> {
    let datagram = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        rtp_datagram(),
        event_datagram(),
        rtcp_datagram(),
    ];
    prop_oneof![
        8 => (0usize..4, datagram).prop_map(|(from, bytes)| Op::Datagram { from, bytes }),
        3 => (0u64..400).prop_map(Op::Advance),
        1 => (0u64..120_000).prop_map(Op::Stall),
        1 => (0u8..30, any::<bool>()).prop_map(|(frames, barge_in)| Op::Play { frames, barge_in }),
        1 => Just(Op::Stop),
        1 => (0u8..16).prop_map(Op::Signalled),
        1 => (0usize..4, any::<bool>(), any::<bool>())
            .prop_map(|(remote, send, receive)| Op::Update { remote, send, receive }),
        1 => prop::bool::weighted(0.1).prop_map(|close| if close { Op::Close } else { Op::Stop }),
        1 => any::<bool>().prop_map(Op::Capture),
    ]
}

fn robustness_config(codec: u8, mux: bool, inband: bool, timeout: bool) -> StreamConfig {
    let codec = [
        CodecKind::Pcmu,
        CodecKind::Pcma,
        CodecKind::G722,
        CodecKind::Opus,
    ][usize::from(codec % 4)];
    let mut cfg = config(codec, 20);
    cfg.rtcp_mux = mux;
    cfg.inband = if inband {
        InbandMode::On
    } else {
        InbandMode::Auto
    };
    cfg.media_timeout = timeout.then_some(ms(1000));
    cfg
}

fn apply(h: &mut Harness, op: &Op) {
    match op {
        Op::Datagram { from, bytes } => h.receive(FROM[*from], bytes),
        Op::Advance(millis) => h.run_for(ms(*millis)),
        Op::Stall(millis) => {
            let at = h.now + ms(*millis);
            h.serve(at);
        }
        Op::Play { frames, barge_in } => h.play(numbered_prompt(160, ms(20), *frames), *barge_in),
        Op::Stop => {
            h.stream.stop_playback(h.now);
            h.drain_events();
        }
        Op::Signalled(code) => {
            h.stream
                .handle_signalled_digit(h.now, Digit::from_event_code(*code).unwrap());
            h.drain_events();
        }
        Op::Update {
            remote,
            send,
            receive,
        } => h.update(FROM[*remote], *send, *receive),
        Op::Close => h.stream.close(h.now),
        Op::Capture(true) => h.stream.start_capture(h.now),
        Op::Capture(false) => h.stream.stop_capture(h.now),
    }
}

/// Per channel, captured chunks never overlap and their positions only grow.
fn captured_in_order(h: &Harness) -> bool {
    [CaptureChannel::Received, CaptureChannel::Sent]
        .into_iter()
        .all(|channel| {
            h.captured(channel).windows(2).all(|pair| {
                !pair[0].pcm.is_empty()
                    && pair[0].position + pair[0].pcm.len() as u64 <= pair[1].position
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_datagrams_and_commands_never_panic_or_spin(
        (codec, mux, inband, timeout) in (any::<u8>(), any::<bool>(), any::<bool>(), any::<bool>()),
        ops in prop::collection::vec(op(), 0..80),
    ) {
        let mut h = Harness::new(robustness_config(codec, mux, inband, timeout));
        for op in &ops {
            apply(&mut h, op);
            let next = h.stream.poll_timeout();
            prop_assert!(
                h.stream.is_closed() == next.is_none(),
                "closed {} but next deadline {:?}", h.stream.is_closed(), next
            );
            prop_assert!(next.is_none_or(|next| next >= h.now), "a deadline in the past after {op:?}");
            h.run_for(ms(0));
            let stats = h.stream.stats();
            prop_assert_eq!(stats.packets_sent, h.rtp().len() as u64);
            prop_assert!(captured_in_order(&h));
        }
        h.run_for(ms(10_000));
        if h.stream.is_closed() {
            prop_assert!(h.stream.poll_transmit(h.now, &mut h.buf).is_none());
        }
    }
}
