//! The sending half: paced RTP from the prompt that plays (or silence), the sent channel of
//! the recording tap, RTCP reports, BYE.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{MAX_CATCH_UP, MediaStream, StreamConfig, StreamEvent, StreamUpdate, Transmit};
use crate::prompt::EncodedPrompt;
use crate::rtcp::{NtpTimestamp, Report, SenderStats, next_report_at};
use crate::rtp::{RtpHeader, Ssrc};

/// Room left after an RTCP compound for the SRTCP index and tag.
const SRTCP_TRAILER: usize = 32;

/// The prompt that plays.
struct Playback {
    prompt: Arc<EncodedPrompt>,
    next: usize,
    barge_in: bool,
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

    pub(super) fn counters(&self) -> (u64, u64, u64) {
        (self.sent, self.bytes, self.late)
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

    /// The payload for the current slot, and whether the prompt just finished.
    fn payload(&mut self) -> (Arc<EncodedPrompt>, usize, bool) {
        if let Some(p) = self.playback.as_mut() {
            if p.next < p.prompt.len() {
                p.next += 1;
                return (p.prompt.clone(), p.next - 1, false);
            }
            self.playback = None;
            return (self.silence.clone(), 0, true);
        }
        (self.silence.clone(), 0, false)
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
    let (prompt, index, finished) = sender.payload();
    if finished {
        stream
            .events
            .push_back(StreamEvent::PlaybackFinished { interrupted: false });
    }
    let sender = &mut stream.sender;
    let payload = prompt.frame(index).unwrap_or(&[]);
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
    let mut len = header.write(payload, out).ok()?;
    sender.sent += 1;
    sender.bytes += payload.len() as u64;
    sender.late += u64::from(late);
    sender.stats.on_sent(now, timestamp, payload.len());
    if let Some(srtp) = stream.srtp.as_mut() {
        len = srtp.protect_rtp(out, len).ok()?;
    }
    let silence = Arc::ptr_eq(&prompt, &stream.sender.silence);
    stream.capture.record_sent(slot_time, payload, silence);
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
