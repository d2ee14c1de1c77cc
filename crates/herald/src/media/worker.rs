//! A media worker: one OS thread that owns many RTP streams and serves them on a short tick.
//!
//! Every stream is a [`MediaStream`] (sans-IO, `herald-media`) plus its bound UDP socket.
//! At 50 packets per second per stream, waking a task for every packet costs more than the
//! packet's own work (DESIGN.md, "Media I/O"), so the worker never waits for a packet: it
//! sleeps until the next tick, asks epoll (without blocking) which sockets hold datagrams,
//! drains those, then lets every stream whose deadline has come send what is due. One wake-up
//! serves every stream of the worker, whatever the number of packets.
//!
//! Commands (open a stream, play a prompt, bridge two streams, close) arrive on a channel and
//! are taken at the start of each tick; events (digits, prompt finished, stream closed with
//! its statistics) go back to the call application on an unbounded channel. A panic in one
//! stream's machine closes that stream and is reported; the worker and its other streams go
//! on.
//!
//! A tick: commands, then every readable socket drained, then every stream due served, then
//! every bridge relayed both ways ([`Bridge::relay`]): what a bridged stream played out in
//! this tick is queued on its partner, which sends it in its next slot, so a bridge adds at
//! most one tick to the audio's way. Both legs of a bridge live on this worker (the engine
//! places the second beside the first). A leg that closes, or is removed after a panic,
//! unbridges its partner, which goes back to silence and prompts.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use herald_media::dtmf::Digit;
use herald_media::prompt::EncodedPrompt;
use herald_media::stream::{Bridge, MediaStream, StreamEvent, StreamStats, StreamUpdate};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::recorder::tap::{Mark, RecordingTap};

/// Identifies a stream across the engine (chosen by the engine, unique per process).
pub type StreamKey = u64;

/// What the call application asks of a stream.
pub enum Command {
    /// Take over a socket and start serving the stream.
    Open {
        key: StreamKey,
        socket: UdpSocket,
        /// The RTCP port's socket, for a peer without rtcp-mux.
        rtcp: Option<UdpSocket>,
        stream: Box<MediaStream>,
    },
    /// Play a prompt (replacing what plays); `barge_in` stops it on the first digit.
    Play {
        key: StreamKey,
        prompt: std::sync::Arc<EncodedPrompt>,
        barge_in: bool,
    },
    /// Stop what plays (the IVR flushed its prompt queue).
    Stop { key: StreamKey },
    /// A digit that arrived in signalling (SIP INFO), for the stream's de-duplication.
    SignalledDigit { key: StreamKey, digit: Digit },
    /// New negotiated parameters after a re-INVITE or UPDATE.
    Update {
        key: StreamKey,
        update: Box<StreamUpdate>,
    },
    /// End the stream: RTCP BYE, then the socket is closed.
    Close { key: StreamKey },
    /// Recording of the stream's call leg.
    Record {
        key: StreamKey,
        command: RecordCommand,
    },
    /// From the next tick, each of the two streams (of this worker) sends what the other
    /// receives: payloads passed through when codec and ptime match, transcoded otherwise
    /// (see `herald_media::stream`, "Bridging"). A bridge either stream was in ends first.
    /// RFC 4733 digits are still reported per stream, never relayed.
    Bridge { a: StreamKey, b: StreamKey },
    /// Ends the bridge `key` is in (if any): both streams go back to silence and prompts.
    Unbridge { key: StreamKey },
}

/// What the call application asks of a stream's recording.
pub enum RecordCommand {
    /// Start capturing into this tap (whose timeline starts now).
    Start(Box<RecordingTap>),
    /// Pause, resume, or add evidence.
    Mark(Mark),
    /// Finish the recording (the stream goes on); closing the stream finishes it too.
    Stop,
}

/// Where a worker's notices go (the call application's channel, wrapped as it likes).
pub type NoticeSink = std::sync::Arc<dyn Fn(Notice) + Send + Sync>;

