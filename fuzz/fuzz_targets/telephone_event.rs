//! RFC 4733 telephone events: the payload parser and writer, and the `EventReceiver` under
//! arbitrary packet sequences in virtual time.
//!
//! Input layout: the whole input is first parsed as one telephone-event payload. The same
//! bytes, read by `arbitrary`, then give a clock rate and a list of steps (a packet with a
//! sequence and timestamp step, a marker bit and a well-formed or raw payload, possibly sent
//! twice; a timeout after some time; a jump to the receiver's deadline) that drive an
//! `EventReceiver`.
//!
//! Asserts:
//! * `TelephoneEvent::parse` never panics and refuses exactly the payloads shorter than four
//!   bytes; what it accepts writes back as the first four bytes with the reserved bit cleared,
//!   and parses again equal;
//! * `EventReceiver` never panics; a payload shorter than four bytes is refused and changes
//!   nothing (no digit, same deadline); one packet yields at most one digit, and that digit is
//!   the packet's own event code at the packet's own timestamp; the same packet again right
//!   after yields none and leaves the deadline as it was; a timeout yields none; after `handle_timeout(now)` the deadline is
//!   gone or in the future.

#![no_main]

use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use herald_media::dtmf::{Digit, EventReceiver, TelephoneEvent};
use libfuzzer_sys::fuzz_target;

/// The telephone-event clock.
#[derive(Arbitrary, Debug)]
enum Rate {
    Narrowband,
    Opus,
    Any(u32),
}

/// How the extended sequence number moves.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum SeqStep {
    Next,
    Small(i8),
    Any(u64),
}

/// How the extended timestamp moves: events mostly repeat one, or start a later one.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum TsStep {
    Same,
    Forward(u16),
    Back(u16),
    /// Past a 16-bit duration: a long press's next segment.
    Segment(u8),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Event {
        /// Mostly DTMF keys (0-15), sometimes other events.
        event: u8,
        end: bool,
        volume: u8,
        duration: u16,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Step {
    Packet {
        after_micros: u16,
        seq: SeqStep,
        ts: TsStep,
        marker: bool,
        payload: Payload,
        twice: bool,
    },
    Timeout {
        after_millis: u16,
    },
    ToDeadline,
}

fuzz_target!(|data: &[u8]| {
    check_payload(data);
    let mut input = Unstructured::new(data);
    let (Ok(rate), Ok(steps)) = (
        Rate::arbitrary(&mut input),
        Vec::<Step>::arbitrary(&mut input),
    ) else {
        return;
    };
    let rate = match rate {
        Rate::Narrowband => 8000,
        Rate::Opus => 48_000,
        Rate::Any(rate) => rate,
    };
    drive(rate, &steps);
});

fn check_payload(data: &[u8]) {
    let Ok(event) = TelephoneEvent::parse(data) else {
        assert!(data.len() < TelephoneEvent::LEN);
        return;
    };
    assert!(data.len() >= TelephoneEvent::LEN);
    assert!(event.volume <= 63);
    assert_eq!(event.digit(), Digit::from_event_code(event.event));
    let mut out = [0u8; TelephoneEvent::LEN];
    assert_eq!(event.write(&mut out), Ok(TelephoneEvent::LEN));
    assert_eq!(out, [data[0], data[1] & !0x40, data[2], data[3]]);
    assert_eq!(TelephoneEvent::parse(&out), Ok(event));
}

fn drive(rate: u32, steps: &[Step]) {
    #[allow(
        clippy::disallowed_methods,
        reason = "one arbitrary epoch for virtual time"
    )]
    let mut now = Instant::now();
    let mut receiver = EventReceiver::new(rate);
    let (mut seq, mut ts) = (1u64 << 16, 1u64 << 32);
    let mut bytes = Vec::new();
    for step in steps {
        match step {
            Step::Packet {
                after_micros,
                seq: seq_step,
                ts: ts_step,
                marker,
                payload,
                twice,
            } => {
                now += Duration::from_micros(u64::from(*after_micros));
                seq = next_seq(seq, *seq_step);
                ts = next_ts(ts, *ts_step);
                payload_bytes(payload, &mut bytes);
                packet(&mut receiver, now, seq, ts, *marker, &bytes);
                if *twice {
                    let deadline = receiver.poll_timeout();
                    let _ = receiver.handle_packet(now, seq, ts, *marker, &bytes);
                    assert_eq!(receiver.poll_digit(), None, "a repeat is no new press");
                    assert_eq!(
                        receiver.poll_timeout(),
                        deadline,
                        "a repeat changes nothing"
                    );
                }
            }
            Step::Timeout { after_millis } => {
                now += Duration::from_millis(u64::from(*after_millis));
                timeout(&mut receiver, now);
            }
            Step::ToDeadline => {
                if let Some(deadline) = receiver.poll_timeout() {
                    now = now.max(deadline);
                    timeout(&mut receiver, now);
                }
            }
        }
    }
}

fn next_seq(seq: u64, step: SeqStep) -> u64 {
    match step {
        SeqStep::Next => seq.wrapping_add(1),
        SeqStep::Small(step) => seq.wrapping_add_signed(i64::from(step)),
        SeqStep::Any(value) => value,
    }
}

fn next_ts(ts: u64, step: TsStep) -> u64 {
    match step {
        TsStep::Same => ts,
        TsStep::Forward(step) => ts.wrapping_add(u64::from(step)),
        TsStep::Back(step) => ts.wrapping_sub(u64::from(step)),
        TsStep::Segment(extra) => ts.wrapping_add(0xFFFF + u64::from(extra) * 160),
        TsStep::Any(value) => value,
    }
}

fn payload_bytes(payload: &Payload, out: &mut Vec<u8>) {
    out.clear();
    match payload {
        Payload::Event {
            event,
            end,
            volume,
            duration,
        } => {
            let block = TelephoneEvent {
                event: if *event < 128 { event % 17 } else { *event },
                end: *end,
                volume: *volume,
                duration: *duration,
            };
            out.resize(TelephoneEvent::LEN, 0);
            block.write(out).expect("four bytes");
        }
        Payload::Raw(bytes) => out.extend_from_slice(bytes),
    }
}

/// One packet: at most one digit, its own, or nothing changes when the payload is refused.
fn packet(
    receiver: &mut EventReceiver,
    now: Instant,
    seq: u64,
    ts: u64,
    marker: bool,
    bytes: &[u8],
) {
    let before = receiver.poll_timeout();
    match receiver.handle_packet(now, seq, ts, marker, bytes) {
        Err(_) => {
            assert!(bytes.len() < TelephoneEvent::LEN);
            assert_eq!(receiver.poll_digit(), None);
            assert_eq!(receiver.poll_timeout(), before);
        }
        Ok(()) => {
            let event = TelephoneEvent::parse(bytes).expect("accepted");
            if let Some(digit) = receiver.poll_digit() {
                assert_eq!(Some(digit.digit), event.digit());
                assert_eq!(digit.start_timestamp, ts);
            }
            assert_eq!(receiver.poll_digit(), None, "one packet, one digit at most");
        }
    }
}

fn timeout(receiver: &mut EventReceiver, now: Instant) {
    receiver.handle_timeout(now);
    assert_eq!(receiver.poll_digit(), None, "a timeout reports nothing");
    assert!(
        receiver
            .poll_timeout()
            .is_none_or(|deadline| deadline > now)
    );
}
