//! Opus (RFC 6716) through libopus: mono, VoIP application, in-band FEC on.

use super::{CodecError, CodecKind, UsageError};

/// PCM sample rates libopus accepts.
const RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
/// Largest payload the encoder may produce: an RTP payload has to fit a datagram.
const MAX_PAYLOAD: usize = 1_500;
/// Largest packet accepted from a peer: 120 ms of 1275-byte frames (RFC 6716 §3.2.5), rounded.
const MAX_PACKET: usize = 61_440;
/// Packet loss the encoder assumes when it sizes its in-band FEC.
const EXPECTED_LOSS_PERCENT: i32 = 10;

/// Checks that libopus runs at `rate`.
fn check_rate(rate: u32) -> Result<(), CodecError> {
    if RATES.contains(&rate) {
        Ok(())
    } else {
        Err(UsageError::UnsupportedRate {
            codec: CodecKind::Opus,
            rate,
        }
        .into())
    }
}

/// Checks that `samples` at `rate` is an Opus frame duration (2.5, 5, 10, 20, 40 or 60 ms).
fn check_frame(samples: usize, rate: u32) -> Result<(), CodecError> {
    let half_ms = samples as u64 * 2_000;
    let rate = u64::from(rate);
    let valid =
        half_ms.is_multiple_of(rate) && [5, 10, 20, 40, 80, 120].contains(&(half_ms / rate));
    if valid {
        Ok(())
    } else {
        Err(UsageError::FrameLength {
            codec: CodecKind::Opus,
            samples,
            rate: rate as u32,
        }
        .into())
    }
}

/// Encoder bitrate by PCM rate: enough for wideband speech with its FEC copy, no more.
fn bitrate(rate: u32) -> i32 {
    match rate {
        8_000 => 16_000,
        12_000 => 20_000,
        16_000 => 24_000,
        _ => 32_000,
    }
}

/// Maps a libopus error from decoding a peer's packet. The packet has been checked for length
/// and the buffers sized for it, so whatever libopus still objects to is the packet's fault,
/// except for failures of the library itself.
fn map_decode_error(error: ::opus::Error) -> CodecError {
    match error.code() {
        ::opus::ErrorCode::AllocFail
        | ::opus::ErrorCode::InvalidState
        | ::opus::ErrorCode::Unimplemented => map_setup_error(error),
        code => CodecError::BadPayload {
            codec: CodecKind::Opus,
            reason: code.description(),
        },
    }
}

/// Maps a libopus error from creating, configuring or running the encoder: never the peer's.
fn map_setup_error(error: ::opus::Error) -> CodecError {
    CodecError::Library {
        codec: CodecKind::Opus,
        reason: error.code().description(),
    }
}

/// A libopus encoder configured for voice.
pub(crate) struct OpusEncoder {
    /// The libopus state.
    inner: ::opus::Encoder,
    /// PCM sample rate, in Hz.
    rate: u32,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .finish()
    }
}

impl OpusEncoder {
    /// A mono VoIP encoder at `rate` with in-band FEC sized for 10 % loss.
    pub(crate) fn new(rate: u32) -> Result<Self, CodecError> {
        check_rate(rate)?;
        let mut inner =
            ::opus::Encoder::new(rate, ::opus::Channels::Mono, ::opus::Application::Voip)
                .map_err(map_setup_error)?;
        inner.set_inband_fec(true).map_err(map_setup_error)?;
        inner
            .set_packet_loss_perc(EXPECTED_LOSS_PERCENT)
            .map_err(map_setup_error)?;
        inner
            .set_bitrate(::opus::Bitrate::Bits(bitrate(rate)))
            .map_err(map_setup_error)?;
        inner
            .set_signal(::opus::Signal::Voice)
            .map_err(map_setup_error)?;
        Ok(OpusEncoder { inner, rate })
    }

    /// Encodes one frame of `pcm` into `out`; returns the payload length.
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        check_frame(pcm.len(), self.rate)?;
        let limit = out.len().min(MAX_PAYLOAD);
        self.inner
            .encode(pcm, &mut out[..limit])
            .map_err(|error| match error.code() {
                ::opus::ErrorCode::BufferTooSmall => UsageError::BufferTooSmall {
                    needed: MAX_PAYLOAD,
                    got: limit,
                }
                .into(),
                _ => map_setup_error(error),
            })
    }
}

/// A libopus decoder.
pub(crate) struct OpusDecoder {
    /// The libopus state.
    inner: ::opus::Decoder,
    /// PCM sample rate, in Hz.
    rate: u32,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish()
    }
}

impl OpusDecoder {
    /// A mono decoder producing PCM at `rate`.
    pub(crate) fn new(rate: u32) -> Result<Self, CodecError> {
        check_rate(rate)?;
        let inner = ::opus::Decoder::new(rate, ::opus::Channels::Mono).map_err(map_setup_error)?;
        Ok(OpusDecoder { inner, rate })
    }

    /// Checks a peer's packet and returns the number of samples it decodes to.
    fn packet_samples(&self, payload: &[u8]) -> Result<usize, CodecError> {
        let reason = match payload.len() {
            0 => "empty payload",
            len if len > MAX_PACKET => "packet longer than 120 ms of frames",
            _ => match ::opus::packet::get_nb_samples(payload, self.rate) {
                Ok(0) => "packet holds no frames",
                Ok(samples) => return Ok(samples),
                Err(error) => return Err(map_decode_error(error)),
            },
        };
        Err(CodecError::BadPayload {
            codec: CodecKind::Opus,
            reason,
        })
    }

    /// Decodes one packet into `out`; returns the number of samples written.
    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let samples = self.packet_samples(payload)?;
        let Some(target) = out.get_mut(..samples) else {
            return Err(UsageError::BufferTooSmall {
                needed: samples,
                got: out.len(),
            }
            .into());
        };
        self.inner
            .decode(payload, target, false)
            .map_err(map_decode_error)
    }

    /// Fills `out` with libopus's concealment of a lost frame of that length.
    pub(crate) fn conceal(&mut self, out: &mut [i16]) -> Result<usize, CodecError> {
        check_frame(out.len(), self.rate)?;
        self.inner.decode(&[], out, false).map_err(map_decode_error)
    }

    /// Recovers the lost frame before `next_payload` from its in-band FEC into `out`, whose
    /// length must be the duration of the lost frame. Without FEC data libopus conceals instead.
    pub(crate) fn decode_fec(
        &mut self,
        next_payload: &[u8],
        out: &mut [i16],
    ) -> Result<usize, CodecError> {
        self.packet_samples(next_payload)?;
        check_frame(out.len(), self.rate)?;
        self.inner
            .decode(next_payload, out, true)
            .map_err(map_decode_error)
    }
}
