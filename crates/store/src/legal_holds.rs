//! Legal holds, erasure (crypto-shredding) and retention: the `legal_holds` table and the
//! statements that decide whether a recording may go.
//!
//! Placing a hold, releasing one with two approvals, and erasing all begin by locking the
//! recording's row (an `UPDATE` that changes nothing: a row lock on PostgreSQL, the write lock
//! on SQLite), so one of them waits for the other to commit: a hold placed concurrently with an
//! erasure either blocks it or finds the recording erased, never both.
//!
//! A hold may need two people to release it ([`Store::release_hold_with`]):
//!
//! ```text
//!             release_hold_with(by A, approvals 2)        release_hold_with(by B != A)
//!   in force ─────────────────────────────────────> release requested ─────────────────> released
//!      │                                                  │ by A again: SameApprover      (A+B)
//!      │ release_hold, or release_hold_with(approvals 1)
//!      └──────────────────────────────────────────────────────────────────────────────> released
//! ```

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::recordings::{RecordingRecord, RecordingState, recording_columns, recording_from_row};
use crate::{Store, StoreError};

/// A legal hold on a recording. The recording is held while any of its holds is unreleased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    /// The hold's id: `<recording id>-h<n>`, n counting the recording's holds from 1.
    pub id: String,
    /// The recording held.
    pub recording_id: String,
    /// The case it is held for.
    pub case_ref: String,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub placed_by: String,
    /// When, unix milliseconds.
    pub placed_at: i64,
    /// When it was released, unix milliseconds; `None` while in force.
    pub released_at: Option<i64>,
    /// Who released it.
    pub released_by: Option<String>,
    /// Why it was released.
    pub release_reason: Option<String>,
    /// Who asked for its release, when two people must approve it; kept once released.
    pub release_requested_by: Option<String>,
    /// When the release was asked for, unix milliseconds.
    pub release_requested_at: Option<i64>,
    /// Why the release was asked for.
    pub release_request_reason: Option<String>,
}

/// What [`Store::release_hold_with`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ReleaseOutcome {
    /// The hold is released.
    Released,
    /// The release is recorded as asked for; a second, different person must approve it.
    AwaitingSecond {
        /// Who asked.
        requested_by: String,
    },
}

/// What [`Store::erase_recording`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EraseOutcome {
    /// The recording was erased now; this many wrapped keys were deleted.
    Erased {
        /// Wrapped data keys deleted.
        keys_deleted: u64,
    },
    /// It had been erased before; nothing changed.
    AlreadyErased,
}

/// Locks recording `$1` for the rest of the transaction without changing it.
const LOCK_RECORDING: &str = "UPDATE recordings SET state = state WHERE id = $1";

/// Locks the recording held by hold `$1` without changing it. One statement, a write first:
/// on SQLite a transaction that reads before it writes can fail to upgrade its lock.
const LOCK_HELD_RECORDING: &str = "UPDATE recordings SET state = state \
     WHERE id = (SELECT recording_id FROM legal_holds WHERE id = $1)";

const RELEASE: &str = "UPDATE legal_holds SET released_at = $2, released_by = $3, \
     release_reason = $4 WHERE id = $1 AND released_at IS NULL";

const REQUEST_RELEASE: &str = "UPDATE legal_holds SET release_requested_by = $2, \
     release_requested_at = $3, release_request_reason = $4 WHERE id = $1";

/// The columns of `legal_holds`, in [`LegalHold`]'s order.
macro_rules! hold_columns {
    () => {
        "id, recording_id, case_ref, reason, placed_by, placed_at, released_at, released_by, \
         release_reason, release_requested_by, release_requested_at, release_request_reason"
    };
}

pub(crate) const ACTIVE_CASE_REFS: &str = "SELECT case_ref FROM legal_holds \
     WHERE recording_id = $1 AND released_at IS NULL ORDER BY placed_at, id";

pub(crate) type Transaction<'c> = sqlx::Transaction<'c, sqlx::Any>;

