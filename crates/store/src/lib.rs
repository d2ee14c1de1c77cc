//! Herald's persistence layer: one schema, on SQLite or PostgreSQL, and the recording blobs,
//! on files or an S3-compatible object store.
//!
//! # What it stores
//!
//! - **Calls** ([`NewCall`], [`CallRecord`]): who called whom, from where, over
//!   which transport, which dialplan route took the call, and how it went:
//!   [`CallState`] `ringing` → `answered` → `ended`, or `ringing` → `failed`,
//!   with start, answer and end times, the hang-up cause and the final SIP
//!   status.
//! - **Call events** ([`CallEvent`]): the trail of a call (prompts played,
//!   kinds of input collected, transfers, ...), each with a kind and a JSON
//!   detail, kept in the order they were added.
//! - **Registrations** ([`Binding`]): the contacts SIP user agents registered
//!   for an address of record, with their expiry. With a shared PostgreSQL
//!   database every Herald node sees every registered phone.
//! - **Recordings** ([`NewRecording`], [`RecordingRecord`], [`RecordingDetails`]): the
//!   metadata of each encrypted call recording (parties, blob location, codec, times, size,
//!   consent, retention class, expiry, digest) and its [`RecordingState`]: `recording` →
//!   `complete` or `interrupted` ([`Store::finish_recording`], once) → `erased`. With it its
//!   gaps ([`RecordingGap`]: pauses for card input, hold, opt-out) and disclosure evidence
//!   ([`RecordingEvidence`]), never digits. [`Store::open_recordings`] lists the recordings a
//!   crash interrupted; [`Store::recording`] finds one by id or unique id prefix;
//!   [`Store::recordings`] lists them by [`RecordingFilter`].
//! - **Wrapped data keys**: each recording's random data key wrapped (an age file) to every
//!   active recorder key, stored with the recording in one transaction
//!   ([`Store::insert_recording`], [`Store::wrapped_keys`]). The keys live in the database,
//!   not in the blob: deleting them makes every copy of the blob unreadable.
//! - **Recorder keys** ([`RecorderKey`]): the recipient public keys (`age1...`) new
//!   recordings are wrapped to; rotation adds one and retires another
//!   ([`Store::rotate_recorder_key`]). Public keys only.
//! - **Legal holds** ([`LegalHold`]): any number per recording, placed and released with who,
//!   when and why. A recording is held while any hold is unreleased. A release may need two
//!   different people ([`Store::release_hold_with`], [`ReleaseOutcome`]).
//! - **Erasure and retention**: [`Store::erase_recording`] destroys a recording's wrapped keys
//!   and marks it `erased` in one transaction, keeping the metadata row, and refuses while it
//!   is held ([`StoreError::LegalHold`] names the cases). [`Store::expired_recordings`] lists
//!   finished, unheld recordings whose `expires_at` has passed; a hold suspends expiry.
//! - **Recording blobs** ([`BlobStore`], [`BlobWriter`]): the ciphertext itself, streamed to
//!   files (`file://DIR`) or an S3-compatible store (`s3://BUCKET/PREFIX`, spooled locally and
//!   uploaded in parts), with crash recovery ([`BlobStore::recover`]). See [`BlobStore`] for
//!   the durability each append gets.
//! - **Audit log** ([`NewAuditEntry`], [`AuditEntry`]): who did what to which target, why and
//!   how it went, hash-chained ([`audit_entry_hash`]) with a head signed by the appending node
//!   ([`AuditSigner`], [`AuditHead`]). Appends serialise on the head row across nodes;
//!   [`Store::verify_audit`] walks the chain and names every break ([`AuditProblem`]).
//! - **Subjects** ([`SubjectKind`]): an index from keyed hashes of callers' phone numbers,
//!   e-mail addresses and names to calls, for data subject requests. The server computes the
//!   hashes; the store never sees the identifiers. Calls can be anonymised
//!   ([`Store::anonymize_call`]) and their caller rectified ([`Store::rectify_caller`]).
//! - **Data subject requests** ([`NewDsrRequest`], [`DsrRequest`]): export, rectification and
//!   deletion requests queued as [`DsrState`] `pending` → `running` → `done`, `refused` or
//!   `failed`, claimed atomically by workers ([`Store::claim_dsr_request`]).
//!
//! # What it does not do
//!
//! It holds no protocol logic: it does not decide whether a REGISTER may
//! replace a binding (Call-ID/CSeq ordering), whether a call may be answered,
//! or what a hang-up cause means; it records what the engine and the registrar
//! decided. It does not expire anything by itself: the server calls
//! [`Store::purge_expired`] and [`Store::expired_recordings`] when it sees fit, and deletes
//! an erased recording's blob itself once the erasure has committed. It never sees plaintext
//! audio or a private key: blobs are ciphertext sealed by `herald-recorder`, wrapped data keys
//! are opaque bytes, recorder keys are public. It generates no ids (callers supply recording
//! and request ids; a hold's id is derived from its recording's; audit entries are numbered in
//! order). It computes no keyed hashes and signs nothing itself: subject hashes come in as hex,
//! and the audit head is signed by the caller's [`AuditSigner`]. It never logs: the record
//! types hold phone numbers, URIs and addresses, so their `Debug` output leaves those out (sqlx
//! itself logs statement text, never bound values; DSR parameters and results are left out
//! too), and S3 secrets are never printed. Callers must
//! not put DTMF digits into event details.
//!
//! # Time
//!
//! The store never reads the clock. Every time is an argument, in **unix
//! milliseconds (UTC) as `i64`**, and is stored as such (`BIGINT`), so the
//! same value comes back from either database and tests run on fixed times.
//! "Now" for expiry questions ([`Store::bindings`], [`Store::purge_expired`],
//! [`Store::expired_recordings`]) is also an argument: a binding is live while
//! `now < expires_at`; a recording has expired once `expires_at <= now`. Blob writers
//! sync by volume, not by clock (see [`SYNC_EVERY_BYTES`]).
//!
//! # Databases
//!
//! [`Store::connect`] takes `sqlite://PATH` (the file and its directory are
//! created if missing, and the file is switched to write-ahead logging),
//! `sqlite::memory:` (for tests: one connection, gone with the store) or
//! `postgres://...`, and applies the migrations in `migrations/` before
//! returning. The same migration files run on both databases, so they use
//! only portable SQL: `TEXT` and `BIGINT` columns, no database-specific
//! types. Queries go through sqlx's `Any` driver with `$1` placeholders,
//! which both databases accept, so each query is written once.
//!
//! A [`Store`] is a connection pool: clone it freely into tasks, every clone
//! shares the pool. Operations that must not interleave (erasing versus placing a hold)
//! lock the recording's row first, so they serialise on both databases.
//!
//! # Run loop
//!
//! None of its own: every method is an `async` call the caller awaits on its tokio runtime.
//! Blob file operations run on tokio's blocking pool; S3 part uploads run as spawned tasks
//! that `finish` awaits.

