//! The audit log: every read, export, erasure, hold, pause and configuration change, written
//! before the operation it records takes effect ("no audit, no key"), as a hash chain in the
//! database (`herald-store`) whose head is signed with this node's Ed25519 key. Editing or
//! deleting any row breaks the chain, the head, or the head's signature, and
//! [`verify`] (`herald audit verify`, `GET /api/v1/audit/verify`) says where.

use std::sync::Arc;

use anyhow::Context;
use herald_recorder::{NodePublicKey, NodeSigningKey};
use herald_store::{AuditEntry, AuditReport, AuditSigner, NewAuditEntry, Store};

/// What the node key signs the audit head for (see `NodeSigningKey::sign_for`).
const PURPOSE: &str = "audit-head";

struct NodeSigner(Arc<NodeSigningKey>);

impl AuditSigner for NodeSigner {
    fn key_id(&self) -> String {
        self.0.id().to_string()
    }

    fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign_for(PURPOSE, message))
    }
}

/// Writes audit entries. Cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    store: Store,
    signer: Arc<NodeSigner>,
}

/// One thing to record.
pub struct Audit<'a> {
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub purpose: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: serde_json::Value,
}

impl Auditor {
    pub fn new(store: Store, node_key: Arc<NodeSigningKey>) -> Self {
        Self {
            store,
            signer: Arc::new(NodeSigner(node_key)),
        }
    }

    /// Appends an entry at `at` (unix ms). An error means nothing was recorded, and the
    /// operation it was for must not happen.
    pub async fn record(&self, audit: Audit<'_>, at: i64) -> anyhow::Result<AuditEntry> {
        let entry = NewAuditEntry {
            at,
            actor: audit.actor.to_owned(),
            role: audit.role.to_owned(),
            action: audit.action.to_owned(),
            target: audit.target.to_owned(),
            purpose: audit.purpose.map(str::to_owned),
            outcome: audit.outcome.to_owned(),
            detail: audit.detail,
        };
        let written = self
            .store
            .append_audit(&entry, self.signer.as_ref())
            .await
            .context("writing the audit log")?;
        crate::metrics::audit_entry();
        Ok(written)
    }
}

/// Checks the whole chain and the head's signature against the node key that signed it, as
/// registered in the database (or `local`, this host's own key, which wins when the ids
/// match: someone able to edit the database could replace a registered public key).
pub async fn verify(store: &Store, local: Option<&NodePublicKey>) -> anyhow::Result<AuditReport> {
    let head = store.audit_head().await?;
    let key = match local.filter(|k| k.id().to_string() == head.node_key) {
        Some(key) => Some(key.clone()),
        None if head.node_key.is_empty() => None,
        None => store
            .node_key(&head.node_key)
            .await?
            .and_then(|text| NodePublicKey::from_text(&text).ok()),
    };
    let check = move |key_id: &str, message: &[u8], signature: &str| {
        let Some(key) = &key else { return false };
        let mut bytes = [0u8; 64];
        key.id().to_string() == key_id
            && hex::decode_to_slice(signature, &mut bytes).is_ok()
            && key.verify_for(PURPOSE, message, &bytes)
    };
    Ok(store.verify_audit(&check).await?)
}
