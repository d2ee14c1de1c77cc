//! Data subject requests, the `dsr_requests` table: a queue of export, rectification and
//! deletion requests that the server works through, and their outcome.
//!
//! ```text
//!   insert_dsr_request         claim_dsr_request          finish_dsr_request
//!  ───────────────────> pending ─────────────────> running ──────────────────> done
//!                          ^                          │    ──────────────────> refused
//!                          └──────────────────────────┘    ──────────────────> failed
//!                              requeue_running_dsr (start-up, after a crash)
//! ```
//!
//! `done`, `refused` and `failed` are final. Claiming is atomic on both databases: two workers
//! (on one node or on several sharing PostgreSQL) never get the same request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::error::{UnknownName, violated_constraint};
use crate::subjects::{SubjectKind, parse_subject_kind};
use crate::{Store, StoreError};

/// How often [`Store::claim_dsr_request`] tries again when another worker took the request
/// it picked. Each lost race means another worker claimed one, so this only runs out under
/// extreme contention, and then the caller simply finds nothing this time.
const CLAIM_ATTEMPTS: usize = 64;

/// What a data subject asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DsrKind {
    /// Access: export everything held about the subject.
    Export,
    /// Rectification: correct an identifier.
    Update,
    /// Erasure: anonymise the calls and erase the recordings.
    Delete,
}

impl DsrKind {
    const ALL: [DsrKind; 3] = [DsrKind::Export, DsrKind::Update, DsrKind::Delete];

    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            DsrKind::Export => "export",
            DsrKind::Update => "update",
            DsrKind::Delete => "delete",
        }
    }
}

impl FromStr for DsrKind {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DsrKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownName::new("request kind", text, "export, update or delete"))
    }
}

impl fmt::Display for DsrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a data subject request stands; see the diagram in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DsrState {
    /// Waiting for a worker.
    Pending,
    /// A worker is carrying it out.
    Running,
    /// Carried out.
    Done,
    /// Not carried out, on purpose (e.g. a legal hold, an unverified requester).
    Refused,
    /// Carrying it out failed.
    Failed,
}

impl DsrState {
    const ALL: [DsrState; 5] = [
        DsrState::Pending,
        DsrState::Running,
        DsrState::Done,
        DsrState::Refused,
        DsrState::Failed,
    ];

    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            DsrState::Pending => "pending",
            DsrState::Running => "running",
            DsrState::Done => "done",
            DsrState::Refused => "refused",
            DsrState::Failed => "failed",
        }
    }

    /// Whether the request has finished: `done`, `refused` or `failed`.
    pub fn is_final(self) -> bool {
        matches!(self, DsrState::Done | DsrState::Refused | DsrState::Failed)
    }
}

impl FromStr for DsrState {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DsrState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                UnknownName::new(
                    "request state",
                    text,
                    "pending, running, done, refused or failed",
                )
            })
    }
}

impl fmt::Display for DsrState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request as it arrives, for [`Store::insert_dsr_request`]. It starts `pending`.
#[derive(Clone, PartialEq)]
pub struct NewDsrRequest {
    /// The request's id, chosen by the caller; unique.
    pub id: String,
    /// What is asked for.
    pub kind: DsrKind,
    /// What kind of identifier the subject was found by.
    pub subject_kind: SubjectKind,
    /// The subject's keyed hash (hex), as in the subject index.
    pub subject_hash: String,
    /// What the worker needs, as JSON (e.g. the corrected value of a rectification): may hold
    /// personal data, cleared when the request finishes if asked to.
    pub parameters: serde_json::Value,
    /// Who filed it.
    pub requested_by: String,
    /// Why, e.g. a ticket reference.
    pub reason: String,
    /// When it was filed, unix milliseconds.
    pub created_at: i64,
    /// When it must be answered by, unix milliseconds.
    pub deadline_at: i64,
}

/// A stored data subject request.
#[derive(Clone, PartialEq, Serialize)]
pub struct DsrRequest {
    /// The request's id.
    pub id: String,
    /// What is asked for.
    pub kind: DsrKind,
    /// Where it stands.
    pub state: DsrState,
    /// What kind of identifier the subject was found by.
    pub subject_kind: SubjectKind,
    /// The subject's keyed hash (hex).
    pub subject_hash: String,
    /// What the worker needs, as JSON; `{}` once cleared.
    pub parameters: serde_json::Value,
    /// Who filed it.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// When it was filed, unix milliseconds.
    pub created_at: i64,
    /// When it must be answered by, unix milliseconds.
    pub deadline_at: i64,
    /// When a worker last claimed it, unix milliseconds.
    pub started_at: Option<i64>,
    /// When it finished, unix milliseconds.
    pub completed_at: Option<i64>,
    /// What it produced, as JSON, once finished.
    pub result: Option<serde_json::Value>,
    /// Why it failed or was refused.
    pub error: Option<String>,
}

