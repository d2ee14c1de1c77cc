//! The `calls` and `call_events` tables.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::error::violated_constraint;
use crate::{Store, StoreError};

/// How often [`Store::add_call_event`] retries when a concurrent insert for
/// the same call took the sequence number it computed.
const EVENT_SEQ_ATTEMPTS: usize = 16;

/// What [`Store::apply_call_writes`] did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Transitions that did not apply (no matching row in the expected state).
    pub skipped: usize,
    /// Writes that failed when applied one by one, by index.
    pub failed: Vec<(usize, StoreError)>,
}

/// Where a call stands.
///
/// ```text
///   insert_call          mark_answered           end_call
///  ────────────> ringing ─────────────> answered ─────────> ended
///                   │
///                   │ end_call (never answered: rejected, cancelled, ...)
///                   └──────────────────────────────────────> failed
/// ```
///
/// `ended` and `failed` are final; the hang-up cause tells why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// Offered, not yet answered.
    Ringing,
    /// Answered, still up.
    Answered,
    /// Was answered, has hung up.
    Ended,
    /// Ended without being answered.
    Failed,
}

impl CallState {
    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Ended => "ended",
            CallState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<CallState> {
        [
            CallState::Ringing,
            CallState::Answered,
            CallState::Ended,
            CallState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call as it arrives, for [`Store::insert_call`]. It starts `ringing`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Herald's id for the call; unique.
    pub id: String,
    /// The SIP Call-ID of the inbound INVITE.
    pub sip_call_id: String,
    /// The From URI.
    pub from_uri: String,
    /// The To URI.
    pub to_uri: String,
    /// The calling number or user part of From.
    pub caller: String,
    /// The called number or user part of the Request-URI/To.
    pub callee: String,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// The SIP transport, lower case: `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    /// The dialplan route that took the call, or `none`.
    pub route: String,
    /// When the INVITE arrived, unix milliseconds.
    pub started_at: i64,
    /// The User-Agent header, if any.
    pub user_agent: Option<String>,
}

/// A stored call.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Herald's id for the call.
    pub id: String,
    /// The SIP Call-ID of the inbound INVITE.
    pub sip_call_id: String,
    /// The From URI.
    pub from_uri: String,
    /// The To URI.
    pub to_uri: String,
    /// The calling number or user.
    pub caller: String,
    /// The called number or user.
    pub callee: String,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// The SIP transport.
    pub transport: String,
    /// The dialplan route, or `none`.
    pub route: String,
    /// Where the call stands.
    pub state: CallState,
    /// When the INVITE arrived, unix milliseconds.
    pub started_at: i64,
    /// When it was answered, unix milliseconds.
    pub answered_at: Option<i64>,
    /// When it ended, unix milliseconds.
    pub ended_at: Option<i64>,
    /// Why it ended, e.g. `caller-bye`, `cancelled`, `not-found`.
    pub hangup_cause: Option<String>,
    /// The final SIP status of the INVITE, if one was sent.
    pub final_status: Option<u16>,
    /// The User-Agent header, if any.
    pub user_agent: Option<String>,
}

/// One entry of a call's trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallEvent {
    /// Position in the call's trail, from 1, in insertion order.
    pub seq: u64,
    /// When it happened, unix milliseconds.
    pub at: i64,
    /// What happened, e.g. `prompt`, `input`, `transfer`.
    pub kind: String,
    /// Details, as JSON. Never DTMF digits.
    pub detail: serde_json::Value,
}

/// A call with its trail, in insertion order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecordWithEvents {
    /// The call.
    #[serde(flatten)]
    pub call: CallRecord,
    /// Its events.
    pub events: Vec<CallEvent>,
}

// Debug leaves out numbers, URIs and addresses: records end up in logs.
impl fmt::Debug for NewCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCall")
            .field("id", &self.id)
            .field("transport", &self.transport)
            .field("route", &self.route)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CallRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallRecord")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("route", &self.route)
            .field("started_at", &self.started_at)
            .field("answered_at", &self.answered_at)
            .field("ended_at", &self.ended_at)
            .field("hangup_cause", &self.hangup_cause)
            .field("final_status", &self.final_status)
            .finish_non_exhaustive()
    }
}

/// The columns of `calls` that [`call_from_row`] reads.
macro_rules! call_columns {
    () => {
        "id, sip_call_id, from_uri, to_uri, caller, callee, source, transport, route, \
         state, started_at, answered_at, ended_at, hangup_cause, final_status, user_agent"
    };
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn insert_call_query(call: &NewCall) -> AnyQuery<'_> {
    insert_progressed_query(call, None, None)
}

