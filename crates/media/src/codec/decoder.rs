//! [`Decoder`]: one codec's decoder and its packet-loss concealment behind a single type.

use super::g711::Law;
use super::g722::G722Decoder;
use super::opus::OpusDecoder;
use super::plc::Concealer;
use super::{CodecError, CodecKind, check_native_rate, check_room};

/// The codec-specific decoder state. The waveform codecs carry their own concealment; Opus
/// conceals inside libopus.
#[derive(Debug)]
enum Inner {
    /// PCMU or PCMA.
    G711 {
        /// Which law.
        law: Law,
        /// Pitch-repetition concealment at 8 kHz.
        plc: Box<Concealer>,
    },
    /// G.722 at 64 kbit/s.
    G722 {
        /// Sub-band ADPCM state.
        state: Box<G722Decoder>,
        /// Pitch-repetition concealment at 16 kHz.
        plc: Box<Concealer>,
    },
    /// libopus decoder.
    Opus(OpusDecoder),
}

/// Decodes RTP payloads of one codec into PCM and conceals lost packets.
///
/// Feed it every packet of the stream in order: [`decode`](Self::decode) for each packet that
/// arrived, [`conceal`](Self::conceal) (or [`decode_fec`](Self::decode_fec), when the next
/// packet is already there) for each one that did not. The concealment of G.711 and G.722
/// learns from the decoded audio and blends the first packet after a loss into it.
#[derive(Debug)]
pub struct Decoder {
    /// Which codec this is.
    kind: CodecKind,
    /// PCM sample rate of the output, in Hz.
    pcm_rate: u32,
    /// The codec's state.
    inner: Inner,
}

impl Decoder {
    /// A decoder for `kind` producing PCM at `pcm_rate` Hz: 8000 for G.711, 16000 for G.722,
    /// and 8000, 12000, 16000, 24000 or 48000 for Opus (mono).
    pub fn new(kind: CodecKind, pcm_rate: u32) -> Result<Self, CodecError> {
        let inner = match kind {
            CodecKind::Pcmu | CodecKind::Pcma => {
                check_native_rate(kind, pcm_rate)?;
                Inner::G711 {
                    law: Law::of(kind),
                    plc: Box::new(Concealer::new(pcm_rate)),
                }
            }
            CodecKind::G722 => {
                check_native_rate(kind, pcm_rate)?;
                Inner::G722 {
                    state: Box::new(G722Decoder::new()),
                    plc: Box::new(Concealer::new(pcm_rate)),
                }
            }
            CodecKind::Opus => Inner::Opus(OpusDecoder::new(pcm_rate)?),
        };
        Ok(Decoder {
            kind,
            pcm_rate,
            inner,
        })
    }

    /// The codec this decoder reads.
    pub fn kind(&self) -> CodecKind {
        self.kind
    }

    /// The PCM sample rate this decoder produces, in Hz.
    pub fn pcm_rate(&self) -> u32 {
        self.pcm_rate
    }

    /// Decodes one RTP payload into `out` and returns the number of samples written.
    ///
    /// `out` must hold the whole packet: one sample per byte for G.711, two per byte for G.722,
    /// and up to 120 ms for Opus. Any byte sequence is a valid G.711 or G.722 payload; an empty
    /// payload or a corrupt Opus packet is [`CodecError::BadPayload`] (conceal it instead).
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::BadPayload {
                codec: self.kind,
                reason: "empty payload",
            });
        }
        match &mut self.inner {
            Inner::G711 { law, plc } => {
                check_room(payload.len(), out.len())?;
                let decoded = &mut out[..payload.len()];
                law.decode(payload, decoded);
                plc.receive(decoded);
                Ok(payload.len())
            }
            Inner::G722 { state, plc } => {
                let samples = payload.len().saturating_mul(2);
                check_room(samples, out.len())?;
                let decoded = &mut out[..samples];
                state.decode(payload, decoded);
                plc.receive(decoded);
                Ok(samples)
            }
            Inner::Opus(decoder) => decoder.decode(payload, out),
        }
    }

    /// Fills `out` (its whole length: one lost frame, e.g. 20 ms) with concealment for a lost
    /// packet and returns the number of samples written.
    ///
    /// G.711 and G.722 repeat the last pitch period, fading to silence after 60 ms of
    /// consecutive loss; G.722 also moves its ADPCM state along the concealed audio. Opus uses
    /// libopus's concealment, whose frame must last 2.5, 5, 10, 20, 40 or 60 ms.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        match &mut self.inner {
            Inner::G711 { plc, .. } => plc.conceal(out),
            Inner::G722 { state, plc } => {
                let before: [i16; 24] = plc.recent();
                plc.conceal(out);
                state.track_concealment(&before, out);
            }
            Inner::Opus(decoder) => return decoder.conceal(out),
        }
        Ok(out.len())
    }

    /// Recovers a lost frame from the in-band forward error correction carried by the packet
    /// that followed it, writing `out.len()` samples (the duration of the lost frame).
    ///
    /// Only Opus carries FEC; if `next_payload` has none, libopus conceals instead. For the
    /// other codecs this is [`conceal`](Self::conceal) and `next_payload` is not read. Either
    /// way, decode `next_payload` itself with [`decode`](Self::decode) afterwards.
    pub fn decode_fec(
        &mut self,
        next_payload: &[u8],
        out: &mut [i16],
    ) -> Result<usize, CodecError> {
        match &mut self.inner {
            Inner::Opus(decoder) => decoder.decode_fec(next_payload, out),
            _ => self.conceal(out),
        }
    }
}
