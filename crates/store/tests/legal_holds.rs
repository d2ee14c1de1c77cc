//! Legal holds, erasure (crypto-shredding) and retention, against SQLite and a real PostgreSQL
//! server, as in `recordings.rs`.

use herald_store::{
    EraseOutcome, FinalState, NewRecordingGap, RecordingRecord, RecordingState, ReleaseOutcome,
    StoreError,
};

mod support;

use support::{DAY, T0, TestDb, connect, finished, new_call, new_recording, rec_id, record};

on_both_backends!(
    a_subject_is_erased_all_or_nothing,
    several_holds_block_erasure_until_all_are_released,
    erasure_deletes_wrapped_keys_and_keeps_metadata,
    expired_list_honours_holds_and_state,
    concurrent_holds_and_erasures_never_erase_a_held_recording,
    two_people_release_a_hold_that_needs_two,
    one_approval_releases_at_once,
    concurrent_approvals_release_each_hold_once,
);

async fn several_holds_block_erasure_until_all_are_released(db: &TestDb) {
    let store = connect(db).await;
    let id = rec_id("a1");
    store
        .insert_recording(&new_recording(&id, T0))
        .await
        .unwrap();
    store
        .finish_recording(
            &id,
            &finished(FinalState::Complete, T0 + 1_000, Some(T0 + DAY)),
        )
        .await
        .unwrap();
    let first = store
        .place_hold(&id, "CASE-1", "litigation", "legal", T0 + 2_000)
        .await
        .unwrap();
    let second = store
        .place_hold(&id, "CASE-2", "regulator request", "legal", T0 + 3_000)
        .await
        .unwrap();
    assert_ne!(first, second);

    let refused = store.erase_recording(&id, T0 + 4_000, "dpo", "dsr").await;
    assert!(
        matches!(&refused, Err(StoreError::LegalHold { case_refs, .. }) if case_refs == &["CASE-1", "CASE-2"]),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("CASE-1, CASE-2"));

    store
        .release_hold(&first, "legal", "settled", T0 + 5_000)
        .await
        .unwrap();
    assert!(matches!(
        store.release_hold(&first, "legal", "again", T0 + 5_500).await,
        Err(StoreError::HoldReleased(h)) if h == first
    ));
    assert!(matches!(
        store.release_hold("no-such-hold", "legal", "x", T0).await,
        Err(StoreError::HoldNotFound(_))
    ));
    let details = store.recording(&id).await.unwrap().unwrap();
    assert!(details.held(), "one hold is still in force");
    assert_eq!(details.holds.len(), 2);
    assert_eq!(details.holds[0].released_by.as_deref(), Some("legal"));
    assert_eq!(details.holds[0].release_reason.as_deref(), Some("settled"));
    assert_eq!(details.holds[0].released_at, Some(T0 + 5_000));
    assert_eq!(details.holds[1].released_at, None);
    assert!(
        store
            .expired_recordings(T0 + 2 * DAY, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.erase_recording(&id, T0 + 6_000, "dpo", "dsr").await,
        Err(StoreError::LegalHold { case_refs, .. }) if case_refs == ["CASE-2"]
    ));

    // A third hold, then releasing everything: it may expire and be erased again.
    let third = store
        .place_hold(&id, "CASE-3", "audit", "legal", T0 + 6_500)
        .await
        .unwrap();
    for hold in [&second, &third] {
        store
            .release_hold(hold, "legal", "closed", T0 + 7_000)
            .await
            .unwrap();
    }
    assert!(!store.recording(&id).await.unwrap().unwrap().held());
    let expired = store.expired_recordings(T0 + 2 * DAY, 10).await.unwrap();
    assert_eq!(
        expired.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert_eq!(
        store
            .erase_recording(&id, T0 + 8_000, "retention", "expired")
            .await
            .unwrap(),
        EraseOutcome::Erased { keys_deleted: 1 }
    );
    assert!(matches!(
        store
            .place_hold(&id, "CASE-4", "late", "legal", T0 + 9_000)
            .await,
        Err(StoreError::InvalidRecordingTransition {
            state: RecordingState::Erased,
            ..
        })
    ));
    assert!(matches!(
        store
            .place_hold("nobody", "CASE-4", "late", "legal", T0)
            .await,
        Err(StoreError::RecordingNotFound(_))
    ));
}

async fn erasure_deletes_wrapped_keys_and_keeps_metadata(db: &TestDb) {
    let store = connect(db).await;
    let id = rec_id("a1");
    let mut new = new_recording(&id, T0);
    new.wrapped_keys.push(("k2".to_owned(), b"second".to_vec()));
    store.insert_recording(&new).await.unwrap();
    let other = rec_id("b2");
    store
        .insert_recording(&new_recording(&other, T0))
        .await
        .unwrap();
    let gap = NewRecordingGap {
        started_at: T0 + 10,
        start_position: 80,
        reason: "pci".to_owned(),
        actor: "dialplan".to_owned(),
    };
    store.add_recording_gap(&id, &gap).await.unwrap();

    assert_eq!(
        store
            .erase_recording(&id, T0 + 1_000, "dpo", "dsr-42")
            .await
            .unwrap(),
        EraseOutcome::Erased { keys_deleted: 2 }
    );
    assert_eq!(store.wrapped_keys(&id).await.unwrap(), vec![]);
    assert_eq!(
        store.wrapped_keys(&other).await.unwrap().len(),
        1,
        "other keys stay"
    );
    let details = store
        .recording(&id)
        .await
        .unwrap()
        .expect("the metadata row stays");
    assert_eq!(details.key_ids, Vec::<String>::new());
    assert_eq!(details.gaps.len(), 1);
    let erased = details.recording;
    assert_eq!(erased.state, RecordingState::Erased);
    assert_eq!(
        (
            erased.erased_at,
            erased.erased_by.as_deref(),
            erased.erase_reason.as_deref()
        ),
        (Some(T0 + 1_000), Some("dpo"), Some("dsr-42"))
    );
    assert_eq!(erased.blob, new.blob);

    // Idempotent: the first erasure's trail stays.
    assert_eq!(
        store
            .erase_recording(&id, T0 + 2_000, "other", "again")
            .await
            .unwrap(),
        EraseOutcome::AlreadyErased
    );
    assert_eq!(record(&store, &id).await.erased_by.as_deref(), Some("dpo"));
    // A recording erased mid-capture cannot be finished afterwards.
    assert!(matches!(
        store
            .finish_recording(&id, &finished(FinalState::Complete, T0 + 3_000, None))
            .await,
        Err(StoreError::InvalidRecordingTransition {
            state: RecordingState::Erased,
            ..
        })
    ));
    assert!(matches!(
        store.erase_recording("nobody", T0, "dpo", "x").await,
        Err(StoreError::RecordingNotFound(_))
    ));
}

async fn expired_list_honours_holds_and_state(db: &TestDb) {
    let store = connect(db).await;
    let now = T0 + 10 * DAY;
    // (tail, final state or None to keep recording, expires_at)
    let cases: [(&str, Option<FinalState>, Option<i64>); 7] = [
        ("a1", Some(FinalState::Complete), Some(now - DAY)),
        ("b2", Some(FinalState::Interrupted), Some(now - 2 * DAY)),
        ("c3", Some(FinalState::Complete), Some(now)),
        ("d4", Some(FinalState::Complete), Some(now + 1)),
        ("e5", None, None),
        ("f6", Some(FinalState::Complete), Some(now - 3 * DAY)),
        ("a7", Some(FinalState::Complete), None),
    ];
    for (tail, state, expires_at) in cases {
        let id = rec_id(tail);
        store
            .insert_recording(&new_recording(&id, T0))
            .await
            .unwrap();
        if let Some(state) = state {
            store
                .finish_recording(&id, &finished(state, T0 + 1_000, expires_at))
                .await
                .unwrap();
        }
    }
    // An erased recording with a past expiry, and a held one.
    let erased = rec_id("e8");
    store
        .insert_recording(&new_recording(&erased, T0))
        .await
        .unwrap();
    store
        .finish_recording(
            &erased,
            &finished(FinalState::Complete, T0, Some(now - DAY)),
        )
        .await
        .unwrap();
    store
        .erase_recording(&erased, T0 + DAY, "dpo", "dsr")
        .await
        .unwrap();
    let hold = store
        .place_hold(&rec_id("f6"), "CASE-9", "litigation", "legal", T0 + DAY)
        .await
        .unwrap();

    let ids = |records: Vec<RecordingRecord>| records.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.expired_recordings(now, 10).await.unwrap()),
        [rec_id("b2"), rec_id("a1"), rec_id("c3")],
        "oldest expiry first; expires_at == now counts"
    );
    assert_eq!(
        ids(store.expired_recordings(now, 2).await.unwrap()),
        [rec_id("b2"), rec_id("a1")]
    );
    assert!(store.expired_recordings(T0, 10).await.unwrap().is_empty());

    store
        .release_hold(&hold, "legal", "closed", now)
        .await
        .unwrap();
    assert_eq!(
        ids(store.expired_recordings(now, 10).await.unwrap()),
        [rec_id("f6"), rec_id("b2"), rec_id("a1"), rec_id("c3")],
        "a released hold lets it expire again"
    );
}

