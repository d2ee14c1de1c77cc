//! The public header that opens every recording blob: what the audio is and which keys it
//! belongs to. Nothing in it is secret.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! "HERALDREC"  version:u16=1  body_len:u16  body
//! body = id[16] codec:u8 sample_rate:u32 channel_count:u8 role:u8*channel_count
//!        start_unix_ms:u64 recipient_count:u8 recipient_id[8]*recipient_count node_key_id[8]
//! ```

use std::fmt;

use rand_core::CryptoRng;

use crate::key_ids::{NodeKeyId, RecipientKeyId};
use crate::wire::{FieldReader, ShortInput};

/// The blob's first bytes.
pub const HEADER_MAGIC: &[u8; 9] = b"HERALDREC";
/// The only format version this crate reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Channels a recording may have.
pub const MAX_CHANNELS: usize = 8;
/// Recipient key references a header may carry.
pub const MAX_RECIPIENTS: usize = 16;
/// Bytes before the body: magic, version, body length.
const PREAMBLE_LEN: usize = HEADER_MAGIC.len() + 2 + 2;

/// 16 random bytes naming one recording, printed as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(pub [u8; 16]);

impl RecordingId {
    /// A fresh id from the caller's RNG.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut id = [0; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// How audio payloads are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 A-law, one byte per sample, 8000 Hz.
    Pcma,
    /// G.711 µ-law, one byte per sample, 8000 Hz.
    Pcmu,
    /// Linear 16-bit signed, little-endian, two bytes per sample.
    L16,
}

impl Codec {
    /// The name used in the spec and in metadata: `pcma`, `pcmu`, `l16`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcma => "pcma",
            Self::Pcmu => "pcmu",
            Self::L16 => "l16",
        }
    }

    /// Bytes one sample takes in an audio record.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::Pcma | Self::Pcmu => 1,
            Self::L16 => 2,
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Pcma => 1,
            Self::Pcmu => 2,
            Self::L16 => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [Self::Pcma, Self::Pcmu, Self::L16]
            .into_iter()
            .find(|codec| codec.code() == code)
    }

    fn accepts_rate(self, rate: u32) -> bool {
        match self {
            Self::Pcma | Self::Pcmu => rate == 8000,
            Self::L16 => (8000..=48_000).contains(&rate),
        }
    }
}

/// Who a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelRole {
    /// The caller (left channel of a stereo export).
    Caller,
    /// Herald's side: the IVR, then the agent after a transfer (right channel).
    Herald,
}

impl ChannelRole {
    /// The name used in the spec: `caller`, `herald`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Herald => "herald",
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Caller => 1,
            Self::Herald => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [Self::Caller, Self::Herald]
            .into_iter()
            .find(|role| role.code() == code)
    }
}

/// Everything the public header says. The writer takes one; the reader and verifier return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Names the recording; also the HKDF salt of its segment key.
    pub id: RecordingId,
    /// Payload encoding of audio records.
    pub codec: Codec,
    /// Samples per second per channel (8000 for G.711).
    pub sample_rate: u32,
    /// One role per channel, channel 0 first (1..=8 channels).
    pub channels: Vec<ChannelRole>,
    /// When sample position 0 was captured, unix milliseconds.
    pub start_unix_ms: u64,
    /// Recipient keys the data key was wrapped to (1..=16); the wrapped keys are in the database.
    pub recipients: Vec<RecipientKeyId>,
    /// The node key expected to sign the trailer.
    pub node_key: NodeKeyId,
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The blob does not start with `HERALDREC`.
    #[error("not a Herald recording (bad magic)")]
    NotARecording,
    /// A version this crate does not read.
    #[error("unsupported recording format version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
    /// The header is cut short.
    #[error("header truncated")]
    Truncated,
    /// The body has bytes after its last field.
    #[error("header has {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// An unknown codec code.
    #[error("unknown codec code {0}")]
    UnknownCodec(u8),
    /// A sample rate the codec does not allow.
    #[error("sample rate {rate} Hz not allowed for {}", codec.name())]
    BadSampleRate {
        /// The codec.
        codec: Codec,
        /// The rate.
        rate: u32,
    },
    /// Zero or more than eight channels.
    #[error("channel count {0} outside 1..=8")]
    BadChannelCount(usize),
    /// An unknown channel role code.
    #[error("unknown channel role code {0}")]
    UnknownRole(u8),
    /// Zero or more than sixteen recipient key ids.
    #[error("recipient count {0} outside 1..=16")]
    BadRecipientCount(usize),
}

impl From<ShortInput> for HeaderError {
    fn from(_: ShortInput) -> Self {
        Self::Truncated
    }
}

impl Header {
    /// Checks the limits that [`Header::parse`] enforces, so that a writer never produces a
    /// header its reader refuses.
    pub fn validate(&self) -> Result<(), HeaderError> {
        if !self.codec.accepts_rate(self.sample_rate) {
            return Err(HeaderError::BadSampleRate {
                codec: self.codec,
                rate: self.sample_rate,
            });
        }
        if !(1..=MAX_CHANNELS).contains(&self.channels.len()) {
            return Err(HeaderError::BadChannelCount(self.channels.len()));
        }
        if !(1..=MAX_RECIPIENTS).contains(&self.recipients.len()) {
            return Err(HeaderError::BadRecipientCount(self.recipients.len()));
        }
        Ok(())
    }

