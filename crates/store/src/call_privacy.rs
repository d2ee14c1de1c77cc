//! Anonymisation and rectification of a call's calling party, in `calls`, in the metadata of
//! its recordings and in the subject index.
//!
//! Neither touches the audio: an anonymised call's recordings are erased (crypto-shredded) by
//! [`Store::erase_recording`] when that is what the request asks for.

use crate::legal_holds::{ACTIVE_CASE_REFS, Transaction, erase_in, locked_state};
use crate::recordings::RecordingState;
use crate::{Store, StoreError};

/// What [`Store::erase_subject`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubjectErasure {
    /// The recordings erased now (already erased ones are left out).
    pub recordings_erased: Vec<String>,
    /// Call records anonymised.
    pub calls_anonymized: u64,
}

/// What an anonymised call's caller, Call-ID and recordings' caller become.
const ANONYMIZED: &str = "anonymized";
/// What an anonymised call's From becomes: a URI that still parses, in a reserved domain.
const ANONYMIZED_FROM_URI: &str = "sip:anonymized@anonymized.invalid";
/// What an anonymised call's source address becomes: it still parses as `ip:port`.
const ANONYMIZED_SOURCE: &str = "0.0.0.0:0";

const ANONYMIZE_CALL: &str = "UPDATE calls SET caller = $2, from_uri = $3, source = $4, \
     user_agent = NULL, sip_call_id = $2 WHERE id = $1";

/// Locks call `$1` for the rest of the transaction and reads what rectification changes.
const LOCK_CALL_PARTY: &str =
    "UPDATE calls SET caller = caller WHERE id = $1 RETURNING caller, from_uri";

impl Store {
    /// Replaces the caller's identifiers on call `call_id` and on its recordings' metadata, in
    /// one transaction: the call's caller becomes `anonymized`, its From
    /// `sip:anonymized@anonymized.invalid`, its source `0.0.0.0:0` (an address, so the row
    /// still loads), its User-Agent `NULL` and its SIP Call-ID `anonymized`; the caller of every
    /// recording of the call becomes `anonymized`; its subject links go. Returns `false` (and
    /// changes nothing) when there is no such call.
    pub async fn anonymize_call(&self, call_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = anonymize_in(&mut tx, call_id).await? > 0;
        tx.commit().await?;
        Ok(done)
    }

    /// Erases a data subject, all or nothing, in one transaction: every recording of
    /// `recording_ids` is locked (in id order, so concurrent erasures cannot deadlock) and
    /// checked; if any is under legal hold, still being recorded, or in one of
    /// `protected_classes` (retention with a legal obligation), nothing changes and
    /// [`StoreError::ErasureRefused`] names every reason. Otherwise each recording loses its
    /// wrapped keys and becomes `erased` (by `by`, for `reason`, at `at`) and every call of
    /// `call_ids` is anonymised as [`Store::anonymize_call`] does. A hold placed concurrently
    /// either commits first (and the erasure is refused) or waits and finds the recording
    /// erased. The blobs are the caller's to delete once this has committed.
    pub async fn erase_subject(
        &self,
        recording_ids: &[String],
        call_ids: &[String],
        (at, by, reason): (i64, &str, &str),
        protected_classes: &[String],
    ) -> Result<SubjectErasure, StoreError> {
        let mut ids = recording_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.pool.begin().await?;
        let mut to_erase = Vec::new();
        let mut refusals = Vec::new();
        for id in &ids {
            match locked_state(&mut tx, id).await? {
                None | Some(RecordingState::Erased) => continue,
                Some(RecordingState::Recording) => {
                    refusals.push(format!("recording {id} is still being recorded"));
                }
                Some(_) => {}
            }
            refusals.extend(erasure_blockers(&mut tx, id, protected_classes).await?);
            to_erase.push(id.clone());
        }
        if !refusals.is_empty() {
            return Err(StoreError::ErasureRefused(refusals));
        }
        for id in &to_erase {
            erase_in(&mut tx, id, (at, by, reason)).await?;
        }
        let mut calls_anonymized = 0;
        for call_id in call_ids {
            calls_anonymized += anonymize_in(&mut tx, call_id).await?;
        }
        tx.commit().await?;
        Ok(SubjectErasure {
            recordings_erased: to_erase,
            calls_anonymized,
        })
    }

