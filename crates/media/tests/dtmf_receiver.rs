//! `EventReceiver` on RFC 4733 packet sequences: redundancy, loss, reordering, timeouts, long
//! events, clock rates. Time is virtual: an arbitrary epoch plus offsets.

use std::time::{Duration, Instant};

use herald_media::dtmf::{EventReceiver, MAX_SEGMENT, ReceivedDigit, TelephoneEvent};
use proptest::prelude::*;

#[allow(
    clippy::disallowed_methods,
    reason = "tests need one arbitrary epoch; nothing reads the wall clock after it"
)]
fn epoch() -> Instant {
    Instant::now()
}

/// One packet: arrival (ms after the epoch), seq, timestamp, marker, event, end, duration.
#[derive(Debug, Clone, Copy)]
struct P {
    at_ms: u64,
    seq: u64,
    ts: u64,
    marker: bool,
    event: u8,
    end: bool,
    duration: u16,
}

fn payload(p: &P) -> [u8; 4] {
    let mut buf = [0; 4];
    let te = TelephoneEvent {
        event: p.event,
        end: p.end,
        volume: 10,
        duration: p.duration,
    };
    te.write(&mut buf).expect("4 bytes fit");
    buf
}

/// The packets a well-behaved sender sends for one key press at 20 ms intervals: marker
/// packet, updates, and three end packets, starting at `at_ms` with sequence `seq`.
fn press(at_ms: u64, seq: u64, ts: u64, event: u8, updates: u16, step: u16) -> Vec<P> {
    let mut packets = Vec::new();
    for i in 0..updates {
        let (at_ms, seq) = (at_ms + 20 * u64::from(i), seq + u64::from(i));
        let duration = step * (i + 1);
        packets.push(P {
            at_ms,
            seq,
            ts,
            marker: i == 0,
            event,
            end: false,
            duration,
        });
    }
    for i in 0..3 {
        let n = u64::from(updates) + i;
        let duration = step * updates;
        packets.push(P {
            at_ms: at_ms + 20 * n,
            seq: seq + n,
            ts,
            marker: false,
            event,
            end: true,
            duration,
        });
    }
    packets
}

/// Feeds packets in order, firing timeouts as virtual time passes; returns the digits.
fn run(rate: u32, packets: &[P]) -> Vec<ReceivedDigit> {
    run_until(rate, packets, None)
}

fn run_until(rate: u32, packets: &[P], end_ms: Option<u64>) -> Vec<ReceivedDigit> {
    let t0 = epoch();
    let mut rx = EventReceiver::new(rate);
    let mut digits = Vec::new();
    for p in packets {
        let now = t0 + Duration::from_millis(p.at_ms);
        if let Some(deadline) = rx.poll_timeout().filter(|&d| d <= now) {
            rx.handle_timeout(deadline);
        }
        rx.handle_packet(now, p.seq, p.ts, p.marker, &payload(p))
            .expect("valid payload");
        digits.extend(std::iter::from_fn(|| rx.poll_digit()));
    }
    if let Some(end) = end_ms {
        rx.handle_timeout(t0 + Duration::from_millis(end));
    }
    digits
}

fn keys(digits: &[ReceivedDigit]) -> String {
    digits.iter().map(|d| d.digit.as_char()).collect()
}

#[test]
fn one_press_with_repeated_end_packets_is_one_digit() {
    let digits = run(8000, &press(0, 100, 8000, 5, 6, 160));
    assert_eq!(keys(&digits), "5");
    assert_eq!(digits[0].start_timestamp, 8000);
    assert_eq!(digits[0].duration, Duration::from_millis(20));
}

#[test]
fn duplicated_packets_change_nothing() {
    let packets: Vec<P> = press(0, 1, 480, 11, 5, 160)
        .into_iter()
        .flat_map(|p| [p, p])
        .collect();
    assert_eq!(keys(&run(8000, &packets)), "#");
}

