//! Recordings, their wrapped keys, gaps and evidence, lookups and recorder keys, against SQLite
//! (a file in a temporary directory) and a real PostgreSQL server (started by herald-testkit).
//! Without PostgreSQL installed the PostgreSQL half is skipped with a message, unless `CI` is
//! set, where it fails.

use herald_store::{
    FinalState, FinishedRecording, NewRecordingEvidence, NewRecordingGap, RecorderKey,
    RecordingEvidence, RecordingFilter, RecordingRecord, RecordingState, StoreError,
};

mod support;

use support::{DAY, T0, TestDb, connect, finished, new_recording, rec_id, record};

on_both_backends!(
    recording_lifecycle_round_trips_every_column,
    wrapped_keys_round_trip_as_bytes,
    a_recording_finishes_only_once,
    open_recordings_are_the_unfinished_ones,
    gaps_and_evidence_are_numbered_in_order,
    recordings_are_found_by_prefix_and_filtered,
    recorder_keys_are_added_retired_and_rotated,
);

async fn recording_lifecycle_round_trips_every_column(db: &TestDb) {
    let store = connect(db).await;
    let new = new_recording(&rec_id("a1"), T0);
    store.insert_recording(&new).await.unwrap();
    let mut bare = new_recording(&rec_id("b2"), T0 + 1);
    bare.call_id = None;
    bare.node_key = None;
    store.insert_recording(&bare).await.unwrap();

    let fresh = record(&store, &new.id).await;
    let expected_fresh = RecordingRecord {
        id: new.id.clone(),
        call_id: new.call_id.clone(),
        caller: new.caller.clone(),
        callee: new.callee.clone(),
        blob: new.blob.clone(),
        codec: "pcmu".to_owned(),
        sample_rate: 8000,
        channels: "caller,herald".to_owned(),
        started_at: T0,
        ended_at: None,
        duration_ms: None,
        segments: None,
        bytes: None,
        state: RecordingState::Recording,
        consent: "accepted".to_owned(),
        retention_class: "voice-13m".to_owned(),
        expires_at: None,
        digest: None,
        node_key: Some("node-1".to_owned()),
        erased_at: None,
        erased_by: None,
        erase_reason: None,
    };
    assert_eq!(fresh, expected_fresh);
    let bare_record = record(&store, &bare.id).await;
    assert_eq!((bare_record.call_id, bare_record.node_key), (None, None));

    let done = finished(FinalState::Complete, T0 + 61_000, Some(T0 + 395 * DAY));
    store.finish_recording(&new.id, &done).await.unwrap();
    let expected = RecordingRecord {
        ended_at: Some(T0 + 61_000),
        duration_ms: Some(61_000),
        segments: Some(61),
        bytes: Some(987_654),
        state: RecordingState::Complete,
        expires_at: Some(T0 + 395 * DAY),
        digest: Some("ab".repeat(32)),
        ..expected_fresh
    };
    assert_eq!(record(&store, &new.id).await, expected);
    assert_eq!(
        store.recording_state(&new.id).await.unwrap(),
        Some(RecordingState::Complete)
    );

    // Duplicates and key-less recordings are refused, and leave nothing behind.
    assert!(matches!(
        store.insert_recording(&new).await,
        Err(StoreError::RecordingExists(id)) if id == new.id
    ));
    let mut keyless = new_recording(&rec_id("c3"), T0);
    keyless.wrapped_keys.clear();
    assert!(matches!(
        store.insert_recording(&keyless).await,
        Err(StoreError::NoWrappedKeys(_))
    ));
    assert!(store.recording(&keyless.id).await.unwrap().is_none());

    // Debug output is for logs: no numbers, no wrapped keys.
    let details = store.recording(&new.id).await.unwrap().unwrap();
    let debug = format!("{new:?} {expected:?} {details:?}");
    for secret in ["4930123456", "498912345", "age-wrapped"] {
        assert!(!debug.contains(secret), "{secret} leaks into {debug}");
    }
    // The CLI prints this JSON.
    let json = serde_json::to_value(&details).unwrap();
    assert_eq!(json["id"], new.id.as_str());
    assert_eq!(json["state"], "complete");
    assert_eq!(json["key_ids"], serde_json::json!(["k1"]));
}