impl Store {
    /// Places a legal hold on recording `recording_id` for case `case_ref` and returns the
    /// hold's id. A recording may carry any number of holds. An erased recording cannot be
    /// held ([`StoreError::InvalidRecordingTransition`]): its keys are gone.
    pub async fn place_hold(
        &self,
        recording_id: &str,
        case_ref: &str,
        reason: &str,
        by: &str,
        at: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        match locked_state(&mut tx, recording_id).await? {
            None => return Err(StoreError::RecordingNotFound(recording_id.to_owned())),
            Some(state @ RecordingState::Erased) => {
                return Err(StoreError::InvalidRecordingTransition {
                    id: recording_id.to_owned(),
                    state,
                    operation: "place a hold on",
                });
            }
            Some(_) => {}
        }
        let placed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM legal_holds WHERE recording_id = $1")
                .bind(recording_id)
                .fetch_one(&mut *tx)
                .await?;
        let id = format!("{recording_id}-h{}", placed + 1);
        sqlx::query(concat!(
            "INSERT INTO legal_holds (",
            hold_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL, NULL, NULL, NULL)"
        ))
        .bind(&id)
        .bind(recording_id)
        .bind(case_ref)
        .bind(reason)
        .bind(by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Releases legal hold `hold_id`. The recording stays held while another hold is in
    /// force. A hold is released once ([`StoreError::HoldReleased`]).
    pub async fn release_hold(
        &self,
        hold_id: &str,
        by: &str,
        reason: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(RELEASE)
            .bind(hold_id)
            .bind(at)
            .bind(by)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM legal_holds WHERE id = $1")
            .bind(hold_id)
            .fetch_optional(&self.pool)
            .await?;
        Err(match exists {
            Some(_) => StoreError::HoldReleased(hold_id.to_owned()),
            None => StoreError::HoldNotFound(hold_id.to_owned()),
        })
    }

    /// Releases legal hold `hold_id` once `approvals` different people have asked for it.
    ///
    /// `approvals` 1 (or 0) releases it at once, like [`Store::release_hold`]. With 2, the first
    /// call records the request (who, when, why) and returns
    /// [`ReleaseOutcome::AwaitingSecond`]; a later call by a different `by` releases the hold,
    /// with `released_by` naming both (`first+second`) and `release_reason` the second's reason,
    /// or the first's if the second gives none. A second call by the person who asked is
    /// [`StoreError::SameApprover`]. More than 2 is [`StoreError::OutOfRange`]: only one pending
    /// request is stored. A released hold is [`StoreError::HoldReleased`], an unknown one
    /// [`StoreError::HoldNotFound`].
    ///
    /// Locks the held recording first, as [`Store::place_hold`] and [`Store::erase_recording`]
    /// do, so it serialises with them and with a concurrent approval.
    pub async fn release_hold_with(
        &self,
        hold_id: &str,
        by: &str,
        reason: &str,
        at: i64,
        approvals: u8,
    ) -> Result<ReleaseOutcome, StoreError> {
        if approvals > 2 {
            return Err(StoreError::OutOfRange { field: "approvals" });
        }
        let mut tx = self.pool.begin().await?;
        let locked = sqlx::query(LOCK_HELD_RECORDING)
            .bind(hold_id)
            .execute(&mut *tx)
            .await?;
        let hold = match locked.rows_affected() {
            0 => None,
            _ => hold_in(&mut tx, hold_id).await?,
        };
        let hold = hold.ok_or_else(|| StoreError::HoldNotFound(hold_id.to_owned()))?;
        if hold.released_at.is_some() {
            return Err(StoreError::HoldReleased(hold_id.to_owned()));
        }
        let released_by = match (approvals, hold.release_requested_by) {
            (0 | 1, _) => by.to_owned(),
            (_, None) => {
                sqlx::query(REQUEST_RELEASE)
                    .bind(hold_id)
                    .bind(by)
                    .bind(at)
                    .bind(reason)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(ReleaseOutcome::AwaitingSecond {
                    requested_by: by.to_owned(),
                });
            }
            (_, Some(first)) if first == by => {
                return Err(StoreError::SameApprover {
                    hold_id: hold_id.to_owned(),
                    by: by.to_owned(),
                });
            }
            (_, Some(first)) => format!("{first}+{by}"),
        };
        let reason = match hold.release_request_reason {
            Some(first_reason) if approvals == 2 && reason.is_empty() => first_reason,
            _ => reason.to_owned(),
        };
        sqlx::query(RELEASE)
            .bind(hold_id)
            .bind(at)
            .bind(&released_by)
            .bind(&reason)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ReleaseOutcome::Released)
    }

