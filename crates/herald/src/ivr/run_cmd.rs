//! `herald ivr run DOC_OR_URL`: one IVR session without telephony. Prompts "play" at once,
//! the scripted keys are pressed when the document listens, and time is virtual: silence
//! jumps straight to the next timeout. Prints what the caller would hear and do.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use herald_ivr::{
    Interpreter, Key, Outcome, Output, PromptItem, RecordOutcome, SessionConfig, TransferOutcome,
};
use serde_json::{Value, json};

use super::fetch::{Fetcher, document_uri};
use crate::media::prompts::{PromptLibrary, prompts_dir_or, valid_language_tag};

/// Options of `herald ivr run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A VoiceXML file or an http(s) URL.
    pub doc: String,
    /// Keys the caller presses when asked, separated by spaces ("1 2 #"); "-" stays silent
    /// until the next timeout.
    #[arg(long, default_value = "")]
    pub dtmf: String,
    /// The caller's language (BCP 47), as a dialplan would set it.
    #[arg(long)]
    pub lang: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Elements executed per turn before the session is stopped as a loop.
    #[arg(long, default_value_t = 10_000)]
    pub max_steps: u32,
    /// How a `<transfer>` ends: busy, noanswer, network_busy, far_end_disconnect, ... or
    /// an error event such as error.connection.noresource.
    #[arg(long, default_value = "noanswer")]
    pub transfer: String,
    /// Session variables, `path=value` (e.g. `connection.remote.uri=sip:+4930123@trunk`).
    #[arg(long = "session", value_name = "PATH=VALUE")]
    pub session: Vec<String>,
    /// Prompts directory for checking `prompt:` audio (defaults as `herald serve`).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// Virtual time after which the run stops.
    #[arg(long, default_value = "600")]
    pub max_seconds: u64,
}

/// One caller-visible thing that happened.
struct Transcript {
    entries: Vec<Value>,
    secure: bool,
}

