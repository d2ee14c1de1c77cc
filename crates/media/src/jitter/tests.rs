//! Behaviour of the jitter buffer in virtual time: a base instant plus durations, one `get` per
//! 20 ms tick, packets put at their arrival instants (those due at a tick go in before it).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

#[allow(
    clippy::disallowed_methods,
    reason = "tests need one arbitrary base instant; virtual time is offsets from it"
)]
fn epoch() -> Instant {
    Instant::now()
}

const TICK: Duration = Duration::from_millis(20);
/// 20 ms at 8 kHz.
const TS: u64 = 160;

/// A `Playout` with the payloads copied out, to keep across ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Frame {
        seq: u64,
        ts: u64,
        duration: u32,
    },
    Continued(u64),
    Missing {
        ts: u64,
        duration: u32,
        next: Option<u64>,
    },
    Empty(EmptyReason),
}

impl Out {
    fn of(playout: Playout<'_>) -> Self {
        match playout {
            Playout::Frame(f) => {
                assert_eq!(f.payload, payload(f.seq), "payload of {}", f.seq);
                Out::Frame {
                    seq: f.seq,
                    ts: f.timestamp,
                    duration: f.duration,
                }
            }
            Playout::Continued { timestamp } => Out::Continued(timestamp),
            Playout::Missing {
                timestamp,
                duration,
                next,
            } => Out::Missing {
                ts: timestamp,
                duration,
                next: next.map(seq_of),
            },
            Playout::Empty { reason } => Out::Empty(reason),
        }
    }

    /// The timestamp this tick plays, if it plays media time.
    fn media_ts(&self) -> Option<u64> {
        match *self {
            Out::Frame { ts, .. } | Out::Continued(ts) | Out::Missing { ts, .. } => Some(ts),
            Out::Empty(_) => None,
        }
    }
}

/// Payloads carry their sequence number, so a test can tell which packet it got back.
fn payload(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn seq_of(payload: &[u8]) -> u64 {
    u64::from_be_bytes(payload.try_into().expect("8-byte test payload"))
}

fn adaptive(initial_ms: u64, min_ms: u64, max_ms: u64) -> JitterConfig {
    JitterConfig {
        mode: JitterMode::Adaptive {
            initial: Duration::from_millis(initial_ms),
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms),
        },
        ..JitterConfig::default()
    }
}

/// One packet: when it arrives (from the base instant), its sequence number and timestamp.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    at: Duration,
    seq: u64,
    ts: u64,
}

/// A packet every 20 ms, sequence `first..first + count`, timestamps 160 apart.
fn steady(count: u64) -> Vec<Arrival> {
    (0..count)
        .map(|k| Arrival {
            at: TICK * k as u32,
            seq: 1000 + k,
            ts: 50_000 + k * TS,
        })
        .collect()
}

/// Plays `arrivals` (in any order: sorted by time here) against `ticks` gets.
fn run(config: JitterConfig, arrivals: &[Arrival], ticks: u32) -> (JitterBuffer, Vec<Out>) {
    let mut jb = JitterBuffer::new(config).expect("valid config");
    let mut sorted = arrivals.to_vec();
    sorted.sort_by_key(|a| a.at);
    let t0 = epoch();
    let mut pending = sorted.into_iter().peekable();
    let mut out = Vec::new();
    for n in 0..ticks {
        let tick_at = TICK * n;
        while let Some(a) = pending.next_if(|a| a.at <= tick_at) {
            jb.put(t0 + a.at, a.seq, a.ts, &payload(a.seq));
        }
        out.push(Out::of(jb.get(t0 + tick_at)));
    }
    (jb, out)
}

