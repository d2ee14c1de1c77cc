//! The interpreter: one caller's session through VoiceXML documents.
//!
//! # Run loop
//!
//! ```text
//!  Interpreter::new(config, uri) ──▶ Output::Fetch(first document)
//!        │
//!        ▼
//!  handle_fetched / handle_prompts_done / handle_key / handle_timeout /
//!  handle_transfer / handle_record / handle_hangup          (inputs, each with `now`)
//!        │   runs the form interpretation algorithm until it must wait
//!        ▼
//!  poll_output()  ──▶ Fetch, Play, StopPrompts, Listen, Recording, Path, Log, Transfer,
//!                     Record, Disconnect, Finished
//!  poll_timeout() ──▶ when to call handle_timeout (input timeouts)
//! ```
//!
//! The interpreter waits in exactly one of the states of [`Wait`]. Executable content runs
//! on an explicit stack of [`Frame`]s, so a `<data>` or `<script src>` fetch in the middle of
//! a `<block>` suspends it and the answer resumes it where it stopped; the stack is also what
//! bounds a session's work: every element executed is a step, and a turn (the work between
//! two inputs) may take at most `max_steps`, so an endless `<goto>` loop ends the session with
//! an error instead of hanging the call.

mod collect;
mod data;
mod events;
mod exec;
mod fia;
mod prompts;
mod uri;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_grammar::{Grammar, Key};

use crate::document::{Document, Node};
use crate::output::{
    FetchError, FetchId, FetchKind, FetchRequest, Fetched, Method, Outcome, Output, RecordOutcome,
    TransferOutcome,
};
use crate::script::{Level, ScriptEngine, ScriptError, ScriptLimits, js_string};

pub use collect::Collect;

/// Platform defaults for properties a document does not set (VoiceXML 2.0 section 6.3).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// `timeout`: silence before `noinput`.
    pub noinput: Duration,
    /// `interdigittimeout`: silence between keys before the input is judged.
    pub interdigit: Duration,
    /// `termtimeout`: how long to wait for the terminating key once the grammar is complete.
    pub term: Duration,
    /// `fetchtimeout`.
    pub fetch: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            noinput: Duration::from_secs(5),
            interdigit: Duration::from_secs(3),
            term: Duration::ZERO,
            fetch: Duration::from_secs(10),
        }
    }
}

/// One session's settings.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub limits: ScriptLimits,
    /// Elements executed per turn before the session is ended as runaway.
    pub max_steps: u32,
    /// The caller's language (a BCP 47 tag), as the dialplan chose it.
    pub language: Option<String>,
    /// Values under `session.`: dotted path (`connection.remote.uri`) and string value.
    pub session: Vec<(String, String)>,
    pub timeouts: Timeouts,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            limits: ScriptLimits::default(),
            max_steps: 10_000,
            language: None,
            session: Vec::new(),
            timeouts: Timeouts::default(),
        }
    }
}

/// An event on its way to a catch handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Thrown {
    pub name: String,
    pub message: Option<String>,
}

impl Thrown {
    pub fn new(name: impl Into<String>, message: impl Into<Option<String>>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }

    pub fn semantic(error: ScriptError) -> Self {
        match error {
            ScriptError::Budget => Self::new("error.herald.script.budget", error.to_string()),
            ScriptError::Memory => Self::new("error.noresource", error.to_string()),
            ScriptError::Thrown(message) => Self::new("error.semantic", message),
        }
    }

    pub fn badfetch(message: impl Into<String>) -> Self {
        Self::new("error.badfetch", Some(message.into()))
    }
}

impl From<ScriptError> for Thrown {
    fn from(error: ScriptError) -> Self {
        Thrown::semantic(error)
    }
}

/// How executable content runs: what a `<var>` declares into, and what a frame's children
/// mean.
#[derive(Clone, Debug)]
pub(crate) enum FrameMode {
    /// Executable content (block, filled, catch, if branches).
    Exec,
    /// A document's top level or a form's children: only `var`, `script` and form item
    /// variables run.
    Init,
    /// A `foreach` over the stashed array `key`, at `next` of `len`.
    Foreach {
        key: String,
        item: String,
        next: u32,
        len: u32,
    },
}

/// Executable content in progress: children `index..end` of `parent`.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub parent: Arc<Node>,
    pub index: usize,
    pub end: usize,
    pub level: Level,
    pub mode: FrameMode,
}

/// What to do when the frame stack runs empty.
#[derive(Clone, Debug)]
pub(crate) enum After {
    /// Go on with the form interpretation algorithm.
    Select,
    /// The application root is initialised: now initialise the leaf.
    RootReady {
        leaf: Arc<Document>,
        fragment: Option<String>,
    },
    /// The document is initialised: enter the dialog.
    DocumentReady { fragment: Option<String> },
}