    /// The header's bytes. Call [`Header::validate`] first.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&self.id.0);
        body.push(self.codec.code());
        body.extend_from_slice(&self.sample_rate.to_be_bytes());
        body.push(count_u8(self.channels.len()));
        body.extend(self.channels.iter().map(|role| role.code()));
        body.extend_from_slice(&self.start_unix_ms.to_be_bytes());
        body.push(count_u8(self.recipients.len()));
        for recipient in &self.recipients {
            body.extend_from_slice(&recipient.0);
        }
        body.extend_from_slice(&self.node_key.0);

        let body_len = u16::try_from(body.len())
            .expect("invariant: a validated header body is under 300 bytes");
        let mut out = Vec::with_capacity(PREAMBLE_LEN + body.len());
        out.extend_from_slice(HEADER_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&body_len.to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses the header at the start of `blob`; returns it and its length in bytes.
    pub fn parse(blob: &[u8]) -> Result<(Self, usize), HeaderError> {
        let magic_len = HEADER_MAGIC.len().min(blob.len());
        if blob[..magic_len] != HEADER_MAGIC[..magic_len] {
            return Err(HeaderError::NotARecording);
        }
        let mut reader = FieldReader::new(blob);
        reader.bytes(HEADER_MAGIC.len())?;
        let version = reader.u16()?;
        if version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion { version });
        }
        let body_len = usize::from(reader.u16()?);
        let header = Self::parse_body(reader.bytes(body_len)?)?;
        Ok((header, PREAMBLE_LEN + body_len))
    }

    fn parse_body(body: &[u8]) -> Result<Self, HeaderError> {
        let mut reader = FieldReader::new(body);
        let id = RecordingId(reader.array()?);
        let codec_code = reader.u8()?;
        let codec = Codec::from_code(codec_code).ok_or(HeaderError::UnknownCodec(codec_code))?;
        let sample_rate = reader.u32()?;
        let channels = reader
            .short_bytes()?
            .iter()
            .map(|&code| ChannelRole::from_code(code).ok_or(HeaderError::UnknownRole(code)))
            .collect::<Result<Vec<_>, _>>()?;
        let start_unix_ms = reader.u64()?;
        let recipient_count = reader.u8()?;
        let recipients = (0..recipient_count)
            .map(|_| reader.array().map(RecipientKeyId))
            .collect::<Result<Vec<_>, _>>()?;
        let node_key = NodeKeyId(reader.array()?);
        if !reader.is_empty() {
            return Err(HeaderError::TrailingBytes {
                extra: reader.remaining().len(),
            });
        }
        let header = Self {
            id,
            codec,
            sample_rate,
            channels,
            start_unix_ms,
            recipients,
            node_key,
        };
        header.validate()?;
        Ok(header)
    }
}

fn count_u8(count: usize) -> u8 {
    u8::try_from(count).expect("invariant: validated counts are at most 16")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            id: RecordingId([0xab; 16]),
            codec: Codec::Pcma,
            sample_rate: 8000,
            channels: vec![ChannelRole::Caller, ChannelRole::Herald],
            start_unix_ms: 1_700_000_000_000,
            recipients: vec![RecipientKeyId([1; 8]), RecipientKeyId([2; 8])],
            node_key: NodeKeyId([3; 8]),
        }
    }

    #[test]
    fn round_trips_and_reports_its_length() {
        let bytes = sample().encode();
        let mut blob = bytes.clone();
        blob.extend_from_slice(b"segments follow");
        assert_eq!(Header::parse(&blob), Ok((sample(), bytes.len())));
        assert_eq!(&bytes[..9], b"HERALDREC");
        assert_eq!(bytes.len(), 13 + 16 + 1 + 4 + 3 + 8 + 1 + 16 + 8);
    }

    #[test]
    fn refuses_other_magic_versions_and_junk() {
        let bytes = sample().encode();
        assert_eq!(Header::parse(b"RIFF"), Err(HeaderError::NotARecording));
        assert_eq!(Header::parse(b"HERALD"), Err(HeaderError::Truncated));
        let mut v2 = bytes.clone();
        v2[10] = 2;
        assert_eq!(
            Header::parse(&v2),
            Err(HeaderError::UnsupportedVersion { version: 2 })
        );
        let mut junk = bytes.clone();
        junk[12] += 1;
        junk.push(0);
        assert_eq!(
            Header::parse(&junk),
            Err(HeaderError::TrailingBytes { extra: 1 })
        );
        for cut in 0..bytes.len() {
            assert!(Header::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn refuses_codes_and_limits_it_does_not_know() {
        let mut bad_codec = sample().encode();
        bad_codec[13 + 16] = 9;
        assert_eq!(Header::parse(&bad_codec), Err(HeaderError::UnknownCodec(9)));
        let mut wide = sample();
        wide.codec = Codec::L16;
        wide.sample_rate = 48_000;
        assert_eq!(wide.validate(), Ok(()));
        wide.codec = Codec::Pcmu;
        assert!(matches!(
            wide.validate(),
            Err(HeaderError::BadSampleRate { .. })
        ));
        let mut none = sample();
        none.recipients.clear();
        assert_eq!(none.validate(), Err(HeaderError::BadRecipientCount(0)));
        let mut many = sample();
        many.channels = vec![ChannelRole::Caller; 9];
        assert_eq!(many.validate(), Err(HeaderError::BadChannelCount(9)));
    }

    #[test]
    fn ids_print_as_lowercase_hex() {
        assert_eq!(RecordingId([0xab; 16]).to_string(), "ab".repeat(16));
    }
}
