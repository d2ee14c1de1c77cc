//! The media stream: one RTP session of one call leg, as a sans-IO machine.
//!
//! A [`MediaStream`] owns everything a call's audio needs between the socket and the
//! application: SRTP, the RTP receive path (source latching, sequence and timestamp
//! extension, SSRC changes), the jitter buffer and decoder, the three DTMF methods behind one
//! de-duplicating pipeline, paced prompt playback, RTCP, and the recording tap (both
//! directions as 8 kHz PCM, see [Capture](#capture)).
//!
//! # Run loop
//!
//! The I/O layer (a media worker in the binary) owns the UDP socket and the clock:
//!
//! ```text
//!   datagram from the socket ──> handle_datagram(now, from, &mut bytes)
//!   poll_timeout() reached    ──> handle_timeout(now)
//!   then, until None:             poll_transmit(now, &mut buf) ──> send_to(destination)
//!   then, until None:             poll_event() ──> the call application
//!   then, while capturing:        drain_captured(|channel, position, pcm| ...) ──> the recorder
//! ```
//!
//! Commands from the application ([`MediaStream::play`], [`MediaStream::stop_playback`],
//! [`MediaStream::handle_signalled_digit`], [`MediaStream::update`], [`MediaStream::close`],
//! [`MediaStream::start_capture`], [`MediaStream::stop_capture`], [`MediaStream::unbridge`])
//! take effect at the next `poll_transmit` or `handle_timeout`. Bridged streams add one step
//! per round, after both streams were served: [`Bridge::relay`] (see [Bridging](#bridging)).
//!
//! # Time
//!
//! Sending is paced by the stream's own schedule: packet `n` is due at `start + n × ptime`,
//! with its RTP timestamp `n × samples per packet` after the first, so a worker that serves
//! the stream a little early or late changes when a packet leaves, never its timestamp.
//! A worker stalled for more than [`MAX_CATCH_UP`] packets skips what it missed (timestamps
//! jump as real time did, and the skipped packets are counted as late) instead of bursting.
//! Playout of received audio runs on the same ptime grid, starting at the first packet.
//!
//! # Capture
//!
//! Between [`MediaStream::start_capture`] and [`MediaStream::stop_capture`] the stream taps
//! both directions for the call recorder, as 8 kHz mono PCM chunks ([`CAPTURE_RATE`]):
//!
//! - [`CaptureChannel::Received`]: each playout slot the decoder filled (a packet, its
//!   concealment or Opus FEC), as played out. The stream decodes for this only while
//!   capturing (or when in-band DTMF detection is on): streams not recorded cost nothing.
//! - [`CaptureChannel::Sent`]: each RTP audio packet sent (prompts, tones), decoded back by a
//!   second decoder of the codec: what the caller heard, coding loss included. Silence
//!   packets, slots skipped after a stall and hold give nothing; RFC 4733 events are not audio.
//!
//! A chunk's position counts 8 kHz samples from the stream's first `start_capture` instant,
//! and comes from the slot's time on the stream's own schedule (`position = (slot time −
//! origin) × 8000`), not from when the worker served it: both channels share one timeline, a
//! restart continues it, and a slot that gives nothing leaves a gap the recorder fills with
//! silence. Per channel, positions grow and chunks never overlap. Wideband codecs (G.722,
//! Opus) are decimated from 16 kHz, which delays both channels alike by about 2.7 ms.
//! Chunks wait in a buffer of [`CAPTURE_BUFFER_SAMPLES`] that the worker empties with
//! [`MediaStream::drain_captured`] after each round; a worker that does not drain loses the
//! oldest, counted in [`StreamStats::capture_dropped`]. Pausing a recording is the recorder's
//! business: capture goes on.
//!
//! # Bridging
//!
//! A B2BUA call has two legs, the caller's stream A and the agent's stream B, each with its
//! own peer, SSRC, sequence numbers, codec and packet time. [`Bridge::new`]`(a, b)` makes each
//! send what the other receives; [`Bridge::relay`]`(a, b)`, called after every round in which
//! the streams were served, moves the audio across. One direction is a [`Relay`]:
//!
//! ```text
//!   A's peer ──RTP──> A: jitter buffer ──playout slot──> A's relay output (≤ RELAY_QUEUE)
//!                                                            │ Relay::run
//!                                                            ▼  (pass through, re-cut bytes,
//!   B's peer <──RTP── B: paced send slot <── B's relay queue    or decode/resample/encode)
//! ```
//!
//! - **What crosses.** Each playout slot of A yields its frame: the received payload as it
//!   arrived (a `Playout::Frame`), or nothing for a slot without one (missing, empty, a pause,
//!   on hold). A's jitter buffer has already absorbed the network's jitter, reordering and A's
//!   clock drift, and both streams run on the worker's one clock: the relay carries exactly
//!   one frame per ptime, so its queue holds only the phase between A's playout grid and B's
//!   send grid.
//! - **How B sends it.** In its own paced slots, with its own SSRC, sequence numbers and
//!   timestamps. A slot sends, in this order of preference: the prompt that plays (music on
//!   hold, an announcement: a prompt on a bridged leg wins), else the oldest relayed frame,
//!   else silence. The first relayed packet after anything else carries the marker bit. A slot
//!   of A that gave nothing becomes a silence packet of B, so B's timeline has no holes.
//! - **Bounded latency.** B's queue holds at most [`RELAY_QUEUE`] (60 ms, at least two
//!   frames); a frame beyond it drops the oldest, counted in [`StreamStats::relay_dropped`].
//!   A queue that stands higher than it must (frames left waiting behind the one sent, slot
//!   after slot for half a second, as after a stalled worker) drops its oldest frame too, so
//!   the latency settles back to the least the two grids allow instead of staying up.
//!   Relayed frames that arrive while a prompt has frames left, or while B is on hold (its
//!   `send` is false: the peer put us on hold), are dropped at once rather than queued, so
//!   relaying resumes with fresh audio after the prompt or the hold. A stream whose peer
//!   stops sending simply relays nothing.
//! - **Modes** ([`RelayMode`], chosen by [`RelayMode::between`] the two formats):
//!   *pass-through* when codec and ptime are equal: the payload bytes are copied, nothing is
//!   decoded or encoded; *repacketize* for the same G.711 or G.722 codec at another ptime: the
//!   payload bytes are cut again into B's frames (one byte is one 8 kHz RTP tick in these
//!   codecs), still without decoding; *transcode* otherwise: A's own receive decoder decodes
//!   every slot (its concealment fills lost packets), the audio is resampled when the decoding
//!   rates differ (8 kHz for G.711, 16 kHz for G.722 and Opus; [`crate::resample::Decimator`]
//!   down, [`crate::resample::Interpolator`] up), cut into B's frames and encoded with
//!   [`crate::codec::Encoder`]. At a gap in A's audio the frame being filled is closed with
//!   silence, so audio from before a pause never joins audio from after it.
//! - **Cost model.** Every buffer is allocated when the bridge is set up (the two queues of
//!   `RELAY_QUEUE` each, and the transcoder's encoder, resampler and frame buffers); nothing
//!   is allocated per frame. Pass-through and repacketizing cost two copies of the payload
//!   (into A's output, into B's queue) on top of the packet work both streams do anyway; when
//!   A is being recorded or detects in-band DTMF it decodes anyway, and a transcoding relay
//!   reuses that decode. Transcoding adds per frame: one decode (or concealment), one
//!   resampling pass (a 44-tap polyphase FIR per output sample for 8→16 kHz, 87 taps per
//!   output sample for 16→8 kHz) and one encode. `docs/benchmarks.md` ("Bridging") has the
//!   measured ratios against an unbridged stream.
//! - **DTMF.** RFC 4733 telephone-events received on a bridged leg are *not* relayed: they
//!   are reported as [`StreamEvent::Digit`] as always, and the application decides (replay
//!   them on the other leg as a tone prompt, act on them, or keep them private). In-band
//!   tones are audio and cross like any audio.
//! - **Recording.** The tap is untouched by bridging: a relayed packet B sends is audio B
//!   sent, so B's [`CaptureChannel::Sent`] decodes it like a prompt. With the recording tap on
//!   the caller's stream A, the agent's relayed audio is the recording's `Sent` channel.
//! - **Ending.** [`MediaStream::unbridge`] on each stream (or on the survivor, when the other
//!   closed) stops the output and forgets what waits: the stream goes back to prompts and
//!   silence. A stream given to a new [`Relay`] leaves its previous one.
//!
//! Not done: mixing more than two parties (conferences), relaying video, relaying RFC 4733
//! events, and Opus repacketization without decoding (Opus at another ptime is transcoded).
//! An Opus pass-through sends each payload as received, so a peer whose packets last longer
//! than the negotiated ptime is relayed with B's ptime timestamps.
//!
//! # What it does not do
//!
//! No sockets, threads or clock reads; no ICE or DTLS (browser calls are another layer); no
//! mixing of several sources (a bridge relays one leg to another; conferences are not done
//! here); one audio stream per call leg.

