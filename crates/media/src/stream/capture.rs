//! The recording tap: both directions of the call leg as 8 kHz PCM, each chunk with its
//! sample position on one timeline.
//!
//! - [`CaptureChannel::Received`]: every playout slot that the decoder filled (a packet, or
//!   its concealment or FEC) while capturing, as played out. Slots with nothing to play give
//!   nothing: the recorder leaves silence there.
//! - [`CaptureChannel::Sent`]: every RTP audio packet sent while capturing, decoded back by a
//!   second decoder of the stream's codec (what the caller heard, coding loss included), at the
//!   position of its slot. Silence packets give nothing.
//!
//! A position counts 8 kHz samples from the first [`start`](Capture::start) of the stream, and
//! comes from the stream's own schedule (the playout slot, the packet slot), never from when
//! the worker served it. Per channel, positions only grow and chunks never overlap.
//!
//! Wideband audio (G.722, Opus, decoded at 16 kHz) goes through a [`Decimator`] per channel,
//! whose state joins consecutive chunks; after a gap it starts again from silence. Its filter
//! delays both channels alike, by about 2.7 ms (21 samples at 8 kHz).
//!
//! Chunks wait in a [`ChunkRing`] of [`CAPTURE_BUFFER_SAMPLES`] preallocated samples until
//! the worker drains them; when it does not, the oldest are dropped and counted.

use std::collections::VecDeque;
use std::time::Instant;

use crate::codec::{CodecKind, Decoder};
use crate::resample::Decimator;

/// The sample rate of captured audio, in Hz.
pub const CAPTURE_RATE: u32 = 8_000;

/// The most captured samples (both channels together) waiting for
/// [`MediaStream::drain_captured`](super::MediaStream::drain_captured): one second of a call.
/// Beyond it the oldest chunks are dropped and counted in `StreamStats::capture_dropped`.
pub const CAPTURE_BUFFER_SAMPLES: usize = 2 * CAPTURE_RATE as usize;

/// The most chunks waiting: one per channel per 10 ms packet for a second, with room.
const CAPTURE_BUFFER_CHUNKS: usize = 256;

/// Which side of the call a captured chunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureChannel {
    /// What the caller sent us: received RTP, decoded as played out (concealment included).
    Received,
    /// What we sent the caller: our RTP packets decoded back (prompts, tones).
    Sent,
}

/// The tap of one stream: nothing at all (no decoder, no buffer) until the first start.
pub(super) struct Capture {
    tap: Option<Box<Tap>>,
}

/// What the first start sets up.
struct Tap {
    /// The first start: position 0.
    origin: Instant,
    /// The slots captured: since the last start, until a stop.
    window: Window,
    /// The window before the last restart, for slots in it still to be served.
    previous: Option<Window>,
    received: Narrowing,
    sent: Narrowing,
    /// Decodes what we send, apart from the receiving decoder.
    sent_decoder: Decoder,
    sent_pcm: Vec<i16>,
    sent_decoded: u64,
    buffer: ChunkRing,
}

/// The schedule times whose slots are captured: from `start`, until `stop`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    stop: Option<Instant>,
}

impl Window {
    fn contains(&self, at: Instant) -> bool {
        at >= self.start && self.stop.is_none_or(|stop| at < stop)
    }
}

impl Capture {
    pub(super) fn new() -> Self {
        Self { tap: None }
    }

    /// Captures the slots from `now` on. The first start sets the timeline's origin and
    /// allocates the tap for `codec` decoded at `pcm_rate` in frames of up to `frame_capacity`
    /// samples; a start while capturing changes nothing.
    pub(super) fn start(
        &mut self,
        now: Instant,
        codec: CodecKind,
        pcm_rate: u32,
        frame_capacity: usize,
    ) {
        match self.tap.as_deref_mut() {
            Some(tap) => tap.reopen(now),
            // Fails only for a rate the stream's own decoder was not built with.
            None => self.tap = Tap::new(now, codec, pcm_rate, frame_capacity).map(Box::new),
        }
    }

