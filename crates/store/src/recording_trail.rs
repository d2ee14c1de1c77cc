//! The `recording_gaps` and `recording_evidence` tables: what a recording left out on purpose,
//! and what the caller was told before it started. Each row has a sequence number from 1 per
//! recording, assigned by the store in insertion order.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::calls::from_stored_int;
use crate::error::violated_constraint;
use crate::recordings::to_stored_int;
use crate::{Store, StoreError};

/// How often an insert retries when a concurrent insert for the same recording took the
/// sequence number it computed.
const SEQ_ATTEMPTS: usize = 16;

/// A gap as it opens, for [`Store::add_recording_gap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecordingGap {
    /// When recording paused, unix milliseconds.
    pub started_at: i64,
    /// Where in the recording it paused, in samples.
    pub start_position: u64,
    /// Why: `pci`, `hold`, `opt-out`, `api`, ...
    pub reason: String,
    /// Who paused it: `dialplan`, `api:<client>`, ...
    pub actor: String,
}

/// A stretch of a call that was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingGap {
    /// Position among the recording's gaps, from 1.
    pub seq: u64,
    /// When recording paused, unix milliseconds.
    pub started_at: i64,
    /// When it resumed; `None` while the gap is open.
    pub ended_at: Option<i64>,
    /// Where it paused, in samples.
    pub start_position: u64,
    /// Where it resumed, in samples.
    pub end_position: Option<u64>,
    /// Why.
    pub reason: String,
    /// Who paused it.
    pub actor: String,
}

/// Disclosure evidence as it happens, for [`Store::add_recording_evidence`]. Never digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecordingEvidence {
    /// When the prompt started, unix milliseconds.
    pub at: i64,
    /// The prompt's id.
    pub prompt: String,
    /// Its language, e.g. `de-DE`.
    pub language: String,
    /// Whether it played to the end.
    pub completed: bool,
    /// What the caller chose (`accept`, `object`, ...), if asked.
    pub choice: Option<String>,
}

/// One piece of disclosure evidence: a prompt played before or during recording. Never digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingEvidence {
    /// Position among the recording's evidence, from 1.
    pub seq: u64,
    /// When the prompt started, unix milliseconds.
    pub at: i64,
    /// The prompt's id.
    pub prompt: String,
    /// Its language, e.g. `de-DE`.
    pub language: String,
    /// Whether it played to the end.
    pub completed: bool,
    /// What the caller chose (`accept`, `object`, ...), if asked.
    pub choice: Option<String>,
}

const INSERT_GAP: &str = "INSERT INTO recording_gaps \
     (recording_id, seq, started_at, start_position, reason, actor) \
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 \
     FROM recording_gaps WHERE recording_id = $1 RETURNING seq";

