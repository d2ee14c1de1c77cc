//! Keyless checks: [`verify`] a blob against a node public key, and [`seal_interrupted`] a
//! crashed one.

use crate::blob_layout::{Defect, LayoutEnd, walk};
use crate::header::{Header, HeaderError};
use crate::key_ids::NodeKeyId;
use crate::node_key::{NodePublicKey, NodeSigningKey};
use crate::public_trailer::{PublicTrailer, TrailerState};

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The header, if it parsed.
    pub header: Option<Header>,
    /// Whole segment frames.
    pub segments: u32,
    /// The digest chain over the header and the whole segment frames (what a complete trailer
    /// signs): the recording's integrity hash. `None` if the header did not parse.
    pub digest: Option<[u8; 32]>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The verdict of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A `complete` trailer, signed by the given key, matches the blob.
    Complete {
        /// End time from the trailer.
        end_unix_ms: u64,
    },
    /// A recovery (`interrupted`) trailer, signed by the given key, matches the blob.
    Interrupted {
        /// End time from the trailer.
        end_unix_ms: u64,
    },
    /// No trailer: still open, or crashed and not recovered. Without a trailer there is no
    /// signed digest, so the segments' bytes are not vouched for.
    Unsealed {
        /// Bytes of a partial frame or trailer at the end (0 if the blob ends cleanly).
        torn_tail_bytes: u64,
    },
    /// Something is wrong at `offset`.
    Damaged {
        /// Byte offset of the first problem found.
        offset: u64,
        /// What.
        defect: Defect,
    },
}

/// Checks a blob without any decryption key: header, frame structure and order, and the
/// public trailer's segment count, digest and Ed25519 signature against `node_key`.
pub fn verify(blob: &[u8], node_key: &NodePublicKey) -> VerifyReport {
    let layout = match walk(blob) {
        Ok(layout) => layout,
        Err(error) => {
            return VerifyReport {
                header: None,
                segments: 0,
                digest: None,
                verdict: Verdict::Damaged {
                    offset: 0,
                    defect: Defect::Header(error),
                },
            };
        }
    };
    let verdict = match &layout.end {
        LayoutEnd::AtFrameBoundary => Verdict::Unsealed { torn_tail_bytes: 0 },
        LayoutEnd::TornTail { offset } => Verdict::Unsealed {
            torn_tail_bytes: (blob.len() - offset) as u64,
        },
        LayoutEnd::Defect { offset, defect } => Verdict::Damaged {
            offset: *offset as u64,
            defect: defect.clone(),
        },
        LayoutEnd::Trailer { offset, trailer } => {
            match check_signed_trailer(&layout, trailer, node_key) {
                Ok(verdict) => verdict,
                Err(defect) => Verdict::Damaged {
                    offset: *offset as u64,
                    defect,
                },
            }
        }
    };
    VerifyReport {
        segments: layout.segment_count(),
        digest: Some(layout.digest),
        header: Some(layout.header),
        verdict,
    }
}

fn check_signed_trailer(
    layout: &crate::blob_layout::BlobLayout<'_>,
    trailer: &PublicTrailer,
    node_key: &NodePublicKey,
) -> Result<Verdict, Defect> {
    layout.check_trailer(trailer)?;
    if trailer.node_key != node_key.id() {
        return Err(Defect::WrongNodeKey {
            signer: trailer.node_key,
        });
    }
    if !trailer.signature_is_valid(node_key) {
        return Err(Defect::BadSignature);
    }
    let end_unix_ms = trailer.end_unix_ms;
    Ok(match trailer.state {
        TrailerState::Complete => Verdict::Complete { end_unix_ms },
        TrailerState::Interrupted => Verdict::Interrupted { end_unix_ms },
    })
}

/// How to close a crashed blob: cut it to `keep_len` bytes, then append `trailer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySeal {
    /// Bytes of the blob to keep: everything up to the end of the last whole segment.
    pub keep_len: u64,
    /// Bytes to drop from the end (a torn partial frame or trailer).
    pub torn_tail_bytes: u64,
    /// The signed `interrupted` trailer to append after truncating.
    pub trailer: Vec<u8>,
    /// Whole segments the recovered recording keeps.
    pub segments: u32,
}

/// Why a blob could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// The header is missing or refused: nothing was recorded, or it is not a recording.
    #[error("cannot recover: {0}")]
    Header(#[from] HeaderError),
    /// The blob already ends with a trailer.
    #[error("the recording already has a trailer")]
    AlreadySealed,
    /// A malformed frame before the end: not a crash, so not recovered.
    #[error("damaged at byte {offset}: {defect}")]
    Damaged {
        /// Where.
        offset: u64,
        /// What.
        defect: Defect,
    },
}

/// Crash recovery: walks a blob that has no trailer, drops a torn tail, and returns the signed
/// `interrupted` trailer that closes what remains.
pub fn seal_interrupted(
    blob: &[u8],
    end_unix_ms: u64,
    node_key: &NodeSigningKey,
) -> Result<RecoverySeal, RecoveryError> {
    let layout = walk(blob)?;
    let keep_len = match &layout.end {
        LayoutEnd::AtFrameBoundary => blob.len(),
        LayoutEnd::TornTail { offset } => *offset,
        LayoutEnd::Trailer { .. } => return Err(RecoveryError::AlreadySealed),
        LayoutEnd::Defect { offset, defect } => {
            return Err(RecoveryError::Damaged {
                offset: *offset as u64,
                defect: defect.clone(),
            });
        }
    };
    let segments = layout.segment_count();
    let trailer = PublicTrailer::signed(
        TrailerState::Interrupted,
        segments,
        end_unix_ms,
        layout.digest,
        node_key,
    );
    Ok(RecoverySeal {
        keep_len: keep_len as u64,
        torn_tail_bytes: (blob.len() - keep_len) as u64,
        trailer: trailer.encode(),
        segments,
    })
}

/// The node key id a blob's trailer names, if it has a whole trailer: lets a caller pick the
/// public key to [`verify`] with.
pub fn trailer_signer(blob: &[u8]) -> Option<NodeKeyId> {
    match walk(blob).ok()?.end {
        LayoutEnd::Trailer { trailer, .. } => Some(trailer.node_key),
        _ => None,
    }
}
