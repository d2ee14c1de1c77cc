//! A minimal platform for driving [`Interpreter`] sessions as fast as they go: documents parsed
//! once and shared (as the server's document cache does), prompts that "play" at once, a
//! scripted caller, and a virtual clock that only moves when a key is pressed or a deadline is
//! waited out. Every drive is bounded by a count of platform turns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_ivr::{
    Document, FetchError, FetchKind, Fetched, Interpreter, Key, Outcome, Output, SessionConfig,
    TransferOutcome,
};

/// Platform turns (inputs handed to a session) before a drive gives up.
const MAX_TURNS: usize = 200;

/// Virtual time between a prompt finishing and the caller's key.
const KEY_GAP: Duration = Duration::from_millis(400);

/// Documents by URI, each parsed once.
pub struct Documents {
    by_uri: HashMap<String, Arc<Document>>,
}

impl Documents {
    pub fn parse(documents: &[(&str, &str)]) -> Result<Self, String> {
        let mut by_uri = HashMap::new();
        for (uri, text) in documents {
            let doc = Document::parse(uri, text).map_err(|e| format!("{uri}: {e}"))?;
            by_uri.insert((*uri).to_owned(), Arc::new(doc));
        }
        Ok(Self { by_uri })
    }

    fn answer(&self, uri: &str, kind: FetchKind) -> Result<Fetched, FetchError> {
        match (kind, self.by_uri.get(uri)) {
            (FetchKind::Document, Some(doc)) => Ok(Fetched::Document(doc.clone())),
            _ => Err(FetchError::Status(404)),
        }
    }
}

/// Where a drive stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The session finished.
    Finished(Outcome),
    /// Prompts done, listening for a key the script does not have.
    Listening,
    /// Out of turns, or waiting for something this platform never gives.
    Stuck(String),
}

/// One session and the state of its simulated call.
pub struct Session {
    pub interpreter: Interpreter,
    now: Instant,
    playing: bool,
    listening: bool,
    turns: usize,
    /// Whether to time each input handed to the interpreter (into `turn_times`).
    pub record_turns: bool,
    pub turn_times: Vec<Duration>,
}

impl Session {
    pub fn start(config: SessionConfig, uri: &str, origin: Instant) -> Result<Self, String> {
        let interpreter = Interpreter::new(config, uri).map_err(|e| e.to_string())?;
        Ok(Self {
            interpreter,
            now: origin,
            playing: false,
            listening: false,
            turns: 0,
            record_turns: false,
            turn_times: Vec::new(),
        })
    }

    /// Answers outputs until the session finishes or waits for the caller with no key left
    /// in `keys` (consumed from the front). Transfers end with `transfer`.
    pub fn drive(
        &mut self,
        docs: &Documents,
        keys: &mut &[char],
        transfer: &TransferOutcome,
    ) -> Stop {
        while self.turns < MAX_TURNS {
            self.turns += 1;
            if let Some(outcome) = self.answer_outputs(docs, transfer) {
                return Stop::Finished(outcome);
            }
            if self.playing {
                self.playing = false;
                let now = self.now;
                self.timed(|i| i.handle_prompts_done(now));
                continue;
            }
            if !self.listening {
                return Stop::Stuck("waiting, but not for the caller".into());
            }
            match keys.split_first() {
                Some((c, rest)) => {
                    *keys = rest;
                    let Some(key) = Key::from_char(*c) else {
                        return Stop::Stuck(format!("{c:?} is not a key"));
                    };
                    self.listening = false;
                    self.now += KEY_GAP;
                    let now = self.now;
                    self.timed(|i| i.handle_key(now, key));
                }
                None => return Stop::Listening,
            }
        }
        Stop::Stuck(format!("{MAX_TURNS} turns"))
    }

    /// Answers every queued output; the outcome if the session finished.
    fn answer_outputs(&mut self, docs: &Documents, transfer: &TransferOutcome) -> Option<Outcome> {
        while let Some(output) = self.interpreter.poll_output() {
            match output {
                Output::Fetch(request) => {
                    let answer = docs.answer(&request.uri, request.kind);
                    let now = self.now;
                    self.timed(|i| i.handle_fetched(now, request.id, answer));
                }
                Output::Play(_) => self.playing = true,
                Output::StopPrompts => self.playing = false,
                Output::Listen { .. } => self.listening = true,
                Output::Transfer(_) => {
                    let (now, outcome) = (self.now, transfer.clone());
                    self.timed(|i| i.handle_transfer(now, outcome, Duration::from_secs(30)));
                }
                Output::Finished(outcome) => return Some(outcome),
                _ => {}
            }
        }
        None
    }

    /// Hands one input to the interpreter, timing it if asked to.
    fn timed(&mut self, input: impl FnOnce(&mut Interpreter)) {
        if !self.record_turns {
            input(&mut self.interpreter);
            return;
        }
        let started = Instant::now();
        input(&mut self.interpreter);
        self.turn_times.push(started.elapsed());
    }
}
