//! The subject index, anonymisation and rectification of calls, and the data subject request
//! queue, against SQLite and a real PostgreSQL server.

use std::collections::BTreeMap;

use herald_store::{
    DsrKind, DsrRequest, DsrState, FinalState, NewDsrRequest, Store, StoreError, SubjectKind,
};
use serde_json::json;

mod support;

use support::{DAY, T0, TestDb, connect, finished, new_call, new_recording, rec_id, record};

on_both_backends!(
    subjects_are_linked_listed_and_unlinked,
    relinking_moves_links_and_merges_duplicates,
    recordings_of_calls_cover_every_state_oldest_first,
    anonymizing_a_call_scrubs_the_caller_everywhere,
    rectifying_a_caller_changes_only_matching_values,
    dsr_requests_are_filed_listed_and_finished,
    concurrent_claimers_never_share_a_request,
    requeue_puts_running_requests_back,
    a_request_is_claimed_by_id_only_while_pending,
    stale_requests_are_requeued_and_exports_can_be_left_alone,
);

fn hash(tag: &str) -> String {
    format!("{tag:0>64}")
}

async fn subjects_are_linked_listed_and_unlinked(db: &TestDb) {
    let store = connect(db).await;
    let phone = hash("a1");
    store
        .link_subject(SubjectKind::Phone, &phone, "call-2", T0 + 2)
        .await
        .unwrap();
    store
        .link_subject(SubjectKind::Phone, &phone, "call-1", T0 + 1)
        .await
        .unwrap();
    store
        .link_subject(SubjectKind::Phone, &phone, "call-3", T0 + 1)
        .await
        .unwrap();
    // Idempotent: linking again neither duplicates nor moves the link.
    store
        .link_subject(SubjectKind::Phone, &phone, "call-2", T0 + 9)
        .await
        .unwrap();
    // The same hash under another kind is another subject.
    store
        .link_subject(SubjectKind::Email, &phone, "call-9", T0)
        .await
        .unwrap();
    store
        .link_subject(SubjectKind::Name, &hash("b2"), "call-2", T0)
        .await
        .unwrap();

    assert_eq!(
        store
            .subject_calls(SubjectKind::Phone, &phone)
            .await
            .unwrap(),
        ["call-1", "call-3", "call-2"],
        "oldest first, then by id"
    );
    assert_eq!(
        store
            .subject_calls(SubjectKind::Email, &phone)
            .await
            .unwrap(),
        ["call-9"]
    );
    assert!(
        store
            .subject_calls(SubjectKind::Phone, &hash("ff"))
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.unlink_call_subjects("call-2").await.unwrap(), 2);
    assert_eq!(store.unlink_call_subjects("call-2").await.unwrap(), 0);
    assert_eq!(
        store
            .subject_calls(SubjectKind::Phone, &phone)
            .await
            .unwrap(),
        ["call-1", "call-3"]
    );
    assert!(
        store
            .subject_calls(SubjectKind::Name, &hash("b2"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn relinking_moves_links_and_merges_duplicates(db: &TestDb) {
    let store = connect(db).await;
    let (old, new) = (hash("01d"), hash("9e3"));
    for (call, at) in [("call-1", T0 + 1), ("call-2", T0 + 2), ("call-3", T0 + 3)] {
        store
            .link_subject(SubjectKind::Phone, &old, call, at)
            .await
            .unwrap();
    }
    // call-2 is already linked to the corrected hash; the e-mail link must not move.
    store
        .link_subject(SubjectKind::Phone, &new, "call-2", T0)
        .await
        .unwrap();
    store
        .link_subject(SubjectKind::Email, &old, "call-1", T0)
        .await
        .unwrap();

    assert_eq!(
        store
            .relink_subject(SubjectKind::Phone, &old, &new)
            .await
            .unwrap(),
        3
    );
    assert!(
        store
            .subject_calls(SubjectKind::Phone, &old)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.subject_calls(SubjectKind::Phone, &new).await.unwrap(),
        ["call-2", "call-1", "call-3"],
        "merged: call-2 once, with the link the new hash had"
    );
    assert_eq!(
        store.subject_calls(SubjectKind::Email, &old).await.unwrap(),
        ["call-1"]
    );
    // Nothing left to move; relinking a hash onto itself keeps its links.
    assert_eq!(
        store
            .relink_subject(SubjectKind::Phone, &old, &new)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .relink_subject(SubjectKind::Phone, &new, &new)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .subject_calls(SubjectKind::Phone, &new)
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn recordings_of_calls_cover_every_state_oldest_first(db: &TestDb) {
    let store = connect(db).await;
    // (tail, call id, started at)
    let recordings = [
        ("a1", "call-1", T0 + 30),
        ("b2", "call-1", T0 + 10),
        ("c3", "call-2", T0 + 20),
        ("d4", "call-3", T0 + 5),
    ];
    for (tail, call, at) in recordings {
        let mut new = new_recording(&rec_id(tail), at);
        new.call_id = Some(call.to_owned());
        store.insert_recording(&new).await.unwrap();
    }
    store
        .finish_recording(
            &rec_id("b2"),
            &finished(FinalState::Complete, T0 + 100, Some(T0 + DAY)),
        )
        .await
        .unwrap();
    store
        .erase_recording(&rec_id("c3"), T0 + 200, "dpo", "dsr")
        .await
        .unwrap();

    let ids = |records: Vec<herald_store::RecordingRecord>| {
        records.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let calls = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .recordings_of_calls(&calls(&["call-1", "call-2", "nobody"]))
            .await
            .unwrap()),
        [rec_id("b2"), rec_id("c3"), rec_id("a1")],
        "every state, erased included, oldest first"
    );
    assert!(store.recordings_of_calls(&[]).await.unwrap().is_empty());
    assert_eq!(
        ids(store
            .recordings_of_calls(&calls(&["call-3", "call-3"]))
            .await
            .unwrap()),
        [rec_id("d4")]
    );

    // More ids than one query takes: the lists are merged, in order.
    let mut many: Vec<String> = (0..1_234).map(|i| format!("other-{i}")).collect();
    many.insert(700, "call-2".to_owned());
    many.push("call-3".to_owned());
    many.insert(3, "call-1".to_owned());
    assert_eq!(
        ids(store.recordings_of_calls(&many).await.unwrap()),
        [rec_id("d4"), rec_id("b2"), rec_id("c3"), rec_id("a1")]
    );
}

async fn anonymizing_a_call_scrubs_the_caller_everywhere(db: &TestDb) {
    let store = connect(db).await;
    store.insert_call(&new_call("call-1", T0)).await.unwrap();
    store
        .insert_call(&new_call("call-2", T0 + 1))
        .await
        .unwrap();
    store
        .end_call("call-1", T0 + 60_000, "caller-bye", Some(200))
        .await
        .unwrap();
    for (tail, call) in [("a1", "call-1"), ("b2", "call-1"), ("c3", "call-2")] {
        let mut new = new_recording(&rec_id(tail), T0);
        new.call_id = Some(call.to_owned());
        store.insert_recording(&new).await.unwrap();
    }
    for call in ["call-1", "call-2"] {
        store
            .link_subject(SubjectKind::Phone, &hash("a1"), call, T0)
            .await
            .unwrap();
    }
    store
        .link_subject(SubjectKind::Name, &hash("b2"), "call-1", T0)
        .await
        .unwrap();

    assert!(store.anonymize_call("call-1").await.unwrap());

    let call = store
        .call("call-1")
        .await
        .unwrap()
        .expect("still loads")
        .call;
    assert_eq!(call.caller, "anonymized");
    assert_eq!(call.from_uri, "sip:anonymized@anonymized.invalid");
    assert_eq!(call.source, "0.0.0.0:0".parse().unwrap());
    assert_eq!(call.user_agent, None);
    assert_eq!(call.sip_call_id, "anonymized");
    // What is not the caller's stays: the callee, times and outcome.
    assert_eq!(call.callee, "+498912345");
    assert_eq!(
        (
            call.ended_at,
            call.hangup_cause.as_deref(),
            call.final_status
        ),
        (Some(T0 + 60_000), Some("caller-bye"), Some(200))
    );
    assert_eq!(
        store
            .call_by_prefix("call-1")
            .await
            .unwrap()
            .unwrap()
            .call
            .id,
        "call-1"
    );
    assert!(
        store
            .recent_calls(10)
            .await
            .unwrap()
            .iter()
            .any(|c| c.id == "call-1")
    );

    assert_eq!(record(&store, &rec_id("a1")).await.caller, "anonymized");
    assert_eq!(record(&store, &rec_id("b2")).await.caller, "anonymized");
    assert_eq!(record(&store, &rec_id("c3")).await.caller, "+4930123456");
    assert_eq!(
        store
            .subject_calls(SubjectKind::Phone, &hash("a1"))
            .await
            .unwrap(),
        ["call-2"]
    );
    assert!(
        store
            .subject_calls(SubjectKind::Name, &hash("b2"))
            .await
            .unwrap()
            .is_empty()
    );
    let other = store.call("call-2").await.unwrap().unwrap().call;
    assert_eq!(other.caller, "+4930123456");

    // Again: nothing left to change, still true. An unknown call is false.
    assert!(store.anonymize_call("call-1").await.unwrap());
    assert!(!store.anonymize_call("nobody").await.unwrap());
}

async fn rectifying_a_caller_changes_only_matching_values(db: &TestDb) {
    let store = connect(db).await;
    let (wrong, right) = ("+4930123456", "+4930999999");
    store.insert_call(&new_call("call-1", T0)).await.unwrap();
    for (tail, call, caller) in [
        ("a1", "call-1", wrong),
        ("b2", "call-1", wrong),
        ("c3", "call-1", "+4940111111"),
        ("d4", "call-2", wrong),
        ("e5", "gone", wrong),
    ] {
        let mut new = new_recording(&rec_id(tail), T0);
        new.call_id = Some(call.to_owned());
        new.caller = caller.to_owned();
        store.insert_recording(&new).await.unwrap();
    }

    assert_eq!(
        store.rectify_caller("call-1", wrong, right).await.unwrap(),
        3,
        "the call and two of its recordings"
    );
    let call = store.call("call-1").await.unwrap().unwrap().call;
    assert_eq!(call.caller, right);
    assert_eq!(
        call.from_uri, "\"Ann\" <sip:+4930999999@trunk.example;user=phone>;tag=9f1",
        "the user part only"
    );
    assert_eq!(call.callee, "+498912345");
    assert_eq!(record(&store, &rec_id("a1")).await.caller, right);
    assert_eq!(record(&store, &rec_id("b2")).await.caller, right);
    assert_eq!(record(&store, &rec_id("c3")).await.caller, "+4940111111");
    assert_eq!(
        record(&store, &rec_id("d4")).await.caller,
        wrong,
        "another call"
    );

    // Done already: nothing matches any more.
    assert_eq!(
        store.rectify_caller("call-1", wrong, right).await.unwrap(),
        0
    );
    // A call whose record is gone: its recordings are still rectified.
    assert_eq!(store.rectify_caller("gone", wrong, right).await.unwrap(), 1);
    assert_eq!(record(&store, &rec_id("e5")).await.caller, right);

    // Only the URI's user part matches: the call row changes, counted once.
    let mut partial = new_call("call-3", T0);
    partial.caller = "0301234".to_owned();
    partial.from_uri = "sip:0049301234@trunk.example".to_owned();
    store.insert_call(&partial).await.unwrap();
    assert_eq!(
        store
            .rectify_caller("call-3", "301234", "309999")
            .await
            .unwrap(),
        1
    );
    let call = store.call("call-3").await.unwrap().unwrap().call;
    assert_eq!(
        (call.caller.as_str(), call.from_uri.as_str()),
        ("0301234", "sip:0049309999@trunk.example")
    );
}

fn new_request(id: &str, kind: DsrKind, created_at: i64) -> NewDsrRequest {
    NewDsrRequest {
        id: id.to_owned(),
        kind,
        subject_kind: SubjectKind::Phone,
        subject_hash: hash("a1"),
        parameters: json!({"to": "+4930999999", "scope": ["calls", "recordings"]}),
        requested_by: "dpo".to_owned(),
        reason: "ticket 42".to_owned(),
        created_at,
        deadline_at: created_at + 30 * DAY,
    }
}

fn ids(requests: &[DsrRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.id.as_str()).collect()
}

async fn dsr_requests_are_filed_listed_and_finished(db: &TestDb) {
    let store = connect(db).await;
    let export = new_request("dsr-1", DsrKind::Export, T0);
    let update = new_request("dsr-2", DsrKind::Update, T0 + 1);
    let mut delete = new_request("dsr-3", DsrKind::Delete, T0 + 2);
    delete.subject_kind = SubjectKind::Email;
    for request in [&export, &update, &delete] {
        store.insert_dsr_request(request).await.unwrap();
    }
    assert!(matches!(
        store.insert_dsr_request(&export).await,
        Err(StoreError::DsrRequestExists(id)) if id == "dsr-1"
    ));

    let stored = store.dsr_request("dsr-3").await.unwrap().unwrap();
    let expected = DsrRequest {
        id: "dsr-3".to_owned(),
        kind: DsrKind::Delete,
        state: DsrState::Pending,
        subject_kind: SubjectKind::Email,
        subject_hash: hash("a1"),
        parameters: delete.parameters.clone(),
        requested_by: "dpo".to_owned(),
        reason: "ticket 42".to_owned(),
        created_at: T0 + 2,
        deadline_at: T0 + 2 + 30 * DAY,
        started_at: None,
        completed_at: None,
        result: None,
        error: None,
    };
    assert_eq!(stored, expected);
    assert!(!format!("{stored:?}").contains("+4930999999"));
    assert_eq!(store.dsr_request("nobody").await.unwrap(), None);
    assert_eq!(
        ids(&store.dsr_requests(None, 10).await.unwrap()),
        ["dsr-3", "dsr-2", "dsr-1"]
    );
    assert_eq!(
        ids(&store.dsr_requests(None, 2).await.unwrap()),
        ["dsr-3", "dsr-2"]
    );

    // Claimed oldest first.
    let claimed = store.claim_dsr_request(T0 + 100).await.unwrap().unwrap();
    assert_eq!(
        (claimed.id.as_str(), claimed.state, claimed.started_at),
        ("dsr-1", DsrState::Running, Some(T0 + 100))
    );
    let second = store.claim_dsr_request(T0 + 101).await.unwrap().unwrap();
    assert_eq!(second.id, "dsr-2");
    assert_eq!(
        ids(&store
            .dsr_requests(Some(DsrState::Running), 10)
            .await
            .unwrap()),
        ["dsr-2", "dsr-1"]
    );
    assert_eq!(
        ids(&store
            .dsr_requests(Some(DsrState::Pending), 10)
            .await
            .unwrap()),
        ["dsr-3"]
    );

    // Done, with parameters cleared.
    let result = json!({"calls": 3, "recordings": 2, "bundle": "exports/dsr-1.zip"});
    store
        .finish_dsr_request("dsr-1", DsrState::Done, Some(&result), None, T0 + 200, true)
        .await
        .unwrap();
    let done = store.dsr_request("dsr-1").await.unwrap().unwrap();
    assert_eq!(done.state, DsrState::Done);
    assert_eq!(done.parameters, json!({}));
    assert_eq!(done.result, Some(result.clone()));
    assert_eq!((done.completed_at, done.error), (Some(T0 + 200), None));
    assert_eq!(done.started_at, Some(T0 + 100));

    // Failed, keeping the parameters for a retry.
    store
        .finish_dsr_request(
            "dsr-2",
            DsrState::Failed,
            None,
            Some("database unavailable"),
            T0 + 300,
            false,
        )
        .await
        .unwrap();
    let failed = store.dsr_request("dsr-2").await.unwrap().unwrap();
    assert_eq!(failed.state, DsrState::Failed);
    assert_eq!(failed.parameters, update.parameters);
    assert_eq!(failed.error.as_deref(), Some("database unavailable"));
    assert_eq!(failed.result, None);

    // Finishing what is not running is refused, and changes nothing.
    let refused = store
        .finish_dsr_request("dsr-1", DsrState::Refused, None, Some("x"), T0 + 400, true)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::InvalidDsrTransition { id, state }) if id == "dsr-1" && state == "done"),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("done"));
    assert!(matches!(
        store
            .finish_dsr_request("dsr-3", DsrState::Done, None, None, T0, false)
            .await,
        Err(StoreError::InvalidDsrTransition { state, .. }) if state == "pending"
    ));
    assert!(matches!(
        store
            .finish_dsr_request("nobody", DsrState::Done, None, None, T0, false)
            .await,
        Err(StoreError::DsrRequestNotFound(id)) if id == "nobody"
    ));
    let third = store.claim_dsr_request(T0 + 500).await.unwrap().unwrap();
    assert!(matches!(
        store
            .finish_dsr_request(&third.id, DsrState::Pending, None, None, T0, false)
            .await,
        Err(StoreError::InvalidDsrTransition { state, .. }) if state == "pending"
    ));
    assert_eq!(
        store.dsr_request("dsr-1").await.unwrap().unwrap().result,
        Some(result)
    );

    // Refused, the last state.
    store
        .finish_dsr_request(
            "dsr-3",
            DsrState::Refused,
            Some(&json!({"held": ["CASE-1"]})),
            Some("legal hold"),
            T0 + 600,
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&store
            .dsr_requests(Some(DsrState::Refused), 10)
            .await
            .unwrap()),
        ["dsr-3"]
    );
    assert_eq!(store.claim_dsr_request(T0 + 700).await.unwrap(), None);
}

async fn concurrent_claimers_never_share_a_request(db: &TestDb) {
    let store = connect(db).await;
    let other_node = Store::connect(db.url()).await.unwrap();
    for i in 0..20 {
        store
            .insert_dsr_request(&new_request(
                &format!("dsr-{i:02}"),
                DsrKind::Export,
                T0 + i,
            ))
            .await
            .unwrap();
    }
    let mut claimers = Vec::new();
    for claimer in 0..8 {
        let store: Store = if claimer % 2 == 0 {
            store.clone()
        } else {
            other_node.clone()
        };
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(request) = store.claim_dsr_request(T0 + 1_000).await.unwrap() {
                assert_eq!(request.state, DsrState::Running);
                mine.push(request.id);
            }
            mine
        }));
    }
    let mut claims: BTreeMap<String, usize> = BTreeMap::new();
    for claimer in claimers {
        for id in claimer.await.unwrap() {
            *claims.entry(id).or_default() += 1;
        }
    }
    assert_eq!(claims.len(), 20, "{claims:?}");
    assert!(claims.values().all(|&n| n == 1), "{claims:?}");
    assert_eq!(
        store
            .dsr_requests(Some(DsrState::Running), 100)
            .await
            .unwrap()
            .len(),
        20
    );
    assert_eq!(store.claim_dsr_request(T0 + 2_000).await.unwrap(), None);
}

