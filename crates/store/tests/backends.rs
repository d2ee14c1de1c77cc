//! The same scenarios against SQLite (a file in a temporary directory) and a
//! real PostgreSQL server (started by herald-testkit). Without PostgreSQL
//! installed the PostgreSQL half is skipped with a message, unless `CI` is
//! set, where it fails.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use herald_store::{
    Backend, Binding, CallRecord, CallRecordWithEvents, CallState, CallWrite, NewCall, Store,
    StoreError,
};
use herald_testkit::PostgresServer;
use serde_json::json;

/// An arbitrary fixed "now": 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

/// A database for one test, removed when dropped.
struct TestDb {
    url: String,
    backend: Backend,
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres: Option<PostgresServer>,
}

fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: connect must create it.
    let url = format!("sqlite://{}/data/herald.db", dir.path().display());
    TestDb {
        url,
        backend: Backend::Sqlite,
        _sqlite_dir: Some(dir),
        _postgres: None,
    }
}

fn postgres_db() -> Option<TestDb> {
    let server = PostgresServer::start_or_skip()?;
    Some(TestDb {
        url: server.url(),
        backend: Backend::Postgres,
        _sqlite_dir: None,
        _postgres: Some(server),
    })
}

/// Runs each scenario once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(&super::sqlite_db()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(db) = super::postgres_db() else { return };
                    super::$scenario(&db).await;
                }
            )*
        }
    };
}

on_both_backends!(
    migrations_apply_and_every_column_round_trips,
    call_lifecycle_follows_the_state_diagram,
    calls_are_found_by_id_prefix,
    events_come_back_in_insertion_order,
    batched_writes_apply_in_order_and_survive_a_bad_write,
    binding_sets_replace_each_aor_in_one_transaction,
    concurrent_events_get_distinct_sequence_numbers,
    registrations_upsert_expire_purge_and_remove,
    reconnecting_keeps_data_and_applies_no_migration_twice,
    clones_share_the_store_across_tasks,
);

async fn connect(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.expect("connect and migrate");
    assert_eq!(store.backend(), db.backend);
    store
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn new_call(id: &str, started_at: i64) -> NewCall {
    NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk.example"),
        from_uri: "sip:+4930123456@trunk.example".to_owned(),
        to_uri: "sip:+498912345@herald.example".to_owned(),
        caller: "+4930123456".to_owned(),
        callee: "+498912345".to_owned(),
        source: addr("[2001:db8::7]:5062"),
        transport: "tls".to_owned(),
        route: "support-de".to_owned(),
        started_at,
        user_agent: Some("AudioCodes 445HD/3.4.6".to_owned()),
    }
}

fn binding(aor: &str, contact: &str, expires_at: i64, q_milli: Option<u16>) -> Binding {
    Binding {
        aor: aor.to_owned(),
        contact_uri: contact.to_owned(),
        expires_at,
        transport: "udp".to_owned(),
        source: addr("192.0.2.10:5060"),
        user_agent: Some("Polycom VVX 450".to_owned()),
        call_id: format!("reg-{contact}"),
        cseq: 1,
        q_milli,
        instance_id: None,
        reg_id: None,
    }
}

async fn lookup(store: &Store, id: &str) -> CallRecordWithEvents {
    store.call(id).await.unwrap().expect("the call is stored")
}