    /// Captures no slot from `now` on; what is buffered stays until drained.
    pub(super) fn stop(&mut self, now: Instant) {
        if let Some(tap) = self.tap.as_deref_mut() {
            tap.window.stop.get_or_insert(now);
        }
    }

    /// Whether the slot at `at` is captured.
    pub(super) fn takes(&self, at: Instant) -> bool {
        self.tap.as_deref().is_some_and(|tap| tap.takes(at))
    }

    /// The decoded audio of the playout slot at `at`.
    pub(super) fn record_received(&mut self, at: Instant, pcm: &[i16]) {
        let Some(tap) = self.tap.as_deref_mut().filter(|tap| tap.takes(at)) else {
            return;
        };
        let Some(position) = tap.position(at) else {
            return;
        };
        let (position, narrow) = tap.received.narrow(position, pcm);
        tap.buffer.push(CaptureChannel::Received, position, narrow);
    }

    /// The payload of the packet sent for the slot at `at`; `silence` when nothing played.
    pub(super) fn record_sent(&mut self, at: Instant, payload: &[u8], silence: bool) {
        let Some(tap) = self.tap.as_deref_mut().filter(|tap| tap.takes(at)) else {
            return;
        };
        // G.711 keeps no state between packets; the other decoders must hear the silence as
        // the caller's did, or the prompt after it would start from a stale state.
        let stateless = matches!(tap.sent_decoder.kind(), CodecKind::Pcmu | CodecKind::Pcma);
        if silence && stateless {
            return;
        }
        let Ok(n) = tap.sent_decoder.decode(payload, &mut tap.sent_pcm) else {
            return;
        };
        tap.sent_decoded += 1;
        if silence {
            return;
        }
        let Some(position) = tap.position(at) else {
            return;
        };
        let pcm = &tap.sent_pcm[..n.min(tap.sent_pcm.len())];
        let (position, narrow) = tap.sent.narrow(position, pcm);
        tap.buffer.push(CaptureChannel::Sent, position, narrow);
    }

    /// Hands out every buffered chunk, oldest first, and empties the buffer.
    pub(super) fn drain(&mut self, f: impl FnMut(CaptureChannel, u64, &[i16])) {
        if let Some(tap) = self.tap.as_deref_mut() {
            tap.buffer.drain(f);
        }
    }

    /// Samples dropped because the buffer was full.
    pub(super) fn dropped(&self) -> u64 {
        self.tap.as_deref().map_or(0, |tap| tap.buffer.dropped)
    }

    /// Sent packets decoded.
    pub(super) fn sent_decoded(&self) -> u64 {
        self.tap.as_deref().map_or(0, |tap| tap.sent_decoded)
    }
}

impl Tap {
    fn new(now: Instant, codec: CodecKind, pcm_rate: u32, frame_capacity: usize) -> Option<Self> {
        Some(Self {
            origin: now,
            window: Window {
                start: now,
                stop: None,
            },
            previous: None,
            received: Narrowing::new(pcm_rate, frame_capacity)?,
            sent: Narrowing::new(pcm_rate, frame_capacity)?,
            sent_decoder: Decoder::new(codec, pcm_rate).ok()?,
            sent_pcm: vec![0; frame_capacity],
            sent_decoded: 0,
            buffer: ChunkRing::new(CAPTURE_BUFFER_SAMPLES, CAPTURE_BUFFER_CHUNKS),
        })
    }

    /// A start after a stop: a new window, unless the old one had not ended yet.
    fn reopen(&mut self, now: Instant) {
        match self.window.stop {
            None => {}
            Some(stop) if now <= stop => self.window.stop = None,
            Some(_) => {
                self.previous = Some(self.window);
                self.window = Window {
                    start: now,
                    stop: None,
                };
            }
        }
    }

