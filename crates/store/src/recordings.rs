//! The `recordings` and `recording_keys` tables: a recording's metadata, its lifecycle from
//! capture to sealing, and the data keys wrapped to recorder keys.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::calls::from_stored_int;
use crate::error::violated_constraint;
use crate::legal_holds::LegalHold;
use crate::recording_trail::{RecordingEvidence, RecordingGap};
use crate::{Store, StoreError};

/// Where a recording stands.
///
/// ```text
///   insert_recording            finish_recording
///  ─────────────────> recording ────────────────> complete     (sealed by its trailer)
///                         │     ────────────────> interrupted  (recovered after a crash,
///                         │                                      or cut short)
///                         │          erase_recording
///                         └──────────────────────────────────> erased
///                complete, interrupted ──────────────────────> erased
/// ```
///
/// `erased` is final: the wrapped keys are gone, the metadata row stays as the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingState {
    /// Being captured.
    Recording,
    /// Finished and sealed.
    Complete,
    /// Ended without a regular finish (crash, media failure); readable up to where it stopped.
    Interrupted,
    /// Its keys were destroyed; the blob is unreadable.
    Erased,
}

impl RecordingState {
    /// Every state, in lifecycle order.
    pub const ALL: [RecordingState; 4] = [
        RecordingState::Recording,
        RecordingState::Complete,
        RecordingState::Interrupted,
        RecordingState::Erased,
    ];

    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Complete => "complete",
            RecordingState::Interrupted => "interrupted",
            RecordingState::Erased => "erased",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<RecordingState> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

impl fmt::Display for RecordingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a recording ends, for [`FinishedRecording`]: the states `finish_recording` may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalState {
    /// Finished and sealed.
    Complete,
    /// Cut short or recovered after a crash.
    Interrupted,
}

impl From<FinalState> for RecordingState {
    fn from(state: FinalState) -> Self {
        match state {
            FinalState::Complete => RecordingState::Complete,
            FinalState::Interrupted => RecordingState::Interrupted,
        }
    }
}

/// A recording as capture starts, for [`Store::insert_recording`]. It starts `recording`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRecording {
    /// The recording's id: 32 hex digits.
    pub id: String,
    /// The call it records (`calls.id`), if any.
    pub call_id: Option<String>,
    /// The calling number or user.
    pub caller: String,
    /// The called number or user.
    pub callee: String,
    /// Where the ciphertext goes (a blob location).
    pub blob: String,
    /// The codec of the recorded audio, e.g. `pcmu`, `opus`.
    pub codec: String,
    /// Samples per second.
    pub sample_rate: u32,
    /// The channels in order, e.g. `caller,herald`.
    pub channels: String,
    /// When capture started, unix milliseconds.
    pub started_at: i64,
    /// The consent outcome: `accepted`, `objected`, `not-asked`, `policy-always`, ...
    pub consent: String,
    /// The retention class from the configuration, e.g. `voice-13m`.
    pub retention_class: String,
    /// The id of the node key that signs the trailer, if any.
    pub node_key: Option<String>,
    /// The recording's data key wrapped to each active recorder key: `(key id, age file)`.
    pub wrapped_keys: Vec<(String, Vec<u8>)>,
}

/// How a recording ended, for [`Store::finish_recording`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRecording {
    /// `complete` or `interrupted`.
    pub state: FinalState,
    /// When capture ended, unix milliseconds.
    pub ended_at: i64,
    /// Audio duration in milliseconds.
    pub duration_ms: u64,
    /// Sealed segments in the blob.
    pub segments: u64,
    /// Blob size in bytes.
    pub bytes: u64,
    /// The integrity digest of the blob (hex), if it was sealed.
    pub digest: Option<String>,
    /// When the retention period ends, unix milliseconds; `None` when unknown.
    pub expires_at: Option<i64>,
}

