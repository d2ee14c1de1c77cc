//! Herald's SDP: the session description model (RFC 8866, formerly RFC 4566) and the RFC 3264
//! offer/answer rules a media server needs to take calls from SIP trunks and from AudioCodes and
//! Polycom hard phones, and to place calls to them.
//!
//! # What it does
//!
//! - [`SessionDescription::parse`] turns bytes into a [`SessionDescription`]. It accepts what real
//!   devices send (LF-only line endings, trailing whitespace, blank lines, a missing `s=` or
//!   `t=`), and rejects what is not SDP with an [`SdpError`] naming the line and the problem. It
//!   never panics; it is the crate's fuzz entry point.
//! - `Display` prints a description with CRLF line endings in RFC 8866 order. Lines and
//!   attributes the model does not interpret are kept verbatim and printed back.
//! - Typed views of what offer/answer reads: [`Attribute::RtpMap`], [`Attribute::Fmtp`],
//!   `ptime`/`maxptime`, [`Direction`], `rtcp-mux`, [`Crypto`] (RFC 4568 SDES),
//!   `telephone-event` formats, all through [`MediaDescription`] methods.
//! - [`answer`] (UAS), [`offer`] and [`accept_answer`] (UAC) negotiate one audio stream into a
//!   [`NegotiatedAudio`]: what the media layer needs to send and receive RTP, and for `RTP/SAVP`
//!   the SDES keys of both sides ([`NegotiatedSrtp`]).
//! - [`SessionVersion`] keeps the `o=` line right across re-INVITEs.
//!
//! # What it does not do
//!
//! No I/O, no clock, no randomness: session ids, ports and SRTP keys are inputs
//! ([`LocalMedia`]). No cryptography: keys are opaque `inline:` text that the media crate
//! decodes; this crate checks only their shape and length. No name resolution: a `c=` with a
//! host name is an unusable address. No DTLS-SRTP: `RTP/SAVPF` and `UDP/TLS/RTP/SAVPF` (WebRTC)
//! are refused. No "best effort" SRTP (RFC 4568 keys in an `RTP/AVP` offer): such crypto lines
//! are ignored and the stream is plain RTP. No ICE or DTLS attributes beyond keeping them
//! verbatim, no video, no multiple audio streams, no re-offer of several codecs after an answer
//! narrowed them.
//!
//! # Offer/answer rules ([`answer`])
//!
//! 1. **One audio stream.** The first offered `m=audio` with a non-zero port, an acceptable
//!    proto (rule 10), a codec from [`AnswerPolicy::codecs`] and a usable address is answered
//!    with our port.
//! 2. **Everything else is refused in place.** Other sections (video, a second audio, a proto we
//!    refuse, `image` T.38, ...) are answered with port 0, the same media type and proto, and
//!    their first format, in the same position (RFC 3264 §6).
//! 3. **Nothing acceptable** gives [`OfferAnswerError::NotAcceptable`], which the SIP layer
//!    answers with 488; invalid SDP is [`SdpError`] or [`OfferAnswerError::MissingConnection`],
//!    answered with 400. Every error type documents its `sip_status()`.
//! 4. **One codec.** Our preference order wins among the offered codecs, unless
//!    [`AnswerPolicy::prefer_offer_order`]. The offerer's payload type numbers are echoed. A
//!    format counts only with its codec's clock rate (G.722's is 8000 though it samples at
//!    16 kHz).
//! 5. **ptime.** The offered `a=ptime` is followed if within [`AnswerPolicy::accepted_ptime`]
//!    (10..=60), else [`AnswerPolicy::default_ptime`] (20); an acceptable lower `a=maxptime`
//!    caps it.
//! 6. **telephone-event** (RFC 4733), when the policy allows, at the voice codec's clock rate if
//!    offered (8000, or 48000 with Opus), else at the other of the two.
//! 7. **Direction** (RFC 3264 §6.1): `sendonly` is answered `recvonly`, `recvonly` `sendonly`,
//!    `inactive` `inactive`, `sendrecv` `sendrecv`, further limited by
//!    [`LocalMedia::direction`]. The media-level attribute overrides the session-level one.
//! 8. **Hold.** `sendonly`, `inactive`, or the RFC 2543 `c=0.0.0.0` mean the peer holds the call
//!    ([`NegotiatedAudio::remote_on_hold`]); [`NegotiatedAudio::remote_direction`] reports the
//!    direction as offered. An offer with `c=0.0.0.0` cannot receive, so `sendrecv` there is
//!    answered `recvonly`.
//! 9. **Origin.** The answer's `o=` uses [`LocalMedia::session_id`] and
//!    [`LocalMedia::session_version`]; [`SessionVersion::stamp`] keeps the id and increments the
//!    version only when the content changed. `t=` is copied from the offer.
//! 10. **SRTP with SDES** (RFC 4568), by [`AnswerPolicy::srtp`] ([`SrtpPolicy`]). `RTP/AVP`
//!     is answered as plain RTP, unless the policy is `Required`
//!     ([`NotAcceptableReason::SrtpRequired`]). `RTP/SAVP` is answered when the policy is not
//!     `Disabled` and [`LocalMedia::srtp_keys`] holds keys (else
//!     [`NotAcceptableReason::UnsupportedProto`]): the first offered `a=crypto` line (the
//!     offerer's order is its preference) whose suite we have a key for, with one `inline:` key
//!     of our key's length, an optional lifetime (ignored), no MKI and no session parameter but
//!     `WSH`, is answered with its tag, its suite and our key; none gives
//!     [`NotAcceptableReason::NoAcceptableCrypto`]. So the caller's key list decides which
//!     suites we accept, and phones that offer only `AES_CM_128_HMAC_SHA1_80` get that. The
//!     negotiated keys are in [`NegotiatedAudio::srtp`]. Any other proto is refused
//!     ([`NotAcceptableReason::UnsupportedProto`]).
//!
//! ```
//! use herald_sdp::{answer, AnswerPolicy, Codec, LocalMedia, SessionDescription};
//!
//! let offer = SessionDescription::parse(
//!     b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
//!       m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n",
//! )?;
//! let local = LocalMedia::new("198.51.100.1".parse()?, 30000, 42);
//! let answer = answer(&offer, &local, &AnswerPolicy::default())?;
//! assert_eq!(answer.audio.codec, Codec::Pcma);
//! assert_eq!(answer.audio.remote_rtp, "192.0.2.10:40000".parse()?);
//! assert!(answer.sdp.to_string().contains("m=audio 30000 RTP/AVP 8 101\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod answer;
mod attribute;
mod codec;
mod error;
mod model;
mod negotiation;
mod offer;
mod parse;
mod sdes;
mod version;

pub use answer::{Answer, answer};
pub use attribute::{Attribute, Crypto, Direction, Fmtp, RtpMap};
pub use codec::{Codec, InvalidPayloadType, PayloadType, RtpFormat};
pub use error::{NotAcceptableReason, OfferAnswerError, SdpError, SdpErrorKind};
pub use model::{
    Bandwidth, Connection, Line, MediaDescription, Origin, SessionDescription, Timing,
};
pub use negotiation::{AnswerPolicy, LocalMedia, NegotiatedAudio, TelephoneEvent};
pub use offer::{accept_answer, offer};
pub use sdes::{LocalCryptoKey, NegotiatedSrtp, SrtpPolicy};
pub use version::SessionVersion;
