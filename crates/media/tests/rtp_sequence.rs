//! Sequence and timestamp extension on the stories RFC 3550 Appendix A.1 is written for:
//! wraparound, reordering, duplicates, loss, a large jump and a sender restart.

use herald_media::rtp::{
    MAX_DROPOUT, SequenceExtender, SequenceOutcome, SourceTracker, Ssrc, TimestampExtender,
};

const CYCLE: u64 = 1 << 16;

/// An extender already past probation at `first`.
fn valid_at(first: u16) -> SequenceExtender {
    let mut extender = SequenceExtender::default();
    assert_eq!(
        extender.extend(first.wrapping_sub(1)),
        SequenceOutcome::Probation
    );
    assert!(extender.extend(first).is_accepted());
    extender
}

fn extended(extender: &mut SequenceExtender, sequences: &[u16]) -> Vec<Option<u64>> {
    sequences
        .iter()
        .map(|&s| extender.extend(s).extended())
        .collect()
}

#[test]
fn wraps_from_65535_to_0_into_the_next_cycle() {
    let mut extender = valid_at(65534);
    let got = extended(&mut extender, &[65535, 0, 1]);
    assert_eq!(
        got,
        [Some(CYCLE + 65535), Some(2 * CYCLE), Some(2 * CYCLE + 1)]
    );
    assert_eq!(extender.rtcp_extended_highest(), 0x0001_0001);
    assert_eq!((extender.expected(), extender.received()), (4, 4));
}

#[test]
fn reordered_packets_across_the_wrap_keep_their_place() {
    let mut extender = valid_at(65533);
    let outcomes: Vec<_> = [0, 65535, 65534, 1]
        .iter()
        .map(|&s| extender.extend(s))
        .collect();
    assert_eq!(
        outcomes,
        [
            SequenceOutcome::Next {
                extended: 2 * CYCLE
            },
            SequenceOutcome::Late {
                extended: CYCLE + 65535
            },
            SequenceOutcome::Late {
                extended: CYCLE + 65534
            },
            SequenceOutcome::Next {
                extended: 2 * CYCLE + 1
            },
        ]
    );
    assert_eq!(extender.highest(), Some(2 * CYCLE + 1));
    assert_eq!((extender.expected(), extender.received()), (5, 5));
}

#[test]
fn duplicates_are_late_and_counted_as_received() {
    let mut extender = valid_at(100);
    extender.extend(101);
    assert_eq!(
        extender.extend(101),
        SequenceOutcome::Late {
            extended: CYCLE + 101
        }
    );
    assert_eq!(
        extender.extend(100),
        SequenceOutcome::Late {
            extended: CYCLE + 100
        }
    );
    // A.1 counts duplicates: more received than expected, so loss reads negative.
    assert_eq!((extender.expected(), extender.received()), (2, 4));
}

#[test]
fn a_gap_below_max_dropout_is_loss() {
    let mut extender = valid_at(10);
    let jump = 10 + MAX_DROPOUT - 1;
    assert_eq!(
        extender.extend(jump),
        SequenceOutcome::Next {
            extended: CYCLE + u64::from(jump)
        }
    );
    assert_eq!(
        extender.expected() - extender.received(),
        u64::from(MAX_DROPOUT) - 2
    );
}

#[test]
fn a_jump_of_5000_is_dropped_then_confirmed_as_a_restart() {
    let mut extender = valid_at(1000);
    extender.extend(1001);
    let epoch = extender.epoch();
    assert_eq!(extender.extend(6001), SequenceOutcome::Jump);
    // The old stream goes on: the jump was a stray packet.
    assert_eq!(
        extender.extend(1002),
        SequenceOutcome::Next {
            extended: CYCLE + 1002
        }
    );
    assert_eq!(extender.extend(6001), SequenceOutcome::Jump);
    assert_eq!(
        extender.extend(6002),
        SequenceOutcome::Restart {
            extended: CYCLE + 6002
        }
    );
    assert_eq!(extender.epoch(), epoch + 1);
    assert_eq!(
        (extender.base(), extender.received()),
        (Some(CYCLE + 6002), 1)
    );
    assert_eq!(
        extender.extend(6003),
        SequenceOutcome::Next {
            extended: CYCLE + 6003
        }
    );
}

#[test]
fn a_jump_backwards_beyond_misorder_is_a_jump_too() {
    let mut extender = valid_at(5000);
    // A.1's bounds: up to 99 behind is reordering, 100 behind is already a jump.
    assert_eq!(
        extender.extend(4901),
        SequenceOutcome::Late {
            extended: CYCLE + 4901
        }
    );
    assert_eq!(extender.extend(4900), SequenceOutcome::Jump);
    assert_eq!(extender.highest(), Some(CYCLE + 5000));
}

#[test]
fn a_restart_at_sequence_zero_after_a_phone_reboot() {
    let mut extender = valid_at(40_000);
    assert_eq!(extender.extend(0), SequenceOutcome::Jump);
    assert_eq!(
        extender.extend(1),
        SequenceOutcome::Restart {
            extended: CYCLE + 1
        }
    );
    assert_eq!(extender.rtcp_extended_highest(), 1);
}

#[test]
fn timestamps_wrap_at_two_to_the_32_and_tolerate_reordering() {
    let mut extender = TimestampExtender::new();
    let start = u32::MAX - 319;
    let got: Vec<u64> = [start, start + 160, 0, start + 160 + 159, 160]
        .iter()
        .map(|&t| extender.extend(t))
        .collect();
    let base = (1u64 << 32) + u64::from(start);
    assert_eq!(got, [base, base + 160, base + 320, base + 319, base + 480]);
}

#[test]
fn the_tracker_ties_sequence_and_timestamp_to_the_source() {
    let mut tracker = SourceTracker::new(1);
    let ssrc = Ssrc::new(42);
    let first = tracker.track_fields(ssrc, 65535, u32::MAX - 159);
    assert!(first.source_change.is_some());
    let second = tracker.track_fields(ssrc, 0, 0);
    assert_eq!(
        second.sequence,
        SequenceOutcome::Next {
            extended: 2 * CYCLE
        }
    );
    assert_eq!(second.timestamp, Some(2 << 32));
    assert_eq!(tracker.track_fields(ssrc, 9000, 5).timestamp, None);
}
