//! The generator's RTP sockets, served on a 1 ms tick: send 20 ms PCMU on schedule, receive
//! the server's packets and judge each against its session's schedule.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;

const TICK: Duration = Duration::from_millis(1);
const PTIME: Duration = Duration::from_millis(20);
/// A packet arriving later than this behind its place on the schedule is late.
const LATE: Duration = PTIME;
/// Each receiving socket's first second anchors its schedule (the earliest arrival).
const WARM_UP: Duration = Duration::from_secs(1);

/// One established session: what the control protocol needs to end it, and its sockets.
pub struct Session {
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: String,
    /// The session's sockets (indexes in [`Streams`]).
    pub sockets: Vec<usize>,
    /// Its number in the run.
    pub number: usize,
}

struct Sending {
    dest: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
    next: Instant,
}

#[derive(Default)]
struct Receiving {
    /// Kernel arrival time of the first packet, ns.
    started: Option<i128>,
    /// First arrival (ns) and its extended timestamp: the schedule's origin.
    origin: Option<(i128, u64)>,
    /// Earliest (arrival - schedule) seen during the warm-up, in ns.
    min_offset: Option<i128>,
    last_seq: Option<u64>,
    last_ts: Option<u64>,
    window_first_seq: Option<u64>,
    window_highest_seq: u64,
    window_received: u64,
    late: u64,
    max_lateness: Duration,
}

struct Endpoint {
    socket: UdpSocket,
    sending: Option<Sending>,
    receiving: Receiving,
}

/// Counters over the measurement window, all sessions.
#[derive(Debug, Default)]
pub struct Totals {
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub late: u64,
    pub max_lateness: Duration,
    pub sent: u64,
}

pub struct Streams {
    epoll: Epoll,
    endpoints: Vec<Endpoint>,
    ready: Vec<EpollEvent>,
    next_tick: Instant,
    sent: u64,
}

impl Streams {
    pub fn new() -> nix::Result<Self> {
        Ok(Self {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            endpoints: Vec::new(),
            ready: vec![EpollEvent::empty(); 4096],
            next_tick: Instant::now(),
            sent: 0,
        })
    }

    /// Binds a socket on 127.0.0.1; its index and port.
    pub fn add_socket(&mut self) -> Result<(usize, u16), String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let sock2 = socket2::SockRef::from(&socket);
        let _ = sock2.set_recv_buffer_size(256 * 1024);
        // Arrival times from the kernel: the generator's own scheduling (it shares the cores
        // with the server) must not count as the server's lateness.
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| format!("SO_TIMESTAMPNS: {e}"))?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        let index = self.endpoints.len();
        self.epoll
            .add(
                socket.as_fd(),
                EpollEvent::new(EpollFlags::EPOLLIN, index as u64),
            )
            .map_err(|e| format!("epoll add: {e}"))?;
        self.endpoints.push(Endpoint {
            socket,
            sending: None,
            receiving: Receiving::default(),
        });
        Ok((index, port))
    }

    /// Starts sending 20 ms PCMU from socket `index` to `dest`.
    pub fn start_sending(&mut self, index: usize, dest: SocketAddr) {
        let now = Instant::now();
        if let Some(e) = self.endpoints.get_mut(index) {
            e.sending = Some(Sending {
                dest,
                ssrc: 0x4865_0000 | index as u32,
                seq: (index as u16).wrapping_mul(7919),
                ts: (index as u32).wrapping_mul(104_729),
                next: now,
            });
        }
    }

    /// Stops sending from socket `index`.
    pub fn stop_sending(&mut self, index: usize) {
        if let Some(e) = self.endpoints.get_mut(index) {
            e.sending = None;
        }
    }

    /// Runs ticks for `d`.
    pub fn run_for(&mut self, d: Duration, measure: bool) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.tick(measure);
        }
    }

    /// One tick: wait for it, drain what arrived, send what is due.
    pub fn tick(&mut self, measure: bool) {
        let now = Instant::now();
        if self.next_tick > now {
            std::thread::sleep(self.next_tick - now);
        }
        self.next_tick = (self.next_tick + TICK).max(Instant::now());
        self.receive(measure);
        self.send();
    }

    fn receive(&mut self, measure: bool) {
        let mut buf = [0u8; 2048];
        let mut cmsg = nix::cmsg_space!(TimeSpec);
        loop {
            let n = self
                .epoll
                .wait(&mut self.ready, EpollTimeout::ZERO)
                .unwrap_or(0);
            for i in 0..n {
                let index = self.ready[i].data() as usize;
                let Some(endpoint) = self.endpoints.get_mut(index) else {
                    continue;
                };
                let fd = endpoint.socket.as_raw_fd();
                // One datagram per readable socket per 1 ms tick (epoll is level-triggered:
                // more waiting is read next tick): reading on to EAGAIN would cost the
                // generator a wasted system call per packet, CPU the server then lacks.
                // Arrival times are the kernel's, so reading later does not skew them.
                if let Some((len, arrival)) = receive_one(fd, &mut buf, &mut cmsg) {
                    endpoint.receiving.packet(&buf[..len], arrival, measure);
                }
            }
            if n < self.ready.len() {
                return;
            }
        }
    }

    fn send(&mut self) {
        let now = Instant::now();
        let mut packet = [0xffu8; 12 + 160];
        packet[0] = 0x80;
        packet[1] = 0;
        for endpoint in &mut self.endpoints {
            let Some(s) = endpoint.sending.as_mut() else {
                continue;
            };
            while s.next <= now {
                packet[2..4].copy_from_slice(&s.seq.to_be_bytes());
                packet[4..8].copy_from_slice(&s.ts.to_be_bytes());
                packet[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
                let _ = endpoint.socket.send_to(&packet, s.dest);
                self.sent += 1;
                s.seq = s.seq.wrapping_add(1);
                s.ts = s.ts.wrapping_add(160);
                s.next += PTIME;
            }
        }
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            sent: self.sent,
            ..Totals::default()
        };
        for e in &self.endpoints {
            let r = &e.receiving;
            let Some(first) = r.window_first_seq else {
                continue;
            };
            let expected = r.window_highest_seq - first + 1;
            t.expected += expected;
            t.received += r.window_received;
            t.lost += expected.saturating_sub(r.window_received);
            t.late += r.late;
            t.max_lateness = t.max_lateness.max(r.max_lateness);
        }
        t
    }
}