mod bridge;
mod capture;
mod frame_ring;
mod receive;
mod send;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::{CodecError, CodecKind, Decoder};
use crate::dtmf::{Digit, DtmfPipeline, DtmfSource, EventReceiver, InbandDetector, PipelineConfig};
use crate::jitter::{JitterBuffer, JitterConfig, JitterConfigError};
use crate::prompt::EncodedPrompt;
use crate::resample::Decimator;
use crate::rtcp::ReceiverStats;
use crate::rtp::{SourceTracker, Ssrc};
use crate::srtp::SrtpSession;

pub use bridge::{Bridge, MediaFormat, RELAY_QUEUE, Relay, RelayMode, RelaySetupError};
use bridge::{RelayOutput, RelayedFrame, relay_queue_frames};
use capture::Capture;
pub use capture::{CAPTURE_BUFFER_SAMPLES, CAPTURE_RATE, CaptureChannel};
use receive::Receiver;
use send::Sender;

/// How many missed packets a late worker may still send in a burst; beyond that the stream
/// skips ahead.
pub const MAX_CATCH_UP: u32 = 3;

/// Largest datagram a stream writes (RTP or RTCP, SRTP tag included).
pub const MAX_DATAGRAM: usize = 1500;

/// The RFC 4733 format negotiated for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFormat {
    /// Its payload type.
    pub payload_type: u8,
    /// Its clock rate (8000, or 48000 with Opus).
    pub clock_rate: u32,
}

