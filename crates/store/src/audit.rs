//! The audit log: the `audit_log` and `audit_head` tables, hash-chained and signed at the head.
//!
//! Every entry carries the SHA-256 of the previous entry's hash and its own columns
//! ([`audit_entry_hash`]), so a changed, removed or inserted row breaks the chain from there on.
//! The head row (`audit_head`) holds the last entry's seq and hash, signed by the node that
//! appended it ([`AuditSigner`]): deleting entries from the tail, or rewriting the whole chain,
//! needs a node's signing key to go unnoticed. [`Store::verify_audit`] walks the chain and
//! reports every problem it finds ([`AuditProblem`]).
//!
//! Appending locks the head row first (an `UPDATE` that changes nothing: a row lock on
//! PostgreSQL, the write lock on SQLite), so concurrent appenders, on one node or on several
//! sharing a PostgreSQL database, take turns: the chain never forks and `seq` has no gaps.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::calls::from_stored_int;
use crate::recordings::to_stored_int;
use crate::{Backend, Store, StoreError};

/// The `prev_hash` of the first entry, and the head's hash while the log is empty: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many entries [`Store::verify_audit`] reads per query.
const VERIFY_PAGE: i64 = 1_000;

/// An entry to append, for [`Store::append_audit`]. The store assigns its seq and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// When it happened, unix milliseconds.
    pub at: i64,
    /// Who did it: a user name, or the node for automatic actions (retention, DSR runner).
    pub actor: String,
    /// The role the actor acted in, e.g. `dpo`, `legal`, `operator`, `system`.
    pub role: String,
    /// What was done, e.g. `recording.play`, `recording.erase`, `hold.place`.
    pub action: String,
    /// What it was done to: a recording id, a hold id, a DSR request id, ...
    pub target: String,
    /// Why, when the action needs a stated purpose (playing a recording, exporting data).
    pub purpose: Option<String>,
    /// How it went: `ok`, `refused`, `failed`, ...
    pub outcome: String,
    /// Anything else worth keeping, as JSON. Never identifiers of data subjects or digits.
    pub detail: serde_json::Value,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When it happened, unix milliseconds.
    pub at: i64,
    /// Who did it.
    pub actor: String,
    /// The role the actor acted in.
    pub role: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// Why.
    pub purpose: Option<String>,
    /// How it went.
    pub outcome: String,
    /// Anything else, as JSON.
    pub detail: serde_json::Value,
    /// The previous entry's hash ([`GENESIS_HASH`] for the first), hex.
    pub prev_hash: String,
    /// This entry's hash ([`audit_entry_hash`]), hex.
    pub hash: String,
}

/// The head of the chain: the last entry's seq and hash, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    /// The last entry's seq; 0 while the log is empty.
    pub seq: u64,
    /// The last entry's hash; [`GENESIS_HASH`] while the log is empty.
    pub hash: String,
    /// The id of the key that signed it ([`AuditSigner::key_id`]); empty while the log is empty.
    pub node_key: String,
    /// The signature over [`audit_head_message`], hex; empty while the log is empty.
    pub signature: String,
}

/// Signs the chain head. Implemented by the binary with the node's Ed25519 key.
pub trait AuditSigner: Send + Sync {
    /// The id of the signing key, as registered with [`Store::add_node_key`].
    fn key_id(&self) -> String;
    /// The signature over `message`, hex.
    fn sign(&self, message: &[u8]) -> String;
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// How many entries the log holds.
    pub entries: u64,
    /// The head as stored.
    pub head: AuditHead,
    /// Every problem found, in log order; the head's last.
    pub problems: Vec<AuditProblem>,
}

