//! The sending half: paced RTP from the prompt that plays, else the bridged partner's relayed
//! audio, else silence; the sent channel of the recording tap, RTCP reports, BYE.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::frame_ring::FrameRing;
use super::{MAX_CATCH_UP, MediaStream, StreamConfig, StreamEvent, StreamUpdate, Transmit};
use crate::prompt::EncodedPrompt;
use crate::rtcp::{NtpTimestamp, Report, SenderStats, next_report_at};
use crate::rtp::{RtpHeader, Ssrc};

/// Room left after an RTCP compound for the SRTCP index and tag.
const SRTCP_TRAILER: usize = 32;

/// How long relayed frames may keep waiting behind the one sent, slot after slot, before the
/// oldest is dropped: a queue that stands higher than it must (after a stalled worker, say)
/// would otherwise keep its extra latency for the rest of the call.
const RELAY_SETTLE: Duration = Duration::from_millis(500);

/// The prompt that plays.
struct Playback {
    prompt: Arc<EncodedPrompt>,
    next: usize,
    barge_in: bool,
}

impl Playback {
    /// Whether frames of the prompt are still to be sent.
    fn has_frames(&self) -> bool {
        self.next < self.prompt.len()
    }
}

/// What a packet slot sends.
enum Source {
    /// Frame `index` of a prompt.
    Prompt(Arc<EncodedPrompt>, usize),
    /// The oldest frame relayed from the bridged partner.
    Relayed,
    /// The silence packet.
    Silence,
}

pub(super) struct Sender {
    ssrc: Ssrc,
    payload_type: herald_sdp::PayloadType,
    clock_rate: u32,
    ptime: Duration,
    /// RTP timestamp units per packet.
    step: u32,
    remote: SocketAddr,
    rtcp_mux: bool,
    send: bool,
    start: Instant,
    /// Index of the next packet slot on the ptime grid.
    slot: u64,
    first_sequence: u16,
    first_timestamp: u32,
    marker: bool,
    playback: Option<Playback>,
    silence: Arc<EncodedPrompt>,
    /// Frames relayed from the bridged partner, waiting for their slots (while bridged).
    relayed: Option<FrameRing<u8>>,
    /// Whether the last packet sent carried relayed audio (the next one that does after
    /// anything else gets the marker bit).
    relaying: bool,
    relayed_sent: u64,
    /// Relayed slots in a row that left frames waiting (see [`RELAY_SETTLE`]).
    relay_backlog: u32,
    stats: SenderStats,
    sent: u64,
    bytes: u64,
    late: u64,
    cname: String,
    next_report: Instant,
    first_report: bool,
    rng: StdRng,
    wall_clock_at_start: Duration,
}

impl Sender {
    pub(super) fn new(config: &StreamConfig, now: Instant) -> Self {
        let ptime_ms = u32::try_from(config.ptime.as_millis()).unwrap_or(20);
        let mut rng = StdRng::seed_from_u64(config.rtcp_seed);
        Self {
            ssrc: config.ssrc,
            payload_type: config.payload_type,
            clock_rate: config.codec.rtp_clock_rate(),
            ptime: config.ptime,
            step: config.codec.rtp_ticks_per_frame(ptime_ms),
            remote: config.remote,
            rtcp_mux: config.rtcp_mux,
            send: config.send,
            start: now,
            slot: 0,
            first_sequence: config.initial_sequence,
            first_timestamp: config.initial_timestamp,
            marker: true,
            playback: None,
            silence: config.silence.clone(),
            relayed: None,
            relaying: false,
            relayed_sent: 0,
            relay_backlog: 0,
            stats: SenderStats::new(),
            sent: 0,
            bytes: 0,
            late: 0,
            cname: config.cname.clone(),
            next_report: next_report_at(now, true, &mut rng),
            first_report: true,
            rng,
            wall_clock_at_start: config.wall_clock_at_start,
        }
    }

    pub(super) fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// When the stream started.
    pub(super) fn start(&self) -> Instant {
        self.start
    }

    /// One packet of silence.
    pub(super) fn silence_frame(&self) -> &[u8] {
        self.silence.frame(0).unwrap_or(&[])
    }

