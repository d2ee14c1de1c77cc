//! What `put` answers ([`PutOutcome`]) and what `get` hands out ([`Playout`]).

/// What became of a packet given to [`JitterBuffer::put`](super::JitterBuffer::put).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored, waiting for its turn.
    Accepted,
    /// Stored, but it lay beyond the buffer's capacity: the `dropped` oldest waiting packets were
    /// discarded to make room (and playout skips ahead).
    Overflow {
        /// Waiting packets discarded.
        dropped: u32,
    },
    /// Its sequence number or timestamp jumped so far (more than 100 packets back, 3000 ahead,
    /// or a timestamp behind playout by more than the buffer's span) that this is a new
    /// timeline: the buffer was emptied (`flushed` packets dropped) and starts over with it.
    Restarted {
        /// Waiting packets of the old timeline discarded.
        flushed: u32,
    },
    /// The same sequence number is already waiting; ignored.
    Duplicate,
    /// Its turn has passed (already played, declared lost, or skipped); discarded.
    TooLate,
    /// Larger than [`JitterConfig::max_payload`](super::JitterConfig::max_payload); discarded.
    TooLarge,
}

impl PutOutcome {
    /// Whether the packet was stored.
    pub fn is_stored(self) -> bool {
        matches!(
            self,
            Self::Accepted | Self::Overflow { .. } | Self::Restarted { .. }
        )
    }
}

/// One tick of playout, from [`JitterBuffer::get`](super::JitterBuffer::get).
///
/// Timestamps and durations are in RTP clock units. See the module documentation for what the
/// caller does with each variant; in short: decode a `Frame` whole, play one tick of it now and
/// the rest on the `Continued` ticks that follow; conceal a `Missing` frame (with FEC from `next`
/// when there is one); play silence or concealment on `Empty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// A packet starts in this tick.
    Frame(Frame<'a>),
    /// This tick is covered by the frame (or the concealed frame) handed out before: play the
    /// next slice of what it decoded to, starting at `timestamp`.
    Continued {
        /// Timestamp of the first sample of this tick.
        timestamp: u64,
    },
    /// The frame starting at `timestamp` is lost: conceal `duration` units.
    Missing {
        /// Timestamp of the lost frame (the first sample of this tick).
        timestamp: u64,
        /// How much to conceal (one packet's worth; later ticks of it come as `Continued`).
        duration: u32,
        /// The payload of the packet that follows the lost one in sequence, if it is already
        /// here: an Opus decoder can rebuild the lost frame from its in-band FEC.
        next: Option<&'a [u8]>,
    },
    /// Nothing to play in this tick, and no media time passes.
    Empty {
        /// Why.
        reason: EmptyReason,
    },
}

/// A packet handed out for playout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Extended sequence number.
    pub seq: u64,
    /// Extended RTP timestamp of its first sample.
    pub timestamp: u64,
    /// Media it covers, in clock units: from the next packet's timestamp when that is here,
    /// otherwise the stream's usual packet duration. Spans `duration / tick` ticks.
    pub duration: u32,
    /// The payload, to decode whole.
    pub payload: &'a [u8],
}

/// Why a tick is [`Playout::Empty`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyReason {
    /// Building up the delay before playout starts (at the beginning, after a restart, after a
    /// lost stretch, or after an underrun in fixed mode). Play silence (or concealment if the
    /// stream was playing just before).
    Prefetching,
    /// The next frame is overdue and nothing after it is here: it is late, lost, or the sender
    /// paused (not known yet). Playout holds its position, so the delay grows if it is late.
    /// Conceal.
    Underrun,
    /// The sender paused (the next packet is here, consecutive in sequence, but its timestamp
    /// jumps ahead: DTX or silence suppression). Play comfort noise or silence.
    Silence,
    /// Inserted to grow the delay (adaptive mode, the margin fell below the target). Conceal.
    Stretch,
}
