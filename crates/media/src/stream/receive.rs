//! The receiving half: SRTP, RTP/RTCP demultiplexing, latching, sources, RFC 4733 events,
//! the jitter buffer and playout (decoding, in-band DTMF, the received channel of the
//! recording tap, and each slot's frame for a bridged partner).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use herald_sdp::PayloadType;

use super::{EventFormat, Inband, MediaStream, StreamEvent};
use crate::codec::Decoder;
use crate::dtmf::{DtmfSource, EventReceiver};
use crate::jitter::{EmptyReason, JitterBuffer, Playout};
use crate::rtcp::{Compound, ReceiverStats, ReportBlock, RtcpPacket};
use crate::rtp::{RtpPacket, SourceTracker, is_rtcp};

/// The comfort-noise payload type (RFC 3389): accepted and ignored.
const COMFORT_NOISE: u8 = 13;

/// Playout slots a stalled worker may still run in one go; older ones are skipped.
const MAX_PLAYOUT_CATCH_UP: u32 = 10;

pub(super) struct Receiver {
    pub(super) payload_type: PayloadType,
    pub(super) event_format: Option<EventFormat>,
    pub(super) receive: bool,
    /// The source we latched to (symmetric RTP); `None` until the first valid packet.
    pub(super) latched: Option<SocketAddr>,
    /// Where the peer's SDP said it sends from, before latching.
    pub(super) sources: SourceTracker,
    pub(super) stats: ReceiverStats,
    pub(super) jitter: JitterBuffer,
    pub(super) events: Option<EventReceiver>,
    pub(super) decoder: Decoder,
    pub(super) inband: Option<Inband>,
    pub(super) pcm: Vec<i16>,
    pub(super) next_playout: Option<Instant>,
    pub(super) ptime: Duration,
    pub(super) last_heard: Instant,
    pub(super) media_timeout: Option<Duration>,
    pub(super) timed_out: bool,
    /// Where the peer's RTCP comes from, when that is not the RTP source (no rtcp-mux).
    pub(super) rtcp_remote: Option<SocketAddr>,
}

impl Receiver {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let media = match self.media_timeout {
            Some(limit) if self.receive && !self.timed_out => Some(self.last_heard + limit),
            _ => None,
        };
        [
            self.next_playout,
            self.events.as_ref().and_then(EventReceiver::poll_timeout),
            media,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Our reception report on the current source, if there is one.
    pub(super) fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.sources.ssrc()?;
        let sequence = self.sources.sequence()?;
        self.stats.report_block(ssrc, sequence, now)
    }
}

/// One datagram from the socket.
pub(super) fn datagram(stream: &mut MediaStream, now: Instant, from: SocketAddr, buf: &mut [u8]) {
    if is_rtcp(buf) {
        return rtcp(stream, now, from, buf);
    }
    let len = match stream.srtp.as_mut().map(|s| s.unprotect_rtp(buf)) {
        None => buf.len(),
        Some(Ok(len)) => len,
        Some(Err(_)) => {
            stream.stats.srtp_failures += 1;
            return;
        }
    };
    let Ok(packet) = RtpPacket::parse(&buf[..len]) else {
        stream.stats.malformed += 1;
        return;
    };
    let pt = packet.payload_type();
    let receiver = &mut stream.receiver;
    let known = pt == receiver.payload_type
        || receiver
            .event_format
            .is_some_and(|f| f.payload_type == pt.get())
        || pt.get() == COMFORT_NOISE;
    if !known {
        stream.stats.unknown_payload += 1;
        return;
    }
    match receiver.latched {
        None => {
            receiver.latched = Some(from);
            stream
                .events
                .push_back(StreamEvent::Latched { remote: from });
        }
        Some(latched) if latched != from => {
            stream.stats.foreign_packets += 1;
            return;
        }
        Some(_) => {}
    }
    receiver.last_heard = now;
    receiver.timed_out = false;
    stream.stats.packets_received += 1;
    stream.stats.bytes_received += packet.payload().len() as u64;
    if !receiver.receive {
        return;
    }
    let arrival = receiver.sources.track(&packet);
    if let Some(change) = arrival.source_change {
        receiver.jitter.reset();
        receiver.stats.reset();
        receiver.events = receiver
            .event_format
            .map(|f| EventReceiver::new(f.clock_rate));
        if change.previous.is_some() {
            stream.events.push_back(StreamEvent::SourceChanged {
                ssrc: change.current,
            });
        }
    }
    let (Some(seq), Some(ts)) = (arrival.sequence.extended(), arrival.timestamp) else {
        return;
    };
    if pt == receiver.payload_type {
        receiver.stats.on_rtp(now, packet.timestamp());
        receiver.jitter.put(now, seq, ts, packet.payload());
        receiver.next_playout.get_or_insert(now);
    } else if let Some(events) = receiver.events.as_mut() {
        if pt.get() == COMFORT_NOISE {
            return;
        }
        stream.dtmf.handle_rfc4733_seen(now);
        if events
            .handle_packet(now, seq, ts, packet.marker(), packet.payload())
            .is_err()
        {
            stream.stats.malformed += 1;
        }
        take_event_digits(stream, now);
    }
}