/// Where DTMF detection in the audio is switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InbandMode {
    /// Only when no telephone-event format was negotiated.
    Auto,
    /// Always; RFC 4733 digits still suppress in-band ones once they arrive.
    On,
    /// Never.
    Off,
}

/// Everything a stream needs to start; built by the call application from the SDP
/// negotiation and its configuration.
pub struct StreamConfig {
    /// The voice codec and its payload type.
    pub codec: CodecKind,
    pub payload_type: herald_sdp::PayloadType,
    /// Our packet time.
    pub ptime: Duration,
    /// RFC 4733 events, if negotiated.
    pub telephone_event: Option<EventFormat>,
    /// Where the peer's SDP says to send RTP.
    pub remote: SocketAddr,
    /// Whether RTCP goes to the RTP port (RFC 5761) or the next one.
    pub rtcp_mux: bool,
    /// Whether we send and receive audio (SDP direction).
    pub send: bool,
    pub receive: bool,
    /// Our SSRC, first sequence number and first timestamp: random, from the caller's RNG.
    pub ssrc: Ssrc,
    pub initial_sequence: u16,
    pub initial_timestamp: u32,
    /// Our RTCP CNAME.
    pub cname: String,
    /// SRTP keys, for `RTP/SAVP`.
    pub srtp: Option<SrtpSession>,
    /// The jitter buffer's settings (its frame duration and clock rate are set from `ptime`
    /// and `codec`).
    pub jitter: JitterConfig,
    /// DTMF detection in the audio.
    pub inband: InbandMode,
    /// What we send while nothing plays: one encoded packet of silence for this codec and
    /// ptime (shared by every stream with the same codec).
    pub silence: Arc<EncodedPrompt>,
    /// Report [`StreamEvent::MediaTimeout`] when nothing arrived for this long.
    pub media_timeout: Option<Duration>,
    /// Seeds the RTCP interval randomisation.
    pub rtcp_seed: u64,
    /// Wall clock at `now` of [`MediaStream::new`], for RTCP sender reports.
    pub wall_clock_at_start: Duration,
}

