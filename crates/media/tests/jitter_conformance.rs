//! Drives the jitter buffer with pjmedia's `Jbtest.dat` sessions and compares its figures with
//! the bounds written there (pjmedia's own results: a benchmark, not the truth).
//!
//! # Mapping of the script onto the buffer
//!
//! pjmedia's driver (`pjmedia/src/test/jbuf_test.c`) has no clock: it calls put and get in the
//! order of the script. Here time is virtual: `G` is a `get` at the current instant, after which
//! the clock advances by one ptime (20 ms); every `P` (and `D`, `O`) between two `G`s is a `put`
//! at the instant of the following `G`, before it. Sequence numbers start at 1 as in pjmedia;
//! the RTP timestamp is the sequence number times 160 (8 kHz, 20 ms), so `L` (skip one), `J`
//! (jump by 20) and `R` (restart at 1) move both. `D` puts the previous sequence number again;
//! `O` puts one 10 to 49 behind (pjmedia uses `rand()`; here a seeded generator). The buffer has
//! 50 slots; pjmedia's "prefetch N" (frames held when playout starts) maps to a delay of N - 1
//! frames; `%adaptive init min max` gives initial, min and max, `%fixed N` a fixed delay. The
//! other settings are the defaults (2 s window, 1 s shrink span, 200 ms between adjustments).
//!
//! # How a figure is compared with a bound
//!
//! burst → `burst_avg`, discard → `discarded`, lost → `lost`, empty → `empty`, delay →
//! `delay_avg`, delay_min → `delay_min`, all sampled as pjmedia samples them (see
//! `JitterStats`). The bounds are in pjmedia's integer units, so the two means are converted as
//! its driver converts its own before comparing: the burst mean rounded to a whole frame
//! (`pj_math_stat` keeps a rounded mean), the delay mean rounded to whole milliseconds and then
//! divided by the ptime in integer arithmetic. Without that conversion pjmedia itself exceeds
//! three of its bounds (its exact delay means below are 4.65, 8.75 and 4.15 frames against
//! bounds of 4, 8 and 4). The table printed by the test shows our exact means next to the
//! converted ones.
//!
//! # pjmedia's own figures
//!
//! Measured by building pjproject @ b7317ffc (`jbuf.c` and the `jbuf_test.c` driver) against
//! the same file; delay means in frames (its milliseconds / 20):
//!
//! | session | burst | discard | lost | empty | delay | delay_min |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | Ideal condition | 1 | 0 | 0 | 0 | 1.00 | 1 |
//! | DTX | 1 | 0 | 0 | 20 | 1.00 | 1 |
//! | Regular burst | 3 | 0 | 0 | 0 | 3.00 | 3 |
//! | Random burst (no drift) | 2 | 0 | 0 | 3 | 4.65 | 1 |
//! | Random burst (drift, PUT > GET) | 2 | 0 | 62 | 2 | 8.75 | 2 |
//! | Random burst (drift, PUT < GET) | 2 | 0 | 0 | 68 | 4.15 | 1 |
//! | Packet lost | 1 | 0 | 4 | 3 | 1.15 | 1 |
//! | Sequence restart | 1 | 0 | 0 | 0 | 1.00 | 1 |
//! | Duplicated frames | 1 | 40 | 0 | 0 | 1.00 | 1 |
//! | Late frames | 1 | 4 | 0 | 4 | 1.00 | 1 |
//! | PUT burst at the beginning | 1 | 1 | 49 | 0 | 17.70 | 1 |
//! | Fixed 5, two empty events | 1 | 0 | 0 | 10 | 5.00 | 5 |
//! | Fixed 5, random burst | 2 | 0 | 0 | 4 | 5.65 | 4 |
//! | Fixed 10, PUT burst | 1 | 1 | 0 | 0 | 50.00 | 50 |
//! | Large PUT burst, spikes | 11 | 169 | 32 | 1 | 14.15 | 10 |
//!
//! # Where our figures differ from pjmedia's, and why
//!
//! | session | difference | why |
//! | --- | --- | --- |
//! | drift PUT > GET, PUT burst, Large | pjmedia counts most dropped frames as lost, we count them as discarded | pjmedia marks a frame dropped for shrinking as discarded and then hands out the frame after it as missing (its ticket #1188), so the drop shows in `lost`; we drop a frame outright and count it in `discarded` (`shrunk`, `overflow`). The sums discard + lost agree (62/65, 50/50, 201/200) |
//! | Packet lost | lost 7 where pjmedia counts 4 | pjmedia forgets a gap that falls while it is empty (it re-anchors on the next packet silently); we count every frame that never arrived |
//! | Late frames | discard 4, lost 4 where pjmedia has 4 and 0 | same reason |
//! | drift PUT > GET | delay 7.5 where pjmedia has 8.75 | we measure the sender's clock skew and shed excess at its pace |
//! | PUT burst at the beginning | delay mean 22.6 where pjmedia has 17.7 (no bound) | we wait one estimation window (2 s) before shrinking and then drop at most one frame per 200 ms; pjmedia starts discarding at once |
//!
//! Bounds we exceed even after the conversion are listed in `EXCEEDED` with the reason; the
//! assertion stays strict for every other one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herald_media::jitter::{JitterBuffer, JitterConfig, JitterMode, JitterStats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[allow(
    clippy::disallowed_methods,
    reason = "tests need one arbitrary base instant; virtual time is offsets from it"
)]
fn epoch() -> Instant {
    Instant::now()
}