    /// Rectifies the calling party of call `call_id` from `from` to `to`, in one transaction:
    /// the call's caller and the caller of each of its recordings where it equals `from`, and
    /// `from` wherever it occurs in the user part of the call's From URI (`sip:USER@host`,
    /// `tel:USER`; the display name and parameters are left alone). Returns how many rows
    /// changed: the call (once, whatever changed in it) plus its recordings. The recordings of a
    /// call whose record has gone are rectified too.
    pub async fn rectify_caller(
        &self,
        call_id: &str,
        from: &str,
        to: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut changed = 0;
        let party: Option<(String, String)> = sqlx::query_as(LOCK_CALL_PARTY)
            .bind(call_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((caller, from_uri)) = party {
            let new_caller = if caller == from { to } else { caller.as_str() };
            let new_from_uri = rectified_user_part(&from_uri, from, to);
            if new_caller != caller || new_from_uri.is_some() {
                sqlx::query("UPDATE calls SET caller = $2, from_uri = $3 WHERE id = $1")
                    .bind(call_id)
                    .bind(new_caller)
                    .bind(new_from_uri.as_deref().unwrap_or(&from_uri))
                    .execute(&mut *tx)
                    .await?;
                changed += 1;
            }
        }
        let recordings =
            sqlx::query("UPDATE recordings SET caller = $3 WHERE call_id = $1 AND caller = $2")
                .bind(call_id)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(changed + recordings.rows_affected())
    }
}

/// `value` (a From header value or URI) with `from` replaced by `to` in the user part of its
/// URI, or `None` when that changes nothing. The URI is the part in `<...>` if there is one,
/// else everything before the first `;`; its user part runs from after the scheme's `:` to the
/// `@` (for `tel:` URIs without `@`, to the first `;` or the end).
fn rectified_user_part(value: &str, from: &str, to: &str) -> Option<String> {
    if from.is_empty() {
        return None;
    }
    let (start, end) = user_part_span(value)?;
    let user = &value[start..end];
    if !user.contains(from) {
        return None;
    }
    Some(format!(
        "{}{}{}",
        &value[..start],
        user.replace(from, to),
        &value[end..]
    ))
}

/// Byte range of the URI's user part in `value`. Every delimiter is ASCII, so the range falls
/// on character boundaries.
fn user_part_span(value: &str) -> Option<(usize, usize)> {
    let (uri_start, uri_end) = match value.find('<') {
        Some(open) => {
            let close = value[open..].find('>').map_or(value.len(), |i| open + i);
            (open + 1, close)
        }
        None => (0, value.find(';').unwrap_or(value.len())),
    };
    let uri = &value[uri_start..uri_end];
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let rest = &uri[colon + 1..];
    let user_len = match rest.find('@') {
        Some(at) => at,
        None if scheme.eq_ignore_ascii_case("tel") => rest.find(';').unwrap_or(rest.len()),
        None => return None,
    };
    let start = uri_start + colon + 1;
    Some((start, start + user_len))
}

/// Anonymises call `call_id` and its recordings' caller in `tx`; 1 if the call exists, else 0
/// (nothing changed).
async fn anonymize_in(tx: &mut Transaction<'_>, call_id: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(ANONYMIZE_CALL)
        .bind(call_id)
        .bind(ANONYMIZED)
        .bind(ANONYMIZED_FROM_URI)
        .bind(ANONYMIZED_SOURCE)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(0);
    }
    sqlx::query("UPDATE recordings SET caller = $2 WHERE call_id = $1")
        .bind(call_id)
        .bind(ANONYMIZED)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM subjects WHERE call_id = $1")
        .bind(call_id)
        .execute(&mut **tx)
        .await?;
    Ok(1)
}

/// Why locked recording `id` may not be erased: its holds in force, a protected class.
async fn erasure_blockers(
    tx: &mut Transaction<'_>,
    id: &str,
    protected_classes: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut blockers = Vec::new();
    let case_refs: Vec<String> = sqlx::query_scalar(ACTIVE_CASE_REFS)
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    if !case_refs.is_empty() {
        blockers.push(format!(
            "recording {id} is under legal hold ({})",
            case_refs.join(", ")
        ));
    }
    let class: String = sqlx::query_scalar("SELECT retention_class FROM recordings WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    if protected_classes.contains(&class) {
        blockers.push(format!(
            "recording {id} is in retention class {class:?}, kept by legal obligation"
        ));
    }
    Ok(blockers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_part_is_rectified_and_nothing_else() {
        let cases = [
            (
                "sip:+4930123456@trunk.example",
                Some("sip:+4930999999@trunk.example"),
            ),
            (
                "\"+4930123456\" <sip:+4930123456@trunk.example;user=phone>;tag=+4930123456",
                Some("\"+4930123456\" <sip:+4930999999@trunk.example;user=phone>;tag=+4930123456"),
            ),
            (
                "<sips:0049+4930123456@trunk.example>",
                Some("<sips:0049+4930999999@trunk.example>"),
            ),
            (
                "tel:+4930123456;phone-context=x",
                Some("tel:+4930999999;phone-context=x"),
            ),
            ("sip:trunk.example;tag=+4930123456", None),
            ("sip:alice@+4930123456.example", None),
            ("<sip:alice@trunk.example>", None),
            ("garbage", None),
            ("", None),
        ];
        for (value, expected) in cases {
            assert_eq!(
                rectified_user_part(value, "+4930123456", "+4930999999").as_deref(),
                expected,
                "{value}"
            );
        }
        assert_eq!(rectified_user_part("sip:a@b", "", "x"), None);
        assert_eq!(
            rectified_user_part("<sip:a@b", "a", "é").as_deref(),
            Some("<sip:é@b")
        );
    }

    #[test]
    fn the_anonymised_source_parses_as_an_address() {
        assert!(ANONYMIZED_SOURCE.parse::<std::net::SocketAddr>().is_ok());
    }
}
