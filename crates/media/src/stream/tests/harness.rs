//! The test harness: a stream served like a media worker serves it ([`Harness`]), a
//! hand-written far end ([`Peer`]), two streams through a seeded network ([`Pair`]), and the
//! configurations, prompts and tones the tests share.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_sdp::PayloadType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::codec::{CodecKind, Encoder};
use crate::dtmf::{Digit, DtmfSource, TelephoneEvent};
use crate::jitter::JitterConfig;
use crate::prompt::EncodedPrompt;
use crate::rtcp::{NtpTimestamp, Report, SenderInfo};
use crate::rtp::{RtpHeader, RtpPacket, Ssrc, is_rtcp};
use crate::srtp::{SdesKey, SrtpSession, SrtpSuite};
use crate::stream::{
    CaptureChannel, EventFormat, InbandMode, MAX_DATAGRAM, MediaStream, StreamConfig, StreamEvent,
    StreamUpdate,
};
use crate::tone::{ToneGenerator, ToneSpec};

/// Where the peer's SDP says it is.
pub(super) const A: SocketAddr = addr([192, 0, 2, 10], 4000);
/// Where its packets really come from (behind a NAT).
pub(super) const B: SocketAddr = addr([198, 51, 100, 20], 31_000);
/// Someone else.
pub(super) const C: SocketAddr = addr([203, 0, 113, 30], 5060);
/// Where a re-INVITE moves the peer.
pub(super) const D: SocketAddr = addr([192, 0, 2, 40], 6000);

/// Our SSRC, first sequence number and first timestamp: both numbers wrap within a second.
pub(super) const SSRC: u32 = 0x5eed_0001;
pub(super) const FIRST_SEQ: u16 = 65_530;
pub(super) const FIRST_TS: u32 = u32::MAX - 500;
pub(super) const EVENT_PT: u8 = 101;

pub(super) const fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
        port,
    ))
}

pub(super) const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[allow(
    clippy::disallowed_methods,
    reason = "tests need one arbitrary base instant; virtual time is offsets from it"
)]
pub(super) fn epoch() -> Instant {
    Instant::now()
}

pub(super) fn key(c: char) -> Digit {
    Digit::from_char(c).unwrap()
}

pub(super) fn payload_type(codec: CodecKind) -> PayloadType {
    match codec {
        CodecKind::Pcmu => PayloadType::PCMU,
        CodecKind::Pcma => PayloadType::PCMA,
        CodecKind::G722 => PayloadType::G722,
        CodecKind::Opus => PayloadType::new(111).unwrap(),
    }
}

/// A PCMU-style call to `A` with telephone-event 101, rtcp-mux, no SRTP, no media timeout.
pub(super) fn config(codec: CodecKind, ptime_ms: u64) -> StreamConfig {
    let ptime = ms(ptime_ms);
    StreamConfig {
        codec,
        payload_type: payload_type(codec),
        ptime,
        telephone_event: Some(EventFormat {
            payload_type: EVENT_PT,
            clock_rate: codec.rtp_clock_rate(),
        }),
        remote: A,
        rtcp_mux: true,
        send: true,
        receive: true,
        ssrc: Ssrc::new(SSRC),
        initial_sequence: FIRST_SEQ,
        initial_timestamp: FIRST_TS,
        cname: "herald@test.invalid".into(),
        srtp: None,
        jitter: JitterConfig::default(),
        inband: InbandMode::Auto,
        silence: Arc::new(EncodedPrompt::silence(codec, ptime).unwrap()),
        media_timeout: None,
        rtcp_seed: 7,
        wall_clock_at_start: Duration::from_secs(1_700_000_000),
    }
}

pub(super) fn pcmu() -> StreamConfig {
    config(CodecKind::Pcmu, 20)
}

/// A prompt of `frames` packets whose payloads tell them apart: frame `i` is 160 bytes of
/// `0x10 + i`.
pub(super) fn numbered_prompt(step: u32, ptime: Duration, frames: u8) -> Arc<EncodedPrompt> {
    let mut prompt = EncodedPrompt::new(step, ptime);
    for i in 0..frames {
        prompt.push(&[0x10 + i; 160]);
    }
    Arc::new(prompt)
}

/// A datagram the stream sent.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) at: Instant,
    pub(super) to: SocketAddr,
    pub(super) bytes: Vec<u8>,
}

/// An RTP packet the stream sent, read back.
#[derive(Debug, Clone)]
pub(super) struct SentRtp {
    pub(super) at: Instant,
    pub(super) to: SocketAddr,
    pub(super) header: RtpHeader,
    pub(super) payload: Vec<u8>,
}