const PTIME: Duration = Duration::from_millis(20);
const TS_PER_FRAME: u64 = 160;

/// Bounds we knowingly exceed: (session title prefix, bound name, why). Empty when we meet all.
const EXCEEDED: &[(&str, &str, &str)] = &[];

fn data_file() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/jitter-buffer/Jbtest.dat");
    path.exists().then_some(path)
}

/// One bound: `!name value`.
#[derive(Debug, Clone)]
struct Bound {
    name: String,
    value: f64,
}

#[derive(Debug, Clone)]
struct Session {
    title: String,
    mode: JitterMode,
    bounds: Vec<Bound>,
    events: String,
}

fn prefetch(frames: u32) -> Duration {
    PTIME * frames.saturating_sub(1)
}

fn parse_mode(line: &str) -> JitterMode {
    let mut words = line.split_whitespace();
    let kind = words.next().unwrap_or("adaptive");
    let mut numbers = words.map(|w| w.parse::<u32>().expect("prefetch is a number"));
    let mut next = || numbers.next().unwrap_or(0);
    if kind == "fixed" {
        return JitterMode::Fixed {
            delay: prefetch(next()),
        };
    }
    let (initial, min, max) = (next(), next(), next());
    JitterMode::Adaptive {
        initial: prefetch(initial),
        min: prefetch(min),
        max: prefetch(max),
    }
}

fn parse_bound(line: &str) -> Bound {
    let mut words = line.split_whitespace();
    let name = words.next().expect("bound name").to_string();
    let value = words
        .next()
        .and_then(|w| w.parse().ok())
        .expect("bound value");
    Bound { name, value }
}

fn default_mode() -> JitterMode {
    JitterMode::Adaptive {
        initial: prefetch(0),
        min: prefetch(0),
        max: prefetch(10),
    }
}

/// Splits the file into sessions (the format is described at its top).
fn parse(text: &str) -> Vec<Session> {
    let mut sessions = Vec::new();
    let mut current: Option<Session> = None;
    for line in text.lines() {
        let Some(first) = line.chars().next() else {
            continue;
        };
        let rest = &line[first.len_utf8()..];
        match first {
            '#' => {}
            '=' => match current.as_mut().filter(|s| s.events.is_empty()) {
                Some(session) => session.title = format!("{} {}", session.title, rest.trim()),
                None => {
                    current = Some(Session {
                        title: rest.trim().to_string(),
                        mode: default_mode(),
                        bounds: Vec::new(),
                        events: String::new(),
                    })
                }
            },
            '%' => current.as_mut().expect("session").mode = parse_mode(rest),
            '!' => current
                .as_mut()
                .expect("session")
                .bounds
                .push(parse_bound(rest)),
            _ => {
                let session = current.as_mut().expect("session");
                let data = line.split('#').next().unwrap_or("");
                session
                    .events
                    .extend(data.chars().filter(|c| !c.is_whitespace()));
                if session.events.contains('.') {
                    sessions.extend(current.take());
                }
            }
        }
    }
    sessions
}