async fn requeue_puts_running_requests_back(db: &TestDb) {
    let store = connect(db).await;
    for i in 0..3 {
        store
            .insert_dsr_request(&new_request(&format!("dsr-{i}"), DsrKind::Delete, T0 + i))
            .await
            .unwrap();
    }
    assert_eq!(store.requeue_running_dsr().await.unwrap(), 0);
    let first = store.claim_dsr_request(T0 + 10).await.unwrap().unwrap();
    let second = store.claim_dsr_request(T0 + 11).await.unwrap().unwrap();
    store
        .finish_dsr_request(&first.id, DsrState::Done, None, None, T0 + 12, true)
        .await
        .unwrap();

    // A crash leaves dsr-1 running; at start-up it goes back to pending.
    assert_eq!(store.requeue_running_dsr().await.unwrap(), 1);
    let requeued = store.dsr_request(&second.id).await.unwrap().unwrap();
    assert_eq!(
        (requeued.state, requeued.started_at),
        (DsrState::Pending, None)
    );
    assert_eq!(
        store.dsr_request(&first.id).await.unwrap().unwrap().state,
        DsrState::Done,
        "finished requests stay finished"
    );
    // Claimed again, oldest first.
    let again = store.claim_dsr_request(T0 + 20).await.unwrap().unwrap();
    assert_eq!(
        (again.id.as_str(), again.started_at),
        ("dsr-1", Some(T0 + 20))
    );
    assert_eq!(
        store.claim_dsr_request(T0 + 21).await.unwrap().unwrap().id,
        "dsr-2"
    );
    assert_eq!(store.claim_dsr_request(T0 + 22).await.unwrap(), None);
}