/// A chunk of audio the stream captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Captured {
    pub(super) channel: CaptureChannel,
    pub(super) position: u64,
    pub(super) pcm: Vec<i16>,
}

/// One stream served like a media worker serves it.
pub(super) struct Harness {
    pub(super) stream: MediaStream,
    pub(super) t0: Instant,
    pub(super) now: Instant,
    pub(super) sent: Vec<Sent>,
    pub(super) events: Vec<(Instant, StreamEvent)>,
    /// What the stream captured, drained after each round unless `drain_capture` is off.
    pub(super) captured: Vec<Captured>,
    pub(super) drain_capture: bool,
    pub(super) buf: Vec<u8>,
}

impl Harness {
    pub(super) fn new(config: StreamConfig) -> Self {
        Self::starting_at(config, epoch())
    }

    pub(super) fn starting_at(config: StreamConfig, t0: Instant) -> Self {
        Self {
            stream: MediaStream::new(config, t0).unwrap(),
            t0,
            now: t0,
            sent: Vec::new(),
            events: Vec::new(),
            captured: Vec::new(),
            drain_capture: true,
            buf: vec![0; MAX_DATAGRAM],
        }
    }

    /// Serves every deadline up to `until`, then stands at `until`.
    pub(super) fn run_until(&mut self, until: Instant) {
        while let Some(due) = self.stream.poll_timeout().filter(|due| *due <= until) {
            self.serve(due.max(self.now));
        }
        self.now = self.now.max(until);
    }

    pub(super) fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// What a worker does at `now`, whether or not anything is due; checks it will not spin.
    pub(super) fn serve(&mut self, now: Instant) {
        self.now = now;
        self.stream.handle_timeout(now);
        self.drain();
        let next = self.stream.poll_timeout();
        assert!(
            self.stream.is_closed() || next.is_some_and(|next| next > now),
            "busy loop: next deadline {:?} after serving {:?}",
            next.map(|next| next.saturating_duration_since(self.t0)),
            now - self.t0,
        );
    }

    pub(super) fn drain(&mut self) {
        while let Some(transmit) = self.stream.poll_transmit(self.now, &mut self.buf) {
            self.sent.push(Sent {
                at: self.now,
                to: transmit.destination,
                bytes: self.buf[..transmit.len].to_vec(),
            });
        }
        self.drain_events();
        if self.drain_capture {
            self.drain_captured();
        }
    }

    pub(super) fn drain_captured(&mut self) {
        let captured = &mut self.captured;
        self.stream.drain_captured(|channel, position, pcm| {
            captured.push(Captured {
                channel,
                position,
                pcm: pcm.to_vec(),
            });
        });
    }

    /// The chunks of `channel` captured so far.
    pub(super) fn captured(&self, channel: CaptureChannel) -> Vec<&Captured> {
        self.captured
            .iter()
            .filter(|chunk| chunk.channel == channel)
            .collect()
    }

    pub(super) fn drain_events(&mut self) {
        while let Some(event) = self.stream.poll_event() {
            self.events.push((self.now, event));
        }
    }

    /// A datagram arrives now.
    pub(super) fn receive(&mut self, from: SocketAddr, datagram: &[u8]) {
        let mut datagram = datagram.to_vec();
        self.stream.handle_datagram(self.now, from, &mut datagram);
        self.drain_events();
    }

    /// Datagrams arriving one per `interval`, the stream served in between.
    pub(super) fn feed(
        &mut self,
        from: SocketAddr,
        datagrams: impl IntoIterator<Item = Vec<u8>>,
        interval: Duration,
    ) {
        for datagram in datagrams {
            self.receive(from, &datagram);
            self.run_for(interval);
        }
    }

    pub(super) fn play(&mut self, prompt: Arc<EncodedPrompt>, barge_in: bool) {
        self.stream.play(self.now, prompt, barge_in);
        self.drain_events();
    }

    pub(super) fn update(&mut self, remote: SocketAddr, send: bool, receive: bool) {
        let update = StreamUpdate {
            remote,
            send,
            receive,
        };
        self.stream.update(self.now, update);
        self.drain_events();
    }