/// What a stream tells the call application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A key press, once, whichever method(s) carried it.
    Digit { digit: Digit, method: DtmfSource },
    /// The prompt finished (`interrupted` when a digit or a command stopped it).
    PlaybackFinished { interrupted: bool },
    /// Symmetric RTP: we now send to where the peer's packets come from.
    Latched { remote: SocketAddr },
    /// Another synchronisation source took over (a transfer, a phone restart).
    SourceChanged { ssrc: Ssrc },
    /// Nothing arrived for the configured media timeout.
    MediaTimeout,
    /// The peer said goodbye in RTCP.
    RemoteBye,
}

/// New parameters after a re-INVITE or UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamUpdate {
    /// Where the new SDP says to send.
    pub remote: SocketAddr,
    /// Directions after the new offer/answer (hold: `send` false).
    pub send: bool,
    pub receive: bool,
}

/// A stream's counters, for the call record and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Packets sent more than a ptime after their slot, or skipped after a stall.
    pub packets_late: u64,
    pub packets_received: u64,
    pub bytes_received: u64,
    /// RFC 3550 cumulative loss of the current source.
    pub packets_lost: i64,
    /// Interarrival jitter of the current source, in microseconds.
    pub jitter_us: u64,
    /// Packets from somewhere other than the latched source.
    pub foreign_packets: u64,
    /// Datagrams that were neither valid RTP nor RTCP (or failed SRTP).
    pub malformed: u64,
    pub srtp_failures: u64,
    /// Packets of a payload type we did not negotiate.
    pub unknown_payload: u64,
    pub rtcp_received: u64,
    /// Playout slots filled by concealment, and of those, by Opus in-band FEC.
    pub concealed: u64,
    pub recovered_fec: u64,
    pub digits: u64,
    /// Frames run through a decoder: received ones (a packet, concealment or FEC) while in-band
    /// DTMF detection or capture needs the audio, sent ones while capturing.
    pub frames_decoded: u64,
    /// Captured samples (8 kHz, either channel) dropped because they were not drained in time.
    pub capture_dropped: u64,
    /// RTP packets sent with audio relayed from the bridged partner (see [Bridging](self#bridging)).
    pub relayed: u64,
    /// Relayed frames dropped, oldest first, because a relay queue was full or stood high:
    /// frames waiting here for a send slot beyond [`RELAY_QUEUE`] (or for half a second
    /// behind the one sent), or frames played out here for the partner that no relay took in
    /// time.
    pub relay_dropped: u64,
}

/// One call leg's audio. See the [module documentation](self).
pub struct MediaStream {
    sender: Sender,
    receiver: Receiver,
    dtmf: DtmfPipeline,
    events: std::collections::VecDeque<StreamEvent>,
    stats: StreamStats,
    srtp: Option<SrtpSession>,
    capture: Capture,
    /// What playout hands to the bridged partner (see [Bridging](self#bridging)).
    relay_out: RelayOutput,
    /// The stream's codec and packet time.
    format: MediaFormat,
    /// When [`MediaStream::close`] was called: the BYE is due then.
    closing: Option<Instant>,
    closed: bool,
}

/// Why a stream cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StreamSetupError {
    /// The codec cannot decode at the rate we need.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// The jitter buffer rejects its settings.
    #[error("jitter buffer: {0}")]
    Jitter(#[from] JitterConfigError),
}

/// A datagram to send: `len` bytes of the caller's buffer, to `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub len: usize,
    pub destination: SocketAddr,
    /// RTCP without rtcp-mux: send it from the RTCP port (RTP port + 1) when the I/O layer
    /// holds one, so the peer sees reports come from where it sends its own.
    pub rtcp_port: bool,
}