impl AuditReport {
    /// Whether the chain is intact: no problem found.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One thing wrong with the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AuditProblem {
    /// The entry's stored hash is not the hash of its columns: the entry was changed.
    Altered {
        /// The entry.
        seq: u64,
    },
    /// The entry's `prev_hash` is not the previous entry's hash: an entry before it was
    /// changed and re-hashed, or it was inserted.
    BrokenLink {
        /// The entry.
        seq: u64,
    },
    /// Entries are missing between `after` and `next` (0 when the first entries are missing).
    /// The link across the gap is not checked.
    Missing {
        /// The last entry before the gap, or 0.
        after: u64,
        /// The first entry after it.
        next: u64,
    },
    /// The head names a later entry than the last one stored: entries were deleted from the
    /// end.
    Truncated {
        /// The seq the head names.
        head_seq: u64,
        /// The last seq stored, or 0.
        last_seq: u64,
    },
    /// The head does not match the last entry: its hash differs, or entries follow it.
    HeadMismatch {
        /// The seq the head names.
        seq: u64,
    },
    /// The head's signature does not verify.
    BadSignature,
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::Altered { seq } => write!(
                f,
                "entry {seq} was altered: its stored hash does not match its contents"
            ),
            AuditProblem::BrokenLink { seq } => write!(
                f,
                "entry {seq} does not link to the entry before it: \
                 an earlier entry was rewritten or this one was inserted"
            ),
            AuditProblem::Missing { after, next } if *next == after + 2 => write!(
                f,
                "entry {} is missing: the log jumps from entry {after} to entry {next}",
                after + 1
            ),
            AuditProblem::Missing { after, next } if next > after => write!(
                f,
                "entries {} to {} are missing: the log jumps from entry {after} to entry {next}",
                after + 1,
                next - 1
            ),
            AuditProblem::Missing { after, next } => write!(
                f,
                "entry {next} is out of sequence: it follows entry {after}"
            ),
            AuditProblem::Truncated { head_seq, last_seq } => write!(
                f,
                "the log was truncated: the signed head names entry {head_seq} \
                 but the last entry stored is {last_seq}"
            ),
            AuditProblem::HeadMismatch { seq } => write!(
                f,
                "the signed head (entry {seq}) does not match the last entry of the log: \
                 entries were changed or added without updating the head"
            ),
            AuditProblem::BadSignature => {
                f.write_str("the signature on the head of the log does not verify")
            }
        }
    }
}

/// The hash of an audit entry, hex SHA-256 of
/// `herald-audit-v1\n` + `prev_hash` + `\n` + the JSON array
/// `[seq, at, actor, role, action, target, purpose, outcome, detail_text]` (compact, as
/// `serde_json` writes it). `detail_text` is the detail exactly as stored (JSON text), so the
/// hash does not depend on how JSON is re-serialised.
#[allow(clippy::too_many_arguments)] // one argument per hashed column, in column order
pub fn audit_entry_hash(
    prev_hash: &str,
    seq: u64,
    at: i64,
    actor: &str,
    role: &str,
    action: &str,
    target: &str,
    purpose: Option<&str>,
    outcome: &str,
    detail_text: &str,
) -> String {
    let columns = serde_json::json!([
        seq,
        at,
        actor,
        role,
        action,
        target,
        purpose,
        outcome,
        detail_text
    ]);
    let mut hasher = Sha256::new();
    hasher.update(b"herald-audit-v1\n");
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    // `Value`'s Display writes the same compact JSON as `serde_json::to_string`.
    hasher.update(columns.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// What the head's signature covers: `herald-audit-head-v1\n{seq}\n{hash}`.
pub fn audit_head_message(seq: u64, hash: &str) -> Vec<u8> {
    format!("herald-audit-head-v1\n{seq}\n{hash}").into_bytes()
}

/// The columns of `audit_log`, in [`AuditEntry`]'s order.
macro_rules! audit_columns {
    () => {
        "seq, at, actor, role, action, target, purpose, outcome, detail, prev_hash, hash"
    };
}

/// Locks the head row for the rest of the transaction and reads it.
const LOCK_HEAD: &str = "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash";

const INSERT_ENTRY: &str = concat!(
    "INSERT INTO audit_log (",
    audit_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);

const UPDATE_HEAD: &str =
    "UPDATE audit_head SET seq = $1, hash = $2, node_key = $3, signature = $4 WHERE id = 1";

/// A `NULL` parameter matches every row.
const SEARCH: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_log WHERE ($1 IS NULL OR target = $1) AND ($2 IS NULL OR action = $2) \
     ORDER BY seq DESC LIMIT $3"
);

const PAGE: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
);

