//! The media stream machine fed arbitrary operations in virtual time: datagrams from four
//! addresses (RTP audio, RFC 4733 events and RTCP from three far-end sources, SRTP-protected
//! when the stream is keyed; raw bytes), timeouts, a stalled worker, and the application's
//! commands (play, stop, SIP INFO digits, re-INVITE updates, close).
//!
//! Input layout: a `Setup` (codec, ptime, rtcp-mux, directions, in-band mode, telephone-event,
//! media timeout, SRTP suite, our first sequence number and timestamp), then up to 256 `Op`s,
//! all read with `arbitrary`.
//!
//! Asserts:
//! * no panic, whatever arrives and whatever the application asks;
//! * the run loop never spins: after `handle_timeout(now)` and draining `poll_transmit(now)`,
//!   `poll_timeout()` is later than `now` or the stream is closed; after any operation the
//!   deadline is not before the current `now`; a closed stream has no deadline and sends
//!   nothing more;
//! * everything the stream sends is its own (after SRTP unprotection by the peer's session
//!   when keyed): RTCP compounds that open with our SR or RR, or RTP with our SSRC and payload
//!   type, sequence numbers that follow each other, and the timestamp of a slot on the ptime
//!   grid at most `MAX_CATCH_UP` packets behind `now`;
//! * `packets_sent` counts exactly the RTP packets sent; no more prompts finish than were
//!   played.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use herald_media::codec::CodecKind;
use herald_media::dtmf::{Digit, TelephoneEvent};
use herald_media::jitter::JitterConfig;
use herald_media::prompt::EncodedPrompt;
use herald_media::rtcp::{Compound, NtpTimestamp, Report, RtcpPacket, SenderInfo};
use herald_media::rtp::{RtpHeader, RtpPacket, Ssrc, is_rtcp};
use herald_media::srtp::{SdesKey, SrtpSession, SrtpSuite};
use herald_media::stream::{
    EventFormat, InbandMode, MAX_CATCH_UP, MAX_DATAGRAM, MediaStream, StreamConfig, StreamEvent,
    StreamUpdate,
};
use herald_sdp::PayloadType;
use libfuzzer_sys::fuzz_target;

const fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
        port,
    ))
}

/// The SDP address, the peer behind a NAT, a stranger, and where a re-INVITE moves the peer.
const ADDRESSES: [SocketAddr; 4] = [
    addr([192, 0, 2, 10], 4000),
    addr([198, 51, 100, 20], 31_000),
    addr([203, 0, 113, 30], 5060),
    addr([192, 0, 2, 40], 6001),
];
const OUR_SSRC: u32 = 0x0e1d_0001;
const EVENT_PT: u8 = 101;
const MAX_OPS: usize = 256;

#[derive(Arbitrary, Debug)]
struct Setup {
    codec: u8,
    long_ptime: bool,
    rtcp_mux: bool,
    send: bool,
    receive: bool,
    inband: u8,
    telephone_event: bool,
    media_timeout_tenths: Option<u8>,
    srtp_suite: Option<u8>,
    initial_sequence: u16,
    initial_timestamp: u32,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Rtp {
        from: u8,
        source: u8,
        step: Step,
        payload_type: Pt,
        marker: bool,
        payload: Vec<u8>,
        protect: bool,
    },
    Event {
        from: u8,
        source: u8,
        step: Step,
        new_event: bool,
        code: u8,
        end: bool,
        duration: u16,
        marker: bool,
        protect: bool,
    },
    Rtcp {
        from: u8,
        source: u8,
        bye: bool,
        flip: Option<u16>,
        protect: bool,
    },
    Raw {
        from: u8,
        bytes: Vec<u8>,
    },
    /// Serve every deadline for this many tens of milliseconds.
    Advance(u8),
    /// A stalled worker: nothing for this many milliseconds, then one serve.
    Stall(u16),
    Play {
        frames: u8,
        barge_in: bool,
    },
    Stop,
    Digit(u8),
    Update {
        remote: u8,
        send: bool,
        receive: bool,
    },
    Close,
}

/// How a source's sequence number moves.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    Next,
    Small(i8),
    Any(u16),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Pt {
    Voice,
    Event,
    ComfortNoise,
    Any(u8),
}

/// One far-end synchronisation source's numbering.
struct Source {
    ssrc: Ssrc,
    seq: u16,
    ts: u32,
    event_ts: u32,
}

