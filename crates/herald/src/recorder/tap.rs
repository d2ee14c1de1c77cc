//! The recording of one call leg, inside the media worker that serves its stream.
//!
//! A [`RecordingTap`] owns the sans-IO [`RecordingWriter`]: the worker hands it the audio the
//! stream captured, pause and evidence marks from the call application, and its turn on every
//! serve round; the tap seals segments when they are due and sends the sealed bytes, in order,
//! to the recording's storage task ([`Chunk`]). Plaintext audio never leaves the worker: it
//! goes from the stream's buffers into the writer's segment, which is encrypted in memory.
//!
//! Positions are 8 kHz samples. The stream's capture timeline starts at its first
//! `start_capture`; a tap is attached to it by the worker ([`RecordingTap::attach`]) and counts
//! from that moment, so a second recording of the same call starts at 0 too, and pauses are
//! placed on the timeline the audio is on.
//!
//! After a pause, received audio is dropped for a guard interval past the resumption: the
//! caller's audio reaches the recording when the jitter buffer plays it out, so audio spoken
//! during the pause (the last PIN tone) would otherwise arrive just after it ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_media::stream::CaptureChannel;
use herald_recorder::{
    Evidence, GapBegin, GapEnd, GapReason, NodeSigningKey, RecordingWriter, WriterError,
};
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;

/// Samples per second of the capture timeline and of stored audio.
const RATE: u64 = 8_000;

/// Chunks a recording may have queued for its storage task: about a minute of segments. A
/// storage task that falls further behind (a stalled object store) ends the recording as
/// interrupted rather than letting the worker's memory grow.
pub const QUEUE: usize = 64;

/// What, besides the jitter buffer's own delay, keeps received audio out after a pause.
const RESUME_GUARD: Duration = Duration::from_millis(100);

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
    sink: Sender<Chunk>,
    node_key: Arc<NodeSigningKey>,
    /// The stream's capture origin, and this recording's start on that timeline.
    origin: Instant,
    base: u64,
    /// The wall clock at `begin` (the header's start) and the instant then.
    start: Instant,
    start_unix_ms: i64,
    /// Audio of each channel (received, sent) before this position (on the recording's
    /// timeline) is not recorded: it lies in the last gap, or (received) it was spoken while
    /// paused and played out after the resumption.
    from: [u64; 2],
    /// The end of the audio written so far, on the recording's timeline. A pause begins no
    /// earlier: audio captured before the pause took effect stays, and never overlaps the gap.
    written_end: u64,
    /// Where the open gap began.
    gap_start: u64,
    /// How long after a resumption received audio is still from the pause: the jitter
    /// buffer's largest delay plus a guard.
    resume_guard: u64,
    paused: bool,
    /// A pause in force when the recording started.
    initial_pause: Option<Mark>,
    /// Something was refused or lost: the recording is closed as interrupted.
    failed: bool,
}

impl RecordingTap {
    /// A tap started at `start` (unix time `start_unix_ms`), paused from the outset if
    /// `initial_pause` says so. `jitter_max` is the stream's largest playout delay. The
    /// writer's header is queued at once.
    pub fn new(
        writer: RecordingWriter,
        sink: Sender<Chunk>,
        node_key: Arc<NodeSigningKey>,
        (start, start_unix_ms): (Instant, i64),
        jitter_max: Duration,
        initial_pause: Option<Mark>,
    ) -> Self {
        let mut tap = Self {
            writer,
            sink,
            node_key,
            origin: start,
            base: 0,
            start,
            start_unix_ms,
            from: [0, 0],
            written_end: 0,
            gap_start: 0,
            resume_guard: samples(jitter_max + RESUME_GUARD),
            paused: false,
            initial_pause,
            failed: false,
        };
        tap.flush();
        tap
    }

    /// Joins the stream's capture timeline (which began at `origin`) at `now`: this
    /// recording's position 0. Applies a pause that was in force when it started.
    pub fn attach(&mut self, origin: Instant, now: Instant) {
        self.origin = origin;
        self.base = samples(now.saturating_duration_since(origin));
        if let Some(pause) = self.initial_pause.take() {
            self.mark(now, pause);
        }
    }

    /// This recording's position of `now`.
    fn position(&self, now: Instant) -> u64 {
        samples(now.saturating_duration_since(self.origin)).saturating_sub(self.base)
    }

    fn unix_ms(&self, now: Instant) -> i64 {
        let elapsed = now.saturating_duration_since(self.start);
        self.start_unix_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }

