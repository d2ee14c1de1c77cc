//! IVR interpreter load: how fast `herald_ivr::Interpreter` runs VoiceXML and how much a live
//! session costs, each against QuickJS alone measured in the same run.
//!
//! ```text
//! cargo run --release -p herald-benches --bin ivr_load -- --sessions 10000
//! ```
//!
//! Three measurements, one table each (method and results: `docs/benchmarks.md`):
//! - **steps**: a document whose work is pure interpretation, a block that loops
//!   `--iterations` times through `<var>`, `<assign>`, `<if>`, `<clear>` and
//!   `<goto nextitem>` in one turn. Against the same number of ECMAScript evaluations of the
//!   document's own expressions on a bare `rquickjs` context.
//! - **call**: the shipped `dialplans/disclosure.vxml`, one whole call per session: language
//!   menu (key 2), welcome, disclosure (key 9: opt-out), transfer (no answer), "no agents",
//!   disconnect, exit. Calls per second on one core and the latency of each turn (each
//!   `handle_*` call). Against a fresh bare runtime and context per call doing the same number
//!   of evaluations.
//! - **memory**: `--sessions` sessions of the disclosure application held in their waiting
//!   state (listening in the language menu; or, with a language set, in the disclosure field),
//!   each set measured in a fresh child process: VmRSS growth, Rust heap growth (a counting
//!   allocator) and the sum of `Interpreter::script_memory`. Against as many bare QuickJS
//!   runtime and context pairs.
//!
//! Bounded: the timed phases run `--rounds` rounds of at most `--seconds` each, every session
//! is driven for a bounded number of turns, and each child process has a deadline.

mod engine_floor;
mod memory;
mod platform;
mod workloads;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use memory::Footprint;
use workloads::{Call, Loop, Waiting};

#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

/// The issue's target: 10,000 concurrent sessions' interpreter state under 1 GiB.
const TARGET_PER_SESSION: f64 = (1u64 << 30) as f64 / 10_000.0;

/// How long a memory child process may take.
const CHILD_DEADLINE: Duration = Duration::from_secs(300);

