//! Bridging two streams: [`Relay`] carries what one stream plays out to the other's sender,
//! [`Bridge`] is a relay each way. The model, the cost and the rules are in the
//! [stream module's Bridging section](super#bridging).

mod reframe;

use std::time::{Duration, Instant};

use super::MediaStream;
use super::frame_ring::FrameRing;
use crate::codec::{CodecError, CodecKind};
use reframe::{ByteFramer, Transcoder};

/// How much relayed audio may wait between two legs: the queue holds this much (at least two
/// frames) and drops the oldest beyond it, so a bridge never adds more latency than this.
pub const RELAY_QUEUE: Duration = Duration::from_millis(60);

/// A stream's codec and packet time: what a relay converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    pub codec: CodecKind,
    pub ptime: Duration,
}

/// How a [`Relay`] carries audio from one leg to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Same codec and packet time: each payload as received. Nothing is decoded or encoded.
    PassThrough,
    /// The same G.711 or G.722 codec at another packet time: the payload bytes cut again into
    /// the other leg's frames (these codecs spend exactly one byte per 8 kHz RTP tick, so any
    /// byte boundary is a frame boundary). Nothing is decoded or encoded either.
    Repacketize,
    /// Another codec (or Opus at another packet time): decoded by the receiving stream's own
    /// decoder, resampled when the rates differ, re-framed, encoded for the other leg.
    Transcode,
}

impl RelayMode {
    /// The cheapest way from `from` to `to`.
    pub fn between(from: MediaFormat, to: MediaFormat) -> Self {
        let byte_codec = matches!(
            from.codec,
            CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722
        );
        match (from.codec == to.codec, from.ptime == to.ptime) {
            (true, true) => RelayMode::PassThrough,
            (true, false) if byte_codec => RelayMode::Repacketize,
            _ => RelayMode::Transcode,
        }
    }
}

/// Why a relay cannot be set up (a caller error: every pair of negotiated codecs relays).
#[derive(Debug, thiserror::Error)]
pub enum RelaySetupError {
    /// The encoder for the other leg cannot be built.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// No resampler between these rates.
    #[error("cannot resample {from} Hz to {to} Hz")]
    Rates { from: u32, to: u32 },
}

/// One direction of a bridge: takes what `from` played out and queues it on `to`'s sender.
/// Everything it needs per frame is allocated in [`Relay::new`].
pub struct Relay {
    from: MediaFormat,
    to: MediaFormat,
    path: Path,
}

/// What a relay does with each frame.
enum Path {
    /// Opus to Opus at one packet time: whole payloads.
    Whole,
    /// G.711 or G.722 to the same codec: bytes cut into the other leg's frames.
    Bytes(ByteFramer),
    /// Decoded audio resampled, re-framed and encoded.
    Transcode(Box<Transcoder>),
}

impl Relay {
    /// Sets up relaying from `from` to `to`: `from` starts handing out what it plays out (as
    /// payloads, or as decoded audio when transcoding), `to` starts queueing relayed frames.
    /// Replaces whatever relay either stream took part in, in that direction.
    ///
    /// # Errors
    ///
    /// [`RelaySetupError`] when the transcoder cannot be built; neither stream is changed then.
    pub fn new(from: &mut MediaStream, to: &mut MediaStream) -> Result<Self, RelaySetupError> {
        let (source, sink) = (from.format(), to.format());
        let path = match RelayMode::between(source, sink) {
            RelayMode::PassThrough if source.codec == CodecKind::Opus => Path::Whole,
            RelayMode::PassThrough | RelayMode::Repacketize => {
                Path::Bytes(ByteFramer::new(sink, to.silence_frame()))
            }
            RelayMode::Transcode => Path::Transcode(Box::new(Transcoder::new(
                source,
                from.pcm_capacity(),
                sink,
            )?)),
        };
        let pcm = matches!(path, Path::Transcode(_));
        from.start_relay_output(pcm);
        to.accept_relayed();
        Ok(Self {
            from: source,
            to: sink,
            path,
        })
    }

    /// How this relay carries audio.
    pub fn mode(&self) -> RelayMode {
        RelayMode::between(self.from, self.to)
    }

    /// Frames encoded so far (zero unless transcoding).
    pub fn frames_encoded(&self) -> u64 {
        match &self.path {
            Path::Transcode(transcoder) => transcoder.encoded(),
            Path::Whole | Path::Bytes(_) => 0,
        }
    }

    /// Moves every frame `from` played out since the last call to `to`'s queue. Call it after
    /// serving both streams; streams of other formats than those the relay was built for are
    /// left alone.
    pub fn run(&mut self, from: &mut MediaStream, to: &mut MediaStream) {
        if from.format() != self.from || to.format() != self.to {
            return;
        }
        let path = &mut self.path;
        from.take_relayed(|at, frame| match (&mut *path, frame) {
            (Path::Whole, RelayedFrame::Payload([])) => {}
            (Path::Whole, RelayedFrame::Payload(payload)) => to.push_relayed(payload),
            (Path::Bytes(framer), RelayedFrame::Payload(payload)) => {
                framer.relay(at, payload, &mut |frame| to.push_relayed(frame));
            }
            (Path::Transcode(transcoder), RelayedFrame::Pcm(pcm)) => {
                transcoder.relay(at, pcm, &mut |frame| to.push_relayed(frame));
            }
            // The stream was given another output since (a newer relay took it over).
            _ => {}
        });
    }
}