/// What a worker tells the call application.
#[derive(Debug)]
pub enum Notice {
    /// An event of a live stream.
    Event { key: StreamKey, event: StreamEvent },
    /// The stream is gone; its final statistics.
    Closed {
        key: StreamKey,
        stats: Box<StreamStats>,
        reason: CloseReason,
    },
}

/// Why a stream was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The application asked.
    Requested,
    /// Its machine panicked; the stream was dropped to protect the others.
    InternalError,
    /// The socket failed.
    SocketError,
}

/// The worker's tuning.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// How often the worker wakes.
    pub tick: Duration,
}

/// Largest datagram we accept: RTP of any codec we speak fits far below this.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams a socket may deliver per second: four times a 20 ms stream's rate, twice a 10 ms
/// one's. A worker reads at most this many per tick (one per 5 ms tick): at 20 ms ptime a
/// socket rarely holds more, and reading until EAGAIN would waste a system call per packet.
/// Epoll is level-triggered, so a socket with more waiting is served again next tick, and a
/// flood on one socket cannot take a tick from the others.
const READS_PER_SECOND: u32 = 200;

/// Two streams of this worker relayed to each other.
struct Bridged {
    a: StreamKey,
    b: StreamKey,
    bridge: Bridge,
}

impl Bridged {
    fn has(&self, key: StreamKey) -> bool {
        self.a == key || self.b == key
    }
}

struct Slot {
    socket: UdpSocket,
    rtcp: Option<UdpSocket>,
    stream: MediaStream,
    /// The call leg's recording, while one runs.
    tap: Option<Box<RecordingTap>>,
    /// When the stream first started capturing: the origin of its capture positions.
    capture_origin: Option<Instant>,
}

/// Epoll data for a stream's socket: the key, and whether it is the RTCP one.
fn token(key: StreamKey, rtcp: bool) -> u64 {
    (key << 1) | u64::from(rtcp)
}

/// One media worker thread's state.
pub struct Worker {
    config: WorkerConfig,
    /// Datagrams read from a readable socket per tick ([`READS_PER_SECOND`] at this tick).
    reads_per_tick: u32,
    epoll: Epoll,
    slots: HashMap<StreamKey, Slot>,
    bridges: Vec<Bridged>,
    commands: Receiver<Command>,
    notices: NoticeSink,
    ready: Vec<EpollEvent>,
    buf: Box<[u8; MAX_DATAGRAM]>,
    closing: Vec<StreamKey>,
}

impl Worker {
    pub fn new(
        config: WorkerConfig,
        commands: Receiver<Command>,
        notices: NoticeSink,
    ) -> std::io::Result<Self> {
        let tick_ms = u32::try_from(config.tick.as_millis()).unwrap_or(u32::MAX);
        Ok(Self {
            config,
            reads_per_tick: (tick_ms.saturating_mul(READS_PER_SECOND) / 1000).max(1),
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            slots: HashMap::new(),
            bridges: Vec::new(),
            commands,
            notices,
            ready: vec![EpollEvent::empty(); 1024],
            buf: Box::new([0; MAX_DATAGRAM]),
            closing: Vec::new(),
        })
    }

    /// Runs until the command channel closes and every stream has been closed.
    pub fn run(mut self) {
        let mut next_tick = Instant::now();
        loop {
            let now = Instant::now();
            if next_tick > now {
                std::thread::sleep(next_tick - now);
            }
            let now = Instant::now();
            // A stalled tick (machine overloaded) does not queue up ticks to catch up on.
            next_tick = (next_tick + self.config.tick).max(now);
            if !self.take_commands(now) && self.slots.is_empty() {
                return;
            }
            self.receive(now);
            self.serve(now);
            self.relay();
        }
    }