async fn a_request_is_claimed_by_id_only_while_pending(db: &TestDb) {
    let store = connect(db).await;
    for i in 0..2 {
        store
            .insert_dsr_request(&new_request(&format!("dsr-{i}"), DsrKind::Export, T0 + i))
            .await
            .unwrap();
    }
    // The younger one, by id, though the older is pending too.
    let claimed = store
        .claim_dsr_request_id("dsr-1", T0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (claimed.id.as_str(), claimed.state),
        ("dsr-1", DsrState::Running)
    );
    assert_eq!(claimed.started_at, Some(T0 + 5));
    assert!(
        store
            .claim_dsr_request_id("dsr-1", T0 + 6)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_dsr_request_id("dsr-9", T0 + 6)
            .await
            .unwrap()
            .is_none()
    );
    // The oldest-first claim now finds only the other one.
    let next = store.claim_dsr_request(T0 + 7).await.unwrap().unwrap();
    assert_eq!(next.id, "dsr-0");
    assert!(store.claim_dsr_request(T0 + 8).await.unwrap().is_none());
}

async fn stale_requests_are_requeued_and_exports_can_be_left_alone(db: &TestDb) {
    let store = connect(db).await;
    store
        .insert_dsr_request(&new_request("dsr-e", DsrKind::Export, T0))
        .await
        .unwrap();
    store
        .insert_dsr_request(&new_request("dsr-d", DsrKind::Delete, T0 + 1))
        .await
        .unwrap();
    // A node that cannot open recordings takes the delete, not the older export.
    let taken = store
        .claim_dsr_request_of(T0 + 10, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, "dsr-d");
    assert!(
        store
            .claim_dsr_request_of(T0 + 11, false)
            .await
            .unwrap()
            .is_none()
    );
    // Only requests running since before the lease's start go back.
    assert_eq!(store.requeue_stale_dsr(T0 + 10).await.unwrap(), 0);
    assert_eq!(store.requeue_stale_dsr(T0 + 11).await.unwrap(), 1);
    let requeued = store.dsr_request("dsr-d").await.unwrap().unwrap();
    assert_eq!(
        (requeued.state, requeued.started_at),
        (DsrState::Pending, None)
    );
    let export = store
        .claim_dsr_request_of(T0 + 12, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(export.id, "dsr-e");
}