    /// The RTP packets sent so far.
    pub(super) fn rtp(&self) -> Vec<SentRtp> {
        self.sent
            .iter()
            .filter(|sent| !is_rtcp(&sent.bytes))
            .map(|sent| {
                let packet = RtpPacket::parse(&sent.bytes).unwrap();
                SentRtp {
                    at: sent.at,
                    to: sent.to,
                    header: packet.header(),
                    payload: packet.payload().to_vec(),
                }
            })
            .collect()
    }

    /// The RTCP datagrams sent so far.
    pub(super) fn rtcp(&self) -> Vec<&Sent> {
        self.sent
            .iter()
            .filter(|sent| is_rtcp(&sent.bytes))
            .collect()
    }

    pub(super) fn last_rtp_to(&self) -> SocketAddr {
        self.rtp().last().unwrap().to
    }

    /// The events so far, forgotten.
    pub(super) fn take_events(&mut self) -> Vec<StreamEvent> {
        self.events.drain(..).map(|(_, event)| event).collect()
    }

    /// The keys reported so far with their methods, forgotten with the other events.
    pub(super) fn take_digits(&mut self) -> Vec<(char, DtmfSource)> {
        self.take_events()
            .into_iter()
            .filter_map(|event| match event {
                StreamEvent::Digit { digit, method } => Some((digit.as_char(), method)),
                _ => None,
            })
            .collect()
    }
}

/// A hand-written far end: audio and RFC 4733 events with its own numbering, SRTP if keyed.
pub(super) struct Peer {
    pub(super) ssrc: Ssrc,
    pub(super) seq: u16,
    pub(super) ts: u32,
    pub(super) payload_type: PayloadType,
    pub(super) srtp: Option<SrtpSession>,
}

impl Peer {
    pub(super) fn new(ssrc: u32) -> Self {
        Self {
            ssrc: Ssrc::new(ssrc),
            seq: 40_000,
            ts: 1_000_000,
            payload_type: PayloadType::PCMU,
            srtp: None,
        }
    }

    pub(super) fn packet(
        &mut self,
        marker: bool,
        payload_type: PayloadType,
        ts: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let header = RtpHeader {
            marker,
            payload_type,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
        };
        self.seq = self.seq.wrapping_add(1);
        let mut out = vec![0; MAX_DATAGRAM];
        let mut len = header.write(payload, &mut out).unwrap();
        if let Some(srtp) = self.srtp.as_mut() {
            len = srtp.protect_rtp(&mut out, len).unwrap();
        }
        out.truncate(len);
        out
    }

    /// The next 20 ms of 8 kHz audio.
    pub(super) fn audio(&mut self, payload: &[u8]) -> Vec<u8> {
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(160);
        self.packet(false, self.payload_type, ts, payload)
    }

    /// `n` packets of µ-law silence.
    pub(super) fn silence(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.audio(&[0xff; 160])).collect()
    }

    pub(super) fn event(&mut self, marker: bool, ts: u32, event: TelephoneEvent) -> Vec<u8> {
        let mut payload = [0; 4];
        event.write(&mut payload).unwrap();
        self.packet(marker, PayloadType::new(EVENT_PT).unwrap(), ts, &payload)
    }

    /// One key press as RFC 4733 sends it, one packet per 20 ms: the marked start, updates
    /// every 160 units, then the end packet three times. The audio clock moves past it.
    pub(super) fn press(&mut self, c: char, updates: u16) -> Vec<Vec<u8>> {
        let start = self.ts;
        let code = key(c).event_code();
        let block = |end, duration| TelephoneEvent {
            event: code,
            end,
            volume: 10,
            duration,
        };
        let mut packets: Vec<_> = (1..=updates)
            .map(|i| self.event(i == 1, start, block(false, 160 * i)))
            .collect();
        for _ in 0..3 {
            packets.push(self.event(false, start, block(true, 160 * updates)));
        }
        self.ts = start.wrapping_add(160 * (u32::from(updates) + 3));
        packets
    }

    /// An SR (with a BYE when asked) from this peer.
    pub(super) fn rtcp(&self, bye: bool) -> Vec<u8> {
        let report = Report {
            ssrc: self.ssrc,
            sender_info: Some(SenderInfo {
                ntp: NtpTimestamp::new(0x1234_5678_9abc_def0),
                rtp_timestamp: self.ts,
                packet_count: 1,
                octet_count: 160,
            }),
            blocks: &[],
        };
        let mut out = vec![0; 256];
        let len = if bye {
            report.write_with_bye(b"peer@test.invalid", None, &mut out)
        } else {
            report.write(b"peer@test.invalid", &mut out)
        };
        out.truncate(len.unwrap());
        out
    }
}