    /// Applies queued commands; false once the engine is gone.
    fn take_commands(&mut self, now: Instant) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.apply(now, command),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => {
                    let keys: Vec<_> = self.slots.keys().copied().collect();
                    for key in keys {
                        self.with_stream(key, |s, now| s.close(now), now);
                    }
                    return false;
                }
            }
        }
    }

    fn apply(&mut self, now: Instant, command: Command) {
        match command {
            Command::Open {
                key,
                socket,
                rtcp,
                stream,
            } => self.open(key, socket, rtcp, *stream),
            Command::Play {
                key,
                prompt,
                barge_in,
            } => self.with_stream(key, |s, now| s.play(now, prompt, barge_in), now),
            Command::Stop { key } => self.with_stream(key, |s, now| s.stop_playback(now), now),
            Command::SignalledDigit { key, digit } => {
                self.with_stream(key, |s, now| s.handle_signalled_digit(now, digit), now)
            }
            Command::Update { key, update } => {
                self.with_stream(key, |s, now| s.update(now, *update), now)
            }
            Command::Close { key } => self.with_stream(key, |s, now| s.close(now), now),
            Command::Record { key, command } => self.record(now, key, command),
            Command::Bridge { a, b } => self.bridge(a, b),
            Command::Unbridge { key } => self.unbridge(key),
        }
    }

    /// Bridges two streams of this worker, ending the bridges either was in.
    fn bridge(&mut self, a: StreamKey, b: StreamKey) {
        self.unbridge(a);
        self.unbridge(b);
        if a == b {
            tracing::warn!("a stream cannot be bridged to itself");
            return;
        }
        let [Some(slot_a), Some(slot_b)] = self.slots.get_disjoint_mut([&a, &b]) else {
            // One has closed already, or lives on another worker (an engine bug).
            tracing::warn!("bridge of a stream this worker does not hold; ignored");
            return;
        };
        let (sa, sb) = (&mut slot_a.stream, &mut slot_b.stream);
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Bridge::new(sa, sb)));
        match made {
            Ok(Ok(bridge)) => self.bridges.push(Bridged { a, b, bridge }),
            Ok(Err(error)) => tracing::warn!(%error, "cannot bridge two streams"),
            Err(_) => {
                tracing::error!("internal error bridging two streams; closing both");
                self.remove(a, CloseReason::InternalError);
                self.remove(b, CloseReason::InternalError);
            }
        }
    }

    /// Ends the bridge `key` is in: both of its streams that are still here are unbridged.
    fn unbridge(&mut self, key: StreamKey) {
        if let Some((a, b)) = self.take_bridge(key) {
            let now = Instant::now();
            for key in [a, b] {
                self.with_stream(key, |s, _| s.unbridge(), now);
            }
        }
    }

    /// Forgets the bridge `key` is in; its two streams.
    fn take_bridge(&mut self, key: StreamKey) -> Option<(StreamKey, StreamKey)> {
        let index = self.bridges.iter().position(|b| b.has(key))?;
        let Bridged { a, b, .. } = self.bridges.swap_remove(index);
        Some((a, b))
    }

    /// Relays every bridge both ways: what each leg played out this tick goes to the other's
    /// queue, for its next slot.
    fn relay(&mut self) {
        let mut failed = Vec::new();
        for bridged in &mut self.bridges {
            let [Some(a), Some(b)] = self.slots.get_disjoint_mut([&bridged.a, &bridged.b]) else {
                continue;
            };
            let (sa, sb, bridge) = (&mut a.stream, &mut b.stream, &mut bridged.bridge);
            let ok =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bridge.relay(sa, sb)));
            if ok.is_err() {
                failed.push((bridged.a, bridged.b));
            }
        }
        for (a, b) in failed {
            tracing::error!("internal error relaying a bridge; closing both streams");
            self.remove(a, CloseReason::InternalError);
            self.remove(b, CloseReason::InternalError);
        }
    }

    fn record(&mut self, now: Instant, key: StreamKey, command: RecordCommand) {
        let Some(slot) = self.slots.get_mut(&key) else {
            // The stream is gone: a tap handed over now is finished at once (its storage task
            // then holds a complete, empty recording rather than waiting forever).
            if let RecordCommand::Start(tap) = command {
                tap.finish(now);
            }
            return;
        };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match command {
            RecordCommand::Start(mut tap) => {
                if let Some(mut old) = slot.tap.take() {
                    drain_capture(&mut slot.stream, &mut old, now);
                    old.finish(now);
                }
                let origin = *slot.capture_origin.get_or_insert(now);
                slot.stream.start_capture(now);
                tap.attach(origin, now);
                slot.tap = Some(tap);
            }
            RecordCommand::Mark(mark) => {
                if let Some(tap) = slot.tap.as_mut() {
                    drain_capture(&mut slot.stream, tap, now);
                    tap.mark(now, mark);
                }
            }
            RecordCommand::Stop => {
                if let Some(mut tap) = slot.tap.take() {
                    drain_capture(&mut slot.stream, &mut tap, now);
                    slot.stream.stop_capture(now);
                    tap.finish(now);
                }
            }
        }));
        if ok.is_err() {
            tracing::error!("internal error in a recording; closing that stream");
            self.remove(key, CloseReason::InternalError);
        }
    }

    fn open(
        &mut self,
        key: StreamKey,
        socket: UdpSocket,
        rtcp: Option<UdpSocket>,
        stream: MediaStream,
    ) {
        let register = |socket: &UdpSocket, is_rtcp: bool| {
            socket.set_nonblocking(true)?;
            let event = EpollEvent::new(EpollFlags::EPOLLIN, token(key, is_rtcp));
            self.epoll
                .add(socket.as_fd(), event)
                .map_err(std::io::Error::from)
        };
        let registered = register(&socket, false)
            .and_then(|()| rtcp.as_ref().map_or(Ok(()), |r| register(r, true)));
        if let Err(error) = registered {
            tracing::warn!(%error, "cannot serve an RTP socket");
            let stats = Box::new(stream.stats());
            (self.notices)(Notice::Closed {
                key,
                stats,
                reason: CloseReason::SocketError,
            });
            return;
        }
        self.slots.insert(
            key,
            Slot {
                socket,
                rtcp,
                stream,
                tap: None,
                capture_origin: None,
            },
        );
    }

    /// Runs `f` on a stream's machine, containing a panic to that stream.
    fn with_stream(
        &mut self,
        key: StreamKey,
        f: impl FnOnce(&mut MediaStream, Instant),
        now: Instant,
    ) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        let ok =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut slot.stream, now)));
        if ok.is_err() {
            tracing::error!("internal error in a media stream; closing that stream");
            self.remove(key, CloseReason::InternalError);
        }
    }

    /// Drains every socket that epoll reports readable, without blocking.
    fn receive(&mut self, now: Instant) {
        loop {
            let n = match self.epoll.wait(&mut self.ready, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(error) => {
                    tracing::error!(%error, "epoll_wait failed");
                    return;
                }
            };
            for i in 0..n {
                let data = self.ready[i].data();
                self.drain(data >> 1, data & 1 == 1, now);
            }
            if n < self.ready.len() {
                return;
            }
        }
    }

    fn drain(&mut self, key: StreamKey, rtcp: bool, now: Instant) {
        for _ in 0..self.reads_per_tick {
            let Some(slot) = self.slots.get_mut(&key) else {
                return;
            };
            let socket = match (rtcp, slot.rtcp.as_ref()) {
                (true, Some(rtcp)) => rtcp,
                _ => &slot.socket,
            };
            let (len, from) = match socket.recv_from(&mut self.buf[..]) {
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // ICMP port unreachable from a peer that went away: not our socket's fault.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(error) => {
                    tracing::warn!(%error, "RTP socket failed; closing its stream");
                    self.remove(key, CloseReason::SocketError);
                    return;
                }
            };
            let buf = &mut self.buf[..len];
            let stream = &mut slot.stream;
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                stream.handle_datagram(now, from, buf)
            }));
            if ok.is_err() {
                tracing::error!("internal error on an RTP datagram; closing that stream");
                self.remove(key, CloseReason::InternalError);
                return;
            }
        }
    }

    /// Gives every stream whose deadline has come its turn: timers, packets, events.
    fn serve(&mut self, now: Instant) {
        // Packets due within half a tick go now: on average they leave on time.
        let horizon = now + self.config.tick / 2;
        let mut failed = Vec::new();
        for (&key, slot) in &mut self.slots {
            // A recording seals on time even when its stream is idle (on hold).
            let due = |t: Option<Instant>| t.is_some_and(|t| t <= horizon);
            let recording_due = due(slot.tap.as_ref().and_then(|tap| tap.poll_timeout()));
            if slot.stream.poll_timeout().is_some_and(|t| t > horizon) && !recording_due {
                continue;
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                serve_one(slot, horizon, &mut self.buf[..], &self.notices, key)
            }));
            match outcome {
                Ok(Served::Open) => {}
                Ok(Served::Finished) => self.closing.push(key),
                Ok(Served::SocketFailed) => failed.push((key, CloseReason::SocketError)),
                Err(_) => failed.push((key, CloseReason::InternalError)),
            }
        }
        for (key, reason) in failed {
            if reason == CloseReason::InternalError {
                tracing::error!("internal error in a media stream; closing that stream");
            }
            self.remove(key, reason);
        }
        for key in std::mem::take(&mut self.closing) {
            self.remove(key, CloseReason::Requested);
        }
    }

    fn remove(&mut self, key: StreamKey, reason: CloseReason) {
        // The partner of a leg that goes stays, unbridged (the leg itself is not asked: it
        // may be going because its machine panicked).
        if let Some((a, b)) = self.take_bridge(key) {
            let partner = if a == key { b } else { a };
            self.with_stream(partner, |s, _| s.unbridge(), Instant::now());
        }
        if let Some(mut slot) = self.slots.remove(&key) {
            if let Some(mut tap) = slot.tap.take() {
                let now = Instant::now();
                // A stream whose machine panicked is not asked for its last audio.
                let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if reason != CloseReason::InternalError {
                        drain_capture(&mut slot.stream, &mut tap, now);
                    }
                    tap.finish(now);
                }));
                if finished.is_err() {
                    tracing::error!("internal error finishing a recording; it is left interrupted");
                }
            }
            let _ = self.epoll.delete(slot.socket.as_fd());
            if let Some(rtcp) = &slot.rtcp {
                let _ = self.epoll.delete(rtcp.as_fd());
            }
            let stats = Box::new(slot.stream.stats());
            (self.notices)(Notice::Closed { key, stats, reason });
        }
    }
}

