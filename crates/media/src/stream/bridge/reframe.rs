//! Re-framing for a relay: [`ByteFramer`] cuts G.711/G.722 payload bytes into the other leg's
//! frames; [`Transcoder`] resamples decoded audio, cuts it into the other leg's frames and
//! encodes them. Both allocate in `new` only, and both close a frame at a gap in the source
//! (a slot that gave nothing): what was pending goes out padded with silence, so audio from
//! before a pause never joins audio from after it.

use std::time::{Duration, Instant};

use super::{MediaFormat, RelaySetupError};
use crate::codec::Encoder;
use crate::resample::{Decimator, Interpolator};
use crate::stream::decode_rate;

/// How far a frame's slot time may lie from where the previous frame ended and still count as
/// continuing it.
const CONTINUITY: Duration = Duration::from_millis(1);

/// Where the previous frame ended, to tell continuing audio from audio after a gap.
#[derive(Default)]
struct Continuity {
    next: Option<Instant>,
}

impl Continuity {
    /// Whether a frame at `at` lasting `duration` follows a gap; it becomes the previous one.
    fn after_gap(&mut self, at: Instant, duration: Duration) -> bool {
        let gap = self.next.is_some_and(|next| {
            at.saturating_duration_since(next) > CONTINUITY
                || next.saturating_duration_since(at) > CONTINUITY
        });
        self.next = Some(at + duration);
        gap
    }
}

/// G.711 or G.722 bytes to frames of the other leg's packet time, without decoding: both
/// codecs spend one byte per 8 kHz RTP tick.
pub(super) struct ByteFramer {
    pending: Vec<u8>,
    used: usize,
    /// One frame of the other leg's silence, to pad the frame pending at a gap.
    silence: Vec<u8>,
    continuity: Continuity,
}

impl ByteFramer {
    /// For the other leg's format, with one frame of its silence.
    pub(super) fn new(to: MediaFormat, silence: &[u8]) -> Self {
        let frame = (to.ptime.as_micros() / 125) as usize;
        let mut padding = vec![0u8; frame.max(1)];
        for (byte, &quiet) in padding.iter_mut().zip(silence.iter().cycle()) {
            *byte = quiet;
        }
        Self {
            pending: vec![0; frame.max(1)],
            used: 0,
            silence: padding,
            continuity: Continuity::default(),
        }
    }

    /// One payload played out at `at` (empty: a gap): every frame it completes goes to
    /// `send`. A payload of exactly one frame with nothing pending is handed on as it is.
    pub(super) fn relay(&mut self, at: Instant, payload: &[u8], send: &mut impl FnMut(&[u8])) {
        let duration = Duration::from_micros(125 * payload.len() as u64);
        let gap = self.continuity.after_gap(at, duration) || payload.is_empty();
        if gap && self.used > 0 {
            let used = self.used;
            self.pending[used..].copy_from_slice(&self.silence[used..]);
            send(&self.pending);
            self.used = 0;
        }
        if self.used == 0 && payload.len() == self.pending.len() {
            return send(payload);
        }
        let mut rest = payload;
        while !rest.is_empty() {
            let take = (self.pending.len() - self.used).min(rest.len());
            self.pending[self.used..self.used + take].copy_from_slice(&rest[..take]);
            self.used += take;
            rest = &rest[take..];
            if self.used == self.pending.len() {
                send(&self.pending);
                self.used = 0;
            }
        }
    }
}

/// The sample-rate step of a transcoder.
enum RateChange {
    Same,
    Down(Decimator),
    Up(Interpolator),
}

/// Decoded audio of one leg to encoded frames of the other: resampled between 8 and 16 kHz
/// when the decoding rates differ, cut into the other leg's frames, encoded.
pub(super) struct Transcoder {
    from_rate: u32,
    rate: RateChange,
    /// The input taken per resampler call, and the resampled audio of one call.
    chunk: usize,
    converted: Vec<i16>,
    framer: PcmFramer,
    continuity: Continuity,
}