#![warn(missing_docs)]

mod audit;
mod blobs;
mod call_privacy;
mod calls;
mod dsr;
mod error;
mod legal_holds;
mod location;
mod node_keys;
mod recorder_keys;
mod recording_trail;
mod recordings;
mod registrations;
mod subjects;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

pub use audit::{
    AuditEntry, AuditHead, AuditProblem, AuditReport, AuditSigner, GENESIS_HASH, NewAuditEntry,
    audit_entry_hash, audit_head_message,
};
pub use blobs::{
    BlobError, BlobInfo, BlobStore, BlobWriter, PART_SIZE, S3Options, SYNC_EVERY_BYTES,
    SecretAccessKey,
};
pub use call_privacy::SubjectErasure;
pub use calls::{
    BatchOutcome, CallEvent, CallRecord, CallRecordWithEvents, CallState, CallWrite, NewCall,
};
pub use dsr::{DsrKind, DsrRequest, DsrState, NewDsrRequest};
pub use error::{StoreError, UnknownName};
pub use legal_holds::{EraseOutcome, LegalHold, ReleaseOutcome};
pub use recorder_keys::RecorderKey;
pub use recording_trail::{NewRecordingEvidence, NewRecordingGap, RecordingEvidence, RecordingGap};
pub use recordings::{
    FinalState, FinishedRecording, NewRecording, RecordingDetails, RecordingFilter,
    RecordingRecord, RecordingState,
};
pub use registrations::Binding;
pub use subjects::SubjectKind;

use location::Location;

/// The schema migrations, embedded at build time from `migrations/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite, a file or memory.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A handle on the database. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to the database at `url`, creating a SQLite file (and its
    /// directory) if needed, and applies any migrations not yet applied.
    /// Connecting again to a migrated database changes nothing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Self::open(url, false).await
    }

    /// Opens an existing database for reading only: no file is created, no migration is run
    /// and no journal mode is set, so an inspection command (`herald calls list`) never takes
    /// a write lock from under a running server.
    pub async fn connect_read_only(url: &str) -> Result<Store, StoreError> {
        Self::open(url, true).await
    }

    async fn open(url: &str, read_only: bool) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let location = Location::parse(url)?;
        let (pool, backend) = match &location {
            Location::SqliteFile { url, .. } if read_only => {
                let url = url.replace("mode=rwc", "mode=ro");
                let pool = pool_options(2)
                    .connect(&url)
                    .await
                    .map_err(StoreError::Connect)?;
                (pool, Backend::Sqlite)
            }
            Location::SqliteFile { path, url } => {
                create_parent_dir(path)?;
                let pool = pool_options(8)
                    .connect(url)
                    .await
                    .map_err(StoreError::Connect)?;
                enable_wal(&pool).await?;
                (pool, Backend::Sqlite)
            }
            Location::SqliteMemory { url } => {
                // Each new connection to `:memory:` would open a new, empty
                // database: keep exactly one, forever.
                let pool = pool_options(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect(url)
                    .await
                    .map_err(StoreError::Connect)?;
                (pool, Backend::Sqlite)
            }
            Location::Postgres { url } => {
                let pool = pool_options(16)
                    .connect(url)
                    .await
                    .map_err(StoreError::Connect)?;
                (pool, Backend::Postgres)
            }
        };
        if !read_only {
            MIGRATOR.run(&pool).await?;
        }
        Ok(Store { pool, backend })
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers (a trivial query), for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection, waiting for queries in flight. Clones of
    /// this store fail from then on.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
}

fn create_parent_dir(path: &std::path::Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Switches a SQLite file to write-ahead logging: readers do not block the
/// writer. The mode is stored in the file, so one connection setting it is
/// enough.
async fn enable_wal(pool: &AnyPool) -> Result<(), StoreError> {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
        .fetch_one(pool)
        .await
        .map_err(StoreError::Connect)?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::WalRefused(mode))
    }
}