/// Inserts a call together with what already happened to it (answer, end), in one statement.
fn insert_progressed_query<'q>(
    call: &'q NewCall,
    answered_at: Option<i64>,
    ended: Option<&'q CallEnd>,
) -> AnyQuery<'q> {
    let state = match (answered_at, ended) {
        (Some(_), Some(_)) => CallState::Ended,
        (None, Some(_)) => CallState::Failed,
        (Some(_), None) => CallState::Answered,
        (None, None) => CallState::Ringing,
    };
    sqlx::query(concat!(
        "INSERT INTO calls (",
        call_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $12, $10, $13, $14, $15, $16, $11)"
    ))
    .bind(&call.id)
    .bind(&call.sip_call_id)
    .bind(&call.from_uri)
    .bind(&call.to_uri)
    .bind(&call.caller)
    .bind(&call.callee)
    .bind(call.source.to_string())
    .bind(&call.transport)
    .bind(&call.route)
    .bind(call.started_at)
    .bind(call.user_agent.as_deref())
    .bind(state.as_str())
    .bind(answered_at)
    .bind(ended.map(|e| e.at))
    .bind(ended.map(|e| e.cause.as_str()))
    .bind(ended.and_then(|e| e.status).map(i64::from))
}

/// How a call ended, folded into its insert by [`Store::apply_call_writes`].
#[derive(Debug, Clone)]
struct CallEnd {
    at: i64,
    cause: String,
    status: Option<u16>,
}

/// A batch's writes with every call inserted in the batch folded into one statement: its
/// answer and end are written with the insert instead of as separate updates.
enum Folded<'a> {
    Insert {
        call: &'a NewCall,
        answered_at: Option<i64>,
        ended: Option<CallEnd>,
    },
    Other(&'a CallWrite),
}

fn fold(writes: &[CallWrite]) -> Vec<Folded<'_>> {
    let mut out: Vec<Folded<'_>> = Vec::with_capacity(writes.len());
    let mut inserted: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for w in writes {
        let slot = match w {
            CallWrite::Answered { id, .. } | CallWrite::Ended { id, .. } => {
                inserted.get(id.as_str()).copied()
            }
            _ => None,
        };
        match (w, slot.map(|i| &mut out[i])) {
            (CallWrite::Insert(call), _) => {
                inserted.insert(call.id.as_str(), out.len());
                out.push(Folded::Insert {
                    call,
                    answered_at: None,
                    ended: None,
                });
            }
            (
                CallWrite::Answered { at, .. },
                Some(Folded::Insert {
                    answered_at,
                    ended: None,
                    ..
                }),
            ) => {
                answered_at.get_or_insert(*at);
            }
            (
                CallWrite::Ended {
                    at, cause, status, ..
                },
                Some(Folded::Insert {
                    ended: ended @ None,
                    ..
                }),
            ) => {
                *ended = Some(CallEnd {
                    at: *at,
                    cause: cause.clone(),
                    status: *status,
                });
            }
            (other, _) => out.push(Folded::Other(other)),
        }
    }
    out
}

fn answered_query(id: &str, at: i64) -> AnyQuery<'_> {
    sqlx::query(
        "UPDATE calls SET state = 'answered', answered_at = $2 \
         WHERE id = $1 AND state = 'ringing'",
    )
    .bind(id)
    .bind(at)
}

fn end_call_query<'q>(id: &'q str, at: i64, cause: &'q str, status: Option<u16>) -> AnyQuery<'q> {
    sqlx::query(
        "UPDATE calls SET \
             state = CASE WHEN state = 'answered' THEN 'ended' ELSE 'failed' END, \
             ended_at = $2, hangup_cause = $3, final_status = $4 \
         WHERE id = $1 AND state IN ('ringing', 'answered')",
    )
    .bind(id)
    .bind(at)
    .bind(cause)
    .bind(status.map(i64::from))
}

const INSERT_EVENT: &str = "INSERT INTO call_events (call_id, seq, at, kind, detail) \
     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 \
     FROM call_events WHERE call_id = $1 \
     RETURNING seq";

/// One write to the call records, for [`Store::apply_call_writes`].
#[derive(Debug, Clone)]
pub enum CallWrite {
    /// [`Store::insert_call`].
    Insert(Box<NewCall>),
    /// [`Store::mark_answered`].
    Answered {
        /// The call.
        id: String,
        /// Unix milliseconds.
        at: i64,
    },
    /// [`Store::add_call_event`].
    Event {
        /// The call.
        call_id: String,
        /// Unix milliseconds.
        at: i64,
        /// What happened (`confirmed`, `hold`, `info`...).
        kind: String,
        /// Details, never message content or digits.
        detail: serde_json::Value,
    },
    /// [`Store::end_call`].
    Ended {
        /// The call.
        id: String,
        /// Unix milliseconds.
        at: i64,
        /// The hang-up cause.
        cause: String,
        /// The INVITE's final status, if one was sent.
        status: Option<u16>,
    },
}