impl MediaStream {
    /// A stream that starts sending at `now`.
    ///
    /// # Errors
    ///
    /// [`StreamSetupError`] when the codec or the jitter buffer cannot be set up with this
    /// configuration (a caller error: never for what SDP negotiated).
    pub fn new(config: StreamConfig, now: Instant) -> Result<Self, StreamSetupError> {
        let decoder = Decoder::new(config.codec, decode_rate(config.codec))?;
        let inband = match (config.inband, config.telephone_event) {
            (InbandMode::Off, _) | (InbandMode::Auto, Some(_)) => None,
            _ => Inband::new(decode_rate(config.codec)),
        };
        let receiver = Receiver {
            payload_type: config.payload_type,
            event_format: config.telephone_event,
            receive: config.receive,
            latched: None,
            // Two packets in sequence before a source counts (RFC 3550 A.1): with one, a
            // single straggler from the previous source takes the stream back, resetting the
            // jitter buffer and the RFC 4733 receiver, which then reports its digit again.
            sources: SourceTracker::new(crate::rtp::MIN_SEQUENTIAL),
            stats: ReceiverStats::new(config.codec.rtp_clock_rate()),
            jitter: JitterBuffer::new(jitter_config(&config))?,
            events: config
                .telephone_event
                .map(|f| EventReceiver::new(f.clock_rate)),
            decoder,
            inband,
            pcm: vec![0; frame_samples(config.codec, config.ptime)],
            next_playout: None,
            ptime: config.ptime,
            last_heard: now,
            media_timeout: config.media_timeout,
            timed_out: false,
            rtcp_remote: None,
        };
        Ok(Self {
            sender: Sender::new(&config, now),
            receiver,
            dtmf: DtmfPipeline::new(PipelineConfig::default()),
            events: std::collections::VecDeque::new(),
            stats: StreamStats::default(),
            srtp: config.srtp,
            capture: Capture::new(),
            relay_out: RelayOutput::OFF,
            format: MediaFormat {
                codec: config.codec,
                ptime: config.ptime,
            },
            closing: None,
            closed: false,
        })
    }

