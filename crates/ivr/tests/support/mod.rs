//! An in-memory platform for driving an [`Interpreter`] in virtual time.
//!
//! Documents are served from a map of URI to VoiceXML text, prompts "play" instantly, keys come
//! from a script, and the clock only moves when the script says so or when the interpreter is
//! waiting for a deadline ([`Interpreter::poll_timeout`]) and the script has nothing left to
//! say. Nothing sleeps and nothing reads the wall clock except for the arbitrary origin of the
//! virtual clock. Every run is bounded, so a bug in the interpreter fails a test instead of
//! hanging it.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_ivr::{
    Document, FetchError, FetchKind, FetchRequest, Fetched, Interpreter, Key, Outcome, Output,
    PathEvent, Prompt, PromptItem, RecordOutcome, SessionConfig, TransferOutcome,
};

/// The URI most tests start from.
pub const MAIN: &str = "http://ivr.test/main.vxml";

/// Loop iterations a run may take before the harness gives up on it.
const MAX_ITERATIONS: usize = 5_000;

/// Virtual time that passes between two scripted keys.
const KEY_GAP: Duration = Duration::from_millis(100);

/// Wraps a document body in `<vxml>` with the VoiceXML and Herald namespaces.
pub fn vxml(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xmlns:herald="urn:herald:ivr">
{body}
</vxml>"#
    )
}

/// Same as [`vxml`], for a leaf document of the application rooted at `root`.
pub fn vxml_leaf(root: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" application="{root}">
{body}
</vxml>"#
    )
}

/// One thing the simulated caller (or the clock) does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Press a key once the prompts have finished playing.
    Key(char),
    /// Press a key while prompts are still playing (barge-in, or type-ahead).
    Barge(char),
    /// Stay silent until the interpreter's next deadline.
    Silence,
    /// Hang up.
    Hangup,
}

/// Keys pressed after the prompts, one [`Step::Key`] per character.
pub fn keys(text: &str) -> Vec<Step> {
    text.chars().map(Step::Key).collect()
}

/// Keys pressed while prompts play.
pub fn barge(text: &str) -> Vec<Step> {
    text.chars().map(Step::Barge).collect()
}

/// The platform: documents, scripted caller, and the answers to transfers and recordings.
pub struct Platform {
    resources: HashMap<String, String>,
    script: VecDeque<Step>,
    pub config: SessionConfig,
    pub transfer: TransferOutcome,
    pub record: RecordOutcome,
}

impl Platform {
    /// A platform serving `resources` (URI and text: VoiceXML, XML data, scripts, grammars).
    pub fn new(resources: &[(&str, &str)]) -> Self {
        Self {
            resources: resources
                .iter()
                .map(|(uri, text)| ((*uri).to_owned(), (*text).to_owned()))
                .collect(),
            script: VecDeque::new(),
            config: SessionConfig::default(),
            transfer: TransferOutcome::Busy,
            record: RecordOutcome::Unsupported,
        }
    }

    /// A platform serving one document at [`MAIN`].
    pub fn main(text: &str) -> Self {
        Self::new(&[(MAIN, text)])
    }

    /// Appends caller steps.
    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.script.extend(steps);
        self
    }

    /// Appends keys pressed after the prompts.
    pub fn keys(self, text: &str) -> Self {
        self.steps(keys(text))
    }

    pub fn with_config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs a session from [`MAIN`].
    pub fn run(self) -> Run {
        self.run_from(MAIN)
    }

    /// Runs a session from `uri` until it finishes, gets stuck, or exceeds the bound.
    pub fn run_from(mut self, uri: &str) -> Run {
        let mut run = Run::default();
        let mut interpreter = match Interpreter::new(self.config.clone(), uri) {
            Ok(i) => i,
            Err(e) => panic!("interpreter did not start: {e}"),
        };
        let clock = Clock::new();
        let mut now = clock.origin;
        let mut playing = false;
        for _ in 0..MAX_ITERATIONS {
            while let Some(output) = interpreter.poll_output() {
                run.outputs.push(output.clone());
                match output {
                    Output::Fetch(request) => {
                        let answer = self.answer(&request);
                        interpreter.handle_fetched(now, request.id, answer);
                    }
                    Output::Play(_) => playing = true,
                    Output::StopPrompts => playing = false,
                    Output::Transfer(_) => {
                        interpreter.handle_transfer(now, self.transfer.clone(), Duration::ZERO)
                    }
                    Output::Record(_) => interpreter.handle_record(now, self.record.clone()),
                    Output::Finished(outcome) => run.outcome = Some(outcome),
                    _ => {}
                }
            }
            if run.outcome.is_some() {
                assert!(
                    interpreter.is_finished(),
                    "Finished came out but the interpreter is not finished"
                );
                run.elapsed = now - clock.origin;
                run.unused = self.script.into_iter().collect();
                return run;
            }
            if playing {
                if let Some(Step::Barge(c)) = self.script.front().cloned() {
                    self.script.pop_front();
                    now += KEY_GAP;
                    interpreter.handle_key(now, key(c));
                } else {
                    playing = false;
                    interpreter.handle_prompts_done(now);
                }
                continue;
            }
            match self.script.pop_front() {
                Some(Step::Key(c) | Step::Barge(c)) => {
                    now += KEY_GAP;
                    interpreter.handle_key(now, key(c));
                }
                Some(Step::Hangup) => interpreter.handle_hangup(now),
                Some(Step::Silence) | None => match interpreter.poll_timeout() {
                    Some(deadline) => {
                        now = now.max(deadline);
                        interpreter.handle_timeout(now);
                    }
                    None => {
                        run.stuck = true;
                        break;
                    }
                },
            }
        }
        run.elapsed = now - clock.origin;
        run.unused = self.script.into_iter().collect();
        if !run.stuck {
            run.bounded_out = true;
        }
        run
    }

    fn answer(&self, request: &FetchRequest) -> Result<Fetched, FetchError> {
        let Some(text) = self.resources.get(&request.uri) else {
            return Err(FetchError::Status(404));
        };
        match request.kind {
            FetchKind::Document => match Document::parse(&request.uri, text) {
                Ok(doc) => Ok(Fetched::Document(Arc::new(doc))),
                Err(e) => Err(FetchError::Failed(e.to_string())),
            },
            _ => Ok(Fetched::Text(text.clone())),
        }
    }
}

