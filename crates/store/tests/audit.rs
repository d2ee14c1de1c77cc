//! The hash-chained audit log against SQLite and a real PostgreSQL server: appending (also
//! concurrently, from two stores standing for two nodes), listing, searching, and verification
//! that finds rows changed, deleted or forged behind the store's back.

use herald_store::{
    AuditEntry, AuditProblem, AuditReport, AuditSigner, GENESIS_HASH, NewAuditEntry, Store,
    audit_entry_hash, audit_head_message,
};
use serde_json::json;
use sha2::{Digest, Sha256};

mod support;

use support::{T0, TestDb, connect, raw_execute, raw_pool};

on_both_backends!(
    appended_entries_form_a_chain_that_verifies,
    concurrent_appenders_from_two_nodes_never_fork_the_chain,
    edited_entries_are_reported_as_altered,
    a_rewritten_entry_breaks_the_next_link,
    deleted_entries_are_reported_as_missing,
    a_deleted_tail_is_reported_as_truncated,
    a_forged_or_stale_head_is_reported,
    verification_pages_through_thousands_of_entries,
);

/// A stand-in for a node's Ed25519 key: hex of SHA-256(secret || message).
struct TestSigner {
    key_id: &'static str,
    secret: &'static [u8],
}

const NODE_A: TestSigner = TestSigner {
    key_id: "node-a",
    secret: b"secret of node a",
};
const NODE_B: TestSigner = TestSigner {
    key_id: "node-b",
    secret: b"secret of node b",
};

fn signature(secret: &[u8], message: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(message);
    hex::encode(hasher.finalize())
}

impl AuditSigner for TestSigner {
    fn key_id(&self) -> String {
        self.key_id.to_owned()
    }

    fn sign(&self, message: &[u8]) -> String {
        signature(self.secret, message)
    }
}

/// Checks a head signature by either test node.
fn check_signature(key_id: &str, message: &[u8], signature_hex: &str) -> bool {
    [NODE_A, NODE_B]
        .iter()
        .any(|node| node.key_id == key_id && signature(node.secret, message) == signature_hex)
}

async fn verify(store: &Store) -> AuditReport {
    store.verify_audit(&check_signature).await.unwrap()
}

fn entry(n: u64) -> NewAuditEntry {
    NewAuditEntry {
        at: T0 + n as i64,
        actor: format!("user-{}", n % 3),
        role: if n.is_multiple_of(2) {
            "dpo"
        } else {
            "operator"
        }
        .to_owned(),
        action: if n.is_multiple_of(5) {
            "recording.erase"
        } else {
            "recording.play"
        }
        .to_owned(),
        target: format!("rec-{}", n % 4),
        purpose: n.is_multiple_of(2).then(|| format!("ticket {n}")),
        outcome: "ok".to_owned(),
        detail: json!({"n": n, "nested": {"z": 1, "a": [true, null, "é"]}}),
    }
}

async fn append(store: &Store, count: u64) -> Vec<AuditEntry> {
    let mut appended = Vec::new();
    for n in 1..=count {
        appended.push(store.append_audit(&entry(n), &NODE_A).await.unwrap());
    }
    appended
}

async fn appended_entries_form_a_chain_that_verifies(db: &TestDb) {
    let store = connect(db).await;
    let genesis = store.audit_head().await.unwrap();
    assert_eq!(
        (
            genesis.seq,
            genesis.hash.as_str(),
            genesis.node_key.as_str()
        ),
        (0, GENESIS_HASH, "")
    );
    let empty = verify(&store).await;
    assert!(empty.intact(), "{:?}", empty.problems);
    assert_eq!(empty.entries, 0);

    let appended = append(&store, 50).await;
    for (i, e) in appended.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        let prev = if i == 0 {
            GENESIS_HASH
        } else {
            &appended[i - 1].hash
        };
        assert_eq!(e.prev_hash, prev);
        assert_eq!(e.hash.len(), 64);
    }
    let first = &appended[0];
    let detail_text = json!({"n": 1, "nested": {"z": 1, "a": [true, null, "é"]}}).to_string();
    assert_eq!(
        first.hash,
        audit_entry_hash(
            GENESIS_HASH,
            1,
            T0 + 1,
            "user-1",
            "operator",
            "recording.play",
            "rec-1",
            None,
            "ok",
            &detail_text
        )
    );

    let head = store.audit_head().await.unwrap();
    assert_eq!(
        (head.seq, head.hash.as_str()),
        (50, appended[49].hash.as_str())
    );
    assert_eq!(head.node_key, "node-a");
    assert_eq!(
        head.signature,
        NODE_A.sign(&audit_head_message(50, &appended[49].hash))
    );

    // Listing pages through in ascending order and returns exactly what was appended.
    let mut listed = store.audit_entries(0, 20).await.unwrap();
    listed.extend(store.audit_entries(20, 20).await.unwrap());
    listed.extend(store.audit_entries(40, 20).await.unwrap());
    assert_eq!(listed, appended);
    assert!(store.audit_entries(50, 20).await.unwrap().is_empty());

    // Search: newest first, exact matches, limited.
    let seqs = |entries: Vec<AuditEntry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(
            store
                .audit_search(None, Some("recording.erase"), 100)
                .await
                .unwrap()
        ),
        [50, 45, 40, 35, 30, 25, 20, 15, 10, 5]
    );
    assert_eq!(
        seqs(
            store
                .audit_search(Some("rec-2"), Some("recording.erase"), 100)
                .await
                .unwrap()
        ),
        [50, 30, 10]
    );
    assert_eq!(
        seqs(store.audit_search(Some("rec-1"), None, 3).await.unwrap()),
        [49, 45, 41]
    );
    assert_eq!(store.audit_search(None, None, 100).await.unwrap().len(), 50);
    assert!(
        store
            .audit_search(Some("rec-"), None, 100)
            .await
            .unwrap()
            .is_empty(),
        "targets match exactly"
    );

    let report = verify(&store).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.entries, 50);
    assert_eq!(report.head, head);
}

