//! Errors, split by origin: a peer that sent malformed SDP ([`SdpError`]) versus a peer whose
//! well-formed SDP cannot be negotiated ([`OfferAnswerError`]). Each maps to the SIP status the
//! caller answers with.

use crate::codec::PayloadType;

/// The peer sent SDP that is not a session description.
///
/// Maps to SIP **400 Bad Request** ([`SdpError::sip_status`]). `line` is 1-based and counts every
/// line of the input, blank ones included; for a line that is missing altogether it is the
/// number of the last line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {kind}")]
pub struct SdpError {
    /// 1-based line number where the problem was found.
    pub line: usize,
    /// What is wrong with that line.
    pub kind: SdpErrorKind,
}

impl SdpError {
    pub(crate) fn new(line: usize, kind: SdpErrorKind) -> Self {
        Self { line, kind }
    }

    /// The SIP status code a UAS answers an INVITE carrying this SDP with: always 400.
    pub fn sip_status(&self) -> u16 {
        400
    }
}

/// The problem found on an SDP line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The body is empty or has only blank lines.
    #[error("the description is empty")]
    Empty,
    /// The line is not UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// The line does not have the `<letter>=<value>` shape.
    #[error("expected `<type>=<value>` with a lowercase letter type")]
    NotATypeValueLine,
    /// The first line is not `v=`.
    #[error("the description must start with `v=0`")]
    MissingVersionLine,
    /// `v=` carries something other than `0`.
    #[error("unsupported protocol version {0:?}")]
    UnsupportedVersion(String),
    /// A mandatory line (`o=`) is absent.
    #[error("missing `{0}=` line")]
    MissingLine(char),
    /// A line that may appear once appeared again.
    #[error("duplicate `{0}=` line")]
    DuplicateLine(char),
    /// A session-level line appeared inside a media section.
    #[error("`{0}=` is not allowed in a media section")]
    NotAllowedInMedia(char),
    /// `r=` appeared before any `t=`.
    #[error("`r=` without a preceding `t=`")]
    RepeatWithoutTiming,
    /// A field of a line is missing or malformed.
    #[error("invalid `{line_type}=` line: bad {field}")]
    InvalidField {
        /// The line type letter.
        line_type: char,
        /// Which field is wrong.
        field: &'static str,
    },
}

/// Well-formed SDP that cannot be negotiated.
///
/// [`OfferAnswerError::sip_status`] gives the status a UAS answers the offer with. On the UAC side
/// ([`crate::accept_answer`]) there is no response to send for an answer that arrived in a 2xx:
/// the dialog acknowledges and then ends the call with BYE; the status is still the right one
/// when the answer arrived in a request (PRACK, UPDATE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferAnswerError {
    /// No audio stream can be accepted. SIP **488 Not Acceptable Here**.
    #[error("not acceptable: {0}")]
    NotAcceptable(NotAcceptableReason),
    /// An RTP stream has no `c=` line, neither at media nor at session level: the SDP is
    /// invalid (RFC 8866 §5.7). SIP **400 Bad Request**.
    #[error("media section {media_index} has no connection address")]
    MissingConnection {
        /// 0-based position of the `m=` line.
        media_index: usize,
    },
    /// The answer does not have one media section per offered one (RFC 3264 §6). SIP **488**.
    #[error("answer has {answered} media sections, the offer had {offered}")]
    MediaCountMismatch {
        /// Media sections in our offer.
        offered: usize,
        /// Media sections in the answer.
        answered: usize,
    },
    /// The answer uses a payload type the offer did not contain, or maps an offered payload
    /// type to a different codec. SIP **488**.
    #[error("answer uses payload type {0} that the offer did not offer")]
    UnofferedFormat(PayloadType),
}

impl OfferAnswerError {
    /// The SIP status code this error maps to: 400 for invalid SDP, 488 otherwise.
    pub fn sip_status(&self) -> u16 {
        match self {
            Self::MissingConnection { .. } => 400,
            Self::NotAcceptable(_) | Self::MediaCountMismatch { .. } | Self::UnofferedFormat(_) => {
                488
            }
        }
    }
}

/// Why no audio stream was acceptable. When several audio streams were offered, the reason is the
/// one found on the first of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotAcceptableReason {
    /// The offer has no audio stream with a non-zero port (or the answer rejected ours).
    #[error("no audio stream")]
    NoAudioStream,
    /// The audio stream uses a transport profile we do not accept: `RTP/SAVP` while SRTP is
    /// disabled or the caller supplied no SDES key, or a DTLS profile such as
    /// `UDP/TLS/RTP/SAVPF`.
    #[error("unsupported transport profile {0:?}")]
    UnsupportedProto(String),
    /// An `RTP/SAVP` stream without an `a=crypto` line we can use: no suite we have a key for,
    /// or only lines with an MKI, several keys, a key of the wrong length or session parameters
    /// we do not support. For an answer: it did not pick exactly one of our lines.
    #[error("no acceptable SRTP crypto suite and key")]
    NoAcceptableCrypto,
    /// The policy requires SRTP and the stream is plain `RTP/AVP`.
    #[error("SRTP is required")]
    SrtpRequired,
    /// None of the offered codecs is in the policy's list.
    #[error("no common codec")]
    NoCommonCodec,
    /// The connection address is not an IP literal (we do not resolve names) or is of another
    /// address family than our local address.
    #[error("unusable connection address")]
    UnusableAddress,
}
