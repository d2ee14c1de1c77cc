//! The compliance API against live SIPp calls on the real binary: a CTI desk pauses and
//! resumes a call's recording (a gap with reason `api` in the recording, silence inside it),
//! a supervisor hangs up; a compliance officer finds the caller by phone number, exports
//! their data as an age-encrypted bundle the `age` tool opens, cannot delete it while it is
//! held, releases the hold with a second officer, deletes it, and the audit log shows it.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    ApiToken, Herald, HeraldConfig, Reply, Sipp, TestDialplan, age_keygen, sipp_available,
};
use herald_media::codec::g711::linear_to_ulaw;
use serde_json::{Value, json};

const CALLER: &str = "+33612345678";

fn tokens() -> Vec<ApiToken> {
    vec![
        ApiToken::new("desk", &["cti"]),
        ApiToken::new("floor", &["supervisor"]),
        ApiToken::new("dpo", &["compliance"]),
        ApiToken::new("dpo2", &["compliance"]),
        ApiToken::new("ops", &["admin"]),
    ]
}

fn token(name: &str) -> String {
    tokens()
        .into_iter()
        .find(|t| t.name == name)
        .map(|t| t.token)
        .expect("a configured token")
}

/// A Herald in `dir` that records to the age key `recipient` and may open recordings with
/// `identity` (a compliance deployment).
fn start(dir: &Path, identity: &Path, recipient: &str) -> Herald {
    let prompts = dir.join("prompts");
    std::fs::create_dir_all(&prompts).expect("a prompts directory");
    common::write_tone(&prompts.join("tone.wav"));
    let config = HeraldConfig {
        dialplan: TestDialplan::Application(common::RECORDED_TONE.to_owned()),
        media: vec![format!(
            "prompts = {}",
            common::toml_str(&prompts.display().to_string())
        )],
        extra: vec![format!(
            "[recorder]\nrecipients = [{}]",
            common::toml_str(recipient)
        )],
        api: vec![format!(
            "recording_identity = {}",
            common::toml_str(&identity.display().to_string())
        )],
        tokens: tokens(),
        ..HeraldConfig::default()
    };
    Herald::start_in(dir, &config)
}

/// Packet `n` of the caller's 440 Hz tone: PCMU, 160 samples.
fn tone_packet(n: u32) -> Vec<u8> {
    let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
    packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    packet[4..8].copy_from_slice(&(n * 160).to_be_bytes());
    for i in 0..160 {
        let t = f64::from(n * 160 + i) / 8000.0;
        packet.push(linear_to_ulaw(
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16,
        ));
    }
    packet
}

/// The caller's media: answers each of Herald's RTP packets with one of the tone, so both
/// directions run at Herald's pace; calls `at(n)` after the n-th packet, until it says stop.
fn converse(socket: &UdpSocket, mut at: impl FnMut(u32) -> bool) {
    let mut buf = [0u8; 2048];
    let mut n = 0;
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    loop {
        let (len, from): (usize, SocketAddr) = socket
            .recv_from(&mut buf)
            .expect("Herald's RTP keeps coming");
        // RTP only (version 2, not RTCP).
        if !common::is_rtp(&buf[..len]) {
            continue;
        }
        socket.send_to(&tone_packet(n), from).expect("send RTP");
        n += 1;
        if !at(n) {
            return;
        }
    }
}