async fn wrapped_keys_round_trip_as_bytes(db: &TestDb) {
    let store = connect(db).await;
    let mut new = new_recording(&rec_id("a1"), T0);
    let binary: Vec<u8> = (0..=255).collect();
    new.wrapped_keys = vec![
        ("k2".to_owned(), binary.clone()),
        (
            "k1".to_owned(),
            b"age-encryption.org/v1\n-> X25519 abc\n".to_vec(),
        ),
    ];
    store.insert_recording(&new).await.unwrap();
    assert_eq!(
        store.wrapped_keys(&new.id).await.unwrap(),
        vec![
            (
                "k1".to_owned(),
                b"age-encryption.org/v1\n-> X25519 abc\n".to_vec()
            ),
            ("k2".to_owned(), binary),
        ]
    );
    let details = store.recording(&new.id).await.unwrap().unwrap();
    assert_eq!(details.key_ids, ["k1", "k2"]);
    assert_eq!(store.wrapped_keys("nobody").await.unwrap(), vec![]);
}

async fn a_recording_finishes_only_once(db: &TestDb) {
    let store = connect(db).await;
    let id = rec_id("a1");
    store
        .insert_recording(&new_recording(&id, T0))
        .await
        .unwrap();
    let first = finished(FinalState::Interrupted, T0 + 5_000, Some(T0 + DAY));
    store.finish_recording(&id, &first).await.unwrap();
    let second = finished(FinalState::Complete, T0 + 9_000, None);
    assert!(matches!(
        store.finish_recording(&id, &second).await,
        Err(StoreError::InvalidRecordingTransition {
            state: RecordingState::Interrupted,
            operation: "finish",
            ..
        })
    ));
    let stored = record(&store, &id).await;
    assert_eq!(
        (stored.state, stored.ended_at, stored.expires_at),
        (
            RecordingState::Interrupted,
            Some(T0 + 5_000),
            Some(T0 + DAY)
        ),
        "the second finish changed nothing"
    );
    assert!(matches!(
        store.finish_recording("nobody", &second).await,
        Err(StoreError::RecordingNotFound(id)) if id == "nobody"
    ));
    let too_big = FinishedRecording {
        bytes: u64::MAX,
        ..second
    };
    let other = rec_id("b2");
    store
        .insert_recording(&new_recording(&other, T0))
        .await
        .unwrap();
    assert!(matches!(
        store.finish_recording(&other, &too_big).await,
        Err(StoreError::OutOfRange { field: "bytes" })
    ));
    assert_eq!(
        record(&store, &other).await.state,
        RecordingState::Recording
    );
}

async fn open_recordings_are_the_unfinished_ones(db: &TestDb) {
    let store = connect(db).await;
    for (tail, at) in [
        ("a1", T0 + 30),
        ("b2", T0 + 10),
        ("c3", T0 + 20),
        ("d4", T0),
    ] {
        store
            .insert_recording(&new_recording(&rec_id(tail), at))
            .await
            .unwrap();
    }
    let done = finished(FinalState::Complete, T0 + 100, None);
    store.finish_recording(&rec_id("d4"), &done).await.unwrap();
    let cut = finished(FinalState::Interrupted, T0 + 100, None);
    store.finish_recording(&rec_id("c3"), &cut).await.unwrap();
    store
        .erase_recording(&rec_id("a1"), T0 + 200, "dpo", "objection")
        .await
        .unwrap();
    let open: Vec<String> = store
        .open_recordings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, [rec_id("b2")], "oldest first, only state recording");
}

