//! The W3C VoiceXML 2.0 Implementation Report tests, run through `herald ivr run`.
//!
//! The tests live outside the repository, in `../shared/conformance/voicexml-ir/` (see its
//! README): `tests/*.txml` with `conf:` elements, the W3C stylesheet that turns them into
//! VoiceXML, and `manifest.tsv`, which says what caller input each one needs.
//!
//! 1. Every `.txml` is transformed with `xsltproc` and the W3C stylesheet, overridden by
//!    `tests/voicexml-ir/automation.xsl` so that `conf:pass` / `conf:fail` end the session
//!    with `<exit expr="'PASS'"/>` / `<exit expr="'FAIL'"/>`. The result is written under
//!    both `NAME.vxml` and `NAME.txml`, because the mirror's documents reference each other
//!    under both extensions. The mirror also edited a few references into
//!    `http://localhost/vxml/NAME.vxml`; those are pointed at our server. The other files
//!    (grammars, audio, script) are copied alongside unchanged.
//! 2. The directory is served over HTTP on 127.0.0.1 ([`herald_testkit::http::FileServer`]).
//! 3. Entry tests are the documents no other document references ([`suite`]); each is run,
//!    unless it needs what `herald ivr run` cannot give (speech, a second leg, recording) or
//!    has no automatic verdict, as `herald ivr run http://127.0.0.1:PORT/NAME.vxml --json`,
//!    two at a time. No test in the mirror asks for DTMF (`conf:dtmf`), so none gets a
//!    `--dtmf` script; silence is what the CLI gives when its script is exhausted. A test
//!    passes iff its exit value is the string `"PASS"`.
//! 4. The report is printed and written to `target/voicexml-ir-report.md`; the run is judged
//!    against `tests/voicexml-ir/expected-failures.txt` (the contract: a failure not on the
//!    list fails the test; a listed test that passes is reported so the list can shrink).
//!
//! Time: `herald ivr run` runs in virtual time and ends by itself; the wall-clock bound on
//! each child ([`RUN_BOUND`]) only guards against a hang, and is not a timing assertion.

mod common;

#[path = "voicexml-ir/report.rs"]
mod report;
#[path = "voicexml-ir/suite.rs"]
mod suite;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{HERALD, in_ci, repo_root, wait_bounded};
use herald_testkit::http::FileServer;
use report::{Judgement, Outcome, Report, read_expected_failures};
use serde_json::Value;
use suite::Suite;

/// Wall-clock bound on one `herald ivr run` (a hang guard).
const RUN_BOUND: Duration = Duration::from_secs(20);
/// How many `herald ivr run` children at once.
const PARALLEL: usize = 2;
/// Where the mirror's edited absolute references point (an HTTP server on port 80).
const MIRROR_BASE: &str = "http://localhost/vxml/";
/// How many of a failed run's last log lines the report quotes.
const LOG_LINES_QUOTED: usize = 3;

fn ir_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/conformance/voicexml-ir");
    if dir.join("manifest.tsv").is_file() {
        return Some(dir);
    }
    assert!(!in_ci(), "{} is missing and CI is set", dir.display());
    eprintln!(
        "skipping: the W3C VoiceXML IR tests are not at {}",
        dir.display()
    );
    None
}

fn xsltproc_available() -> bool {
    let ok = Command::new("xsltproc")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "xsltproc is not installed and CI is set (scripts/setup-deps.sh test installs it)"
        );
        eprintln!("skipping: xsltproc is not installed (scripts/setup-deps.sh test installs it)");
    }
    ok
}

#[test]
fn w3c_voicexml_ir_tests() {
    let Some(ir) = ir_dir() else { return };
    if !xsltproc_available() {
        return;
    }
    assert_ivr_run_exists();
    let suite = Suite::load(&ir);
    let work = tempfile::tempdir().expect("a temporary directory");
    let site = work.path().join("site");
    std::fs::create_dir(&site).expect("the served directory");
    let servers: Vec<FileServer> = (0..PARALLEL)
        .map(|_| FileServer::start(&site).expect("a loopback HTTP server"))
        .collect();
    let stylesheet = write_stylesheet(&ir, work.path());
    publish(&ir.join("tests"), &site, &stylesheet, &servers[0].url(""));

    let report = run_suite(&suite, &servers);
    print!("{}", report.text());
    write_markdown(&report);
    judge(&report);
}