impl Store {
    /// Applies `writes` in order in one transaction: one commit for many calls' records,
    /// which is what lets a busy server keep its call records current. A transition that
    /// does not apply (e.g. ending a call twice) changes nothing and is counted, not an error.
    /// If the transaction fails, the writes are applied one by one, so one bad write cannot
    /// lose the others; the error of each failed write is returned with its index.
    pub async fn apply_call_writes(&self, writes: &[CallWrite]) -> BatchOutcome {
        match self.apply_in_transaction(writes).await {
            Ok(skipped) => BatchOutcome {
                skipped,
                failed: Vec::new(),
            },
            Err(_) => {
                let mut outcome = BatchOutcome::default();
                for (i, w) in writes.iter().enumerate() {
                    if let Err(e) = self.apply_one(w).await {
                        outcome.failed.push((i, e));
                    }
                }
                outcome
            }
        }
    }

    async fn apply_in_transaction(&self, writes: &[CallWrite]) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut skipped = 0;
        for folded in fold(writes) {
            let w = match folded {
                Folded::Insert {
                    call,
                    answered_at,
                    ended,
                } => {
                    insert_progressed_query(call, answered_at, ended.as_ref())
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
                Folded::Other(w) => w,
            };
            let affected = match w {
                CallWrite::Insert(call) => insert_call_query(call)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                CallWrite::Answered { id, at } => answered_query(id, *at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                CallWrite::Ended {
                    id,
                    at,
                    cause,
                    status,
                } => end_call_query(id, *at, cause, *status)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                CallWrite::Event {
                    call_id,
                    at,
                    kind,
                    detail,
                } => {
                    let detail = detail.to_string();
                    let _: i64 = sqlx::query_scalar(INSERT_EVENT)
                        .bind(call_id.as_str())
                        .bind(*at)
                        .bind(kind.as_str())
                        .bind(detail.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                    1
                }
            };
            skipped += usize::from(affected == 0);
        }
        tx.commit().await?;
        Ok(skipped)
    }

    async fn apply_one(&self, w: &CallWrite) -> Result<(), StoreError> {
        match w {
            CallWrite::Insert(call) => self.insert_call(call).await,
            CallWrite::Answered { id, at } => self.mark_answered(id, *at).await,
            CallWrite::Event {
                call_id,
                at,
                kind,
                detail,
            } => self
                .add_call_event(call_id, *at, kind, detail)
                .await
                .map(|_| ()),
            CallWrite::Ended {
                id,
                at,
                cause,
                status,
            } => self.end_call(id, *at, cause, *status).await,
        }
    }

    /// Records a new call in state `ringing`.
    pub async fn insert_call(&self, call: &NewCall) -> Result<(), StoreError> {
        let result = insert_call_query(call).execute(&self.pool).await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if violated_constraint(&e) == Some(ErrorKind::UniqueViolation) => {
                Err(StoreError::CallExists(call.id.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Marks a `ringing` call `answered` at `at`.
    pub async fn mark_answered(&self, id: &str, at: i64) -> Result<(), StoreError> {
        let done = answered_query(id, at).execute(&self.pool).await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        Err(self.refusal(id, "answer").await)
    }

    /// Ends a call that has not ended yet: an answered call becomes `ended`,
    /// one never answered `failed`. `cause` says why (`caller-bye`,
    /// `cancelled`, `not-found`, ...); `status` is the final SIP status of
    /// the INVITE, if one was sent.
    pub async fn end_call(
        &self,
        id: &str,
        at: i64,
        cause: &str,
        status: Option<u16>,
    ) -> Result<(), StoreError> {
        let done = end_call_query(id, at, cause, status)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        Err(self.refusal(id, "end").await)
    }

    /// Why an update of call `id` matched no row.
    async fn refusal(&self, id: &str, operation: &'static str) -> StoreError {
        let state: Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar("SELECT state FROM calls WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await;
        match state {
            Err(e) => e.into(),
            Ok(None) => StoreError::CallNotFound(id.to_owned()),
            Ok(Some(state)) => match CallState::parse(&state) {
                Some(state) => StoreError::InvalidTransition {
                    id: id.to_owned(),
                    state,
                    operation,
                },
                None => StoreError::corrupt("calls.state", format!("unknown state {state:?}")),
            },
        }
    }

    /// Appends an event to a call's trail and returns its sequence number
    /// (1 for the first event of a call). Events come back in the order they
    /// were added, whatever their `at`.
    pub async fn add_call_event(
        &self,
        call_id: &str,
        at: i64,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Result<u64, StoreError> {
        let detail = detail.to_string();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(INSERT_EVENT)
                .bind(call_id)
                .bind(at)
                .bind(kind)
                .bind(detail.as_str())
                .fetch_one(&self.pool)
                .await;
            match inserted {
                Ok(seq) => return from_stored_int(seq, "call_events.seq"),
                Err(e) => match violated_constraint(&e) {
                    // A concurrent insert for this call took the same seq.
                    Some(ErrorKind::UniqueViolation) if attempts < EVENT_SEQ_ATTEMPTS => {}
                    Some(ErrorKind::ForeignKeyViolation) => {
                        return Err(StoreError::CallNotFound(call_id.to_owned()));
                    }
                    _ => return Err(e.into()),
                },
            }
        }
    }

    /// The `limit` most recently started calls, newest first.
    pub async fn recent_calls(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls ORDER BY started_at DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(call_from_row).collect()
    }

    /// The call with exactly this id, with its events.
    pub async fn call(&self, id: &str) -> Result<Option<CallRecordWithEvents>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.with_events(call_from_row(&row)?).await.map(Some),
            None => Ok(None),
        }
    }

    /// The call whose id is `id_or_prefix`, or else the only call whose id
    /// starts with it (as `herald calls show 3f2a` wants). Several matches
    /// are [`StoreError::AmbiguousPrefix`]; an empty prefix matches nothing.
    pub async fn call_by_prefix(
        &self,
        id_or_prefix: &str,
    ) -> Result<Option<CallRecordWithEvents>, StoreError> {
        if id_or_prefix.is_empty() {
            return Ok(None);
        }
        if let Some(call) = self.call(id_or_prefix).await? {
            return Ok(Some(call));
        }
        // substr/length rather than LIKE: no wildcards to escape, and the
        // same case-sensitive comparison on both databases.
        let mut rows = sqlx::query(concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls WHERE substr(id, 1, length($1)) = $1 LIMIT 2"
        ))
        .bind(id_or_prefix)
        .fetch_all(&self.pool)
        .await?;
        match (rows.pop(), rows.is_empty()) {
            (None, _) => Ok(None),
            (Some(row), true) => self.with_events(call_from_row(&row)?).await.map(Some),
            (Some(_), false) => Err(StoreError::AmbiguousPrefix(id_or_prefix.to_owned())),
        }
    }

    /// The trail of call `call_id`, in insertion order (empty for an unknown
    /// call).
    pub async fn call_events(&self, call_id: &str) -> Result<Vec<CallEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, detail FROM call_events WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn with_events(&self, call: CallRecord) -> Result<CallRecordWithEvents, StoreError> {
        let events = self.call_events(&call.id).await?;
        Ok(CallRecordWithEvents { call, events })
    }
}

fn call_from_row(row: &AnyRow) -> Result<CallRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let source: String = row.try_get("source")?;
    let final_status: Option<i64> = row.try_get("final_status")?;
    Ok(CallRecord {
        id: row.try_get("id")?,
        sip_call_id: row.try_get("sip_call_id")?,
        from_uri: row.try_get("from_uri")?,
        to_uri: row.try_get("to_uri")?,
        caller: row.try_get("caller")?,
        callee: row.try_get("callee")?,
        source: source
            .parse()
            .map_err(|e| StoreError::corrupt("calls.source", e))?,
        transport: row.try_get("transport")?,
        route: row.try_get("route")?,
        state: CallState::parse(&state).ok_or_else(|| {
            StoreError::corrupt("calls.state", format!("unknown state {state:?}"))
        })?,
        started_at: row.try_get("started_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        hangup_cause: row.try_get("hangup_cause")?,
        final_status: final_status
            .map(|s| u16::try_from(s).map_err(|e| StoreError::corrupt("calls.final_status", e)))
            .transpose()?,
        user_agent: row.try_get("user_agent")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<CallEvent, StoreError> {
    let detail: String = row.try_get("detail")?;
    Ok(CallEvent {
        seq: from_stored_int(row.try_get("seq")?, "call_events.seq")?,
        at: row.try_get("at")?,
        kind: row.try_get("kind")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::corrupt("call_events.detail", e))?,
    })
}

pub(crate) fn from_stored_int<T: TryFrom<i64>>(
    value: i64,
    column: &'static str,
) -> Result<T, StoreError>
where
    T::Error: fmt::Display,
{
    T::try_from(value).map_err(|e| StoreError::corrupt(column, format!("{value}: {e}")))
}
