//! The public structure of a blob, walked without any key: header, segment frames, and what
//! ends them (nothing, a public trailer, a torn tail, or a defect).
//!
//! Segment frame layout (big-endian):
//!
//! ```text
//! 'S' index:u32 flags:u8 length:u32 sealed[length]
//! ```
//!
//! `flags` is 0x01 on the last segment and 0x00 otherwise; `sealed` is the AES-256-GCM
//! ciphertext followed by its 16-byte tag.

use crate::data_key::TAG_LEN;
use crate::header::{Header, HeaderError};
use crate::key_ids::NodeKeyId;
use crate::public_trailer::{
    DigestChain, PublicTrailer, TRAILER_LEN, TRAILER_TAG, TrailerDefect, TrailerState,
};
use crate::wire::FieldReader;

/// First byte of a segment frame.
pub(crate) const FRAME_TAG: u8 = b'S';
/// Bytes of a frame before its sealed bytes.
pub(crate) const FRAME_HEADER_LEN: usize = 1 + 4 + 1 + 4;
/// Largest plaintext a segment may hold.
pub const MAX_SEGMENT_PLAINTEXT: usize = 1 << 20;
const LAST_FLAG: u8 = 0x01;

/// What is wrong with a blob's structure or trailer. Found without decrypting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    /// The header is refused.
    #[error("bad header: {0}")]
    Header(#[from] HeaderError),
    /// A byte that starts neither a segment frame (`S`) nor a trailer (`T`).
    #[error("unknown item tag {0:#04x}")]
    UnknownItem(u8),
    /// Frame flags other than 0x00 and 0x01.
    #[error("bad segment flags {0:#04x}")]
    BadFlags(u8),
    /// A sealed length below the tag size or above the segment limit.
    #[error("bad segment length {0}")]
    BadLength(u32),
    /// A frame's index is not the next one.
    #[error("segment index {found} where {expected} was expected")]
    OutOfOrder {
        /// The next index.
        expected: u32,
        /// The index the frame carries.
        found: u32,
    },
    /// A segment frame after the last segment.
    #[error("segment after the last segment")]
    SegmentAfterLast,
    /// Trailer magic or state is wrong.
    #[error("malformed public trailer")]
    BadTrailer,
    /// Bytes after the public trailer.
    #[error("bytes after the public trailer")]
    TrailingBytes,
    /// The trailer counts a different number of segments.
    #[error("trailer counts {trailer} segments, the blob has {found}")]
    SegmentCountMismatch {
        /// The trailer's count.
        trailer: u32,
        /// Frames in the blob.
        found: u32,
    },
    /// The trailer's digest is not the digest of the blob.
    #[error("trailer digest does not match the blob")]
    DigestMismatch,
    /// A `complete` trailer without a last-flagged segment before it.
    #[error("complete trailer but no last segment")]
    CompleteWithoutLastSegment,
    /// The trailer was signed by another node key than the one given.
    #[error("trailer signed by node key {signer}, not the key given")]
    WrongNodeKey {
        /// The trailer's key id.
        signer: NodeKeyId,
    },
    /// The signature does not verify.
    #[error("trailer signature is invalid")]
    BadSignature,
}

/// One whole segment frame.
#[derive(Debug, Clone)]
pub(crate) struct Frame<'a> {
    pub(crate) index: u32,
    pub(crate) last: bool,
    /// The frame's bytes, header included.
    pub(crate) bytes: &'a [u8],
    /// The digest chain before this frame.
    pub(crate) digest_before: [u8; 32],
}

impl Frame<'_> {
    /// Ciphertext and tag.
    pub(crate) fn sealed(&self) -> &[u8] {
        &self.bytes[FRAME_HEADER_LEN..]
    }
}

/// How the walk over frames ended.
#[derive(Debug, Clone)]
pub(crate) enum LayoutEnd {
    /// The blob ends right after the header or a frame: open or crashed, no trailer.
    AtFrameBoundary,
    /// A whole public trailer ends the blob.
    Trailer {
        offset: usize,
        trailer: PublicTrailer,
    },
    /// A partial frame or trailer ends the blob, from `offset` on (a crash mid-write).
    TornTail { offset: usize },
    /// Something at `offset` is malformed.
    Defect { offset: usize, defect: Defect },
}

/// A walked blob.
#[derive(Debug, Clone)]
pub(crate) struct BlobLayout<'a> {
    pub(crate) header: Header,
    pub(crate) header_bytes: &'a [u8],
    pub(crate) frames: Vec<Frame<'a>>,
    /// The digest chain after the last whole frame.
    pub(crate) digest: [u8; 32],
    pub(crate) end: LayoutEnd,
}

