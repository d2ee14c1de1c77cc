//! `herald ivr run`: the shipped disclosure application without telephony (every language
//! route and recording policy, the language menu, wrong keys and silence), and broken
//! documents (malformed XML, unknown elements, script errors, fetch failures, endless loops),
//! each ending with a clear outcome instead of a hang.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{HERALD, PROGRAM_TIMEOUT, repo_root, run_program};
use serde_json::Value;

fn disclosure() -> PathBuf {
    repo_root().join("dialplans/disclosure.vxml")
}

/// Runs `herald ivr run DOC --json ARGS...` from the repository root; the JSON report.
fn ivr_run(doc: &Path, args: &[&str]) -> Value {
    let out = run_program(
        Command::new(HERALD)
            .current_dir(repo_root())
            .args(["ivr", "run"])
            .arg(doc)
            .arg("--json")
            .args(args),
        PROGRAM_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "herald ivr run failed:\n{}{}",
        out.stdout,
        out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

fn entries<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["transcript"]
        .as_array()
        .map(|t| t.iter().filter(|e| e["kind"] == kind).collect())
        .unwrap_or_default()
}

/// The prompts played, as `NAME@FILE` with the file relative to the prompts directory.
fn prompts(report: &Value) -> Vec<String> {
    entries(report, "prompt")
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .map(|item| {
            let src = item["audio"]
                .as_str()
                .unwrap_or("?")
                .trim_start_matches("prompt:");
            match item["file"].as_str() {
                Some(file) => format!("{src}@{}", file.rsplit("prompts/").next().unwrap_or(file)),
                None => format!("{src}@MISSING"),
            }
        })
        .collect()
}

fn consent(report: &Value) -> Vec<String> {
    entries(report, "consent")
        .iter()
        .map(|c| c["decision"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn recording_actions(report: &Value) -> Vec<String> {
    entries(report, "recording")
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["action"].as_str().unwrap_or("?"),
                r["reason"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn german_caller_objects_and_is_not_recorded() {
    let report = ivr_run(
        &disclosure(),
        &[
            "--lang",
            "de-DE",
            "--dtmf",
            "9",
            "--session",
            "herald.agent_group=support",
        ],
    );
    assert_eq!(report["outcome"], "exit", "{report}");
    assert_eq!(report["exit_value"], "no-agents");
    assert_eq!(consent(&report), ["opted-out"]);
    assert!(recording_actions(&report).is_empty(), "{report}");
    assert_eq!(
        prompts(&report),
        [
            "welcome@de/welcome.flac",
            "disclosure@de/disclosure.flac",
            "optout-confirmed@de/optout-confirmed.flac",
            "connecting@de/connecting.flac",
            "no-agents@de/no-agents.flac",
        ],
        "{report}"
    );
    let disclosure = entries(&report, "prompt")
        .into_iter()
        .find(|p| !p["evidence"].is_null())
        .expect("the disclosure is evidence");
    assert_eq!(disclosure["evidence"], "recording-disclosure");
    assert_eq!(disclosure["language"], "de-DE");
    let transfer = entries(&report, "transfer");
    assert_eq!(transfer[0]["dest"], "queue:support", "{report}");
}

#[test]
fn silence_after_the_disclosure_accepts_recording() {
    let report = ivr_run(&disclosure(), &["--lang", "it"]);
    assert_eq!(consent(&report), ["accepted"], "{report}");
    assert_eq!(recording_actions(&report), ["start:consent"]);
    assert!(
        entries(&report, "input-event")
            .iter()
            .any(|e| e["event"] == "noinput"),
        "{report}"
    );
    // Without an agent group there is nobody to transfer to.
    assert!(entries(&report, "transfer").is_empty(), "{report}");
    assert!(prompts(&report).contains(&"no-agents@it/no-agents.flac".to_owned()));
}

#[test]
fn the_language_menu_chooses_the_prompts() {
    // No language from the dialplan: the menu; 3 is French.
    let report = ivr_run(
        &disclosure(),
        &["--dtmf", "3 -", "--session", "herald.languages=en fr"],
    );
    let languages: Vec<&str> = entries(&report, "language")
        .iter()
        .filter_map(|l| l["language"].as_str())
        .collect();
    assert_eq!(languages, ["fr"], "{report}");
    let played = prompts(&report);
    assert_eq!(played[0], "language-menu@language-menu.flac", "{report}");
    assert_eq!(played[1], "welcome@fr/welcome.flac", "{report}");
    assert_eq!(consent(&report), ["accepted"]);
}

#[test]
fn wrong_keys_then_silence_in_the_menu_fall_back_to_the_first_language() {
    let report = ivr_run(
        &disclosure(),
        &["--dtmf", "8 - -", "--session", "herald.languages=nl en"],
    );
    let played = prompts(&report);
    // A wrong key and a silence each bring the menu again; the second miss settles it.
    assert_eq!(
        &played[..3],
        ["language-menu@language-menu.flac"; 3],
        "{report}"
    );
    let languages: Vec<&str> = entries(&report, "language")
        .iter()
        .filter_map(|l| l["language"].as_str())
        .collect();
    assert_eq!(languages, ["nl"], "the route's first language: {report}");
    assert!(
        played.contains(&"disclosure@nl/disclosure.flac".to_owned()),
        "{report}"
    );
}

#[test]
fn recording_policies_always_and_never() {
    let always = ivr_run(
        &disclosure(),
        &["--lang", "pl", "--session", "herald.recording=always"],
    );
    assert_eq!(consent(&always), ["accepted"], "{always}");
    assert_eq!(recording_actions(&always), ["start:policy"]);
    assert!(prompts(&always).contains(&"recording-notice@pl/recording-notice.flac".to_owned()));
    assert!(
        !prompts(&always)
            .iter()
            .any(|p| p.starts_with("disclosure@")),
        "{always}"
    );

    let never = ivr_run(
        &disclosure(),
        &["--lang", "es", "--session", "herald.recording=never"],
    );
    assert!(consent(&never).is_empty(), "{never}");
    assert!(recording_actions(&never).is_empty(), "{never}");
    assert!(
        !prompts(&never)
            .iter()
            .any(|p| p.starts_with("disclosure@") || p.starts_with("recording-notice@")),
        "{never}"
    );
}

/// Writes `text` as a document in a temporary directory.
fn document(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a document");
    path
}

fn vxml(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<vxml version=\"2.1\" xmlns=\"http://www.w3.org/2001/vxml\" \
         xmlns:herald=\"urn:herald:ivr\">\n{body}\n</vxml>\n"
    )
}

#[test]
fn broken_documents_end_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("a directory");
    let cases = [
        (
            "malformed.vxml",
            "<?xml version=\"1.0\"?>\n<vxml version=\"2.1\">\n<form><block>\n</form></vxml>\n"
                .to_owned(),
            "error.badfetch",
            "malformed.vxml:4:",
        ),
        (
            "unknown.vxml",
            vxml("<form>\n  <block><speak>hi</speak></block>\n</form>"),
            "error.badfetch",
            "unknown.vxml:4:10: unknown VoiceXML element <speak>",
        ),
        (
            "script.vxml",
            vxml("<form><block><script>undefinedFunction();</script></block></form>"),
            "error.semantic",
            "undefinedFunction",
        ),
        (
            "fetch.vxml",
            vxml("<form><block><goto next=\"missing.vxml\"/></block></form>"),
            "error.badfetch",
            "missing.vxml",
        ),
        (
            "loop.vxml",
            vxml("<form id=\"f\"><block><goto next=\"#f\"/></block></form>"),
            "error.herald.steps",
            "a loop in the document",
        ),
        (
            "spin.vxml",
            vxml("<form><block><script>while (true) {}</script></block></form>"),
            "error.herald.script.budget",
            "instruction budget",
        ),
    ];
    for (name, text, event, detail) in cases {
        let path = document(dir.path(), name, &text);
        let report = ivr_run(&path, &[]);
        assert_eq!(report["outcome"], "error", "{name}: {report}");
        let error = report["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(event) && error.contains(detail),
            "{name}: want {event} with {detail:?}, got {error:?}"
        );
    }
}

#[test]
fn secure_input_stays_out_of_the_transcript_and_logs() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = document(
        dir.path(),
        "card.vxml",
        &vxml(
            "<form>\n  <field name=\"card\" type=\"digits?length=6\" herald:secure=\"true\">\n    \
             <filled><log>card <value expr=\"card\"/></log><exit expr=\"card.length\"/></filled>\n  \
             </field>\n</form>",
        ),
    );
    let report = ivr_run(&path, &["--dtmf", "4 9 1 7 3 2"]);
    assert_eq!(report["exit_value"], 6, "{report}");
    let text = report.to_string();
    assert!(!text.contains("491732"), "the card number leaked: {text}");
    let keys: Vec<&str> = entries(&report, "key")
        .iter()
        .filter_map(|k| k["key"].as_str())
        .collect();
    assert_eq!(keys, ["*"; 6], "{report}");
    assert_eq!(
        recording_actions(&report),
        ["pause:secure-input", "resume:secure-input"]
    );
    let logs = entries(&report, "log");
    assert_eq!(logs[0]["text"], "card [secure]", "{report}");
    let input = entries(&report, "input");
    assert_eq!(input[0]["secure"], true, "{report}");
}

#[test]
fn secure_input_never_leaves_through_the_exit_value() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = document(
        dir.path(),
        "pin.vxml",
        &vxml(
            "<form>\n  <field name=\"pin\" type=\"digits?length=4\" herald:secure=\"true\">\n    \
             <filled><exit expr=\"'pin=' + pin\"/></filled>\n  </field>\n</form>",
        ),
    );
    let report = ivr_run(&path, &["--dtmf", "8 0 6 1"]);
    assert_eq!(report["exit_value"], "pin=[secure]", "{report}");
    assert!(!report.to_string().contains("8061"), "{report}");
}
