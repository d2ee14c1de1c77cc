//! RFC 4475 torture messages at parser level: every message parses or is rejected cleanly,
//! and where the expected answer is decided by one message alone (RFC 3261 §8.2 validation),
//! the status matches `expectations.tsv` (strict or tolerated). Stateful answers (481, 200,
//! 404, 401 ...) are checked on the wire by `tests/torture_wire.rs` at the workspace root.
//!
//! The messages live in `../shared/conformance/sip-torture` and are never copied here; the
//! test skips with a message when that folder is absent.

use std::path::PathBuf;

use herald_sip::message::{Framing, Message, parse_message};
use herald_sip::uas::{UasPolicy, check_request};

fn conformance_dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/sip-torture");
    dir.join("expectations.tsv").exists().then_some(dir)
}

/// What the codec and validator alone make of a message.
fn outcome(bytes: &[u8]) -> String {
    match parse_message(bytes, Framing::Datagram) {
        Err(e) => e.status().map_or("drop".to_owned(), |s| s.to_string()),
        Ok(Message::Response(_)) => "drop".to_owned(),
        Ok(Message::Request(r)) => match check_request(&r, &UasPolicy::default()) {
            Ok(_) => "valid".to_owned(),
            Err(rej) => rej.status.to_string(),
        },
    }
}

/// Statuses that validation alone decides.
const VALIDATION: &[&str] = &[
    "400", "405", "406", "415", "416", "420", "501", "505", "drop",
];

#[test]
fn rfc4475_messages_parse_or_fail_cleanly_with_the_expected_status() {
    let Some(dir) = conformance_dir() else {
        eprintln!("skipped: ../shared/conformance/sip-torture not found");
        return;
    };
    let table =
        std::fs::read_to_string(dir.join("expectations.tsv")).expect("expectations.tsv readable");
    let (mut passed, mut failed) = (0, Vec::new());
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, strict, also) = (cols[0], cols[3], cols.get(4).copied().unwrap_or("-"));
        let bytes = std::fs::read(dir.join(file)).expect("torture message readable");
        let got = outcome(&bytes);
        let tolerated: Vec<&str> = also.split(',').map(str::trim).collect();
        let ok = if VALIDATION.contains(&strict) {
            got == strict
                || tolerated.contains(&got.as_str())
                || (got == "valid"
                    && tolerated
                        .iter()
                        .any(|t| t.starts_with("accept") || t.starts_with("200")))
        } else if strict == "!400" {
            got != "400" && got != "drop"
        } else {
            // Decided later by endpoint state: validation must let it through, or reject it
            // with a status the table tolerates.
            got == "valid" || tolerated.contains(&got.as_str())
        };
        if ok {
            passed += 1;
        } else {
            failed.push(format!(
                "{file}: expected {strict} (also {also}), got {got}"
            ));
        }
    }
    println!(
        "torture (parser level): {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
