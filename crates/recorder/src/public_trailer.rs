//! The public trailer: the signed statement that closes a blob, written by the writer's
//! `finish` (state `complete`) or by crash recovery (state `interrupted`).
//!
//! Layout (127 bytes, big-endian):
//!
//! ```text
//! 'T' "HERALDEND" state:u8 segment_count:u32 end_unix_ms:u64 digest[32] node_key_id[8]
//! signature[64]
//! ```
//!
//! The Ed25519 signature covers `"herald recording v1 trailer"` followed by the trailer's first
//! 63 bytes (everything before the signature). Since `digest` chains over the header and every
//! segment frame, the signature covers the whole blob.

use sha2::{Digest, Sha256};

use crate::key_ids::NodeKeyId;
use crate::node_key::{NodePublicKey, NodeSigningKey};
use crate::wire::{FieldReader, ShortInput};

/// First byte of the public trailer.
pub(crate) const TRAILER_TAG: u8 = b'T';
const TRAILER_MAGIC: &[u8; 9] = b"HERALDEND";
/// Bytes the signature covers (after the context string).
const SIGNED_LEN: usize = 1 + 9 + 1 + 4 + 8 + 32 + 8;
/// Bytes in a public trailer.
pub const TRAILER_LEN: usize = SIGNED_LEN + 64;
/// Prepended to the signed bytes so a trailer signature means nothing elsewhere.
const SIGNATURE_CONTEXT: &[u8] = b"herald recording v1 trailer";

/// How the recording was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrailerState {
    /// Closed by the writer: the last segment (with the last flag) is present.
    Complete,
    /// Closed by crash recovery: everything up to the last whole segment.
    Interrupted,
}

impl TrailerState {
    /// The spec's name: `complete` or `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Interrupted => "interrupted",
        }
    }
    fn code(self) -> u8 {
        match self {
            Self::Complete => 1,
            Self::Interrupted => 2,
        }
    }
    fn from_code(code: u8) -> Option<Self> {
        [Self::Complete, Self::Interrupted]
            .into_iter()
            .find(|state| state.code() == code)
    }
}

/// A parsed public trailer (its signature not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicTrailer {
    /// Complete or interrupted.
    pub state: TrailerState,
    /// Segment frames before the trailer.
    pub segment_count: u32,
    /// When the recording ended, unix milliseconds.
    pub end_unix_ms: u64,
    /// The digest chain over the header and all segment frames.
    pub digest: [u8; 32],
    /// The key that signed it.
    pub node_key: NodeKeyId,
    /// Ed25519 signature.
    pub signature: [u8; 64],
}

/// Why trailer bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrailerDefect {
    Short,
    BadMagic,
    UnknownState(u8),
}

impl From<ShortInput> for TrailerDefect {
    fn from(_: ShortInput) -> Self {
        Self::Short
    }
}

impl PublicTrailer {
    /// A trailer signed with `key`.
    pub(crate) fn signed(
        state: TrailerState,
        segment_count: u32,
        end_unix_ms: u64,
        digest: [u8; 32],
        key: &NodeSigningKey,
    ) -> Self {
        let mut trailer = Self {
            state,
            segment_count,
            end_unix_ms,
            digest,
            node_key: key.id(),
            signature: [0; 64],
        };
        trailer.signature = key.sign(&trailer.signed_message());
        trailer
    }

    /// The trailer's 127 bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TRAILER_LEN);
        out.push(TRAILER_TAG);
        out.extend_from_slice(TRAILER_MAGIC);
        out.push(self.state.code());
        out.extend_from_slice(&self.segment_count.to_be_bytes());
        out.extend_from_slice(&self.end_unix_ms.to_be_bytes());
        out.extend_from_slice(&self.digest);
        out.extend_from_slice(&self.node_key.0);
        out
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut message = SIGNATURE_CONTEXT.to_vec();
        message.extend_from_slice(&self.signed_bytes());
        message
    }

    /// Parses exactly [`TRAILER_LEN`] bytes starting with `'T'`.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, TrailerDefect> {
        let mut reader = FieldReader::new(bytes);
        if reader.u8()? != TRAILER_TAG || reader.bytes(TRAILER_MAGIC.len())? != TRAILER_MAGIC {
            return Err(TrailerDefect::BadMagic);
        }
        let code = reader.u8()?;
        Ok(Self {
            state: TrailerState::from_code(code).ok_or(TrailerDefect::UnknownState(code))?,
            segment_count: reader.u32()?,
            end_unix_ms: reader.u64()?,
            digest: reader.array()?,
            node_key: NodeKeyId(reader.array()?),
            signature: reader.array()?,
        })
    }

    /// Whether `bytes`, shorter than a trailer, could be the start of one (a torn trailer).
    pub(crate) fn is_prefix(bytes: &[u8]) -> bool {
        let mut start = vec![TRAILER_TAG];
        start.extend_from_slice(TRAILER_MAGIC);
        let compared = bytes.len().min(start.len());
        bytes.len() < TRAILER_LEN
            && bytes[..compared] == start[..compared]
            && bytes
                .get(start.len())
                .is_none_or(|&code| TrailerState::from_code(code).is_some())
    }

    /// Whether `key` made this trailer's signature.
    pub(crate) fn signature_is_valid(&self, key: &NodePublicKey) -> bool {
        key.verify(&self.signed_message(), &self.signature)
    }
}

/// The digest chain: `d0 = SHA-256(header)`, then `d(i+1) = SHA-256(d(i) || frame(i))` over
/// every segment frame exactly as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DigestChain {
    current: [u8; 32],
}

impl DigestChain {
    pub(crate) fn new(header_bytes: &[u8]) -> Self {
        Self {
            current: Sha256::digest(header_bytes).into(),
        }
    }

    pub(crate) fn push(&mut self, frame_bytes: &[u8]) {
        self.current = Sha256::new()
            .chain_update(self.current)
            .chain_update(frame_bytes)
            .finalize()
            .into();
    }

    pub(crate) fn value(&self) -> [u8; 32] {
        self.current
    }
}