/// A relay each way between two streams of one call.
pub struct Bridge {
    a_to_b: Relay,
    b_to_a: Relay,
}

impl Bridge {
    /// Bridges `a` and `b`: from now on each sends what the other plays out.
    ///
    /// # Errors
    ///
    /// [`RelaySetupError`] when a transcoder cannot be built; both streams are then unbridged.
    pub fn new(a: &mut MediaStream, b: &mut MediaStream) -> Result<Self, RelaySetupError> {
        let relays = Relay::new(a, b).and_then(|a_to_b| Ok((a_to_b, Relay::new(b, a)?)));
        match relays {
            Ok((a_to_b, b_to_a)) => Ok(Self { a_to_b, b_to_a }),
            Err(error) => {
                a.unbridge();
                b.unbridge();
                Err(error)
            }
        }
    }

    /// Relays both ways: call it after serving both streams (each `handle_timeout` /
    /// `poll_transmit` round), with the streams in the order given to [`Bridge::new`].
    pub fn relay(&mut self, a: &mut MediaStream, b: &mut MediaStream) {
        self.a_to_b.run(a, b);
        self.b_to_a.run(b, a);
    }

    /// How audio goes from `a` to `b`, and from `b` to `a`.
    pub fn modes(&self) -> [RelayMode; 2] {
        [self.a_to_b.mode(), self.b_to_a.mode()]
    }

    /// Frames encoded so far, both ways (zero when nothing is transcoded).
    pub fn frames_encoded(&self) -> u64 {
        self.a_to_b.frames_encoded() + self.b_to_a.frames_encoded()
    }
}

/// A frame a bridged stream played out, for its partner. An empty one marks a gap: slots
/// that gave nothing (a lost packet when passing payloads through, an underrun, a pause).
pub(super) enum RelayedFrame<'a> {
    /// A received payload, as it arrived.
    Payload(&'a [u8]),
    /// Decoded audio (a packet or its concealment) at the stream's decoding rate.
    Pcm(&'a [i16]),
}

/// What a stream hands out for its bridged partner at each playout slot, until taken.
pub(super) struct RelayOutput {
    frames: OutputFrames,
    /// Whether the last slot handed out was a gap (a run of empty slots gives one marker).
    in_gap: bool,
}

enum OutputFrames {
    Off,
    Payloads(FrameRing<u8, Instant>),
    Pcm(FrameRing<i16, Instant>),
}

impl RelayOutput {
    pub(super) const OFF: RelayOutput = RelayOutput {
        frames: OutputFrames::Off,
        in_gap: false,
    };

    /// Received payloads for a partner that takes them as they are.
    pub(super) fn payloads(slots: usize, capacity: usize, blank: Instant) -> Self {
        Self {
            frames: OutputFrames::Payloads(FrameRing::new(slots, capacity, blank)),
            in_gap: false,
        }
    }

    /// Decoded audio for a partner that transcodes.
    pub(super) fn pcm(slots: usize, capacity: usize, blank: Instant) -> Self {
        Self {
            frames: OutputFrames::Pcm(FrameRing::new(slots, capacity, blank)),
            in_gap: false,
        }
    }

    /// Whether the stream must decode every slot for its partner.
    pub(super) fn wants_pcm(&self) -> bool {
        matches!(self.frames, OutputFrames::Pcm(_))
    }

    /// The payload of the slot at `at`, when the partner takes payloads.
    pub(super) fn push_payload(&mut self, at: Instant, payload: &[u8]) {
        if let OutputFrames::Payloads(ring) = &mut self.frames {
            ring.push(at, payload);
            self.in_gap = payload.is_empty();
        }
    }

    /// The decoded audio of the slot at `at`, when the partner takes audio.
    pub(super) fn push_pcm(&mut self, at: Instant, pcm: &[i16]) {
        if let OutputFrames::Pcm(ring) = &mut self.frames {
            ring.push(at, pcm);
            self.in_gap = pcm.is_empty();
        }
    }

    /// The slot at `at` gave nothing to relay.
    pub(super) fn push_gap(&mut self, at: Instant) {
        if self.in_gap {
            return;
        }
        match &mut self.frames {
            OutputFrames::Off => return,
            OutputFrames::Payloads(ring) => ring.push(at, &[]),
            OutputFrames::Pcm(ring) => ring.push(at, &[]),
        }
        self.in_gap = true;
    }

    /// Hands every frame out, oldest first, with its slot time.
    pub(super) fn drain(&mut self, mut f: impl FnMut(Instant, RelayedFrame<'_>)) {
        match &mut self.frames {
            OutputFrames::Off => {}
            OutputFrames::Payloads(ring) => {
                ring.drain(|at, payload| f(at, RelayedFrame::Payload(payload)));
            }
            OutputFrames::Pcm(ring) => ring.drain(|at, pcm| f(at, RelayedFrame::Pcm(pcm))),
        }
    }

    /// Frames dropped because nobody took them in time.
    pub(super) fn dropped(&self) -> u64 {
        match &self.frames {
            OutputFrames::Off => 0,
            OutputFrames::Payloads(ring) => ring.dropped(),
            OutputFrames::Pcm(ring) => ring.dropped(),
        }
    }
}

/// Frames of `ptime` in a relay queue: [`RELAY_QUEUE`] worth, at least two.
pub(super) fn relay_queue_frames(ptime: Duration) -> usize {
    let ptime = ptime.as_micros().max(1);
    (RELAY_QUEUE.as_micros().div_ceil(ptime) as usize).max(2)
}