impl BlobLayout<'_> {
    /// Whether the final whole frame carries the last flag.
    pub(crate) fn has_last_segment(&self) -> bool {
        self.frames.last().is_some_and(|frame| frame.last)
    }

    /// Checks a trailer against the blob it ends: segment count, digest, and a last segment
    /// before a `complete` trailer. The signature is checked separately.
    pub(crate) fn check_trailer(&self, trailer: &PublicTrailer) -> Result<(), Defect> {
        if trailer.segment_count != self.segment_count() {
            return Err(Defect::SegmentCountMismatch {
                trailer: trailer.segment_count,
                found: self.segment_count(),
            });
        }
        if trailer.digest != self.digest {
            return Err(Defect::DigestMismatch);
        }
        if trailer.state == TrailerState::Complete && !self.has_last_segment() {
            return Err(Defect::CompleteWithoutLastSegment);
        }
        Ok(())
    }

    /// Segment frames, as the trailer counts them.
    pub(crate) fn segment_count(&self) -> u32 {
        // `walk` stops with a defect before an index could pass u32::MAX.
        self.frames.len() as u32
    }
}

/// One step of the walk.
enum Step {
    Frame { len: usize, index: u32, last: bool },
    End(LayoutEnd),
}

/// Walks `blob`'s public structure. Fails only if the header is refused.
pub(crate) fn walk(blob: &[u8]) -> Result<BlobLayout<'_>, HeaderError> {
    let (header, header_len) = Header::parse(blob)?;
    let header_bytes = &blob[..header_len];
    let mut chain = DigestChain::new(header_bytes);
    let mut frames = Vec::new();
    let mut offset = header_len;
    let end = loop {
        let seen_last = frames.last().is_some_and(|frame: &Frame<'_>| frame.last);
        let expected = frames.len() as u32;
        match step(&blob[offset..], offset, expected, seen_last) {
            Step::Frame { len, index, last } => {
                let bytes = &blob[offset..offset + len];
                let digest_before = chain.value();
                chain.push(bytes);
                frames.push(Frame {
                    index,
                    last,
                    bytes,
                    digest_before,
                });
                offset += len;
            }
            Step::End(end) => break end,
        }
    };
    Ok(BlobLayout {
        header,
        header_bytes,
        frames,
        digest: chain.value(),
        end,
    })
}

fn step(rest: &[u8], offset: usize, expected: u32, seen_last: bool) -> Step {
    let defect = |defect| Step::End(LayoutEnd::Defect { offset, defect });
    match rest.first() {
        None => Step::End(LayoutEnd::AtFrameBoundary),
        Some(&FRAME_TAG) if seen_last => defect(Defect::SegmentAfterLast),
        Some(&FRAME_TAG) => frame_step(rest, offset, expected),
        Some(&TRAILER_TAG) => trailer_step(rest, offset),
        Some(&other) => defect(Defect::UnknownItem(other)),
    }
}

fn frame_step(rest: &[u8], offset: usize, expected: u32) -> Step {
    let defect = |defect| Step::End(LayoutEnd::Defect { offset, defect });
    let mut reader = FieldReader::new(&rest[1..]);
    let (Ok(index), Ok(flags), Ok(sealed_len)) = (reader.u32(), reader.u8(), reader.u32()) else {
        return Step::End(LayoutEnd::TornTail { offset });
    };
    if index != expected || expected == u32::MAX {
        return defect(Defect::OutOfOrder {
            expected,
            found: index,
        });
    }
    if flags & !LAST_FLAG != 0 {
        return defect(Defect::BadFlags(flags));
    }
    let max_sealed = MAX_SEGMENT_PLAINTEXT + TAG_LEN;
    let sealed = sealed_len as usize;
    if sealed <= TAG_LEN || sealed > max_sealed {
        return defect(Defect::BadLength(sealed_len));
    }
    let len = FRAME_HEADER_LEN + sealed;
    if rest.len() < len {
        return Step::End(LayoutEnd::TornTail { offset });
    }
    Step::Frame {
        len,
        index,
        last: flags == LAST_FLAG,
    }
}

fn trailer_step(rest: &[u8], offset: usize) -> Step {
    let defect = |offset, defect| Step::End(LayoutEnd::Defect { offset, defect });
    match PublicTrailer::parse(&rest[..rest.len().min(TRAILER_LEN)]) {
        Ok(_) if rest.len() > TRAILER_LEN => defect(offset + TRAILER_LEN, Defect::TrailingBytes),
        Ok(trailer) => Step::End(LayoutEnd::Trailer { offset, trailer }),
        Err(TrailerDefect::Short) if PublicTrailer::is_prefix(rest) => {
            Step::End(LayoutEnd::TornTail { offset })
        }
        Err(_) => defect(offset, Defect::BadTrailer),
    }
}

/// Appends a frame header; the sealed bytes follow.
pub(crate) fn put_frame_header(out: &mut Vec<u8>, index: u32, last: bool, sealed_len: usize) {
    out.push(FRAME_TAG);
    out.extend_from_slice(&index.to_be_bytes());
    out.push(if last { LAST_FLAG } else { 0 });
    let len = u32::try_from(sealed_len).expect("invariant: segments are capped at 1 MiB");
    out.extend_from_slice(&len.to_be_bytes());
}