async fn concurrent_appenders_from_two_nodes_never_fork_the_chain(db: &TestDb) {
    let node_a = connect(db).await;
    let node_b = Store::connect(db.url()).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let store = if task % 2 == 0 {
            node_a.clone()
        } else {
            node_b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let signer = if task % 2 == 0 { &NODE_A } else { &NODE_B };
            let mut seqs = Vec::new();
            for i in 0..25 {
                let mut new = entry(task * 100 + i);
                new.actor = format!("task-{task}");
                seqs.push(store.append_audit(&new, signer).await.unwrap().seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<u64>>());

    let report = verify(&node_b).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!((report.entries, report.head.seq), (200, 200));
    for task in 0..8 {
        let actor = format!("task-{task}");
        let mine = node_a
            .audit_entries(0, 1_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.actor == actor)
            .count();
        assert_eq!(mine, 25, "{actor}");
    }
}

async fn edited_entries_are_reported_as_altered(db: &TestDb) {
    let store = connect(db).await;
    append(&store, 20).await;
    raw_execute(db, "UPDATE audit_log SET outcome = 'refused' WHERE seq = 7").await;
    raw_execute(
        db,
        "UPDATE audit_log SET detail = '{\"n\":12}' WHERE seq = 12",
    )
    .await;
    raw_execute(
        db,
        "UPDATE audit_log SET detail = 'not json' WHERE seq = 15",
    )
    .await;
    raw_execute(db, "UPDATE audit_log SET purpose = NULL WHERE seq = 18").await;
    let report = verify(&store).await;
    assert!(!report.intact());
    assert_eq!(report.entries, 20);
    assert_eq!(
        report.problems,
        [
            AuditProblem::Altered { seq: 7 },
            AuditProblem::Altered { seq: 12 },
            AuditProblem::Altered { seq: 15 },
            AuditProblem::Altered { seq: 18 },
        ]
    );
    assert_eq!(
        report.problems[0].to_string(),
        "entry 7 was altered: its stored hash does not match its contents"
    );
}

async fn a_rewritten_entry_breaks_the_next_link(db: &TestDb) {
    let store = connect(db).await;
    let appended = append(&store, 10).await;
    // Rewrite entry 4 and store a hash that matches its new contents: the entry itself checks
    // out, but entry 5 still points at the old hash.
    let old = &appended[3];
    let forged_hash = audit_entry_hash(
        &old.prev_hash,
        4,
        old.at,
        &old.actor,
        &old.role,
        &old.action,
        &old.target,
        old.purpose.as_deref(),
        "refused",
        &old.detail.to_string(),
    );
    let pool = raw_pool(db).await;
    sqlx::query("UPDATE audit_log SET outcome = 'refused', hash = $1 WHERE seq = 4")
        .bind(&forged_hash)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let report = verify(&store).await;
    assert_eq!(report.problems, [AuditProblem::BrokenLink { seq: 5 }]);
    assert!(report.problems[0].to_string().contains("entry 5"));
}

async fn deleted_entries_are_reported_as_missing(db: &TestDb) {
    let store = connect(db).await;
    append(&store, 12).await;
    raw_execute(db, "DELETE FROM audit_log WHERE seq = 5").await;
    let report = verify(&store).await;
    assert_eq!(report.entries, 11);
    assert_eq!(
        report.problems,
        [AuditProblem::Missing { after: 4, next: 6 }]
    );

    // The first entries, and a run in the middle.
    raw_execute(db, "DELETE FROM audit_log WHERE seq IN (1, 2, 8, 9, 10)").await;
    let report = verify(&store).await;
    assert_eq!(
        report.problems,
        [
            AuditProblem::Missing { after: 0, next: 3 },
            AuditProblem::Missing { after: 4, next: 6 },
            AuditProblem::Missing { after: 7, next: 11 },
        ]
    );
    assert_eq!(
        report.problems[2].to_string(),
        "entries 8 to 10 are missing: the log jumps from entry 7 to entry 11"
    );
    // The head still matches the last entry, which is still there.
    assert_eq!(report.head.seq, 12);
}

async fn a_deleted_tail_is_reported_as_truncated(db: &TestDb) {
    let store = connect(db).await;
    append(&store, 10).await;
    raw_execute(db, "DELETE FROM audit_log WHERE seq = 10").await;
    let report = verify(&store).await;
    assert_eq!(
        report.problems,
        [AuditProblem::Truncated {
            head_seq: 10,
            last_seq: 9
        }]
    );

    // Everything gone: still truncated, not an intact empty log.
    raw_execute(db, "DELETE FROM audit_log").await;
    let report = verify(&store).await;
    assert_eq!(report.entries, 0);
    assert_eq!(
        report.problems,
        [AuditProblem::Truncated {
            head_seq: 10,
            last_seq: 0
        }]
    );
    assert!(report.problems[0].to_string().contains("truncated"));
}

async fn a_forged_or_stale_head_is_reported(db: &TestDb) {
    let store = connect(db).await;
    let appended = append(&store, 5).await;

    raw_execute(
        db,
        "UPDATE audit_head SET signature = 'deadbeef' WHERE id = 1",
    )
    .await;
    assert_eq!(verify(&store).await.problems, [AuditProblem::BadSignature]);

    // A head rolled back to entry 3 and signed with a key nobody trusts: entries 4 and 5 were
    // appended without it, as far as the head knows.
    let rogue = TestSigner {
        key_id: "node-a",
        secret: b"not the real secret",
    };
    let message = audit_head_message(3, &appended[2].hash);
    let pool = raw_pool(db).await;
    sqlx::query("UPDATE audit_head SET seq = 3, hash = $1, signature = $2 WHERE id = 1")
        .bind(&appended[2].hash)
        .bind(rogue.sign(&message))
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        verify(&store).await.problems,
        [
            AuditProblem::HeadMismatch { seq: 3 },
            AuditProblem::BadSignature
        ]
    );

    // Properly signed, but over a hash that is not the last entry's.
    let bogus = "ab".repeat(32);
    sqlx::query("UPDATE audit_head SET seq = 5, hash = $1, signature = $2 WHERE id = 1")
        .bind(&bogus)
        .bind(NODE_A.sign(&audit_head_message(5, &bogus)))
        .execute(&pool)
        .await
        .unwrap();
    let report = verify(&store).await;
    assert_eq!(report.problems, [AuditProblem::HeadMismatch { seq: 5 }]);
    assert!(report.problems[0].to_string().contains("head"));

    // A genesis head is only unsigned while the log is empty.
    sqlx::query(
        "UPDATE audit_head SET seq = 0, hash = $1, node_key = '', signature = '' WHERE id = 1",
    )
    .bind(GENESIS_HASH)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        verify(&store).await.problems,
        [AuditProblem::HeadMismatch { seq: 0 }]
    );
    pool.close().await;

    // The head decides the next seq: a head rolled back behind the log stops appends rather
    // than forking the chain.
    assert!(store.append_audit(&entry(6), &NODE_B).await.is_err());
    assert_eq!(store.audit_entries(0, 100).await.unwrap(), appended);
}

