//! RTP: the packet view and header writer, and the receive-side extenders under arbitrary
//! sequences of packets.
//!
//! Input layout: the whole input is first parsed as one RTP datagram. The same bytes, read by
//! `arbitrary`, then give a `min_sequential` and a list of packets (which of three SSRCs,
//! a sequence step that is small or arbitrary, a timestamp step) fed to a `SourceTracker` and,
//! for the first SSRC only, to a bare `SequenceExtender`.
//!
//! Asserts:
//! * `RtpPacket::parse` never panics; what it accepts is not RTCP by `is_rtcp`, and its payload
//!   ends where the padding starts;
//! * an accepted packet's header and payload, written again, parse back equal (CSRCs, header
//!   extension and padding are not written by `RtpHeader`, so they are not compared);
//! * an accepted packet's extended sequence number and timestamp keep the 16 and 32 bits they
//!   extend; a dropped packet gets no timestamp; a source change names the new current source;
//! * `Next` raises the highest extended sequence number, `Late` stays at or below it, `Jump`
//!   leaves it alone; `received` counts accepted packets since the last (re)start.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use herald_media::rtp::{
    RtpPacket, SequenceExtender, SequenceOutcome, SourceTracker, Ssrc, is_rtcp,
};
use libfuzzer_sys::fuzz_target;

/// How the sequence number moves from one packet to the next.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    /// Reordering, duplicates and short gaps.
    Small(i8),
    /// Anything, wraps and jumps included.
    Any(u16),
}

/// One packet.
#[derive(Arbitrary, Debug)]
struct Packet {
    source: u8,
    step: Step,
    timestamp_step: i32,
}

fuzz_target!(|data: &[u8]| {
    check_parse(data);
    let mut input = Unstructured::new(data);
    let (Ok(min_sequential), Ok(packets)) = (
        input.int_in_range(1u16..=3),
        Vec::<Packet>::arbitrary(&mut input),
    ) else {
        return;
    };
    drive(min_sequential, &packets);
});

fn check_parse(data: &[u8]) {
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    assert!(!is_rtcp(data));
    let end = data.len() - usize::from(packet.padding_len());
    assert!(data[..end].ends_with(packet.payload()));

    let mut out = vec![0u8; 12 + packet.payload().len()];
    let len = packet
        .header()
        .write(packet.payload(), &mut out)
        .expect("sized to fit");
    let again = RtpPacket::parse(&out[..len]).expect("what we write parses");
    assert_eq!(again.header(), packet.header());
    assert_eq!(again.payload(), packet.payload());
}

fn drive(min_sequential: u16, packets: &[Packet]) {
    let mut tracker = SourceTracker::new(min_sequential);
    let mut bare = SequenceExtender::new(min_sequential);
    let mut bare_accepted = 0u64;
    let (mut sequence, mut timestamp) = ([0u16; 3], [0u32; 3]);
    for packet in packets {
        let source = usize::from(packet.source % 3);
        sequence[source] = match packet.step {
            Step::Small(step) => sequence[source].wrapping_add_signed(i16::from(step)),
            Step::Any(value) => value,
        };
        timestamp[source] = timestamp[source].wrapping_add_signed(packet.timestamp_step);
        let ssrc = Ssrc::new(source as u32 + 1);
        check_arrival(&mut tracker, ssrc, sequence[source], timestamp[source]);
        if source == 0 {
            check_extender(&mut bare, sequence[0], &mut bare_accepted);
        }
    }
}

fn check_arrival(tracker: &mut SourceTracker, ssrc: Ssrc, sequence: u16, timestamp: u32) {
    let arrival = tracker.track_fields(ssrc, sequence, timestamp);
    match arrival.sequence.extended() {
        Some(extended) => {
            assert_eq!(extended as u16, sequence);
            assert_eq!(arrival.timestamp.map(|t| t as u32), Some(timestamp));
            assert_eq!(tracker.ssrc(), Some(ssrc));
        }
        None => {
            assert_eq!(arrival.timestamp, None);
            assert_eq!(arrival.source_change, None);
        }
    }
    if let Some(change) = arrival.source_change {
        assert_eq!(change.current, ssrc);
        assert_ne!(change.previous, Some(ssrc));
    }
}

fn check_extender(extender: &mut SequenceExtender, sequence: u16, accepted: &mut u64) {
    let before = extender.highest();
    let outcome = extender.extend(sequence);
    match (outcome, before) {
        (SequenceOutcome::Next { extended }, Some(before)) => assert!(extended > before),
        (SequenceOutcome::Late { extended }, Some(before)) => assert!(extended <= before),
        (SequenceOutcome::Jump, _) => assert_eq!(extender.highest(), before),
        _ => {}
    }
    match outcome {
        SequenceOutcome::Restart { .. } => *accepted = 1,
        SequenceOutcome::Next { .. } if before.is_none() => *accepted = 1,
        other if other.is_accepted() => *accepted += 1,
        _ => {}
    }
    assert_eq!(extender.received(), *accepted);
    assert!(extender.expected() >= 1 || extender.highest().is_none());
}
