//! Sequence number validation and extension, after RFC 3550 Appendix A.1.

/// Sequence numbers per cycle.
const SEQ_MOD: u64 = 1 << 16;

/// A gap of this many packets or more is a jump, not loss (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;

/// A packet fewer than this many behind the highest is reordered or duplicated; further
/// behind, it is a jump (RFC 3550 A.1).
pub const MAX_MISORDER: u16 = 100;

/// Packets in sequence needed before a new source is believed (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u16 = 2;

/// What one sequence number meant to the [`SequenceExtender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceOutcome {
    /// Newer than every packet so far, possibly after a gap shorter than [`MAX_DROPOUT`].
    /// Also the first packet once probation ends.
    Next {
        /// The extended sequence number.
        extended: u64,
    },
    /// Not newer than the highest, and fewer than [`MAX_MISORDER`] behind it: reordered or
    /// duplicated (A.1 does not tell them apart; a jitter buffer does).
    Late {
        /// The extended sequence number.
        extended: u64,
    },
    /// The second of two sequential packets after a [`SequenceOutcome::Jump`]: the sender
    /// restarted its numbering. Extended numbers start again from a new base; flush what was
    /// buffered from before.
    Restart {
        /// The extended sequence number, in the new numbering.
        extended: u64,
    },
    /// The source is not yet valid: fewer than `min_sequential` packets in sequence. Drop it.
    Probation,
    /// A jump too large to be loss or reordering. Drop it; if the next packet follows it, the
    /// sender restarted.
    Jump,
}

impl SequenceOutcome {
    /// The extended sequence number of an accepted packet, `None` for one to drop.
    pub fn extended(self) -> Option<u64> {
        match self {
            Self::Next { extended } | Self::Late { extended } | Self::Restart { extended } => {
                Some(extended)
            }
            Self::Probation | Self::Jump => None,
        }
    }

    /// Whether the packet should be passed on (to statistics and the jitter buffer).
    pub fn is_accepted(self) -> bool {
        self.extended().is_some()
    }
}

/// Extends 16-bit RTP sequence numbers to 64 bits and validates the source, as RFC 3550
/// Appendix A.1 does, counting received packets for the reception report (A.3).
///
/// ```text
///            first packet           min_sequential in a row
///   Idle ─────────────────▶ Probation ──────────────────────▶ Valid ◀─┐
///                             │    ▲                           │     │ two in a row
///                             └────┘ out of sequence:          │     │ after a jump:
///                               start counting again           └─────┘ Restart
/// ```
///
/// Extended numbers start in the second cycle: the first valid packet with sequence `s` gets
/// `65536 + s`, so that a packet reordered from before it, even across a wrap, still has a
/// number. [`SequenceExtender::rtcp_extended_highest`] gives the RFC 3550 field, which counts
/// cycles from zero. A restart begins a new numbering (and a new epoch for the statistics).
///
/// Deviations from the C code in A.1, which has two known slips: the probation test
/// `seq == max_seq + 1` is done in 16 bits (so 65535 followed by 0 is in sequence), and a
/// duplicate of the highest packet is reported [`SequenceOutcome::Late`] rather than as new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceExtender {
    min_sequential: u16,
    state: State,
    epoch: u32,
}

/// The state machine drawn on [`SequenceExtender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Probation { remaining: u16, last: u16 },
    Valid(Valid),
}

/// A.1's `source` once the source is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Valid {
    max_seq: u16,
    /// Extended value of sequence number 0 in the current cycle.
    cycles: u64,
    /// Extended value of the first valid packet.
    base: u64,
    /// The sequence number that, next, would confirm a restart.
    bad_seq: Option<u16>,
    received: u64,
}

impl Default for SequenceExtender {
    fn default() -> Self {
        Self::new(MIN_SEQUENTIAL)
    }
}

impl SequenceExtender {
    /// An extender that believes a source after `min_sequential` packets in sequence (RFC 3550
    /// uses [`MIN_SEQUENTIAL`], 2, and so drops a stream's first packet; 1 accepts it; 0 counts
    /// as 1).
    pub fn new(min_sequential: u16) -> Self {
        Self {
            min_sequential: min_sequential.max(1),
            state: State::Idle,
            epoch: 0,
        }
    }

    /// Takes the next packet's sequence number.
    pub fn extend(&mut self, sequence: u16) -> SequenceOutcome {
        match self.state {
            State::Idle => self.probation(self.min_sequential, sequence.wrapping_sub(1), sequence),
            State::Probation { remaining, last } => self.probation(remaining, last, sequence),
            State::Valid(ref mut valid) => match valid.update(sequence) {
                Update::Outcome(outcome) => outcome,
                Update::Restart => {
                    self.start(sequence, |extended| SequenceOutcome::Restart { extended })
                }
            },
        }
    }

    /// Forgets the source (for a new SSRC): the next packet starts probation again.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// The highest extended sequence number, once the source is valid.
    pub fn highest(&self) -> Option<u64> {
        self.valid().map(Valid::highest)
    }

    /// The extended sequence number of the first valid packet of this epoch.
    pub fn base(&self) -> Option<u64> {
        self.valid().map(|valid| valid.base)
    }