async fn migrations_apply_and_every_column_round_trips(db: &TestDb) {
    let store = connect(db).await;

    let full = new_call("call-full", T0);
    let mut bare = new_call("call-bare", T0 + 1);
    bare.user_agent = None;
    bare.source = addr("198.51.100.4:5060");
    store.insert_call(&full).await.unwrap();
    store.insert_call(&bare).await.unwrap();
    store.mark_answered("call-full", T0 + 1_500).await.unwrap();
    store
        .end_call("call-full", T0 + 61_000, "caller-bye", Some(200))
        .await
        .unwrap();

    let expected = CallRecord {
        id: full.id.clone(),
        sip_call_id: full.sip_call_id.clone(),
        from_uri: full.from_uri.clone(),
        to_uri: full.to_uri.clone(),
        caller: full.caller.clone(),
        callee: full.callee.clone(),
        source: full.source,
        transport: full.transport.clone(),
        route: full.route.clone(),
        state: CallState::Ended,
        started_at: T0,
        answered_at: Some(T0 + 1_500),
        ended_at: Some(T0 + 61_000),
        hangup_cause: Some("caller-bye".to_owned()),
        final_status: Some(200),
        user_agent: full.user_agent.clone(),
    };
    assert_eq!(lookup(&store, "call-full").await.call, expected);
    let bare_record = lookup(&store, "call-bare").await.call;
    assert_eq!(bare_record.user_agent, None);
    assert_eq!(bare_record.source, bare.source);
    assert_eq!(bare_record.state, CallState::Ringing);
    assert_eq!(
        (
            bare_record.answered_at,
            bare_record.ended_at,
            bare_record.final_status
        ),
        (None, None, None)
    );
    assert_eq!(bare_record.hangup_cause, None);

    let full_binding = Binding {
        cseq: u32::MAX,
        q_milli: Some(0),
        instance_id: Some("<urn:uuid:00000000-0000-1000-8000-000000000001>".to_owned()),
        reg_id: Some(u32::MAX),
        source: addr("[2001:db8::1]:5080"),
        ..binding(
            "sip:1001@herald.example",
            "sip:1001@192.0.2.10:5060",
            T0 + 3_600_000,
            None,
        )
    };
    let mut bare_binding = binding(
        "sip:1002@herald.example",
        "sip:1002@192.0.2.11",
        T0 + 60_000,
        None,
    );
    bare_binding.user_agent = None;
    store.upsert_binding(&full_binding).await.unwrap();
    store.upsert_binding(&bare_binding).await.unwrap();
    assert_eq!(
        store.bindings(&full_binding.aor, T0).await.unwrap(),
        vec![full_binding]
    );
    assert_eq!(
        store.bindings(&bare_binding.aor, T0).await.unwrap(),
        vec![bare_binding]
    );

    // Debug output is for logs: no numbers, URIs or addresses.
    let debug = format!(
        "{expected:?} {full:?} {:?}",
        store.all_bindings(T0).await.unwrap()
    );
    for secret in ["4930123456", "2001:db8", "192.0.2", "sip:"] {
        assert!(!debug.contains(secret), "{secret} leaks into {debug}");
    }
}

async fn call_lifecycle_follows_the_state_diagram(db: &TestDb) {
    let store = connect(db).await;
    store.insert_call(&new_call("answered", T0)).await.unwrap();
    store
        .insert_call(&new_call("cancelled", T0 + 10))
        .await
        .unwrap();

    assert!(matches!(
        store.insert_call(&new_call("answered", T0 + 20)).await,
        Err(StoreError::CallExists(id)) if id == "answered"
    ));
    assert_eq!(
        lookup(&store, "answered").await.call.state,
        CallState::Ringing
    );

    store.mark_answered("answered", T0 + 2_000).await.unwrap();
    assert_eq!(
        lookup(&store, "answered").await.call.state,
        CallState::Answered
    );
    assert!(matches!(
        store.mark_answered("answered", T0 + 3_000).await,
        Err(StoreError::InvalidTransition {
            state: CallState::Answered,
            operation: "answer",
            ..
        })
    ));
    store
        .end_call("answered", T0 + 9_000, "caller-bye", Some(200))
        .await
        .unwrap();
    let ended = lookup(&store, "answered").await.call;
    assert_eq!(ended.state, CallState::Ended);
    assert_eq!(
        ended.answered_at,
        Some(T0 + 2_000),
        "answer time survives the end"
    );
    assert_eq!(ended.ended_at, Some(T0 + 9_000));

    store
        .end_call("cancelled", T0 + 4_000, "cancelled", Some(487))
        .await
        .unwrap();
    let cancelled = lookup(&store, "cancelled").await.call;
    assert_eq!(cancelled.state, CallState::Failed);
    assert_eq!(cancelled.answered_at, None);
    assert_eq!(cancelled.hangup_cause.as_deref(), Some("cancelled"));
    assert_eq!(cancelled.final_status, Some(487));

    // Final states stay final.
    assert!(matches!(
        store
            .end_call("answered", T0 + 10_000, "callee-bye", Some(200))
            .await,
        Err(StoreError::InvalidTransition {
            state: CallState::Ended,
            operation: "end",
            ..
        })
    ));
    assert!(matches!(
        store.mark_answered("cancelled", T0 + 10_000).await,
        Err(StoreError::InvalidTransition {
            state: CallState::Failed,
            ..
        })
    ));
    assert_eq!(
        lookup(&store, "answered")
            .await
            .call
            .hangup_cause
            .as_deref(),
        Some("caller-bye")
    );

    assert!(matches!(
        store.mark_answered("nobody", T0).await,
        Err(StoreError::CallNotFound(id)) if id == "nobody"
    ));
    assert!(matches!(
        store.end_call("nobody", T0, "caller-bye", None).await,
        Err(StoreError::CallNotFound(_))
    ));
    assert!(store.call("nobody").await.unwrap().is_none());

    // Newest first, limited.
    store
        .insert_call(&new_call("later", T0 + 50))
        .await
        .unwrap();
    let ids = |calls: Vec<CallRecord>| calls.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.recent_calls(10).await.unwrap()),
        ["later", "cancelled", "answered"]
    );
    assert_eq!(
        ids(store.recent_calls(2).await.unwrap()),
        ["later", "cancelled"]
    );

    // The CLI prints this JSON.
    let json = serde_json::to_value(lookup(&store, "answered").await).unwrap();
    assert_eq!(json["id"], "answered");
    assert_eq!(json["state"], "ended");
    assert_eq!(json["final_status"], 200);
    assert_eq!(json["source"], "[2001:db8::7]:5062");
    assert_eq!(json["events"], json!([]));
}

