//! What `herald serve` starts besides calls: the audit log (and its entry for a changed
//! configuration), the data-subject request worker, and the HTTP API.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use herald_recorder::NodeSigningKey;
use herald_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;

use super::audit::{Audit, Auditor};
use super::dsr::DsrService;
use crate::app::AppNotice;
use crate::config::Config;

/// What the call application needs from here.
pub struct Started {
    pub dsr: DsrService,
}

/// Starts the audit log, the request worker and (when enabled) the API, whose listener is
/// bound before this returns. `node_key`: the recorder's, when recording is on (else it is
/// loaded, or created, and registered here).
pub async fn start(
    config: &Config,
    (source, node_key): (Option<&Path>, Option<Arc<NodeSigningKey>>),
    store: &Store,
    calls: UnboundedSender<AppNotice>,
    metrics: Option<PrometheusHandle>,
) -> anyhow::Result<Started> {
    let node_key = match node_key {
        Some(key) => key,
        None => {
            let key = crate::recorder::keys::load_or_create_node_key(&config.recorder.node_key)?;
            crate::recorder::keys::register_node_key(store, &key, crate::serve::unix_ms_now())
                .await?;
            Arc::new(key)
        }
    };
    let auditor = Auditor::new(store.clone(), node_key.clone());
    audit_configuration(&auditor, store, source).await?;
    let identities = match &config.api.recording_identity {
        Some(path) => Some(
            crate::recorder::cli::read_identities(path)
                .with_context(|| "api.recording_identity".to_owned())?,
        ),
        None => None,
    };
    let blobs = crate::recorder::open_blobs(config)?;
    let dsr = DsrService::new(
        store.clone(),
        blobs.clone(),
        config,
        identities.clone(),
        auditor.clone(),
    )?;
    tokio::spawn(dsr.clone().run_worker());
    if config.api.enabled {
        let listener = crate::api::bind(&config.api).await?;
        let state = crate::api::ApiState::new(crate::api::ApiParts {
            config: config.api.clone(),
            store: store.clone(),
            blobs: Some(blobs),
            calls,
            auditor,
            dsr: Some(dsr.clone()),
            identities,
            metrics,
            node_key: node_key.public_key(),
            protected_classes: config
                .retention
                .classes
                .iter()
                .filter(|(_, class)| class.legal_obligation)
                .map(|(name, _)| name.clone())
                .collect(),
        });
        crate::api::spawn(listener, state)?;
    } else {
        tracing::info!("the HTTP API is off (api.enabled = false)");
    }
    Ok(Started { dsr })
}

/// A configuration file that differs from the one the last start ran with is a configuration
/// change: audited with both digests.
async fn audit_configuration(
    auditor: &Auditor,
    store: &Store,
    source: Option<&Path>,
) -> anyhow::Result<()> {
    let digest = match source {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            hex::encode(Sha256::digest(&bytes))
        }
        None => "embedded-defaults".to_owned(),
    };
    let last = store.audit_search(None, Some("config-change"), 1).await?;
    let previous = last
        .first()
        .and_then(|entry| entry.detail.get("sha256"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if previous.as_deref() == Some(digest.as_str()) {
        return Ok(());
    }
    let target = source.map_or("<embedded defaults>".to_owned(), |p| {
        p.display().to_string()
    });
    auditor
        .record(
            Audit {
                actor: "herald-serve",
                role: "system",
                action: "config-change",
                target: &target,
                purpose: None,
                outcome: "loaded",
                detail: serde_json::json!({ "sha256": digest, "previous_sha256": previous }),
            },
            crate::serve::unix_ms_now(),
        )
        .await?;
    Ok(())
}
