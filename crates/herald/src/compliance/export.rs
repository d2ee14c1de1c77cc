//! Opening a recording with a private key: the decrypted audio as a stereo WAV (in memory)
//! and what was sealed with it. Shared by `herald recordings export`, the API's audio
//! endpoint and data-subject export bundles. Nothing decrypted is written to disk here.

use anyhow::Context;
use herald_recorder::age::x25519::Identity;
use herald_recorder::{Record, open, unwrap_data_key};
use herald_store::{BlobStore, RecordingDetails, RecordingState, Store};

/// None of the identities given opens the recording (it was wrapped to other keys).
#[derive(Debug, thiserror::Error)]
#[error("no identity given opens recording {id} (its keys: {keys})")]
pub struct NoMatchingKey {
    pub id: String,
    pub keys: String,
}

/// A decrypted recording.
pub struct Decrypted {
    /// Stereo 16-bit PCM WAV: caller left, Herald/agent right.
    pub wav: Vec<u8>,
    /// The recording's metadata and its sealed records (gaps, evidence).
    pub metadata: serde_json::Value,
}

/// Decrypts recording `details` with one of `identities`. Refused once erased (its key no
/// longer exists) or when no identity opens any of its wrapped keys.
pub async fn decrypt(
    store: &Store,
    blobs: &BlobStore,
    details: &RecordingDetails,
    identities: &[Identity],
) -> anyhow::Result<Decrypted> {
    let r = &details.recording;
    if r.state == RecordingState::Erased {
        anyhow::bail!(
            "recording {} was erased ({}): its key no longer exists",
            r.id,
            r.erase_reason.as_deref().unwrap_or("-")
        );
    }
    let wrapped = store.wrapped_keys(&r.id).await?;
    let data_key = wrapped
        .iter()
        .flat_map(|(_, age_file)| identities.iter().map(move |i| unwrap_data_key(age_file, i)))
        .find_map(Result::ok)
        .ok_or_else(|| NoMatchingKey {
            id: r.id.clone(),
            keys: details.key_ids.join(", "),
        })?;
    let blob = blobs.read(&r.id).await?;
    let recording = open(&blob, &data_key).with_context(|| format!("decrypting {}", r.id))?;
    let pcm = recording.to_pcm_interleaved()?;
    let wav = wav_bytes(recording.header.sample_rate, &pcm)?;
    let records: Vec<serde_json::Value> = recording
        .records
        .iter()
        .filter_map(|record| match record {
            Record::Audio(_) => None,
            Record::GapBegin(g) => Some(serde_json::json!({"kind": "gap-begin", "position": g.position, "at": g.unix_ms, "reason": g.reason.name(), "actor": g.actor})),
            Record::GapEnd(g) => Some(serde_json::json!({"kind": "gap-end", "position": g.position, "at": g.unix_ms, "actor": g.actor})),
            Record::Evidence(e) => Some(serde_json::json!({"kind": "evidence", "prompt": e.prompt_id, "language": e.language, "played_at": e.played_unix_ms, "completed": e.completed, "choice": e.choice.name()})),
        })
        .collect();
    let metadata = serde_json::json!({
        "recording": details,
        "sealed": {
            "state": format!("{:?}", recording.state),
            "segments": recording.segments,
            "samples_per_channel": recording.samples_per_channel(),
            "records": records,
        },
    });
    Ok(Decrypted { wav, metadata })
}

/// Interleaved stereo 16-bit PCM as a WAV file's bytes.
pub fn wav_bytes(rate: u32, interleaved: &[i16]) -> anyhow::Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + interleaved.len() * 2));
    let mut wav = hound::WavWriter::new(&mut out, spec)?;
    for &sample in interleaved {
        wav.write_sample(sample)?;
    }
    wav.finalize()?;
    Ok(out.into_inner())
}