/// Plays one session's script against a fresh buffer.
fn run(session: &Session) -> JitterStats {
    let config = JitterConfig {
        mode: session.mode,
        frame_duration: PTIME,
        clock_rate: 8000,
        capacity: 50,
        ..JitterConfig::default()
    };
    let mut jb = JitterBuffer::new(config).expect("valid config");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut now = epoch();
    let mut seq: u64 = 1;
    let put = |jb: &mut JitterBuffer, now: Instant, s: u64| {
        jb.put(now, s, s * TS_PER_FRAME, &[0]);
    };
    for event in session.events.chars() {
        match event {
            'G' => {
                jb.get(now);
                now += PTIME;
            }
            'P' => {
                put(&mut jb, now, seq);
                seq += 1;
            }
            'L' => seq += 1,
            'R' => seq = 1,
            'J' => seq += 20,
            'D' => put(&mut jb, now, seq.saturating_sub(1)),
            'O' => {
                let back = 10 + rng.random_range(0..40u64);
                put(&mut jb, now, seq.saturating_sub(back));
            }
            '.' => break,
            other => panic!("unknown event {other:?} in {}", session.title),
        }
    }
    jb.stats()
}

/// Our figure for a bound, exact.
fn figure(stats: &JitterStats, bound: &str) -> f64 {
    match bound {
        "burst" => stats.burst_avg,
        "discard" => stats.discarded as f64,
        "lost" => stats.lost as f64,
        "empty" => stats.empty as f64,
        "delay" => stats.delay_avg,
        "delay_min" => f64::from(stats.delay_min),
        other => panic!("unknown bound {other}"),
    }
}

/// Our figure converted to pjmedia's integer units, as its driver compares its own.
fn compared(stats: &JitterStats, bound: &str) -> f64 {
    let ptime_ms = PTIME.as_millis() as f64;
    match bound {
        "burst" => stats.burst_avg.round(),
        "delay" => ((stats.delay_avg * ptime_ms).round() / ptime_ms).floor(),
        other => figure(stats, other),
    }
}

fn excused(title: &str, bound: &str) -> bool {
    EXCEEDED
        .iter()
        .any(|(t, b, _)| title.starts_with(t) && *b == bound)
}

#[test]
fn jbtest_sessions_meet_pjmedia_bounds() {
    let Some(path) = data_file() else {
        eprintln!("skipped: ../shared/conformance/jitter-buffer/Jbtest.dat not found");
        return;
    };
    let sessions = parse(&std::fs::read_to_string(path).expect("readable Jbtest.dat"));
    assert_eq!(sessions.len(), 15, "Jbtest.dat holds 15 sessions");
    let mut failures = Vec::new();
    println!(
        "{:<44} {:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
        "session: ours exact(compared)/bound",
        "burst",
        "discard",
        "lost",
        "empty",
        "delay",
        "delay_min"
    );
    for session in &sessions {
        let stats = run(session);
        let mut row = format!("{:<44}", truncate(&session.title, 44));
        for name in ["burst", "discard", "lost", "empty", "delay", "delay_min"] {
            let exact = figure(&stats, name);
            let cell = match session.bounds.iter().find(|b| b.name == name) {
                Some(bound) => {
                    let ours = compared(&stats, name);
                    let ok = ours <= bound.value;
                    if !ok && !excused(&session.title, name) {
                        failures.push(format!(
                            "{}: {name} {ours} > {}",
                            session.title, bound.value
                        ));
                    }
                    format!(
                        "{exact:.2}({ours})/{}{}",
                        bound.value,
                        if ok { " " } else { "!" }
                    )
                }
                None => format!("{exact:.2}/-  "),
            };
            row.push_str(&format!(" {cell:>15}"));
        }
        println!("{row}");
    }
    for (title, bound, why) in EXCEEDED {
        println!("exceeded on purpose: {title} / {bound}: {why}");
    }
    assert!(
        failures.is_empty(),
        "bounds exceeded:\n{}",
        failures.join("\n")
    );
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}
