//! The `node_keys` table: public keys of the nodes that sign recording trailers.

use crate::{Store, StoreError};

impl Store {
    /// Registers a node's public signing key (its id is a fingerprint of the key). Registering
    /// the same key again changes nothing; another key under a registered id is
    /// [`StoreError::NodeKeyMismatch`].
    pub async fn add_node_key(
        &self,
        id: &str,
        public_key: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        if let Some(known) = self.node_key(id).await? {
            return if known == public_key {
                Ok(())
            } else {
                Err(StoreError::NodeKeyMismatch(id.to_owned()))
            };
        }
        let inserted =
            sqlx::query("INSERT INTO node_keys (id, public_key, created_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(public_key)
                .bind(at)
                .execute(&self.pool)
                .await;
        match inserted {
            Ok(_) => Ok(()),
            // Another process registered it meanwhile: check it is the same key.
            Err(_) if self.node_key(id).await?.as_deref() == Some(public_key) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// The public key registered under node key id `id`.
    pub async fn node_key(&self, id: &str) -> Result<Option<String>, StoreError> {
        let key = sqlx::query_scalar("SELECT public_key FROM node_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(key)
    }
}