/// Fails with a clear message when the binary has no `ivr run` yet, instead of failing each
/// test on its own.
fn assert_ivr_run_exists() {
    let out = run_bounded(Command::new(HERALD).args(["ivr", "run", "--help"]));
    let ok = out.as_ref().is_some_and(|o| o.status.success());
    assert!(ok, "`herald ivr run --help` does not work: {out:?}");
}

/// The wrapper stylesheet: the W3C one, then ours, which takes precedence.
fn write_stylesheet(ir: &Path, dir: &Path) -> PathBuf {
    let w3c = ir.join("xslt/vxml-conformance.xsl");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/voicexml-ir/automation.xsl");
    let text = format!(
        "<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\">\n  \
         <xsl:import href=\"{}\"/>\n  <xsl:import href=\"{}\"/>\n</xsl:stylesheet>\n",
        file_uri(&w3c),
        file_uri(&ours)
    );
    let path = dir.join("automation-wrapper.xsl");
    std::fs::write(&path, text).expect("write the wrapper stylesheet");
    path
}

/// A `file://` URI for an absolute path, with the bytes that a URI cannot hold escaped.
fn file_uri(path: &Path) -> String {
    let path = path
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut uri = String::from("file://");
    for &b in path.to_string_lossy().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// Transforms every `.txml` in `tests` into `site` (as `.vxml` and `.txml`) and copies every
/// other file there unchanged.
fn publish(tests: &Path, site: &Path, stylesheet: &Path, base_url: &str) {
    for entry in std::fs::read_dir(tests).expect("list the IR tests") {
        let path = entry.expect("a directory entry").path();
        let Some(file_name) = path.file_name() else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "txml") {
            let vxml = transform(stylesheet, &path).replace(MIRROR_BASE, base_url);
            let stem = path.file_stem().expect("a file name").to_string_lossy();
            for extension in ["vxml", "txml"] {
                std::fs::write(site.join(format!("{stem}.{extension}")), &vxml)
                    .expect("write a transformed test");
            }
        } else if path.is_file() {
            std::fs::copy(&path, site.join(file_name)).expect("copy a test asset");
        }
    }
}

fn transform(stylesheet: &Path, txml: &Path) -> String {
    let mut command = Command::new("xsltproc");
    command.arg("--nonet").arg(stylesheet).arg(txml);
    let out = run_bounded(&mut command)
        .unwrap_or_else(|| panic!("xsltproc did not finish on {}", txml.display()));
    assert!(
        out.status.success(),
        "xsltproc failed on {}: {}",
        txml.display(),
        out.stderr
    );
    out.stdout
}

