//! The `registrations` table: SIP contact bindings per address of record.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::calls::from_stored_int;
use crate::{Store, StoreError};

/// One contact registered for an address of record (RFC 3261 §10), keyed by
/// `(aor, contact_uri)`. The registrar decides what to store; the store keeps
/// the latest binding per key.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// The address of record, e.g. `sip:1001@example.com`.
    pub aor: String,
    /// The Contact URI.
    pub contact_uri: String,
    /// When the binding lapses, unix milliseconds. Live while `now < expires_at`.
    pub expires_at: i64,
    /// The transport the REGISTER came over, lower case (`udp`, `tcp`, ...).
    pub transport: String,
    /// Where the REGISTER came from: where requests to this contact go
    /// when the contact is behind NAT.
    pub source: SocketAddr,
    /// The User-Agent header, if any.
    pub user_agent: Option<String>,
    /// The Call-ID of the REGISTER that made the binding.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// The Contact's q-value in thousandths (`q=0.5` is 500; at most 1000),
    /// if it had one.
    pub q_milli: Option<u16>,
    /// The `+sip.instance` Contact parameter (RFC 5626), if any.
    pub instance_id: Option<String>,
    /// The `reg-id` Contact parameter (RFC 5626), if any.
    pub reg_id: Option<u32>,
}

// Debug leaves out URIs and addresses: bindings end up in logs.
impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("expires_at", &self.expires_at)
            .field("transport", &self.transport)
            .field("cseq", &self.cseq)
            .field("q_milli", &self.q_milli)
            .field("reg_id", &self.reg_id)
            .finish_non_exhaustive()
    }
}

/// The columns of `registrations` that [`binding_from_row`] reads.
macro_rules! binding_columns {
    () => {
        "aor, contact_uri, expires_at, transport, source, user_agent, call_id, cseq, \
         q_milli, instance_id, reg_id"
    };
}

/// Live bindings first by q-value (absent counts as 1.0), then the longest-lived.
macro_rules! binding_order {
    () => {
        " ORDER BY COALESCE(q_milli, 1000) DESC, expires_at DESC, contact_uri"
    };
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn upsert_query(binding: &Binding) -> AnyQuery<'_> {
    sqlx::query(concat!(
        "INSERT INTO registrations (",
        binding_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (aor, contact_uri) DO UPDATE SET \
                 expires_at = excluded.expires_at, transport = excluded.transport, \
                 source = excluded.source, user_agent = excluded.user_agent, \
                 call_id = excluded.call_id, cseq = excluded.cseq, \
                 q_milli = excluded.q_milli, instance_id = excluded.instance_id, \
                 reg_id = excluded.reg_id"
    ))
    .bind(&binding.aor)
    .bind(&binding.contact_uri)
    .bind(binding.expires_at)
    .bind(&binding.transport)
    .bind(binding.source.to_string())
    .bind(binding.user_agent.as_deref())
    .bind(&binding.call_id)
    .bind(i64::from(binding.cseq))
    .bind(binding.q_milli.map(i64::from))
    .bind(binding.instance_id.as_deref())
    .bind(binding.reg_id.map(i64::from))
}

fn check_q(binding: &Binding) -> Result<(), StoreError> {
    match binding.q_milli.filter(|q| *q > 1000) {
        Some(q) => Err(StoreError::InvalidQValue(q)),
        None => Ok(()),
    }
}

impl Store {
    /// Stores `binding`, replacing the one with the same AOR and contact.
    pub async fn upsert_binding(&self, binding: &Binding) -> Result<(), StoreError> {
        check_q(binding)?;
        upsert_query(binding).execute(&self.pool).await?;
        Ok(())
    }

    /// Replaces the complete binding set of each AOR given (an empty set removes the AOR's
    /// bindings), all in one transaction: what a registrar persists after each REGISTER,
    /// batched so that thousands of registrations per second cost a few commits.
    pub async fn replace_binding_sets(
        &self,
        sets: &[(String, Vec<Binding>)],
    ) -> Result<(), StoreError> {
        for b in sets.iter().flat_map(|(_, set)| set) {
            check_q(b)?;
        }
        let mut tx = self.pool.begin().await?;
        for (aor, set) in sets {
            sqlx::query("DELETE FROM registrations WHERE aor = $1")
                .bind(aor)
                .execute(&mut *tx)
                .await?;
            for b in set {
                upsert_query(b).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes one binding; says whether there was one.
    pub async fn remove_binding(&self, aor: &str, contact_uri: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM registrations WHERE aor = $1 AND contact_uri = $2")
            .bind(aor)
            .bind(contact_uri)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes every binding of `aor` (REGISTER with `Contact: *`); returns
    /// how many there were, expired ones included.
    pub async fn remove_all_bindings(&self, aor: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM registrations WHERE aor = $1")
            .bind(aor)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The live bindings of `aor` at `now`, highest q-value first.
    pub async fn bindings(&self, aor: &str, now: i64) -> Result<Vec<Binding>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            binding_columns!(),
            " FROM registrations WHERE aor = $1 AND expires_at > $2",
            binding_order!()
        ))
        .bind(aor)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(binding_from_row).collect()
    }

    /// Every live binding at `now`, grouped by AOR.
    pub async fn all_bindings(&self, now: i64) -> Result<Vec<Binding>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            binding_columns!(),
            " FROM registrations WHERE expires_at > $1",
            binding_order!()
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut bindings = rows
            .iter()
            .map(binding_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // Group in Rust: text order differs between database collations.
        bindings.sort_by(|a, b| a.aor.cmp(&b.aor));
        Ok(bindings)
    }

    /// Deletes the bindings that have lapsed at `now`; returns how many.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn binding_from_row(row: &AnyRow) -> Result<Binding, StoreError> {
    let source: String = row.try_get("source")?;
    let q_milli: Option<i64> = row.try_get("q_milli")?;
    let reg_id: Option<i64> = row.try_get("reg_id")?;
    Ok(Binding {
        aor: row.try_get("aor")?,
        contact_uri: row.try_get("contact_uri")?,
        expires_at: row.try_get("expires_at")?,
        transport: row.try_get("transport")?,
        source: source
            .parse()
            .map_err(|e| StoreError::corrupt("registrations.source", e))?,
        user_agent: row.try_get("user_agent")?,
        call_id: row.try_get("call_id")?,
        cseq: from_stored_int(row.try_get("cseq")?, "registrations.cseq")?,
        q_milli: q_milli
            .map(|q| from_stored_int(q, "registrations.q_milli"))
            .transpose()?,
        instance_id: row.try_get("instance_id")?,
        reg_id: reg_id
            .map(|id| from_stored_int(id, "registrations.reg_id"))
            .transpose()?,
    })
}