struct Args {
    sessions: usize,
    iterations: u32,
    seconds: f64,
    rounds: usize,
    only: Option<String>,
    child: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        sessions: 10_000,
        iterations: 1_000,
        seconds: 3.0,
        rounds: 3,
        only: None,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{flag}: {what}");
        match flag.as_str() {
            "--sessions" => args.sessions = value.parse().map_err(|_| number("a count"))?,
            "--iterations" => args.iterations = value.parse().map_err(|_| number("a count"))?,
            "--seconds" => args.seconds = value.parse().map_err(|_| number("seconds"))?,
            "--rounds" => args.rounds = value.parse().map_err(|_| number("a count"))?,
            "--only" => args.only = Some(value),
            "--child" => args.child = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(1..=100_000).contains(&args.sessions) || !(1..=1_000_000).contains(&args.iterations) {
        return Err("--sessions 1..=100000, --iterations 1..=1000000".into());
    }
    if !(0.1..=60.0).contains(&args.seconds) || !(1..=10).contains(&args.rounds) {
        return Err("--seconds 0.1..=60, --rounds 1..=10".into());
    }
    Ok(args)
}

fn main() {
    let result = args().and_then(|args| match &args.child {
        Some(what) => child(what, &args),
        None => parent(&args),
    });
    if let Err(e) = result {
        eprintln!("ivr_load: {e}");
        std::process::exit(1);
    }
}

fn parent(args: &Args) -> Result<(), String> {
    let run = |name: &str| args.only.as_deref().is_none_or(|o| o == name);
    if run("steps") {
        steps(args)?;
    }
    if run("call") {
        call(args)?;
    }
    if run("memory") {
        memory_table(args.sessions)?;
    }
    Ok(())
}

/// Median of a small sample.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The value at quantile `q` of sorted nanoseconds, in microseconds.
fn quantile_us(sorted_ns: &[u64], q: f64) -> f64 {
    let last = sorted_ns.len().saturating_sub(1);
    let index = ((last as f64) * q).round() as usize;
    sorted_ns.get(index).copied().unwrap_or(0) as f64 / 1_000.0
}

fn steps(args: &Args) -> Result<(), String> {
    let work = Loop::new(args.iterations)?;
    let budget = Duration::from_secs_f64(args.seconds);
    println!(
        "\n## steps: a block looping {} times (6 elements and {} evaluations per iteration)\n",
        args.iterations,
        Loop::EVALS_PER_ITERATION
    );
    println!(
        "| round | sessions | elements/s | evaluations/s | µs per iteration | turn p50 µs | turn p99 µs | bare engine, same evaluations, s | interpreter s | ratio |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        // Interpreter and baseline alternate session by session, so both see the same
        // machine.
        let (mut turns, mut interpreter, mut bare) = (Vec::new(), 0.0, 0.0);
        let started = Instant::now();
        while started.elapsed() < budget && turns.len() < 100_000 {
            let session = Instant::now();
            turns.push(work.session()?);
            interpreter += session.elapsed().as_secs_f64();
            bare += work.bare(1)?;
        }
        let sessions = turns.len();
        turns.sort_unstable();
        let elements = work.elements() as f64 * sessions as f64;
        let evals = work.evals() as f64 * sessions as f64;
        ratios.push(interpreter / bare);
        println!(
            "| {round} | {sessions} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} | {bare:.3} | {interpreter:.3} | {:.2} |",
            elements / interpreter,
            evals / interpreter,
            interpreter * 1e6 / (sessions as f64 * f64::from(args.iterations)),
            quantile_us(&turns, 0.5),
            quantile_us(&turns, 0.99),
            interpreter / bare
        );
    }
    println!(
        "\nmedian ratio interpreter / bare engine: {:.2}",
        median(ratios)
    );
    Ok(())
}

fn call(args: &Args) -> Result<(), String> {
    let work = Call::new()?;
    let budget = Duration::from_secs_f64(args.seconds);
    println!(
        "\n## call: disclosure.vxml, menu 2, disclosure 9 (opt-out), transfer no answer, disconnect ({} evaluations per call)\n",
        Call::EVALS
    );
    println!(
        "| round | calls | calls/s | µs per call | turns per call | turn p50 µs | turn p99 µs | turn max µs | bare engine µs per call | ratio |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        let (mut turns, mut calls, mut interpreter, mut bare) = (Vec::new(), 0usize, 0.0, 0.0);
        let started = Instant::now();
        while started.elapsed() < budget && calls < 100_000 {
            let call = Instant::now();
            work.call(&mut turns)?;
            interpreter += call.elapsed().as_secs_f64();
            bare += work.bare(1)?;
            calls += 1;
        }
        turns.sort_unstable();
        ratios.push(interpreter / bare);
        println!(
            "| {round} | {calls} | {:.0} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
            calls as f64 / interpreter,
            interpreter * 1e6 / calls as f64,
            turns.len() / calls.max(1),
            quantile_us(&turns, 0.5),
            quantile_us(&turns, 0.99),
            quantile_us(&turns, 1.0),
            bare * 1e6 / calls as f64,
            interpreter / bare
        );
    }
    println!(
        "\nmedian ratio interpreter / bare engine: {:.2}",
        median(ratios)
    );
    Ok(())
}

fn memory_table(sessions: usize) -> Result<(), String> {
    println!("\n## memory: {sessions} live sessions, each set in a fresh process\n");
    println!(
        "| what | RSS growth | per session | Rust heap per session | script heap per session | RSS per session / bare engine's |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let bare = spawn_child("bare", sessions)?;
    let mut worst: f64 = 0.0;
    for (what, label) in [
        ("bare", "bare QuickJS runtime + context"),
        ("menu", "disclosure.vxml, listening in the language menu"),
        (
            "disclosure",
            "disclosure.vxml, language set, listening in the disclosure",
        ),
        ("shared", "(reference) bare contexts sharing one runtime"),
    ] {
        let f = if what == "bare" {
            bare
        } else {
            spawn_child(what, sessions)?
        };
        if what == "menu" || what == "disclosure" {
            worst = worst.max(f.rss_per());
        }
        println!(
            "| {label} | {:.1} MiB | {:.1} KiB | {:.1} KiB | {:.1} KiB | {:.2} |",
            f.rss_after.saturating_sub(f.rss_before) as f64 / (1 << 20) as f64,
            f.rss_per() / 1024.0,
            f.rust_per() / 1024.0,
            f.script_per() / 1024.0,
            f.rss_per() / bare.rss_per()
        );
    }
    let projected = worst * 10_000.0 / (1u64 << 30) as f64;
    println!(
        "\ntarget: 10,000 sessions under 1 GiB ({:.1} KiB each): {} (worst case {:.1} KiB per session, {:.2} GiB for 10,000)",
        TARGET_PER_SESSION / 1024.0,
        if worst < TARGET_PER_SESSION {
            "met"
        } else {
            "missed"
        },
        worst / 1024.0,
        projected
    );
    Ok(())
}

/// Runs one memory measurement in a fresh process, so no allocator state carries over.
fn spawn_child(what: &str, sessions: usize) -> Result<Footprint, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--child", what, "--sessions", &sessions.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if started.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            return Err(format!("child {what} ran past {CHILD_DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    Footprint::from_output(&text).ok_or_else(|| format!("child {what} printed no footprint"))
}

/// A memory child: creates `--sessions` live things, prints their footprint. `loop` runs one
/// session of that workload and `call` `--sessions` calls, and nothing else (to count
/// evaluations under a debugger, or to profile).
fn child(what: &str, args: &Args) -> Result<(), String> {
    let sessions = args.sessions;
    let footprint = match what {
        "loop" => return Loop::new(args.iterations)?.session().map(|_| ()),
        "call" => {
            let work = Call::new()?;
            return (0..sessions).try_for_each(|_| work.call(&mut Vec::new()));
        }
        "bare" => workloads::bare_engines(sessions)?,
        "shared" => workloads::shared_runtime_contexts(sessions)?,
        "menu" => Waiting::Menu.hold(sessions)?,
        "disclosure" => Waiting::Disclosure.hold(sessions)?,
        other => return Err(format!("unknown child {other}")),
    };
    println!("{}", footprint.to_line());
    Ok(())
}
