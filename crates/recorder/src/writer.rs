//! [`RecordingWriter`]: the sans-IO machine that turns audio, gaps and evidence into the bytes of
//! an encrypted blob.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use crate::blob_layout::{FRAME_HEADER_LEN, MAX_SEGMENT_PLAINTEXT, put_frame_header};
use crate::data_key::{DataKey, SegmentKey, TAG_LEN};
use crate::g711::{alaw_encode, ulaw_encode};
use crate::header::{Codec, Header, HeaderError};
use crate::key_ids::NodeKeyId;
use crate::node_key::NodeSigningKey;
use crate::public_trailer::{DigestChain, PublicTrailer, TrailerState};
use crate::records::{
    AUDIO_RECORD_OVERHEAD, Evidence, GapBegin, GapEnd, InnerTrailer, TextField, inner_trailer_len,
    put_audio, put_evidence, put_gap_begin, put_gap_end, put_inner_trailer,
};

/// Shortest allowed [`WriterConfig::segment_duration`].
pub const MIN_SEGMENT_DURATION: Duration = Duration::from_millis(100);
/// Longest allowed [`WriterConfig::segment_duration`]: a crash loses at most this much audio.
pub const MAX_SEGMENT_DURATION: Duration = Duration::from_secs(1);
/// Smallest allowed [`WriterConfig::max_segment_bytes`].
pub const MIN_SEGMENT_BYTES: usize = 4096;

/// When the writer seals a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// A segment is sealed this long after its first record (100 ms..=1 s, default 1 s).
    pub segment_duration: Duration,
    /// A segment is sealed before its plaintext would exceed this many bytes
    /// (4 KiB..=1 MiB, default 64 KiB).
    pub max_segment_bytes: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            segment_duration: MAX_SEGMENT_DURATION,
            max_segment_bytes: 64 * 1024,
        }
    }
}

/// Misuse of the writer; none of these can be caused by audio content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriterError {
    /// The header breaks a format limit.
    #[error("invalid header: {0}")]
    Header(#[from] HeaderError),
    /// `segment_duration` outside 100 ms..=1 s.
    #[error("segment duration {0:?} outside 100 ms..=1 s")]
    SegmentDuration(Duration),
    /// `max_segment_bytes` outside 4 KiB..=1 MiB.
    #[error("segment byte cap {0} outside 4096..=1048576")]
    SegmentBytes(usize),
    /// A channel index the header does not have.
    #[error("no channel {0} in this recording")]
    NoSuchChannel(u8),
    /// A sample position past u64.
    #[error("sample position overflows")]
    PositionOverflow,
    /// A free-text field breaks its limits.
    #[error("text for {0:?} is empty, too long or has control characters")]
    BadText(TextField),
    /// `gap_begin` while a gap is open.
    #[error("a gap is already open")]
    GapAlreadyOpen,
    /// `gap_end` with no gap open.
    #[error("no gap is open")]
    NoOpenGap,
    /// The signing key is not the one the header names.
    #[error("header names node key {expected}, finish was given {given}")]
    WrongNodeKey {
        /// The header's node key id.
        expected: NodeKeyId,
        /// The given key's id.
        given: NodeKeyId,
    },
    /// 2^32 - 1 segments: about 136 years of one-second segments.
    #[error("too many segments")]
    TooManySegments,
    /// `finish` was called already.
    #[error("the recording is finished")]
    Finished,
}

/// Counters for what the writer did not record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Segments sealed so far.
    pub segments: u32,
    /// Samples dropped because they were at or before a position already written.
    pub dropped_backward_samples: u64,
    /// Samples dropped because a gap was open.
    pub dropped_in_gap_samples: u64,
}

/// The writer's state.
///
/// ```text
/// Recording --finish()--> Finished
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Recording,
    Finished,
}

/// One channel's write cursor and the audio staged for the open segment.
#[derive(Default)]
struct ChannelStage {
    /// The next position this channel accepts; lower positions are dropped.
    cursor: u64,
    /// Position of the first staged sample.
    staged_from: u64,
    /// Encoded samples not yet framed as a record.
    staged: Vec<u8>,
}

