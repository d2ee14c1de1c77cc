//! The subject index, the `subjects` table: which calls concern a data subject, found by keyed
//! hashes of their identifiers, never the identifiers themselves.
//!
//! The server computes each hash (an HMAC over the normalised phone number, e-mail address or
//! name, with a key the database never sees); the store only keeps and compares hex strings.
//! Without the key the index says nothing about anybody.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::UnknownName;
use crate::recordings::{RecordingRecord, recording_columns, recording_from_row};
use crate::{Store, StoreError};

/// How many call ids [`Store::recordings_of_calls`] puts into one query.
const CALL_IDS_PER_QUERY: usize = 500;

/// What kind of identifier a subject hash was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// A phone number.
    Phone,
    /// An e-mail address.
    Email,
    /// A person's name.
    Name,
}

impl SubjectKind {
    /// Every kind.
    const ALL: [SubjectKind; 3] = [SubjectKind::Phone, SubjectKind::Email, SubjectKind::Name];

    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Phone => "phone",
            SubjectKind::Email => "email",
            SubjectKind::Name => "name",
        }
    }
}

impl FromStr for SubjectKind {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SubjectKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownName::new("subject kind", text, "phone, email or name"))
    }
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored subject kind, or [`StoreError::Corrupt`] naming `column`.
pub(crate) fn parse_subject_kind(
    text: &str,
    column: &'static str,
) -> Result<SubjectKind, StoreError> {
    text.parse()
        .map_err(|e: UnknownName| StoreError::corrupt(column, e))
}

impl Store {
    /// Records that call `call_id` concerns the subject whose `kind` identifier hashes to
    /// `hash`, at `at` (unix milliseconds). Linking the same call again changes nothing.
    pub async fn link_subject(
        &self,
        kind: SubjectKind,
        hash: &str,
        call_id: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO subjects (kind, hash, call_id, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, hash, call_id) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(hash)
        .bind(call_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The ids of the calls linked to subject (`kind`, `hash`), oldest link first.
    pub async fn subject_calls(
        &self,
        kind: SubjectKind,
        hash: &str,
    ) -> Result<Vec<String>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT call_id FROM subjects WHERE kind = $1 AND hash = $2 ORDER BY at, call_id",
        )
        .bind(kind.as_str())
        .bind(hash)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    /// Rectification: every link of (`kind`, `old_hash`) becomes a link of (`kind`,
    /// `new_hash`), in one transaction; returns how many links moved. A call linked to both
    /// keeps one link (the one `new_hash` had).
    pub async fn relink_subject(
        &self,
        kind: SubjectKind,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<u64, StoreError> {
        if old_hash == new_hash {
            return Ok(self.subject_calls(kind, old_hash).await?.len() as u64);
        }
        let mut tx = self.pool.begin().await?;
        // The WHERE clause also keeps SQLite from reading ON CONFLICT as part of the SELECT.
        sqlx::query(
            "INSERT INTO subjects (kind, hash, call_id, at) \
             SELECT kind, $3, call_id, at FROM subjects WHERE kind = $1 AND hash = $2 \
             ON CONFLICT (kind, hash, call_id) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(old_hash)
        .bind(new_hash)
        .execute(&mut *tx)
        .await?;
        let moved = sqlx::query("DELETE FROM subjects WHERE kind = $1 AND hash = $2")
            .bind(kind.as_str())
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(moved.rows_affected())
    }

    /// Removes every subject link of call `call_id`; returns how many there were.
    pub async fn unlink_call_subjects(&self, call_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM subjects WHERE call_id = $1")
            .bind(call_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Every recording of these calls, in any state (erased ones included), oldest first.
    pub async fn recordings_of_calls(
        &self,
        call_ids: &[String],
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let mut recordings = Vec::new();
        for chunk in call_ids.chunks(CALL_IDS_PER_QUERY) {
            let query = sqlx::query::<sqlx::Any>(sqlx::AssertSqlSafe(recordings_of_calls_query(
                chunk.len(),
            )));
            let rows = chunk
                .iter()
                .fold(query, |query, id| query.bind(id.as_str()))
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                recordings.push(recording_from_row(row)?);
            }
        }
        recordings.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        recordings.dedup_by(|a, b| a.id == b.id);
        Ok(recordings)
    }
}

/// `SELECT ... WHERE call_id IN ($1, ..., $n)`. Only placeholders are generated: the ids are
/// bound, never spliced into the text.
fn recordings_of_calls_query(ids: usize) -> String {
    let placeholders: Vec<String> = (1..=ids).map(|i| format!("${i}")).collect();
    format!(
        "SELECT {} FROM recordings WHERE call_id IN ({}) ORDER BY started_at, id",
        recording_columns!(),
        placeholders.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in SubjectKind::ALL {
            assert_eq!(kind.as_str().parse::<SubjectKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        let unknown = "fax".parse::<SubjectKind>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown subject kind \"fax\": expected phone, email or name"
        );
        assert!(
            "Phone".parse::<SubjectKind>().is_err(),
            "names are lower case"
        );
    }

    #[test]
    fn the_in_list_has_one_placeholder_per_id() {
        let sql = recordings_of_calls_query(3);
        assert!(sql.contains("call_id IN ($1, $2, $3)"), "{sql}");
    }
}