async fn calls_are_found_by_id_prefix(db: &TestDb) {
    let store = connect(db).await;
    for id in ["3f2a9c", "3f2a9c01", "3f7b00", "a%_b"] {
        store.insert_call(&new_call(id, T0)).await.unwrap();
    }
    let found = |call: Option<CallRecordWithEvents>| call.map(|c| c.call.id);
    assert_eq!(
        found(store.call_by_prefix("3f7").await.unwrap()).as_deref(),
        Some("3f7b00")
    );
    // An exact id wins even when it prefixes another.
    assert_eq!(
        found(store.call_by_prefix("3f2a9c").await.unwrap()).as_deref(),
        Some("3f2a9c")
    );
    assert_eq!(
        found(store.call_by_prefix("3f2a9c0").await.unwrap()).as_deref(),
        Some("3f2a9c01")
    );
    assert!(matches!(
        store.call_by_prefix("3f").await,
        Err(StoreError::AmbiguousPrefix(p)) if p == "3f"
    ));
    // Case-sensitive and no wildcards, on both databases.
    assert_eq!(found(store.call_by_prefix("3F7").await.unwrap()), None);
    assert_eq!(
        found(store.call_by_prefix("a%").await.unwrap()).as_deref(),
        Some("a%_b")
    );
    assert_eq!(found(store.call_by_prefix("%").await.unwrap()), None);
    assert_eq!(found(store.call_by_prefix("_").await.unwrap()), None);
    assert_eq!(found(store.call_by_prefix("").await.unwrap()), None);
    assert_eq!(found(store.call_by_prefix("ff").await.unwrap()), None);
}

