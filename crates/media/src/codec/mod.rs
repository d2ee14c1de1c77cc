//! Voice codecs: PCM frames in, RTP payloads out, and back, with packet-loss concealment.
//!
//! # What it does
//!
//! [`Encoder`] turns one frame of 16-bit mono PCM (one packet's worth: ptime 10-60 ms, 20 by
//! default) into an RTP payload; [`Decoder`] turns a payload back into PCM, conceals a lost
//! packet ([`Decoder::conceal`]) and, for Opus, recovers a lost packet from the in-band FEC of
//! the one after it ([`Decoder::decode_fec`]). Both are plain values with no I/O, no clock and
//! no allocation per frame: callers own every buffer. [`CodecKind`] carries the facts that RTP
//! and SDP need (clock rates, frame sizes); [`CodecError`] says whose fault a failure is.
//!
//! # What it does not do
//!
//! No RTP packetization, timestamps or jitter buffering (see `rtp` and `jitter`): the caller
//! decides when a packet is lost and calls `conceal` in its place. No resampling: each codec
//! takes PCM at the rates listed below, and [`crate::resample`] converts prompts ahead of time.
//! No stereo, no G.722 at 56 or 48 kbit/s, no Opus DTX or multistream.
//!
//! # Codecs
//!
//! | codec | SDP | RTP clock | PCM rate | 20 ms frame |
//! | --- | --- | --- | --- | --- |
//! | PCMU (G.711 µ-law) | `PCMU/8000`, PT 0 | 8000 | 8000 | 160 samples → 160 bytes |
//! | PCMA (G.711 A-law) | `PCMA/8000`, PT 8 | 8000 | 8000 | 160 samples → 160 bytes |
//! | G.722 64 kbit/s | `G722/8000`, PT 9 | 8000 | 16000 | 320 samples → 160 bytes |
//! | Opus | `opus/48000/2`, dynamic | 48000 | 8/12/16/24/48 kHz | e.g. 320 samples at 16 kHz |
//!
//! - **G.711** maps each sample to one byte; every byte decodes. Concealment follows ITU-T
//!   G.711 Appendix I (pitch-period repetition, fading to silence over 60 ms).
//! - **G.722** samples at 16 kHz, but its RTP clock runs at 8000 Hz because RFC 1890 got it
//!   wrong and RFC 3551 §4.5.2 kept the mistake: an RTP timestamp advances 160 per 20 ms, not
//!   320. Sub-band ADPCM per ITU-T G.722, implemented here (see `g722.rs` for why). Concealment
//!   repeats pitch periods at 16 kHz and moves the ADPCM state along the concealed audio.
//! - **Opus** always uses a 48 kHz RTP clock whatever the audio bandwidth (RFC 7587), and is
//!   signalled as two channels even when mono. PCM can be any of libopus's rates; frames last
//!   2.5-60 ms. The encoder is mono, VoIP, voice signal, in-band FEC sized for 10 % loss, at
//!   16-32 kbit/s by rate. Concealment and FEC are libopus's.

mod decoder;
mod encoder;
mod error;
pub mod g711;
mod g722;
mod opus;
mod plc;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::{CodecError, UsageError};

/// The voice codecs Herald encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 at 64 kbit/s.
    G722,
    /// Opus, mono.
    Opus,
}

impl CodecKind {
    /// The codec an SDP media format names, if Herald can code it.
    pub fn from_sdp(codec: &herald_sdp::Codec) -> Option<Self> {
        match codec {
            herald_sdp::Codec::Pcmu => Some(CodecKind::Pcmu),
            herald_sdp::Codec::Pcma => Some(CodecKind::Pcma),
            herald_sdp::Codec::G722 => Some(CodecKind::G722),
            herald_sdp::Codec::Opus => Some(CodecKind::Opus),
            herald_sdp::Codec::TelephoneEvent | herald_sdp::Codec::Other(_) => None,
        }
    }

