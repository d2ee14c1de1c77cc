//! The recording of one call leg, inside the media worker that serves its stream.
//!
//! A [`RecordingTap`] owns the sans-IO [`RecordingWriter`]: the worker hands it the audio the
//! stream captured, pause and evidence marks from the call application, and its turn on every
//! serve round; the tap seals segments when they are due and sends the sealed bytes, in order,
//! to the recording's storage task ([`Chunk`]). Plaintext audio never leaves the worker: it
//! goes from the stream's buffers into the writer's segment, which is encrypted in memory.
//!
//! Positions are 8 kHz samples on the stream's capture timeline, whose origin is the instant
//! the tap started (the stream's first `start_capture`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_media::stream::CaptureChannel;
use herald_recorder::{
    Evidence, GapBegin, GapEnd, GapReason, NodeSigningKey, RecordingWriter, WriterError,
};
use tokio::sync::mpsc::UnboundedSender;

/// Samples per second of the capture timeline and of stored audio.
const RATE: u64 = 8_000;

/// What a tap sends its storage task, in order.
#[derive(Debug)]
pub enum Chunk {
    /// Sealed bytes to append to the blob (the header first).
    Bytes(Vec<u8>),
    /// Recording paused (metadata for the database; the same gap is sealed in the blob).
    GapBegun {
        position: u64,
        unix_ms: i64,
        reason: GapReason,
        actor: String,
    },
    /// Recording resumed.
    GapEnded { position: u64, unix_ms: i64 },
    /// Disclosure evidence (also sealed in the blob).
    Evidence(Evidence),
    /// The last segment and the signed trailer were sent: the blob is complete.
    Finished(Finished),
}

/// What a complete recording's metadata needs.
#[derive(Debug, Clone)]
pub struct Finished {
    pub segments: u32,
    pub end_unix_ms: i64,
    /// Audio length: the longest channel.
    pub duration_ms: i64,
    pub digest: [u8; 32],
}

/// A mark from the call application.
#[derive(Debug, Clone)]
pub enum Mark {
    Pause { reason: GapReason, actor: String },
    Resume { actor: String },
    Evidence(Evidence),
}

/// One call leg's recording, owned by the media worker of its stream.
pub struct RecordingTap {
    writer: RecordingWriter,
    sink: UnboundedSender<Chunk>,
    node_key: Arc<NodeSigningKey>,
    /// The capture timeline's origin, and the wall clock then.
    origin: Instant,
    origin_unix_ms: i64,
    /// Audio before this position is not recorded: it was captured while paused and drained
    /// after the resumption (the jitter buffer delays received audio).
    resume_at: u64,
    paused: bool,
    /// The writer refused something: the recording is closed as it stands.
    failed: bool,
}

impl RecordingTap {
    /// A tap whose timeline starts at `origin` (unix time `origin_unix_ms`); the writer's header
    /// is sent at once.
    pub fn new(
        writer: RecordingWriter,
        sink: UnboundedSender<Chunk>,
        node_key: Arc<NodeSigningKey>,
        origin: Instant,
        origin_unix_ms: i64,
    ) -> Self {
        let mut tap = Self {
            writer,
            sink,
            node_key,
            origin,
            origin_unix_ms,
            resume_at: 0,
            paused: false,
            failed: false,
        };
        tap.flush();
        tap
    }

    /// The capture position of `now`.
    fn position(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_micros() * u128::from(RATE) / 1_000_000).unwrap_or(u64::MAX)
    }

    fn unix_ms(&self, now: Instant) -> i64 {
        let elapsed = now.saturating_duration_since(self.origin);
        self.origin_unix_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }

    /// Captured audio of one channel.
    pub fn audio(&mut self, now: Instant, channel: CaptureChannel, position: u64, pcm: &[i16]) {
        if self.failed || self.paused {
            return;
        }
        let skip = usize::try_from(self.resume_at.saturating_sub(position))
            .unwrap_or(usize::MAX)
            .min(pcm.len());
        let index = match channel {
            CaptureChannel::Received => 0,
            CaptureChannel::Sent => 1,
        };
        let result = self
            .writer
            .audio(now, index, position + skip as u64, &pcm[skip..]);
        self.check(result);
    }

    /// A pause, a resumption or evidence from the call application.
    pub fn mark(&mut self, now: Instant, mark: Mark) {
        if self.failed {
            return;
        }
        let position = self.position(now);
        let unix_ms = self.unix_ms(now);
        let wall = u64::try_from(unix_ms).unwrap_or_default();
        match mark {
            Mark::Pause { reason, actor } if !self.paused => {
                self.paused = true;
                let gap = GapBegin {
                    position,
                    unix_ms: wall,
                    reason,
                    actor: actor.clone(),
                    detail: String::new(),
                };
                let result = self.writer.gap_begin(now, &gap);
                self.check(result);
                self.send(Chunk::GapBegun {
                    position,
                    unix_ms,
                    reason,
                    actor,
                });
            }
            Mark::Resume { actor } if self.paused => {
                self.paused = false;
                self.resume_at = position;
                let gap = GapEnd {
                    position,
                    unix_ms: wall,
                    actor,
                };
                let result = self.writer.gap_end(now, &gap);
                self.check(result);
                self.send(Chunk::GapEnded { position, unix_ms });
            }
            Mark::Evidence(evidence) => {
                let result = self.writer.evidence(now, &evidence);
                self.check(result);
                self.send(Chunk::Evidence(evidence));
            }
            // A pause while paused, a resumption while recording: nothing changes.
            Mark::Pause { .. } | Mark::Resume { .. } => {}
        }
        self.flush();
    }

    /// When the open segment is due to be sealed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.writer.poll_timeout()
    }

    /// Seals what is due and sends it.
    pub fn pump(&mut self, now: Instant) {
        if self.writer.poll_timeout().is_some_and(|due| due <= now) {
            let result = self.writer.handle_timeout(now);
            self.check(result);
        }
        self.flush();
    }

    /// Ends the recording: the last segment and the signed trailer.
    pub fn finish(mut self, now: Instant) {
        let end_unix_ms = self.unix_ms(now);
        let samples = self.writer.samples_per_channel().into_iter().max();
        let result = self.writer.finish(
            u64::try_from(end_unix_ms).unwrap_or_default(),
            &self.node_key,
        );
        if let Err(error) = result {
            // The storage task seals what arrived as interrupted.
            tracing::error!(%error, "a recording could not be finished");
            self.flush();
            return;
        }
        self.flush();
        let duration = Duration::from_micros(samples.unwrap_or_default() * 1_000_000 / RATE);
        self.send(Chunk::Finished(Finished {
            segments: self.writer.stats().segments,
            end_unix_ms,
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            digest: self.writer.digest(),
        }));
    }

    fn check(&mut self, result: Result<(), WriterError>) {
        if let Err(error) = result {
            tracing::error!(%error, "recording writer refused input; the recording stops here");
            self.failed = true;
        }
    }

    fn flush(&mut self) {
        while let Some(bytes) = self.writer.poll_output() {
            self.send(Chunk::Bytes(bytes));
        }
    }

    fn send(&self, chunk: Chunk) {
        // A storage task that is gone already logged why; the worker goes on.
        let _ = self.sink.send(chunk);
    }
}