fn key(c: char) -> Key {
    Key::from_char(c).unwrap_or_else(|| panic!("{c:?} is not a DTMF key"))
}

/// The origin of virtual time: an arbitrary instant; only offsets from it matter.
struct Clock {
    origin: Instant,
}

impl Clock {
    #[allow(clippy::disallowed_methods)] // An origin for virtual time; nothing measures it.
    fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

/// What a session did.
#[derive(Debug, Default)]
pub struct Run {
    /// Every output, in order.
    pub outputs: Vec<Output>,
    pub outcome: Option<Outcome>,
    /// The interpreter waited for something the script could not give.
    pub stuck: bool,
    /// The run hit the harness's iteration bound.
    pub bounded_out: bool,
    /// Virtual time the session took.
    pub elapsed: Duration,
    /// Steps the session ended before using.
    pub unused: Vec<Step>,
}

impl Run {
    /// The outcome; panics with the transcript if the session did not finish.
    pub fn outcome(&self) -> &Outcome {
        match &self.outcome {
            Some(o) => o,
            None => panic!(
                "session did not finish (stuck: {}, bounded out: {})\n{}",
                self.stuck,
                self.bounded_out,
                self.transcript()
            ),
        }
    }

    /// The `<exit>` value (JSON text); panics with the transcript on any other outcome.
    pub fn exit_value(&self) -> &str {
        match self.outcome() {
            Outcome::Exit { value } => value,
            other => panic!("expected an exit, got {other:?}\n{}", self.transcript()),
        }
    }

    /// The error event of an `Outcome::Error`; panics with the transcript otherwise.
    pub fn error_event(&self) -> &str {
        match self.outcome() {
            Outcome::Error { event, .. } => event,
            other => panic!("expected an error, got {other:?}\n{}", self.transcript()),
        }
    }

    /// Every output, one per line.
    pub fn transcript(&self) -> String {
        self.outputs.iter().map(|o| format!("  {o:?}\n")).collect()
    }

    pub fn prompts(&self) -> Vec<&Prompt> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Play(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The text of each queued prompt (audio contributes its fallback).
    pub fn spoken(&self) -> Vec<String> {
        self.prompts().into_iter().map(prompt_text).collect()
    }

    /// `<log>` texts, without labels.
    pub fn logs(&self) -> Vec<String> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Log { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// `<log>` texts of a label.
    pub fn logs_labelled(&self, label: &str) -> Vec<String> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Log {
                    label: Some(l),
                    text,
                } if l == label => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn paths(&self) -> Vec<&PathEvent> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Path(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    pub fn fetches(&self) -> Vec<&FetchRequest> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Fetch(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// How many outputs satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&Output) -> bool) -> usize {
        self.outputs.iter().filter(|o| pred(o)).count()
    }

    /// The index of the first output satisfying `pred`.
    pub fn position(&self, pred: impl Fn(&Output) -> bool) -> Option<usize> {
        self.outputs.iter().position(pred)
    }
}

/// A prompt's text: text items and audio fallbacks, joined by spaces.
pub fn prompt_text(prompt: &Prompt) -> String {
    prompt
        .items
        .iter()
        .filter_map(|i| match i {
            PromptItem::Text(t) => Some(t.clone()),
            PromptItem::Audio { fallback, .. } => Some(fallback.clone()),
            _ => None,
        })
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