async fn events_come_back_in_insertion_order(db: &TestDb) {
    let store = connect(db).await;
    store.insert_call(&new_call("c1", T0)).await.unwrap();
    store.insert_call(&new_call("c2", T0)).await.unwrap();

    // Times out of order and tied: insertion order is what counts.
    let added = [
        (
            T0 + 300,
            "prompt",
            json!({"prompt": "disclosure", "lang": "de-DE"}),
        ),
        (T0 + 100, "input", json!({"kind": "dtmf", "count": 4})),
        (T0 + 100, "consent", json!({"opt_out": false})),
        (
            T0 + 200,
            "transfer",
            json!({"to": {"agent": "1001"}, "nested": [1, 2.5, null, true]}),
        ),
    ];
    for (expected_seq, (at, kind, detail)) in (1..).zip(&added) {
        let seq = store.add_call_event("c1", *at, kind, detail).await.unwrap();
        assert_eq!(seq, expected_seq);
    }
    assert_eq!(
        store
            .add_call_event("c2", T0, "prompt", &json!(null))
            .await
            .unwrap(),
        1
    );

    let events = lookup(&store, "c1").await.events;
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.seq, e.at, e.kind.as_str(), &e.detail))
        .collect();
    let want: Vec<_> = (1..)
        .zip(&added)
        .map(|(seq, (at, kind, detail))| (seq, *at, *kind, detail))
        .collect();
    assert_eq!(got, want);
    assert_eq!(store.call_events("c2").await.unwrap().len(), 1);
    assert_eq!(store.call_events("nobody").await.unwrap(), []);

    assert!(matches!(
        store.add_call_event("nobody", T0, "prompt", &json!({})).await,
        Err(StoreError::CallNotFound(id)) if id == "nobody"
    ));
    let json = serde_json::to_value(lookup(&store, "c1").await).unwrap();
    assert_eq!(json["events"][3]["detail"]["to"]["agent"], "1001");
}

async fn batched_writes_apply_in_order_and_survive_a_bad_write(db: &TestDb) {
    let store = connect(db).await;
    let mut writes = Vec::new();
    for i in 0..50 {
        let id = format!("batch-{i}");
        writes.push(CallWrite::Insert(Box::new(new_call(&id, T0 + i))));
        writes.push(CallWrite::Answered {
            id: id.clone(),
            at: T0 + i + 1,
        });
        writes.push(CallWrite::Event {
            call_id: id.clone(),
            at: T0 + i + 2,
            kind: "confirmed".into(),
            detail: json!({}),
        });
        writes.push(CallWrite::Ended {
            id,
            at: T0 + i + 3,
            cause: "caller-bye".into(),
            status: None,
        });
    }
    // A call inserted and ended unanswered in the same batch is written as failed.
    writes.push(CallWrite::Insert(Box::new(new_call("batch-cancelled", T0))));
    writes.push(CallWrite::Ended {
        id: "batch-cancelled".into(),
        at: T0 + 5,
        cause: "cancelled".into(),
        status: Some(487),
    });
    // Ending a finished call does not apply: skipped, not an error.
    writes.push(CallWrite::Ended {
        id: "batch-0".into(),
        at: T0 + 99,
        cause: "again".into(),
        status: None,
    });
    let outcome = store.apply_call_writes(&writes).await;
    assert_eq!((outcome.skipped, outcome.failed.len()), (1, 0));
    let c = lookup(&store, "batch-49").await;
    assert_eq!(
        (c.call.state, c.call.hangup_cause.as_deref()),
        (CallState::Ended, Some("caller-bye"))
    );
    assert_eq!(
        c.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["confirmed"]
    );
    assert_eq!(
        lookup(&store, "batch-0").await.call.hangup_cause.as_deref(),
        Some("caller-bye")
    );
    let cancelled = lookup(&store, "batch-cancelled").await.call;
    assert_eq!(
        (
            cancelled.state,
            cancelled.final_status,
            cancelled.answered_at
        ),
        (CallState::Failed, Some(487), None)
    );
    assert_eq!(cancelled.ended_at, Some(T0 + 5));

    // A write that fails (an event for a call that does not exist) fails the transaction;
    // the fallback still applies every other write of the batch.
    let bad = vec![
        CallWrite::Insert(Box::new(new_call("after-1", T0))),
        CallWrite::Event {
            call_id: "no-such-call".into(),
            at: T0,
            kind: "x".into(),
            detail: json!({}),
        },
        CallWrite::Insert(Box::new(new_call("after-2", T0))),
    ];
    let outcome = store.apply_call_writes(&bad).await;
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].0, 1);
    assert!(matches!(outcome.failed[0].1, StoreError::CallNotFound(_)));
    lookup(&store, "after-1").await;
    lookup(&store, "after-2").await;
}