impl Store {
    /// Appends `entry` to the audit log and returns it as stored. One transaction: locks the
    /// head row, reads it, inserts the entry with `seq = head.seq + 1` and
    /// `prev_hash = head.hash`, and moves the head to it, signed by `signer` over
    /// [`audit_head_message`]. Concurrent appenders (several tasks, several nodes on one
    /// PostgreSQL) serialise on the head row lock; the chain never forks.
    pub async fn append_audit(
        &self,
        entry: &NewAuditEntry,
        signer: &dyn AuditSigner,
    ) -> Result<AuditEntry, StoreError> {
        let detail_text = entry.detail.to_string();
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query(LOCK_HEAD).fetch_optional(&mut *tx).await?;
        let head = head.ok_or_else(|| StoreError::corrupt("audit_head", "the head row is gone"))?;
        let head_seq: u64 = from_stored_int(head.try_get("seq")?, "audit_head.seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let seq = head_seq + 1;
        let hash = audit_entry_hash(
            &prev_hash,
            seq,
            entry.at,
            &entry.actor,
            &entry.role,
            &entry.action,
            &entry.target,
            entry.purpose.as_deref(),
            &entry.outcome,
            &detail_text,
        );
        let stored_seq = to_stored_int(seq, "audit seq")?;
        sqlx::query(INSERT_ENTRY)
            .bind(stored_seq)
            .bind(entry.at)
            .bind(&entry.actor)
            .bind(&entry.role)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(entry.purpose.as_deref())
            .bind(&entry.outcome)
            .bind(&detail_text)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        let signature = signer.sign(&audit_head_message(seq, &hash));
        sqlx::query(UPDATE_HEAD)
            .bind(stored_seq)
            .bind(&hash)
            .bind(signer.key_id())
            .bind(signature)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(AuditEntry {
            seq,
            at: entry.at,
            actor: entry.actor.clone(),
            role: entry.role.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            purpose: entry.purpose.clone(),
            outcome: entry.outcome.clone(),
            detail: entry.detail.clone(),
            prev_hash,
            hash,
        })
    }

    /// Up to `limit` entries after seq `after_seq`, in ascending seq order: page through the
    /// log by passing the last seq seen.
    pub async fn audit_entries(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(PAGE)
            .bind(to_stored_int(after_seq, "after_seq")?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_entry_from_row).collect()
    }

    /// Filtered listing for the API: the entries with exactly this `target` and/or exactly
    /// this `action` (`None` matches every value), newest first, at most `limit`.
    pub async fn audit_search(
        &self,
        target: Option<&str>,
        action: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(SEARCH)
            .bind(target)
            .bind(action)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_entry_from_row).collect()
    }

