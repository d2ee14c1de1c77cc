//! The typed records inside a segment's plaintext: audio, gap begin/end, evidence, and the inner
//! trailer that closes the last segment.
//!
//! Each record is `type:u8 length:u32 body[length]` (big-endian). A segment's plaintext is a
//! whole number of records; no record spans two segments. There is no field for caller input:
//! the format cannot carry DTMF digits.

use crate::g711::{alaw_decode, ulaw_decode};
use crate::header::{Codec, Header};
use crate::wire::{FieldReader, ShortInput, put_short_text};

const AUDIO: u8 = 0x01;
const GAP_BEGIN: u8 = 0x02;
const GAP_END: u8 = 0x03;
const EVIDENCE: u8 = 0x04;
const INNER_TRAILER: u8 = 0x05;
/// Bytes of record framing: type and length.
pub(crate) const RECORD_FRAMING_LEN: usize = 1 + 4;
/// Bytes of an audio record before its payload: framing, channel, position.
pub(crate) const AUDIO_RECORD_OVERHEAD: usize = RECORD_FRAMING_LEN + 1 + 8;

/// One record of a recording, in the order it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Encoded audio of one channel.
    Audio(AudioFrame),
    /// Recording paused.
    GapBegin(GapBegin),
    /// Recording resumed.
    GapEnd(GapEnd),
    /// A disclosure prompt and the caller's choice.
    Evidence(Evidence),
}

/// Contiguous samples of one channel, in the header's codec.
#[derive(Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Index into the header's channel list.
    pub channel: u8,
    /// Position of the first sample, in samples since the recording's start.
    pub position: u64,
    /// Encoded samples: one byte each for G.711, two (little-endian) for L16.
    pub payload: Vec<u8>,
}

impl AudioFrame {
    /// Samples in the payload.
    pub fn sample_count(&self, codec: Codec) -> u64 {
        (self.payload.len() / codec.bytes_per_sample()) as u64
    }

    /// The payload decoded to 16-bit linear samples.
    pub fn samples(&self, codec: Codec) -> impl Iterator<Item = i16> + '_ {
        let width = codec.bytes_per_sample();
        self.payload
            .chunks_exact(width)
            .map(move |bytes| match codec {
                Codec::Pcma => alaw_decode(bytes[0]),
                Codec::Pcmu => ulaw_decode(bytes[0]),
                Codec::L16 => i16::from_le_bytes([bytes[0], bytes[1]]),
            })
    }
}

impl std::fmt::Debug for AudioFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioFrame")
            .field("channel", &self.channel)
            .field("position", &self.position)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// Why recording paused. A closed list: anything else is `Policy` with a `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// The IVR collects sensitive input (card number, PIN).
    SecureInput,
    /// An API client (agent desktop, CTI) asked.
    Api,
    /// The call is on hold.
    Hold,
    /// The caller objected to recording.
    OptOut,
    /// The recording policy says so.
    Policy,
}

impl GapReason {
    /// The spec's name: `secure-input`, `api`, `hold`, `opt-out`, `policy`.
    pub fn name(self) -> &'static str {
        match self {
            Self::SecureInput => "secure-input",
            Self::Api => "api",
            Self::Hold => "hold",
            Self::OptOut => "opt-out",
            Self::Policy => "policy",
        }
    }
    const ALL: [Self; 5] = [
        Self::SecureInput,
        Self::Api,
        Self::Hold,
        Self::OptOut,
        Self::Policy,
    ];
    fn code(self) -> u8 {
        match self {
            Self::SecureInput => 1,
            Self::Api => 2,
            Self::Hold => 3,
            Self::OptOut => 4,
            Self::Policy => 5,
        }
    }
    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.code() == code)
    }
}

/// Recording paused at `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapBegin {
    /// Sample position where the pause starts.
    pub position: u64,
    /// Wall time of the pause, unix milliseconds.
    pub unix_ms: u64,
    /// Why.
    pub reason: GapReason,
    /// Who asked, e.g. `ivr` or `api:desk-7` (1..=64 bytes).
    pub actor: String,
    /// Free-text explanation, at most 200 bytes. Never caller input.
    pub detail: String,
}

