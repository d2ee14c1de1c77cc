//! One recording's storage task: the metadata row (with the wrapped keys) first, then the
//! sealed bytes as the media worker sends them, then the recording's end.
//!
//! Nothing here sees plaintext: the chunks are ciphertext from the tap. If the tap goes away
//! without finishing (its stream's machine panicked), or the blob cannot be written, what is
//! stored is closed as `interrupted` the way crash recovery closes it.

use herald_recorder::Evidence;
use herald_store::{
    BlobWriter, FinalState, FinishedRecording, NewRecording, NewRecordingEvidence, NewRecordingGap,
};
use tokio::sync::mpsc::Receiver;

use super::Recorder;
use super::tap::{Chunk, Finished};

pub(super) async fn run(
    recorder: Recorder,
    new: NewRecording,
    evidence: Vec<Evidence>,
    mut chunks: Receiver<Chunk>,
    _alive: tokio::sync::mpsc::Sender<()>,
) {
    let inner = &recorder.inner;
    let id = new.id.clone();
    if let Err(error) = inner.store.insert_recording(&new).await {
        // Without its row the wrapped keys are lost: nothing may be written.
        tracing::error!(%error, recording = %id, "cannot store a new recording; it is dropped");
        return;
    }
    tracing::debug!(target: "herald::records", recording = %id, "recording records committed: started");
    for item in &evidence {
        store_evidence(&recorder, &id, item).await;
    }
    let mut blob = create_blob(&recorder, &id).await;
    let mut state = Progress::default();
    let mut finished = None;
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Chunk::Bytes(bytes) => append(&mut blob, &id, &bytes, &mut state).await,
            Chunk::GapBegun {
                position,
                unix_ms,
                reason,
                actor,
            } => {
                let gap = NewRecordingGap {
                    started_at: unix_ms,
                    start_position: position,
                    reason: reason.name().to_owned(),
                    actor,
                };
                state.open_gap = match inner.store.add_recording_gap(&id, &gap).await {
                    Ok(seq) => Some(seq),
                    Err(error) => {
                        tracing::warn!(%error, recording = %id, "storing a gap failed");
                        None
                    }
                };
            }
            Chunk::GapEnded { position, unix_ms } => {
                if let Some(seq) = state.open_gap.take()
                    && let Err(error) = inner
                        .store
                        .close_recording_gap(&id, seq, unix_ms, position)
                        .await
                {
                    tracing::warn!(%error, recording = %id, "closing a gap failed");
                }
            }
            Chunk::Evidence(item) => store_evidence(&recorder, &id, &item).await,
            Chunk::Finished(end) => {
                finished = Some(end);
                break;
            }
        }
    }
    match (blob, finished) {
        (Some(blob), Some(end)) if !state.failed => complete(&recorder, &new, blob, end).await,
        (blob, _) => {
            drop(blob);
            tracing::warn!(recording = %id, "recording ended unfinished; sealing it as interrupted");
            if let Err(error) = super::recovery::recover_one(&recorder, &new.id).await {
                tracing::error!(%error, recording = %id, "could not seal an interrupted recording");
            }
        }
    }
}

/// Creates the blob, retrying for about half a minute (an object store that is briefly
/// unreachable) while the tap's chunks wait in their queue.
async fn create_blob(recorder: &Recorder, id: &str) -> Option<BlobWriter> {
    let mut wait = std::time::Duration::from_secs(1);
    for attempt in 1..=5 {
        match recorder.inner.blobs.create(id).await {
            Ok(blob) => return Some(blob),
            Err(error) if attempt < 5 => {
                tracing::warn!(%error, recording = %id, "cannot create the recording's blob yet; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(error) => {
                tracing::error!(%error, recording = %id, "cannot create the recording's blob");
            }
        }
    }
    None
}

#[derive(Default)]
struct Progress {
    open_gap: Option<u64>,
    failed: bool,
}

async fn append(blob: &mut Option<BlobWriter>, id: &str, bytes: &[u8], state: &mut Progress) {
    let Some(writer) = blob.as_mut() else {
        return;
    };
    if state.failed {
        return;
    }
    if let Err(error) = writer.append(bytes).await {
        tracing::error!(%error, recording = %id, "writing the recording failed; it stops here");
        state.failed = true;
    }
}

async fn store_evidence(recorder: &Recorder, id: &str, item: &Evidence) {
    let row = NewRecordingEvidence {
        at: i64::try_from(item.played_unix_ms).unwrap_or(i64::MAX),
        prompt: item.prompt_id.clone(),
        language: item.language.clone(),
        completed: item.completed,
        choice: Some(item.choice.name().to_owned()),
    };
    if let Err(error) = recorder.inner.store.add_recording_evidence(id, &row).await {
        tracing::warn!(%error, recording = %id, "storing disclosure evidence failed");
    }
}

async fn complete(recorder: &Recorder, new: &NewRecording, blob: BlobWriter, end: Finished) {
    let id = &new.id;
    let info = match blob.finish().await {
        Ok(info) => info,
        Err(error) => {
            tracing::error!(%error, recording = %id, "finishing the blob failed");
            if let Err(error) = super::recovery::recover_one(recorder, id).await {
                tracing::error!(%error, recording = %id, "could not seal an interrupted recording");
            }
            return;
        }
    };
    let finished = FinishedRecording {
        state: FinalState::Complete,
        ended_at: end.end_unix_ms,
        duration_ms: u64::try_from(end.duration_ms).unwrap_or_default(),
        segments: u64::from(end.segments),
        bytes: info.bytes,
        digest: Some(hex::encode(end.digest)),
        expires_at: recorder.expiry(&new.retention_class, end.end_unix_ms),
    };
    match recorder.inner.store.finish_recording(id, &finished).await {
        Ok(_) => {
            tracing::debug!(target: "herald::records", recording = %id, "recording records committed");
        }
        Err(error) => {
            tracing::error!(%error, recording = %id, "committing a finished recording failed");
        }
    }
}