async fn binding_sets_replace_each_aor_in_one_transaction(db: &TestDb) {
    let store = connect(db).await;
    let alice = "sip:alice@example.com".to_owned();
    let bob = "sip:bob@example.com".to_owned();
    store
        .upsert_binding(&binding(&alice, "sip:alice@old", T0 + 10_000, None))
        .await
        .unwrap();
    store
        .upsert_binding(&binding(&bob, "sip:bob@desk", T0 + 10_000, None))
        .await
        .unwrap();
    let sets = vec![
        (
            alice.clone(),
            vec![
                binding(&alice, "sip:alice@a", T0 + 10_000, Some(500)),
                binding(&alice, "sip:alice@b", T0 + 10_000, None),
            ],
        ),
        (bob.clone(), Vec::new()),
    ];
    store.replace_binding_sets(&sets).await.unwrap();
    let contacts: Vec<String> = store
        .bindings(&alice, T0)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.contact_uri)
        .collect();
    assert_eq!(
        contacts,
        vec!["sip:alice@b", "sip:alice@a"],
        "old binding replaced, q order kept"
    );
    assert!(
        store.bindings(&bob, T0).await.unwrap().is_empty(),
        "an empty set removes the AOR"
    );

    // A bad binding anywhere refuses the whole batch: nothing changes.
    let bad = vec![(
        alice.clone(),
        vec![binding(&alice, "sip:alice@c", T0 + 10_000, Some(1001))],
    )];
    assert!(matches!(
        store.replace_binding_sets(&bad).await,
        Err(StoreError::InvalidQValue(1001))
    ));
    assert_eq!(store.bindings(&alice, T0).await.unwrap().len(), 2);
}

async fn concurrent_events_get_distinct_sequence_numbers(db: &TestDb) {
    let store = connect(db).await;
    store.insert_call(&new_call("busy", T0)).await.unwrap();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let detail = json!({ "task": i });
                store
                    .add_call_event("busy", T0 + i, &format!("e{i}"), &detail)
                    .await
            })
        })
        .collect();
    let mut seqs = BTreeSet::new();
    for task in tasks {
        seqs.insert(task.await.unwrap().expect("event stored"));
    }
    assert_eq!(seqs, (1..=24).collect());
    let events = store.call_events("busy").await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=24).collect::<Vec<_>>()
    );
    let kinds: BTreeSet<_> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds.len(), 24);
}

async fn registrations_upsert_expire_purge_and_remove(db: &TestDb) {
    let store = connect(db).await;
    let alice = "sip:alice@herald.example";
    let bob = "sip:bob@herald.example";
    let desk = binding(
        alice,
        "sip:alice@192.0.2.20:5060",
        T0 + 3_600_000,
        Some(500),
    );
    let soft = binding(alice, "sip:alice@192.0.2.21:5070", T0 + 60_000, None);
    let bob_phone = binding(bob, "sip:bob@192.0.2.30", T0 + 30_000, Some(1000));
    for b in [&desk, &soft, &bob_phone] {
        store.upsert_binding(b).await.unwrap();
    }

    // Highest q first; no q counts as 1.0.
    assert_eq!(
        store.bindings(alice, T0).await.unwrap(),
        vec![soft.clone(), desk.clone()]
    );

    // A refresh replaces the binding instead of adding one.
    let refreshed = Binding {
        expires_at: T0 + 7_200_000,
        cseq: 2,
        q_milli: Some(1000),
        user_agent: None,
        transport: "tcp".to_owned(),
        ..desk.clone()
    };
    store.upsert_binding(&refreshed).await.unwrap();
    assert_eq!(
        store.bindings(alice, T0).await.unwrap(),
        vec![refreshed.clone(), soft.clone()]
    );

    // Live while now < expires_at.
    assert_eq!(
        store.bindings(bob, T0 + 29_999).await.unwrap(),
        vec![bob_phone.clone()]
    );
    assert_eq!(store.bindings(bob, T0 + 30_000).await.unwrap(), vec![]);
    let live = store.all_bindings(T0 + 60_000).await.unwrap();
    assert_eq!(live, vec![refreshed.clone()]);
    let all = store.all_bindings(T0).await.unwrap();
    assert_eq!(
        all,
        vec![refreshed.clone(), soft.clone(), bob_phone.clone()]
    );

    // Nothing has lapsed yet at T0; at T0 + 60 s bob's phone and the softphone have.
    assert_eq!(store.purge_expired(T0).await.unwrap(), 0);
    assert_eq!(store.purge_expired(T0 + 60_000).await.unwrap(), 2);
    assert_eq!(
        store.all_bindings(T0).await.unwrap(),
        vec![refreshed.clone()]
    );
    assert_eq!(store.purge_expired(T0 + 60_000).await.unwrap(), 0);

    assert!(
        store
            .remove_binding(alice, &refreshed.contact_uri)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_binding(alice, &refreshed.contact_uri)
            .await
            .unwrap()
    );
    assert_eq!(store.all_bindings(T0).await.unwrap(), vec![]);

    // Contact: * removes every binding of one AOR, and only those.
    for b in [&desk, &soft, &bob_phone] {
        store.upsert_binding(b).await.unwrap();
    }
    assert_eq!(store.remove_all_bindings(alice).await.unwrap(), 2);
    assert_eq!(store.remove_all_bindings(alice).await.unwrap(), 0);
    assert_eq!(
        store.all_bindings(T0).await.unwrap(),
        vec![bob_phone.clone()]
    );

    let bad_q = Binding {
        q_milli: Some(1001),
        ..bob_phone.clone()
    };
    assert!(matches!(
        store.upsert_binding(&bad_q).await,
        Err(StoreError::InvalidQValue(1001))
    ));
    assert_eq!(store.bindings(bob, T0).await.unwrap(), vec![bob_phone]);
}

