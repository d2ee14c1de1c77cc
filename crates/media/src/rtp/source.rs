//! Following the remote synchronisation source of a stream across SSRC changes.

use super::{RtpPacket, SequenceExtender, SequenceOutcome, Ssrc, TimestampExtender};

/// What the [`SourceTracker`] made of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// The sequence number's fate; drop the packet unless it is accepted.
    pub sequence: SequenceOutcome,
    /// The extended timestamp, for accepted packets only.
    pub timestamp: Option<u64>,
    /// Set on the packet that made a new source current. Everything buffered from the previous
    /// source (or from before a [`SequenceOutcome::Restart`]) belongs to another timeline.
    pub source_change: Option<SourceChange>,
}

/// A new synchronisation source took over the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceChange {
    /// The source it replaced, `None` for the stream's first source.
    pub previous: Option<Ssrc>,
    /// The source now current.
    pub current: Ssrc,
}

/// One source's extenders.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    ssrc: Ssrc,
    sequence: SequenceExtender,
    timestamp: TimestampExtender,
}

impl Source {
    fn new(ssrc: Ssrc, min_sequential: u16) -> Self {
        Self {
            ssrc,
            sequence: SequenceExtender::new(min_sequential),
            timestamp: TimestampExtender::new(),
        }
    }

    fn extend(&mut self, sequence: u16, timestamp: u32) -> Arrival {
        let outcome = self.sequence.extend(sequence);
        if matches!(outcome, SequenceOutcome::Restart { .. }) {
            self.timestamp.reset();
        }
        Arrival {
            sequence: outcome,
            timestamp: outcome
                .is_accepted()
                .then(|| self.timestamp.extend(timestamp)),
            source_change: None,
        }
    }
}

/// The receive side of one RTP stream: which source is current, and its extended sequence
/// numbers and timestamps.
///
/// A unicast call has one remote source at a time, but it changes: a transfer or re-INVITE
/// connects another sender, a phone restarts with a fresh SSRC. A packet from a new SSRC does
/// not displace the current source at once: the newcomer goes through its own probation
/// (`min_sequential` packets in sequence) while the current source keeps being accepted, and
/// takes over only then, with fresh extenders. A lone straggler from an old source therefore
/// cannot flip the stream back (with `min_sequential` of 2 or more); two sources sending at
/// once in turns take over from each other every `min_sequential` packets, which is the best
/// that can be done without signalling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTracker {
    min_sequential: u16,
    current: Option<Source>,
    candidate: Option<Source>,
}

impl Default for SourceTracker {
    fn default() -> Self {
        Self::new(super::MIN_SEQUENTIAL)
    }
}

impl SourceTracker {
    /// A tracker whose sources each need `min_sequential` packets in sequence to be believed
    /// (see [`SequenceExtender::new`]).
    pub fn new(min_sequential: u16) -> Self {
        Self {
            min_sequential,
            current: None,
            candidate: None,
        }
    }

    /// Takes one received packet.
    pub fn track(&mut self, packet: &RtpPacket<'_>) -> Arrival {
        self.track_fields(packet.ssrc(), packet.sequence(), packet.timestamp())
    }

    /// Takes one received packet's SSRC, sequence number and timestamp.
    pub fn track_fields(&mut self, ssrc: Ssrc, sequence: u16, timestamp: u32) -> Arrival {
        if let Some(current) = self.current.as_mut().filter(|source| source.ssrc == ssrc) {
            return current.extend(sequence, timestamp);
        }
        let mut candidate = match self.candidate.take() {
            Some(candidate) if candidate.ssrc == ssrc => candidate,
            _ => Source::new(ssrc, self.min_sequential),
        };
        let mut arrival = candidate.extend(sequence, timestamp);
        if arrival.sequence.is_accepted() {
            let previous = self.current.replace(candidate).map(|source| source.ssrc);
            arrival.source_change = Some(SourceChange {
                previous,
                current: ssrc,
            });
        } else {
            self.candidate = Some(candidate);
        }
        arrival
    }

    /// The current source, once one has passed probation.
    pub fn ssrc(&self) -> Option<Ssrc> {
        self.current.as_ref().map(|source| source.ssrc)
    }

    /// The current source's sequence state, for its reception report
    /// ([`crate::rtcp::ReceiverStats::report_block`]).
    pub fn sequence(&self) -> Option<&SequenceExtender> {
        self.current.as_ref().map(|source| &source.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ssrc = Ssrc::new(0xaaaa);
    const B: Ssrc = Ssrc::new(0xbbbb);

    #[test]
    fn the_first_source_becomes_current_after_probation() {
        let mut tracker = SourceTracker::default();
        assert_eq!(tracker.track_fields(A, 1, 100).source_change, None);
        let arrival = tracker.track_fields(A, 2, 260);
        let change = SourceChange {
            previous: None,
            current: A,
        };
        assert_eq!(arrival.source_change, Some(change));
        assert_eq!(arrival.timestamp, Some((1 << 32) + 260));
        assert_eq!(tracker.ssrc(), Some(A));
    }

    #[test]
    fn a_lone_straggler_does_not_take_over() {
        let mut tracker = SourceTracker::default();
        for sequence in 1..=3 {
            tracker.track_fields(A, sequence, 160 * u32::from(sequence));
        }
        assert_eq!(
            tracker.track_fields(B, 70, 7).sequence,
            SequenceOutcome::Probation
        );
        let arrival = tracker.track_fields(A, 4, 640);
        assert_eq!(arrival.sequence.extended(), Some((1 << 16) + 4));
        assert_eq!(tracker.ssrc(), Some(A));
    }

    #[test]
    fn a_new_source_takes_over_with_fresh_extenders() {
        let mut tracker = SourceTracker::default();
        for sequence in 1..=3 {
            tracker.track_fields(A, sequence, 160 * u32::from(sequence));
        }
        tracker.track_fields(B, 9000, 4_000_000_000);
        let arrival = tracker.track_fields(B, 9001, 4_000_000_160);
        let change = SourceChange {
            previous: Some(A),
            current: B,
        };
        assert_eq!(arrival.source_change, Some(change));
        assert_eq!(
            arrival.sequence,
            SequenceOutcome::Next {
                extended: (1 << 16) + 9001
            }
        );
        assert_eq!(arrival.timestamp, Some((1 << 32) + 4_000_000_160));
        assert_eq!(tracker.sequence().map(SequenceExtender::received), Some(1));
    }

    #[test]
    fn a_restart_resets_the_timestamp_origin() {
        let mut tracker = SourceTracker::new(1);
        tracker.track_fields(A, 1, 1_000_000);
        assert_eq!(
            tracker.track_fields(A, 6001, 5).sequence,
            SequenceOutcome::Jump
        );
        let arrival = tracker.track_fields(A, 6002, 165);
        assert!(matches!(arrival.sequence, SequenceOutcome::Restart { .. }));
        assert_eq!(arrival.timestamp, Some((1 << 32) + 165));
    }
}