/// Recording resumed at `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapEnd {
    /// Sample position where recording resumes.
    pub position: u64,
    /// Wall time of the resumption, unix milliseconds.
    pub unix_ms: u64,
    /// Who asked (1..=64 bytes).
    pub actor: String,
}

/// What the caller chose after a disclosure prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentChoice {
    /// Agreed to recording.
    Accepted,
    /// Objected to recording.
    Objected,
    /// The prompt offered no choice.
    None,
    /// A choice was offered and the caller gave no input.
    NoInput,
}

impl ConsentChoice {
    /// The spec's name: `accepted`, `objected`, `none`, `no-input`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Objected => "objected",
            Self::None => "none",
            Self::NoInput => "no-input",
        }
    }
    const ALL: [Self; 4] = [Self::Accepted, Self::Objected, Self::None, Self::NoInput];
    fn code(self) -> u8 {
        match self {
            Self::Accepted => 1,
            Self::Objected => 2,
            Self::None => 3,
            Self::NoInput => 4,
        }
    }
    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.code() == code)
    }
}

/// A disclosure prompt was played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Which prompt (1..=128 bytes), e.g. `disclosure-recording`.
    pub prompt_id: String,
    /// BCP 47 language tag of the prompt, e.g. `de-DE`.
    pub language: String,
    /// When playing started, unix milliseconds.
    pub played_unix_ms: u64,
    /// Whether the prompt played to its end.
    pub completed: bool,
    /// What the caller chose.
    pub choice: ConsentChoice,
}

/// Closes the last segment: what the writer believes it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerTrailer {
    /// Segments in the recording, this last one included.
    pub segment_count: u32,
    /// Per channel, the position after the last sample written (or skipped in a gap).
    pub samples_per_channel: Vec<u64>,
    /// The digest chain over the header and every segment frame before the last one.
    pub running_digest: [u8; 32],
}

/// A free-text field and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// [`GapBegin::actor`], [`GapEnd::actor`]: 1..=64 bytes.
    Actor,
    /// [`GapBegin::detail`]: 0..=200 bytes.
    Detail,
    /// [`Evidence::prompt_id`]: 1..=128 bytes.
    PromptId,
    /// [`Evidence::language`]: 2..=35 bytes of ASCII letters, digits and inner hyphens.
    Language,
}

impl TextField {
    fn limits(self) -> (usize, usize) {
        match self {
            Self::Actor => (1, 64),
            Self::Detail => (0, 200),
            Self::PromptId => (1, 128),
            Self::Language => (2, 35),
        }
    }

    /// Whether `text` fits this field: length, no control characters, and for a language tag
    /// the BCP 47 character set.
    pub fn accepts(self, text: &str) -> bool {
        let (min, max) = self.limits();
        let chars_ok = match self {
            Self::Language => {
                text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !text.starts_with('-')
                    && !text.ends_with('-')
            }
            _ => !text.chars().any(char::is_control),
        };
        (min..=max).contains(&text.len()) && chars_ok
    }
}

/// Why a segment's plaintext did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A record runs past the end of the plaintext.
    #[error("record truncated")]
    Truncated,
    /// A record type this version does not define.
    #[error("unknown record type {0:#04x}")]
    UnknownType(u8),
    /// A record's body is longer than its fields.
    #[error("record has trailing bytes")]
    TrailingBytes,
    /// A text field breaks its limits or is not UTF-8.
    #[error("bad text in field {0:?}")]
    BadText(TextField),
    /// An unknown gap reason, consent choice or boolean code.
    #[error("unknown code {0} in a record")]
    UnknownCode(u8),
    /// Audio for a channel the header does not have.
    #[error("audio for channel {0}, which the header does not list")]
    NoSuchChannel(u8),
    /// Empty audio, or an L16 payload of odd length.
    #[error("audio payload is empty or not a whole number of samples")]
    BadAudioLength,
    /// The inner trailer is not the last record of its segment, or lists the wrong channels.
    #[error("misplaced or malformed inner trailer")]
    BadInnerTrailer,
    /// Audio at or before a position already recorded on its channel.
    #[error("audio on channel {0} overlaps earlier audio")]
    AudioOverlap(u8),
    /// A gap end without a gap begin, or a gap begin inside a gap.
    #[error("gap begin and end out of order")]
    GapOrder,
}