async fn verification_pages_through_thousands_of_entries(db: &TestDb) {
    const ENTRIES: u64 = 2_345;
    let store = connect(db).await;
    // Written directly, in one transaction, with the hashes the store would compute.
    let pool = raw_pool(db).await;
    let mut tx = pool.begin().await.unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=ENTRIES {
        let e = entry(seq);
        let detail = e.detail.to_string();
        let hash = audit_entry_hash(
            &prev,
            seq,
            e.at,
            &e.actor,
            &e.role,
            &e.action,
            &e.target,
            e.purpose.as_deref(),
            &e.outcome,
            &detail,
        );
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, role, action, target, purpose, outcome, \
             detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(seq as i64)
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.role)
        .bind(&e.action)
        .bind(&e.target)
        .bind(e.purpose.as_deref())
        .bind(&e.outcome)
        .bind(&detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .unwrap();
        prev = hash;
    }
    sqlx::query(
        "UPDATE audit_head SET seq = $1, hash = $2, node_key = 'node-a', signature = $3 \
         WHERE id = 1",
    )
    .bind(ENTRIES as i64)
    .bind(&prev)
    .bind(NODE_A.sign(&audit_head_message(ENTRIES, &prev)))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    pool.close().await;

    let report = verify(&store).await;
    assert!(report.intact(), "{:?}", report.problems);
    assert_eq!(report.entries, ENTRIES);
    let next = store.append_audit(&entry(0), &NODE_A).await.unwrap();
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (ENTRIES + 1, prev.as_str())
    );

    // Gaps and edits on both sides of page boundaries are found.
    raw_execute(db, "DELETE FROM audit_log WHERE seq IN (1000, 1001)").await;
    raw_execute(
        db,
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2000",
    )
    .await;
    raw_execute(
        db,
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2001",
    )
    .await;
    let report = verify(&store).await;
    assert_eq!(report.entries, ENTRIES + 1 - 2);
    assert_eq!(
        report.problems,
        [
            AuditProblem::Missing {
                after: 999,
                next: 1002
            },
            AuditProblem::Altered { seq: 2000 },
            AuditProblem::Altered { seq: 2001 },
        ]
    );
}
