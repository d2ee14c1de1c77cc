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
//! call, except across a pause, a dropped frame (shrinking) or a restart. Packets shorter than a
//! tick are not merged: configure `frame_duration` to the shortest packet and call `get` that
//! many times per engine tick.
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
//! The buffer keeps, over a sliding window ([`JitterConfig::window`], 2 s), the earliest and the
//! latest transit that arrived. The target offset is the latest transit plus `min`, capped at the
//! earliest plus `max`: no recent packet would have been late, the latest ones wait at least
//! `min`, and the earliest at most `max`. Every tick (adaptive mode):
//!
//! - **grow** when the offset falls more than half a frame below target: one
//!   `Empty(Stretch)` tick is inserted before the next frame. Growing also happens by itself on
//!   an underrun: the cursor holds while the awaited frame is late, and resumes on it.
//! - **shrink** when the offset exceeds both the target and the latest transit by a frame or
//!   more: one frame is dropped, at a bounded rate: an excess of `n` frames drops one frame every
//!   `shrink_span / n` ([`JitterConfig::shrink_span`], 1 s), never more often than
//!   [`JitterConfig::min_adjust_gap`] (200 ms). A lost frame that is due is dropped in preference
//!   (nothing real is lost), and a sender pause re-anchors playout on the target at no cost.
//!
//! Packets that arrive after their turn are discarded but still count toward the latest transit
//! (so a stream with reordering grows enough to play them), unless they are later than `max`.
//! Fixed mode never drops or inserts: it waits for its delay at the start and after each
//! underrun or pause, and drops only when the buffer is full.
//!
//! # Loss, pause, restart
//!
//! A frame that is due while a later packet is already here is `Missing`. When the buffer runs
//! dry, playout holds (`Empty(Underrun)`); the next arrival decides what it was: the awaited
//! packet (late: resume on it, the delay grew), one after a sequence gap (lost: skip the gap,
//! whose time the held ticks already filled, and re-anchor), or the next in sequence with a
//! timestamp jump (a pause: re-anchor). A sequence number more than 100 behind or 3000 ahead,
//! or a timestamp behind playout by more than the whole buffer, starts a new timeline.
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
