//! Property tests for RTP: the parser never panics, what we write parses back to itself, and
//! sequence extension keeps its invariants on arbitrary sequences.

use herald_media::rtp::{
    RtpHeader, RtpPacket, SequenceExtender, SequenceOutcome, Ssrc, TimestampExtender, is_rtcp,
};
use herald_sdp::PayloadType;
use proptest::collection::vec;
use proptest::prelude::*;

fn header() -> impl Strategy<Value = RtpHeader> {
    (
        any::<bool>(),
        0u8..=127,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_filter("marked 64..=95 reads as RTCP", |(marker, pt, ..)| {
            !(*marker && (64..=95).contains(pt))
        })
        .prop_map(|(marker, pt, sequence, timestamp, ssrc)| RtpHeader {
            marker,
            payload_type: PayloadType::new(pt).expect("in range"),
            sequence,
            timestamp,
            ssrc: Ssrc::new(ssrc),
        })
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in vec(any::<u8>(), 0..200)) {
        if let Ok(packet) = RtpPacket::parse(&bytes) {
            prop_assert!(!is_rtcp(&bytes));
            let end = bytes.len() - usize::from(packet.padding_len());
            prop_assert!(packet.payload().len() <= end);
            prop_assert_eq!(packet.payload(), &bytes[end - packet.payload().len()..end]);
        }
    }

    #[test]
    fn parse_never_panics_on_almost_rtp(
        first in 0x80u8..=0xbf,
        rest in vec(any::<u8>(), 11..80),
    ) {
        let mut bytes = vec![first];
        bytes.extend(rest);
        let _ = RtpPacket::parse(&bytes);
    }

    #[test]
    fn written_packets_parse_back(header in header(), payload in vec(any::<u8>(), 0..300)) {
        let mut out = [0u8; 400];
        let len = header.write(&payload, &mut out).expect("fits");
        let packet = RtpPacket::parse(&out[..len]).expect("we write RTP");
        prop_assert_eq!(packet.header(), header);
        prop_assert_eq!(packet.payload(), &payload[..]);
        prop_assert_eq!(packet.padding_len(), 0);
    }

    #[test]
    fn header_in_front_of_an_encoded_payload_parses(header in header(), len in 0usize..200) {
        let mut out = [0x55u8; 212];
        let start = header.write_header(&mut out).expect("fits");
        let packet = RtpPacket::parse(&out[..start + len]).expect("we write RTP");
        prop_assert_eq!(packet.header(), header);
        prop_assert_eq!(packet.payload().len(), len);
    }

    /// Accepted packets keep their 16 bits; new highest packets increase; the counters agree.
    #[test]
    fn extended_sequence_numbers_keep_their_invariants(
        start in any::<u16>(),
        steps in vec(-120i32..3200, 1..300),
        min_sequential in 1u16..4,
    ) {
        let mut extender = SequenceExtender::new(min_sequential);
        let mut sequence = start;
        let mut accepted = 0u64;
        for step in steps {
            sequence = sequence.wrapping_add(step as u16);
            let before = extender.highest();
            let outcome = extender.extend(sequence);
            if let Some(extended) = outcome.extended() {
                accepted += 1;
                prop_assert_eq!(extended as u16, sequence);
                let late = matches!(outcome, SequenceOutcome::Late { .. });
                prop_assert!(extended >= 1 << 16 || late);
            }
            match (outcome, before) {
                (SequenceOutcome::Next { extended }, Some(before)) => prop_assert!(extended > before),
                (SequenceOutcome::Late { extended }, Some(before)) => prop_assert!(extended <= before),
                (SequenceOutcome::Jump, Some(before)) => prop_assert_eq!(extender.highest(), Some(before)),
                _ => {}
            }
            if matches!(outcome, SequenceOutcome::Restart { .. }) {
                accepted = 1;
            }
            prop_assert_eq!(extender.received(), accepted);
        }
    }

    /// Timestamps moving by less than 2^31 either way keep their distance once extended.
    #[test]
    fn extended_timestamps_keep_distances(start in any::<u32>(), steps in vec(-20_000i32..40_000, 1..200)) {
        let mut extender = TimestampExtender::new();
        let mut timestamp = start;
        let mut previous = extender.extend(timestamp);
        for step in steps {
            timestamp = timestamp.wrapping_add(step as u32);
            let extended = extender.extend(timestamp);
            prop_assert_eq!(extended as u32, timestamp);
            prop_assert_eq!(extended as i64 - previous as i64, i64::from(step));
            previous = extended;
        }
    }
}
