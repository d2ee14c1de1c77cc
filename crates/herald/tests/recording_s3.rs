//! Recording on the deployment Herald scales out with: metadata in a real PostgreSQL server,
//! blobs in a real S3-compatible object store (`s3s-fs`, which checks request signatures),
//! both started by the test on loopback. A recorded call's object lands in the bucket (the
//! local spool is gone), verifies without any key and exports with the recorder key.

mod common;

use common::{Herald, HeraldConfig, Sipp, TestDialplan, files_under, sipp_available, toml_str};
use herald_testkit::{PostgresServer, S3Server};
use serde_json::Value;

#[test]
fn a_call_recorded_to_s3_with_postgresql_metadata_verifies_and_exports() {
    if !sipp_available() {
        return;
    }
    let Some(pg) = PostgresServer::start_or_skip() else {
        return;
    };
    let Some(s3) = S3Server::start_or_skip() else {
        return;
    };
    let storage = format!(
        "[storage.s3]\nendpoint = {}\nallow_http = true\nregion = {}\naccess_key_id = {}\nsecret_access_key = {}",
        toml_str(&s3.endpoint()),
        toml_str(S3Server::REGION),
        toml_str(S3Server::ACCESS_KEY_ID),
        toml_str(S3Server::SECRET_ACCESS_KEY),
    );
    let herald = Herald::start(&HeraldConfig {
        database: Some(pg.url()),
        recordings: Some(format!("s3://{}/site-a", S3Server::BUCKET)),
        dialplan: TestDialplan::Application(common::RECORDED_WELCOME.to_owned()),
        extra: vec![storage],
        ..HeraldConfig::default()
    });
    Sipp::new("uac_media.xml")
        .set("rtp_port", "40000")
        .run(&herald)
        .assert_success("the caller");
    let recordings = herald.wait_for_recordings("a complete recording", |r| {
        r.iter().any(|r| r["state"] == "complete")
    });
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    let recording = &recordings[0];
    let id = recording["id"].as_str().unwrap();
    let blob = recording["blob"].as_str().unwrap();
    assert!(blob.starts_with("s3://herald-test/site-a/"), "{blob}");

    // The object is in the bucket, the spool is empty, and nothing is in a local directory.
    let key = blob.trim_start_matches("s3://herald-test/");
    let object = s3.object_path(S3Server::BUCKET, key);
    let stored = std::fs::read(&object).unwrap_or_else(|e| panic!("{}: {e}", object.display()));
    assert_eq!(stored.len() as u64, recording["bytes"].as_u64().unwrap());
    assert!(stored.starts_with(b"HERALDREC"));
    let data = herald.data_dir();
    assert!(
        files_under(&data.join("spool")).is_empty(),
        "the spool is emptied"
    );
    assert!(
        !data.join("recordings").exists(),
        "no local recordings directory"
    );

    let verified: Value =
        serde_json::from_str(&herald.cli(&["recordings", "verify", id, "--json"])).unwrap();
    assert_eq!(verified["intact"], true, "{verified}");
    let identity = herald.recorder_key();
    let out = data.join("export");
    herald.export(id, &identity, &out);
    let wav = hound::WavReader::open(out.join(format!("{id}.wav"))).expect("the WAV");
    assert_eq!(wav.spec().channels, 2);
    let seconds = f64::from(wav.duration()) / 8000.0;
    let expected = recording["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        (seconds - expected).abs() < 0.1,
        "{seconds} s exported, {expected} s recorded"
    );
    assert!(seconds > 1.0, "{seconds} s");
}