    pub(super) fn counters(&self) -> (u64, u64, u64) {
        (self.sent, self.bytes, self.late)
    }

    /// Packets sent with relayed audio, and relayed frames dropped from the full queue.
    pub(super) fn relay_counters(&self) -> (u64, u64) {
        let dropped = self.relayed.as_ref().map_or(0, FrameRing::dropped);
        (self.relayed_sent, dropped)
    }

    /// Sets up (or empties) the queue of relayed frames: `slots` frames of up to `capacity`
    /// bytes.
    pub(super) fn accept_relayed(&mut self, slots: usize, capacity: usize) {
        match self.relayed.as_mut() {
            Some(queue) => queue.clear(),
            None => self.relayed = Some(FrameRing::new(slots, capacity, ())),
        }
    }

    /// Stops taking relayed frames and forgets those waiting.
    pub(super) fn refuse_relayed(&mut self) {
        self.relayed = None;
    }

    /// Queues one frame of the partner's audio for the next free slot. Dropped at once while
    /// on hold or while a prompt has frames to send (the prompt wins, and audio queued behind
    /// it would only come late).
    pub(super) fn push_relayed(&mut self, payload: &[u8]) {
        let prompt = self.playback.as_ref().is_some_and(Playback::has_frames);
        if let Some(queue) = self.relayed.as_mut().filter(|_| self.send && !prompt) {
            queue.push((), payload);
        }
    }

    /// After a slot: one relayed frame fewer when frames have been left waiting behind the
    /// one sent for [`RELAY_SETTLE`] (the queue then settles back to its least latency).
    fn settle_relayed(&mut self, relayed: bool) {
        let Some(queue) = self.relayed.as_mut() else {
            return;
        };
        if relayed && !queue.is_empty() {
            self.relay_backlog += 1;
        } else {
            self.relay_backlog = 0;
        }
        let settle = RELAY_SETTLE.as_micros() / self.ptime.as_micros().max(1);
        if u128::from(self.relay_backlog) >= settle.max(2) {
            queue.drop_front();
            self.relay_backlog = 0;
        }
    }

    fn forget_relayed(&mut self) {
        if let Some(queue) = self.relayed.as_mut() {
            queue.clear();
        }
    }

    /// Where the SDP says to send.
    pub(super) fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// When the next RTP packet or RTCP report is due (on hold: the report, or the end of the
    /// prompt, which finishes then without packets).
    pub(super) fn next_due(&self) -> Instant {
        let rtp = self.slot_time(self.slot);
        if self.send {
            return rtp.min(self.next_report);
        }
        let prompt_end = self.playback.as_ref().map(|p| {
            let left = p.prompt.len().saturating_sub(p.next) as u64;
            self.slot_time(self.slot.saturating_add(left))
        });
        prompt_end.map_or(self.next_report, |end| end.min(self.next_report))
    }

    fn slot_time(&self, slot: u64) -> Instant {
        self.start
            + self
                .ptime
                .saturating_mul(u32::try_from(slot).unwrap_or(u32::MAX))
    }

    /// Starts a prompt at `now`; returns the event of the one it replaces (or of one that ran
    /// out on hold).
    pub(super) fn play(
        &mut self,
        now: Instant,
        prompt: Arc<EncodedPrompt>,
        barge_in: bool,
    ) -> Option<StreamEvent> {
        // On hold the schedule is brought up to `now` lazily: the new prompt starts now.
        let ran_out = if self.send {
            None
        } else {
            self.pass_slots(now)
        };
        let replaced = ran_out.or_else(|| self.stop());
        self.forget_relayed();
        self.playback = Some(Playback {
            prompt,
            next: 0,
            barge_in,
        });
        self.marker = true;
        replaced
    }

    /// Stops the prompt; its event.
    pub(super) fn stop(&mut self) -> Option<StreamEvent> {
        self.playback
            .take()
            .map(|_| StreamEvent::PlaybackFinished { interrupted: true })
    }

    /// A digit arrived: stops a prompt that allows barge-in.
    pub(super) fn barge_in(&mut self) -> Option<StreamEvent> {
        if self.playback.as_ref().is_some_and(|p| p.barge_in) {
            self.stop()
        } else {
            None
        }
    }