async fn gaps_and_evidence_are_numbered_in_order(db: &TestDb) {
    let store = connect(db).await;
    let id = rec_id("a1");
    store
        .insert_recording(&new_recording(&id, T0))
        .await
        .unwrap();
    let gap = |at: i64, position: u64, reason: &str| NewRecordingGap {
        started_at: at,
        start_position: position,
        reason: reason.to_owned(),
        actor: "dialplan".to_owned(),
    };
    assert_eq!(
        store
            .add_recording_gap(&id, &gap(T0 + 5_000, 40_000, "pci"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .add_recording_gap(&id, &gap(T0 + 9_000, 72_000, "hold"))
            .await
            .unwrap(),
        2
    );
    store
        .close_recording_gap(&id, 1, T0 + 7_000, 56_000)
        .await
        .unwrap();
    assert!(matches!(
        store.close_recording_gap(&id, 1, T0 + 8_000, 64_000).await,
        Err(StoreError::GapNotOpen { seq: 1, .. })
    ));
    assert!(matches!(
        store.close_recording_gap(&id, 7, T0 + 8_000, 64_000).await,
        Err(StoreError::GapNotOpen { seq: 7, .. })
    ));
    assert!(matches!(
        store.add_recording_gap("nobody", &gap(T0, 0, "pci")).await,
        Err(StoreError::RecordingNotFound(_))
    ));

    let evidence = |prompt: &str, completed: bool, choice: Option<&str>| NewRecordingEvidence {
        at: T0 + 1_000,
        prompt: prompt.to_owned(),
        language: "de-DE".to_owned(),
        completed,
        choice: choice.map(str::to_owned),
    };
    let disclosure = evidence("recording-notice", true, None);
    let optout = evidence("opt-out-offer", false, Some("accept"));
    assert_eq!(
        store
            .add_recording_evidence(&id, &disclosure)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.add_recording_evidence(&id, &optout).await.unwrap(), 2);
    assert!(matches!(
        store.add_recording_evidence("nobody", &disclosure).await,
        Err(StoreError::RecordingNotFound(_))
    ));

    let stored = |seq: u64, new: NewRecordingEvidence| RecordingEvidence {
        seq,
        at: new.at,
        prompt: new.prompt,
        language: new.language,
        completed: new.completed,
        choice: new.choice,
    };
    let details = store.recording(&id).await.unwrap().unwrap();
    let gaps: Vec<_> = details
        .gaps
        .iter()
        .map(|g| {
            (
                g.seq,
                g.started_at,
                g.ended_at,
                g.start_position,
                g.end_position,
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            (1, T0 + 5_000, Some(T0 + 7_000), 40_000, Some(56_000)),
            (2, T0 + 9_000, None, 72_000, None)
        ]
    );
    assert_eq!(details.gaps[1].reason, "hold");
    assert_eq!(details.gaps[1].actor, "dialplan");
    assert_eq!(details.evidence, [stored(1, disclosure), stored(2, optout)]);
}

async fn recordings_are_found_by_prefix_and_filtered(db: &TestDb) {
    let store = connect(db).await;
    let ids = ["3f2a9c", "3f2a9c01", "3f7b00", "a1b2c3"].map(|p| format!("{p:0<32}"));
    for (i, id) in ids.iter().enumerate() {
        let mut new = new_recording(id, T0 + i as i64 * 1_000);
        new.caller = format!("+4930{i}");
        new.retention_class = if i % 2 == 0 { "voice-13m" } else { "mifid-5y" }.to_owned();
        store.insert_recording(&new).await.unwrap();
    }
    let found = |details: Option<herald_store::RecordingDetails>| details.map(|d| d.recording.id);
    assert_eq!(
        found(store.recording("3f7").await.unwrap()),
        Some(ids[2].clone())
    );
    assert_eq!(
        found(store.recording(&ids[0]).await.unwrap()),
        Some(ids[0].clone())
    );
    assert_eq!(
        found(store.recording("3f2a9c01").await.unwrap()),
        Some(ids[1].clone())
    );
    assert!(matches!(
        store.recording("3f2a9c").await,
        Err(StoreError::AmbiguousRecordingPrefix(p)) if p == "3f2a9c"
    ));
    assert!(matches!(
        store.recording("3f").await,
        Err(StoreError::AmbiguousRecordingPrefix(_))
    ));
    assert_eq!(found(store.recording("3F7").await.unwrap()), None);
    assert_eq!(found(store.recording("%").await.unwrap()), None);
    assert_eq!(found(store.recording("").await.unwrap()), None);

    store
        .finish_recording(&ids[3], &finished(FinalState::Complete, T0 + 9_000, None))
        .await
        .unwrap();
    let list = |filter: RecordingFilter| {
        let store = store.clone();
        async move {
            let records = store.recordings(&filter).await.unwrap();
            records.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    let all = list(RecordingFilter::default()).await;
    assert_eq!(
        all,
        [
            ids[3].clone(),
            ids[2].clone(),
            ids[1].clone(),
            ids[0].clone()
        ]
    );
    let window = RecordingFilter {
        started_from: Some(T0 + 1_000),
        started_before: Some(T0 + 3_000),
        ..RecordingFilter::default()
    };
    assert_eq!(list(window).await, [ids[2].clone(), ids[1].clone()]);
    let by_caller = RecordingFilter {
        caller: Some("+49302".to_owned()),
        ..RecordingFilter::default()
    };
    assert_eq!(list(by_caller.clone()).await, [ids[2].clone()]);
    assert!(!format!("{by_caller:?}").contains("+49302"));
    let by_callee = RecordingFilter {
        callee: Some("+498912345".to_owned()),
        limit: 2,
        ..RecordingFilter::default()
    };
    assert_eq!(list(by_callee).await, [ids[3].clone(), ids[2].clone()]);
    let complete = RecordingFilter {
        state: Some(RecordingState::Complete),
        ..RecordingFilter::default()
    };
    assert_eq!(list(complete).await, [ids[3].clone()]);
    let mifid = RecordingFilter {
        retention_class: Some("mifid-5y".to_owned()),
        state: Some(RecordingState::Recording),
        ..RecordingFilter::default()
    };
    assert_eq!(list(mifid).await, [ids[1].clone()]);
}

async fn recorder_keys_are_added_retired_and_rotated(db: &TestDb) {
    let store = connect(db).await;
    let key = |id: &str, created_at: i64| RecorderKey {
        id: id.to_owned(),
        public_key: format!("age1{id}qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"),
        label: format!("compliance {id}"),
        created_at,
        retired_at: None,
    };
    store.add_recorder_key(&key("k1", T0)).await.unwrap();
    store.add_recorder_key(&key("k2", T0 + 1)).await.unwrap();
    assert!(matches!(
        store.add_recorder_key(&key("k1", T0 + 2)).await,
        Err(StoreError::RecorderKeyExists(id)) if id == "k1"
    ));
    let same_public_key = RecorderKey {
        id: "k9".to_owned(),
        ..key("k2", T0 + 3)
    };
    assert!(matches!(
        store.add_recorder_key(&same_public_key).await,
        Err(StoreError::RecorderKeyExists(_))
    ));

    store.retire_recorder_key("k1", T0 + 10).await.unwrap();
    assert!(matches!(
        store.retire_recorder_key("k1", T0 + 11).await,
        Err(StoreError::RecorderKeyRetired(_))
    ));
    assert!(matches!(
        store.retire_recorder_key("nope", T0 + 11).await,
        Err(StoreError::RecorderKeyNotFound(_))
    ));

    store
        .rotate_recorder_key(&key("k3", T0 + 20), "k2", T0 + 20)
        .await
        .unwrap();
    // A rotation that cannot retire its old key adds nothing.
    assert!(matches!(
        store
            .rotate_recorder_key(&key("k4", T0 + 30), "k2", T0 + 30)
            .await,
        Err(StoreError::RecorderKeyRetired(_))
    ));
    let all = store.recorder_keys().await.unwrap();
    let summary: Vec<_> = all.iter().map(|k| (k.id.as_str(), k.retired_at)).collect();
    assert_eq!(
        summary,
        [("k1", Some(T0 + 10)), ("k2", Some(T0 + 20)), ("k3", None)]
    );
    assert_eq!(all[2], key("k3", T0 + 20));
    let active: Vec<_> = store
        .active_recorder_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(active, ["k3"]);
}