/// What the interpreter is waiting for.
#[derive(Debug)]
pub(crate) enum Wait {
    /// Nothing: it is running (or has not started).
    Running,
    Fetch {
        id: FetchId,
        purpose: Purpose,
    },
    Input(Box<Collect>),
    Transfer {
        item: String,
        dest: String,
    },
    Record {
        item: String,
    },
    Finished,
}

/// Why a fetch was made.
#[derive(Debug)]
pub(crate) enum Purpose {
    /// `submit`: a submission always loads a fresh document, even the application root.
    Document {
        fragment: Option<String>,
        submit: bool,
    },
    Root {
        leaf: Arc<Document>,
        fragment: Option<String>,
    },
    Script {
        level: Level,
    },
    Data {
        name: String,
    },
    Grammar {
        uri: String,
    },
    Subdialog {
        fragment: Option<String>,
    },
}

/// One form item of the active dialog.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub node: Arc<Node>,
    pub name: String,
}

/// The active dialog (a form, or a menu treated as a form with one item).
#[derive(Debug)]
pub(crate) struct Dialog {
    pub node: Arc<Node>,
    pub items: Vec<Item>,
    pub prompt_counts: HashMap<String, u32>,
    pub event_counts: HashMap<(String, String), u32>,
    pub next_item: Option<String>,
    pub suppress_prompts: bool,
    pub just_filled: Vec<String>,
}

/// An execution context: the documents and dialog of the top level or of one subdialog.
#[derive(Debug, Default)]
pub(crate) struct Context {
    pub doc: Option<Arc<Document>>,
    pub root: Option<Arc<Document>>,
    pub dialog: Option<Dialog>,
    pub frames: Vec<Frame>,
    pub after: Option<After>,
    /// The form item whose content is running (catch scope), if any.
    pub current_item: Option<String>,
}

/// A caller suspended while its subdialog runs.
#[derive(Debug)]
pub(crate) struct Caller {
    pub context: Context,
    pub item: String,
}