enum Served {
    Open,
    Finished,
    SocketFailed,
}

fn serve_one(
    slot: &mut Slot,
    now: Instant,
    buf: &mut [u8],
    notices: &NoticeSink,
    key: StreamKey,
) -> Served {
    let stream = &mut slot.stream;
    stream.handle_timeout(now);
    while let Some(transmit) = stream.poll_transmit(now, buf) {
        let socket = match (transmit.rtcp_port, slot.rtcp.as_ref()) {
            (true, Some(rtcp)) => rtcp,
            _ => &slot.socket,
        };
        if let Err(error) = send(socket, &buf[..transmit.len], transmit.destination) {
            tracing::warn!(%error, "RTP send failed; closing the stream");
            return Served::SocketFailed;
        }
    }
    if let Some(tap) = slot.tap.as_mut() {
        drain_capture(stream, tap, now);
        tap.pump(now);
    }
    while let Some(event) = stream.poll_event() {
        (notices)(Notice::Event { key, event });
    }
    if stream.is_closed() {
        Served::Finished
    } else {
        Served::Open
    }
}

/// Hands the audio the stream captured to its recording.
fn drain_capture(stream: &mut MediaStream, tap: &mut RecordingTap, now: Instant) {
    stream.drain_captured(|channel, position, pcm| tap.audio(now, channel, position, pcm));
}

