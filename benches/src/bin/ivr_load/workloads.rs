//! The measured workloads and their bare-engine twins.

use std::time::{Duration, Instant};

use herald_ivr::{Outcome, SessionConfig, TransferOutcome};

use crate::engine_floor::{self, Engine, SharedRuntime};
use crate::memory::{self, Footprint};
use crate::platform::{Documents, Session, Stop};

/// The shipped application, as the server would fetch it.
const DISCLOSURE: &str = include_str!("../../../../dialplans/disclosure.vxml");
const DISCLOSURE_URI: &str = "file:///etc/herald/dialplans/disclosure.vxml";
const LOOP_URI: &str = "http://bench.invalid/loop.vxml";

#[allow(clippy::disallowed_methods)] // The origin of each session's virtual clock.
fn origin() -> Instant {
    Instant::now()
}

/// The pure-interpretation document: one block that runs 6 elements per iteration and jumps
/// back to itself until the counter reaches `iterations`; `<exit>` returns the sum.
fn loop_document(iterations: u32) -> String {
    format!(
        r#"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <form id="loop">
    <var name="i" expr="0"/>
    <var name="sum" expr="0"/>
    <block name="work">
      <var name="x" expr="i * 2"/>
      <assign name="sum" expr="sum + x"/>
      <assign name="i" expr="i + 1"/>
      <if cond="i &lt; {iterations}">
        <clear namelist="work"/>
        <goto nextitem="work"/>
      </if>
      <exit expr="sum"/>
    </block>
  </form>
</vxml>"#
    )
}

/// The loop benchmark.
pub struct Loop {
    docs: Documents,
    iterations: u32,
    expected: String,
}

impl Loop {
    /// Evaluations the interpreter makes per iteration (counted with a breakpoint on
    /// `JS_Eval`, see docs/benchmarks.md), and the programs the baseline evaluates instead:
    /// the same operations, one for one, on plain globals without VoiceXML's scope chain.
    pub const EVALS_PER_ITERATION: usize = 8;
    const ITERATION: [&str; 8] = [
        // (The visit itself, resetting scopes and setting the item variable, goes through the
        // engine's API and evaluates nothing.)
        // <var name="x" expr="i * 2"/>
        "x = (i * 2)",
        // <assign name="sum" expr="sum + x"/>: declared?, then assigned.
        "'sum' in globalThis",
        "sum = (sum + x)",
        // <assign name="i" expr="i + 1"/>
        "'i' in globalThis",
        "i = (i + 1)",
        // <if cond="i < N">
        "!!(i < 1000)",
        // <clear namelist="work"/>: declared?, then undefined.
        "'work' in globalThis",
        "work = undefined",
    ];
    /// Evaluations outside the iterations: the engine's prelude, the session, the document and
    /// dialog scopes, the exit value (the last iteration's missing `<clear>` makes up for the
    /// first visit's).
    const SETUP_EVALS: usize = 5;

    pub fn new(iterations: u32) -> Result<Self, String> {
        let text = loop_document(iterations);
        let n = u64::from(iterations);
        Ok(Self {
            docs: Documents::parse(&[(LOOP_URI, &text)])?,
            iterations,
            expected: (n * n.saturating_sub(1)).to_string(),
        })
    }

    /// Elements executed per session: 6 per iteration, 5 in the last (no clear/goto, exit).
    pub fn elements(&self) -> usize {
        6 * self.iterations as usize - 1
    }

    pub fn evals(&self) -> usize {
        Self::EVALS_PER_ITERATION * self.iterations as usize + Self::SETUP_EVALS
    }

    /// One session from `Interpreter::new` to its exit; the time of its one turn, in ns.
    pub fn session(&self) -> Result<u64, String> {
        let config = SessionConfig {
            max_steps: self.iterations.saturating_mul(20).saturating_add(1_000),
            ..SessionConfig::default()
        };
        let mut session = Session::start(config, LOOP_URI, origin())?;
        let started = Instant::now();
        let stop = session.drive(&self.docs, &mut &[][..], &TransferOutcome::Busy);
        let turn = started.elapsed();
        match stop {
            Stop::Finished(Outcome::Exit { value }) if value == self.expected => Ok(nanos(turn)),
            other => Err(format!("loop session ended with {other:?}")),
        }
    }