    /// Takes one datagram from the stream's socket. `datagram` is decrypted in place.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) {
        if self.closed {
            return;
        }
        receive::datagram(self, now, from, datagram);
    }

    /// Runs what is due at `now`: playout of received audio, DTMF timeouts, the media timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        receive::timeout(self, now);
    }

    /// The next instant [`Self::handle_timeout`] or [`Self::poll_transmit`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        if let Some(closing) = self.closing {
            return Some(closing);
        }
        [Some(self.sender.next_due()), self.receiver.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next datagram due at `now`, written into `out` (at least [`MAX_DATAGRAM`] bytes).
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<Transmit> {
        if self.closed {
            return None;
        }
        send::transmit(self, now, out)
    }

    /// The next event for the call application.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// Plays `prompt` from its start, replacing whatever plays (which finishes interrupted).
    /// With `barge_in`, the first digit stops it.
    pub fn play(&mut self, now: Instant, prompt: Arc<EncodedPrompt>, barge_in: bool) {
        if let Some(interrupted) = self.sender.play(now, prompt, barge_in) {
            self.events.push_back(interrupted);
        }
    }

    /// Stops what plays; it finishes interrupted.
    pub fn stop_playback(&mut self, _now: Instant) {
        if let Some(interrupted) = self.sender.stop() {
            self.events.push_back(interrupted);
        }
    }

    /// A digit that arrived in signalling (SIP INFO), de-duplicated with the media methods.
    pub fn handle_signalled_digit(&mut self, now: Instant, digit: Digit) {
        self.digit(now, DtmfSource::SipInfo, digit);
    }

    /// New negotiated parameters (re-INVITE, UPDATE).
    pub fn update(&mut self, now: Instant, update: StreamUpdate) {
        if update.receive && !self.receiver.receive {
            // Off hold: the peer gets the whole media timeout to start sending again.
            self.receiver.last_heard = now;
            self.receiver.timed_out = false;
        }
        self.receiver.receive = update.receive;
        if update.remote != self.sender.remote() {
            // The peer moved: latch again to what it sends next. The same address again (a
            // session refresh, a hold) keeps the latch, which behind a NAT is the only
            // address that reaches the peer.
            self.receiver.latched = None;
            self.receiver.rtcp_remote = None;
        }
        if let Some(finished) = self.sender.update(now, &update) {
            self.events.push_back(finished);
        }
    }

    /// Ends the stream: an RTCP BYE goes out at the next `poll_transmit`, then the stream is
    /// closed.
    pub fn close(&mut self, now: Instant) {
        self.closing.get_or_insert(now);
    }

    /// Whether the stream has said goodbye and has nothing more to send.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Starts (or resumes) capturing both directions from `now` on; see [Capture](self#capture).
    /// The first call sets position 0 and sets up the tap (a second decoder and a buffer);
    /// a call while capturing changes nothing.
    pub fn start_capture(&mut self, now: Instant) {
        let decoder = &self.receiver.decoder;
        let (codec, rate) = (decoder.kind(), decoder.pcm_rate());
        self.capture
            .start(now, codec, rate, self.receiver.pcm.len());
    }

    /// Stops capturing from `now` on. Chunks already captured stay until drained; slots
    /// before `now` not yet served are still captured.
    pub fn stop_capture(&mut self, now: Instant) {
        self.capture.stop(now);
    }

    /// Hands every captured chunk to `f`, oldest first: its channel, its position (8 kHz
    /// samples since the first [`Self::start_capture`]) and its samples, borrowed from a
    /// buffer the stream reuses. Call it after each `handle_timeout`/`poll_transmit` round.
    pub fn drain_captured(&mut self, f: impl FnMut(CaptureChannel, u64, &[i16])) {
        self.capture.drain(f);
    }

    /// The counters so far.
    pub fn stats(&self) -> StreamStats {
        let mut stats = self.stats.clone();
        stats.frames_decoded += self.capture.sent_decoded();
        stats.capture_dropped = self.capture.dropped();
        let (sent, bytes, late) = self.sender.counters();
        stats.packets_sent = sent;
        stats.bytes_sent = bytes;
        stats.packets_late = late;
        let (relayed, relay_dropped) = self.sender.relay_counters();
        stats.relayed = relayed;
        stats.relay_dropped += relay_dropped + self.relay_out.dropped();
        if let Some(sequence) = self.receiver.sources.sequence() {
            let expected = sequence.expected();
            stats.packets_lost = i64::try_from(expected).unwrap_or(i64::MAX)
                - i64::try_from(sequence.received()).unwrap_or(i64::MAX);
        }
        stats.jitter_us = u64::from(self.receiver.stats.jitter()) * 1_000_000
            / u64::from(self.sender.clock_rate().max(1));
        stats
    }

    /// The codec and packet time the stream sends and receives.
    pub fn format(&self) -> MediaFormat {
        self.format
    }

    /// Leaves any bridge: playout stops handing frames to the partner, relayed frames still
    /// waiting are forgotten, and the stream goes back to sending its prompts and silence.
    /// See [Bridging](self#bridging).
    pub fn unbridge(&mut self) {
        let (_, dropped) = self.sender.relay_counters();
        self.stats.relay_dropped += dropped + self.relay_out.dropped();
        self.relay_out = RelayOutput::OFF;
        self.sender.refuse_relayed();
    }

    /// Starts handing out each playout slot's frame for a bridged partner: decoded audio when
    /// `pcm`, else the received payload. Sets up (or empties) the queue for it.
    fn start_relay_output(&mut self, pcm: bool) {
        self.stats.relay_dropped += self.relay_out.dropped();
        let slots = relay_queue_frames(self.format.ptime);
        let blank = self.sender.start();
        self.relay_out = if pcm {
            RelayOutput::pcm(slots, self.pcm_capacity(), blank)
        } else {
            RelayOutput::payloads(slots, self.format.codec.max_payload_len(60), blank)
        };
    }

    /// Hands every frame played out for the partner since the last call to `f`, oldest first,
    /// with its playout slot time.
    fn take_relayed(&mut self, f: impl FnMut(Instant, RelayedFrame<'_>)) {
        self.relay_out.drain(f);
    }

    /// Sets up (or empties) the queue of frames relayed from a partner.
    fn accept_relayed(&mut self) {
        let ptime_ms = u32::try_from(self.format.ptime.as_millis()).unwrap_or(u32::MAX);
        let capacity = self.format.codec.max_payload_len(ptime_ms);
        self.sender
            .accept_relayed(relay_queue_frames(self.format.ptime), capacity);
    }

    /// Queues one frame (a payload of this stream's codec and packet time) relayed from the
    /// partner, for the next slot nothing else claims.
    fn push_relayed(&mut self, payload: &[u8]) {
        if !self.closed {
            self.sender.push_relayed(payload);
        }
    }

    /// One packet of this stream's silence.
    fn silence_frame(&self) -> &[u8] {
        self.sender.silence_frame()
    }

    /// The most samples one decoded frame holds.
    fn pcm_capacity(&self) -> usize {
        self.receiver.pcm.len()
    }

    /// A digit from any method: reported once per key press; stops a barge-in prompt.
    fn digit(&mut self, now: Instant, method: DtmfSource, digit: Digit) {
        self.dtmf.handle_digit(now, method, digit);
        while let Some(press) = self.dtmf.poll_digit() {
            self.stats.digits += 1;
            self.events.push_back(StreamEvent::Digit {
                digit: press.digit,
                method: press.source,
            });
            if let Some(interrupted) = self.sender.barge_in() {
                self.events.push_back(interrupted);
            }
        }
    }
}

/// The PCM rate a codec is decoded at: 8 kHz for G.711, 16 kHz for G.722 and Opus (wideband
/// is what telephony audio carries; DTMF detection and recording need no more).
pub fn decode_rate(codec: CodecKind) -> u32 {
    match codec {
        CodecKind::Pcmu | CodecKind::Pcma => 8_000,
        CodecKind::G722 | CodecKind::Opus => 16_000,
    }
}

/// The jitter buffer for this stream: its tick is our ptime, its clock the codec's, and it
/// holds (and preallocates) no more than the configured maximum delay needs: twice the
/// maximum delay in packets plus a margin for reordering, each slot the size of the largest
/// packet the codec produces at 60 ms (all of an Opus datagram).
fn jitter_config(config: &StreamConfig) -> JitterConfig {
    let ptime_ms = u32::try_from(config.ptime.as_millis()).unwrap_or(20).max(1);
    let max_delay = match config.jitter.mode {
        crate::jitter::JitterMode::Adaptive { max, .. } => max,
        crate::jitter::JitterMode::Fixed { delay } => delay,
    };
    let packets = (max_delay.as_millis() / u128::from(ptime_ms)) as usize;
    JitterConfig {
        frame_duration: config.ptime,
        clock_rate: config.codec.rtp_clock_rate(),
        capacity: (2 * packets + 8).min(config.jitter.capacity),
        max_payload: config
            .codec
            .max_payload_len(60)
            .min(config.jitter.max_payload),
        ..config.jitter.clone()
    }
}

/// PCM samples in one decoded frame of `ptime`, with room for 60 ms packets.
fn frame_samples(codec: CodecKind, ptime: Duration) -> usize {
    let per_ms = decode_rate(codec) as usize / 1000;
    per_ms * (ptime.as_millis() as usize).max(60)
}

/// In-band DTMF detection: decimation to 8 kHz, then the Goertzel detector.
struct Inband {
    decimator: Option<Decimator>,
    detector: InbandDetector,
    narrow: Vec<i16>,
}

impl Inband {
    fn new(rate: u32) -> Option<Self> {
        let decimator = match rate {
            8_000 => None,
            _ => Some(Decimator::new(rate, 8_000).ok()?),
        };
        Some(Self {
            decimator,
            detector: InbandDetector::new(8_000).ok()?,
            narrow: vec![0; 480],
        })
    }

    /// Feeds one decoded frame; returns a detected digit.
    fn process(&mut self, pcm: &[i16]) -> Option<Digit> {
        match self.decimator.as_mut() {
            Some(decimator) => {
                let needed = decimator.output_len(pcm.len());
                if self.narrow.len() < needed {
                    self.narrow.resize(needed, 0);
                }
                let n = decimator.process(pcm, &mut self.narrow).unwrap_or(0);
                self.detector.process(&self.narrow[..n]);
            }
            None => self.detector.process(pcm),
        }
        self.detector.poll_digit().map(|d| d.digit)
    }
}