async fn concurrent_holds_and_erasures_never_erase_a_held_recording(db: &TestDb) {
    let store = connect(db).await;
    let ids: Vec<String> = (0..16).map(|i| rec_id(&format!("{i:02x}"))).collect();
    for id in &ids {
        store
            .insert_recording(&new_recording(id, T0))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for id in &ids {
        let (erasing, holding) = (store.clone(), store.clone());
        let (erase_id, hold_id) = (id.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            erasing
                .erase_recording(&erase_id, T0 + 1, "dpo", "dsr")
                .await
                .map(|_| ())
        }));
        tasks.push(tokio::spawn(async move {
            holding
                .place_hold(&hold_id, "CASE-R", "race", "legal", T0 + 1)
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            Ok(())
            | Err(StoreError::LegalHold { .. })
            | Err(StoreError::InvalidRecordingTransition { .. }) => {}
            Err(other) => panic!("unexpected failure: {other:?}"),
        }
    }
    for id in &ids {
        let details = store.recording(id).await.unwrap().unwrap();
        let erased = details.recording.state == RecordingState::Erased;
        assert!(
            erased != details.held(),
            "{id}: erased {erased}, held {}",
            details.held()
        );
        assert_eq!(erased, details.key_ids.is_empty());
    }
}

async fn two_people_release_a_hold_that_needs_two(db: &TestDb) {
    let store = connect(db).await;
    let id = rec_id("a1");
    store
        .insert_recording(&new_recording(&id, T0))
        .await
        .unwrap();
    let hold = store
        .place_hold(&id, "CASE-1", "litigation", "legal", T0 + 1_000)
        .await
        .unwrap();
    let placed = store
        .hold(&hold)
        .await
        .unwrap()
        .expect("the hold is stored");
    assert_eq!(
        (
            placed.release_requested_by,
            placed.release_requested_at,
            placed.release_request_reason
        ),
        (None, None, None)
    );

    assert_eq!(
        store
            .release_hold_with(&hold, "alice", "case closed", T0 + 2_000, 2)
            .await
            .unwrap(),
        ReleaseOutcome::AwaitingSecond {
            requested_by: "alice".to_owned()
        }
    );
    let requested = store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(requested.release_requested_by.as_deref(), Some("alice"));
    assert_eq!(requested.release_requested_at, Some(T0 + 2_000));
    assert_eq!(
        requested.release_request_reason.as_deref(),
        Some("case closed")
    );
    assert_eq!(requested.released_at, None, "still in force");
    assert!(matches!(
        store.erase_recording(&id, T0 + 2_500, "dpo", "dsr").await,
        Err(StoreError::LegalHold { case_refs, .. }) if case_refs == ["CASE-1"]
    ));

    let same = store
        .release_hold_with(&hold, "alice", "really", T0 + 3_000, 2)
        .await;
    assert!(
        matches!(&same, Err(StoreError::SameApprover { hold_id, by }) if hold_id == &hold && by == "alice"),
        "{same:?}"
    );
    assert!(
        same.unwrap_err()
            .to_string()
            .contains("second, different person")
    );
    assert_eq!(store.hold(&hold).await.unwrap().unwrap().released_at, None);

    assert_eq!(
        store
            .release_hold_with(&hold, "bob", "", T0 + 4_000, 2)
            .await
            .unwrap(),
        ReleaseOutcome::Released
    );
    let released = store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(released.released_at, Some(T0 + 4_000));
    assert_eq!(released.released_by.as_deref(), Some("alice+bob"));
    assert_eq!(
        released.release_reason.as_deref(),
        Some("case closed"),
        "the second gave no reason: the first's"
    );
    assert_eq!(released.release_requested_by.as_deref(), Some("alice"));
    assert_eq!(store.holds(&id).await.unwrap(), [released]);

    assert!(matches!(
        store.release_hold_with(&hold, "carol", "x", T0 + 5_000, 2).await,
        Err(StoreError::HoldReleased(h)) if h == hold
    ));
    assert!(matches!(
        store.release_hold_with("nobody-h1", "carol", "x", T0, 2).await,
        Err(StoreError::HoldNotFound(h)) if h == "nobody-h1"
    ));
    assert_eq!(store.hold("nobody-h1").await.unwrap(), None);
    assert_eq!(
        store
            .erase_recording(&id, T0 + 6_000, "dpo", "dsr")
            .await
            .unwrap(),
        EraseOutcome::Erased { keys_deleted: 1 }
    );

    // The second's own reason wins when given.
    let other = rec_id("b2");
    store
        .insert_recording(&new_recording(&other, T0))
        .await
        .unwrap();
    let hold = store
        .place_hold(&other, "CASE-2", "audit", "legal", T0)
        .await
        .unwrap();
    store
        .release_hold_with(&hold, "bob", "audit over", T0 + 1, 2)
        .await
        .unwrap();
    store
        .release_hold_with(&hold, "alice", "confirmed with counsel", T0 + 2, 2)
        .await
        .unwrap();
    let released = store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(
        (
            released.released_by.as_deref(),
            released.release_reason.as_deref()
        ),
        (Some("bob+alice"), Some("confirmed with counsel"))
    );
}

async fn one_approval_releases_at_once(db: &TestDb) {
    let store = connect(db).await;
    let id = rec_id("a1");
    store
        .insert_recording(&new_recording(&id, T0))
        .await
        .unwrap();
    let hold = store
        .place_hold(&id, "CASE-1", "litigation", "legal", T0)
        .await
        .unwrap();
    assert!(matches!(
        store
            .release_hold_with(&hold, "alice", "x", T0 + 1, 3)
            .await,
        Err(StoreError::OutOfRange { field: "approvals" })
    ));
    assert_eq!(
        store
            .release_hold_with(&hold, "alice", "settled", T0 + 2, 1)
            .await
            .unwrap(),
        ReleaseOutcome::Released
    );
    let released = store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(
        (
            released.released_at,
            released.released_by.as_deref(),
            released.release_reason.as_deref(),
            released.release_requested_by.as_deref()
        ),
        (Some(T0 + 2), Some("alice"), Some("settled"), None)
    );
    assert!(matches!(
        store
            .release_hold_with(&hold, "bob", "again", T0 + 3, 1)
            .await,
        Err(StoreError::HoldReleased(_))
    ));
    assert!(matches!(
        store.release_hold(&hold, "bob", "again", T0 + 3).await,
        Err(StoreError::HoldReleased(_))
    ));
    assert!(!store.recording(&id).await.unwrap().unwrap().held());
}

async fn concurrent_approvals_release_each_hold_once(db: &TestDb) {
    let store = connect(db).await;
    let mut holds = Vec::new();
    for i in 0..8 {
        let id = rec_id(&format!("{i:02x}"));
        store
            .insert_recording(&new_recording(&id, T0))
            .await
            .unwrap();
        holds.push(
            store
                .place_hold(&id, "CASE-C", "race", "legal", T0)
                .await
                .unwrap(),
        );
    }
    let mut tasks = Vec::new();
    for hold in &holds {
        for by in ["alice", "bob"] {
            let (store, hold) = (store.clone(), hold.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .release_hold_with(&hold, by, "done", T0 + 1, 2)
                    .await
                    .unwrap()
            }));
        }
    }
    let mut released = 0;
    for task in tasks {
        if task.await.unwrap() == ReleaseOutcome::Released {
            released += 1;
        }
    }
    assert_eq!(released, holds.len(), "one release per hold, by the second");
    for hold in &holds {
        let hold = store.hold(hold).await.unwrap().unwrap();
        let by = hold.released_by.expect("released");
        assert!(by == "alice+bob" || by == "bob+alice", "{by}");
    }
}