fn take_event_digits(stream: &mut MediaStream, now: Instant) {
    while let Some(received) = stream
        .receiver
        .events
        .as_mut()
        .and_then(EventReceiver::poll_digit)
    {
        stream.digit(now, DtmfSource::Rfc4733, received.digit);
    }
}

/// One RTCP compound (on the RTP port with rtcp-mux, or wherever it arrived).
fn rtcp(stream: &mut MediaStream, now: Instant, from: SocketAddr, buf: &mut [u8]) {
    let receiver = &stream.receiver;
    let expected_ip = receiver.latched.map(|a| a.ip());
    if expected_ip.is_some_and(|ip| ip != from.ip()) {
        stream.stats.foreign_packets += 1;
        return;
    }
    let len = match stream.srtp.as_mut().map(|s| s.unprotect_rtcp(buf)) {
        None => buf.len(),
        Some(Ok(len)) => len,
        Some(Err(_)) => {
            stream.stats.srtp_failures += 1;
            return;
        }
    };
    let Ok(compound) = Compound::parse(&buf[..len]) else {
        stream.stats.malformed += 1;
        return;
    };
    stream.stats.rtcp_received += 1;
    let receiver = &mut stream.receiver;
    // RTCP proves the peer alive only once we know who the peer is: before latching, anyone
    // could keep a call whose media never came from holding on past the media timeout.
    if receiver.latched.is_some() {
        receiver.last_heard = now;
    }
    if receiver.latched.is_some_and(|l| l != from) {
        receiver.rtcp_remote = Some(from);
    }
    let current = receiver.sources.ssrc();
    let mut bye = false;
    for packet in compound.packets() {
        match packet {
            RtcpPacket::SenderReport(sr) if Some(sr.ssrc) == current => {
                receiver.stats.on_sender_report(now, &sr.sender_info);
            }
            RtcpPacket::Bye(b) => bye |= b.sources().any(|s| Some(s) == current),
            _ => {}
        }
    }
    if bye {
        stream.events.push_back(StreamEvent::RemoteBye);
    }
}

/// Playout, DTMF event timeouts, and the media timeout.
pub(super) fn timeout(stream: &mut MediaStream, now: Instant) {
    playout(stream, now);
    if let Some(events) = stream.receiver.events.as_mut() {
        events.handle_timeout(now);
    }
    take_event_digits(stream, now);
    let receiver = &mut stream.receiver;
    if let Some(limit) = receiver.media_timeout
        && receiver.receive
        && !receiver.timed_out
        && now.saturating_duration_since(receiver.last_heard) >= limit
    {
        receiver.timed_out = true;
        stream.events.push_back(StreamEvent::MediaTimeout);
    }
}

/// Runs every playout slot due by `now`: one frame out of the jitter buffer each, decoded when
/// in-band DTMF detection is on, capture takes the slot or a bridge transcodes.
fn playout(stream: &mut MediaStream, now: Instant) {
    let ptime = stream.receiver.ptime;
    let mut ran = 0;
    while let Some(at) = stream.receiver.next_playout.filter(|at| *at <= now) {
        if ran >= MAX_PLAYOUT_CATCH_UP {
            // A long stall: resume on the grid at `now`, the jitter buffer adapts.
            let behind = now.saturating_duration_since(at);
            let skip = (behind.as_nanos() / ptime.as_nanos().max(1)) as u32 + 1;
            stream.receiver.next_playout = Some(at + ptime * skip);
            break;
        }
        ran += 1;
        stream.receiver.next_playout = Some(at + ptime);
        if let Some(digit) = play_one(stream, at) {
            stream.digit(now, DtmfSource::Inband, digit);
        }
    }
}