#[test]
fn reordered_end_and_update_packets_count_once() {
    // As in rfc2833_dtmf_detect_broken_dtmf: the first end packet overtakes the last update.
    let mut packets = press(0, 1, 1000, 1, 4, 160);
    packets.swap(3, 4);
    packets.extend(press(500, 20, 5000, 0, 4, 160));
    assert_eq!(keys(&run(8000, &packets)), "10");
}

#[test]
fn a_new_timestamp_ends_an_event_whose_end_packets_were_lost() {
    let first: Vec<P> = press(0, 1, 1000, 7, 5, 160)
        .into_iter()
        .filter(|p| !p.end)
        .collect();
    let second: Vec<P> = press(150, 6, 2200, 7, 5, 160)
        .into_iter()
        .filter(|p| !p.end)
        .collect();
    let digits = run(8000, &[first, second].concat());
    assert_eq!(keys(&digits), "77");
    assert_eq!(
        (digits[0].start_timestamp, digits[1].start_timestamp),
        (1000, 2200)
    );
}

#[test]
fn a_press_whose_first_packets_were_lost_still_counts() {
    let mut packets = press(0, 1, 1000, 3, 6, 160);
    packets.drain(..4);
    let digits = run(8000, &packets);
    assert_eq!(keys(&digits), "3");
    assert_eq!(digits[0].duration, Duration::from_millis(100));
    // Only the end packets arrived.
    let ends: Vec<P> = press(0, 1, 1000, 9, 6, 160)
        .into_iter()
        .filter(|p| p.end)
        .collect();
    assert_eq!(keys(&run(8000, &ends)), "9");
}

#[test]
fn stragglers_of_an_older_event_are_ignored() {
    let first = press(0, 1, 1000, 4, 4, 160);
    let second = press(200, 10, 3000, 6, 4, 160);
    let late = P {
        at_ms: 300,
        ..first[1]
    };
    assert_eq!(
        keys(&run(8000, &[first.clone(), second, vec![late]].concat())),
        "46"
    );
}

#[test]
fn same_timestamp_other_code_is_a_new_event_and_stragglers_stay_ignored() {
    let a = press(0, 1, 1000, 1, 3, 160);
    let b = press(100, 10, 1000, 2, 3, 160);
    let late_a = P { at_ms: 200, ..a[1] };
    assert_eq!(
        keys(&run(8000, &[a.clone(), b, vec![late_a]].concat())),
        "12"
    );
}

#[test]
fn an_event_without_end_times_out_and_its_late_packets_stay_silent() {
    let t0 = epoch();
    let mut rx = EventReceiver::new(8000);
    assert_eq!(rx.poll_timeout(), None);
    let packets: Vec<P> = press(0, 1, 1000, 8, 3, 160)
        .into_iter()
        .filter(|p| !p.end)
        .collect();
    for p in &packets {
        let now = t0 + Duration::from_millis(p.at_ms);
        rx.handle_packet(now, p.seq, p.ts, p.marker, &payload(p))
            .unwrap();
    }
    // Updates every 160 units per packet (20 ms): 3 x 20 ms is under the 200 ms floor.
    let last = t0 + Duration::from_millis(40);
    assert_eq!(rx.poll_timeout(), Some(last + Duration::from_millis(200)));
    rx.handle_timeout(last + Duration::from_millis(199));
    assert!(rx.poll_timeout().is_some());
    rx.handle_timeout(last + Duration::from_millis(200));
    assert_eq!(rx.poll_timeout(), None);
    // A late update of the timed-out event is not a new press; it revives the event.
    let late = P {
        at_ms: 900,
        seq: 4,
        duration: 640,
        ..packets[2]
    };
    let at = t0 + Duration::from_millis(900);
    rx.handle_packet(at, late.seq, late.ts, false, &payload(&late))
        .unwrap();
    assert_eq!(
        keys(&std::iter::from_fn(|| rx.poll_digit()).collect::<Vec<_>>()),
        "8"
    );
    assert_eq!(rx.poll_timeout(), Some(at + Duration::from_millis(200)));
    // After its end packet, nothing revives it.
    let end = P {
        at_ms: 920,
        seq: 5,
        end: true,
        ..late
    };
    let at = t0 + Duration::from_millis(920);
    rx.handle_packet(at, end.seq, end.ts, false, &payload(&end))
        .unwrap();
    assert_eq!(rx.poll_timeout(), None);
    let later = P {
        at_ms: 940,
        seq: 6,
        end: false,
        duration: 800,
        ..late
    };
    rx.handle_packet(at, later.seq, later.ts, false, &payload(&later))
        .unwrap();
    assert_eq!(rx.poll_timeout(), None);
    assert_eq!(rx.poll_digit(), None);
}