async fn reconnecting_keeps_data_and_applies_no_migration_twice(db: &TestDb) {
    let phone = binding(
        "sip:carol@herald.example",
        "sip:carol@192.0.2.40",
        T0 + 600_000,
        None,
    );
    {
        let store = connect(db).await;
        store.upsert_binding(&phone).await.unwrap();
        store
            .insert_call(&new_call("before-restart", T0))
            .await
            .unwrap();
        store
            .add_call_event("before-restart", T0, "prompt", &json!({"p": 1}))
            .await
            .unwrap();
        store.close().await;
    }
    // A restart, and a second node starting at the same time.
    let (first, second) = tokio::join!(Store::connect(&db.url), Store::connect(&db.url));
    let (store, other) = (first.unwrap(), second.unwrap());
    assert_eq!(
        store.bindings(&phone.aor, T0).await.unwrap(),
        vec![phone.clone()]
    );
    assert_eq!(other.bindings(&phone.aor, T0).await.unwrap(), vec![phone]);
    assert_eq!(lookup(&store, "before-restart").await.events.len(), 1);

    let migration_files =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count();
    assert!(migration_files >= 1);
    assert_eq!(applied_migrations(&db.url).await, migration_files as i64);
}

/// Rows in sqlx's bookkeeping table, read without the store.
async fn applied_migrations(url: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

async fn clones_share_the_store_across_tasks(db: &TestDb) {
    let store = connect(db).await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("parallel-{i:02}");
                store.insert_call(&new_call(&id, T0 + i)).await?;
                store.mark_answered(&id, T0 + i + 1).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let calls = store.recent_calls(100).await.unwrap();
    assert_eq!(calls.len(), 32);
    assert!(calls.iter().all(|c| c.state == CallState::Answered));
    assert_eq!(calls[0].id, "parallel-31");
}

// --- SQLite only ---

#[tokio::test]
async fn sqlite_creates_the_file_and_its_directory_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/twice/herald.db");
    let url = format!("sqlite://{}", file.display());
    let store = Store::connect(&url).await.unwrap();
    store.insert_call(&new_call("c", T0)).await.unwrap();
    assert!(file.is_file());
    let wal = dir.path().join("nested/twice/herald.db-wal");
    assert!(wal.is_file(), "no write-ahead log next to the database");

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_database_is_one_database_for_all_clones() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { store.insert_call(&new_call(&format!("m{i}"), T0 + i)).await },
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.recent_calls(100).await.unwrap().len(), 8);
    // A second memory store is a different, empty database.
    let other = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(other.recent_calls(100).await.unwrap().len(), 0);
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    assert!(matches!(
        Store::connect("mysql://root:secret@localhost/herald").await,
        Err(StoreError::UnsupportedUrl { scheme }) if scheme == "mysql"
    ));
}