/// 20 ms payloads of `codec` at its native rate: `lead` frames of silence, the DTMF tone of
/// `c` for `tone_ms`, then `tail` frames of silence.
pub(super) fn tone_payloads(
    codec: CodecKind,
    c: char,
    lead: usize,
    tone_ms: u64,
    tail: usize,
) -> Vec<Vec<u8>> {
    let rate = codec.native_rate();
    let frame = codec.samples_per_frame(rate, 20);
    let mut encoder = Encoder::new(codec, rate).unwrap();
    let mut tone = ToneGenerator::new(rate, ToneSpec::dtmf(key(c), ms(tone_ms)));
    let frames = lead + tone_ms.div_ceil(20) as usize + tail;
    (0..frames)
        .map(|i| {
            let mut pcm = vec![0i16; frame];
            if i >= lead {
                tone.fill(&mut pcm);
            }
            let mut out = vec![0u8; codec.max_payload_len(20)];
            let len = encoder.encode(&pcm, &mut out).unwrap();
            out.truncate(len);
            out
        })
        .collect()
}

/// The payloads of the RTP packets sent after `from`.
pub(super) fn rtp_payloads_after(h: &Harness, from: Instant) -> Vec<Vec<u8>> {
    h.rtp()
        .into_iter()
        .filter(|p| p.at > from)
        .map(|p| p.payload)
        .collect()
}

pub(super) fn frame(i: u8) -> Vec<u8> {
    vec![0x10 + i; 160]
}

pub(super) fn srtp_key(suite: SrtpSuite, byte: u8) -> SdesKey {
    SdesKey::new(suite, &vec![byte; suite.key_material_len()]).unwrap()
}

/// Two streams at `A` and `B` sending to each other through a network that delays each
/// datagram by 20-60 ms (so reorders them) and loses some.
pub(super) struct Pair {
    pub(super) ends: [Harness; 2],
    pub(super) addresses: [SocketAddr; 2],
    pub(super) in_flight: Vec<(Instant, usize, Vec<u8>)>,
    pub(super) forwarded: [usize; 2],
    /// RTP and RTCP datagrams delivered to each end.
    pub(super) delivered: [(u64, u64); 2],
    pub(super) rng: ChaCha8Rng,
    pub(super) loss: f64,
}

impl Pair {
    pub(super) fn new(mut a: StreamConfig, mut b: StreamConfig, loss: f64, seed: u64) -> Self {
        a.remote = B;
        b.remote = A;
        let t0 = epoch();
        Self {
            ends: [Harness::starting_at(a, t0), Harness::starting_at(b, t0)],
            addresses: [A, B],
            in_flight: Vec::new(),
            forwarded: [0, 0],
            delivered: [(0, 0), (0, 0)],
            rng: ChaCha8Rng::seed_from_u64(seed),
            loss,
        }
    }

    pub(super) fn run_until(&mut self, until: Instant) {
        loop {
            let arrivals = self.in_flight.iter().map(|(at, _, _)| *at);
            let deadlines = self.ends.iter().filter_map(|end| end.stream.poll_timeout());
            let Some(next) = arrivals
                .chain(deadlines)
                .min()
                .filter(|next| *next <= until)
            else {
                break;
            };
            let now = next.max(self.ends[0].now);
            self.deliver(now);
            for end in &mut self.ends {
                end.now = now;
                if end.stream.poll_timeout().is_some_and(|due| due <= now) {
                    end.serve(now);
                }
            }
            self.forward(now);
        }
        for end in &mut self.ends {
            end.now = until;
        }
    }

    pub(super) fn deliver(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).partition(|(at, _, _)| *at <= now);
        self.in_flight = later;
        for (_, to, datagram) in due {
            let from = self.addresses[1 - to];
            self.ends[to].now = now;
            self.ends[to].receive(from, &datagram);
            let (rtp, rtcp) = &mut self.delivered[to];
            let count = if is_rtcp(&datagram) { rtcp } else { rtp };
            *count += 1;
        }
    }

    pub(super) fn forward(&mut self, now: Instant) {
        for from in 0..2 {
            let sent = &self.ends[from].sent[self.forwarded[from]..];
            self.forwarded[from] += sent.len();
            for datagram in sent {
                let to = 1 - from;
                if datagram.to != self.addresses[to] || self.rng.random_bool(self.loss) {
                    continue;
                }
                let delay = ms(self.rng.random_range(20..60));
                self.in_flight
                    .push((now + delay, to, datagram.bytes.clone()));
            }
        }
    }
}