impl Receiving {
    fn packet(&mut self, datagram: &[u8], now: i128, measure: bool) {
        if datagram.len() < 12 || datagram[0] >> 6 != 2 || (72..=95).contains(&(datagram[1] & 0x7f))
        {
            return; // not RTP (RTCP on a muxed port)
        }
        let seq = u16::from_be_bytes([datagram[2], datagram[3]]);
        let ts = u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]);
        let seq = extend(self.last_seq, u64::from(seq), 1 << 16);
        let ts = extend(self.last_ts, u64::from(ts), 1 << 32);
        self.last_seq = Some(self.last_seq.map_or(seq, |s| s.max(seq)));
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
        let started = *self.started.get_or_insert(now);
        let (origin_at, origin_ts) = *self.origin.get_or_insert((now, ts));
        let media = (ts as i128 - origin_ts as i128) * 1_000_000_000 / 8000;
        let offset = (now - origin_at) - media;
        if now - started < WARM_UP.as_nanos() as i128 {
            self.min_offset = Some(self.min_offset.map_or(offset, |m| m.min(offset)));
            return;
        }
        if !measure {
            return;
        }
        let lateness = offset - self.min_offset.unwrap_or(offset);
        let lateness = Duration::from_nanos(lateness.max(0) as u64);
        self.max_lateness = self.max_lateness.max(lateness);
        if lateness > LATE {
            self.late += 1;
        }
        let first = *self.window_first_seq.get_or_insert(seq);
        if seq >= first {
            self.window_received += 1;
            self.window_highest_seq = self.window_highest_seq.max(seq);
        }
    }
}

/// One datagram and its kernel arrival time (ns since the epoch), without blocking.
fn receive_one(fd: i32, buf: &mut [u8], cmsg: &mut [u8]) -> Option<(usize, i128)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT).ok()?;
    let mut arrival = None;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmTimestampns(ts) = c {
            arrival = Some(i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec()));
        }
    }
    Some((msg.bytes, arrival?))
}

/// Extends a wrapping counter to 64 bits next to the last value seen.
fn extend(last: Option<u64>, value: u64, modulus: u64) -> u64 {
    let Some(last) = last else {
        return value + modulus;
    };
    let base = last - last % modulus;
    [base.wrapping_sub(modulus), base, base + modulus]
        .into_iter()
        .map(|b| b.wrapping_add(value))
        .min_by_key(|c| c.abs_diff(last))
        .unwrap_or(value)
}