/// A stored recording.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct RecordingRecord {
    /// The recording's id.
    pub id: String,
    /// The call it records, if any.
    pub call_id: Option<String>,
    /// The calling number or user.
    pub caller: String,
    /// The called number or user.
    pub callee: String,
    /// Where the ciphertext is.
    pub blob: String,
    /// The codec.
    pub codec: String,
    /// Samples per second.
    pub sample_rate: u32,
    /// The channels in order.
    pub channels: String,
    /// When capture started, unix milliseconds.
    pub started_at: i64,
    /// When capture ended, unix milliseconds.
    pub ended_at: Option<i64>,
    /// Audio duration in milliseconds, once finished.
    pub duration_ms: Option<u64>,
    /// Sealed segments, once finished.
    pub segments: Option<u64>,
    /// Blob size in bytes, once finished.
    pub bytes: Option<u64>,
    /// Where it stands.
    pub state: RecordingState,
    /// The consent outcome.
    pub consent: String,
    /// The retention class.
    pub retention_class: String,
    /// When the retention period ends, unix milliseconds.
    pub expires_at: Option<i64>,
    /// The integrity digest (hex), once sealed.
    pub digest: Option<String>,
    /// The node key that signs the trailer.
    pub node_key: Option<String>,
    /// When it was erased, unix milliseconds.
    pub erased_at: Option<i64>,
    /// Who erased it.
    pub erased_by: Option<String>,
    /// Why it was erased (`retention`, `dsr`, ...).
    pub erase_reason: Option<String>,
}

/// A recording with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingDetails {
    /// The recording.
    #[serde(flatten)]
    pub recording: RecordingRecord,
    /// Its gaps, in order.
    pub gaps: Vec<RecordingGap>,
    /// Its disclosure evidence, in order.
    pub evidence: Vec<RecordingEvidence>,
    /// Its legal holds, released ones included, in the order they were placed.
    pub holds: Vec<LegalHold>,
    /// The recorder keys its data key is wrapped to (empty once erased).
    pub key_ids: Vec<String>,
}

impl RecordingDetails {
    /// Whether a legal hold is in force.
    pub fn held(&self) -> bool {
        self.holds.iter().any(|hold| hold.released_at.is_none())
    }
}

/// Which recordings [`Store::recordings`] lists. Every `None` matches everything.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Started at or after this time, unix milliseconds.
    pub started_from: Option<i64>,
    /// Started before this time, unix milliseconds.
    pub started_before: Option<i64>,
    /// This exact caller.
    pub caller: Option<String>,
    /// This exact callee.
    pub callee: Option<String>,
    /// In this state.
    pub state: Option<RecordingState>,
    /// In this retention class.
    pub retention_class: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
}

impl Default for RecordingFilter {
    /// Everything, at most 100.
    fn default() -> Self {
        RecordingFilter {
            started_from: None,
            started_before: None,
            caller: None,
            callee: None,
            state: None,
            retention_class: None,
            limit: 100,
        }
    }
}

// Debug leaves out numbers and wrapped keys: records end up in logs.
impl fmt::Debug for NewRecording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_ids: Vec<&str> = self
            .wrapped_keys
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        f.debug_struct("NewRecording")
            .field("id", &self.id)
            .field("call_id", &self.call_id)
            .field("codec", &self.codec)
            .field("started_at", &self.started_at)
            .field("retention_class", &self.retention_class)
            .field("key_ids", &key_ids)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RecordingRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingRecord")
            .field("id", &self.id)
            .field("call_id", &self.call_id)
            .field("state", &self.state)
            .field("codec", &self.codec)
            .field("started_at", &self.started_at)
            .field("ended_at", &self.ended_at)
            .field("duration_ms", &self.duration_ms)
            .field("consent", &self.consent)
            .field("retention_class", &self.retention_class)
            .field("expires_at", &self.expires_at)
            .field("erased_at", &self.erased_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RecordingFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingFilter")
            .field("started_from", &self.started_from)
            .field("started_before", &self.started_before)
            .field("by_caller", &self.caller.is_some())
            .field("by_callee", &self.callee.is_some())
            .field("state", &self.state)
            .field("retention_class", &self.retention_class)
            .field("limit", &self.limit)
            .finish()
    }
}

/// The columns of `recordings` that [`recording_from_row`] reads.
macro_rules! recording_columns {
    () => {
        "id, call_id, caller, callee, blob, codec, sample_rate, channels, started_at, \
         ended_at, duration_ms, segments, bytes, state, consent, retention_class, expires_at, \
         digest, node_key, erased_at, erased_by, erase_reason"
    };
}
pub(crate) use recording_columns;

const INSERT_RECORDING: &str = "INSERT INTO recordings (id, call_id, caller, callee, blob, \
     codec, sample_rate, channels, started_at, state, consent, retention_class, node_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'recording', $10, $11, $12)";

