//! Media load generator: N concurrent RTP sessions against a media server on 127.0.0.1,
//! measuring what the server sends back and what it costs.
//!
//! Two targets, driven the same way so the figures compare:
//! - `herald`: N SIP calls (INVITE/200/ACK ... BYE) to the release binary; each call's RTP
//!   socket sends 20 ms PCMU to Herald and receives Herald's stream (its greeting, then
//!   silence). Herald receives and sends 50 packets/s per session.
//! - `rtpengine`: N sessions set up over rtpengine's ng control protocol (offer/answer), each a
//!   caller socket sending 20 ms PCMU through rtpengine to a callee socket. rtpengine, too,
//!   receives and sends 50 packets/s per session: the same packet work, done by a mature C
//!   media relay, as the same-run baseline.
//!
//! Measured over a steady window after every session is up:
//! - outbound packets (server to us) late or lost: a packet is late when it arrives more
//!   than one ptime (20 ms) after its place on the session's schedule (its RTP timestamp,
//!   anchored at the session's earliest arrival in a warm-up second); lost = gaps in sequence;
//! - server CPU time per session-second (from /proc/PID/stat, user + system);
//! - server resident memory per session (VmRSS with N sessions minus VmRSS before).
//!
//! Output: one JSON object on stdout. Bounded: every wait has a deadline; the run ends by
//! itself.

mod control;
mod server_proc;
mod streams;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use control::{Ng, Sip};
use server_proc::ProcStats;
use streams::{Session, Streams};

struct Args {
    target: String,
    server: SocketAddr,
    pid: u32,
    sessions: usize,
    setup_rate: u32,
    window: Duration,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        target: String::new(),
        server: "127.0.0.1:5090".parse().map_err(|e| format!("{e}"))?,
        pid: 0,
        sessions: 100,
        setup_rate: 200,
        window: Duration::from_secs(20),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--target" => args.target = value,
            "--server" => args.server = value.parse().map_err(|e| format!("--server: {e}"))?,
            "--pid" => args.pid = value.parse().map_err(|e| format!("--pid: {e}"))?,
            "--sessions" => {
                args.sessions = value.parse().map_err(|e| format!("--sessions: {e}"))?
            }
            "--setup-rate" => {
                args.setup_rate = value.parse().map_err(|e| format!("--setup-rate: {e}"))?
            }
            "--window" => {
                args.window =
                    Duration::from_secs(value.parse().map_err(|e| format!("--window: {e}"))?)
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !args.server.ip().is_loopback() {
        return Err("the server must be on loopback".into());
    }
    if args.target != "herald" && args.target != "rtpengine" {
        return Err("--target herald|rtpengine".into());
    }
    Ok(args)
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "media_load: {e}\nusage: media_load --target herald|rtpengine --server 127.0.0.1:PORT --pid PID --sessions N [--setup-rate R] [--window SECONDS]"
            );
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("media_load: {e}");
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let proc = ProcStats::new(args.pid);
    let rss_before = proc.rss_bytes()?;
    let mut streams = Streams::new().map_err(|e| format!("epoll: {e}"))?;
    let setup_started = Instant::now();
    let sessions = match args.target.as_str() {
        "herald" => {
            let mut sip = Sip::new(args.server).map_err(|e| format!("SIP socket: {e}"))?;
            setup(args, &mut streams, |s, i| sip.call(s, i))?
        }
        _ => {
            let mut ng = Ng::new(args.server).map_err(|e| format!("ng socket: {e}"))?;
            setup(args, &mut streams, |s, i| ng.session(s, i))?
        }
    };
    let setup_time = setup_started.elapsed();
    // Settle: every session sends and receives for two seconds before the window opens.
    streams.run_for(Duration::from_secs(2), false);
    let rss_during = proc.rss_bytes()?;
    let cpu_before = proc.cpu()?;
    let window_started = Instant::now();
    streams.run_for(args.window, true);
    let window = window_started.elapsed();
    let cpu = proc.cpu()?.saturating_sub(cpu_before);
    let totals = streams.totals();
    let teardown = match args.target.as_str() {
        "herald" => {
            let mut sip = Sip::new(args.server).map_err(|e| format!("SIP socket: {e}"))?;
            sip.hang_up_all(&sessions, &mut streams)
        }
        _ => {
            let mut ng = Ng::new(args.server).map_err(|e| format!("ng socket: {e}"))?;
            ng.delete_all(&sessions)
        }
    };
    let n = sessions.len() as f64;
    let session_seconds = n * window.as_secs_f64();
    let expected = totals.expected.max(1) as f64;
    Ok(format!(
        concat!(
            "{{\"target\":\"{}\",\"sessions\":{},\"requested\":{},\"setup_seconds\":{:.1},",
            "\"window_seconds\":{:.1},\"outbound_expected\":{},\"outbound_received\":{},",
            "\"outbound_lost\":{},\"outbound_late\":{},\"late_or_lost_percent\":{:.4},",
            "\"cpu_seconds\":{:.3},\"cpu_us_per_session_second\":{:.1},",
            "\"rss_before\":{},\"rss_during\":{},\"rss_per_session\":{:.0},",
            "\"max_lateness_ms\":{:.1},\"sent_by_generator\":{},\"teardown_failed\":{}}}"
        ),
        args.target,
        sessions.len(),
        args.sessions,
        setup_time.as_secs_f64(),
        window.as_secs_f64(),
        totals.expected,
        totals.received,
        totals.lost,
        totals.late,
        (totals.lost + totals.late) as f64 * 100.0 / expected,
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / session_seconds.max(1e-9),
        rss_before,
        rss_during,
        (rss_during.saturating_sub(rss_before)) as f64 / n.max(1.0),
        totals.max_lateness.as_secs_f64() * 1000.0,
        totals.sent,
        teardown,
    ))
}

/// Sets up `args.sessions` sessions at `args.setup_rate` per second, keeping the established
/// ones' media flowing meanwhile.
fn setup(
    args: &Args,
    streams: &mut Streams,
    mut open: impl FnMut(&mut Streams, usize) -> Result<Session, String>,
) -> Result<Vec<Session>, String> {
    let start = Instant::now();
    let mut sessions = Vec::with_capacity(args.sessions);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.setup_rate.max(1)));
    for i in 0..args.sessions {
        let due = start + interval * i as u32;
        while Instant::now() < due {
            streams.tick(false);
        }
        match open(streams, i) {
            Ok(session) => sessions.push(session),
            Err(e) => {
                eprintln!("session {i}: {e}");
                if sessions.len() * 10 < i {
                    return Err(format!("most sessions fail to set up; last: {e}"));
                }
            }
        }
    }
    Ok(sessions)
}
