//! Codec errors, split by origin: what the peer sent, what the caller asked, what the library did.

use super::CodecKind;

/// Why a codec operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The peer's payload cannot be decoded (empty, corrupt, not of this codec). The stream may
    /// go on: treat the packet as lost and conceal it.
    #[error("{codec} payload rejected: {reason}")]
    BadPayload {
        /// The codec that rejected the payload.
        codec: CodecKind,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The caller asked for something the codec cannot do: a bug or a configuration error on
    /// our side, not the peer's.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The codec library failed for a reason of its own (e.g. libopus could not allocate).
    #[error("{codec} library failure: {reason}")]
    Library {
        /// The codec whose library failed.
        codec: CodecKind,
        /// The library's description of the failure.
        reason: &'static str,
    },
}

impl CodecError {
    /// Whether the peer caused this error (as opposed to the caller or the library).
    pub fn is_bad_payload(&self) -> bool {
        matches!(self, CodecError::BadPayload { .. })
    }
}

/// A misuse of the codec API by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The codec does not run at this PCM sample rate.
    #[error("{codec} does not run with PCM at {rate} Hz")]
    UnsupportedRate {
        /// The codec asked for.
        codec: CodecKind,
        /// The PCM sample rate asked for, in Hz.
        rate: u32,
    },
    /// The codec cannot code a frame of this many samples (G.722 needs sample pairs; Opus
    /// frames last 2.5, 5, 10, 20, 40 or 60 ms).
    #[error("{codec} cannot code a frame of {samples} samples at {rate} Hz")]
    FrameLength {
        /// The codec asked for.
        codec: CodecKind,
        /// The frame length given, in samples.
        samples: usize,
        /// The PCM sample rate, in Hz.
        rate: u32,
    },
    /// The output buffer is too short for the result.
    #[error("output buffer holds {got} items but {needed} are needed")]
    BufferTooSmall {
        /// Items (bytes or samples) the result needs.
        needed: usize,
        /// Items the buffer holds.
        got: usize,
    },
}
