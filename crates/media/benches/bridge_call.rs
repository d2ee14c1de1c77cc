//! `bridge_call`: CPU per call-second of a bridged B2BUA call (the caller's stream A relayed to
//! the agent's stream B and back) against one plain, unbridged stream in the same run.
//!
//! Every case is served the way a media worker serves its streams, in virtual time: a 5 ms
//! tick; each peer's packet (one per ptime of its leg) handed to `handle_datagram` when it is
//! due (copied into the
//! receive buffer first, as `recv_from` would); then `handle_timeout`, `poll_transmit` until
//! `None` (the datagrams are written into a buffer and dropped), `poll_event`; then, for a
//! bridge, `Bridge::relay`. One iteration is one second of the call: 50 packets in and 50 out
//! per stream. Sockets and system calls are not in it (they cost the same bridged or not:
//! see `docs/benchmarks.md`, "Media load"). Telephone-event is negotiated, so no stream
//! decodes for in-band DTMF, and nothing is recorded.
//!
//! * `plain_stream`: one PCMU stream, its peer sending a 1 kHz tone, Herald sending silence:
//!   the baseline (1.0).
//! * `two_plain_streams`: two such streams, unbridged: what the two legs cost without relaying.
//! * `bridged/pcmu_pcmu`: pass-through, the payloads cross as they are.
//! * `bridged/pcmu20_pcmu30`: PCMU at 20 ms to PCMU at 30 ms and back: bytes re-cut, nothing
//!   decoded.
//! * `bridged/pcmu_g722`, `bridged/pcmu_opus`: transcoded both ways (decode, resample between
//!   8 and 16 kHz, re-frame, encode).
//!
//! Packets are built before timing (they are the peers' work). The streams live across
//! iterations, so what is measured is the steady state of a call in progress. Time is the
//! thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`), not the wall clock: on a shared machine the
//! time the benchmark waits for a core is not its cost.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use herald_media::codec::{CodecKind, Encoder};
use herald_media::jitter::JitterConfig;
use herald_media::prompt::EncodedPrompt;
use herald_media::rtp::{RtpHeader, Ssrc};
use herald_media::stream::{
    Bridge, EventFormat, InbandMode, MAX_DATAGRAM, MediaStream, StreamConfig, decode_rate,
};
use nix::time::{ClockId, clock_gettime};

const TICK: Duration = Duration::from_millis(5);

/// One leg: its codec and ptime.
#[derive(Clone, Copy)]
struct Leg {
    codec: CodecKind,
    ptime_ms: u64,
}

const PCMU: Leg = Leg {
    codec: CodecKind::Pcmu,
    ptime_ms: 20,
};

fn payload_type(codec: CodecKind) -> herald_sdp::PayloadType {
    match codec {
        CodecKind::Pcmu => herald_sdp::PayloadType::PCMU,
        CodecKind::Pcma => herald_sdp::PayloadType::PCMA,
        CodecKind::G722 => herald_sdp::PayloadType::G722,
        CodecKind::Opus => herald_sdp::PayloadType::new(111).expect("dynamic payload type"),
    }
}

fn stream(leg: Leg, remote: SocketAddr, now: Instant) -> MediaStream {
    let ptime = Duration::from_millis(leg.ptime_ms);
    let silence = EncodedPrompt::silence(leg.codec, ptime).expect("silence encodes");
    let config = StreamConfig {
        codec: leg.codec,
        payload_type: payload_type(leg.codec),
        ptime,
        telephone_event: Some(EventFormat {
            payload_type: 101,
            clock_rate: leg.codec.rtp_clock_rate(),
        }),
        remote,
        rtcp_mux: true,
        send: true,
        receive: true,
        ssrc: Ssrc::new(u32::from(remote.port())),
        initial_sequence: 1,
        initial_timestamp: 1,
        cname: "bench@herald.invalid".into(),
        srtp: None,
        jitter: JitterConfig::default(),
        inband: InbandMode::Auto,
        silence: Arc::new(silence),
        media_timeout: None,
        rtcp_seed: 7,
        wall_clock_at_start: Duration::from_secs(1_700_000_000),
    };
    MediaStream::new(config, now).expect("a valid stream")
}

/// A phone sending a 1 kHz tone in packets of its leg's codec and ptime.
struct Peer {
    addr: SocketAddr,
    payload_type: herald_sdp::PayloadType,
    ptime: Duration,
    step: u32,
    seq: u16,
    ts: u32,
    /// One second of the tone's payloads, sent round and round.
    payloads: Vec<Vec<u8>>,
    /// When its next packet is due.
    next_at: Instant,
    /// Its packets built for the run under way, and how many were delivered.
    queued: Vec<Vec<u8>>,
    delivered: usize,
}

impl Peer {
    fn new(leg: Leg, port: u16, now: Instant) -> Self {
        let codec = leg.codec;
        let ptime_ms = leg.ptime_ms as u32;
        let rate = decode_rate(codec);
        let mut encoder = Encoder::new(codec, rate).expect("encoder");
        let frame = codec.samples_per_frame(rate, ptime_ms);
        let mut n = 0usize;
        let payloads = (0..1000 / ptime_ms)
            .map(|_| {
                let pcm: Vec<i16> = (0..frame)
                    .map(|_| {
                        n += 1;
                        let phase = std::f64::consts::TAU * 1000.0 * n as f64 / f64::from(rate);
                        (8000.0 * phase.sin()) as i16
                    })
                    .collect();
                let mut out = vec![0u8; codec.max_payload_len(ptime_ms)];
                let len = encoder.encode(&pcm, &mut out).expect("encodes");
                out.truncate(len);
                out
            })
            .collect();
        Self {
            addr: SocketAddr::from(([192, 0, 2, 1], port)),
            payload_type: payload_type(codec),
            ptime: Duration::from_millis(leg.ptime_ms),
            step: codec.rtp_ticks_per_frame(ptime_ms),
            seq: 1,
            ts: 1,
            payloads,
            next_at: now,
            queued: Vec::new(),
            delivered: 0,
        }
    }