pub fn run(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(session(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn session(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(lang) = &args.lang
        && !valid_language_tag(lang)
    {
        anyhow::bail!("--lang {lang:?} is not a language tag");
    }
    let uri = document_uri(&args.doc)?;
    let keys = parse_keys(&args.dtmf)?;
    let transfer = parse_transfer(&args.transfer)?;
    let mut session_vars = Vec::new();
    for pair in &args.session {
        let (path, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--session {pair:?}: expected PATH=VALUE"))?;
        session_vars.push((path.to_owned(), value.to_owned()));
    }
    let prompts = PromptLibrary::new(prompts_dir_or(args.prompts.as_deref()));
    let config = SessionConfig {
        max_steps: args.max_steps,
        // As a dialplan sets it: --lang, or a --session herald.language=... given instead.
        language: args.lang.clone().or_else(|| {
            session_vars
                .iter()
                .find(|(path, _)| path == "herald.language")
                .map(|(_, value)| value.clone())
        }),
        session: session_vars,
        ..SessionConfig::default()
    };
    let fetcher = Fetcher::new()?;
    let mut interpreter = Interpreter::new(config, &uri)
        .map_err(|e| anyhow::anyhow!("cannot start the script engine: {e}"))?;
    let start = Instant::now();
    let mut now = start;
    let limit = start + Duration::from_secs(args.max_seconds);
    let mut keys = keys.into_iter();
    let mut transcript = Transcript {
        entries: Vec::new(),
        secure: false,
    };
    let mut playing = false;
    let mut first_fetch = true;
    let outcome = loop {
        if let Some(output) = interpreter.poll_output() {
            match output {
                Output::Fetch(request) => {
                    let result = fetcher.fetch(&request).await;
                    if first_fetch && let Err(error) = &result {
                        transcript.entries.push(json!({"kind": "fetch-error", "uri": request.uri, "error": error.to_string()}));
                    }
                    first_fetch = false;
                    interpreter.handle_fetched(now, request.id, result);
                }
                Output::Play(prompt) => {
                    playing = true;
                    transcript.prompt(&prompt, &prompts);
                }
                Output::Transfer(request) => {
                    transcript.push(json!({"kind": "transfer", "dest": request.dest, "bridge": request.bridge, "outcome": transfer.as_str()}));
                    interpreter.handle_transfer(now, transfer.clone(), Duration::ZERO);
                }
                Output::Record(_) => {
                    transcript.push(json!({"kind": "record", "result": "no audio in ivr run: a 2 s message is simulated"}));
                    interpreter.handle_record(
                        now,
                        RecordOutcome::Recorded {
                            duration: Duration::from_secs(2),
                            size: 32_000,
                            termchar: None,
                            max_time: false,
                        },
                    );
                }
                Output::Finished(outcome) => break outcome,
                other => transcript.other(other),
            }
            continue;
        }
        if playing {
            playing = false;
            interpreter.handle_prompts_done(now);
            continue;
        }
        if now > limit {
            break Outcome::Error {
                event: "limit".into(),
                message: format!("still running after {} s of virtual time", args.max_seconds),
            };
        }
        match keys.next() {
            Some(Some(key)) => {
                now += Duration::from_millis(200);
                transcript.key(key);
                interpreter.handle_key(now, key);
            }
            Some(None) | None => match interpreter.poll_timeout() {
                Some(deadline) => {
                    now = now.max(deadline);
                    interpreter.handle_timeout(now);
                }
                None => {
                    break Outcome::Error {
                        event: "limit".into(),
                        message: "the session waits for nothing the run can give".into(),
                    };
                }
            },
        }
    };
    transcript.finish(&outcome, args.json);
    Ok(ExitCode::SUCCESS)
}

/// `"1 2 #"` → keys; `-` is silence.
fn parse_keys(script: &str) -> anyhow::Result<Vec<Option<Key>>> {
    let mut keys = Vec::new();
    for token in script.split_whitespace() {
        if token == "-" {
            keys.push(None);
            continue;
        }
        for c in token.chars() {
            let key = Key::from_char(c)
                .ok_or_else(|| anyhow::anyhow!("--dtmf: {c:?} is not a DTMF key"))?;
            keys.push(Some(key));
        }
    }
    Ok(keys)
}

fn parse_transfer(text: &str) -> anyhow::Result<TransferOutcome> {
    TransferOutcome::from_name(text)
        .ok_or_else(|| anyhow::anyhow!("--transfer {text:?}: not a transfer outcome"))
}

impl Transcript {
    fn push(&mut self, entry: Value) {
        self.entries.push(entry);
    }

    fn key(&mut self, key: Key) {
        let shown = if self.secure { '*' } else { key.as_char() };
        self.push(json!({"kind": "key", "key": shown.to_string()}));
    }

    fn prompt(&mut self, prompt: &herald_ivr::Prompt, library: &PromptLibrary) {
        let items: Vec<Value> = prompt
            .items
            .iter()
            .map(|item| match item {
                PromptItem::Audio { src, fallback, .. } => {
                    let mut entry = json!({"audio": src, "fallback": fallback});
                    if let Some(name) = src.strip_prefix("prompt:") {
                        let file = library.resolve_localized(name, prompt.language.as_deref());
                        match file {
                            Ok(path) => entry["file"] = json!(path.display().to_string()),
                            Err(e) => entry["missing"] = json!(e.to_string()),
                        }
                    }
                    entry
                }
                PromptItem::Text(text) => json!({"text": text}),
                PromptItem::Break(d) => json!({"break_ms": d.as_millis() as u64}),
                PromptItem::Mark(name) => json!({"mark": name}),
            })
            .collect();
        self.push(json!({
            "kind": "prompt",
            "items": items,
            "bargein": prompt.bargein,
            "language": prompt.language,
            "evidence": prompt.evidence,
        }));
    }

    fn other(&mut self, output: Output) {
        let entry = match output {
            Output::StopPrompts => json!({"kind": "barge-in"}),
            Output::Listen { secure } => {
                self.secure = secure;
                json!({"kind": "listen", "secure": secure})
            }
            Output::Recording { action, reason } => {
                json!({"kind": "recording", "action": action.as_str(), "reason": reason})
            }
            Output::Log { label, text } => json!({"kind": "log", "label": label, "text": text}),
            Output::Disconnect => json!({"kind": "disconnect"}),
            Output::Path(event) => super::path::path_json(&event),
            _ => return,
        };
        self.push(entry);
    }

    fn finish(self, outcome: &Outcome, as_json: bool) {
        let (kind, value, error) = match outcome {
            Outcome::Exit { value } => (
                "exit",
                serde_json::from_str(value).unwrap_or(Value::Null),
                None,
            ),
            Outcome::Hangup => ("hangup", Value::Null, None),
            Outcome::Transferred => ("transferred", Value::Null, None),
            Outcome::Error { event, message } if event == "limit" => {
                ("limit", Value::Null, Some(message.clone()))
            }
            Outcome::Error { event, message } => {
                ("error", Value::Null, Some(format!("{event}: {message}")))
            }
        };
        let mut out = String::new();
        if as_json {
            let report = json!({
                "outcome": kind,
                "exit_value": value,
                "error": error,
                "transcript": self.entries,
            });
            out = format!("{report}\n");
        } else {
            for entry in &self.entries {
                out.push_str(&render(entry));
                out.push('\n');
            }
            match error {
                Some(error) => out.push_str(&format!("= {kind}: {error}\n")),
                None => out.push_str(&format!("= {kind} {value}\n")),
            }
        }
        crate::calls_cmd::print_quietly(&out);
    }
}

/// One transcript line for people.
fn render(entry: &Value) -> String {
    let kind = entry["kind"].as_str().unwrap_or("?");
    match kind {
        "prompt" => {
            let parts: Vec<String> = entry["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            if let Some(text) = i["text"].as_str() {
                                format!("\"{text}\"")
                            } else if let Some(src) = i["audio"].as_str() {
                                match (i["file"].as_str(), i["missing"].as_str()) {
                                    (Some(file), _) => format!("[{src} = {file}]"),
                                    (_, Some(_)) => format!("[{src} MISSING]"),
                                    _ => format!("[{src}]"),
                                }
                            } else if let Some(ms) = i["break_ms"].as_u64() {
                                format!("({ms} ms)")
                            } else {
                                String::new()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let lang = entry["language"]
                .as_str()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            format!("> prompt{lang}: {}", parts.join(" "))
        }
        "key" => format!("< key {}", entry["key"].as_str().unwrap_or("?")),
        _ => {
            let mut fields = entry.clone();
            if let Some(map) = fields.as_object_mut() {
                map.remove("kind");
            }
            format!("- {kind} {fields}")
        }
    }
}