/// Writes one recording. Feed it with [`audio`](Self::audio), [`gap_begin`](Self::gap_begin),
/// [`gap_end`](Self::gap_end), [`evidence`](Self::evidence); call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout); append
/// every [`poll_output`](Self::poll_output) chunk to the blob in order; end with
/// [`finish`](Self::finish).
pub struct RecordingWriter {
    header: Header,
    config: WriterConfig,
    key: SegmentKey,
    /// SHA-256 of the header bytes: every segment's associated data.
    aad: [u8; 32],
    chain: DigestChain,
    channels: Vec<ChannelStage>,
    /// Framed records of the open segment (staged audio not included).
    plaintext: Vec<u8>,
    /// Text records are encoded here first, to check that they fit.
    scratch: Vec<u8>,
    segment_opened: Option<Instant>,
    next_index: u32,
    gap_open: bool,
    output: VecDeque<Vec<u8>>,
    stats: WriterStats,
    state: State,
}

impl RecordingWriter {
    /// A writer for `header`'s recording, sealing with a key derived from `data_key`. The header
    /// bytes are the first output.
    pub fn new(
        header: Header,
        data_key: &DataKey,
        config: WriterConfig,
    ) -> Result<Self, WriterError> {
        header.validate()?;
        if !(MIN_SEGMENT_DURATION..=MAX_SEGMENT_DURATION).contains(&config.segment_duration) {
            return Err(WriterError::SegmentDuration(config.segment_duration));
        }
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_PLAINTEXT).contains(&config.max_segment_bytes) {
            return Err(WriterError::SegmentBytes(config.max_segment_bytes));
        }
        let header_bytes = header.encode();
        let chain = DigestChain::new(&header_bytes);
        Ok(Self {
            key: SegmentKey::derive(data_key, &header.id),
            aad: chain.value(),
            chain,
            channels: header
                .channels
                .iter()
                .map(|_| ChannelStage::default())
                .collect(),
            plaintext: Vec::with_capacity(config.max_segment_bytes),
            scratch: Vec::new(),
            segment_opened: None,
            next_index: 0,
            gap_open: false,
            output: VecDeque::from([header_bytes]),
            stats: WriterStats::default(),
            state: State::Recording,
            header,
            config,
        })
    }

    /// The header being written.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Samples written per channel so far (each channel's end position).
    pub fn samples_per_channel(&self) -> Vec<u64> {
        self.channels.iter().map(|c| c.cursor).collect()
    }

    /// The digest chain over the header and every segment frame sealed so far: after
    /// [`finish`](Self::finish), the recording's integrity digest (what the trailer signs).
    pub fn digest(&self) -> [u8; 32] {
        self.chain.value()
    }

    /// What was sealed and dropped so far.
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    /// 16-bit PCM of `channel`, first sample at `position` (samples since the recording's
    /// start). Positions may jump forward (the skipped span is silence); samples at positions
    /// already written on this channel are dropped and counted, as is everything while a gap is
    /// open.
    pub fn audio(
        &mut self,
        now: Instant,
        channel: u8,
        position: u64,
        samples: &[i16],
    ) -> Result<(), WriterError> {
        self.ensure_recording()?;
        let index = usize::from(channel);
        let cursor = self
            .channels
            .get(index)
            .ok_or(WriterError::NoSuchChannel(channel))?
            .cursor;
        let end = position
            .checked_add(samples.len() as u64)
            .ok_or(WriterError::PositionOverflow)?;
        self.seal_if_due(now)?;
        let skip = cursor.saturating_sub(position).min(samples.len() as u64);
        self.stats.dropped_backward_samples += skip;
        let (position, samples) = (position + skip, &samples[skip as usize..]);
        if samples.is_empty() {
            return Ok(());
        }
        self.channels[index].cursor = end;
        if self.gap_open {
            self.stats.dropped_in_gap_samples += samples.len() as u64;
            return Ok(());
        }
        self.stage_audio(now, index, position, samples)
    }

    fn stage_audio(
        &mut self,
        now: Instant,
        index: usize,
        mut position: u64,
        mut samples: &[i16],
    ) -> Result<(), WriterError> {
        let stage = &self.channels[index];
        if !stage.staged.is_empty() && stage.staged_from + self.staged_samples(index) != position {
            self.flush_stage(index);
        }
        let bytes_per_sample = self.header.codec.bytes_per_sample();
        while !samples.is_empty() {
            let fit = (self.room_for_audio(index) / bytes_per_sample).min(samples.len());
            if fit == 0 {
                self.seal(false)?;
                continue;
            }
            self.segment_opened.get_or_insert(now);
            let (now_part, rest) = samples.split_at(fit);
            let stage = &mut self.channels[index];
            if stage.staged.is_empty() {
                stage.staged_from = position;
            }
            encode_into(self.header.codec, now_part, &mut stage.staged);
            position += fit as u64;
            samples = rest;
        }
        Ok(())
    }

    /// Recording pauses. Audio is dropped until [`gap_end`](Self::gap_end).
    pub fn gap_begin(&mut self, now: Instant, gap: &GapBegin) -> Result<(), WriterError> {
        self.ensure_recording()?;
        check_text(TextField::Actor, &gap.actor)?;
        check_text(TextField::Detail, &gap.detail)?;
        if self.gap_open {
            return Err(WriterError::GapAlreadyOpen);
        }
        self.gap_open = true;
        self.scratch.clear();
        put_gap_begin(&mut self.scratch, gap);
        self.append_scratch(now)
    }

    /// Recording resumes.
    pub fn gap_end(&mut self, now: Instant, gap: &GapEnd) -> Result<(), WriterError> {
        self.ensure_recording()?;
        check_text(TextField::Actor, &gap.actor)?;
        if !self.gap_open {
            return Err(WriterError::NoOpenGap);
        }
        self.gap_open = false;
        self.scratch.clear();
        put_gap_end(&mut self.scratch, gap);
        self.append_scratch(now)
    }

    /// Records that a disclosure prompt was played and what the caller chose.
    pub fn evidence(&mut self, now: Instant, evidence: &Evidence) -> Result<(), WriterError> {
        self.ensure_recording()?;
        check_text(TextField::PromptId, &evidence.prompt_id)?;
        check_text(TextField::Language, &evidence.language)?;
        self.scratch.clear();
        put_evidence(&mut self.scratch, evidence);
        self.append_scratch(now)
    }

    /// When the open segment is due to be sealed; `None` if nothing is buffered or the writer
    /// is finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Recording => self
                .segment_opened
                .map(|opened| opened + self.config.segment_duration),
            State::Finished => None,
        }
    }

    /// Seals the open segment if it is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), WriterError> {
        match self.state {
            State::Recording => self.seal_if_due(now),
            State::Finished => Ok(()),
        }
    }

    /// The next bytes to append to the blob: the header, then each sealed segment frame, then
    /// the public trailer.
    pub fn poll_output(&mut self) -> Option<Vec<u8>> {
        self.output.pop_front()
    }

    /// Seals the last segment (last flag, inner trailer) and emits the public trailer signed by
    /// `node_key`, which must be the key the header names.
    pub fn finish(
        &mut self,
        end_unix_ms: u64,
        node_key: &NodeSigningKey,
    ) -> Result<(), WriterError> {
        self.ensure_recording()?;
        if node_key.id() != self.header.node_key {
            return Err(WriterError::WrongNodeKey {
                expected: self.header.node_key,
                given: node_key.id(),
            });
        }
        self.flush_stages();
        let trailer_len = inner_trailer_len(self.channels.len());
        if self.plaintext.len() + trailer_len > self.config.max_segment_bytes {
            self.seal(false)?;
        }
        let inner = InnerTrailer {
            segment_count: self
                .next_index
                .checked_add(1)
                .ok_or(WriterError::TooManySegments)?,
            samples_per_channel: self.channels.iter().map(|c| c.cursor).collect(),
            running_digest: self.chain.value(),
        };
        put_inner_trailer(&mut self.plaintext, &inner);
        self.seal(true)?;
        let trailer = PublicTrailer::signed(
            TrailerState::Complete,
            self.next_index,
            end_unix_ms,
            self.chain.value(),
            node_key,
        );
        self.output.push_back(trailer.encode());
        self.state = State::Finished;
        Ok(())
    }

    fn ensure_recording(&self) -> Result<(), WriterError> {
        match self.state {
            State::Recording => Ok(()),
            State::Finished => Err(WriterError::Finished),
        }
    }

    fn append_scratch(&mut self, now: Instant) -> Result<(), WriterError> {
        self.seal_if_due(now)?;
        self.flush_stages();
        if self.plaintext.len() + self.scratch.len() > self.config.max_segment_bytes {
            self.seal(false)?;
        }
        self.segment_opened.get_or_insert(now);
        self.plaintext.extend_from_slice(&self.scratch);
        Ok(())
    }

    fn seal_if_due(&mut self, now: Instant) -> Result<(), WriterError> {
        match self.segment_opened {
            Some(opened) if now >= opened + self.config.segment_duration => self.seal(false),
            _ => Ok(()),
        }
    }

    fn staged_samples(&self, index: usize) -> u64 {
        (self.channels[index].staged.len() / self.header.codec.bytes_per_sample()) as u64
    }

    /// Plaintext bytes the open segment would have if sealed now.
    fn pending_len(&self) -> usize {
        let staged: usize = self
            .channels
            .iter()
            .filter(|stage| !stage.staged.is_empty())
            .map(|stage| AUDIO_RECORD_OVERHEAD + stage.staged.len())
            .sum();
        self.plaintext.len() + staged
    }

    /// Payload bytes channel `index` may still stage in the open segment.
    fn room_for_audio(&self, index: usize) -> usize {
        let new_record = if self.channels[index].staged.is_empty() {
            AUDIO_RECORD_OVERHEAD
        } else {
            0
        };
        self.config
            .max_segment_bytes
            .saturating_sub(self.pending_len() + new_record)
    }

    fn flush_stage(&mut self, index: usize) {
        let stage = &mut self.channels[index];
        if !stage.staged.is_empty() {
            // `index` came from the header's channel list, at most 8 long.
            put_audio(
                &mut self.plaintext,
                index as u8,
                stage.staged_from,
                &stage.staged,
            );
            stage.staged.clear();
        }
    }

    fn flush_stages(&mut self) {
        for index in 0..self.channels.len() {
            self.flush_stage(index);
        }
    }

    /// Seals what is buffered into the next segment frame; a non-last segment only if
    /// something is buffered.
    fn seal(&mut self, last: bool) -> Result<(), WriterError> {
        self.flush_stages();
        if self.plaintext.is_empty() && !last {
            return Ok(());
        }
        let index = self.next_index;
        let next = index.checked_add(1).ok_or(WriterError::TooManySegments)?;
        let sealed_len = self.plaintext.len() + TAG_LEN;
        let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + sealed_len);
        put_frame_header(&mut frame, index, last, sealed_len);
        frame.extend_from_slice(&self.plaintext);
        let tag = self
            .key
            .seal(index, last, &self.aad, &mut frame[FRAME_HEADER_LEN..]);
        frame.extend_from_slice(&tag);
        self.chain.push(&frame);
        self.output.push_back(frame);
        self.plaintext.zeroize();
        self.segment_opened = None;
        self.next_index = next;
        self.stats.segments = next;
        Ok(())
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        self.plaintext.zeroize();
        self.scratch.zeroize();
        for stage in &mut self.channels {
            stage.staged.zeroize();
        }
    }
}

fn check_text(field: TextField, text: &str) -> Result<(), WriterError> {
    if field.accepts(text) {
        Ok(())
    } else {
        Err(WriterError::BadText(field))
    }
}

fn encode_into(codec: Codec, samples: &[i16], out: &mut Vec<u8>) {
    match codec {
        Codec::Pcma => out.extend(samples.iter().map(|&sample| alaw_encode(sample))),
        Codec::Pcmu => out.extend(samples.iter().map(|&sample| ulaw_encode(sample))),
        Codec::L16 => {
            for sample in samples {
                out.extend_from_slice(&sample.to_le_bytes());
            }
        }
    }
}