impl From<ShortInput> for RecordError {
    fn from(_: ShortInput) -> Self {
        Self::Truncated
    }
}

/// Starts a record of `kind`; returns where its length goes, for [`finish_record`].
fn begin_record(out: &mut Vec<u8>, kind: u8) -> usize {
    out.push(kind);
    out.extend_from_slice(&[0; 4]);
    out.len()
}

fn finish_record(out: &mut [u8], body_start: usize) {
    let len = u32::try_from(out.len() - body_start)
        .expect("invariant: records are bounded by the segment byte cap");
    out[body_start - 4..body_start].copy_from_slice(&len.to_be_bytes());
}

/// Writes an audio record around an already encoded payload.
pub(crate) fn put_audio(out: &mut Vec<u8>, channel: u8, position: u64, payload: &[u8]) {
    let start = begin_record(out, AUDIO);
    out.push(channel);
    out.extend_from_slice(&position.to_be_bytes());
    out.extend_from_slice(payload);
    finish_record(out, start);
}

pub(crate) fn put_gap_begin(out: &mut Vec<u8>, gap: &GapBegin) {
    let start = begin_record(out, GAP_BEGIN);
    out.extend_from_slice(&gap.position.to_be_bytes());
    out.extend_from_slice(&gap.unix_ms.to_be_bytes());
    out.push(gap.reason.code());
    put_short_text(out, &gap.actor);
    put_short_text(out, &gap.detail);
    finish_record(out, start);
}

pub(crate) fn put_gap_end(out: &mut Vec<u8>, gap: &GapEnd) {
    let start = begin_record(out, GAP_END);
    out.extend_from_slice(&gap.position.to_be_bytes());
    out.extend_from_slice(&gap.unix_ms.to_be_bytes());
    put_short_text(out, &gap.actor);
    finish_record(out, start);
}

pub(crate) fn put_evidence(out: &mut Vec<u8>, evidence: &Evidence) {
    let start = begin_record(out, EVIDENCE);
    put_short_text(out, &evidence.prompt_id);
    put_short_text(out, &evidence.language);
    out.extend_from_slice(&evidence.played_unix_ms.to_be_bytes());
    out.push(u8::from(evidence.completed));
    out.push(evidence.choice.code());
    finish_record(out, start);
}

pub(crate) fn put_inner_trailer(out: &mut Vec<u8>, trailer: &InnerTrailer) {
    let start = begin_record(out, INNER_TRAILER);
    out.extend_from_slice(&trailer.segment_count.to_be_bytes());
    out.push(u8::try_from(trailer.samples_per_channel.len()).unwrap_or(u8::MAX));
    for samples in &trailer.samples_per_channel {
        out.extend_from_slice(&samples.to_be_bytes());
    }
    out.extend_from_slice(&trailer.running_digest);
    finish_record(out, start);
}

/// Bytes the inner trailer takes for `channels` channels.
pub(crate) fn inner_trailer_len(channels: usize) -> usize {
    RECORD_FRAMING_LEN + 4 + 1 + 8 * channels + 32
}

/// The records of one segment's plaintext, and its inner trailer if it has one.
pub type SegmentRecords = (Vec<Record>, Option<InnerTrailer>);