struct Run {
    stream: MediaStream,
    start: Instant,
    now: Instant,
    ptime: Duration,
    buf: Vec<u8>,
    /// The far end's SRTP session: protects what its sources send, unprotects what we send.
    peer: Option<SrtpSession>,
    sources: [Source; 3],
    voice: PayloadType,
    step: u32,
    first_timestamp: u32,
    last_sequence: Option<u16>,
    first_sequence: u16,
    rtp_sent: u64,
    plays: u64,
    finished: u64,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut input) else {
        return;
    };
    let Some(mut run) = Run::new(&setup) else {
        return;
    };
    for _ in 0..MAX_OPS {
        let Ok(op) = Op::arbitrary(&mut input) else {
            break;
        };
        run.apply(&op);
        run.check_deadline();
    }
    let end = run.now + Duration::from_secs(3);
    run.run_until(end);
});

fn codec_of(byte: u8) -> (CodecKind, PayloadType) {
    match byte % 4 {
        0 => (CodecKind::Pcmu, PayloadType::PCMU),
        1 => (CodecKind::Pcma, PayloadType::PCMA),
        2 => (CodecKind::G722, PayloadType::G722),
        _ => (CodecKind::Opus, PayloadType::new(111).expect("7 bits")),
    }
}

fn key(suite: SrtpSuite, byte: u8) -> SdesKey {
    SdesKey::new(suite, &vec![byte; suite.key_material_len()]).expect("right length")
}