/// Sends one datagram; a full socket buffer or an unreachable peer drops it (RTP is loss
/// tolerant) rather than failing the stream.
fn send(socket: &UdpSocket, datagram: &[u8], to: SocketAddr) -> std::io::Result<()> {
    match socket.send_to(datagram, to) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::WouldBlock
                    | ErrorKind::ConnectionRefused
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::Interrupted
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! A worker thread with two bridged streams, their peers two loopback sockets. No sleeps:
    //! the test paces itself on the packets the worker sends (one per 20 ms per stream), and
    //! every wait is a receive with a bounded timeout.

    use std::sync::{Arc, Mutex, mpsc};

    use herald_media::codec::CodecKind;
    use herald_media::jitter::JitterConfig;
    use herald_media::rtp::{RtpHeader, RtpPacket, Ssrc, is_rtcp};
    use herald_media::stream::{InbandMode, StreamConfig};

    use super::*;

    const WAIT: Duration = Duration::from_secs(3);

    /// A 20 ms PCMU stream sending to `remote`, from now.
    pub(in crate::media) fn pcmu_stream(remote: SocketAddr) -> MediaStream {
        let ptime = Duration::from_millis(20);
        let silence = EncodedPrompt::silence(CodecKind::Pcmu, ptime).unwrap();
        let config = StreamConfig {
            codec: CodecKind::Pcmu,
            payload_type: herald_sdp::PayloadType::PCMU,
            ptime,
            telephone_event: None,
            remote,
            rtcp_mux: true,
            send: true,
            receive: true,
            ssrc: Ssrc::new(remote.port().into()),
            initial_sequence: 1,
            initial_timestamp: 1,
            cname: "worker-test@herald.invalid".into(),
            srtp: None,
            jitter: JitterConfig::default(),
            inband: InbandMode::Off,
            silence: std::sync::Arc::new(silence),
            media_timeout: None,
            rtcp_seed: 1,
            wall_clock_at_start: Duration::from_secs(1_700_000_000),
        };
        MediaStream::new(config, Instant::now()).unwrap()
    }

    pub(in crate::media) fn loopback() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    /// A phone on a loopback socket: sends numbered PCMU, reads RTP with a timeout.
    struct Phone {
        socket: UdpSocket,
        ssrc: u32,
        seq: u16,
        ts: u32,
    }

    impl Phone {
        fn new(ssrc: u32) -> Self {
            let socket = loopback();
            socket.set_read_timeout(Some(WAIT)).unwrap();
            Self {
                socket,
                ssrc,
                seq: 100,
                ts: 8_000,
            }
        }

        fn addr(&self) -> SocketAddr {
            self.socket.local_addr().unwrap()
        }

        fn send(&mut self, to: SocketAddr, payload: &[u8]) {
            let header = RtpHeader {
                marker: false,
                payload_type: herald_sdp::PayloadType::PCMU,
                sequence: self.seq,
                timestamp: self.ts,
                ssrc: Ssrc::new(self.ssrc),
            };
            (self.seq, self.ts) = (self.seq.wrapping_add(1), self.ts.wrapping_add(160));
            let mut out = [0u8; 256];
            let len = header.write(payload, &mut out).unwrap();
            self.socket.send_to(&out[..len], to).unwrap();
        }

        /// The payload of the next RTP packet (RTCP skipped), waiting at most [`WAIT`].
        fn next_payload(&self) -> Vec<u8> {
            let mut buf = [0u8; 2048];
            loop {
                let (len, _) = self.socket.recv_from(&mut buf).expect("the worker sends");
                if !is_rtcp(&buf[..len]) {
                    return RtpPacket::parse(&buf[..len]).unwrap().payload().to_vec();
                }
            }
        }
    }

    /// 160 bytes that tell `i` apart (and from µ-law silence).
    fn numbered(i: u16) -> Vec<u8> {
        let mut payload = vec![0xa5, (i >> 8) as u8, i as u8];
        payload.resize(160, i as u8 ^ 0x5a);
        payload
    }

    fn index_of(payload: &[u8]) -> Option<u16> {
        (payload.len() == 160 && payload[0] == 0xa5)
            .then(|| u16::from(payload[1]) << 8 | u16::from(payload[2]))
    }

    #[test]
    fn a_bridge_relays_each_leg_to_the_other_and_a_closing_leg_unbridges_its_partner() {
        let (commands, rx) = mpsc::channel();
        let (notice_tx, notices) = mpsc::channel();
        let notice_tx = Mutex::new(notice_tx);
        let sink: NoticeSink = Arc::new(move |notice| {
            let _ = notice_tx.lock().unwrap().send(notice);
        });
        let tick = Duration::from_millis(5);
        let worker = Worker::new(WorkerConfig { tick }, rx, sink).unwrap();
        let thread = std::thread::spawn(move || worker.run());

        let (mut caller, mut agent) = (Phone::new(0xca11), Phone::new(0xa6e7));
        let (leg_a, leg_b) = (loopback(), loopback());
        let (to_a, to_b) = (leg_a.local_addr().unwrap(), leg_b.local_addr().unwrap());
        for (key, socket, peer) in [(1, leg_a, caller.addr()), (2, leg_b, agent.addr())] {
            let stream = Box::new(pcmu_stream(peer));
            let open = Command::Open {
                key,
                socket,
                rtcp: None,
                stream,
            };
            commands.send(open).unwrap();
        }
        commands.send(Command::Bridge { a: 1, b: 2 }).unwrap();

        // Each packet a phone gets paces the other phone's next one: the worker's own 20 ms
        // is the clock. The caller's audio must come out of B, the agent's out of A, as sent.
        let (mut heard_by_agent, mut heard_by_caller) = (None, None);
        for i in 0..250u16 {
            let at_agent = agent.next_payload();
            heard_by_agent = heard_by_agent.or(index_of(&at_agent));
            caller.send(to_a, &numbered(i));
            let at_caller = caller.next_payload();
            heard_by_caller = heard_by_caller.or(index_of(&at_caller).filter(|i| *i >= 1000));
            agent.send(to_b, &numbered(1000 + i));
            if heard_by_agent.is_some() && heard_by_caller.is_some() {
                break;
            }
        }
        let first = heard_by_agent.expect("the caller is heard on B");
        assert!(first < 20, "relayed within a few packets: {first}");
        assert!(heard_by_caller.expect("the agent is heard on A") < 1020);
        // Payloads cross byte for byte, in order.
        let next = agent.next_payload();
        assert_eq!(next, numbered(index_of(&next).expect("still relaying")));

        // The caller's leg closes: the agent's leg is unbridged and goes back to silence
        // (after at most what was queued).
        commands.send(Command::Close { key: 1 }).unwrap();
        loop {
            match notices.recv_timeout(WAIT).expect("the close is reported") {
                Notice::Closed { key: 1, reason, .. } => {
                    assert_eq!(reason, CloseReason::Requested);
                    break;
                }
                _ => continue,
            }
        }
        let tail: Vec<Vec<u8>> = (0..8).map(|_| agent.next_payload()).collect();
        assert!(tail[4..].iter().all(|p| *p == [0xff; 160]), "{tail:?}");

        drop(commands);
        thread.join().unwrap();
        let closed = notices
            .try_iter()
            .any(|n| matches!(n, Notice::Closed { key: 2, .. }));
        assert!(closed, "the last leg closes when the engine goes");
    }
}