    /// Seconds a bare engine per session takes for the same number of evaluations.
    pub fn bare(&self, sessions: usize) -> Result<f64, String> {
        let started = Instant::now();
        for _ in 0..sessions {
            let engine = Engine::new()?;
            engine.eval("var i = 0, sum = 0, x, n, v, work;")?;
            for _ in 1..Self::SETUP_EVALS {
                engine.eval("n = {}")?;
            }
            engine_floor::eval_all(&engine, &Self::ITERATION, self.iterations as usize)?;
        }
        Ok(started.elapsed().as_secs_f64())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The session variables a route gives the disclosure application.
fn disclosure_config(language: Option<&str>) -> SessionConfig {
    SessionConfig {
        language: language.map(str::to_owned),
        session: vec![
            ("herald.languages".into(), "en de fr".into()),
            ("herald.recording".into(), "ask".into()),
            ("herald.agent_group".into(), "sales".into()),
        ],
        ..SessionConfig::default()
    }
}

/// A whole call through the disclosure application.
pub struct Call {
    docs: Documents,
}

impl Call {
    /// Evaluations per call (counted with a breakpoint on `JS_Eval`, see docs/benchmarks.md).
    pub const EVALS: usize = 24;
    /// What the baseline evaluates per call instead, cycled: plain versions of the kinds of
    /// program the interpreter runs for this call (about a third are scope resets, a third
    /// declarations and assignments, the rest conditions and strings).
    const PROGRAMS: [&str; 6] = [
        "n = {}",
        "lang = undefined",
        "!!(lang === undefined)",
        "objection = ('optout')",
        "n = {}",
        "String('queue:' + agent_group)",
    ];

    pub fn new() -> Result<Self, String> {
        Ok(Self {
            docs: Documents::parse(&[(DISCLOSURE_URI, DISCLOSURE)])?,
        })
    }

    /// One call; each turn's time (ns) is appended to `turns`.
    pub fn call(&self, turns: &mut Vec<u64>) -> Result<(), String> {
        let mut session = Session::start(disclosure_config(None), DISCLOSURE_URI, origin())?;
        session.record_turns = true;
        let stop = session.drive(&self.docs, &mut &['2', '9'][..], &TransferOutcome::NoAnswer);
        turns.extend(session.turn_times.iter().map(|d| nanos(*d)));
        match stop {
            Stop::Finished(Outcome::Exit { value }) if value == "\"no-agents\"" => Ok(()),
            other => Err(format!("call ended with {other:?}")),
        }
    }

    /// Seconds `calls` fresh bare engines take, each doing a call's number of evaluations.
    pub fn bare(&self, calls: usize) -> Result<f64, String> {
        let started = Instant::now();
        for _ in 0..calls {
            let engine = Engine::new()?;
            engine.eval("var n, lang, objection, call, policy = 'ask', agent_group = 'sales';")?;
            for program in Self::PROGRAMS.iter().cycle().take(Self::EVALS - 1) {
                engine.eval(program)?;
            }
        }
        Ok(started.elapsed().as_secs_f64())
    }
}

/// The state live sessions are held in for the memory measurement.
#[derive(Clone, Copy)]
pub enum Waiting {
    /// No language from the dialplan: listening in the language menu.
    Menu,
    /// Language set: past the welcome, listening in the disclosure field.
    Disclosure,
}

impl Waiting {
    pub fn hold(self, sessions: usize) -> Result<Footprint, String> {
        let docs = Documents::parse(&[(DISCLOSURE_URI, DISCLOSURE)])?;
        let language = match self {
            Waiting::Menu => None,
            Waiting::Disclosure => Some("de"),
        };
        let start = || -> Result<Session, String> {
            let mut session =
                Session::start(disclosure_config(language), DISCLOSURE_URI, origin())?;
            match session.drive(&docs, &mut &[][..], &TransferOutcome::Busy) {
                Stop::Listening => Ok(session),
                other => Err(format!("session did not wait for the caller: {other:?}")),
            }
        };
        // One session first, so that one-time allocations are not counted per session.
        drop(start()?);
        let (rss_before, rust_before) = (memory::rss()?, memory::rust_heap());
        // Each session's slot counts: a server holds its sessions in a table, too.
        let mut held = Vec::with_capacity(sessions);
        for _ in 0..sessions {
            held.push(start()?);
        }
        let (rss_after, rust_after) = (memory::rss()?, memory::rust_heap());
        let script = held
            .iter()
            .map(|s| s.interpreter.script_memory() as u64)
            .sum();
        // Exiting frees them; dropping 10,000 runtimes one by one would only cost time.
        std::mem::forget(held);
        Ok(Footprint {
            count: sessions,
            rss_before,
            rss_after,
            rust_before,
            rust_after,
            script,
        })
    }
}

/// `sessions` bare runtime and context pairs, held.
pub fn bare_engines(sessions: usize) -> Result<Footprint, String> {
    drop(Engine::new()?);
    let (rss_before, rust_before) = (memory::rss()?, memory::rust_heap());
    // Each session's slot counts: a server holds its sessions in a table, too.
    let mut held = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        held.push(Engine::new()?);
    }
    let (rss_after, rust_after) = (memory::rss()?, memory::rust_heap());
    let script = held.iter().map(|e| e.memory_used() as u64).sum();
    std::mem::forget(held);
    Ok(Footprint {
        count: sessions,
        rss_before,
        rss_after,
        rust_before,
        rust_after,
        script,
    })
}

/// `sessions` bare contexts in one shared runtime, held (a reference, not the baseline).
pub fn shared_runtime_contexts(sessions: usize) -> Result<Footprint, String> {
    let mut shared = SharedRuntime::new()?;
    shared.add_context()?;
    let script_before = shared.memory_used() as u64;
    let (rss_before, rust_before) = (memory::rss()?, memory::rust_heap());
    for _ in 0..sessions {
        shared.add_context()?;
    }
    let (rss_after, rust_after) = (memory::rss()?, memory::rust_heap());
    let script = (shared.memory_used() as u64).saturating_sub(script_before);
    std::mem::forget(shared);
    Ok(Footprint {
        count: sessions,
        rss_before,
        rss_after,
        rust_before,
        rust_after,
        script,
    })
}
