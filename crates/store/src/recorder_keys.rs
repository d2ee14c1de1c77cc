//! The `recorder_keys` table: the recipient public keys recordings are wrapped to.
//!
//! Only public keys are stored; the private keys never reach a serving host. New recordings
//! wrap their data key to every active key (`retired_at` unset); rotation adds a key and
//! retires the old one, which still opens the recordings wrapped to it.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;

use crate::error::violated_constraint;
use crate::{Store, StoreError};

/// A recipient public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecorderKey {
    /// A short fingerprint of the public key; unique.
    pub id: String,
    /// The age X25519 recipient, `age1...`; unique.
    pub public_key: String,
    /// What it is for or who holds it, e.g. `compliance 2025`.
    pub label: String,
    /// When it was added, unix milliseconds.
    pub created_at: i64,
    /// When it was retired, unix milliseconds; `None` while active.
    pub retired_at: Option<i64>,
}

type Transaction<'c> = sqlx::Transaction<'c, sqlx::Any>;

impl Store {
    /// Adds a recorder key (retired already if `key.retired_at` is set). A key whose id or
    /// public key is taken is [`StoreError::RecorderKeyExists`].
    pub async fn add_recorder_key(&self, key: &RecorderKey) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_key(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every recorder key, retired ones included, oldest first.
    pub async fn recorder_keys(&self) -> Result<Vec<RecorderKey>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT id, public_key, label, created_at, retired_at FROM recorder_keys",
            " ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// The keys new recordings are wrapped to, oldest first.
    pub async fn active_recorder_keys(&self) -> Result<Vec<RecorderKey>, StoreError> {
        Ok(self
            .recorder_keys()
            .await?
            .into_iter()
            .filter(|key| key.retired_at.is_none())
            .collect())
    }

    /// Retires recorder key `id` at `at` (unix milliseconds): new recordings no longer wrap
    /// to it. A key retires once ([`StoreError::RecorderKeyRetired`]).
    pub async fn retire_recorder_key(&self, id: &str, at: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        retire_key(&mut tx, id, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds `new` and retires `old_id` at `at` in one transaction: at no moment is there no
    /// active key, and a failure changes nothing.
    pub async fn rotate_recorder_key(
        &self,
        new: &RecorderKey,
        old_id: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_key(&mut tx, new).await?;
        retire_key(&mut tx, old_id, at).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_key(tx: &mut Transaction<'_>, key: &RecorderKey) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO recorder_keys (id, public_key, label, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.id)
    .bind(&key.public_key)
    .bind(&key.label)
    .bind(key.created_at)
    .bind(key.retired_at)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if violated_constraint(&e) == Some(ErrorKind::UniqueViolation) => {
            Err(StoreError::RecorderKeyExists(key.id.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn retire_key(tx: &mut Transaction<'_>, id: &str, at: i64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE recorder_keys SET retired_at = $2 WHERE id = $1 AND retired_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM recorder_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Err(match exists {
        Some(_) => StoreError::RecorderKeyRetired(id.to_owned()),
        None => StoreError::RecorderKeyNotFound(id.to_owned()),
    })
}

fn key_from_row(row: &AnyRow) -> Result<RecorderKey, StoreError> {
    Ok(RecorderKey {
        id: row.try_get("id")?,
        public_key: row.try_get("public_key")?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}