    /// The RTP timestamp clock rate, in Hz: 8000 for G.711 and G.722 (RFC 3551), 48000 for
    /// Opus (RFC 7587).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722 => 8_000,
            CodecKind::Opus => 48_000,
        }
    }

    /// The PCM sample rate the codec works at natively, in Hz: 8000 for G.711, 16000 for
    /// G.722, 48000 for Opus (which also accepts 8000, 12000, 16000 and 24000).
    pub fn native_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8_000,
            CodecKind::G722 => 16_000,
            CodecKind::Opus => 48_000,
        }
    }

    /// PCM samples in one frame of `ptime_ms` milliseconds at `pcm_rate` Hz.
    pub fn samples_per_frame(self, pcm_rate: u32, ptime_ms: u32) -> usize {
        (u64::from(pcm_rate) * u64::from(ptime_ms) / 1_000) as usize
    }

    /// How far the RTP timestamp advances per frame of `ptime_ms` milliseconds.
    pub fn rtp_ticks_per_frame(self, ptime_ms: u32) -> u32 {
        self.rtp_clock_rate().saturating_mul(ptime_ms) / 1_000
    }

    /// An output buffer size that always holds one encoded frame of `ptime_ms` milliseconds.
    pub fn max_payload_len(self, ptime_ms: u32) -> usize {
        match self {
            // One byte per 8 kHz sample, or per 16 kHz sample pair.
            CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722 => 8 * ptime_ms as usize,
            // The encoder never writes more than a datagram's worth.
            CodecKind::Opus => 1_500,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` lines.
    pub fn sdp_name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::G722 => "G722",
            CodecKind::Opus => "opus",
        }
    }
}

/// Checks that a waveform codec runs at its native rate.
fn check_native_rate(kind: CodecKind, rate: u32) -> Result<(), CodecError> {
    if rate == kind.native_rate() {
        Ok(())
    } else {
        Err(UsageError::UnsupportedRate { codec: kind, rate }.into())
    }
}

/// Checks that an output buffer of `got` items can take `needed`.
fn check_room(needed: usize, got: usize) -> Result<(), CodecError> {
    if got >= needed {
        Ok(())
    } else {
        Err(UsageError::BufferTooSmall { needed, got }.into())
    }
}

impl std::fmt::Display for CodecKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.sdp_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_facts() {
        assert_eq!(CodecKind::G722.rtp_clock_rate(), 8_000);
        assert_eq!(CodecKind::G722.native_rate(), 16_000);
        assert_eq!(CodecKind::G722.rtp_ticks_per_frame(20), 160);
        assert_eq!(CodecKind::G722.samples_per_frame(16_000, 20), 320);
        assert_eq!(CodecKind::Opus.rtp_ticks_per_frame(20), 960);
        assert_eq!(CodecKind::Opus.samples_per_frame(16_000, 60), 960);
        assert_eq!(CodecKind::Pcma.max_payload_len(30), 240);
    }

    #[test]
    fn sdp_mapping() {
        assert_eq!(
            CodecKind::from_sdp(&herald_sdp::Codec::G722),
            Some(CodecKind::G722)
        );
        assert_eq!(
            CodecKind::from_sdp(&herald_sdp::Codec::TelephoneEvent),
            None
        );
        assert_eq!(
            CodecKind::from_sdp(&herald_sdp::Codec::Other("GSM".into())),
            None
        );
    }

    #[test]
    fn rates_are_checked() {
        let wrong = |result: Result<Encoder, CodecError>| {
            matches!(
                result,
                Err(CodecError::Usage(UsageError::UnsupportedRate { .. }))
            )
        };
        assert!(wrong(Encoder::new(CodecKind::Pcmu, 16_000)));
        assert!(wrong(Encoder::new(CodecKind::G722, 8_000)));
        assert!(wrong(Encoder::new(CodecKind::Opus, 44_100)));
        assert!(Decoder::new(CodecKind::Opus, 12_000).is_ok());
        assert!(Decoder::new(CodecKind::Pcma, 8_000).is_ok());
    }
}
