//! `herald check`: bad configuration files fail with `FILE:LINE:COL:` errors naming the key;
//! the shipped example passes.

mod common;

use std::process::Command;

use common::{HERALD, PROGRAM_TIMEOUT, ProgramOutput, repo_root, run_program};

fn check(file: &std::path::Path) -> ProgramOutput {
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

#[test]
fn unknown_key_is_an_error_with_its_position() {
    let (path, out) =
        check_text("[sip]\nlisten = [\"udp:127.0.0.1:5060\"]\ndomian = \"herald.test\"\n");
    assert!(
        !out.status.success(),
        "a misspelt key must fail `herald check`:\n{}{}",
        out.stdout,
        out.stderr
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("{path}:3:1:")))
        .unwrap_or_else(|| {
            panic!("no `{path}:3:1:` error line:\n{}", out.stderr);
        });
    assert!(line.contains("domian"), "the error names the key: {line}");
}

#[test]
fn bad_values_are_all_reported_with_their_positions() {
    let (path, out) = check_text(
        "data_dir = \"./data\"\n\n[media]\nrtp_port_min = 16385\ncodecs = [\"PCMU\", \"G729\"]\n",
    );
    assert!(
        !out.status.success(),
        "invalid values must fail `herald check`:\n{}",
        out.stderr
    );
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

#[test]
fn shipped_example_configuration_passes() {
    let example = repo_root().join("herald.example.toml");
    let out = check(&example);
    assert!(
        out.status.success(),
        "herald check {} failed:\n{}{}",
        example.display(),
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("configuration OK"), "{}", out.stdout);
}

#[test]
fn undecodable_and_missing_prompts_fail_the_check_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(prompts.join("de")).unwrap();
    std::fs::write(
        prompts.join("de/broken.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunk",
    )
    .unwrap();
    std::fs::copy(
        repo_root().join("prompts/welcome.flac"),
        prompts.join("welcome.flac"),
    )
    .unwrap();
    let config = dir.path().join("herald.toml");
    let write = |greeting: &str| {
        std::fs::write(
            &config,
            format!(
                "[media]\nprompts = {:?}\ngreeting = {greeting:?}\n",
                prompts.display().to_string()
            ),
        )
        .unwrap()
    };
    write("welcome");
    let out = check(&config);
    assert!(!out.status.success(), "a broken prompt must fail the check");
    assert!(
        out.stderr.contains("de/broken.wav") && out.stderr.contains("1 error(s)"),
        "the broken file is named, once:\n{}",
        out.stderr
    );
    std::fs::remove_file(prompts.join("de/broken.wav")).unwrap();
    assert!(check(&config).status.success(), "{}", check(&config).stderr);
    write("en/missing");
    let out = check(&config);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("media.greeting") && out.stderr.contains("en/missing"),
        "the missing greeting is named:\n{}",
        out.stderr
    );
}

#[test]
fn the_shipped_prompts_pass_the_check() {
    let out = check(&repo_root().join("herald.example.toml"));
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("prompt(s) OK"), "{}", out.stdout);
}
