//! `herald check`: bad configuration files fail with `FILE:LINE:COL:` errors naming the key;
//! broken dialplans, VoiceXML documents and prompts fail with their place; the shipped
//! example, and the embedded defaults run from the repository root, pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{HERALD, PROGRAM_TIMEOUT, ProgramOutput, repo_root, run_program};

fn check(file: &Path) -> ProgramOutput {
    run_program(
        Command::new(HERALD).arg("check").arg("--config").arg(file),
        PROGRAM_TIMEOUT,
    )
}

fn check_text(text: &str) -> (String, ProgramOutput) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    (path.display().to_string(), check(&path))
}

fn assert_fails(out: &ProgramOutput, why: &str) {
    assert!(
        !out.status.success(),
        "{why} must fail `herald check`:\n{}{}",
        out.stdout,
        out.stderr
    );
}

fn assert_passes(out: &ProgramOutput) {
    assert!(
        out.status.success(),
        "herald check failed:\n{}{}",
        out.stdout,
        out.stderr
    );
}

/// The stderr line starting with `prefix`; panics naming what was printed otherwise.
fn line_starting<'o>(out: &'o ProgramOutput, prefix: &str) -> &'o str {
    out.stderr
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}`:\n{}", out.stderr))
}

/// A configuration in a temporary directory with its own `dialplans/` and `prompts/`.
struct Site {
    dir: tempfile::TempDir,
}

/// A route to `main.vxml` offering English and German.
const PLAN: &str = "[[route]]\nname = \"main\"\napplication = \"main.vxml\"\nlanguage = \"menu\"\nlanguages = [\"en\", \"de\"]\n";

/// Plays `prompt:hello` and ends.
const DOCUMENT: &str = "<?xml version=\"1.0\"?>\n<vxml version=\"2.1\" xmlns=\"http://www.w3.org/2001/vxml\">\n  <form>\n    <block><prompt><audio src=\"prompt:hello\"/></prompt></block>\n  </form>\n</vxml>\n";

impl Site {
    /// `PLAN` and `DOCUMENT`, with `hello` in `en/` and `de/`: a site that passes.
    fn new() -> Self {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        let config = format!(
            "[media]\nprompts = {:?}\n\n[ivr]\ndialplans = {:?}\n",
            site.path("prompts").display().to_string(),
            site.path("dialplans").display().to_string()
        );
        site.write("herald.toml", config.as_bytes());
        site.write("dialplans/default.toml", PLAN.as_bytes());
        site.write("dialplans/main.vxml", DOCUMENT.as_bytes());
        site.prompt("en/hello");
        site.prompt("de/hello");
        site
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, bytes: &[u8]) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A 10 ms, 8 kHz WAV prompt under `prompts/`.
    fn prompt(&self, name: &str) {
        let path = self.path(&format!("prompts/{name}.wav"));
        herald_testkit::wav::write_wav(&path, 8000, (0..80_i16).map(|i| i * 100));
    }

    fn check(&self) -> ProgramOutput {
        check(&self.path("herald.toml"))
    }

    fn shown(&self, relative: &str) -> String {
        self.path(relative).display().to_string()
    }
}

#[test]
fn unknown_key_is_an_error_with_its_position() {
    let (path, out) =
        check_text("[sip]\nlisten = [\"udp:127.0.0.1:5060\"]\ndomian = \"herald.test\"\n");
    assert_fails(&out, "a misspelt key");
    let line = line_starting(&out, &format!("{path}:3:1:"));
    assert!(line.contains("domian"), "the error names the key: {line}");
}

#[test]
fn unknown_ivr_key_is_an_error_with_its_position() {
    let (path, out) = check_text("[ivr]\nmax_step = 5\n");
    assert_fails(&out, "a misspelt [ivr] key");
    let line = line_starting(&out, &format!("{path}:2:1:"));
    assert!(
        line.contains("unknown key `max_step` in [ivr]"),
        "the error names the key: {line}"
    );
}

#[test]
fn bad_values_are_all_reported_with_their_positions() {
    let (path, out) = check_text(
        "data_dir = \"./data\"\n\n[media]\nrtp_port_min = 16385\ncodecs = [\"PCMU\", \"G729\"]\n",
    );
    assert_fails(&out, "invalid values");
    let line_for = |key: &str| {
        out.stderr
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no error naming `{key}`:\n{}", out.stderr))
            .to_owned()
    };
    let port = line_for("media.rtp_port_min");
    assert!(port.starts_with(&format!("{path}:4:")), "{port}");
    let codec = line_for("media.codecs[1]");
    assert!(codec.starts_with(&format!("{path}:5:")), "{codec}");
}

/// The example configuration leaves the dialplans and prompts to the search beside the build
/// (the test runs in the crate directory, which has neither): the repository's own.
#[test]
fn shipped_example_configuration_passes() {
    let out = check(&repo_root().join("herald.example.toml"));
    assert_passes(&out);
    assert!(out.stdout.contains("configuration OK"), "{}", out.stdout);
    assert!(out.stdout.contains("prompt(s) OK"), "{}", out.stdout);
    assert!(out.stdout.contains("route(s) OK"), "{}", out.stdout);
}

/// `herald check` without `--config`, from the repository root: the shipped dialplans, the
/// disclosure application and the prompts in every language the routes offer.
#[test]
fn embedded_defaults_from_the_repository_root_pass() {
    let root = repo_root();
    let out = run_program(
        Command::new(HERALD).arg("check").current_dir(&root),
        PROGRAM_TIMEOUT,
    );
    assert_passes(&out);
    assert!(
        out.stdout.contains("embedded defaults: configuration OK"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("dialplans/disclosure.vxml: VoiceXML OK")),
        "{}",
        out.stdout
    );
}

#[test]
fn a_good_dialplan_and_document_pass() {
    let site = Site::new();
    let out = site.check();
    assert_passes(&out);
    let expected = [
        format!("{}: 2 prompt(s) OK", site.shown("prompts")),
        format!("{}: 1 route(s) OK", site.shown("dialplans")),
        format!(
            "{}: VoiceXML OK (1 prompt(s) in 2 language(s))",
            site.shown("dialplans/main.vxml")
        ),
    ];
    for line in expected {
        assert!(
            out.stdout.lines().any(|l| l == line),
            "no `{line}`:\n{}",
            out.stdout
        );
    }
}

#[test]
fn undecodable_prompts_fail_the_check_naming_the_file() {
    let site = Site::new();
    site.write("prompts/de/broken.wav", b"RIFF\x10\x00\x00\x00WAVEjunk");
    let out = site.check();
    assert_fails(&out, "a broken prompt");
    assert!(
        out.stderr.contains("de/broken.wav") && out.stderr.contains("1 error(s)"),
        "the broken file is named, once:\n{}",
        out.stderr
    );
}

#[test]
fn a_document_error_fails_with_its_position() {
    let site = Site::new();
    let broken = DOCUMENT.replace("<block>", "<block>\n      <promt/>");
    site.write("dialplans/main.vxml", broken.as_bytes());
    let out = site.check();
    assert_fails(&out, "an unknown element");
    let line = line_starting(
        &out,
        &format!("{}:5:7: ", site.shown("dialplans/main.vxml")),
    );
    assert!(line.contains("<promt>"), "{line}");
    let malformed = DOCUMENT.replace("</form>", "</from>");
    site.write("dialplans/main.vxml", malformed.as_bytes());
    let out = site.check();
    assert_fails(&out, "malformed XML");
    let line = line_starting(
        &out,
        &format!("{}:5:3: ", site.shown("dialplans/main.vxml")),
    );
    assert!(line.contains("not well-formed XML"), "{line}");
}

#[test]
fn a_missing_referenced_document_fails_where_it_is_referenced() {
    let site = Site::new();
    let goto = DOCUMENT.replace("</block>", "<goto next=\"next.vxml\"/></block>");
    site.write("dialplans/main.vxml", goto.as_bytes());
    let out = site.check();
    assert_fails(&out, "a missing document");
    let line = line_starting(&out, &format!("{}:4:", site.shown("dialplans/main.vxml")));
    assert!(
        line.contains("<goto next=\"next.vxml\">") && line.contains("next.vxml: No such file"),
        "{line}"
    );
}

#[test]
fn a_dialplan_error_fails_with_its_position() {
    let site = Site::new();
    site.write(
        "dialplans/default.toml",
        PLAN.replace(
            "language = \"menu\"",
            "language = \"menu\"\nrecording = \"sometimes\"",
        )
        .as_bytes(),
    );
    let out = site.check();
    assert_fails(&out, "a bad recording policy");
    let line = line_starting(
        &out,
        &format!("{}:5:", site.shown("dialplans/default.toml")),
    );
    assert!(line.contains("sometimes"), "{line}");
    assert!(out.stderr.contains("1 error(s)"), "{}", out.stderr);
}

#[test]
fn a_prompt_missing_for_a_declared_language_fails_naming_both() {
    let site = Site::new();
    site.write(
        "dialplans/default.toml",
        PLAN.replace("[\"en\", \"de\"]", "[\"en\", \"de\", \"fr-FR\"]")
            .as_bytes(),
    );
    let out = site.check();
    assert_fails(&out, "a prompt missing in French");
    let line = line_starting(&out, &format!("{}:4:", site.shown("dialplans/main.vxml")));
    assert!(
        line.contains("prompt \"hello\" missing for language fr-FR (tried fr-fr/hello.wav"),
        "{line}"
    );
    assert!(out.stderr.contains("1 error(s)"), "{}", out.stderr);
}