/// Decodes one segment's plaintext in the context of its header.
pub fn decode_segment_plaintext(
    plaintext: &[u8],
    header: &Header,
) -> Result<SegmentRecords, RecordError> {
    let mut reader = FieldReader::new(plaintext);
    let mut records = Vec::new();
    while !reader.is_empty() {
        let kind = reader.u8()?;
        let len = usize::try_from(reader.u32()?).map_err(|_| RecordError::Truncated)?;
        let mut body = FieldReader::new(reader.bytes(len)?);
        if kind == INNER_TRAILER {
            let trailer = decode_inner_trailer(&mut body, header)?;
            if !reader.is_empty() {
                return Err(RecordError::BadInnerTrailer);
            }
            return Ok((records, Some(trailer)));
        }
        records.push(decode_record(kind, &mut body, header)?);
        if !body.is_empty() {
            return Err(RecordError::TrailingBytes);
        }
    }
    Ok((records, None))
}

fn decode_record(
    kind: u8,
    body: &mut FieldReader<'_>,
    header: &Header,
) -> Result<Record, RecordError> {
    Ok(match kind {
        AUDIO => Record::Audio(decode_audio(body, header)?),
        GAP_BEGIN => Record::GapBegin(GapBegin {
            position: body.u64()?,
            unix_ms: body.u64()?,
            reason: code(body.u8()?, GapReason::from_code)?,
            actor: text(body, TextField::Actor)?,
            detail: text(body, TextField::Detail)?,
        }),
        GAP_END => Record::GapEnd(GapEnd {
            position: body.u64()?,
            unix_ms: body.u64()?,
            actor: text(body, TextField::Actor)?,
        }),
        EVIDENCE => Record::Evidence(Evidence {
            prompt_id: text(body, TextField::PromptId)?,
            language: text(body, TextField::Language)?,
            played_unix_ms: body.u64()?,
            completed: code(body.u8()?, |b| [false, true].get(usize::from(b)).copied())?,
            choice: code(body.u8()?, ConsentChoice::from_code)?,
        }),
        other => return Err(RecordError::UnknownType(other)),
    })
}

fn decode_audio(body: &mut FieldReader<'_>, header: &Header) -> Result<AudioFrame, RecordError> {
    let channel = body.u8()?;
    if usize::from(channel) >= header.channels.len() {
        return Err(RecordError::NoSuchChannel(channel));
    }
    let position = body.u64()?;
    let payload = body.remaining();
    body.bytes(payload.len())?;
    let samples = payload.len() / header.codec.bytes_per_sample();
    if payload.is_empty()
        || !payload
            .len()
            .is_multiple_of(header.codec.bytes_per_sample())
    {
        return Err(RecordError::BadAudioLength);
    }
    position
        .checked_add(samples as u64)
        .ok_or(RecordError::BadAudioLength)?;
    Ok(AudioFrame {
        channel,
        position,
        payload: payload.to_vec(),
    })
}

fn decode_inner_trailer(
    body: &mut FieldReader<'_>,
    header: &Header,
) -> Result<InnerTrailer, RecordError> {
    let segment_count = body.u32()?;
    let channels = usize::from(body.u8()?);
    if channels != header.channels.len() {
        return Err(RecordError::BadInnerTrailer);
    }
    let samples_per_channel = (0..channels)
        .map(|_| body.u64())
        .collect::<Result<Vec<_>, _>>()?;
    let running_digest = body.array()?;
    if !body.is_empty() {
        return Err(RecordError::TrailingBytes);
    }
    Ok(InnerTrailer {
        segment_count,
        samples_per_channel,
        running_digest,
    })
}

fn code<T>(code: u8, from_code: impl Fn(u8) -> Option<T>) -> Result<T, RecordError> {
    from_code(code).ok_or(RecordError::UnknownCode(code))
}

fn text(body: &mut FieldReader<'_>, field: TextField) -> Result<String, RecordError> {
    let bytes = body.short_bytes()?;
    let text = std::str::from_utf8(bytes).map_err(|_| RecordError::BadText(field))?;
    if !field.accepts(text) {
        return Err(RecordError::BadText(field));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests;