    /// Applies new parameters at `now`; returns the event of a prompt that ran out on hold.
    pub(super) fn update(&mut self, now: Instant, update: &StreamUpdate) -> Option<StreamEvent> {
        self.remote = update.remote;
        let mut finished = None;
        if update.send && !self.send {
            // Off hold: the slots of the hold pass unsent (not late), so sending resumes on
            // the grid at `now` rather than with a skip counted as a stall.
            finished = self.pass_slots(now);
            self.marker = true;
        }
        if !update.send {
            self.forget_relayed();
        }
        self.send = update.send;
        finished
    }

    /// On hold: moves the schedule, and the prompt with it, past every slot due by `now`
    /// without sending; returns the event of a prompt that ran out (at the slot where its
    /// silence would have started, as when sending).
    fn pass_slots(&mut self, now: Instant) -> Option<StreamEvent> {
        let due = self.slot_time(self.slot);
        if due > now {
            return None;
        }
        let behind = now.saturating_duration_since(due);
        let passed = (behind.as_nanos() / self.ptime.as_nanos().max(1)) as u64 + 1;
        self.slot += passed;
        let p = self.playback.as_mut()?;
        let left = p.prompt.len().saturating_sub(p.next) as u64;
        if passed <= left {
            p.next += passed as usize;
            return None;
        }
        self.playback = None;
        Some(StreamEvent::PlaybackFinished { interrupted: false })
    }

    /// Moves to the slot due at `now`, skipping what a long stall missed. Returns whether the
    /// packet for the current slot is late (sent more than a ptime after its time).
    fn catch_up(&mut self, now: Instant) -> bool {
        let behind = now.saturating_duration_since(self.slot_time(self.slot));
        let missed = (behind.as_nanos() / self.ptime.as_nanos().max(1)) as u64;
        if missed > u64::from(MAX_CATCH_UP) {
            self.slot += missed;
            self.late += missed;
            if let Some(p) = self.playback.as_mut() {
                p.next = p.next.saturating_add(missed as usize);
            }
            return false;
        }
        missed >= 1
    }

    /// What the current slot sends (a prompt, else relayed audio, else silence), and whether
    /// the prompt just finished.
    fn source(&mut self) -> (Source, bool) {
        let mut finished = false;
        if let Some(p) = self.playback.as_mut() {
            if p.has_frames() {
                p.next += 1;
                return (Source::Prompt(p.prompt.clone(), p.next - 1), false);
            }
            self.playback = None;
            finished = true;
        }
        match self.relayed.as_ref().and_then(FrameRing::front) {
            Some(_) => (Source::Relayed, finished),
            None => (Source::Silence, finished),
        }
    }

    /// The payload `source` sends.
    fn payload<'a>(&'a self, source: &'a Source) -> &'a [u8] {
        let frame = match source {
            Source::Prompt(prompt, index) => prompt.frame(*index),
            Source::Relayed => self
                .relayed
                .as_ref()
                .and_then(FrameRing::front)
                .map(|f| f.1),
            Source::Silence => self.silence.frame(0),
        };
        frame.unwrap_or(&[])
    }
}

/// The next datagram due at `now`.
pub(super) fn transmit(stream: &mut MediaStream, now: Instant, out: &mut [u8]) -> Option<Transmit> {
    if stream.closing.is_some() {
        // Closed whether or not the BYE can be written: a stream that cannot say goodbye
        // must still end.
        stream.closed = true;
        let len = report(stream, now, out, true)?;
        return Some(Transmit {
            len,
            destination: rtcp_destination(stream),
            rtcp_port: !stream.sender.rtcp_mux,
        });
    }
    if now >= stream.sender.next_report {
        let sender = &mut stream.sender;
        sender.next_report = next_report_at(now, false, &mut sender.rng);
        sender.first_report = false;
        if let Some(len) = report(stream, now, out, false) {
            return Some(Transmit {
                len,
                destination: rtcp_destination(stream),
                rtcp_port: !stream.sender.rtcp_mux,
            });
        }
    }
    if !stream.sender.send {
        // On hold: time (and the prompt) move on without packets.
        if let Some(finished) = stream.sender.pass_slots(now) {
            stream.events.push_back(finished);
        }
        return None;
    }
    if stream.sender.slot_time(stream.sender.slot) > now {
        return None;
    }
    rtp(stream, now, out)
}