    /// Captured audio of one channel, at its position on the stream's capture timeline.
    pub fn audio(&mut self, now: Instant, channel: CaptureChannel, position: u64, pcm: &[i16]) {
        if self.failed || self.paused {
            return;
        }
        let index = match channel {
            CaptureChannel::Received => 0,
            CaptureChannel::Sent => 1,
        };
        let from = self.from[usize::from(index)];
        // Audio from before this recording started, or (received) from a pause.
        let first = self.base.saturating_add(from);
        let skip = usize::try_from(first.saturating_sub(position))
            .unwrap_or(usize::MAX)
            .min(pcm.len());
        if skip == pcm.len() {
            return;
        }
        let position = position + skip as u64 - self.base;
        let pcm = &pcm[skip..];
        self.written_end = self.written_end.max(position + pcm.len() as u64);
        let result = self.writer.audio(now, index, position, pcm);
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
                let position = position.max(self.written_end);
                self.gap_start = position;
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
                let position = position.max(self.gap_start);
                self.from = [position.saturating_add(self.resume_guard), position];
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

    /// Ends the recording: the last segment and the signed trailer. A recording that failed
    /// is left without them: its storage task closes it as interrupted.
    pub fn finish(mut self, now: Instant) {
        if self.failed {
            return;
        }
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

    /// Sends what the writer sealed. Once a chunk was lost, nothing more is sent: the blob
    /// keeps its intact prefix.
    fn flush(&mut self) {
        while let Some(bytes) = self.writer.poll_output() {
            if !self.failed {
                self.send(Chunk::Bytes(bytes));
            }
        }
    }

    fn send(&mut self, chunk: Chunk) {
        match self.sink.try_send(chunk) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if !self.failed {
                    tracing::error!(
                        "recording storage is falling behind; the recording stops here"
                    );
                }
                self.failed = true;
            }
            // A storage task that is gone already logged why; the worker goes on.
            Err(TrySendError::Closed(_)) => self.failed = true,
        }
    }
}

