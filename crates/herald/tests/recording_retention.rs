//! Retention, legal holds and erasure on the real binary, with the clock under the test's
//! control (`herald retention sweep --at TIME`): a recorded call expires after its class's
//! period; two legal holds keep it (and refuse erasure, naming both cases) until both are
//! released; the sweep then crypto-shreds it: export becomes impossible, the blob is gone, and
//! the metadata records who erased it and why. Also `herald keys generate / list / rotate`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{HERALD, Herald, HeraldConfig, Sipp, TestDialplan, json, run_program, sipp_available};
use serde_json::Value;

/// Unix milliseconds as RFC 3339.
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// Runs `herald ARGS --config CONFIG`, expecting failure; its stderr.
fn cli_fails(config: &Path, args: &[&str]) -> String {
    let out = run_program(
        Command::new(HERALD).args(args).arg("--config").arg(config),
        Duration::from_secs(60),
    );
    assert!(
        !out.status.success(),
        "herald {args:?} succeeded:\n{}",
        out.stdout
    );
    out.stderr
}

fn sweep(herald: &Herald, at: i64, dry: bool) -> Value {
    let at = rfc3339(at);
    let mut args = vec!["retention", "sweep", "--json", "--at", &at];
    args.push(if dry { "--dry-run" } else { "--allow-future" });
    json(&herald.cli(&args))
}

fn erased(report: &Value) -> usize {
    report["erased"].as_array().map_or(0, Vec::len)
}

#[test]
fn holds_suspend_expiry_and_erasure_makes_a_recording_unreadable() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a test directory");
    let identity = dir.path().join("auditor.key");
    let herald_config = HeraldConfig {
        dialplan: TestDialplan::Application(common::RECORDED_WELCOME.to_owned()),
        ..HeraldConfig::default()
    };
    let herald = Herald::start_in(dir.path(), &herald_config);
    // The harness generated a recorder key before the first start; rotating adds a new one
    // (used by the running server within 30 s, or at once after a restart) and retires it.
    herald.cli(&["keys", "rotate", "--out", identity.to_str().unwrap()]);
    let keys = json(&herald.cli(&["keys", "list", "--json"]));
    let active: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["retired_at"].is_null())
        .collect();
    assert_eq!(active.len(), 1, "{keys}");
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&identity).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the private key file is owner-only");
    // The running server picks the new key up within its refresh interval; restart instead.
    let config = herald.config_path.clone();
    let data = herald.data_dir();
    drop(herald);
    let herald = Herald::start_in(dir.path(), &herald_config);

    Sipp::new("uac_media.xml")
        .set("rtp_port", "40000")
        .run(&herald)
        .assert_success("the caller");
    let recordings = herald.wait_for_recordings("a complete recording", |r| {
        r.iter().any(|r| r["state"] == "complete")
    });
    let recording = &recordings[0];
    let id = recording["id"].as_str().unwrap().to_owned();
    let ended = recording["ended_at"].as_i64().unwrap();
    let expires = recording["expires_at"].as_i64().unwrap();
    assert_eq!(recording["retention_class"], "voice");
    // 13 months after the end, in UTC calendar terms.
    let expected = jiff::Timestamp::from_millisecond(ended)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .checked_add(jiff::Span::new().months(13))
        .unwrap()
        .timestamp()
        .as_millisecond();
    assert_eq!(expires, expected);
    // It exports with the rotated-in key.
    let out = dir.path().join("export");
    herald.export(&id, &identity, &out);
    assert!(out.join(format!("{id}.wav")).is_file());

    // A sweep "as of" a future time is refused unless asked for explicitly.
    let refusal = cli_fails(
        &config,
        &["retention", "sweep", "--at", &rfc3339(expires + 1000)],
    );
    assert!(refusal.contains("in the future"), "{refusal}");
    // Not yet expired; then expired (dry run lists, erases nothing).
    assert_eq!(erased(&sweep(&herald, expires - 86_400_000, false)), 0);
    assert_eq!(erased(&sweep(&herald, expires + 1000, true)), 1);
    assert_eq!(herald.recordings()[0]["state"], "complete");

    // Two holds: expiry and erasure are suspended, and the refusal names both cases.
    for case in ["CASE-1", "CASE-2"] {
        herald.cli(&[
            "recordings",
            "hold",
            &id,
            "--case",
            case,
            "--reason",
            "litigation",
        ]);
    }
    assert_eq!(erased(&sweep(&herald, expires + 1000, false)), 0);
    let refusal = cli_fails(
        &config,
        &["recordings", "erase", &id, "--reason", "request"],
    );
    assert!(
        refusal.contains("CASE-1") && refusal.contains("CASE-2"),
        "{refusal}"
    );
    let details = json(&herald.cli(&["recordings", "show", &id, "--json"]));
    let holds: Vec<String> = details["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(holds.len(), 2, "{details}");

    // Releasing one hold is not enough.
    herald.cli(&[
        "recordings",
        "release",
        &holds[0],
        "--reason",
        "case closed",
    ]);
    assert_eq!(erased(&sweep(&herald, expires + 1000, false)), 0);
    herald.cli(&[
        "recordings",
        "release",
        &holds[1],
        "--reason",
        "case closed",
    ]);
    let report = sweep(&herald, expires + 1000, false);
    assert_eq!(erased(&report), 1, "{report}");

    // Crypto-shredded: metadata kept, keys and blob gone, export refused.
    let details = json(&herald.cli(&["recordings", "show", &id, "--json"]));
    assert_eq!(details["state"], "erased", "{details}");
    assert_eq!(details["erased_by"], "retention");
    assert!(
        details["erase_reason"].as_str().unwrap().contains("voice"),
        "{details}"
    );
    assert_eq!(details["key_ids"].as_array().map(Vec::len), Some(0));
    assert_eq!(details["call_id"], recording["call_id"]);
    let refusal = cli_fails(
        &config,
        &[
            "recordings",
            "export",
            &id,
            "--identity",
            identity.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(refusal.contains("erased"), "{refusal}");
    let blobs: Vec<PathBuf> = std::fs::read_dir(data.join("recordings"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .collect();
    assert!(blobs.is_empty(), "the blob is deleted: {blobs:?}");
}
