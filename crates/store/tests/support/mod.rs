//! What the recording tests share: a database per test on SQLite and on a real PostgreSQL
//! server, the macro that runs each scenario on both, and recordings to store.

// Each test binary uses its own subset.
#![allow(dead_code)]

use herald_store::{
    Backend, FinalState, FinishedRecording, NewCall, NewRecording, RecordingRecord, Store,
};
use herald_testkit::PostgresServer;

/// An arbitrary fixed "now": 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000_000;
/// A day in milliseconds.
pub const DAY: i64 = 86_400_000;

/// A database for one test, removed when dropped.
pub struct TestDb {
    url: String,
    backend: Backend,
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres: Option<PostgresServer>,
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/herald.db", dir.path().display());
    TestDb {
        url,
        backend: Backend::Sqlite,
        _sqlite_dir: Some(dir),
        _postgres: None,
    }
}

pub fn postgres_db() -> Option<TestDb> {
    let server = PostgresServer::start_or_skip()?;
    Some(TestDb {
        url: server.url(),
        backend: Backend::Postgres,
        _sqlite_dir: None,
        _postgres: Some(server),
    })
}

/// Runs each scenario once per backend: `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(&super::support::sqlite_db()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(db) = super::support::postgres_db() else { return };
                    super::$scenario(&db).await;
                }
            )*
        }
    };
}

impl TestDb {
    /// The database's URL, for a second store (another node) or a raw connection.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A plain sqlx pool on the test database, for tampering with rows behind the store's back.
pub async fn raw_pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url)
        .await
        .expect("raw connection")
}

/// Runs one statement on the test database behind the store's back.
pub async fn raw_execute(db: &TestDb, sql: &'static str) -> u64 {
    let pool = raw_pool(db).await;
    let done = sqlx::query(sql).execute(&pool).await.expect(sql);
    pool.close().await;
    done.rows_affected()
}

/// A call from +4930123456.
pub fn new_call(id: &str, started_at: i64) -> NewCall {
    NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@trunk.example"),
        from_uri: "\"Ann\" <sip:+4930123456@trunk.example;user=phone>;tag=9f1".to_owned(),
        to_uri: "sip:+498912345@herald.example".to_owned(),
        caller: "+4930123456".to_owned(),
        callee: "+498912345".to_owned(),
        source: "[2001:db8::7]:5062".parse().unwrap(),
        transport: "tls".to_owned(),
        route: "support-de".to_owned(),
        started_at,
        user_agent: Some("AudioCodes 445HD/3.4.6".to_owned()),
    }
}

pub async fn connect(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.expect("connect and migrate");
    assert_eq!(store.backend(), db.backend);
    store
}

/// A recording id: 32 hex digits ending in `tail`.
pub fn rec_id(tail: &str) -> String {
    format!("{tail:0>32}")
}

pub fn new_recording(id: &str, started_at: i64) -> NewRecording {
    NewRecording {
        id: id.to_owned(),
        call_id: Some(format!("call-{id}")),
        caller: "+4930123456".to_owned(),
        callee: "+498912345".to_owned(),
        blob: format!("s3://recordings/herald/{}/{id}.hrec", &id[..2]),
        codec: "pcmu".to_owned(),
        sample_rate: 8000,
        channels: "caller,herald".to_owned(),
        started_at,
        consent: "accepted".to_owned(),
        retention_class: "voice-13m".to_owned(),
        node_key: Some("node-1".to_owned()),
        wrapped_keys: vec![("k1".to_owned(), b"age-wrapped-for-k1".to_vec())],
    }
}

pub fn finished(state: FinalState, ended_at: i64, expires_at: Option<i64>) -> FinishedRecording {
    FinishedRecording {
        state,
        ended_at,
        duration_ms: 61_000,
        segments: 61,
        bytes: 987_654,
        digest: Some("ab".repeat(32)),
        expires_at,
    }
}

pub async fn record(store: &Store, id: &str) -> RecordingRecord {
    store
        .recording(id)
        .await
        .unwrap()
        .expect("the recording is stored")
        .recording
}
