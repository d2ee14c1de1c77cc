//! [`Encoder`]: one codec's encoder behind a single type.

use super::g711::Law;
use super::g722::G722Encoder;
use super::opus::OpusEncoder;
use super::{CodecError, CodecKind, UsageError, check_native_rate, check_room};

/// The codec-specific encoder state.
#[derive(Debug)]
enum Inner {
    /// PCMU or PCMA: stateless.
    G711(Law),
    /// G.722 sub-band ADPCM state.
    G722(Box<G722Encoder>),
    /// libopus encoder.
    Opus(OpusEncoder),
}

/// Encodes PCM frames into RTP payloads for one codec.
#[derive(Debug)]
pub struct Encoder {
    /// Which codec this is.
    kind: CodecKind,
    /// PCM sample rate of the input, in Hz.
    pcm_rate: u32,
    /// The codec's state.
    inner: Inner,
}

impl Encoder {
    /// An encoder for `kind` taking PCM at `pcm_rate` Hz: 8000 for G.711, 16000 for G.722, and
    /// 8000, 12000, 16000, 24000 or 48000 for Opus (mono, VoIP, in-band FEC for 10 % loss).
    pub fn new(kind: CodecKind, pcm_rate: u32) -> Result<Self, CodecError> {
        let inner = match kind {
            CodecKind::Pcmu | CodecKind::Pcma => {
                check_native_rate(kind, pcm_rate)?;
                Inner::G711(Law::of(kind))
            }
            CodecKind::G722 => {
                check_native_rate(kind, pcm_rate)?;
                Inner::G722(Box::new(G722Encoder::new()))
            }
            CodecKind::Opus => Inner::Opus(OpusEncoder::new(pcm_rate)?),
        };
        Ok(Encoder {
            kind,
            pcm_rate,
            inner,
        })
    }

    /// The codec this encoder produces.
    pub fn kind(&self) -> CodecKind {
        self.kind
    }

    /// The PCM sample rate this encoder takes, in Hz.
    pub fn pcm_rate(&self) -> u32 {
        self.pcm_rate
    }

    /// Encodes one frame of `pcm` (one packet's worth, e.g. 20 ms) into `out` and returns the
    /// number of bytes written. [`CodecKind::max_payload_len`] gives a sufficient `out` size.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        match &mut self.inner {
            Inner::G711(law) => {
                check_room(pcm.len(), out.len())?;
                law.encode(pcm, out);
                Ok(pcm.len())
            }
            Inner::G722(encoder) => {
                if !pcm.len().is_multiple_of(2) {
                    return Err(UsageError::FrameLength {
                        codec: CodecKind::G722,
                        samples: pcm.len(),
                        rate: self.pcm_rate,
                    }
                    .into());
                }
                check_room(pcm.len() / 2, out.len())?;
                Ok(encoder.encode(pcm, out))
            }
            Inner::Opus(encoder) => encoder.encode(pcm, out),
        }
    }
}