fn ok(reply: &Reply, what: &str) -> Value {
    assert!(
        (200..300).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

/// Places one recorded call from `CALLER`, lets the test act at packet counts, and returns
/// the recording's id once it is complete.
fn recorded_call(herald: &Herald, mut at: impl FnMut(u32, &str) -> bool) -> String {
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("the caller's RTP socket");
    let rtp_port = rtp.local_addr().expect("local address").port();
    std::thread::scope(|scope| {
        let caller = scope.spawn(|| {
            Sipp::new("uac_media.xml")
                .caller(CALLER)
                .set("rtp_port", &rtp_port.to_string())
                .timeout(Duration::from_secs(60))
                .run(herald)
        });
        herald.wait_for_recordings("the call's recording", |r| {
            r.iter().any(|r| r["state"] == "recording")
        });
        let calls = ok(
            &herald.http("GET", "/api/v1/calls", Some(&token("desk")), None),
            "list",
        );
        let id = calls["active"][0]["id"]
            .as_str()
            .expect("a live call")
            .to_owned();
        converse(&rtp, |n| at(n, &id));
        caller
            .join()
            .expect("SIPp ran")
            .assert_success("the caller");
    });
    let recordings = herald.wait_for_recordings("a complete recording", |r| {
        r.iter().any(|r| r["state"] == "complete")
    });
    recordings[0]["id"].as_str().expect("an id").to_owned()
}

fn read_wav(bytes: &[u8]) -> (u16, Vec<i16>, Vec<i16>) {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV");
    let channels = reader.spec().channels;
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .map(|s| s.expect("a sample"))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (channels, left, right)
}

fn loud_share(samples: &[i16]) -> f64 {
    let frames: Vec<&[i16]> = samples.chunks_exact(160).collect();
    let loud = frames
        .iter()
        .filter(|f| f.iter().map(|&s| i64::from(s).abs()).max().unwrap_or(0) > 2000)
        .count();
    loud as f64 / frames.len().max(1) as f64
}

#[test]
fn cti_pause_and_resume_make_an_api_gap_in_the_exported_recording() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a test directory");
    let Some((identity, recipient)) = age_keygen(dir.path()) else {
        return;
    };
    let herald = start(dir.path(), &identity, &recipient);
    let desk = token("desk");
    let mut paused = None;
    let id = recorded_call(&herald, |n, call| {
        let path = |action: &str| format!("/api/v1/calls/{call}/recording/{action}");
        let body = json!({ "reason": "customer reads card number" });
        match n {
            100 => {
                // A compliance officer is no CTI desk.
                let denied = herald.http("POST", &path("pause"), Some(&token("dpo")), Some(&body));
                assert_eq!((denied.status, denied.code().as_str()), (403, "forbidden"));
                let state = ok(
                    &herald.http("POST", &path("pause"), Some(&desk), Some(&body)),
                    "pause",
                );
                assert_eq!(state["paused_for"], json!(["api"]), "{state}");
                let again = herald.http("POST", &path("pause"), Some(&desk), Some(&body));
                assert_eq!(
                    again.status,
                    409,
                    "{}",
                    String::from_utf8_lossy(&again.body)
                );
                paused = Some(state);
            }
            250 => {
                let state = ok(
                    &herald.http("POST", &path("resume"), Some(&desk), Some(&body)),
                    "resume",
                );
                assert_eq!(state["paused_for"], json!([]), "{state}");
            }
            400 => {
                // The supervisor ends the call; Herald's BYE ends SIPp's scenario.
                let hangup = format!("/api/v1/calls/{call}/hangup");
                let denied = herald.http("POST", &hangup, Some(&desk), None);
                assert_eq!(denied.status, 403);
                ok(
                    &herald.http("POST", &hangup, Some(&token("floor")), None),
                    "hangup",
                );
                return false;
            }
            _ => {}
        }
        true
    });
    assert!(paused.is_some());

    let details = ok(
        &herald.http(
            "GET",
            &format!("/api/v1/recordings/{id}"),
            Some(&token("dpo")),
            None,
        ),
        "show",
    );
    let gaps = details["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{details}");
    assert_eq!(gaps[0]["reason"], "api", "{details}");
    assert_eq!(gaps[0]["actor"], "api:desk", "{details}");
    let (start, end) = (
        gaps[0]["start_position"].as_u64().expect("start") as usize,
        gaps[0]["end_position"].as_u64().expect("the gap closed") as usize,
    );
    // 150 packets of 20 ms between pause and resume, give or take the requests' time.
    assert!((2 * 8000..4 * 8000).contains(&(end - start)), "{details}");

    // No purpose, no audio; with one, the audit entry comes first.
    let audio = format!("/api/v1/recordings/{id}/audio");
    let refused = herald.http("POST", &audio, Some(&token("dpo")), Some(&json!({})));
    assert_eq!(
        refused.status,
        422,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let denied = herald.http(
        "POST",
        &audio,
        Some(&token("floor")),
        Some(&json!({ "purpose": "curious" })),
    );
    assert_eq!(denied.status, 403);
    let wav = herald.http(
        "POST",
        &audio,
        Some(&token("dpo")),
        Some(&json!({ "purpose": "complaint 4711" })),
    );
    assert_eq!(wav.status, 200, "{}", String::from_utf8_lossy(&wav.body));
    assert_eq!(wav.content_type, "audio/wav");
    let (channels, left, right) = read_wav(&wav.body);
    assert_eq!(channels, 2);
    let end_of = |v: &[i16], to: usize| v[..to.min(v.len())].to_vec();
    let between =
        |v: &[i16], from: usize, to: usize| v[from.min(v.len())..to.min(v.len())].to_vec();
    for (channel, samples) in [("the caller", &left), ("Herald", &right)] {
        let inside = between(samples, start, end);
        let heard: Vec<usize> = inside
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != 0)
            .map(|(i, _)| i)
            .collect();
        assert!(
            heard.is_empty(),
            "{channel} was recorded while paused: {} samples, first {:?} last {:?} of {} (gap {start}..{end})",
            heard.len(),
            heard.first(),
            heard.last(),
            inside.len()
        );
    }
    // The caller's tone is there before the pause and again after it (past the jitter guard).
    assert!(
        loud_share(&end_of(&left, start)[8000..]) > 0.9,
        "before the pause"
    );
    assert!(
        loud_share(&between(&left, end + 4000, left.len() - 4000)) > 0.9,
        "after the resumption"
    );

    let audit = ok(
        &herald.http(
            "GET",
            &format!("/api/v1/audit?target={id}"),
            Some(&token("ops")),
            None,
        ),
        "audit",
    );
    let audio_entry = audit
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "recording-audio")
        .unwrap_or_else(|| panic!("no audio entry: {audit}"));
    assert_eq!(audio_entry["purpose"], "complaint 4711");
    assert_eq!(audio_entry["actor"], "dpo");
    let pauses = ok(
        &herald.http(
            "GET",
            "/api/v1/audit?action=recording-pause",
            Some(&token("ops")),
            None,
        ),
        "audit",
    );
    // Both attempts are on record (the second was refused as already paused): the entry is
    // written before the call is touched.
    assert_eq!(pauses.as_array().map(Vec::len), Some(2), "{pauses}");
    assert!(
        pauses
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["purpose"] == "customer reads card number" && p["actor"] == "desk"),
        "{pauses}"
    );
}