#[test]
fn the_timeout_follows_the_senders_update_interval() {
    let t0 = epoch();
    let mut rx = EventReceiver::new(8000);
    // Updates every 100 ms (800 units), then one lost: the interval is measured per sequence
    // number, so the loss does not stretch it.
    for (at, seq, duration) in [(0, 1, 800), (100, 2, 1600), (300, 4, 3200)] {
        let p = P {
            at_ms: at,
            seq,
            ts: 50,
            marker: seq == 1,
            event: 2,
            end: false,
            duration,
        };
        rx.handle_packet(
            t0 + Duration::from_millis(at),
            seq,
            50,
            p.marker,
            &payload(&p),
        )
        .unwrap();
    }
    assert_eq!(
        rx.poll_timeout(),
        Some(t0 + Duration::from_millis(300 + 300))
    );
}

#[test]
fn wideband_clock_events_of_33_ms_count() {
    // telephone-event/48000 next to Opus: 1600 units are 33.3 ms.
    let packets = press(0, 1, 96_000, 12, 2, 800);
    let digits = run(48_000, &packets);
    assert_eq!(keys(&digits), "A");
    assert_eq!(digits[0].duration, Duration::from_nanos(16_666_666));
    let short = press(100, 10, 96_000 + 4800, 13, 1, 1600);
    let digits = run(48_000, &[packets, short].concat());
    assert_eq!(keys(&digits), "AB");
}

#[test]
fn a_long_press_split_into_segments_is_one_digit() {
    // RFC 4733 §2.5.1.3 at 48 kHz: 65535 units are 1.37 s; a 3 s press needs three segments,
    // each with a new timestamp and no marker, the earlier ones without an end bit.
    let mut packets = Vec::new();
    let mut seq = 1;
    let mut ts = 10_000u64;
    let mut at = 0;
    for segment in 0..3 {
        let lengths: Vec<u16> = if segment < 2 {
            (1..=68).map(|i| 960 * i).collect() // up to 65280, the last whole packet
        } else {
            (1..=20).map(|i| 960 * i).collect()
        };
        for (i, &duration) in lengths.iter().enumerate() {
            let marker = segment == 0 && i == 0;
            packets.push(P {
                at_ms: at,
                seq,
                ts,
                marker,
                event: 0,
                end: false,
                duration,
            });
            (at, seq) = (at + 20, seq + 1);
        }
        if segment == 2 {
            let last = *packets.last().unwrap();
            packets.push(P {
                at_ms: at,
                seq,
                end: true,
                ..last
            });
        }
        ts += 65280;
    }
    assert_eq!(keys(&run(48_000, &packets)), "0");
    // A new press of the same key right after, with its marker, is a second digit.
    let again = press(at + 200, seq + 10, ts + 20_000, 0, 3, 960);
    assert_eq!(keys(&run(48_000, &[packets.clone(), again].concat())), "00");
    // Without the long-press rule a short event would not be continued by a new timestamp.
    let short = press(0, 1, 1000, 0, 3, 160)
        .into_iter()
        .filter(|p| !p.end)
        .collect::<Vec<_>>();
    let next = P {
        at_ms: 100,
        seq: 5,
        ts: 1480,
        marker: false,
        event: 0,
        end: false,
        duration: 160,
    };
    assert_eq!(keys(&run(8000, &[short, vec![next]].concat())), "00");
    assert_eq!(MAX_SEGMENT, 0xFFFF);
}