    fn takes(&self, at: Instant) -> bool {
        self.window.contains(at) || self.previous.is_some_and(|w| w.contains(at))
    }

    /// The position of schedule time `at`: 8 kHz samples since the origin.
    fn position(&self, at: Instant) -> Option<u64> {
        let since = at.checked_duration_since(self.origin)?;
        let samples = since.as_nanos() * u128::from(CAPTURE_RATE) / 1_000_000_000;
        u64::try_from(samples).ok()
    }
}

/// One channel's way to 8 kHz, and where its last chunk ended.
struct Narrowing {
    /// `None` for audio decoded at 8 kHz already.
    decimator: Option<Decimator>,
    narrow: Vec<i16>,
    next_position: Option<u64>,
}

impl Narrowing {
    /// `None` when `pcm_rate` is not a multiple of 8 kHz.
    fn new(pcm_rate: u32, frame_capacity: usize) -> Option<Self> {
        let decimator = match pcm_rate {
            CAPTURE_RATE => None,
            _ => Some(Decimator::new(pcm_rate, CAPTURE_RATE).ok()?),
        };
        let factor = decimator.as_ref().map_or(1, Decimator::factor);
        Some(Self {
            decimator,
            narrow: vec![0; frame_capacity / factor + 1],
            next_position: None,
        })
    }

    /// `pcm` at 8 kHz, with its position: trimmed at the start where it would overlap the
    /// chunk before (so positions only grow), empty when nothing is left.
    fn narrow<'a>(&'a mut self, position: u64, pcm: &'a [i16]) -> (u64, &'a [i16]) {
        let expected = self.next_position;
        let out = match self.decimator.as_mut() {
            None => pcm,
            Some(decimator) => {
                if expected.is_none_or(|expected| position > expected) {
                    // After a gap the filter starts from silence, which is what the gap was.
                    decimator.reset();
                }
                let needed = decimator.output_len(pcm.len());
                if self.narrow.len() < needed {
                    self.narrow.resize(needed, 0);
                }
                let n = decimator.process(pcm, &mut self.narrow).unwrap_or(0);
                &self.narrow[..n]
            }
        };
        let end = position + out.len() as u64;
        let start = expected.map_or(position, |expected| expected.max(position));
        self.next_position = Some(end.max(start));
        let skip = usize::try_from(start - position)
            .unwrap_or(usize::MAX)
            .min(out.len());
        (start, &out[skip..])
    }
}

/// A chunk waiting in the ring.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    channel: CaptureChannel,
    position: u64,
    offset: usize,
    len: usize,
}

/// Captured chunks waiting to be drained, their samples one after another in a preallocated
/// buffer. When a chunk does not fit, the oldest go and what remains moves to the front: a
/// copy on the overflow path only, which a worker that drains never takes.
struct ChunkRing {
    samples: Vec<i16>,
    used: usize,
    chunks: VecDeque<Chunk>,
    max_chunks: usize,
    dropped: u64,
}

impl ChunkRing {
    fn new(samples: usize, chunks: usize) -> Self {
        Self {
            samples: vec![0; samples],
            used: 0,
            chunks: VecDeque::with_capacity(chunks),
            max_chunks: chunks.max(1),
            dropped: 0,
        }
    }

    fn push(&mut self, channel: CaptureChannel, position: u64, pcm: &[i16]) {
        let pcm = &pcm[..pcm.len().min(self.samples.len())];
        if pcm.is_empty() {
            return;
        }
        self.make_room(pcm.len());
        let offset = self.used;
        self.samples[offset..offset + pcm.len()].copy_from_slice(pcm);
        self.used += pcm.len();
        self.chunks.push_back(Chunk {
            channel,
            position,
            offset,
            len: pcm.len(),
        });
    }