/// One playout slot: its audio captured when capturing and relayed when bridged, and a digit
/// the in-band detector found in it.
fn play_one(stream: &mut MediaStream, at: Instant) -> Option<Digit> {
    let capturing = stream.capture.takes(at);
    let audio = decode_slot(stream, at, capturing)?;
    let receiver = &mut stream.receiver;
    let n = match audio {
        SlotAudio::Decoded(n) => {
            if capturing {
                stream.capture.record_received(at, &receiver.pcm[..n]);
            }
            stream.relay_out.push_pcm(at, &receiver.pcm[..n]);
            n
        }
        SlotAudio::Silence(n) => n,
    };
    let inband = receiver.inband.as_mut()?;
    inband.process(&receiver.pcm[..n])
}

/// The audio of a playout slot, in the receiver's PCM buffer.
enum SlotAudio {
    /// What the decoder made of a packet, or of its loss: this many samples.
    Decoded(usize),
    /// A pause in sending, as this many samples of silence for the DTMF detector.
    Silence(usize),
}

/// Runs the decoder for the slot at `at` when in-band DTMF detection, capture or a
/// transcoding bridge needs the audio (and only then: decoding costs), counting concealment
/// either way. A bridge gets the slot's payload here when it passes payloads through, and a
/// gap marker for a slot that gives it nothing.
fn decode_slot(stream: &mut MediaStream, at: Instant, capturing: bool) -> Option<SlotAudio> {
    let receiver = &mut stream.receiver;
    let relay = &mut stream.relay_out;
    let inband = receiver.inband.is_some();
    let decode = inband || capturing || relay.wants_pcm();
    let frame = frame_len(&receiver.decoder, receiver.ptime).min(receiver.pcm.len());
    let decoded = match receiver.jitter.get(at) {
        Playout::Frame(frame) => {
            relay.push_payload(at, frame.payload);
            if !decode {
                return None;
            }
            receiver
                .decoder
                .decode(frame.payload, &mut receiver.pcm)
                .ok()
        }
        Playout::Continued { .. } => return None,
        Playout::Missing { next, .. } => {
            stream.stats.concealed += 1;
            if next.is_some() && receiver.decoder.kind() == crate::codec::CodecKind::Opus {
                stream.stats.recovered_fec += 1;
            }
            if !relay.wants_pcm() {
                // Passing payloads through, a lost packet is a gap; transcoding, the
                // concealment below is relayed.
                relay.push_gap(at);
            }
            if !decode {
                return None;
            }
            let out = &mut receiver.pcm[..frame];
            match next {
                Some(next) => receiver.decoder.decode_fec(next, out).ok(),
                None => receiver.decoder.conceal(out).ok(),
            }
        }
        // A pause in sending (DTX) is silence to the detector, or two tones of one key around
        // it would be one press. Other empty ticks are not: while the buffer waits for a late
        // packet or rebuilds its margin, a gap inside a tone would split one press in two.
        // Capture takes neither: positions make the recorder's silence.
        Playout::Empty { reason } => {
            relay.push_gap(at);
            if !(inband && reason == EmptyReason::Silence) {
                return None;
            }
            receiver.pcm[..frame].fill(0);
            return Some(SlotAudio::Silence(frame));
        }
    };
    let Some(decoded) = decoded else {
        if relay.wants_pcm() {
            relay.push_gap(at);
        }
        return None;
    };
    stream.stats.frames_decoded += 1;
    Some(SlotAudio::Decoded(decoded.min(receiver.pcm.len())))
}

fn frame_len(decoder: &Decoder, ptime: Duration) -> usize {
    decoder.pcm_rate() as usize * ptime.as_millis() as usize / 1000
}

use crate::dtmf::Digit;