#[test]
fn non_dtmf_events_end_a_press_but_are_not_reported() {
    let flash = press(200, 20, 4000, 16, 3, 160);
    let packets = [
        press(0, 1, 1000, 5, 3, 160),
        flash,
        press(400, 40, 7000, 5, 3, 160),
    ]
    .concat();
    assert_eq!(keys(&run(8000, &packets)), "55");
}

#[test]
fn short_payloads_are_refused_without_effect() {
    let t0 = epoch();
    let mut rx = EventReceiver::new(8000);
    assert!(rx.handle_packet(t0, 1, 1000, true, &[5, 0, 0]).is_err());
    assert_eq!(rx.poll_digit(), None);
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn digits_wait_in_order_until_polled() {
    let t0 = epoch();
    let mut rx = EventReceiver::new(8000);
    for (i, code) in [1u8, 2, 3].into_iter().enumerate() {
        let ts = 1000 * (i as u64 + 1);
        let p = P {
            at_ms: 0,
            seq: i as u64,
            ts,
            marker: true,
            event: code,
            end: false,
            duration: 0,
        };
        rx.handle_packet(t0, p.seq, ts, true, &payload(&p)).unwrap();
    }
    assert_eq!(
        keys(&std::iter::from_fn(|| rx.poll_digit()).collect::<Vec<_>>()),
        "123"
    );
}

#[test]
fn debug_output_hides_the_digit() {
    let digits = run(8000, &press(0, 1, 1000, 7, 2, 160));
    let text = format!("{:?}", digits[0]);
    assert!(text.contains("Digit(..)"), "{text}");
    // The receiver itself, mid-event, shows no event code.
    let t0 = epoch();
    let mut rx = EventReceiver::new(8000);
    let p = P {
        at_ms: 0,
        seq: 1,
        ts: 1000,
        marker: true,
        event: 9,
        end: false,
        duration: 160,
    };
    rx.handle_packet(t0, p.seq, p.ts, p.marker, &payload(&p))
        .unwrap();
    let text = format!("{rx:?}");
    assert_eq!(
        text,
        "EventReceiver { clock_rate: 8000, state: Active, .. }"
    );
}

proptest! {
    /// Any arrival order, loss and duplication of one press's packets gives one digit, or
    /// none when every packet is lost.
    #[test]
    fn any_mangling_of_one_press_gives_at_most_one_digit(
        picks in proptest::collection::vec(0usize..9, 0..30),
    ) {
        let packets = press(0, 1, 1000, 4, 6, 160);
        let mangled: Vec<P> = picks
            .iter()
            .enumerate()
            .map(|(i, &k)| P { at_ms: 10 * i as u64, ..packets[k] })
            .collect();
        let want = if picks.is_empty() { "" } else { "4" };
        prop_assert_eq!(keys(&run(8000, &mangled)), want);
    }

    /// Arbitrary bytes and header values never panic, and never give more digits than
    /// packets.
    #[test]
    fn arbitrary_input_never_panics(
        packets in proptest::collection::vec(
            (any::<u64>(), any::<u64>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..8), 0u64..5000),
            0..40,
        ),
        rate in prop_oneof![Just(0u32), Just(8000), Just(48_000), any::<u32>()],
    ) {
        let t0 = epoch();
        let mut rx = EventReceiver::new(rate);
        let mut count = 0;
        let mut at = t0;
        for (seq, ts, marker, bytes, gap) in &packets {
            at += Duration::from_millis(*gap);
            rx.handle_timeout(at);
            let _ = rx.handle_packet(at, *seq, *ts, *marker, bytes);
            let _ = rx.poll_timeout();
            count += std::iter::from_fn(|| rx.poll_digit()).count();
        }
        prop_assert!(count <= packets.len());
    }
}