    /// Drops the oldest chunks until `len` more samples and one more chunk fit.
    fn make_room(&mut self, len: usize) {
        let mut freed = 0;
        while self.used - freed + len > self.samples.len() || self.chunks.len() >= self.max_chunks {
            let Some(oldest) = self.chunks.pop_front() else {
                break;
            };
            freed = oldest.offset + oldest.len;
            self.dropped += oldest.len as u64;
        }
        if freed == 0 {
            return;
        }
        self.samples.copy_within(freed..self.used, 0);
        self.used -= freed;
        for chunk in &mut self.chunks {
            chunk.offset -= freed;
        }
    }

    fn drain(&mut self, mut f: impl FnMut(CaptureChannel, u64, &[i16])) {
        for chunk in self.chunks.drain(..) {
            f(
                chunk.channel,
                chunk.position,
                &self.samples[chunk.offset..chunk.offset + chunk.len],
            );
        }
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(ring: &mut ChunkRing) -> Vec<(CaptureChannel, u64, Vec<i16>)> {
        let mut out = Vec::new();
        ring.drain(|channel, position, pcm| out.push((channel, position, pcm.to_vec())));
        out
    }

    #[test]
    fn a_full_ring_drops_the_oldest_chunks_and_counts_their_samples() {
        use CaptureChannel::{Received, Sent};
        let mut ring = ChunkRing::new(10, 3);
        ring.push(Received, 0, &[1, 1, 1, 1]);
        ring.push(Sent, 0, &[2, 2, 2]);
        ring.push(Received, 4, &[3, 3, 3]);
        assert_eq!(ring.dropped, 0);
        // Needs 3 samples and a fourth chunk: the oldest goes.
        ring.push(Sent, 3, &[4, 4, 4]);
        assert_eq!(ring.dropped, 4);
        assert_eq!(
            contents(&mut ring),
            [
                (Sent, 0, vec![2, 2, 2]),
                (Received, 4, vec![3, 3, 3]),
                (Sent, 3, vec![4, 4, 4]),
            ]
        );
        // Drained: empty, and the whole room is there again.
        ring.push(Received, 7, &[5; 10]);
        assert_eq!(ring.dropped, 4);
        assert_eq!(contents(&mut ring), [(Received, 7, vec![5; 10])]);
        assert!(contents(&mut ring).is_empty());
    }

    #[test]
    fn narrowing_trims_an_overlap_and_keeps_positions_growing() {
        let mut narrowing = Narrowing::new(8_000, 480).expect("8 kHz needs no decimator");
        let pcm: Vec<i16> = (0..160).collect();
        assert_eq!(narrowing.narrow(100, &pcm).0, 100);
        let (position, trimmed) = narrowing.narrow(200, &pcm);
        assert_eq!((position, trimmed.len(), trimmed[0]), (260, 100, 60));
        assert!(narrowing.narrow(0, &pcm[..50]).1.is_empty());
        assert_eq!(narrowing.narrow(1000, &pcm).0, 1000);
    }

    #[test]
    fn a_restart_continues_the_timeline_and_keeps_slots_of_the_old_window() {
        #[allow(clippy::disallowed_methods, reason = "one arbitrary base instant")]
        let t0 = Instant::now();
        let ms = std::time::Duration::from_millis;
        let mut capture = Capture::new();
        assert!(!capture.takes(t0));
        capture.start(t0 + ms(10), CodecKind::Pcmu, 8_000, 480);
        capture.stop(t0 + ms(100));
        capture.start(t0 + ms(200), CodecKind::Pcmu, 8_000, 480);
        assert!(!capture.takes(t0 + ms(5)));
        assert!(
            capture.takes(t0 + ms(90)),
            "a slot of the first window, served late"
        );
        assert!(!capture.takes(t0 + ms(150)));
        assert!(capture.takes(t0 + ms(200)));
        let tap = capture.tap.as_deref().expect("started");
        assert_eq!(tap.position(t0 + ms(200)), Some(1520));
    }
}
