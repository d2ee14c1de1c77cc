//! Herald's media: everything that happens to audio between a UDP socket and the call
//! application, as sans-IO state machines.
//!
//! # What it does
//!
//! - [`stream::MediaStream`]: one RTP session of one call leg, the crate's driver type. It
//!   composes everything below: SRTP, symmetric RTP (latching), sources and SSRC changes, the
//!   jitter buffer and decoder, DTMF by three methods behind one de-duplicating pipeline, paced
//!   prompt playback with barge-in, RTCP, and the recording tap (both directions as 8 kHz PCM
//!   at sample positions, for the call recorder).
//! - [`stream::Bridge`]: two streams of one call (a B2BUA's caller and agent legs) relayed to
//!   each other, payloads passed through when codec and ptime match, transcoded otherwise.
//! - [`rtp`] and [`rtcp`]: RTP header view (over `rtp-rs`) and writer, sequence and timestamp
//!   extension (RFC 3550 A.1), compound RTCP parsing and writing, reception statistics.
//! - [`srtp`]: SRTP/SRTCP with SDES keys (RFC 3711, RFC 4568, RFC 7714), in place.
//! - [`codec`]: G.711 µ-law/A-law, G.722, Opus (with in-band FEC) and packet-loss concealment;
//!   [`resample`] for prompts, for feeding the 8 kHz DTMF detector and for bridges that
//!   transcode.
//! - [`jitter`]: the adaptive jitter buffer.
//! - [`dtmf`]: RFC 4733 events, SIP INFO bodies, the in-band (Goertzel) detector, the pipeline.
//! - [`prompt`]: prompt files decoded (WAV, FLAC, MP3, Ogg/Vorbis) and encoded once per codec
//!   and packet time; [`tone`]: DTMF, beep and ringback tones.
//!
//! # What it does not do
//!
//! No sockets, threads, files or clock reads: the binary's media workers own those and drive
//! streams (see `docs/media.md`). No ICE, DTLS or WebRTC; no mixing of several parties (a
//! bridge joins exactly two legs); no video.
//!
//! # Time
//!
//! Every machine takes `now: Instant` and answers `poll_timeout()`; nothing here reads a clock
//! (`clippy.toml` forbids it). RTP media time is an extended `u64` in the stream's clock rate.

pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod prompt;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod stream;
pub mod tone;
