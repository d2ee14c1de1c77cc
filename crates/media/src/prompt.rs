//! Prompts: audio files decoded once, resampled once per codec rate and encoded once per codec
//! and packet time, then shared by every call that plays them.
//!
//! The binary reads a prompt file's bytes (this crate never opens files) and hands them to
//! [`PromptAudio::decode`], which accepts WAV (PCM, A-law, µ-law, IMA/MS ADPCM), FLAC, MP3 and
//! Ogg/Vorbis through `symphonia`, mixes the channels down to mono and keeps the samples at
//! the file's own rate. [`EncodedPrompt::encode`] turns that into RTP payloads for one codec and
//! one packet time; a stream plays it frame by frame with no further work per packet.
//!
//! What it does not do: no caching policy (the binary keys its cache by file, codec and ptime),
//! no text-to-speech, no streaming decode of very long files: a prompt longer than
//! [`MAX_PROMPT`] is refused, so a wrong file cannot exhaust memory.

use std::io::Cursor;
use std::time::Duration;

use symphonia::core::codecs::audio::AudioDecoderOptions;

use crate::codec::{CodecError, CodecKind, Encoder};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// The longest prompt accepted: 30 minutes.
pub const MAX_PROMPT: Duration = Duration::from_secs(30 * 60);

/// Why a prompt file cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The bytes are not audio in a format we decode (or are damaged).
    #[error("not a supported audio file (WAV, FLAC, MP3, Ogg/Vorbis): {0}")]
    Format(String),
    /// The file has no audio track.
    #[error("the file has no audio track")]
    NoAudio,
    /// The audio decoder failed on every packet.
    #[error("undecodable audio: {0}")]
    Decode(String),
    /// Longer than [`MAX_PROMPT`].
    #[error("longer than the {} minute limit", MAX_PROMPT.as_secs() / 60)]
    TooLong,
    /// Zero samples.
    #[error("the file holds no samples")]
    Empty,
}

/// A decoded prompt: mono 16-bit samples at the file's own sample rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptAudio {
    samples: Vec<i16>,
    rate: u32,
}

impl PromptAudio {
    /// Mono samples at `rate` Hz.
    pub fn new(samples: Vec<i16>, rate: u32) -> Result<Self, PromptError> {
        if samples.is_empty() || rate == 0 {
            return Err(PromptError::Empty);
        }
        if samples.len() as u64 > MAX_PROMPT.as_secs() * u64::from(rate) {
            return Err(PromptError::TooLong);
        }
        Ok(Self { samples, rate })
    }

    /// Decodes a whole audio file. `extension` (such as `"wav"`) helps the format probe; the
    /// content decides.
    ///
    /// # Errors
    ///
    /// [`PromptError`] for anything that is not a decodable, non-empty, bounded audio file.
    pub fn decode(bytes: Vec<u8>, extension: Option<&str>) -> Result<Self, PromptError> {
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        let mut format = symphonia::default::get_probe()
            .probe(
                &hint,
                source,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| PromptError::Format(e.to_string()))?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or(PromptError::NoAudio)?;
        let track_id = track.id;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or(PromptError::NoAudio)?;
        let mut decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|e| PromptError::Format(e.to_string()))?;
        let mut mono = MonoMix::default();
        loop {
            let packet = match format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                // A truncated file ends where its data ends.
                Err(SymphoniaError::IoError(_)) => break,
                Err(e) => return Err(PromptError::Decode(e.to_string())),
            };
            if packet.track_id != track_id {
                continue;
            }
            match decoder.decode(&packet) {
                Ok(buffer) => {
                    let spec = buffer.spec();
                    mono.rate.get_or_insert(spec.rate());
                    let channels = spec.channels().count().max(1);
                    buffer.copy_to_vec_interleaved(&mut mono.scratch);
                    mono.push(channels)?;
                }
                Err(SymphoniaError::DecodeError(_)) => mono.damaged += 1,
                Err(e) => return Err(PromptError::Decode(e.to_string())),
            }
        }
        mono.finish()
    }

    /// `duration` of a tone (a beep, ringback, a DTMF digit) at `rate` Hz, played like any
    /// prompt.
    ///
    /// # Errors
    ///
    /// [`PromptError::Empty`] for a zero duration or rate, [`PromptError::TooLong`] beyond
    /// [`MAX_PROMPT`].
    pub fn tone(
        spec: crate::tone::ToneSpec,
        duration: Duration,
        rate: u32,
    ) -> Result<Self, PromptError> {
        let len = (duration.as_secs_f64() * f64::from(rate)).round() as usize;
        if len as u64 > MAX_PROMPT.as_secs() * u64::from(rate.max(1)) {
            return Err(PromptError::TooLong);
        }
        let mut samples = vec![0i16; len];
        crate::tone::ToneGenerator::new(rate, spec).fill(&mut samples);
        Self::new(samples, rate)
    }

    /// The samples, mono.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The sample rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.rate))
    }
}