const INSERT_EVIDENCE: &str = "INSERT INTO recording_evidence \
     (recording_id, seq, at, prompt, language, completed, choice) \
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 \
     FROM recording_evidence WHERE recording_id = $1 RETURNING seq";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl Store {
    /// Opens a gap in recording `recording_id` and returns its sequence number (1 for the
    /// first gap).
    pub async fn add_recording_gap(
        &self,
        recording_id: &str,
        gap: &NewRecordingGap,
    ) -> Result<u64, StoreError> {
        let start_position = to_stored_int(gap.start_position, "start_position")?;
        self.insert_numbered(recording_id, || {
            sqlx::query(INSERT_GAP)
                .bind(recording_id)
                .bind(gap.started_at)
                .bind(start_position)
                .bind(gap.reason.as_str())
                .bind(gap.actor.as_str())
        })
        .await
    }

    /// Closes open gap `seq` of recording `recording_id`: recording resumed at `ended_at`
    /// (unix milliseconds), at `end_position` samples. A gap closes once
    /// ([`StoreError::GapNotOpen`]).
    pub async fn close_recording_gap(
        &self,
        recording_id: &str,
        seq: u64,
        ended_at: i64,
        end_position: u64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE recording_gaps SET ended_at = $3, end_position = $4 \
             WHERE recording_id = $1 AND seq = $2 AND ended_at IS NULL",
        )
        .bind(recording_id)
        .bind(to_stored_int(seq, "seq")?)
        .bind(ended_at)
        .bind(to_stored_int(end_position, "end_position")?)
        .execute(&self.pool)
        .await?;
        match done.rows_affected() {
            0 => Err(StoreError::GapNotOpen {
                recording_id: recording_id.to_owned(),
                seq,
            }),
            _ => Ok(()),
        }
    }

    /// Adds disclosure evidence to recording `recording_id` and returns its sequence number
    /// (1 for the first).
    pub async fn add_recording_evidence(
        &self,
        recording_id: &str,
        evidence: &NewRecordingEvidence,
    ) -> Result<u64, StoreError> {
        self.insert_numbered(recording_id, || {
            sqlx::query(INSERT_EVIDENCE)
                .bind(recording_id)
                .bind(evidence.at)
                .bind(evidence.prompt.as_str())
                .bind(evidence.language.as_str())
                .bind(i64::from(evidence.completed))
                .bind(evidence.choice.as_deref())
        })
        .await
    }

    /// Runs an insert that numbers its row `MAX(seq) + 1` and returns that number, retrying
    /// when a concurrent insert took the same one.
    async fn insert_numbered<'q>(
        &self,
        recording_id: &str,
        query: impl Fn() -> AnyQuery<'q>,
    ) -> Result<u64, StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let inserted = query().fetch_one(&self.pool).await;
            let error = match inserted {
                Ok(row) => return from_stored_int(row.try_get(0)?, "seq"),
                Err(e) => e,
            };
            match violated_constraint(&error) {
                Some(ErrorKind::UniqueViolation) if attempts < SEQ_ATTEMPTS => {}
                Some(ErrorKind::ForeignKeyViolation) => {
                    return Err(StoreError::RecordingNotFound(recording_id.to_owned()));
                }
                _ => return Err(error.into()),
            }
        }
    }

    /// The gaps of recording `recording_id`, in order.
    pub async fn recording_gaps(
        &self,
        recording_id: &str,
    ) -> Result<Vec<RecordingGap>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, started_at, ended_at, start_position, end_position, reason, actor \
             FROM recording_gaps WHERE recording_id = $1 ORDER BY seq",
        )
        .bind(recording_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(gap_from_row).collect()
    }

    /// The disclosure evidence of recording `recording_id`, in order.
    pub async fn recording_evidence(
        &self,
        recording_id: &str,
    ) -> Result<Vec<RecordingEvidence>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, prompt, language, completed, choice \
             FROM recording_evidence WHERE recording_id = $1 ORDER BY seq",
        )
        .bind(recording_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(evidence_from_row).collect()
    }
}

fn gap_from_row(row: &AnyRow) -> Result<RecordingGap, StoreError> {
    let end_position: Option<i64> = row.try_get("end_position")?;
    Ok(RecordingGap {
        seq: from_stored_int(row.try_get("seq")?, "recording_gaps.seq")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        start_position: from_stored_int(
            row.try_get("start_position")?,
            "recording_gaps.start_position",
        )?,
        end_position: end_position
            .map(|p| from_stored_int(p, "recording_gaps.end_position"))
            .transpose()?,
        reason: row.try_get("reason")?,
        actor: row.try_get("actor")?,
    })
}

fn evidence_from_row(row: &AnyRow) -> Result<RecordingEvidence, StoreError> {
    let completed: i64 = row.try_get("completed")?;
    Ok(RecordingEvidence {
        seq: from_stored_int(row.try_get("seq")?, "recording_evidence.seq")?,
        at: row.try_get("at")?,
        prompt: row.try_get("prompt")?,
        language: row.try_get("language")?,
        completed: match completed {
            0 => false,
            1 => true,
            other => return Err(StoreError::corrupt("recording_evidence.completed", other)),
        },
        choice: row.try_get("choice")?,
    })
}