// Debug leaves out parameters and results (they may hold personal data) and the free text.
impl fmt::Debug for NewDsrRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewDsrRequest")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("subject_kind", &self.subject_kind)
            .field("subject_hash", &self.subject_hash)
            .field("requested_by", &self.requested_by)
            .field("created_at", &self.created_at)
            .field("deadline_at", &self.deadline_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DsrRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsrRequest")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("subject_kind", &self.subject_kind)
            .field("subject_hash", &self.subject_hash)
            .field("requested_by", &self.requested_by)
            .field("created_at", &self.created_at)
            .field("deadline_at", &self.deadline_at)
            .field("started_at", &self.started_at)
            .field("completed_at", &self.completed_at)
            .finish_non_exhaustive()
    }
}

/// The columns of `dsr_requests`, in [`DsrRequest`]'s order.
macro_rules! dsr_columns {
    () => {
        "id, kind, state, subject_kind, subject_hash, parameters, requested_by, reason, \
         created_at, deadline_at, started_at, completed_at, result, error"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO dsr_requests (",
    dsr_columns!(),
    ") VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL, NULL)"
);

/// Takes the oldest pending request, if it is still pending when the row is written: a
/// concurrent claimer that took it first makes this match nothing.
/// `$2` is 1 to take export requests too, 0 to leave them to a node that can open recordings.
const CLAIM: &str = concat!(
    "UPDATE dsr_requests SET state = 'running', started_at = $1 \
     WHERE id = (SELECT id FROM dsr_requests WHERE state = 'pending' \
                 AND ($2 = 1 OR kind <> 'export') \
                 ORDER BY created_at, id LIMIT 1) \
       AND state = 'pending' \
     RETURNING ",
    dsr_columns!()
);

/// Takes request `$1` if it is still pending.
const CLAIM_ONE: &str = concat!(
    "UPDATE dsr_requests SET state = 'running', started_at = $2 \
     WHERE id = $1 AND state = 'pending' \
     RETURNING ",
    dsr_columns!()
);

/// `$6` is `'{}'` to clear the parameters, `NULL` to keep them.
const FINISH: &str = "UPDATE dsr_requests SET state = $2, result = $3, error = $4, \
     completed_at = $5, parameters = COALESCE($6, parameters) \
     WHERE id = $1 AND state = 'running'";

/// A `NULL` state lists every request.
const LIST: &str = concat!(
    "SELECT ",
    dsr_columns!(),
    " FROM dsr_requests WHERE ($1 IS NULL OR state = $1) \
     ORDER BY created_at DESC, id DESC LIMIT $2"
);

impl Store {
    /// Files a new request in state `pending`. An id already used is
    /// [`StoreError::DsrRequestExists`].
    pub async fn insert_dsr_request(&self, request: &NewDsrRequest) -> Result<(), StoreError> {
        let inserted = sqlx::query(INSERT)
            .bind(&request.id)
            .bind(request.kind.as_str())
            .bind(request.subject_kind.as_str())
            .bind(&request.subject_hash)
            .bind(request.parameters.to_string())
            .bind(&request.requested_by)
            .bind(&request.reason)
            .bind(request.created_at)
            .bind(request.deadline_at)
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if violated_constraint(&e) == Some(ErrorKind::UniqueViolation) => {
                Err(StoreError::DsrRequestExists(request.id.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The request with this id.
    pub async fn dsr_request(&self, id: &str) -> Result<Option<DsrRequest>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            dsr_columns!(),
            " FROM dsr_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(dsr_from_row).transpose()
    }

    /// Up to `limit` requests in `state` (every state for `None`), newest first.
    pub async fn dsr_requests(
        &self,
        state: Option<DsrState>,
        limit: u32,
    ) -> Result<Vec<DsrRequest>, StoreError> {
        let rows = sqlx::query(LIST)
            .bind(state.map(DsrState::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(dsr_from_row).collect()
    }

    /// Atomically takes the oldest pending request: it becomes `running` with `started_at =
    /// now` and is returned. `None` when nothing is pending. Two claimers never get the same
    /// request: the update matches only a row still pending, and a claimer that lost the race
    /// picks again.
    pub async fn claim_dsr_request(&self, now: i64) -> Result<Option<DsrRequest>, StoreError> {
        self.claim_dsr_request_of(now, true).await
    }

    /// Like [`Store::claim_dsr_request`]; `exports: false` leaves export requests pending (for
    /// a node that cannot open recordings).
    pub async fn claim_dsr_request_of(
        &self,
        now: i64,
        exports: bool,
    ) -> Result<Option<DsrRequest>, StoreError> {
        for _ in 0..CLAIM_ATTEMPTS {
            let claimed = sqlx::query(CLAIM)
                .bind(now)
                .bind(i64::from(exports))
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = claimed {
                return dsr_from_row(&row).map(Some);
            }
            let pending: Option<String> = sqlx::query_scalar(
                "SELECT id FROM dsr_requests WHERE state = 'pending' \
                 AND ($1 = 1 OR kind <> 'export') LIMIT 1",
            )
            .bind(i64::from(exports))
            .fetch_optional(&self.pool)
            .await?;
            if pending.is_none() {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Takes request `id` if it is still pending (it becomes `running`); `None` when it is
    /// not (another worker took it, it has finished, or it does not exist).
    pub async fn claim_dsr_request_id(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<DsrRequest>, StoreError> {
        let claimed = sqlx::query(CLAIM_ONE)
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        claimed.as_ref().map(dsr_from_row).transpose()
    }

    /// Finishes running request `id` as `state` (`done`, `refused` or `failed`) at `at`, with
    /// its `result` or `error`. `clear_parameters` replaces its parameters with `{}`: they may
    /// hold personal data, such as the corrected value of a rectification. A request that is not
    /// running, or a state that is not final, is [`StoreError::InvalidDsrTransition`]; an
    /// unknown id [`StoreError::DsrRequestNotFound`].
    pub async fn finish_dsr_request(
        &self,
        id: &str,
        state: DsrState,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
        at: i64,
        clear_parameters: bool,
    ) -> Result<(), StoreError> {
        if !state.is_final() {
            return Err(StoreError::InvalidDsrTransition {
                id: id.to_owned(),
                state: state.as_str().to_owned(),
            });
        }
        let done = sqlx::query(FINISH)
            .bind(id)
            .bind(state.as_str())
            .bind(result.map(serde_json::Value::to_string))
            .bind(error)
            .bind(at)
            .bind(clear_parameters.then_some("{}"))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let current: Option<String> =
            sqlx::query_scalar("SELECT state FROM dsr_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Err(match current {
            None => StoreError::DsrRequestNotFound(id.to_owned()),
            Some(state) => StoreError::InvalidDsrTransition {
                id: id.to_owned(),
                state,
            },
        })
    }

    /// At start-up: requests left `running` by a crash go back to `pending` (their
    /// `started_at` cleared); returns how many. Only call it while no worker runs, on any node
    /// sharing the database.
    pub async fn requeue_running_dsr(&self) -> Result<u64, StoreError> {
        self.requeue_stale_dsr(i64::MAX).await
    }

    /// Requests running since before `started_before` (their worker is presumed dead: a lease
    /// ran out) go back to pending; returns how many. Safe while other nodes work.
    pub async fn requeue_stale_dsr(&self, started_before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE dsr_requests SET state = 'pending', started_at = NULL \
             WHERE state = 'running' AND started_at < $1",
        )
        .bind(started_before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

fn dsr_from_row(row: &AnyRow) -> Result<DsrRequest, StoreError> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let subject_kind: String = row.try_get("subject_kind")?;
    let parameters: String = row.try_get("parameters")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(DsrRequest {
        id: row.try_get("id")?,
        kind: kind
            .parse()
            .map_err(|e: UnknownName| StoreError::corrupt("dsr_requests.kind", e))?,
        state: state
            .parse()
            .map_err(|e: UnknownName| StoreError::corrupt("dsr_requests.state", e))?,
        subject_kind: parse_subject_kind(&subject_kind, "dsr_requests.subject_kind")?,
        subject_hash: row.try_get("subject_hash")?,
        parameters: serde_json::from_str(&parameters)
            .map_err(|e| StoreError::corrupt("dsr_requests.parameters", e))?,
        requested_by: row.try_get("requested_by")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
        deadline_at: row.try_get("deadline_at")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        result: result
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::corrupt("dsr_requests.result", e))?,
        error: row.try_get("error")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_through_their_names() {
        for kind in DsrKind::ALL {
            assert_eq!(kind.as_str().parse::<DsrKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        for state in DsrState::ALL {
            assert_eq!(state.as_str().parse::<DsrState>(), Ok(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert!("erase".parse::<DsrKind>().is_err());
        assert_eq!(
            "stuck".parse::<DsrState>().unwrap_err().to_string(),
            "unknown request state \"stuck\": expected pending, running, done, refused or failed"
        );
        let finals: Vec<DsrState> = DsrState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [DsrState::Done, DsrState::Refused, DsrState::Failed]
        );
    }

    #[test]
    fn debug_leaves_out_parameters() {
        let request = NewDsrRequest {
            id: "dsr-1".to_owned(),
            kind: DsrKind::Update,
            subject_kind: SubjectKind::Phone,
            subject_hash: "ab".repeat(32),
            parameters: serde_json::json!({"to": "+4930999999"}),
            requested_by: "dpo".to_owned(),
            reason: "ticket 7 for +4930123456".to_owned(),
            created_at: 1,
            deadline_at: 2,
        };
        let debug = format!("{request:?}");
        assert!(debug.contains("dsr-1"), "{debug}");
        assert!(!debug.contains("+4930"), "{debug}");
    }
}