fn frames(out: &[Out]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Out::Frame { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

fn count(out: &[Out], pred: impl Fn(&Out) -> bool) -> usize {
    out.iter().filter(|o| pred(o)).count()
}

/// After the first media tick, the media timestamps advance by exactly one tick each.
fn assert_gapless(out: &[Out]) {
    let ts: Vec<u64> = out.iter().filter_map(Out::media_ts).collect();
    for pair in ts.windows(2) {
        assert_eq!(pair[1], pair[0] + TS, "timeline gap in {ts:?}");
    }
}

#[test]
fn in_order_packets_play_in_order_after_the_initial_delay() {
    let (jb, out) = run(adaptive(40, 20, 200), &steady(100), 100);
    // 40 ms initial delay: two empty ticks, then every packet in order.
    assert_eq!(out[..2], [Out::Empty(EmptyReason::Prefetching); 2]);
    assert_eq!(frames(&out), (1000..1098).collect::<Vec<_>>());
    assert_gapless(&out);
    let stats = jb.stats();
    assert_eq!((stats.lost, stats.discarded, stats.empty), (0, 0, 2));
    assert_eq!(stats.played, 98);
}

#[test]
fn reordered_packets_play_in_sequence() {
    let mut arrivals = steady(60);
    // Every tenth packet arrives 10 ms after its successor.
    for k in (5..60).step_by(10) {
        arrivals[k].at = arrivals[k + 1].at + Duration::from_millis(10);
    }
    let (jb, out) = run(adaptive(40, 20, 200), &arrivals, 60);
    assert_eq!(frames(&out), (1000..1058).collect::<Vec<_>>());
    assert_gapless(&out);
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn duplicates_are_reported_and_played_once() {
    let mut jb = JitterBuffer::new(adaptive(0, 0, 200)).expect("config");
    let t0 = epoch();
    assert_eq!(jb.put(t0, 7, 700, &payload(7)), PutOutcome::Accepted);
    assert_eq!(jb.put(t0, 7, 700, &payload(7)), PutOutcome::Duplicate);
    assert_eq!(jb.len(), 1);
    assert!(matches!(jb.get(t0), Playout::Frame(Frame { seq: 7, .. })));
    // Once played, the same packet is too late rather than a duplicate.
    assert_eq!(jb.put(t0 + TICK, 7, 700, &payload(7)), PutOutcome::TooLate);
    let stats = jb.stats();
    assert_eq!((stats.duplicates, stats.late, stats.discarded), (1, 1, 2));
}

#[test]
fn a_packet_after_its_concealment_is_too_late() {
    let mut jb = JitterBuffer::new(adaptive(20, 20, 200)).expect("config");
    let t0 = epoch();
    let at = |n: u32| t0 + TICK * n;
    jb.put(at(0), 1, 160, &payload(1));
    assert_eq!(Out::of(jb.get(at(0))), Out::Empty(EmptyReason::Prefetching));
    jb.put(at(1), 3, 480, &payload(3)); // 2 is late
    assert_eq!(
        Out::of(jb.get(at(1))),
        Out::Frame {
            seq: 1,
            ts: 160,
            duration: 160
        }
    );
    assert_eq!(
        Out::of(jb.get(at(2))),
        Out::Missing {
            ts: 320,
            duration: 160,
            next: Some(3)
        }
    );
    assert_eq!(jb.put(at(2), 2, 320, &payload(2)), PutOutcome::TooLate);
    // It came a frame later than anything before: the buffer grows by a tick to keep its
    // 20 ms margin behind the latest arrival, then plays on.
    assert_eq!(Out::of(jb.get(at(3))), Out::Empty(EmptyReason::Stretch));
    assert!(matches!(
        jb.get(at(4)),
        Playout::Frame(Frame { seq: 3, .. })
    ));
}

#[test]
fn a_lost_packet_is_missing_with_the_next_payload_for_fec() {
    let arrivals: Vec<Arrival> = steady(40)
        .into_iter()
        .filter(|a| ![1010, 1020, 1021].contains(&a.seq))
        .collect();
    let (jb, out) = run(adaptive(20, 20, 200), &arrivals, 40);
    let ts = |seq: u64| 50_000 + (seq - 1000) * TS;
    let missing: Vec<&Out> = out
        .iter()
        .filter(|o| matches!(o, Out::Missing { .. }))
        .collect();
    assert_eq!(
        missing,
        [
            // One frame of margin: 1011 is here when 1010 is due.
            &Out::Missing {
                ts: ts(1010),
                duration: 160,
                next: Some(1011)
            },
            // Two in a row: nothing is here when 1020 is due, playout holds a tick; when 1022
            // arrives, 1021 is concealed with 1022's FEC while the margin is rebuilt.
            &Out::Missing {
                ts: ts(1021),
                duration: 160,
                next: Some(1022)
            },
        ]
    );
    let at_1020 = out
        .iter()
        .position(|o| *o == Out::Empty(EmptyReason::Underrun));
    assert_eq!(at_1020, Some(21));
    assert!(matches!(out[22], Out::Missing { .. }));
    assert!(matches!(out[23], Out::Frame { seq: 1022, .. }));
    let stats = jb.stats();
    assert_eq!((stats.lost, stats.lost_with_next, stats.empty), (3, 2, 2));
}

#[test]
fn a_loss_while_dry_holds_then_skips_the_gap() {
    // No margin: each packet plays on the tick it arrives, so a loss finds the buffer empty.
    let arrivals: Vec<Arrival> = steady(20).into_iter().filter(|a| a.seq != 1005).collect();
    let (jb, out) = run(adaptive(0, 0, 200), &arrivals, 20);
    assert_eq!(out[5], Out::Empty(EmptyReason::Underrun));
    assert!(matches!(out[6], Out::Frame { seq: 1006, .. }));
    // The held tick stood in for the lost frame: no growth, the rest plays on time.
    assert_eq!(frames(&out[6..]), (1006..1020).collect::<Vec<_>>());
    let stats = jb.stats();
    assert_eq!((stats.lost, stats.empty), (1, 1));
}

#[test]
fn a_delay_spike_grows_the_delay_then_it_shrinks_at_a_bounded_rate() {
    let mut arrivals = steady(400);
    // Packets 100..=104 are held 100 ms by the network and released together with 105.
    for a in &mut arrivals[100..105] {
        a.at = TICK * 105;
    }
    let config = adaptive(0, 0, 200);
    let gap = config.min_adjust_gap;
    let (jb, out) = run(config, &arrivals, 400);
    // The buffer holds while the packets are late: five underrun ticks, nothing lost.
    assert_eq!(count(&out, |o| *o == Out::Empty(EmptyReason::Underrun)), 5);
    assert_eq!(count(&out, |o| matches!(o, Out::Missing { .. })), 0);
    // Once the spike leaves the 2 s window, the five frames of excess are dropped, one at a
    // time, no closer than the adjustment gap.
    let played = frames(&out);
    let drops: Vec<usize> = played
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] != w[0] + 1)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(drops.len(), 5, "drops at {drops:?}");
    assert!(drops[0] > 100, "shrinking waited for the window: {drops:?}");
    let min_ticks = (gap.as_millis() / TICK.as_millis()) as usize;
    assert!(drops.windows(2).all(|w| w[1] - w[0] >= min_ticks));
    assert_eq!(jb.stats().shrunk, 5);
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn a_sequence_restart_flushes_and_plays_on() {
    let mut jb = JitterBuffer::new(adaptive(0, 0, 200)).expect("config");
    let t0 = epoch();
    for k in 0..10u32 {
        let seq = 5000 + u64::from(k);
        assert!(
            jb.put(t0 + TICK * k, seq, seq * TS, &payload(seq))
                .is_stored()
        );
        assert!(matches!(jb.get(t0 + TICK * k), Playout::Frame(_)));
    }
    // The sender restarts at sequence 1 and a new timestamp origin.
    let t = t0 + TICK * 10;
    assert_eq!(
        jb.put(t, 1, 77, &payload(1)),
        PutOutcome::Restarted { flushed: 0 }
    );
    assert!(matches!(
        jb.get(t),
        Playout::Frame(Frame {
            seq: 1,
            timestamp: 77,
            ..
        })
    ));
    assert!(jb.put(t + TICK, 2, 77 + TS, &payload(2)).is_stored());
    assert!(matches!(
        jb.get(t + TICK),
        Playout::Frame(Frame { seq: 2, .. })
    ));
    assert_eq!(jb.stats().restarts, 1);
    // A jump of more than 3000 ahead is a restart too.
    assert!(matches!(
        jb.put(t + TICK * 2, 9000, 5, &payload(9000)),
        PutOutcome::Restarted { .. }
    ));
}

#[test]
fn forty_ms_packets_play_as_frame_then_continued() {
    // 40 ms packets (320 units) when the tick is 20 ms.
    let arrivals: Vec<Arrival> = (0..50u64)
        .map(|k| Arrival {
            at: TICK * (2 * k as u32),
            seq: 10 + k,
            ts: 8000 + k * 2 * TS,
        })
        .collect();
    let (jb, out) = run(adaptive(40, 40, 200), &arrivals, 100);
    assert_eq!(out[..2], [Out::Empty(EmptyReason::Prefetching); 2]);
    // The second packet is here when the first plays: its duration is known from the start.
    for pair in out[2..].chunks(2).take(48) {
        assert!(
            matches!(pair[0], Out::Frame { duration: 320, .. }),
            "{pair:?}"
        );
        assert!(matches!(pair[1], Out::Continued(_)), "{pair:?}");
    }
    assert_gapless(&out);
    assert_eq!(jb.stats().lost, 0);

    // Without any margin the first packet's length is unknown when it plays: the second tick
    // is an underrun (a caller following the FIFO contract still has the packet's second half
    // to play), then the timeline continues without a gap.
    let (jb, out) = run(adaptive(0, 0, 200), &arrivals, 100);
    assert_eq!(out[1], Out::Empty(EmptyReason::Underrun), "{out:?}");
    assert!(
        matches!(
            out[2],
            Out::Frame {
                seq: 11,
                duration: 320,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(
        count(&out[2..99], |o| matches!(o, Out::Empty(_))),
        0,
        "{out:?}"
    );
    assert_gapless(&out[2..]);
    assert_eq!((jb.stats().lost, jb.stats().shrunk), (0, 0));
}

#[test]
fn a_pause_in_sending_is_silence_not_loss() {
    // 50 packets, a 1 s pause (timestamps jump by 50 frames, sequence numbers do not), 50 more.
    let mut arrivals = steady(100);
    for a in &mut arrivals[50..] {
        a.at += Duration::from_secs(1);
        a.ts += 50 * TS;
    }
    let (jb, out) = run(adaptive(20, 20, 200), &arrivals, 160);
    assert_eq!(frames(&out), (1000..1100).collect::<Vec<_>>());
    assert_eq!(jb.stats().lost, 0);
    assert_eq!(count(&out, |o| matches!(o, Out::Missing { .. })), 0);
    // The talk spurt after the pause is played with the same margin as before it.
    let resumed = out
        .iter()
        .position(|o| matches!(o, Out::Frame { seq: 1050, .. }))
        .expect("resumed");
    // The first packet after the pause arrives at tick 100 and plays a tick later, with the
    // same 20 ms margin.
    assert_eq!(resumed, 101);
}

#[test]
fn a_resumed_talk_spurt_already_buffered_waits_as_silence() {
    // A deep buffer (200 ms) and a 100 ms pause: the next spurt is here before the old one ends.
    let mut arrivals = steady(60);
    for a in &mut arrivals[30..] {
        a.at += Duration::from_millis(100);
        a.ts += 5 * TS;
    }
    let (_, out) = run(adaptive(200, 200, 400), &arrivals, 80);
    let silence = count(&out, |o| *o == Out::Empty(EmptyReason::Silence));
    assert_eq!(silence, 5, "{out:?}");
    assert_eq!(frames(&out), (1000..1060).collect::<Vec<_>>());
}

#[test]
fn fixed_mode_never_drops_or_inserts() {
    let mut arrivals = steady(300);
    for a in &mut arrivals[50..55] {
        a.at = TICK * 55;
    }
    let config = JitterConfig {
        mode: JitterMode::Fixed {
            delay: Duration::from_millis(60),
        },
        ..JitterConfig::default()
    };
    let (jb, out) = run(config, &arrivals, 300);
    let stats = jb.stats();
    assert_eq!((stats.shrunk, stats.stretched, stats.lost), (0, 0, 0));
    // Three prefetch ticks; then the 100 ms spike outlasts the 60 ms margin by two ticks. The
    // released burst brings the margin back at once (the buffer holds six frames).
    assert_eq!(stats.empty, 3 + 2, "{out:?}");
    assert_eq!(frames(&out), (1000..1295).collect::<Vec<_>>());
}

#[test]
fn a_full_buffer_drops_the_oldest() {
    let config = JitterConfig {
        capacity: 10,
        mode: JitterMode::Adaptive {
            initial: Duration::ZERO,
            min: Duration::ZERO,
            max: Duration::from_millis(100),
        },
        ..JitterConfig::default()
    };
    let mut jb = JitterBuffer::new(config).expect("config");
    let t0 = epoch();
    for seq in 0..10 {
        assert_eq!(
            jb.put(t0, seq, seq * TS, &payload(seq)),
            PutOutcome::Accepted
        );
    }
    assert_eq!(
        jb.put(t0, 12, 12 * TS, &payload(12)),
        PutOutcome::Overflow { dropped: 3 }
    );
    assert!(matches!(jb.get(t0), Playout::Frame(Frame { seq: 3, .. })));
    assert_eq!(jb.stats().overflow, 3);
}

#[test]
fn oversized_payloads_are_refused() {
    let config = JitterConfig {
        max_payload: 4,
        ..JitterConfig::default()
    };
    let mut jb = JitterBuffer::new(config).expect("config");
    assert_eq!(jb.put(epoch(), 1, 1, &[0; 5]), PutOutcome::TooLarge);
    assert!(jb.is_empty());
}

#[test]
fn slots_reuse_their_payload_buffers() {
    // No allocation per packet: every payload handed out lives in one of the preallocated slots.
    let mut jb = JitterBuffer::new(adaptive(0, 0, 200)).expect("config");
    let t0 = epoch();
    let mut addresses = std::collections::BTreeSet::new();
    for k in 0..1000u32 {
        let seq = u64::from(k);
        jb.put(t0 + TICK * k, seq, seq * TS, &payload(seq));
        if let Playout::Frame(f) = jb.get(t0 + TICK * k) {
            addresses.insert(f.payload.as_ptr() as usize);
        }
    }
    assert!(
        addresses.len() <= jb.config().capacity,
        "{}",
        addresses.len()
    );
}

#[test]
fn random_jitter_settles_with_few_underruns() {
    // Each packet delayed uniformly by 0..80 ms: after the first seconds the buffer holds
    // about the spread and stops running dry.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut arrivals = steady(3000);
    for a in &mut arrivals {
        a.at += Duration::from_millis(rng.random_range(0..80));
    }
    let (jb, out) = run(adaptive(40, 0, 300), &arrivals, 3000);
    let late_underruns = count(&out[500..], |o| {
        matches!(o, Out::Empty(_)) || matches!(o, Out::Missing { .. })
    });
    assert!(late_underruns <= 2, "{late_underruns} gaps after settling");
    let stats = jb.stats();
    assert!(stats.delay_max <= 6, "{stats:?}");
    assert!(stats.lost <= 2, "{stats:?}");
}

#[test]
fn reordering_makes_the_buffer_grow_until_late_packets_fit() {
    // Every fifth packet arrives 50 ms late, after two of its successors.
    let mut arrivals = steady(1000);
    for a in arrivals.iter_mut().skip(3).step_by(5) {
        a.at += Duration::from_millis(50);
    }
    let (jb, out) = run(adaptive(0, 0, 200), &arrivals, 1000);
    // The first late packet is lost; the buffer then grows at once (three ticks) and the
    // others fit.
    assert_eq!(jb.stats().late, 1, "{:?}", jb.stats());
    assert_eq!(jb.stats().stretched, 3, "{:?}", jb.stats());
    assert_eq!(count(&out[100..], |o| matches!(o, Out::Missing { .. })), 0);
}

/// A sender whose clock runs `ppm` parts per million fast (positive) or slow, for 10 minutes.
fn drifting(ppm: i64) -> Vec<Arrival> {
    (0..30_000u64)
        .map(|k| {
            let nominal = 20_000_000i64 * k as i64; // ns
            let at = nominal - nominal / 1_000_000 * ppm;
            Arrival {
                at: Duration::from_nanos(at as u64),
                seq: k,
                ts: k * TS,
            }
        })
        .collect()
}

#[test]
fn a_fast_sender_clock_is_absorbed_by_dropping_frames() {
    // 0.5 % fast: 150 extra frames over 10 minutes.
    let (jb, out) = run(adaptive(40, 20, 200), &drifting(5000), 30_000);
    let stats = jb.stats();
    assert!((148..=152).contains(&stats.shrunk), "{stats:?}");
    assert!(stats.delay_max <= 4, "delay stays bounded: {stats:?}");
    // (The sender's 10 minutes end 3 s before ours: stop there.)
    assert_eq!(count(&out[100..29_800], |o| matches!(o, Out::Empty(_))), 0);
}

#[test]
fn a_slow_sender_clock_is_absorbed_by_inserting_ticks() {
    // 0.5 % slow: 150 frames short over 10 minutes.
    let (jb, out) = run(adaptive(40, 20, 200), &drifting(-5000), 30_000);
    let stats = jb.stats();
    let inserted = count(&out, |o| matches!(o, Out::Empty(_)));
    assert!((148..=153).contains(&inserted), "{inserted} {stats:?}");
    assert!(stats.delay_max <= 4, "delay stays bounded: {stats:?}");
    assert_eq!((stats.lost, stats.shrunk), (0, 0));
}

#[test]
fn bad_configurations_are_rejected() {
    let bad = |f: fn(&mut JitterConfig)| {
        let mut config = JitterConfig::default();
        f(&mut config);
        JitterBuffer::new(config).expect_err("rejected")
    };
    assert_eq!(bad(|c| c.clock_rate = 0), JitterConfigError::ZeroClockRate);
    assert_eq!(
        bad(|c| c.frame_duration = Duration::from_micros(1)),
        JitterConfigError::FrameDuration
    );
    assert_eq!(bad(|c| c.capacity = 1), JitterConfigError::Capacity);
    assert_eq!(bad(|c| c.max_payload = 0), JitterConfigError::MaxPayload);
    assert_eq!(
        bad(|c| c.mode = adaptive(10, 20, 30).mode),
        JitterConfigError::DelayOrder
    );
    assert_eq!(
        bad(|c| c.mode = adaptive(0, 0, 5000).mode),
        JitterConfigError::DelayBeyondCapacity
    );
}

/// One step of a random session.
#[derive(Debug, Clone)]
enum Op {
    Put {
        after_ms: u8,
        seq_delta: i16,
        ts_delta: i32,
        len: u8,
    },
    Get,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), -120i16..120, -2000i32..4000, 0u8..40).prop_map(
            |(after_ms, seq_delta, ts_delta, len)| Op::Put {
                after_ms: after_ms % 50,
                seq_delta,
                ts_delta,
                len
            }
        ),
        Just(Op::Get),
    ]
}

proptest! {
    /// Whatever arrives, nothing panics, playout never goes back in time within a timeline,
    /// and no packet is handed out twice.
    #[test]
    fn any_arrival_pattern_keeps_playout_monotonic(ops in prop::collection::vec(op(), 1..400)) {
        let mut jb = JitterBuffer::new(JitterConfig { capacity: 16, max_payload: 32, ..JitterConfig::default() }).expect("config");
        let t0 = epoch();
        let mut now = t0;
        let (mut seq, mut ts) = (100_000u64, 1_000_000u64);
        let mut last_media: Option<u64> = None;
        let mut played = std::collections::BTreeSet::new();
        let mut restarts = 0;
        for op in ops {
            match op {
                Op::Put { after_ms, seq_delta, ts_delta, len } => {
                    now += Duration::from_millis(u64::from(after_ms) / 10);
                    seq = seq.saturating_add_signed(i64::from(seq_delta));
                    ts = ts.saturating_add_signed(i64::from(ts_delta));
                    if let PutOutcome::Restarted { .. } = jb.put(now, seq, ts, &vec![7; usize::from(len)]) {
                        restarts += 1;
                        last_media = None;
                        played.clear();
                    }
                }
                Op::Get => {
                    now += TICK;
                    let out = jb.get(now);
                    if let Playout::Frame(f) = out {
                        prop_assert!(played.insert(f.seq), "seq {} twice", f.seq);
                    }
                    let media = match out {
                        Playout::Frame(f) => Some(f.timestamp),
                        Playout::Continued { timestamp } | Playout::Missing { timestamp, .. } => Some(timestamp),
                        Playout::Empty { .. } => None,
                    };
                    if let (Some(m), Some(l)) = (media, last_media) {
                        prop_assert!(m > l, "media time went back: {l} then {m}");
                    }
                    last_media = media.or(last_media);
                }
            }
        }
        prop_assert_eq!(jb.stats().restarts, restarts);
    }
}

proptest! {
    /// Extreme or hostile values (sequence numbers and timestamps anywhere in `u64`, time going
    /// backwards, payloads too large) never panic.
    #[test]
    fn hostile_values_never_panic(
        ops in prop::collection::vec(
            (any::<bool>(), any::<u64>(), any::<u64>(), 0u64..3, any::<i8>(), 0usize..40),
            1..300,
        )
    ) {
        let config = JitterConfig { capacity: 12, max_payload: 32, ..JitterConfig::default() };
        let mut jb = JitterBuffer::new(config).expect("config");
        let t0 = epoch() + Duration::from_secs(1);
        let mut now = t0;
        for (is_get, seq, ts, near, step_ms, len) in ops {
            // Mostly values near the ends of the range, sometimes anywhere.
            let pick = |v: u64| match near {
                0 => u64::MAX - (v % 64),
                1 => v % 64,
                _ => v,
            };
            now = if step_ms < 0 {
                now.checked_sub(Duration::from_millis(step_ms.unsigned_abs().into())).unwrap_or(now)
            } else {
                now + Duration::from_millis(u64::from(step_ms.unsigned_abs()))
            };
            if is_get {
                let _ = jb.get(now);
            } else {
                let _ = jb.put(now, pick(seq), pick(ts), &vec![1; len]);
            }
            let _ = jb.stats();
        }
    }
}