/// Accumulates decoded buffers as mono samples.
#[derive(Default)]
struct MonoMix {
    samples: Vec<i16>,
    scratch: Vec<f32>,
    rate: Option<u32>,
    damaged: usize,
}

impl MonoMix {
    fn push(&mut self, channels: usize) -> Result<(), PromptError> {
        for frame in self.scratch.chunks_exact(channels) {
            let sum: f32 = frame.iter().sum();
            let sample = (sum / channels as f32 * 32767.0).clamp(-32768.0, 32767.0);
            self.samples.push(sample as i16);
        }
        let rate = u64::from(self.rate.unwrap_or(8000));
        if self.samples.len() as u64 > MAX_PROMPT.as_secs() * rate {
            return Err(PromptError::TooLong);
        }
        Ok(())
    }

    fn finish(self) -> Result<PromptAudio, PromptError> {
        match self.rate {
            Some(rate) if !self.samples.is_empty() => PromptAudio::new(self.samples, rate),
            _ if self.damaged > 0 => Err(PromptError::Decode(format!(
                "{} damaged packets and no audio",
                self.damaged
            ))),
            _ => Err(PromptError::Empty),
        }
    }
}

/// One prompt encoded for one codec and packet time: RTP payloads, one per packet, played in
/// order with the RTP timestamp advancing by [`EncodedPrompt::timestamp_step`] each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPrompt {
    payloads: Vec<u8>,
    ends: Vec<u32>,
    timestamp_step: u32,
    ptime: Duration,
}

impl EncodedPrompt {
    /// Collects payloads: each call to `push` adds one packet's payload.
    pub fn new(timestamp_step: u32, ptime: Duration) -> Self {
        Self {
            payloads: Vec::new(),
            ends: Vec::new(),
            timestamp_step,
            ptime,
        }
    }

    /// Appends one packet's payload.
    pub fn push(&mut self, payload: &[u8]) {
        self.payloads.extend_from_slice(payload);
        self.ends
            .push(u32::try_from(self.payloads.len()).unwrap_or(u32::MAX));
    }