    /// Packets accepted in this epoch, duplicates included (A.1's `received`).
    pub fn received(&self) -> u64 {
        self.valid().map_or(0, |valid| valid.received)
    }

    /// Packets expected in this epoch: highest - base + 1 (A.3).
    pub fn expected(&self) -> u64 {
        self.valid()
            .map_or(0, |valid| valid.highest() - valid.base + 1)
    }

    /// The "extended highest sequence number received" of an RTCP report block: cycles counted
    /// from zero in the high 16 bits, the highest sequence number in the low 16.
    pub fn rtcp_extended_highest(&self) -> u32 {
        self.highest()
            .map_or(0, |highest| (highest - SEQ_MOD) as u32)
    }

    /// Counts restarts and resets; statistics use it to know when their interval counters no
    /// longer apply.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    fn valid(&self) -> Option<&Valid> {
        match &self.state {
            State::Valid(valid) => Some(valid),
            State::Idle | State::Probation { .. } => None,
        }
    }

    fn probation(&mut self, remaining: u16, last: u16, sequence: u16) -> SequenceOutcome {
        if sequence != last.wrapping_add(1) {
            let remaining = self.min_sequential - 1;
            if remaining == 0 {
                return self.start(sequence, |extended| SequenceOutcome::Next { extended });
            }
            self.state = State::Probation {
                remaining,
                last: sequence,
            };
            return SequenceOutcome::Probation;
        }
        match remaining - 1 {
            0 => self.start(sequence, |extended| SequenceOutcome::Next { extended }),
            remaining => {
                self.state = State::Probation {
                    remaining,
                    last: sequence,
                };
                SequenceOutcome::Probation
            }
        }
    }

    /// A.1's `init_seq` followed by counting the packet.
    fn start(&mut self, sequence: u16, outcome: fn(u64) -> SequenceOutcome) -> SequenceOutcome {
        if matches!(self.state, State::Valid(_)) {
            self.epoch = self.epoch.wrapping_add(1);
        }
        let valid = Valid {
            max_seq: sequence,
            cycles: SEQ_MOD,
            base: SEQ_MOD + u64::from(sequence),
            bad_seq: None,
            received: 1,
        };
        self.state = State::Valid(valid);
        outcome(valid.highest())
    }
}

/// What [`Valid::update`] decided.
enum Update {
    Outcome(SequenceOutcome),
    Restart,
}

impl Valid {
    fn highest(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// A.1's `update_seq` for a valid source.
    fn update(&mut self, sequence: u16) -> Update {
        let udelta = sequence.wrapping_sub(self.max_seq);
        if udelta == 0 {
            self.received += 1;
            Update::Outcome(SequenceOutcome::Late {
                extended: self.highest(),
            })
        } else if udelta < MAX_DROPOUT {
            if sequence < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = sequence;
            self.received += 1;
            Update::Outcome(SequenceOutcome::Next {
                extended: self.highest(),
            })
        } else if udelta <= (SEQ_MOD - u64::from(MAX_MISORDER)) as u16 {
            if self.bad_seq == Some(sequence) {
                return Update::Restart;
            }
            self.bad_seq = Some(sequence.wrapping_add(1));
            Update::Outcome(SequenceOutcome::Jump)
        } else {
            self.received += 1;
            let behind = u64::from(self.max_seq.wrapping_sub(sequence));
            Update::Outcome(SequenceOutcome::Late {
                extended: self.highest() - behind,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(extender: &mut SequenceExtender, sequences: &[u16]) -> Vec<SequenceOutcome> {
        sequences.iter().map(|&s| extender.extend(s)).collect()
    }

    #[test]
    fn probation_drops_the_first_packet_by_default() {
        let mut extender = SequenceExtender::default();
        assert_eq!(extender.extend(10), SequenceOutcome::Probation);
        assert_eq!(extender.highest(), None);
        assert_eq!(
            extender.extend(11),
            SequenceOutcome::Next {
                extended: SEQ_MOD + 11
            }
        );
        assert_eq!((extender.received(), extender.expected()), (1, 1));
    }

    #[test]
    fn probation_starts_over_when_out_of_sequence() {
        let mut extender = SequenceExtender::new(3);
        let outcomes = run(&mut extender, &[5, 6, 9, 10, 11]);
        assert_eq!(outcomes[..4], [SequenceOutcome::Probation; 4]);
        assert_eq!(
            outcomes[4],
            SequenceOutcome::Next {
                extended: SEQ_MOD + 11
            }
        );
    }

    #[test]
    fn one_packet_probation_accepts_immediately() {
        let mut extender = SequenceExtender::new(1);
        assert_eq!(
            extender.extend(0),
            SequenceOutcome::Next { extended: SEQ_MOD }
        );
        assert_eq!(extender.rtcp_extended_highest(), 0);
    }

    #[test]
    fn probation_is_in_sequence_across_the_wrap() {
        let mut extender = SequenceExtender::default();
        assert_eq!(extender.extend(65535), SequenceOutcome::Probation);
        assert_eq!(
            extender.extend(0),
            SequenceOutcome::Next { extended: SEQ_MOD }
        );
    }
}