impl Run {
    fn new(setup: &Setup) -> Option<Self> {
        let (codec, voice) = codec_of(setup.codec);
        let ptime = Duration::from_millis(if setup.long_ptime { 40 } else { 20 });
        let suite = setup
            .srtp_suite
            .map(|n| SrtpSuite::ALL[usize::from(n) % SrtpSuite::ALL.len()]);
        let srtp = suite.map(|suite| SrtpSession::new(key(suite, 1), key(suite, 2)));
        let peer = suite.map(|suite| SrtpSession::new(key(suite, 2), key(suite, 1)));
        let config = StreamConfig {
            codec,
            payload_type: voice,
            ptime,
            telephone_event: setup.telephone_event.then(|| EventFormat {
                payload_type: EVENT_PT,
                clock_rate: codec.rtp_clock_rate(),
            }),
            remote: ADDRESSES[0],
            rtcp_mux: setup.rtcp_mux,
            send: setup.send,
            receive: setup.receive,
            ssrc: Ssrc::new(OUR_SSRC),
            initial_sequence: setup.initial_sequence,
            initial_timestamp: setup.initial_timestamp,
            cname: "herald@fuzz.invalid".into(),
            srtp: srtp.transpose().ok()?,
            jitter: JitterConfig::default(),
            inband: [InbandMode::Auto, InbandMode::On, InbandMode::Off]
                [usize::from(setup.inband % 3)],
            silence: Arc::new(EncodedPrompt::silence(codec, ptime).ok()?),
            media_timeout: setup
                .media_timeout_tenths
                .map(|tenths| Duration::from_millis(100 * u64::from(tenths))),
            rtcp_seed: 1,
            wall_clock_at_start: Duration::from_secs(1_700_000_000),
        };
        #[allow(
            clippy::disallowed_methods,
            reason = "one arbitrary epoch for virtual time"
        )]
        let start = Instant::now();
        let source = |n: u32| Source {
            ssrc: Ssrc::new(0x1000 + n),
            seq: (n * 1000) as u16,
            ts: n * 100_000,
            event_ts: n * 100_000,
        };
        Some(Self {
            stream: MediaStream::new(config, start).ok()?,
            start,
            now: start,
            ptime,
            buf: vec![0; MAX_DATAGRAM],
            peer: peer.transpose().ok()?,
            sources: [source(0), source(1), source(2)],
            voice,
            step: codec.rtp_ticks_per_frame(ptime.as_millis() as u32),
            first_timestamp: setup.initial_timestamp,
            last_sequence: None,
            first_sequence: setup.initial_sequence,
            rtp_sent: 0,
            plays: 0,
            finished: 0,
        })
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Rtp { .. } | Op::Event { .. } | Op::Rtcp { .. } | Op::Raw { .. } => {
                let (from, mut datagram) = self.datagram(op);
                self.stream.handle_datagram(
                    self.now,
                    ADDRESSES[usize::from(from) % 4],
                    &mut datagram,
                );
            }
            Op::Advance(tens) => {
                let until = self.now + Duration::from_millis(10 * u64::from(*tens));
                self.run_until(until);
            }
            Op::Stall(millis) => {
                let at = self.now + Duration::from_millis(u64::from(*millis));
                self.serve(at);
            }
            Op::Play { frames, barge_in } => {
                let mut prompt = EncodedPrompt::new(self.step, self.ptime);
                for i in 0..*frames {
                    prompt.push(&[i; 40]);
                }
                self.plays += 1;
                self.stream.play(self.now, Arc::new(prompt), *barge_in);
            }
            Op::Stop => self.stream.stop_playback(self.now),
            Op::Digit(code) => {
                let digit = Digit::from_event_code(code % 16).expect("0-15");
                self.stream.handle_signalled_digit(self.now, digit);
            }
            Op::Update {
                remote,
                send,
                receive,
            } => {
                let update = StreamUpdate {
                    remote: ADDRESSES[usize::from(*remote) % 4],
                    send: *send,
                    receive: *receive,
                };
                self.stream.update(self.now, update);
            }
            Op::Close => self.stream.close(self.now),
        }
        self.events();
    }

    /// The bytes a far-end operation puts on the wire, and which address sends them.
    fn datagram(&mut self, op: &Op) -> (u8, Vec<u8>) {
        match op {
            Op::Rtp {
                from,
                source,
                step,
                payload_type,
                marker,
                payload,
                protect,
            } => {
                let pt = match payload_type {
                    Pt::Voice => self.voice,
                    Pt::Event => PayloadType::new(EVENT_PT).expect("7 bits"),
                    Pt::ComfortNoise => PayloadType::new(13).expect("7 bits"),
                    Pt::Any(pt) => PayloadType::new(pt & 0x7f).expect("7 bits"),
                };
                let s = &mut self.sources[usize::from(*source) % 3];
                s.seq = advance(s.seq, *step);
                s.ts = s.ts.wrapping_add(160);
                let header = header(s, *marker, pt, s.ts);
                (*from, self.rtp(header, payload, *protect))
            }
            Op::Event {
                from,
                source,
                step,
                new_event,
                code,
                end,
                duration,
                marker,
                protect,
            } => {
                let s = &mut self.sources[usize::from(*source) % 3];
                s.seq = advance(s.seq, *step);
                if *new_event {
                    s.event_ts = s.ts;
                }
                let pt = PayloadType::new(EVENT_PT).expect("7 bits");
                let header = header(s, *marker, pt, s.event_ts);
                let block = TelephoneEvent {
                    event: code % 20,
                    end: *end,
                    volume: 10,
                    duration: *duration,
                };
                let mut payload = [0; TelephoneEvent::LEN];
                block.write(&mut payload).expect("four bytes");
                (*from, self.rtp(header, &payload, *protect))
            }
            Op::Rtcp {
                from,
                source,
                bye,
                flip,
                protect,
            } => {
                let s = &self.sources[usize::from(*source) % 3];
                let mut bytes = rtcp(s, *bye);
                if let Some(bit) = flip {
                    let bit = usize::from(*bit) % (8 * bytes.len());
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                if *protect && let Some(peer) = self.peer.as_mut() {
                    let len = bytes.len();
                    bytes.resize(len + 64, 0);
                    let len = peer.protect_rtcp(&mut bytes, len).unwrap_or(len);
                    bytes.truncate(len);
                }
                (*from, bytes)
            }
            Op::Raw { from, bytes } => (*from, bytes.clone()),
            _ => (0, Vec::new()),
        }
    }

    fn rtp(&mut self, header: RtpHeader, payload: &[u8], protect: bool) -> Vec<u8> {
        let payload = &payload[..payload.len().min(1200)];
        let mut out = vec![0; MAX_DATAGRAM];
        let Ok(mut len) = header.write(payload, &mut out) else {
            return payload.to_vec();
        };
        if protect && let Some(peer) = self.peer.as_mut() {
            len = peer.protect_rtp(&mut out, len).unwrap_or(len);
        }
        out.truncate(len);
        out
    }

    fn run_until(&mut self, until: Instant) {
        while let Some(due) = self.stream.poll_timeout().filter(|due| *due <= until) {
            self.serve(due.max(self.now));
        }
        self.now = self.now.max(until);
    }

    /// What a media worker does at `now`.
    fn serve(&mut self, now: Instant) {
        self.now = now;
        self.stream.handle_timeout(now);
        while let Some(transmit) = self.stream.poll_transmit(now, &mut self.buf) {
            assert!(transmit.len <= self.buf.len());
            let mut datagram = self.buf[..transmit.len].to_vec();
            self.check_sent(&mut datagram);
        }
        self.events();
        let next = self.stream.poll_timeout();
        assert!(
            self.stream.is_closed() || next.is_some_and(|next| next > now),
            "the run loop would spin"
        );
        if self.stream.is_closed() {
            assert!(self.stream.poll_transmit(now, &mut self.buf).is_none());
        }
        assert_eq!(self.stream.stats().packets_sent, self.rtp_sent);
    }

    fn check_deadline(&self) {
        let next = self.stream.poll_timeout();
        assert_eq!(next.is_none(), self.stream.is_closed());
        assert!(
            next.is_none_or(|next| next >= self.now),
            "a deadline in the past"
        );
    }

    fn events(&mut self) {
        while let Some(event) = self.stream.poll_event() {
            if let StreamEvent::PlaybackFinished { .. } = event {
                self.finished += 1;
                assert!(self.finished <= self.plays, "a prompt finished twice");
            }
        }
    }

    /// What we sent is ours, on the grid, in sequence.
    fn check_sent(&mut self, datagram: &mut [u8]) {
        let rtcp = is_rtcp(datagram);
        let len = match self.peer.as_mut() {
            None => datagram.len(),
            Some(peer) if rtcp => peer.unprotect_rtcp(datagram).expect("our SRTCP"),
            Some(peer) => peer.unprotect_rtp(datagram).expect("our SRTP"),
        };
        let datagram = &datagram[..len];
        if rtcp {
            let compound = Compound::parse(datagram).expect("our RTCP parses");
            match compound.packets().next() {
                Some(RtcpPacket::SenderReport(sr)) => assert_eq!(sr.ssrc, Ssrc::new(OUR_SSRC)),
                Some(RtcpPacket::ReceiverReport(rr)) => assert_eq!(rr.ssrc, Ssrc::new(OUR_SSRC)),
                other => panic!("our compound opens with {other:?}"),
            }
            return;
        }
        let packet = RtpPacket::parse(datagram).expect("our RTP parses");
        assert_eq!(packet.ssrc(), Ssrc::new(OUR_SSRC));
        assert_eq!(packet.payload_type(), self.voice);
        let expected = self
            .last_sequence
            .map_or(self.first_sequence, |last| last.wrapping_add(1));
        assert_eq!(
            packet.sequence(),
            expected,
            "sequence numbers follow each other"
        );
        self.last_sequence = Some(packet.sequence());
        self.rtp_sent += 1;
        let due = (self.now - self.start).as_nanos() / self.ptime.as_nanos();
        let on_grid = (0..=u128::from(MAX_CATCH_UP)).any(|behind| {
            let slot = due.saturating_sub(behind) as u32;
            self.first_timestamp
                .wrapping_add(slot.wrapping_mul(self.step))
                == packet.timestamp()
        });
        assert!(
            on_grid,
            "the timestamp of a slot due now or a few packets before"
        );
    }
}

fn advance(seq: u16, step: Step) -> u16 {
    match step {
        Step::Next => seq.wrapping_add(1),
        Step::Small(step) => seq.wrapping_add_signed(i16::from(step)),
        Step::Any(value) => value,
    }
}

fn header(source: &Source, marker: bool, payload_type: PayloadType, timestamp: u32) -> RtpHeader {
    RtpHeader {
        marker,
        payload_type,
        sequence: source.seq,
        timestamp,
        ssrc: source.ssrc,
    }
}

fn rtcp(source: &Source, bye: bool) -> Vec<u8> {
    let report = Report {
        ssrc: source.ssrc,
        sender_info: Some(SenderInfo {
            ntp: NtpTimestamp::new(0x1234_5678_9abc_def0),
            rtp_timestamp: source.ts,
            packet_count: 1,
            octet_count: 160,
        }),
        blocks: &[],
    };
    let mut out = vec![0; 256];
    let len = if bye {
        report.write_with_bye(b"peer@fuzz.invalid", None, &mut out)
    } else {
        report.write(b"peer@fuzz.invalid", &mut out)
    };
    out.truncate(len.expect("fits"));
    out
}