impl Transcoder {
    /// From `from`, decoded in frames of up to `frame_capacity` samples, to `to`.
    pub(super) fn new(
        from: MediaFormat,
        frame_capacity: usize,
        to: MediaFormat,
    ) -> Result<Self, RelaySetupError> {
        let (from_rate, to_rate) = (decode_rate(from.codec), decode_rate(to.codec));
        let unsupported = RelaySetupError::Rates {
            from: from_rate,
            to: to_rate,
        };
        let rate = match from_rate.cmp(&to_rate) {
            std::cmp::Ordering::Equal => RateChange::Same,
            std::cmp::Ordering::Greater => {
                RateChange::Down(Decimator::new(from_rate, to_rate).map_err(|_| unsupported)?)
            }
            std::cmp::Ordering::Less => {
                RateChange::Up(Interpolator::new(from_rate, to_rate).map_err(|_| unsupported)?)
            }
        };
        let growth = to_rate.div_ceil(from_rate) as usize;
        let chunk = frame_capacity.max(1);
        Ok(Self {
            from_rate,
            rate,
            chunk,
            converted: vec![0; chunk * growth + 1],
            framer: PcmFramer::new(to, to_rate)?,
            continuity: Continuity::default(),
        })
    }

    /// Frames encoded so far.
    pub(super) fn encoded(&self) -> u64 {
        self.framer.encoded
    }

    /// One slot's decoded audio, played out at `at` (empty: a gap): every frame it completes
    /// is encoded and goes to `send`.
    pub(super) fn relay(&mut self, at: Instant, pcm: &[i16], send: &mut impl FnMut(&[u8])) {
        let nanos = pcm.len() as u64 * 1_000_000_000 / u64::from(self.from_rate.max(1));
        let gap = self.continuity.after_gap(at, Duration::from_nanos(nanos));
        if gap || pcm.is_empty() {
            self.framer.flush(send);
            match &mut self.rate {
                RateChange::Same => {}
                RateChange::Down(decimator) => decimator.reset(),
                RateChange::Up(interpolator) => interpolator.reset(),
            }
        }
        for piece in pcm.chunks(self.chunk) {
            let converted = match &mut self.rate {
                RateChange::Same => piece,
                RateChange::Down(decimator) => {
                    let n = decimator.process(piece, &mut self.converted).unwrap_or(0);
                    &self.converted[..n]
                }
                RateChange::Up(interpolator) => {
                    let n = interpolator
                        .process(piece, &mut self.converted)
                        .unwrap_or(0);
                    &self.converted[..n]
                }
            };
            self.framer.push(converted, send);
        }
    }
}

/// PCM at the other leg's rate, collected into its frames and encoded.
struct PcmFramer {
    pending: Vec<i16>,
    used: usize,
    encoder: Encoder,
    payload: Vec<u8>,
    encoded: u64,
}

impl PcmFramer {
    fn new(to: MediaFormat, rate: u32) -> Result<Self, RelaySetupError> {
        let ptime_ms = u32::try_from(to.ptime.as_millis()).unwrap_or(u32::MAX);
        let frame = to.codec.samples_per_frame(rate, ptime_ms).max(1);
        Ok(Self {
            pending: vec![0; frame],
            used: 0,
            encoder: Encoder::new(to.codec, rate)?,
            payload: vec![0; to.codec.max_payload_len(ptime_ms)],
            encoded: 0,
        })
    }

    fn push(&mut self, mut pcm: &[i16], send: &mut impl FnMut(&[u8])) {
        while !pcm.is_empty() {
            let take = (self.pending.len() - self.used).min(pcm.len());
            self.pending[self.used..self.used + take].copy_from_slice(&pcm[..take]);
            self.used += take;
            pcm = &pcm[take..];
            if self.used == self.pending.len() {
                self.encode(send);
            }
        }
    }

    /// Sends what is pending, padded with silence.
    fn flush(&mut self, send: &mut impl FnMut(&[u8])) {
        if self.used > 0 {
            self.pending[self.used..].fill(0);
            self.encode(send);
        }
    }

    fn encode(&mut self, send: &mut impl FnMut(&[u8])) {
        self.used = 0;
        // An encoder error (a packet time the codec cannot frame) sends nothing: the other
        // leg sends silence in that slot.
        if let Ok(len) = self.encoder.encode(&self.pending, &mut self.payload) {
            self.encoded += 1;
            send(&self.payload[..len]);
        }
    }
}
