//! DTMF: the keys a caller presses, however they arrive, each reported once.
//!
//! Callers reach Herald's IVR through SIP trunks and desk phones that signal keys in one or
//! more of three ways, and this module reads all three:
//!
//! | method | reader | input | reports |
//! | --- | --- | --- | --- |
//! | RTP telephone events (RFC 4733, was RFC 2833) | [`EventReceiver`] | event packets of one SSRC | [`ReceivedDigit`] at the first packet of each event |
//! | SIP INFO (`application/dtmf-relay`, `application/dtmf`) | [`parse_info`] | `Content-Type` and body | [`InfoDigit`] |
//! | tones in the audio | [`InbandDetector`] | 8 kHz 16-bit PCM | [`InbandDigit`] after ~30 ms of tone |
//!
//! [`DtmfPipeline`] merges them into one stream of [`KeyPress`]es per call: a press signalled
//! two ways counts once, and in-band detection falls silent once the far end has shown it
//! signals keys out of band. [`TelephoneEvent`] reads and writes the RFC 4733 payload, for
//! receiving and for sending keys; [`crate::tone`] generates the tones for sending in band.
//!
//! Not here: choosing the telephone-event payload type and clock rate (SDP negotiation in
//! `herald-sdp`), RTP header parsing and sequence/timestamp extension (the RTP layer hands
//! over extended values), decoding and decimating audio to 8 kHz (the codec layer), SIP INFO
//! transactions and Info-Package negotiation (`herald-sip`), and what the keys mean (the IVR).
//!
//! # Run loop and time
//!
//! Sans-IO, like the rest of the crate. The media layer feeds each machine as input arrives
//! and drains its outputs:
//!
//! ```text
//! event packet  -> EventReceiver::handle_packet(now, seq, ts, marker, payload) -> poll_digit
//! deadline      -> EventReceiver::handle_timeout(now)        (poll_timeout gives the deadline)
//! audio frame   -> InbandDetector::process(pcm)                                 -> poll_digit
//! SIP INFO      -> parse_info(content_type, body)                               -> InfoDigit
//! each digit    -> DtmfPipeline::handle_digit(now, source, digit)               -> poll_digit
//! ```
//!
//! `now` is the arrival time the caller observed; nothing here reads a clock, sleeps or
//! allocates per packet (queues are sized once, at construction).
//!
//! # Privacy
//!
//! Digits are card numbers and PINs. [`Digit`]'s `Debug` and `Display` print `Digit(..)`,
//! and every type that holds one (or, like [`TelephoneEvent`] and
//! [`ToneSpec`](crate::tone::ToneSpec), an equivalent code or frequency pair) hides it the
//! same way, so a digit cannot reach a log line by accident. [`Digit::as_char`] gives the
//! value to code that needs it. Errors never quote the input they refuse.

mod digit;
mod error;
mod event;
mod inband;
mod info;
mod pipeline;
mod queue;
mod receiver;

pub use digit::Digit;
pub use error::DtmfError;
pub use event::TelephoneEvent;
pub use inband::{
    InbandDetector, InbandDigit, MIN_TONE_DBM0, SAMPLE_RATE as INBAND_SAMPLE_RATE, WINDOWS_TO_END,
    WINDOWS_TO_REPORT,
};
pub use info::{InfoDigit, parse_info};
pub use pipeline::{DtmfPipeline, DtmfSource, KeyPress, PipelineConfig};
pub use receiver::{EventReceiver, MAX_SEGMENT, ReceivedDigit, SEGMENT_SLACK};