const INSERT_WRAPPED_KEY: &str =
    "INSERT INTO recording_keys (recording_id, key_id, wrapped) VALUES ($1, $2, $3)";

const FINISH_RECORDING: &str = "UPDATE recordings SET state = $2, ended_at = $3, \
     duration_ms = $4, segments = $5, bytes = $6, digest = $7, expires_at = $8 \
     WHERE id = $1 AND state = 'recording'";

/// A `NULL` parameter matches every row, so one statement serves every filter.
const LIST_RECORDINGS: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings WHERE ($1 IS NULL OR started_at >= $1) \
     AND ($2 IS NULL OR started_at < $2) AND ($3 IS NULL OR caller = $3) \
     AND ($4 IS NULL OR callee = $4) AND ($5 IS NULL OR state = $5) \
     AND ($6 IS NULL OR retention_class = $6) \
     ORDER BY started_at DESC, id DESC LIMIT $7"
);

impl Store {
    /// Records a new recording in state `recording` together with its wrapped data keys, in
    /// one transaction. A recording without wrapped keys is refused
    /// ([`StoreError::NoWrappedKeys`]): nobody could ever open it.
    pub async fn insert_recording(&self, recording: &NewRecording) -> Result<(), StoreError> {
        if recording.wrapped_keys.is_empty() {
            return Err(StoreError::NoWrappedKeys(recording.id.clone()));
        }
        let exists = || StoreError::RecordingExists(recording.id.clone());
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(INSERT_RECORDING)
            .bind(&recording.id)
            .bind(recording.call_id.as_deref())
            .bind(&recording.caller)
            .bind(&recording.callee)
            .bind(&recording.blob)
            .bind(&recording.codec)
            .bind(i64::from(recording.sample_rate))
            .bind(&recording.channels)
            .bind(recording.started_at)
            .bind(&recording.consent)
            .bind(&recording.retention_class)
            .bind(recording.node_key.as_deref())
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if violated_constraint(&e) == Some(ErrorKind::UniqueViolation) => {
                return Err(exists());
            }
            other => other?,
        };
        for (key_id, wrapped) in &recording.wrapped_keys {
            sqlx::query(INSERT_WRAPPED_KEY)
                .bind(&recording.id)
                .bind(key_id)
                .bind(BASE64.encode(wrapped))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Finishes a recording that is still `recording`: sets its final state, end time,
    /// size, digest and expiry. Any other state is
    /// [`StoreError::InvalidRecordingTransition`]: a recording finishes once.
    pub async fn finish_recording(
        &self,
        id: &str,
        finished: &FinishedRecording,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(FINISH_RECORDING)
            .bind(id)
            .bind(RecordingState::from(finished.state).as_str())
            .bind(finished.ended_at)
            .bind(to_stored_int(finished.duration_ms, "duration_ms")?)
            .bind(to_stored_int(finished.segments, "segments")?)
            .bind(to_stored_int(finished.bytes, "bytes")?)
            .bind(finished.digest.as_deref())
            .bind(finished.expires_at)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        Err(self.recording_refusal(id, "finish").await)
    }

    /// Why an update of recording `id` matched no row: it does not exist, or its state.
    pub(crate) async fn recording_refusal(&self, id: &str, operation: &'static str) -> StoreError {
        match self.recording_state(id).await {
            Err(e) => e,
            Ok(None) => StoreError::RecordingNotFound(id.to_owned()),
            Ok(Some(state)) => StoreError::InvalidRecordingTransition {
                id: id.to_owned(),
                state,
                operation,
            },
        }
    }

    /// The state of recording `id`, if it exists.
    pub async fn recording_state(&self, id: &str) -> Result<Option<RecordingState>, StoreError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM recordings WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        state.as_deref().map(parse_state).transpose()
    }

