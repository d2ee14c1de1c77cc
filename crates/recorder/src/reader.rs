//! Opening a blob with its data key: every segment authenticated and decoded, in order.

use crate::blob_layout::{BlobLayout, Defect, Frame, LayoutEnd, walk};
use crate::data_key::{DataKey, SegmentKey, TAG_LEN};
use crate::header::{Header, HeaderError};
use crate::public_trailer::TrailerState;
use crate::records::{InnerTrailer, Record, RecordError, decode_segment_plaintext};

/// How far a recording got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingState {
    /// Finished by the writer and closed by a `complete` trailer.
    Complete,
    /// Closed by crash recovery: everything up to the last whole segment.
    Interrupted,
    /// No trailer: still being written, or crashed and not yet recovered.
    Unsealed,
}

/// A decrypted recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The public header.
    pub header: Header,
    /// Audio, gap and evidence records in the order they were written.
    pub records: Vec<Record>,
    /// The last segment's inner trailer; `None` if the last segment was never written.
    pub inner_trailer: Option<InnerTrailer>,
    /// Complete, interrupted or unsealed.
    pub state: RecordingState,
    /// Segments read.
    pub segments: u32,
    /// The public trailer's end time, if there is a trailer.
    pub end_unix_ms: Option<u64>,
}

/// Why a blob could not be read. Nothing is returned on error: no partial audio that could be
/// mistaken for the whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The header is malformed or not a recording.
    #[error("bad header: {0}")]
    BadHeader(HeaderError),
    /// A format version this crate does not read.
    #[error("unsupported recording format version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
    /// The blob ends inside a frame or trailer (a crash mid-write). Recover it with
    /// [`seal_interrupted`](crate::seal_interrupted) to read the whole segments.
    #[error("recording truncated after {segments_ok} whole segments")]
    Truncated {
        /// Whole segments before the torn tail.
        segments_ok: u32,
    },
    /// A segment did not authenticate: wrong key, moved, altered, or from another recording.
    #[error("segment {index} rejected (wrong key, moved, or altered)")]
    SegmentRejected {
        /// The segment's index.
        index: u32,
    },
    /// A segment authenticated but its records are malformed or inconsistent.
    #[error("segment {index}: {error}")]
    Record {
        /// The segment's index.
        index: u32,
        /// What is wrong.
        error: RecordError,
    },
    /// The inner trailer disagrees with the blob (segment count, digest, sample counts).
    #[error("inner trailer does not match the recording")]
    InnerTrailerMismatch,
    /// The blob's structure or public trailer is wrong at `offset`.
    #[error("damaged at byte {offset}: {defect}")]
    Damaged {
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        defect: Defect,
    },
}

impl From<HeaderError> for ReadError {
    fn from(error: HeaderError) -> Self {
        match error {
            HeaderError::UnsupportedVersion { version } => Self::UnsupportedVersion { version },
            other => Self::BadHeader(other),
        }
    }
}

/// Decrypts and decodes a whole blob. Checks the public trailer's count and digest but not its
/// signature: use [`verify`](crate::verify) for that.
pub fn open(blob: &[u8], data_key: &DataKey) -> Result<Recording, ReadError> {
    let layout = walk(blob)?;
    let key = SegmentKey::derive(data_key, &layout.header.id);
    let aad: [u8; 32] = crate::public_trailer::DigestChain::new(layout.header_bytes).value();
    let mut checker = RecordChecker::new(&layout.header);
    let mut records = Vec::new();
    let mut inner_trailer = None;
    for frame in &layout.frames {
        let (segment_records, inner) = open_frame(frame, &key, &aad, &layout.header)?;
        let record_error = |error| ReadError::Record {
            index: frame.index,
            error,
        };
        for record in &segment_records {
            checker.check(record).map_err(record_error)?;
        }
        records.extend(segment_records);
        if let Some(inner) = inner {
            check_inner_trailer(&inner, frame, &layout, &checker)?;
            inner_trailer = Some(inner);
        }
    }
    let (state, end_unix_ms) = final_state(&layout)?;
    Ok(Recording {
        header: layout.header.clone(),
        records,
        inner_trailer,
        state,
        segments: layout.segment_count(),
        end_unix_ms,
    })
}

fn open_frame(
    frame: &Frame<'_>,
    key: &SegmentKey,
    aad: &[u8; 32],
    header: &Header,
) -> Result<(Vec<Record>, Option<InnerTrailer>), ReadError> {
    let sealed = frame.sealed();
    let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    let tag: &[u8; TAG_LEN] = tag
        .try_into()
        .expect("invariant: split_at left exactly TAG_LEN bytes");
    let mut plaintext = zeroize::Zeroizing::new(ciphertext.to_vec());
    key.open(frame.index, frame.last, aad, &mut plaintext, tag)
        .map_err(|_| ReadError::SegmentRejected { index: frame.index })?;
    let record_error = |error| ReadError::Record {
        index: frame.index,
        error,
    };
    let (records, inner) = decode_segment_plaintext(&plaintext, header).map_err(record_error)?;
    if inner.is_some() != frame.last {
        return Err(record_error(RecordError::BadInnerTrailer));
    }
    Ok((records, inner))
}

