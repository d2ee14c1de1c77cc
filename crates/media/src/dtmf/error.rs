//! [`DtmfError`]: what can be wrong with DTMF input from a peer.

use thiserror::Error;

/// Why DTMF input from a peer (an RTP telephone-event payload or a SIP INFO body) was refused,
/// or a DTMF component could not be set up.
///
/// Messages never quote the offending value: it may be a digit, and digits stay out of logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtmfError {
    /// An RTP telephone-event payload shorter than its 4-byte block (RFC 4733 §2.3).
    #[error("telephone-event payload of {len} bytes, shorter than one 4-byte event block")]
    ShortPayload {
        /// The payload's length in bytes.
        len: usize,
    },
    /// A buffer too small to write a 4-byte telephone-event block into.
    #[error("buffer of {len} bytes cannot hold a 4-byte telephone-event block")]
    BufferTooSmall {
        /// The buffer's length in bytes.
        len: usize,
    },
    /// An in-band detector asked for a sample rate it does not read (the caller's mistake).
    #[error("in-band DTMF detection reads 8000 Hz audio, not {rate} Hz")]
    UnsupportedSampleRate {
        /// The rate asked for.
        rate: u32,
    },
    /// A character or event code that is not one of the sixteen DTMF keys.
    #[error("not a DTMF key (0-9, *, #, A-D or event code 0-15)")]
    NotADigit,
    /// A SIP INFO with a content type other than `application/dtmf-relay` or `application/dtmf`.
    #[error("unsupported DTMF content type (expected application/dtmf-relay or application/dtmf)")]
    UnsupportedContentType,
    /// A SIP INFO body that is not UTF-8 text.
    #[error("DTMF body is not UTF-8 text")]
    BodyNotText,
    /// An `application/dtmf-relay` body without a `Signal=` line.
    #[error("application/dtmf-relay body has no Signal line")]
    MissingSignal,
    /// An `application/dtmf-relay` body with more than one `Signal=` line.
    #[error("application/dtmf-relay body has more than one Signal line")]
    DuplicateSignal,
    /// An `application/dtmf-relay` `Duration=` that is not a whole number of milliseconds.
    #[error("application/dtmf-relay Duration is not a whole number of milliseconds")]
    InvalidDuration,
    /// A body line that is not `key=value`.
    #[error("application/dtmf-relay body line {line} is not key=value")]
    MalformedLine {
        /// The 1-based line number.
        line: usize,
    },
}

impl DtmfError {
    /// The SIP status code a SIP INFO carrying this error should be answered with, or `None`
    /// for errors that do not come from SIP (RTP payloads, buffers).
    ///
    /// 415 Unsupported Media Type for a body type we do not read (RFC 3261 §21.4.13), 400 Bad
    /// Request for a body we read but could not understand.
    pub fn sip_status(&self) -> Option<u16> {
        match self {
            DtmfError::ShortPayload { .. }
            | DtmfError::BufferTooSmall { .. }
            | DtmfError::UnsupportedSampleRate { .. } => None,
            DtmfError::UnsupportedContentType => Some(415),
            DtmfError::NotADigit
            | DtmfError::BodyNotText
            | DtmfError::MissingSignal
            | DtmfError::DuplicateSignal
            | DtmfError::InvalidDuration
            | DtmfError::MalformedLine { .. } => Some(400),
        }
    }
}
