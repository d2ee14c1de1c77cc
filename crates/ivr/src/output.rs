//! What the interpreter asks of its platform, and what the platform tells it back.

use std::sync::Arc;
use std::time::Duration;

use crate::document::Document;

/// Identifies a fetch the interpreter asked for, so its answer finds the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FetchId(pub u64);

/// What a fetched resource is for: the platform parses documents (and may cache them) and
/// hands everything else over as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchKind {
    /// A VoiceXML document (goto, submit, subdialog, application root).
    Document,
    /// ECMAScript for `<script src>`.
    Script,
    /// An SRGS grammar.
    Grammar,
    /// XML for `<data>`.
    Data,
}

/// HTTP method of a fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A resource the interpreter needs before it can go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    pub id: FetchId,
    /// Absolute URI (resolved against the current document), without a fragment.
    pub uri: String,
    pub kind: FetchKind,
    pub method: Method,
    /// Submitted values (`namelist`, `<param>`), as name and string value.
    pub params: Vec<(String, String)>,
    /// `fetchtimeout`: past it the platform answers [`FetchError::Timeout`].
    pub timeout: Duration,
    /// The document that asked (`None` for the session's first document). A platform must
    /// not let a document fetched over the network read local files.
    pub referrer: Option<String>,
}

/// A fetched resource.
#[derive(Clone, Debug)]
pub enum Fetched {
    Document(Arc<Document>),
    Text(String),
}

/// Why a fetch failed; every kind becomes `error.badfetch` (with the HTTP status in
/// `error.badfetch.http.NNN` where there is one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out")]
    Timeout,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("{0}")]
    Failed(String),
}

/// One piece of a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptItem {
    /// An audio file: `src` as resolved (an absolute URI, or `prompt:NAME` for the prompt
    /// library), and the fallback text to speak if it cannot be played. `computed`: `src`
    /// came from an expression (it may carry what the caller keyed in, such as digits read
    /// back one file each), so platforms keep it out of logs and records.
    Audio {
        src: String,
        fallback: String,
        computed: bool,
    },
    /// Text to be spoken (text-to-speech); a platform without one skips it.
    Text(String),
    /// Silence.
    Break(Duration),
    /// A `<mark>`: reported back if the caller barges in after it.
    Mark(String),
}

/// A prompt queued for playing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub items: Vec<PromptItem>,
    pub bargein: bool,
    /// The language the prompt is in (`xml:lang`, else the session's).
    pub language: Option<String>,
    /// Herald's `herald:evidence`: the prompt is disclosure evidence under this id.
    pub evidence: Option<String>,
}

/// A recording-control request (Herald's `<herald:recording>` and secure input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordingAction {
    Start,
    Pause,
    Resume,
    Stop,
}

impl RecordingAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingAction::Start => "start",
            RecordingAction::Pause => "pause",
            RecordingAction::Resume => "resume",
            RecordingAction::Stop => "stop",
        }
    }
}

/// The caller's recording decision (`<herald:consent>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// The caller did not object: record.
    Accepted,
    /// The caller objected: do not record.
    OptedOut,
}

/// A `<transfer>` the platform should place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRequest {
    pub dest: String,
    pub bridge: bool,
    pub connect_timeout: Duration,
    pub max_time: Option<Duration>,
}

/// How a transfer ended (the values of the form item variable, VoiceXML 2.0 table 11),
/// or the error event the platform reports instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    Busy,
    NoAnswer,
    NetworkBusy,
    NearEndDisconnect,
    FarEndDisconnect,
    NetworkDisconnect,
    MaxTimeDisconnect,
    Unknown,
    /// The transfer could not be placed: `error.connection.*` (e.g. `noresource`).
    Error(String),
}

impl TransferOutcome {
    /// The outcome a name stands for ([`as_str`](Self::as_str)'s inverse; `error.*` names
    /// are error events).
    pub fn from_name(name: &str) -> Option<TransferOutcome> {
        let all = [
            TransferOutcome::Busy,
            TransferOutcome::NoAnswer,
            TransferOutcome::NetworkBusy,
            TransferOutcome::NearEndDisconnect,
            TransferOutcome::FarEndDisconnect,
            TransferOutcome::NetworkDisconnect,
            TransferOutcome::MaxTimeDisconnect,
            TransferOutcome::Unknown,
        ];
        if name.starts_with("error.") {
            return Some(TransferOutcome::Error(name.to_owned()));
        }
        all.into_iter().find(|o| o.as_str() == name)
    }

    pub fn as_str(&self) -> &str {
        match self {
            TransferOutcome::Busy => "busy",
            TransferOutcome::NoAnswer => "noanswer",
            TransferOutcome::NetworkBusy => "network_busy",
            TransferOutcome::NearEndDisconnect => "near_end_disconnect",
            TransferOutcome::FarEndDisconnect => "far_end_disconnect",
            TransferOutcome::NetworkDisconnect => "network_disconnect",
            TransferOutcome::MaxTimeDisconnect => "maxtime_disconnect",
            TransferOutcome::Unknown => "unknown",
            TransferOutcome::Error(event) => event,
        }
    }
}

/// A `<record>` the platform should make of the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRequest {
    pub beep: bool,
    pub max_time: Option<Duration>,
    pub final_silence: Duration,
    pub dtmf_term: bool,
}

/// What a `<record>` produced (the audio itself stays with the platform).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded {
        duration: Duration,
        size: u64,
        /// The key that ended it, if any.
        termchar: Option<char>,
        max_time: bool,
    },
    /// Nothing was said: `noinput`.
    Silence,
    /// The platform cannot record: `error.unsupported.record`.
    Unsupported,
}

/// How the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `<exit>` or the end of the document; the value as JSON text (`null` without one).
    Exit { value: String },
    /// The call was hung up (by the caller, or `<disconnect>`).
    Hangup,
    /// A blind transfer took the call away.
    Transferred,
    /// An uncaught error event, or a limit: the message says which, with file:line.
    Error { event: String, message: String },
}

/// A milestone of the call's path through the IVR, for the call record. Never carries what
/// the caller keyed in a secure field, and no digits at all except menu choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathEvent {
    /// A document was entered.
    Document { uri: String },
    /// A dialog was entered.
    Dialog { id: String },
    /// Input filled a field: how many keys, never their values.
    Input {
        item: String,
        keys: usize,
        secure: bool,
    },
    /// A menu choice was made (the key is the choice's own, not the caller's free input).
    MenuChoice { menu: String, choice: String },
    /// `noinput`, `nomatch` or `help` in an item.
    Reprompt { item: String, event: String },
    /// The caller's recording decision.
    Consent(Consent),
    /// The session language changed.
    Language(String),
    /// A transfer was asked for, and how it ended.
    Transfer { dest: String, outcome: String },
}

/// What the interpreter asks of its platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Fetch(FetchRequest),
    /// Queue a prompt; the platform calls `handle_prompts_done` when its queue runs dry.
    Play(Prompt),
    /// Stop playing queued prompts (the caller barged in).
    StopPrompts,
    /// Input collection began (`secure`: keep digits out of everything, pause recording).
    Listen {
        secure: bool,
    },
    /// Recording control, with the reason given by the document or the interpreter.
    Recording {
        action: RecordingAction,
        reason: String,
    },
    Path(PathEvent),
    /// `<log>` output, with secure values already blanked.
    Log {
        label: Option<String>,
        text: String,
    },
    Transfer(TransferRequest),
    Record(RecordRequest),
    /// Hang up (`<disconnect>`); the document may still run its catch handlers.
    Disconnect,
    /// The session is over.
    Finished(Outcome),
}