    /// Recordings still in state `recording`, oldest first: at start-up, the ones a crash
    /// interrupted.
    pub async fn open_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE state = 'recording' ORDER BY started_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from_row).collect()
    }

    /// The recordings `filter` selects, newest first.
    pub async fn recordings(
        &self,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let rows = sqlx::query(LIST_RECORDINGS)
            .bind(filter.started_from)
            .bind(filter.started_before)
            .bind(filter.caller.as_deref())
            .bind(filter.callee.as_deref())
            .bind(filter.state.map(RecordingState::as_str))
            .bind(filter.retention_class.as_deref())
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(recording_from_row).collect()
    }

    /// The recording whose id is `id_or_prefix`, or else the only one whose id starts with it,
    /// with its gaps, evidence, holds and key ids. Several matches are
    /// [`StoreError::AmbiguousRecordingPrefix`]; an empty prefix matches nothing.
    pub async fn recording(
        &self,
        id_or_prefix: &str,
    ) -> Result<Option<RecordingDetails>, StoreError> {
        if id_or_prefix.is_empty() {
            return Ok(None);
        }
        let exact = sqlx::query(concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE id = $1"
        ))
        .bind(id_or_prefix)
        .fetch_optional(&self.pool)
        .await?;
        let row = match exact {
            Some(row) => row,
            None => match self.only_recording_with_prefix(id_or_prefix).await? {
                Some(row) => row,
                None => return Ok(None),
            },
        };
        self.with_details(recording_from_row(&row)?).await.map(Some)
    }

    async fn only_recording_with_prefix(&self, prefix: &str) -> Result<Option<AnyRow>, StoreError> {
        // substr/length rather than LIKE: no wildcards to escape, the same case-sensitive
        // comparison on both databases.
        let mut rows = sqlx::query(concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE substr(id, 1, length($1)) = $1 LIMIT 2"
        ))
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        match (rows.pop(), rows.is_empty()) {
            (None, _) => Ok(None),
            (Some(row), true) => Ok(Some(row)),
            (Some(_), false) => Err(StoreError::AmbiguousRecordingPrefix(prefix.to_owned())),
        }
    }

    async fn with_details(
        &self,
        recording: RecordingRecord,
    ) -> Result<RecordingDetails, StoreError> {
        let gaps = self.recording_gaps(&recording.id).await?;
        let evidence = self.recording_evidence(&recording.id).await?;
        let holds = self.holds(&recording.id).await?;
        let key_ids = sqlx::query_scalar(
            "SELECT key_id FROM recording_keys WHERE recording_id = $1 ORDER BY key_id",
        )
        .bind(&recording.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(RecordingDetails {
            recording,
            gaps,
            evidence,
            holds,
            key_ids,
        })
    }

    /// The data key of recording `id` wrapped to each recorder key, `(key id, age file)`, by
    /// key id. Empty for an erased or unknown recording.
    pub async fn wrapped_keys(&self, id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, wrapped FROM recording_keys WHERE recording_id = $1 ORDER BY key_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let key_id: String = row.try_get("key_id")?;
                let wrapped: String = row.try_get("wrapped")?;
                let bytes = BASE64
                    .decode(wrapped)
                    .map_err(|e| StoreError::corrupt("recording_keys.wrapped", e))?;
                Ok((key_id, bytes))
            })
            .collect()
    }
}

pub(crate) fn parse_state(text: &str) -> Result<RecordingState, StoreError> {
    RecordingState::parse(text)
        .ok_or_else(|| StoreError::corrupt("recordings.state", format!("unknown state {text:?}")))
}

/// `value` as the database's signed 64-bit integer.
pub(crate) fn to_stored_int(value: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field })
}

/// A nullable count column; `label` names it in errors (`table.column`).
fn optional_count(
    row: &AnyRow,
    column: &str,
    label: &'static str,
) -> Result<Option<u64>, StoreError> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|v| from_stored_int(v, label)).transpose()
}

pub(crate) fn recording_from_row(row: &AnyRow) -> Result<RecordingRecord, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(RecordingRecord {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        caller: row.try_get("caller")?,
        callee: row.try_get("callee")?,
        blob: row.try_get("blob")?,
        codec: row.try_get("codec")?,
        sample_rate: from_stored_int(row.try_get("sample_rate")?, "recordings.sample_rate")?,
        channels: row.try_get("channels")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        duration_ms: optional_count(row, "duration_ms", "recordings.duration_ms")?,
        segments: optional_count(row, "segments", "recordings.segments")?,
        bytes: optional_count(row, "bytes", "recordings.bytes")?,
        state: parse_state(&state)?,
        consent: row.try_get("consent")?,
        retention_class: row.try_get("retention_class")?,
        expires_at: row.try_get("expires_at")?,
        digest: row.try_get("digest")?,
        node_key: row.try_get("node_key")?,
        erased_at: row.try_get("erased_at")?,
        erased_by: row.try_get("erased_by")?,
        erase_reason: row.try_get("erase_reason")?,
    })
}