/// A VoiceXML session.
pub struct Interpreter {
    pub(crate) js: ScriptEngine,
    pub(crate) config: SessionConfig,
    pub(crate) outputs: VecDeque<Output>,
    pub(crate) wait: Wait,
    pub(crate) ctx: Context,
    pub(crate) callers: Vec<Caller>,
    pub(crate) pending: Option<Thrown>,
    pub(crate) next_fetch: u64,
    pub(crate) steps: u32,
    pub(crate) typeahead: VecDeque<Key>,
    /// Prompts were queued since the platform last said its queue ran dry.
    pub(crate) playing: bool,
    /// Every prompt queued since then allows barge-in.
    pub(crate) playing_bargein: bool,
    /// The `timeout` of the last queued prompt that set one.
    pub(crate) prompt_timeout: Option<Duration>,
    pub(crate) grammars: HashMap<String, Result<Arc<Grammar>, String>>,
    pub(crate) secure_values: Vec<String>,
    pub(crate) language: Option<String>,
    pub(crate) hung_up: bool,
    /// A hang-up that came during a fetch, delivered once the fetched document is ready.
    pub(crate) hangup_deferred: bool,
    pub(crate) catch_reprompt: bool,
    pub(crate) in_catch: bool,
    pub(crate) last_mark: Option<String>,
    pub(crate) dom_ready: bool,
    pub(crate) now: Option<Instant>,
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl Interpreter {
    /// A session that starts by fetching the document at `uri` (absolute).
    pub fn new(config: SessionConfig, uri: &str) -> Result<Self, ScriptError> {
        let js = ScriptEngine::new(config.limits)?;
        let language = config.language.clone();
        let mut interpreter = Self {
            js,
            config,
            outputs: VecDeque::new(),
            wait: Wait::Running,
            ctx: Context::default(),
            callers: Vec::new(),
            pending: None,
            next_fetch: 0,
            steps: 0,
            typeahead: VecDeque::new(),
            playing: false,
            playing_bargein: true,
            prompt_timeout: None,
            grammars: HashMap::new(),
            secure_values: Vec::new(),
            language,
            hung_up: false,
            hangup_deferred: false,
            catch_reprompt: false,
            in_catch: false,
            last_mark: None,
            dom_ready: false,
            now: None,
        };
        interpreter.init_session()?;
        let (base, fragment) = uri::split_fragment(uri);
        interpreter.fetch(
            base,
            FetchKind::Document,
            Method::Get,
            Vec::new(),
            None,
            Purpose::Document {
                fragment,
                submit: false,
            },
        );
        Ok(interpreter)
    }

    fn init_session(&mut self) -> Result<(), ScriptError> {
        let mut code = String::from(
            "var s = __h.s; s.connection = { local: {}, remote: {}, protocol: { name: 'sip', \
             version: '2.0' }, redirect: [], aai: undefined, originator: undefined }; \
             s.herald = {};",
        );
        for (path, value) in &self.config.session {
            let mut prefix = String::from("s");
            let parts: Vec<&str> = path.split('.').collect();
            for part in &parts[..parts.len().saturating_sub(1)] {
                prefix.push_str(&format!("[{}]", js_string(part)));
                code.push_str(&format!("if (!{prefix}) {prefix} = {{}};"));
            }
            if let Some(last) = parts.last() {
                code.push_str(&format!(
                    "{prefix}[{}] = {};",
                    js_string(last),
                    js_string(value)
                ));
            }
        }
        if let Some(lang) = &self.language {
            code.push_str(&format!("s.herald.language = {};", js_string(lang)));
        }
        self.js.run(&code)
    }

    /// The next thing the platform must do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.wait {
            Wait::Input(collect) => collect.deadline(),
            _ => None,
        }
    }

    /// Whether the session is over.
    pub fn is_finished(&self) -> bool {
        matches!(self.wait, Wait::Finished)
    }

    /// Bytes of the session's script heap (the bulk of its memory).
    pub fn script_memory(&self) -> usize {
        self.js.memory_used()
    }

    /// A fetch came back.
    pub fn handle_fetched(
        &mut self,
        now: Instant,
        id: FetchId,
        result: Result<Fetched, FetchError>,
    ) {
        self.begin_turn(now);
        let purpose = match std::mem::replace(&mut self.wait, Wait::Running) {
            Wait::Fetch {
                id: waited,
                purpose,
            } if waited == id => purpose,
            other => {
                self.wait = other;
                return;
            }
        };
        self.fetched(purpose, result);
        self.run();
    }

    /// The platform played (or flushed) every queued prompt.
    pub fn handle_prompts_done(&mut self, now: Instant) {
        self.begin_turn(now);
        self.playing = false;
        self.playing_bargein = true;
        if let Wait::Input(collect) = &mut self.wait {
            collect.prompts_done(now);
        }
        self.run();
    }

    /// The caller pressed a key (from RFC 4733, SIP INFO or the in-band detector).
    pub fn handle_key(&mut self, now: Instant, key: Key) {
        self.begin_turn(now);
        if self.playing && !self.playing_bargein {
            // Prompts that forbid barge-in ignore keys while they play.
            return;
        }
        if !matches!(self.wait, Wait::Input(_)) {
            if self.typeahead.len() < 64 {
                self.typeahead.push_back(key);
            }
            return;
        }
        self.key(now, key);
        self.run();
    }

    /// Time passed: input timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.begin_turn(now);
        self.input_timeout(now);
        self.run();
    }

    /// A `<transfer>` ended.
    pub fn handle_transfer(&mut self, now: Instant, outcome: TransferOutcome, duration: Duration) {
        self.begin_turn(now);
        // A result nobody waits for (late, or after the session ended) changes nothing.
        if !matches!(self.wait, Wait::Transfer { .. }) {
            return;
        }
        if let Wait::Transfer { item, dest } = std::mem::replace(&mut self.wait, Wait::Running) {
            self.transferred(item, dest, outcome, duration);
            self.run();
        }
    }

    /// A `<record>` ended.
    pub fn handle_record(&mut self, now: Instant, outcome: RecordOutcome) {
        self.begin_turn(now);
        if !matches!(self.wait, Wait::Record { .. }) {
            return;
        }
        if let Wait::Record { item } = std::mem::replace(&mut self.wait, Wait::Running) {
            self.recorded(item, outcome);
            self.run();
        }
    }

    /// The caller hung up.
    pub fn handle_hangup(&mut self, now: Instant) {
        self.begin_turn(now);
        if self.hung_up || self.is_finished() {
            return;
        }
        self.hung_up = true;
        self.end_secure_input();
        match std::mem::replace(&mut self.wait, Wait::Running) {
            Wait::Finished => self.wait = Wait::Finished,
            Wait::Fetch { id, purpose } => {
                // The fetch still completes; the event is delivered once what it brings is
                // initialised (its variables exist for the catch handlers).
                self.wait = Wait::Fetch { id, purpose };
                self.hangup_deferred = true;
            }
            _ => {
                self.pending = Some(Thrown::new("connection.disconnect.hangup", None));
                self.run();
            }
        }
    }

    fn begin_turn(&mut self, now: Instant) {
        self.now = Some(now);
        self.steps = 0;
    }

    pub(crate) fn emit(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    pub(crate) fn fetch(
        &mut self,
        uri: String,
        kind: FetchKind,
        method: Method,
        params: Vec<(String, String)>,
        timeout: Option<Duration>,
        purpose: Purpose,
    ) {
        self.next_fetch += 1;
        let id = FetchId(self.next_fetch);
        self.emit(Output::Fetch(FetchRequest {
            id,
            uri,
            kind,
            method,
            params,
            timeout: timeout.unwrap_or(self.config.timeouts.fetch),
            referrer: self
                .ctx
                .doc
                .as_ref()
                .or_else(|| self.callers.last().and_then(|c| c.context.doc.as_ref()))
                .map(|d| d.uri.clone()),
        }));
        self.wait = Wait::Fetch { id, purpose };
    }

    /// Ends the session.
    pub(crate) fn finish(&mut self, outcome: Outcome) {
        if matches!(self.wait, Wait::Finished) {
            return;
        }
        self.end_secure_input();
        self.ctx.frames.clear();
        self.pending = None;
        self.wait = Wait::Finished;
        self.emit(Output::Finished(outcome));
    }

    /// Runs until the session must wait for the platform.
    fn run(&mut self) {
        loop {
            if matches!(self.wait, Wait::Finished) {
                return;
            }
            self.steps += 1;
            if self.steps > self.config.max_steps {
                let message = format!(
                    "{} steps without waiting for the caller or the network: a loop in the \
                     document? ({})",
                    self.config.max_steps,
                    self.where_now()
                );
                self.finish(Outcome::Error {
                    event: "error.herald.steps".into(),
                    message,
                });
                return;
            }
            if let Some(thrown) = self.pending.take() {
                self.ctx.frames.clear();
                self.handle_event(thrown);
                continue;
            }
            if !matches!(self.wait, Wait::Running) {
                return;
            }
            if !self.ctx.frames.is_empty() {
                if let Err(thrown) = self.step() {
                    self.pending = Some(thrown);
                }
                continue;
            }
            if self.hangup_deferred && matches!(self.ctx.after, None | Some(After::Select)) {
                self.hangup_deferred = false;
                self.pending = Some(Thrown::new("connection.disconnect.hangup", None));
                continue;
            }
            match self.ctx.after.take() {
                Some(After::RootReady { leaf, fragment }) => self.init_leaf(leaf, fragment),
                Some(After::DocumentReady { fragment }) => self.enter_dialog(fragment.as_deref()),
                Some(After::Select) => self.select(),
                None => self.select(),
            }
        }
    }

    /// Where the session is, for error messages: document, line and dialog.
    pub(crate) fn where_now(&self) -> String {
        let doc = self
            .ctx
            .doc
            .as_ref()
            .map_or("(no document)", |d| d.uri.as_str());
        match (&self.ctx.frames.last(), &self.ctx.dialog) {
            (Some(frame), _) => format!("{doc}:{}", frame.parent.pos),
            (None, Some(dialog)) => format!("{doc}:{}", dialog.node.pos),
            _ => doc.to_owned(),
        }
    }

    /// Blanks every value collected in secure mode out of `text`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secure_values.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "[secure]");
        }
        out
    }

    fn fetched(&mut self, purpose: Purpose, result: Result<Fetched, FetchError>) {
        let fetched = match result {
            Ok(f) => f,
            Err(error) => {
                let name = match &error {
                    FetchError::Status(code) => format!("error.badfetch.http.{code}"),
                    _ => "error.badfetch".to_owned(),
                };
                self.pending = Some(Thrown::new(name, Some(error.to_string())));
                if let Purpose::Subdialog { .. } = purpose {
                    self.abandon_subdialog();
                }
                return;
            }
        };
        match (purpose, fetched) {
            (Purpose::Document { fragment, submit }, Fetched::Document(doc)) => {
                self.load_document(doc, fragment, submit)
            }
            (Purpose::Subdialog { fragment }, Fetched::Document(doc)) => {
                self.load_document(doc, fragment, false)
            }
            (Purpose::Root { leaf, fragment }, Fetched::Document(root)) => {
                self.init_root(root, leaf, fragment)
            }
            (Purpose::Script { level }, Fetched::Text(source)) => {
                if let Err(error) = self.js.run_script(level, &source) {
                    self.pending = Some(error.into());
                }
            }
            (Purpose::Data { name }, Fetched::Text(xml)) => self.data_arrived(&name, &xml),
            (Purpose::Grammar { uri }, Fetched::Text(text)) => {
                let grammar = Grammar::parse_srgs(&text)
                    .map(Arc::new)
                    .map_err(|e| format!("{uri}: {e}"));
                self.grammars.insert(uri, grammar);
            }
            (_, _) => {
                self.pending = Some(Thrown::badfetch("the fetched resource has the wrong type"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
