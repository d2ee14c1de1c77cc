//! Crash recovery: recordings a crash (or a failed write) left open are closed as
//! `interrupted`, keeping every whole sealed segment.
//!
//! For each recording this node left in state `recording` (other nodes sharing the database
//! recover their own): read what the blob holds, cut a torn tail (a partial segment frame),
//! append a recovery trailer signed by this node, and commit the recording as `interrupted`
//! with its segment count, size and digest. Its audio up to the last sealed segment is then
//! verifiable and exportable like any other. A blob that was sealed but not committed (the
//! crash came between the two) is committed as its trailer says. A blob that never got its
//! header, or is damaged before its end, is closed with no digest: there is nothing to vouch
//! for. Finally, blobs still in the S3 spool whose recordings are closed are uploaded.

use anyhow::Context;
use herald_recorder::{RecoveryError, Verdict, seal_interrupted, verify};
use herald_store::{BlobError, FinalState, FinishedRecording, RecordingRecord, RecordingState};

use super::Recorder;

/// What start-up recovery did.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub recovered: usize,
    pub uploaded: usize,
    pub failed: usize,
}

/// Closes every recording this node left open, and uploads what the S3 spool still holds.
/// Run before any new call is taken.
pub async fn recover_open(recorder: &Recorder) -> anyhow::Result<RecoveryReport> {
    let inner = &recorder.inner;
    let node = inner.node_key.id().to_string();
    let open = inner.store.open_recordings().await?;
    let mut report = RecoveryReport::default();
    for recording in open.iter().filter(|r| r.node_key.as_deref() == Some(&node)) {
        match recover_one(recorder, &recording.id).await {
            Ok(()) => report.recovered += 1,
            Err(error) => {
                report.failed += 1;
                tracing::error!(error = %format!("{error:#}"), recording = %recording.id, "recovering a recording failed");
            }
        }
    }
    for id in inner.blobs.spooled_ids().await? {
        match upload_spooled(recorder, &id).await {
            Ok(true) => report.uploaded += 1,
            Ok(false) => {}
            Err(error) => {
                report.failed += 1;
                tracing::error!(error = %format!("{error:#}"), recording = %id, "uploading a spooled recording failed");
            }
        }
    }
    if report.recovered > 0 {
        tracing::debug!(target: "herald::records", recovered = report.recovered, "recording records committed");
    }
    if report.recovered + report.uploaded + report.failed > 0 {
        tracing::warn!(
            recovered = report.recovered,
            uploaded = report.uploaded,
            failed = report.failed,
            "recordings left open by a crash were closed as interrupted"
        );
    }
    Ok(report)
}

/// A spooled blob whose recording is closed: uploaded now (true). One still recording (on
/// another node, or in this process) is left alone.
async fn upload_spooled(recorder: &Recorder, id: &str) -> anyhow::Result<bool> {
    let inner = &recorder.inner;
    match inner.store.recording_state(id).await? {
        Some(RecordingState::Recording) => Ok(false),
        Some(RecordingState::Erased) | None => {
            inner.blobs.delete(id).await?;
            Ok(false)
        }
        Some(RecordingState::Complete | RecordingState::Interrupted) => {
            let blob = inner.blobs.read(id).await?;
            inner.blobs.recover(id, blob.len() as u64, &[]).await?;
            Ok(true)
        }
    }
}

/// Seals one recording's blob as interrupted (or commits it as its trailer says) and commits
/// its end.
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
    let public = inner.node_key.public_key();
    let finished = match seal_interrupted(&blob, unsigned(now), &inner.node_key) {
        Ok(seal) => {
            let info = inner
                .blobs
                .recover(id, seal.keep_len, &seal.trailer)
                .await?;
            let repaired = inner.blobs.read(id).await?;
            let digest = verify(&repaired, &public).digest;
            let estimate = estimate_ms(recorder, &record, seal.segments, now);
            closed(
                recorder,
                &record,
                FinalState::Interrupted,
                estimate,
                seal.segments,
                info.bytes,
                digest,
            )
        }
        // Sealed but not committed: upload it (S3: from the spool) and commit what it says.
        Err(RecoveryError::AlreadySealed) => {
            let info = inner.blobs.recover(id, blob.len() as u64, &[]).await?;
            let report = verify(&blob, &public);
            let (state, end) = match report.verdict {
                Verdict::Complete { end_unix_ms } => (FinalState::Complete, end_unix_ms),
                Verdict::Interrupted { end_unix_ms } => (FinalState::Interrupted, end_unix_ms),
                other => {
                    anyhow::bail!("its blob ends with a trailer that does not verify: {other:?}")
                }
            };
            let duration = i64::try_from(end).unwrap_or(now) - record.started_at;
            closed(
                recorder,
                &record,
                state,
                duration,
                report.segments,
                info.bytes,
                report.digest,
            )
        }
        // Nothing usable was written (no header: the crash came before the first write, or
        // the blob is damaged before its end): closed with nothing to vouch for.
        Err(error) => {
            tracing::warn!(%error, recording = %id, "the recording's blob cannot be sealed; it is closed without audio");
            closed(
                recorder,
                &record,
                FinalState::Interrupted,
                0,
                0,
                blob.len() as u64,
                None,
            )
        }
    };
    inner.store.finish_recording(id, &finished).await?;
    Ok(())
}

/// The audio's length is unknown without the key; each sealed segment holds at most one
/// segment duration of it, and the call cannot have lasted past now.
fn estimate_ms(recorder: &Recorder, record: &RecordingRecord, segments: u32, now: i64) -> i64 {
    let segment_ms = i64::try_from(recorder.inner.config.segment.as_millis()).unwrap_or(1000);
    (i64::from(segments) * segment_ms)
        .min(now - record.started_at)
        .max(0)
}

fn closed(
    recorder: &Recorder,
    record: &RecordingRecord,
    state: FinalState,
    duration_ms: i64,
    segments: u32,
    bytes: u64,
    digest: Option<[u8; 32]>,
) -> FinishedRecording {
    let ended_at = record.started_at + duration_ms.max(0);
    FinishedRecording {
        state,
        ended_at,
        duration_ms: unsigned(duration_ms),
        segments: u64::from(segments),
        bytes,
        digest: digest.map(hex::encode),
        expires_at: recorder.expiry(&record.retention_class, ended_at),
    }
}

fn unsigned(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or_default()
}