async fn a_subject_is_erased_all_or_nothing(db: &TestDb) {
    let store = connect(db).await;
    let (a, b, c) = (rec_id("e1"), rec_id("e2"), rec_id("e3"));
    for (id, class) in [(&a, "voice-13m"), (&b, "voice-13m"), (&c, "mifid")] {
        let mut recording = new_recording(id, T0);
        recording.retention_class = class.to_owned();
        store.insert_recording(&recording).await.unwrap();
        store
            .finish_recording(
                id,
                &finished(FinalState::Complete, T0 + 1_000, Some(T0 + DAY)),
            )
            .await
            .unwrap();
        store
            .insert_call(&new_call(&format!("call-{id}"), T0))
            .await
            .unwrap();
    }
    let calls = vec![format!("call-{a}"), format!("call-{b}")];
    let protected = vec!["mifid".to_owned()];
    let when = (T0 + 5_000, "dsr:1", "erasure request");
    let hold = store
        .place_hold(&b, "CASE-7", "litigation", "legal", T0 + 2_000)
        .await
        .unwrap();

    // One held recording, one kept by law: refused as a whole, naming both; nothing changed.
    let refused = store
        .erase_subject(&[a.clone(), b.clone(), c.clone()], &calls, when, &protected)
        .await;
    let Err(StoreError::ErasureRefused(reasons)) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("CASE-7") && reasons[1].contains("mifid"),
        "{reasons:?}"
    );
    for id in [&a, &b, &c] {
        assert_eq!(
            store.recording_state(id).await.unwrap(),
            Some(RecordingState::Complete)
        );
    }
    assert_ne!(
        store.call(&calls[0]).await.unwrap().unwrap().call.caller,
        "anonymized"
    );

    store
        .release_hold(&hold, "legal", "settled", T0 + 3_000)
        .await
        .unwrap();
    let erased = store
        .erase_subject(&[b.clone(), a.clone(), a.clone()], &calls, when, &protected)
        .await
        .unwrap();
    assert_eq!(erased.recordings_erased, [a.clone(), b.clone()]);
    assert_eq!(erased.calls_anonymized, 2);
    for id in [&a, &b] {
        assert_eq!(
            store.recording_state(id).await.unwrap(),
            Some(RecordingState::Erased)
        );
        assert!(store.wrapped_keys(id).await.unwrap().is_empty());
    }
    assert_eq!(
        store.call(&calls[1]).await.unwrap().unwrap().call.caller,
        "anonymized"
    );
    // Erased already: nothing more to do, no error.
    let again = store
        .erase_subject(std::slice::from_ref(&a), &[], when, &protected)
        .await
        .unwrap();
    assert!(again.recordings_erased.is_empty());
}
