//! The jitter buffer: takes RTP payloads as they arrive (late, early, reordered, duplicated,
//! lost) and hands out exactly one tick of playout per `frame_duration` (the ptime), in
//! timestamp order, with no gaps in the timeline it plays.
//!
//! # What it does
//!
//! [`JitterBuffer::put`] stores a packet (extended sequence number, extended RTP timestamp,
//! payload) in a preallocated slot and answers a [`PutOutcome`]: accepted, duplicate, too late,
//! stored after an overflow, or the start of a new timeline (a sequence or timestamp jump).
//! [`JitterBuffer::get`], called once per tick, answers a [`Playout`]:
//!
//! - [`Playout::Frame`]: a packet starts in this tick. Decode its payload whole: it covers
//!   `duration` clock units from `timestamp`, which may be several ticks (a 40 ms packet when 20
//!   was negotiated). Play the first tick now.
//! - [`Playout::Continued`]: this tick is the next slice of what the last `Frame` (or `Missing`)
//!   decoded to; nothing new to decode.
//! - [`Playout::Missing`]: the frame at `timestamp` is lost. Conceal `duration` units: with
//!   `next` (the payload of the packet that follows it in sequence, already here), an Opus
//!   decoder rebuilds it from in-band FEC (`decode(next, fec = true)`); without, plain PLC.
//! - [`Playout::Empty`]: nothing to play and no media time passes: prefetching, an underrun
//!   (the next frame is overdue), a sender pause (DTX: the next packet is here, consecutive in
//!   sequence, with a timestamp that jumps ahead), or a tick inserted to grow the delay.
//!
//! The contract that covers every case: keep the decoded samples in a small FIFO; push on
//! `Frame` (the decoded payload) and `Missing` (`duration` units of concealment); on every tick
//! pop one tick of samples, concealing whatever is short (an `Empty` tick normally finds the
//! FIFO empty). Timestamps of `Frame`, `Continued` and `Missing` then advance by one tick per
//! call, except across a pause, a dropped frame (shrinking), lost frames whose time an underrun
//! already filled, or a restart. Packets shorter than a tick are not merged: configure
//! `frame_duration` to the shortest packet and call `get` that many times per engine tick.
//!
//! # What it does not do
//!
//! No decoding, mixing or time-stretching: it hands out payloads and says which to conceal. No
//! RTP parsing and no sequence extension (the RTP receive path does that; RFC 3550
//! interarrival jitter for reports lives in `rtcp`). No timers of its own: the caller's tick
//! drives it, and time is the `now` it is given (never read from a clock).
//!
//! # Time
//!
//! Instants convert to media-clock units from the first instant the buffer sees. A packet's
//! *relative transit* is its arrival time minus its timestamp; it equals the one-way delay up to
//! an unknown constant, which is all the buffer needs. The *playout offset* is the tick time
//! minus the timestamp played at that tick. A packet is on time when its transit is at most the
//! offset; the delay a frame waits is the offset minus its transit.
//!
//! # Adaptation rule
//!
//! Over a sliding window ([`JitterConfig::window`], 2 s) the buffer keeps the earliest and the
//! latest transit that arrived (`early`, `late`), their spread being the jitter. The target
//! offset is `late + min`, capped at `early + max`: no recent packet would have been late, the
//! latest ones wait at least `min` (to within half a frame), the earliest at most `max`. During
//! the first window after playout starts the target is also at least `early + initial`. Every
//! tick, in adaptive mode:
//!
//! - **grow** by inserting one `Empty(Stretch)` tick before the next frame: at once while the
//!   offset is below `late` (recent packets would be late; capped at `early + max`), and at a
//!   bounded rate while it is more than half a frame short of the target. Growing also happens
//!   by itself on an underrun: the cursor holds while the awaited frame is late.
//! - **shrink** by dropping one frame when the offset exceeds both the target and `late` by a
//!   frame or more, at a bounded rate: fast enough to drain an excess of `n` frames over
//!   [`JitterConfig::shrink_span`] (1 s) plus the frames a faster sender clock adds, never more
//!   often than [`JitterConfig::min_adjust_gap`] (200 ms). A lost frame that is due is dropped in
//!   preference (nothing real is lost); a sender pause re-anchors on the target at no cost.
//!
//! A faster sender clock makes transit fall steadily, and a window maximum would lag by
//! drift x window. The window therefore measures the clock skew (from its extremes one window
//! length apart; bursts of early packets or delay spikes move only one extreme and are ignored)
//! and projects older sub-windows to the present. A packet that arrives after its turn is
//! discarded but still counts toward `late` (so reordering makes the buffer grow until such
//! packets fit), unless it came later than `max`. Fixed mode never drops or inserts: it waits for
//! its delay at the start and after each underrun or pause, and drops only when full.
//!
//! # Loss, pause, restart
//!
//! A frame that is due while a later packet is already here is `Missing`. When the buffer runs
//! dry, playout holds (`Empty(Underrun)`) and the next arrival tells what it was: the awaited
//! packet (late: resume on it, the delay grew), one after a sequence gap (lost: the held ticks
//! stood in for the start of the gap; if the target asks to wait, the end of the gap is handed
//! out as `Missing`, FEC-ready, during the wait), or the next in sequence with a timestamp jump
//! (a pause: re-anchor on the target, `Empty(Silence)` meanwhile). Until two equal timestamp
//! steps have confirmed the packet duration, a jump of up to 120 ms with consecutive sequence
//! numbers is taken for a longer packet instead. A sequence number more than 100 behind or 3000
//! ahead, or a timestamp behind playout by more than the whole buffer, starts a new timeline.
//!
//! [`JitterStats`] counts what happened, in frames, sampled like pjmedia's jitter buffer so that
//! its `Jbtest.dat` bounds apply (see `tests/jitter_conformance.rs`).

mod buffer;
mod config;
mod playout;
mod slots;
mod stats;
mod transit;

#[cfg(test)]
mod tests;

pub use buffer::JitterBuffer;
pub use config::{JitterConfig, JitterConfigError, JitterMode};
pub use playout::{EmptyReason, Frame, Playout, PutOutcome};
pub use stats::JitterStats;