    /// The head of the chain as stored.
    pub async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_head(&mut conn).await
    }

    /// Walks the whole log in seq order, a thousand entries per query, and reports every
    /// problem: entries whose hash does not match their columns, broken links, gaps in `seq`,
    /// and a head that is ahead of the log, does not match its last entry or whose signature
    /// does not verify. `check_signature(node_key_id, message, signature_hex)` checks the
    /// head's signature; an empty log with the genesis head and no signature is intact.
    ///
    /// The walk reads one snapshot (a read transaction; repeatable read on PostgreSQL), so
    /// entries appended meanwhile neither show up half-way nor make the head look stale.
    /// Entries are checked as stored, text for text: a `detail` that is no longer JSON is
    /// reported as [`AuditProblem::Altered`], not as an error.
    pub async fn verify_audit(
        &self,
        check_signature: &(dyn Fn(&str, &[u8], &str) -> bool + Sync),
    ) -> Result<AuditReport, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }
        let head = read_head(&mut tx).await?;
        let mut walk = ChainWalk::default();
        loop {
            let rows = sqlx::query(PAGE)
                .bind(to_stored_int(walk.last_seq, "audit seq")?)
                .bind(VERIFY_PAGE)
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                walk.check(&StoredEntry::from_row(row)?);
            }
            if rows.len() < VERIFY_PAGE as usize {
                break;
            }
        }
        tx.commit().await?;
        let mut problems = walk.problems;
        problems.extend(head_problems(&head, walk.last_seq, &walk.last_hash));
        let genesis = head.seq == 0 && head.node_key.is_empty() && head.signature.is_empty();
        if !genesis
            && !check_signature(
                &head.node_key,
                &audit_head_message(head.seq, &head.hash),
                &head.signature,
            )
        {
            problems.push(AuditProblem::BadSignature);
        }
        Ok(AuditReport {
            entries: walk.entries,
            head,
            problems,
        })
    }
}

