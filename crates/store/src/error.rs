//! The one error type of the store, split by origin: the caller asked for
//! something impossible, the database or its connection failed, or a stored
//! row does not parse.

use std::path::PathBuf;

use crate::calls::CallState;
use crate::recordings::RecordingState;

/// Everything a [`Store`](crate::Store) operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // --- the caller misused the API ---
    /// The database URL names neither SQLite nor PostgreSQL. Carries only the
    /// scheme: the rest of a URL may hold a password.
    #[error("unsupported database URL scheme {scheme:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl {
        /// The part before the first `:`.
        scheme: String,
    },
    /// No call has this id.
    #[error("no call with id {0:?}")]
    CallNotFound(String),
    /// A call with this id already exists.
    #[error("a call with id {0:?} already exists")]
    CallExists(String),
    /// The call is not in a state that allows the operation, e.g. answering
    /// a call that has already ended.
    #[error("call {id:?} is {state}: cannot {operation}")]
    InvalidTransition {
        /// The call's id.
        id: String,
        /// The state the call is in.
        state: CallState,
        /// What was attempted ("answer", "end").
        operation: &'static str,
    },
    /// More than one call id starts with this prefix.
    #[error("call id prefix {0:?} is ambiguous")]
    AmbiguousPrefix(String),
    /// A q-value above 1000 thousandths (q=1.0).
    #[error("q-value {0}/1000 is out of range 0..=1000")]
    InvalidQValue(u16),
    /// A count or position too large to store (the database holds signed 64-bit integers).
    #[error("{field} is too large to store")]
    OutOfRange {
        /// Which value.
        field: &'static str,
    },
    /// No recording has this id.
    #[error("no recording with id {0:?}")]
    RecordingNotFound(String),
    /// A recording with this id already exists.
    #[error("a recording with id {0:?} already exists")]
    RecordingExists(String),
    /// A recording without any wrapped data key: nobody could ever open it.
    #[error("recording {0:?} has no wrapped data key")]
    NoWrappedKeys(String),
    /// The recording is not in a state that allows the operation, e.g. finishing a recording
    /// that has already finished.
    #[error("recording {id:?} is {state}: cannot {operation}")]
    InvalidRecordingTransition {
        /// The recording's id.
        id: String,
        /// The state the recording is in.
        state: RecordingState,
        /// What was attempted ("finish", "place a hold on").
        operation: &'static str,
    },
    /// More than one recording id starts with this prefix.
    #[error("recording id prefix {0:?} is ambiguous")]
    AmbiguousRecordingPrefix(String),
    /// No open gap of this recording has this sequence number.
    #[error("recording {recording_id:?} has no open gap {seq}")]
    GapNotOpen {
        /// The recording.
        recording_id: String,
        /// The gap's sequence number.
        seq: u64,
    },
    /// The recording is under legal hold: it may not be erased until every hold is released.
    #[error("recording {id:?} is under legal hold ({})", case_refs.join(", "))]
    LegalHold {
        /// The recording.
        id: String,
        /// The case references of the holds still in force.
        case_refs: Vec<String>,
    },
    /// No legal hold has this id.
    #[error("no legal hold with id {0:?}")]
    HoldNotFound(String),
    /// The legal hold has already been released.
    #[error("legal hold {0:?} is already released")]
    HoldReleased(String),
    /// A recorder key with this id or public key already exists.
    #[error("a recorder key with id {0:?} or the same public key already exists")]
    RecorderKeyExists(String),
    /// No recorder key has this id.
    #[error("no recorder key with id {0:?}")]
    RecorderKeyNotFound(String),
    /// The recorder key is already retired.
    #[error("recorder key {0:?} is already retired")]
    RecorderKeyRetired(String),
    /// Another public key is registered under this node key id.
    #[error("node key id {0:?} is registered with a different public key")]
    NodeKeyMismatch(String),
    /// The same person asked twice for the release of a legal hold that needs two: a second,
    /// different person must approve it.
    #[error(
        "{by:?} already asked for the release of legal hold {hold_id:?}: \
         a second, different person must approve it"
    )]
    SameApprover {
        /// The hold.
        hold_id: String,
        /// Who asked again.
        by: String,
    },
    /// A data subject request with this id already exists.
    #[error("a data subject request with id {0:?} already exists")]
    DsrRequestExists(String),
    /// No data subject request has this id.
    #[error("no data subject request with id {0:?}")]
    DsrRequestNotFound(String),
    /// A data subject request cannot be finished from the state it is in (only a `running`
    /// request finishes), or the requested final state is not one (`done`, `refused` or
    /// `failed`).
    #[error(
        "data subject request {id:?} cannot be finished ({state}): \
         only a running request finishes, as done, refused or failed"
    )]
    InvalidDsrTransition {
        /// The request.
        id: String,
        /// The state it is in; or the requested state, when that is not a final one.
        state: String,
    },
    /// A data subject's erasure was refused as a whole, for these reasons (holds, retention
    /// obligations, recordings still running); nothing was erased.
    #[error("nothing was erased: {}", .0.join("; "))]
    ErasureRefused(Vec<String>),

    // --- I/O failed ---
    /// The directory for a SQLite database file could not be created.
    #[error("cannot create database directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Connecting to the database (or configuring the connection) failed.
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
    /// SQLite refused to switch the database file to write-ahead logging.
    #[error("SQLite database stays in journal mode {0:?} instead of WAL")]
    WalRefused(String),
    /// Applying the schema migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed")]
    Database(#[from] sqlx::Error),

    // --- stored data is bad ---
    /// A stored value does not parse (e.g. an unknown call state, an address
    /// that is not `ip:port`, event detail that is not JSON).
    #[error("corrupt {column} in the database: {detail}")]
    Corrupt {
        /// Table and column, e.g. `calls.state`.
        column: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl StoreError {
    pub(crate) fn corrupt(column: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            column,
            detail: detail.to_string(),
        }
    }
}

/// The database constraint that a failed statement violated, if that is why
/// it failed.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<sqlx::error::ErrorKind> {
    match error {
        sqlx::Error::Database(db) => Some(db.kind()),
        _ => None,
    }
}

/// A name that is none of the names of [`SubjectKind`](crate::SubjectKind),
/// [`DsrKind`](crate::DsrKind) or [`DsrState`](crate::DsrState): what their `FromStr` fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}: expected {expected}")]
pub struct UnknownName {
    what: &'static str,
    name: String,
    expected: &'static str,
}

impl UnknownName {
    pub(crate) fn new(what: &'static str, name: &str, expected: &'static str) -> Self {
        UnknownName {
            what,
            name: name.to_owned(),
            expected,
        }
    }
}