/// Samples at 8 kHz in `duration`.
fn samples(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros() * u128::from(RATE) / 1_000_000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use herald_recorder::{
        ChannelRole, Codec, DataKey, Header, RecipientKeyId, Record, RecordingId, WriterConfig,
        open,
    };
    use rand::SeedableRng;

    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn tap(
        start: Instant,
        jitter_max: Duration,
        pause: Option<Mark>,
    ) -> (RecordingTap, tokio::sync::mpsc::Receiver<Chunk>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let node = Arc::new(NodeSigningKey::generate(&mut rng));
        let header = Header {
            id: RecordingId([1; 16]),
            codec: Codec::L16,
            sample_rate: 8000,
            channels: vec![ChannelRole::Caller, ChannelRole::Herald],
            start_unix_ms: 1_700_000_000_000,
            recipients: vec![RecipientKeyId([2; 8])],
            node_key: node.id(),
        };
        let writer =
            RecordingWriter::new(header, &DataKey::from_bytes(KEY), WriterConfig::default())
                .unwrap();
        let (sink, chunks) = tokio::sync::mpsc::channel(QUEUE);
        let tap = RecordingTap::new(
            writer,
            sink,
            node,
            (start, 1_700_000_000_000),
            jitter_max,
            pause,
        );
        (tap, chunks)
    }

    /// The blob the tap sent, opened: (channel, position, samples) of every audio record, and
    /// the gap records' positions.
    fn recorded(
        mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
    ) -> (Vec<(u8, u64, usize)>, Vec<u64>, bool) {
        let mut blob = Vec::new();
        let mut finished = false;
        while let Ok(chunk) = chunks.try_recv() {
            match chunk {
                Chunk::Bytes(bytes) => blob.extend(bytes),
                Chunk::Finished(_) => finished = true,
                _ => {}
            }
        }
        let recording = open(&blob, &DataKey::from_bytes(KEY)).unwrap();
        let mut audio = Vec::new();
        let mut gaps = Vec::new();
        for record in &recording.records {
            match record {
                Record::Audio(a) => audio.push((a.channel, a.position, a.payload.len() / 2)),
                Record::GapBegin(g) => gaps.push(g.position),
                Record::GapEnd(g) => gaps.push(g.position),
                Record::Evidence(_) => {}
            }
        }
        (audio, gaps, finished)
    }

    const FRAME: [i16; 160] = [1000; 160];

    #[test]
    fn a_recording_counts_from_where_it_joins_the_capture_timeline() {
        let t0 = Instant::now();
        let (mut tap, chunks) = tap(t0, Duration::from_millis(200), None);
        // The stream has captured for 1 s already (an earlier recording).
        tap.attach(t0 - Duration::from_secs(1), t0);
        // Audio from before this recording's start is not part of it.
        tap.audio(t0, CaptureChannel::Sent, 7_840, &FRAME);
        tap.audio(t0, CaptureChannel::Sent, 8_000, &FRAME);
        tap.audio(t0, CaptureChannel::Received, 8_160, &FRAME);
        tap.finish(t0 + Duration::from_millis(40));
        let (mut audio, _, finished) = recorded(chunks);
        assert!(finished);
        audio.sort_unstable();
        assert_eq!(audio, [(0, 160, 160), (1, 0, 160)]);
    }

    #[test]
    fn received_audio_from_a_pause_stays_out_after_the_resumption() {
        let t0 = Instant::now();
        let (mut tap, chunks) = tap(t0, Duration::from_millis(200), None);
        tap.attach(t0, t0);
        tap.audio(t0, CaptureChannel::Received, 0, &FRAME);
        tap.mark(
            t0 + Duration::from_secs(1),
            Mark::Pause {
                reason: GapReason::SecureInput,
                actor: "ivr".into(),
            },
        );
        // Anything while paused is dropped.
        tap.audio(
            t0 + Duration::from_millis(1500),
            CaptureChannel::Received,
            10_000,
            &FRAME,
        );
        tap.audio(
            t0 + Duration::from_millis(1500),
            CaptureChannel::Sent,
            10_000,
            &FRAME,
        );
        let resumed = t0 + Duration::from_secs(2);
        tap.mark(
            resumed,
            Mark::Resume {
                actor: "ivr".into(),
            },
        );
        // Received audio played out within jitter_max + 100 ms of the resumption was spoken
        // during the pause: dropped. Herald's own audio is not delayed: kept.
        tap.audio(resumed, CaptureChannel::Received, 16_000, &FRAME);
        tap.audio(resumed, CaptureChannel::Sent, 16_000, &FRAME);
        tap.audio(resumed, CaptureChannel::Received, 16_000 + 2_320, &FRAME);
        tap.audio(resumed, CaptureChannel::Received, 16_000 + 2_400, &FRAME);
        tap.finish(resumed + Duration::from_secs(1));
        let (mut audio, gaps, _) = recorded(chunks);
        assert_eq!(gaps, [8_000, 16_000]);
        audio.sort_unstable();
        // The caller's audio resumes at 18,400 = 16,000 + 300 ms: the first frame after the
        // guard is cut to its last 80 samples, the next continues it (its first 80 samples
        // were written already).
        assert_eq!(audio, [(0, 0, 160), (0, 18_400, 160), (1, 16_000, 160)]);
    }

    #[test]
    fn a_gap_never_overlaps_audio_captured_before_the_pause_took_effect() {
        let t0 = Instant::now();
        let (mut tap, chunks) = tap(t0, Duration::from_millis(200), None);
        tap.attach(t0, t0);
        // The worker drained a frame that ends 20 ms past the pause's instant.
        tap.audio(t0, CaptureChannel::Sent, 7_840, &FRAME);
        tap.audio(t0, CaptureChannel::Received, 7_840, &FRAME);
        let pause = Mark::Pause {
            reason: GapReason::Api,
            actor: "api:desk".into(),
        };
        tap.mark(t0 + Duration::from_millis(995), pause);
        // Resumed "before" the gap's start as pushed: the gap stays empty, not negative.
        tap.mark(
            t0 + Duration::from_millis(999),
            Mark::Resume {
                actor: "api:desk".into(),
            },
        );
        // Herald's audio resumes at the gap's end, not inside it.
        tap.audio(
            t0 + Duration::from_secs(1),
            CaptureChannel::Sent,
            7_920,
            &FRAME,
        );
        tap.finish(t0 + Duration::from_secs(2));
        let (mut audio, gaps, _) = recorded(chunks);
        assert_eq!(gaps, [8_000, 8_000]);
        audio.sort_unstable();
        assert_eq!(audio, [(0, 7_840, 160), (1, 7_840, 160), (1, 8_000, 80)]);
    }

    #[test]
    fn a_storage_task_that_falls_behind_ends_the_recording_unfinished() {
        let t0 = Instant::now();
        let (mut tap, mut chunks) = tap(t0, Duration::from_millis(200), None);
        tap.attach(t0, t0);
        // Nobody drains the queue: a minute and more of sealed segments pile up.
        for second in 0..(QUEUE as u64 + 5) {
            let now = t0 + Duration::from_secs(second);
            for frame in 0..50 {
                tap.audio(
                    now,
                    CaptureChannel::Sent,
                    second * 8000 + frame * 160,
                    &FRAME,
                );
            }
            tap.pump(now + Duration::from_millis(999));
        }
        tap.finish(t0 + Duration::from_secs(QUEUE as u64 + 6));
        let mut finished = false;
        let mut queued = 0;
        while let Ok(chunk) = chunks.try_recv() {
            queued += 1;
            finished |= matches!(chunk, Chunk::Finished(_));
        }
        assert_eq!(queued, QUEUE, "the queue is bounded");
        assert!(
            !finished,
            "a recording with a lost segment is not reported complete"
        );
    }
}