    /// Builds the packets of the next `seconds` seconds.
    fn queue(&mut self, seconds: u64) {
        let mut out = vec![0u8; MAX_DATAGRAM];
        let count = seconds * 1000 / self.ptime.as_millis() as u64;
        self.delivered = 0;
        self.queued = (0..count)
            .map(|_| {
                let header = RtpHeader {
                    marker: false,
                    payload_type: self.payload_type,
                    sequence: self.seq,
                    timestamp: self.ts,
                    ssrc: Ssrc::new(0xbeef),
                };
                let payload = &self.payloads[usize::from(self.seq) % self.payloads.len()];
                (self.seq, self.ts) = (self.seq.wrapping_add(1), self.ts.wrapping_add(self.step));
                let len = header.write(payload, &mut out).expect("fits");
                out[..len].to_vec()
            })
            .collect();
    }

    /// The next queued packet if it is due at `now`.
    fn due(&mut self, now: Instant) -> Option<&[u8]> {
        if self.next_at > now || self.delivered == self.queued.len() {
            return None;
        }
        self.next_at += self.ptime;
        self.delivered += 1;
        Some(&self.queued[self.delivered - 1])
    }

    fn done(&self) -> bool {
        self.delivered == self.queued.len()
    }
}

/// One or two legs, bridged or not, with their peers, in virtual time.
struct Call {
    legs: Vec<(MediaStream, Peer)>,
    bridge: Option<Bridge>,
    now: Instant,
    receive: Vec<u8>,
    transmit: Vec<u8>,
}

impl Call {
    fn new(legs: &[Leg], bridged: bool) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "one base instant for virtual time"
        )]
        let now = Instant::now();
        let mut legs: Vec<(MediaStream, Peer)> = (0..)
            .zip(legs)
            .map(|(i, leg)| {
                let peer = Peer::new(*leg, 4000 + i, now);
                (stream(*leg, peer.addr, now), peer)
            })
            .collect();
        let bridge = match (bridged, legs.as_mut_slice()) {
            (true, [(a, _), (b, _)]) => Some(Bridge::new(a, b).expect("bridges")),
            _ => None,
        };
        Self {
            legs,
            bridge,
            now,
            receive: vec![0; 2048],
            transmit: vec![0; MAX_DATAGRAM],
        }
    }

    /// Builds each peer's packets for the next `seconds`.
    fn queue(&mut self, seconds: u64) {
        for (_, peer) in &mut self.legs {
            peer.queue(seconds);
        }
    }

    /// Serves the queued packets tick by tick, as a worker does, until every peer is done.
    fn run(&mut self) {
        while !self.legs.iter().all(|(_, peer)| peer.done()) {
            self.now += TICK;
            for (stream, peer) in &mut self.legs {
                while let Some(packet) = peer.due(self.now) {
                    let buf = &mut self.receive[..packet.len()];
                    buf.copy_from_slice(packet);
                    stream.handle_datagram(self.now, peer.addr, buf);
                }
            }
            self.serve();
        }
    }

    fn serve(&mut self) {
        let horizon = self.now + TICK / 2;
        for (stream, _) in &mut self.legs {
            if stream.poll_timeout().is_some_and(|due| due <= horizon) {
                stream.handle_timeout(horizon);
                while let Some(transmit) = stream.poll_transmit(horizon, &mut self.transmit) {
                    black_box(&self.transmit[..transmit.len]);
                }
                while let Some(event) = stream.poll_event() {
                    black_box(event);
                }
            }
        }
        if let (Some(bridge), [(a, _), (b, _)]) = (self.bridge.as_mut(), self.legs.as_mut_slice()) {
            bridge.relay(a, b);
        }
    }
}

fn call_second(c: &mut Criterion, name: &str, legs: &[Leg], bridged: bool) {
    let mut call = Call::new(legs, bridged);
    // Two seconds to latch, fill the jitter buffer and settle.
    call.queue(2);
    call.run();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            call.queue(iters);
            let start = thread_cpu_time();
            call.run();
            thread_cpu_time().saturating_sub(start)
        })
    });
    for (stream, _) in &call.legs {
        let stats = stream.stats();
        assert!(stats.packets_received > 0 && stats.packets_sent > 0);
        if bridged {
            assert!(
                stats.relayed * 10 > stats.packets_sent * 9,
                "{name}: {stats:?}"
            );
        }
    }
}

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("a thread CPU clock");
    Duration::from(now)
}

fn bridge_call(c: &mut Criterion) {
    let leg = |codec, ptime_ms| Leg { codec, ptime_ms };
    call_second(c, "plain_stream", &[PCMU], false);
    call_second(c, "two_plain_streams", &[PCMU, PCMU], false);
    call_second(c, "bridged/pcmu_pcmu", &[PCMU, PCMU], true);
    let pcmu30 = leg(CodecKind::Pcmu, 30);
    call_second(c, "bridged/pcmu20_pcmu30", &[PCMU, pcmu30], true);
    let g722 = leg(CodecKind::G722, 20);
    call_second(c, "bridged/pcmu_g722", &[PCMU, g722], true);
    let opus = leg(CodecKind::Opus, 20);
    call_second(c, "bridged/pcmu_opus", &[PCMU, opus], true);
}

criterion_group!(benches, bridge_call);
criterion_main!(benches);