/// What a finished child printed.
#[derive(Debug)]
struct Finished {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` with output in temporary files, killing it after [`RUN_BOUND`]; `None`
/// when it had to be killed.
fn run_bounded(command: &mut Command) -> Option<Finished> {
    let out = tempfile::tempfile().expect("a temporary file");
    let err = tempfile::tempfile().expect("a temporary file");
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone a file handle"))
        .stderr(err.try_clone().expect("clone a file handle"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let status = wait_bounded(child, RUN_BOUND)?;
    Some(Finished {
        status,
        stdout: read_to_string(out),
        stderr: read_to_string(err),
    })
}

fn read_to_string(mut file: std::fs::File) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .expect("rewind an output file");
    file.read_to_end(&mut bytes).expect("read an output file");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every entry test: skipped with its reason, or run on one of `servers` (one per worker, so
/// that a failure can quote the requests its own run made).
fn run_suite(suite: &Suite, servers: &[FileServer]) -> Report {
    let mut report = Report::default();
    let mut runnable = Vec::new();
    for entry in suite.entries() {
        match suite.skip_reason(entry) {
            Some(reason) => {
                report
                    .outcomes
                    .insert(entry.to_owned(), Outcome::Skipped(reason));
            }
            None => runnable.push(entry),
        }
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for server in servers {
            scope.spawn(|| {
                while let Some(&name) = runnable.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let outcome = run_one(name, server);
                    results.lock().expect("results lock").push((name, outcome));
                }
            });
        }
    });
    let results = results.into_inner().expect("results lock");
    for (name, outcome) in results {
        report.outcomes.insert(name.to_owned(), outcome);
    }
    report
}

fn run_one(name: &str, server: &FileServer) -> Outcome {
    let url = server.url(&format!("{name}.vxml"));
    let before = server.requests().len();
    let finished = run_bounded(Command::new(HERALD).args(["ivr", "run", &url, "--json"]));
    let mut outcome = match finished {
        None => Outcome::Failed(format!("killed after {RUN_BOUND:?} (hang guard)")),
        Some(finished) => outcome_of(&finished),
    };
    if let Outcome::Failed(why) = &mut outcome {
        let refused: Vec<String> = server.requests()[before..]
            .iter()
            .filter(|r| r.status != 200)
            .map(|r| format!("{} {} -> {}", r.method, r.target, r.status))
            .collect();
        if !refused.is_empty() {
            why.push_str(&format!("; HTTP: {}", refused.join(", ")));
        }
    }
    outcome
}

/// Pass iff the JSON on stdout has `"exit_value": "PASS"`; otherwise what went wrong.
fn outcome_of(finished: &Finished) -> Outcome {
    if !finished.status.success() {
        let last = finished.stderr.lines().last().unwrap_or_default();
        return Outcome::Failed(format!("{}: {last}", finished.status));
    }
    let json: Value = match serde_json::from_str(finished.stdout.trim()) {
        Ok(json) => json,
        Err(e) => {
            let start: String = finished.stdout.chars().take(200).collect();
            return Outcome::Failed(format!("stdout is not one JSON object ({e}): {start}"));
        }
    };
    if json["exit_value"] == "PASS" {
        return Outcome::Passed;
    }
    Outcome::Failed(failure_summary(&json))
}

/// `outcome=… exit_value=… error=…; log: …` from a run's JSON.
fn failure_summary(json: &Value) -> String {
    let mut why = format!(
        "outcome={} exit_value={} error={}",
        json["outcome"], json["exit_value"], json["error"]
    );
    let logs: Vec<String> = json["transcript"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|item| item["kind"] == "log")
        .map(log_text)
        .collect();
    if !logs.is_empty() {
        let tail = &logs[logs.len().saturating_sub(LOG_LINES_QUOTED)..];
        why.push_str(&format!("; log: {}", tail.join(" / ")));
    }
    why
}

/// The text of a transcript `log` item: its string fields other than `kind`, whatever the
/// CLI calls them.
fn log_text(item: &Value) -> String {
    let fields = item.as_object().into_iter().flatten();
    let texts: Vec<&str> = fields
        .filter(|(key, _)| key.as_str() != "kind")
        .filter_map(|(_, value)| value.as_str())
        .map(str::trim)
        .collect();
    texts.join(" ")
}

fn write_markdown(report: &Report) {
    let target =
        option_env!("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from);
    let path = target.join("voicexml-ir-report.md");
    let command = "cargo test -p herald --test voicexml_ir -- --nocapture";
    match std::fs::write(&path, report.markdown(command)) {
        Ok(()) => eprintln!("report written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

/// Holds the run to `expected-failures.txt`.
fn judge(report: &Report) {
    let list =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/voicexml-ir/expected-failures.txt");
    let judgement = Judgement::new(report, &read_expected_failures(&list));
    if !judgement.now_passing.is_empty() {
        eprintln!(
            "now passing, remove from {}: {}",
            list.display(),
            judgement.now_passing.join(" ")
        );
    }
    if !judgement.not_run.is_empty() {
        eprintln!(
            "listed in {} but not run (skipped or not an entry test): {}",
            list.display(),
            judgement.not_run.join(" ")
        );
    }
    assert!(
        judgement.unexpected.is_empty(),
        "failed but not listed in {}: {}",
        list.display(),
        judgement.unexpected.join(" ")
    );
    let passed = report.passed().len();
    assert!(
        passed >= judgement.promised_passes,
        "{passed} of {} passed; the expected-failures list promises {}",
        judgement.run,
        judgement.promised_passes
    );
}