    /// The legal hold with this id.
    pub async fn hold(&self, hold_id: &str) -> Result<Option<LegalHold>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        hold_in(&mut conn, hold_id).await
    }

    /// The legal holds of recording `recording_id`, released ones included, in the order they
    /// were placed.
    pub async fn holds(&self, recording_id: &str) -> Result<Vec<LegalHold>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM legal_holds WHERE recording_id = $1 ORDER BY placed_at, id"
        ))
        .bind(recording_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hold_from_row).collect()
    }

    /// Erases recording `id` by destroying its wrapped data keys (crypto-shredding), in one
    /// transaction: refused with [`StoreError::LegalHold`] (naming the cases) while a hold is
    /// in force; otherwise deletes its `recording_keys` rows and marks it `erased` with when,
    /// by whom and why, keeping the metadata row. Erasing an erased recording changes nothing
    /// ([`EraseOutcome::AlreadyErased`]).
    ///
    /// Deleting the blob is the caller's job once this returns: without its key the blob is
    /// already unreadable.
    pub async fn erase_recording(
        &self,
        id: &str,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<EraseOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        match locked_state(&mut tx, id).await? {
            None => return Err(StoreError::RecordingNotFound(id.to_owned())),
            Some(RecordingState::Erased) => return Ok(EraseOutcome::AlreadyErased),
            Some(_) => {}
        }
        let case_refs: Vec<String> = sqlx::query_scalar(ACTIVE_CASE_REFS)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        if !case_refs.is_empty() {
            return Err(StoreError::LegalHold {
                id: id.to_owned(),
                case_refs,
            });
        }
        let keys_deleted = erase_in(&mut tx, id, (at, by, reason)).await?;
        tx.commit().await?;
        Ok(EraseOutcome::Erased { keys_deleted })
    }

    /// Up to `limit` recordings whose retention has run out at `now` (unix milliseconds):
    /// `expires_at <= now`, finished (`complete` or `interrupted`), and not held. Oldest expiry
    /// first. A hold suspends expiry; once every hold is released the recording is listed again.
    pub async fn expired_recordings(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE expires_at <= $1 \
              AND state IN ('complete', 'interrupted') \
              AND NOT EXISTS (SELECT 1 FROM legal_holds \
                  WHERE legal_holds.recording_id = recordings.id \
                  AND legal_holds.released_at IS NULL) \
             ORDER BY expires_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from_row).collect()
    }
}

/// Locks recording `id` for the rest of `tx` and returns its state, or `None` if there is no
/// such recording.
/// Destroys locked recording `id`'s wrapped keys and marks it erased (at, by, why) in `tx`;
/// returns how many keys were deleted. The caller has checked holds.
pub(crate) async fn erase_in(
    tx: &mut Transaction<'_>,
    id: &str,
    (at, by, reason): (i64, &str, &str),
) -> Result<u64, StoreError> {
    let deleted = sqlx::query("DELETE FROM recording_keys WHERE recording_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE recordings SET state = 'erased', erased_at = $2, erased_by = $3, \
         erase_reason = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(by)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(deleted.rows_affected())
}

pub(crate) async fn locked_state(
    tx: &mut Transaction<'_>,
    id: &str,
) -> Result<Option<RecordingState>, StoreError> {
    let locked = sqlx::query(LOCK_RECORDING)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Ok(None);
    }
    let state: String = sqlx::query_scalar("SELECT state FROM recordings WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    crate::recordings::parse_state(&state).map(Some)
}

/// Hold `id`, read on `conn` (or in a transaction).
async fn hold_in(conn: &mut AnyConnection, id: &str) -> Result<Option<LegalHold>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM legal_holds WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(hold_from_row).transpose()
}

fn hold_from_row(row: &AnyRow) -> Result<LegalHold, StoreError> {
    Ok(LegalHold {
        id: row.try_get("id")?,
        recording_id: row.try_get("recording_id")?,
        case_ref: row.try_get("case_ref")?,
        reason: row.try_get("reason")?,
        placed_by: row.try_get("placed_by")?,
        placed_at: row.try_get("placed_at")?,
        released_at: row.try_get("released_at")?,
        released_by: row.try_get("released_by")?,
        release_reason: row.try_get("release_reason")?,
        release_requested_by: row.try_get("release_requested_by")?,
        release_requested_at: row.try_get("release_requested_at")?,
        release_request_reason: row.try_get("release_request_reason")?,
    })
}