#[test]
fn dsr_export_by_phone_number_opens_with_age_and_delete_waits_for_holds() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a test directory");
    let Some((identity, recipient)) = age_keygen(dir.path()) else {
        return;
    };
    let requester_dir = dir.path().join("requester");
    std::fs::create_dir_all(&requester_dir).expect("a directory");
    let (requester_key, requester) =
        age_keygen(&requester_dir).expect("age-keygen ran once already");
    let herald = start(dir.path(), &identity, &recipient);
    let id = recorded_call(&herald, |n, call| {
        if n < 150 {
            return true;
        }
        let hangup = format!("/api/v1/calls/{call}/hangup");
        ok(
            &herald.http("POST", &hangup, Some(&token("floor")), None),
            "hangup",
        );
        false
    });
    let dpo = token("dpo");

    // The subject, found by the caller's number written another way.
    let found = ok(
        &herald.http(
            "GET",
            "/api/v1/subjects?phone=0033%206%2012%2034%2056%2078",
            Some(&dpo),
            None,
        ),
        "subjects",
    );
    assert_eq!(found["recordings"][0]["id"], id.as_str(), "{found}");
    assert_eq!(found["calls"].as_array().map(Vec::len), Some(1), "{found}");
    let denied = herald.http(
        "GET",
        &format!("/api/v1/subjects?phone={}", "%2B33612345678"),
        Some(&token("floor")),
        None,
    );
    assert_eq!(denied.status, 403);

    // Export: filed, processed asynchronously, bundle encrypted to the requester.
    let filed = herald.http(
        "POST",
        "/api/v1/dsr/requests",
        Some(&dpo),
        Some(&json!({ "type": "export", "subject": { "phone": CALLER }, "recipient": requester, "reason": "ticket 1" })),
    );
    assert_eq!(
        filed.status,
        202,
        "{}",
        String::from_utf8_lossy(&filed.body)
    );
    let request = filed.json();
    let request_id = request["id"].as_str().expect("an id").to_owned();
    assert!(
        request["deadline_at"].as_i64() > request["created_at"].as_i64(),
        "{request}"
    );
    herald.wait_for_log(&format!("request={request_id}"));
    let done = ok(
        &herald.http(
            "GET",
            &format!("/api/v1/dsr/requests/{request_id}"),
            Some(&dpo),
            None,
        ),
        "status",
    );
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        done["parameters"],
        json!({}),
        "personal parameters are cleared: {done}"
    );
    let bundle = herald.http(
        "GET",
        &format!("/api/v1/dsr/requests/{request_id}/bundle"),
        Some(&dpo),
        None,
    );
    assert_eq!(bundle.status, 200);
    let sealed = dir.path().join("bundle.tar.age");
    std::fs::write(&sealed, &bundle.body).expect("write the bundle");
    let out = Command::new("age")
        .args(["-d", "-i"])
        .arg(&requester_key)
        .arg(&sealed)
        .output()
        .expect("run age");
    assert!(
        out.status.success(),
        "age -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut archive = tar::Archive::new(std::io::Cursor::new(out.stdout));
    let mut names = Vec::new();
    let mut wav = Vec::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let name = entry.path().expect("a name").display().to_string();
        if name.ends_with(".wav") {
            std::io::Read::read_to_end(&mut entry, &mut wav).expect("read the WAV");
        }
        names.push(name);
    }
    assert!(names.contains(&format!("recordings/{id}.wav")), "{names:?}");
    assert!(
        names.contains(&format!("recordings/{id}.json")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.ends_with(".transcript.json")),
        "{names:?}"
    );
    assert!(names.contains(&"manifest.json".to_owned()), "{names:?}");
    let (channels, left, _) = read_wav(&wav);
    assert_eq!(channels, 2);
    assert!(
        loud_share(&left) > 0.5,
        "the caller's audio is in the bundle"
    );
    // The bundle is no use without the requester's key.
    let wrong = Command::new("age")
        .args(["-d", "-i"])
        .arg(&identity)
        .arg(&sealed)
        .output()
        .expect("run age");
    assert!(!wrong.status.success());

    // The same from the command line: the subject, and an export processed at once.
    let subject: Value = serde_json::from_str(&herald.cli(&[
        "dsr",
        "subjects",
        "--phone",
        "+33 6 12 34 56 78",
        "--json",
        "--by",
        "dpo-cli",
    ]))
    .expect("JSON");
    assert_eq!(subject["recordings"][0]["id"], id.as_str(), "{subject}");
    let identity_arg = identity.display().to_string();
    let cli_export: Value = serde_json::from_str(
        herald
            .cli(&[
                "dsr",
                "request",
                "--type",
                "export",
                "--phone",
                CALLER,
                "--recipient",
                &requester,
                "--reason",
                "ticket 2",
                "--by",
                "dpo-cli",
                "--wait",
                "--identity",
                &identity_arg,
                "--json",
            ])
            .trim(),
    )
    .expect("JSON");
    assert_eq!(cli_export["state"], "done", "{cli_export}");
    assert_eq!(cli_export["result"]["recordings"], 1, "{cli_export}");
    let status = herald.cli(&["dsr", "status", cli_export["id"].as_str().expect("an id")]);
    assert!(status.contains("export done"), "{status}");

    // Delete while held: refused, nothing erased.
    let hold = ok(
        &herald.http(
            "POST",
            &format!("/api/v1/recordings/{id}/holds"),
            Some(&dpo),
            Some(&json!({ "case_ref": "CASE-9", "reason": "litigation" })),
        ),
        "hold",
    );
    let hold_id = hold["hold_id"].as_str().expect("a hold id").to_owned();
    let delete =
        json!({ "type": "delete", "subject": { "phone": CALLER }, "reason": "erasure request" });
    let refused = ok(
        &herald.http("POST", "/api/v1/dsr/requests", Some(&dpo), Some(&delete)),
        "file delete",
    );
    let refused_id = refused["id"].as_str().expect("an id").to_owned();
    herald.wait_for_log(&format!("request={refused_id}"));
    let refused = ok(
        &herald.http(
            "GET",
            &format!("/api/v1/dsr/requests/{refused_id}"),
            Some(&dpo),
            None,
        ),
        "status",
    );
    assert_eq!(refused["state"], "refused", "{refused}");
    assert!(
        refused["error"].as_str().unwrap_or("").contains("CASE-9"),
        "{refused}"
    );
    let still = ok(
        &herald.http("GET", &format!("/api/v1/recordings/{id}"), Some(&dpo), None),
        "show",
    );
    assert_eq!(still["state"], "complete");

    // Two-person release: the same officer cannot complete it, a second one can.
    let release = format!("/api/v1/holds/{hold_id}/release");
    let body = json!({ "reason": "case closed" });
    let first = herald.http("POST", &release, Some(&dpo), Some(&body));
    assert_eq!(
        first.status,
        202,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let same = herald.http("POST", &release, Some(&dpo), Some(&body));
    assert_eq!(same.status, 409, "{}", String::from_utf8_lossy(&same.body));
    let second = herald.http("POST", &release, Some(&token("dpo2")), Some(&body));
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );

    let deleted = ok(
        &herald.http("POST", "/api/v1/dsr/requests", Some(&dpo), Some(&delete)),
        "file delete",
    );
    let deleted_id = deleted["id"].as_str().expect("an id").to_owned();
    herald.wait_for_log(&format!("request={deleted_id}"));
    let deleted = ok(
        &herald.http(
            "GET",
            &format!("/api/v1/dsr/requests/{deleted_id}"),
            Some(&dpo),
            None,
        ),
        "status",
    );
    assert_eq!(deleted["state"], "done", "{deleted}");
    let erased = ok(
        &herald.http("GET", &format!("/api/v1/recordings/{id}"), Some(&dpo), None),
        "show",
    );
    assert_eq!(erased["state"], "erased", "{erased}");
    assert_eq!(erased["caller"], "anonymized", "{erased}");
    let audio = herald.http(
        "POST",
        &format!("/api/v1/recordings/{id}/audio"),
        Some(&dpo),
        Some(&json!({ "purpose": "check" })),
    );
    assert_eq!((audio.status, audio.code().as_str()), (409, "erased"));
    let export = herald.cli_result(&[
        "recordings",
        "export",
        &id,
        "--identity",
        &identity.display().to_string(),
        "--out",
        &dir.path().join("x").display().to_string(),
    ]);
    assert!(!export.0, "the CLI export of an erased recording fails");
    // The subject is gone from the index; the audit log shows the deletion.
    let gone = ok(
        &herald.http(
            "GET",
            &format!("/api/v1/subjects?phone={}", "%2B33612345678"),
            Some(&dpo),
            None,
        ),
        "subjects",
    );
    assert_eq!(gone["calls"], json!([]), "{gone}");
    let audit = ok(
        &herald.http("GET", "/api/v1/audit?action=dsr-delete", Some(&dpo), None),
        "audit",
    );
    let outcomes: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["done", "refused"], "{audit}");
    let verified = ok(
        &herald.http("GET", "/api/v1/audit/verify", Some(&dpo), None),
        "verify",
    );
    assert_eq!(verified["intact"], true, "{verified}");
}