fn rtp(stream: &mut MediaStream, now: Instant, out: &mut [u8]) -> Option<Transmit> {
    let sender = &mut stream.sender;
    let late = sender.catch_up(now);
    let (source, finished) = sender.source();
    if finished {
        stream
            .events
            .push_back(StreamEvent::PlaybackFinished { interrupted: false });
    }
    let sender = &mut stream.sender;
    let relayed = matches!(source, Source::Relayed);
    // A run of relayed audio after silence or a prompt starts a talkspurt (RFC 3551 §4.1).
    sender.marker |= relayed && !sender.relaying;
    sender.relaying = relayed;
    let timestamp = sender
        .first_timestamp
        .wrapping_add((sender.slot as u32).wrapping_mul(sender.step));
    let header = RtpHeader {
        marker: std::mem::take(&mut sender.marker),
        payload_type: sender.payload_type,
        sequence: sender.first_sequence.wrapping_add(sender.sent as u16),
        timestamp,
        ssrc: sender.ssrc,
    };
    let slot_time = sender.slot_time(sender.slot);
    sender.slot += 1;
    let payload = sender.payload(&source);
    let payload_len = payload.len();
    let written = header.write(payload, out).ok();
    if let (true, Some(queue)) = (relayed, sender.relayed.as_mut()) {
        queue.pop_front();
    }
    sender.settle_relayed(relayed);
    let mut len = written?;
    sender.relayed_sent += u64::from(relayed);
    sender.sent += 1;
    sender.bytes += payload_len as u64;
    sender.late += u64::from(late);
    sender.stats.on_sent(now, timestamp, payload_len);
    // The tap decodes the payload as written, before SRTP encrypts it in place.
    let silence = matches!(source, Source::Silence);
    let written_payload = &out[len - payload_len..len];
    stream
        .capture
        .record_sent(slot_time, written_payload, silence);
    if let Some(srtp) = stream.srtp.as_mut() {
        len = srtp.protect_rtp(out, len).ok()?;
    }
    let destination = stream.receiver.latched.unwrap_or(stream.sender.remote);
    Some(Transmit {
        len,
        destination,
        rtcp_port: false,
    })
}

/// Writes our SR (or RR) compound, with BYE when `bye`; SRTCP-protected when keyed.
fn report(stream: &mut MediaStream, now: Instant, out: &mut [u8], bye: bool) -> Option<usize> {
    let sender = &stream.sender;
    let since_start = now.saturating_duration_since(sender.start);
    let wall = NtpTimestamp::from_unix(sender.wall_clock_at_start + since_start);
    let sender_info = sender.stats.sender_info(now, wall, sender.clock_rate);
    let block = stream.receiver.report_block(now);
    let blocks = block.as_slice();
    let report = Report {
        ssrc: stream.sender.ssrc,
        sender_info,
        blocks,
    };
    let cname = stream.sender.cname.as_bytes();
    let limit = out.len().saturating_sub(SRTCP_TRAILER);
    let mut len = if bye {
        report.write_with_bye(cname, None, &mut out[..limit]).ok()?
    } else {
        report.write(cname, &mut out[..limit]).ok()?
    };
    if let Some(srtp) = stream.srtp.as_mut() {
        len = srtp.protect_rtcp(out, len).ok()?;
    }
    Some(len)
}

fn rtcp_destination(stream: &MediaStream) -> SocketAddr {
    if let Some(learned) = stream.receiver.rtcp_remote {
        return learned;
    }
    let rtp = stream.receiver.latched.unwrap_or(stream.sender.remote);
    if stream.sender.rtcp_mux {
        rtp
    } else {
        // RTP on 65535 has no next port: RTCP then shares the RTP port.
        SocketAddr::new(rtp.ip(), rtp.port().checked_add(1).unwrap_or(rtp.port()))
    }
}
