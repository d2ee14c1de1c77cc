//! Crash recovery: recordings a crash (or a failed write) left open are closed as
//! `interrupted`, keeping every whole sealed segment.
//!
//! For each recording still in state `recording` at start-up: read what the blob holds, cut a
//! torn tail (a partial segment frame), append a recovery trailer signed by this node, and
//! commit the recording as `interrupted` with its segment count, size and digest. Its audio up
//! to the last sealed segment is then verifiable and exportable like any other. A blob that
//! never got its header (the crash came before the first write) holds nothing: the recording
//! is closed with no segments.

use anyhow::Context;
use herald_recorder::{RecoveryError, Verdict, seal_interrupted, verify};
use herald_store::{BlobError, FinalState, FinishedRecording};

use super::Recorder;

/// What start-up recovery did.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub recovered: usize,
    pub failed: usize,
}

/// Closes every recording left open. Run before any new call is taken.
pub async fn recover_open(recorder: &Recorder) -> anyhow::Result<RecoveryReport> {
    let open = recorder.inner.store.open_recordings().await?;
    let mut report = RecoveryReport::default();
    for recording in open {
        match recover_one(recorder, &recording.id).await {
            Ok(()) => report.recovered += 1,
            Err(error) => {
                report.failed += 1;
                tracing::error!(error = %format!("{error:#}"), recording = %recording.id, "recovering a recording failed");
            }
        }
    }
    if report.recovered > 0 {
        tracing::debug!(target: "herald::records", recovered = report.recovered, "recording records committed");
    }
    if report.recovered + report.failed > 0 {
        tracing::warn!(
            recovered = report.recovered,
            failed = report.failed,
            "recordings left open by a crash were closed as interrupted"
        );
    }
    Ok(report)
}

/// Seals one recording's blob as interrupted and commits its end.
pub(super) async fn recover_one(recorder: &Recorder, id: &str) -> anyhow::Result<()> {
    let inner = &recorder.inner;
    let now = crate::serve::unix_ms_now();
    let record = inner
        .store
        .recording(id)
        .await?
        .with_context(|| format!("recording {id} vanished"))?
        .recording;
    let blob = match inner.blobs.read(id).await {
        Ok(blob) => blob,
        Err(BlobError::NotFound { .. }) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let (bytes, segments, digest) = match seal_interrupted(&blob, unsigned(now), &inner.node_key) {
        Ok(seal) => {
            let info = inner
                .blobs
                .recover(id, seal.keep_len, &seal.trailer)
                .await?;
            let repaired = inner.blobs.read(id).await?;
            let report = verify(&repaired, &inner.node_key.public_key());
            (info.bytes, seal.segments, report.digest)
        }
        // Finished but not committed (the crash came between the two): it is complete.
        Err(RecoveryError::AlreadySealed) => {
            let report = verify(&blob, &inner.node_key.public_key());
            if let Verdict::Complete { end_unix_ms } = report.verdict {
                let end = i64::try_from(end_unix_ms).unwrap_or(now);
                let finished = FinishedRecording {
                    state: FinalState::Complete,
                    ended_at: end,
                    duration_ms: duration_ms(end - record.started_at),
                    segments: u64::from(report.segments),
                    bytes: blob.len() as u64,
                    digest: report.digest.map(hex::encode),
                    expires_at: recorder.expiry(&record.retention_class, end),
                };
                inner.store.finish_recording(id, &finished).await?;
                return Ok(());
            }
            anyhow::bail!(
                "its blob is sealed but does not verify: {:?}",
                report.verdict
            );
        }
        // Nothing was written (no header): an empty interrupted recording.
        Err(RecoveryError::Header(_)) if blob.is_empty() => (0, 0, None),
        Err(error) => return Err(error.into()),
    };
    // The audio's length is unknown without the key; each sealed segment holds at most one
    // segment duration of it, and the call cannot have lasted past now.
    let segment_ms = i64::try_from(inner.config.segment.as_millis()).unwrap_or(1000);
    let estimate = (i64::from(segments) * segment_ms).min(now - record.started_at);
    let finished = FinishedRecording {
        state: FinalState::Interrupted,
        ended_at: record.started_at + estimate.max(0),
        duration_ms: duration_ms(estimate),
        segments: u64::from(segments),
        bytes,
        digest: digest.map(hex::encode),
        expires_at: recorder.expiry(&record.retention_class, record.started_at + estimate.max(0)),
    };
    inner.store.finish_recording(id, &finished).await?;
    Ok(())
}

fn unsigned(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or_default()
}

fn duration_ms(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or_default()
}
