//! Retention: recordings whose class's period has run out, and that no legal hold keeps, are
//! erased: their wrapped keys are destroyed in the database (crypto-shredding: every copy of
//! the blob, backups included, becomes unreadable), the metadata row records when, by whom and
//! why, and then the blob itself is deleted.
//!
//! The server sweeps every `recorder.sweep_interval`; `herald retention sweep` sweeps once.

use herald_store::{BlobStore, EraseOutcome, RecordingRecord, Store, StoreError};
use serde::Serialize;

/// Recordings handled per database round trip.
const BATCH: u32 = 500;

/// What a sweep did (or, dry, would do).
#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    /// Recordings erased (or due, in a dry run).
    pub erased: Vec<SweptRecording>,
    /// Recordings whose erasure failed, with why.
    pub failed: Vec<(String, String)>,
    /// Erased recordings whose blob could not be deleted (unreadable already: the key is gone).
    pub blobs_left: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SweptRecording {
    pub id: String,
    pub retention_class: String,
    pub expires_at: i64,
}

/// Erases every recording expired at `now` (unix ms) and not held. `dry_run`: only lists them.
pub async fn sweep(
    store: &Store,
    blobs: &BlobStore,
    now: i64,
    dry_run: bool,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    if dry_run {
        let due = store.expired_recordings(now, u32::MAX).await?;
        report.erased = due.iter().map(swept).collect();
        return Ok(report);
    }
    // Recordings whose erasure failed stay expired and come back in every batch: each is
    // tried once per sweep, and the sweep ends when a batch erases nothing new.
    let mut tried = std::collections::HashSet::new();
    loop {
        let due = store.expired_recordings(now, BATCH).await?;
        let erased_before = report.erased.len();
        for recording in &due {
            if tried.insert(recording.id.clone()) {
                erase(store, blobs, recording, now, &mut report).await;
            }
        }
        if due.len() < BATCH as usize || report.erased.len() == erased_before {
            return Ok(report);
        }
    }
}

async fn erase(
    store: &Store,
    blobs: &BlobStore,
    recording: &RecordingRecord,
    now: i64,
    report: &mut SweepReport,
) {
    let reason = format!("retention class {} expired", recording.retention_class);
    match store
        .erase_recording(&recording.id, now, "retention", &reason)
        .await
    {
        Ok(EraseOutcome::Erased { .. }) => {
            report.erased.push(swept(recording));
            if let Err(error) = blobs.delete(&recording.id).await {
                tracing::warn!(%error, recording = %recording.id, "erased, but its blob is still stored");
                report.blobs_left.push(recording.id.clone());
            }
        }
        Ok(EraseOutcome::AlreadyErased) => {}
        // A hold placed since the listing: it stays.
        Err(StoreError::LegalHold { .. }) => {}
        Err(error) => {
            tracing::error!(%error, recording = %recording.id, "retention erasure failed");
            report
                .failed
                .push((recording.id.clone(), error.to_string()));
        }
    }
}

fn swept(recording: &RecordingRecord) -> SweptRecording {
    SweptRecording {
        id: recording.id.clone(),
        retention_class: recording.retention_class.clone(),
        expires_at: recording.expires_at.unwrap_or_default(),
    }
}