async fn read_head(conn: &mut AnyConnection) -> Result<AuditHead, StoreError> {
    let row = sqlx::query("SELECT seq, hash, node_key, signature FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    let row = row.ok_or_else(|| StoreError::corrupt("audit_head", "the head row is gone"))?;
    Ok(AuditHead {
        seq: from_stored_int(row.try_get("seq")?, "audit_head.seq")?,
        hash: row.try_get("hash")?,
        node_key: row.try_get("node_key")?,
        signature: row.try_get("signature")?,
    })
}

/// An entry's columns as stored, text for text, for verification.
struct StoredEntry {
    seq: u64,
    at: i64,
    actor: String,
    role: String,
    action: String,
    target: String,
    purpose: Option<String>,
    outcome: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl StoredEntry {
    fn from_row(row: &AnyRow) -> Result<StoredEntry, StoreError> {
        Ok(StoredEntry {
            seq: from_stored_int(row.try_get("seq")?, "audit_log.seq")?,
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            role: row.try_get("role")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            purpose: row.try_get("purpose")?,
            outcome: row.try_get("outcome")?,
            detail: row.try_get("detail")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    fn computed_hash(&self) -> String {
        audit_entry_hash(
            &self.prev_hash,
            self.seq,
            self.at,
            &self.actor,
            &self.role,
            &self.action,
            &self.target,
            self.purpose.as_deref(),
            &self.outcome,
            &self.detail,
        )
    }
}

/// Where [`Store::verify_audit`] is in the chain, and what it found so far.
struct ChainWalk {
    entries: u64,
    last_seq: u64,
    last_hash: String,
    problems: Vec<AuditProblem>,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk {
            entries: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            problems: Vec::new(),
        }
    }
}

impl ChainWalk {
    /// Checks the next entry in seq order against itself and the one before it.
    fn check(&mut self, entry: &StoredEntry) {
        if entry.computed_hash() != entry.hash {
            self.problems.push(AuditProblem::Altered { seq: entry.seq });
        }
        if entry.seq != self.last_seq + 1 {
            self.problems.push(AuditProblem::Missing {
                after: self.last_seq,
                next: entry.seq,
            });
        } else if entry.prev_hash != self.last_hash {
            self.problems
                .push(AuditProblem::BrokenLink { seq: entry.seq });
        }
        self.entries += 1;
        self.last_seq = entry.seq;
        self.last_hash.clone_from(&entry.hash);
    }
}

/// What is wrong with `head`, given the last entry stored (seq 0 and the genesis hash for an
/// empty log).
fn head_problems(head: &AuditHead, last_seq: u64, last_hash: &str) -> Option<AuditProblem> {
    if head.seq > last_seq {
        Some(AuditProblem::Truncated {
            head_seq: head.seq,
            last_seq,
        })
    } else if head.seq < last_seq || head.hash != last_hash {
        Some(AuditProblem::HeadMismatch { seq: head.seq })
    } else {
        None
    }
}

fn audit_entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let detail: String = row.try_get("detail")?;
    Ok(AuditEntry {
        seq: from_stored_int(row.try_get("seq")?, "audit_log.seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        role: row.try_get("role")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        purpose: row.try_get("purpose")?,
        outcome: row.try_get("outcome")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::corrupt("audit_log.detail", e))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_hash_covers_the_documented_preimage() {
        let expected = {
            let mut hasher = Sha256::new();
            hasher.update(b"herald-audit-v1\nabc\n");
            hasher.update(
                br#"[7,-5,"ann","dpo","recording.play","r1",null,"ok","{\"a\":1}"]"#.as_slice(),
            );
            hex::encode(hasher.finalize())
        };
        let hash = audit_entry_hash(
            "abc",
            7,
            -5,
            "ann",
            "dpo",
            "recording.play",
            "r1",
            None,
            "ok",
            "{\"a\":1}",
        );
        assert_eq!(hash, expected);
        assert_eq!(hash.len(), 64);
        let with_purpose = audit_entry_hash(
            "abc",
            7,
            -5,
            "ann",
            "dpo",
            "recording.play",
            "r1",
            Some(""),
            "ok",
            "{\"a\":1}",
        );
        assert_ne!(hash, with_purpose, "no purpose differs from an empty one");
    }

    #[test]
    fn head_message_is_versioned_text() {
        assert_eq!(
            audit_head_message(42, "ff"),
            b"herald-audit-head-v1\n42\nff".to_vec()
        );
    }

    #[test]
    fn genesis_hash_is_64_zeros() {
        assert_eq!(GENESIS_HASH.len(), 64);
        assert!(GENESIS_HASH.bytes().all(|b| b == b'0'));
    }

    #[test]
    fn head_problems_tell_truncation_from_mismatch() {
        let head = |seq, hash: &str| AuditHead {
            seq,
            hash: hash.to_owned(),
            node_key: "n".to_owned(),
            signature: "s".to_owned(),
        };
        assert_eq!(head_problems(&head(3, "h3"), 3, "h3"), None);
        assert_eq!(
            head_problems(&head(3, "h3"), 2, "h2"),
            Some(AuditProblem::Truncated {
                head_seq: 3,
                last_seq: 2
            })
        );
        assert_eq!(
            head_problems(&head(2, "h2"), 3, "h3"),
            Some(AuditProblem::HeadMismatch { seq: 2 })
        );
        assert_eq!(
            head_problems(&head(3, "forged"), 3, "h3"),
            Some(AuditProblem::HeadMismatch { seq: 3 })
        );
        assert_eq!(head_problems(&head(0, GENESIS_HASH), 0, GENESIS_HASH), None);
    }

    #[test]
    fn problems_read_as_sentences() {
        assert_eq!(
            AuditProblem::Missing { after: 4, next: 6 }.to_string(),
            "entry 5 is missing: the log jumps from entry 4 to entry 6"
        );
        let missing = AuditProblem::Missing { after: 4, next: 7 };
        assert_eq!(
            missing.to_string(),
            "entries 5 to 6 are missing: the log jumps from entry 4 to entry 7"
        );
        let json = serde_json::to_value(missing).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "missing", "after": 4, "next": 7})
        );
        assert_eq!(
            serde_json::to_value(AuditProblem::BadSignature).unwrap(),
            serde_json::json!({"kind": "bad-signature"})
        );
        assert_eq!(
            serde_json::to_value(AuditProblem::HeadMismatch { seq: 1 }).unwrap(),
            serde_json::json!({"kind": "head-mismatch", "seq": 1})
        );
    }
}