    /// Packet `index`'s payload.
    pub fn frame(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)? as usize;
        let start = match index {
            0 => 0,
            _ => *self.ends.get(index - 1)? as usize,
        };
        self.payloads.get(start..end)
    }

    /// Number of packets.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No packets at all.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// RTP timestamp units per packet.
    pub fn timestamp_step(&self) -> u32 {
        self.timestamp_step
    }

    /// The packet time.
    pub fn ptime(&self) -> Duration {
        self.ptime
    }

    /// Encodes `audio` for `codec` in packets of `ptime`: resampled once to the codec's rate
    /// (Opus at 48 kHz), the last packet padded with silence.
    ///
    /// # Errors
    ///
    /// The encoder's, for a packet time it cannot produce.
    pub fn encode(
        audio: &PromptAudio,
        codec: CodecKind,
        ptime: Duration,
    ) -> Result<Self, CodecError> {
        let rate = codec.native_rate();
        let ptime_ms = u32::try_from(ptime.as_millis()).unwrap_or(u32::MAX);
        let pcm = crate::resample::resample(audio.samples(), audio.rate(), rate);
        let frame_len = codec.samples_per_frame(rate, ptime_ms).max(1);
        let mut encoder = Encoder::new(codec, rate)?;
        let mut prompt = Self::new(codec.rtp_ticks_per_frame(ptime_ms), ptime);
        let mut payload = vec![0u8; codec.max_payload_len(ptime_ms)];
        let mut frame = vec![0i16; frame_len];
        for chunk in pcm.chunks(frame_len) {
            frame[..chunk.len()].copy_from_slice(chunk);
            frame[chunk.len()..].fill(0);
            let len = encoder.encode(&frame, &mut payload)?;
            prompt.push(&payload[..len]);
        }
        Ok(prompt)
    }

    /// One packet of silence for `codec` and `ptime`: what a stream sends when nothing plays.
    ///
    /// # Errors
    ///
    /// The encoder's, for a packet time it cannot produce.
    pub fn silence(codec: CodecKind, ptime: Duration) -> Result<Self, CodecError> {
        let rate = codec.native_rate();
        let ptime_ms = u32::try_from(ptime.as_millis()).unwrap_or(u32::MAX);
        let silence = PromptAudio {
            samples: vec![0; codec.samples_per_frame(rate, ptime_ms).max(1)],
            rate,
        };
        Self::encode(&silence, codec, ptime)
    }

    /// Bytes held.
    pub fn memory(&self) -> usize {
        self.payloads.capacity() + self.ends.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 16-bit PCM WAV file.
    fn wav(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    #[test]
    fn decodes_a_wav_file_to_mono_at_its_rate() {
        let samples: Vec<i16> = (0..1600)
            .map(|i| ((i % 100) * 300 - 15000) as i16)
            .collect();
        let audio = PromptAudio::decode(wav(&samples, 16000, 1), Some("wav")).unwrap();
        assert_eq!(audio.rate(), 16000);
        assert_eq!(audio.samples().len(), 1600);
        for (got, want) in audio.samples().iter().zip(&samples) {
            assert!(
                (i32::from(*got) - i32::from(*want)).abs() <= 1,
                "{got} vs {want}"
            );
        }
        assert_eq!(audio.duration(), Duration::from_millis(100));
    }

    #[test]
    fn stereo_is_mixed_down() {
        // Left +8000, right -8000 cancel; left and right equal stay.
        let frames: Vec<i16> = [8000i16, -8000, 4000, 4000].repeat(100);
        let audio = PromptAudio::decode(wav(&frames, 8000, 2), None).unwrap();
        assert_eq!(audio.samples().len(), 200);
        assert!(audio.samples()[0].abs() <= 1);
        assert!((i32::from(audio.samples()[1]) - 4000).abs() <= 1);
    }

    #[test]
    fn encodes_one_payload_per_ptime_with_the_codec_clock() {
        // 1 s at 16 kHz: 50 packets of 20 ms, PCMU at 8 kHz, one byte per sample.
        let audio = PromptAudio::new(vec![1000; 16000], 16000).unwrap();
        let pcmu =
            EncodedPrompt::encode(&audio, CodecKind::Pcmu, Duration::from_millis(20)).unwrap();
        assert_eq!(pcmu.len(), 50);
        assert_eq!(pcmu.timestamp_step(), 160);
        assert!((0..50).all(|i| pcmu.frame(i).map(<[u8]>::len) == Some(160)));
        assert_eq!(pcmu.frame(50), None);
        // 30 ms of the last packet past the end is padded, not dropped.
        let audio = PromptAudio::new(vec![1000; 8240], 8000).unwrap();
        let pcma =
            EncodedPrompt::encode(&audio, CodecKind::Pcma, Duration::from_millis(40)).unwrap();
        assert_eq!((pcma.len(), pcma.timestamp_step()), (26, 320));
        let opus =
            EncodedPrompt::encode(&audio, CodecKind::Opus, Duration::from_millis(20)).unwrap();
        assert_eq!((opus.len(), opus.timestamp_step()), (52, 960));
        let silence = EncodedPrompt::silence(CodecKind::Pcmu, Duration::from_millis(20)).unwrap();
        assert_eq!(silence.frame(0), Some(&[0xff; 160][..]));
    }

    #[test]
    fn tones_are_prompts_with_their_cadence() {
        let ring = PromptAudio::tone(
            crate::tone::ToneSpec::ringback_europe(),
            Duration::from_secs(5),
            8000,
        )
        .unwrap();
        assert_eq!(ring.samples().len(), 40_000);
        let loud = |range: std::ops::Range<usize>| {
            ring.samples()[range]
                .iter()
                .map(|s| i32::from(*s).abs())
                .max()
                .unwrap_or(0)
        };
        // 1 s of 425 Hz, then 4 s of silence.
        assert!(loud(0..8000) > 5000, "the tone plays");
        assert_eq!(loud(8100..40_000), 0, "then the cadence is silent");
        let beep = PromptAudio::tone(
            crate::tone::ToneSpec::beep(),
            Duration::from_millis(200),
            16_000,
        )
        .unwrap();
        let pcmu =
            EncodedPrompt::encode(&beep, CodecKind::Pcmu, Duration::from_millis(20)).unwrap();
        assert_eq!(pcmu.len(), 10);
        assert!(PromptAudio::tone(crate::tone::ToneSpec::beep(), Duration::ZERO, 8000).is_err());
    }

    #[test]
    fn garbage_and_empty_files_are_errors_not_panics() {
        assert!(matches!(
            PromptAudio::decode(b"this is not audio at all".to_vec(), Some("wav")),
            Err(PromptError::Format(_))
        ));
        assert!(PromptAudio::decode(Vec::new(), None).is_err());
        assert!(PromptAudio::decode(wav(&[], 8000, 1), Some("wav")).is_err());
        let mut truncated = wav(&[1000; 800], 8000, 1);
        truncated.truncate(30);
        assert!(PromptAudio::decode(truncated, Some("wav")).is_err());
    }
}