fn check_inner_trailer(
    inner: &InnerTrailer,
    frame: &Frame<'_>,
    layout: &BlobLayout<'_>,
    checker: &RecordChecker,
) -> Result<(), ReadError> {
    let covers_audio = inner
        .samples_per_channel
        .iter()
        .zip(&checker.audio_end)
        .all(|(claimed, written)| claimed >= written);
    if inner.segment_count != frame.index.wrapping_add(1)
        || inner.segment_count != layout.segment_count()
        || inner.running_digest != frame.digest_before
        || !covers_audio
    {
        return Err(ReadError::InnerTrailerMismatch);
    }
    Ok(())
}

fn final_state(layout: &BlobLayout<'_>) -> Result<(RecordingState, Option<u64>), ReadError> {
    match &layout.end {
        LayoutEnd::AtFrameBoundary => Ok((RecordingState::Unsealed, None)),
        LayoutEnd::TornTail { .. } => Err(ReadError::Truncated {
            segments_ok: layout.segment_count(),
        }),
        LayoutEnd::Defect { offset, defect } => Err(ReadError::Damaged {
            offset: *offset as u64,
            defect: defect.clone(),
        }),
        LayoutEnd::Trailer { offset, trailer } => {
            layout
                .check_trailer(trailer)
                .map_err(|defect| ReadError::Damaged {
                    offset: *offset as u64,
                    defect,
                })?;
            let state = match trailer.state {
                TrailerState::Complete => RecordingState::Complete,
                TrailerState::Interrupted => RecordingState::Interrupted,
            };
            Ok((state, Some(trailer.end_unix_ms)))
        }
    }
}

/// Checks what no single record can: audio moves forward per channel, gaps alternate.
struct RecordChecker {
    codec: crate::header::Codec,
    /// Per channel, the position after the last audio sample.
    audio_end: Vec<u64>,
    gap_open: bool,
}

impl RecordChecker {
    fn new(header: &Header) -> Self {
        Self {
            codec: header.codec,
            audio_end: vec![0; header.channels.len()],
            gap_open: false,
        }
    }

    fn check(&mut self, record: &Record) -> Result<(), RecordError> {
        match record {
            Record::Audio(frame) => {
                let end = &mut self.audio_end[usize::from(frame.channel)];
                if frame.position < *end {
                    return Err(RecordError::AudioOverlap(frame.channel));
                }
                // The decoder checked that this sum does not overflow.
                *end = frame.position + frame.sample_count(self.codec);
            }
            Record::GapBegin(_) if self.gap_open => return Err(RecordError::GapOrder),
            Record::GapEnd(_) if !self.gap_open => return Err(RecordError::GapOrder),
            Record::GapBegin(_) | Record::GapEnd(_) => self.gap_open = !self.gap_open,
            Record::Evidence(_) => {}
        }
        Ok(())
    }
}

/// Recordings longer than this do not render (24 hours at the header's rate).
const MAX_RENDER_SECONDS: u64 = 24 * 3600;

/// Why audio could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Positions reach past 24 hours of audio.
    #[error("recording spans {samples} samples per channel, more than 24 hours")]
    TooLong {
        /// Samples per channel the render would need.
        samples: u64,
    },
}

impl Recording {
    /// Samples per channel: the furthest audio end or inner-trailer count.
    pub fn samples_per_channel(&self) -> u64 {
        let codec = self.header.codec;
        let audio_end = self.records.iter().filter_map(|record| match record {
            Record::Audio(frame) => Some(frame.position + frame.sample_count(codec)),
            _ => None,
        });
        let trailer = self
            .inner_trailer
            .iter()
            .flat_map(|t| t.samples_per_channel.clone());
        audio_end.chain(trailer).max().unwrap_or(0)
    }

    /// The audio as interleaved 16-bit PCM (channel 0 first in each frame), sample-accurate by
    /// position, with silence wherever nothing was recorded (gaps, jumps, the end of a shorter
    /// channel).
    pub fn to_pcm_interleaved(&self) -> Result<Vec<i16>, RenderError> {
        let samples = self.samples_per_channel();
        let limit = MAX_RENDER_SECONDS * u64::from(self.header.sample_rate);
        if samples > limit {
            return Err(RenderError::TooLong { samples });
        }
        let channels = self.header.channels.len();
        let mut pcm = vec![0i16; samples as usize * channels];
        for record in &self.records {
            if let Record::Audio(frame) = record {
                let first = frame.position as usize * channels + usize::from(frame.channel);
                let slots = pcm[first..].iter_mut().step_by(channels);
                for (slot, sample) in slots.zip(frame.samples(self.header.codec)) {
                    *slot = sample;
                }
            }
        }
        Ok(pcm)
    }
}
