//! The recorder's I/O shell: keys, blob storage, per-recording storage tasks, crash recovery
//! and retention.
//!
//! A recording starts when the call application decides it may ([`Recorder::begin`]): a
//! fresh data key is drawn from the operating system's CSPRNG, wrapped to every recipient
//! public key (`age` X25519; the host keeps no private key), and handed, inside a
//! [`RecordingWriter`](herald_recorder::RecordingWriter), to the media worker that serves the
//! call's stream ([`tap::RecordingTap`]). The worker encrypts as it captures and sends sealed
//! bytes to the recording's storage task (`storage`), which inserts the metadata row with the
//! wrapped keys first, then streams the blob and finally commits the recording's end, expiry
//! and digest. The data key itself is dropped (and zeroized) once the writer holds the
//! derived segment key.
//!
//! At start-up [`recovery`] closes what a crash left open; [`sweep`] applies retention.

pub mod cli;
pub mod keys;
pub mod keys_cmd;
pub mod recordings_cmd;
pub mod recovery;
pub mod retention_cmd;
mod storage;
pub mod sweep;
pub mod tap;

use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Context;
use herald_recorder::{
    ChannelRole, Codec, DataKey, Evidence, Header, NodeSigningKey, RecipientKey, RecordingId,
    RecordingWriter, WriterConfig, wrap_data_key,
};
use herald_store::{BlobStore, NewRecording, S3Options, SecretAccessKey, Store};
use rand::TryRngCore;

use crate::config::{Config, RecorderConfig, RecordingCodec, RecordingsStore, RetentionConfig};
use tap::RecordingTap;

/// What the call application knows when a recording starts.
#[derive(Debug, Clone)]
pub struct Begin {
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// The route's retention class; `None`: the configured default.
    pub retention_class: Option<String>,
    /// `accepted`, `policy-always`, ...
    pub consent: String,
    /// Disclosure evidence gathered before recording started.
    pub evidence: Vec<Evidence>,
    /// A pause in force as the recording starts (secure input under way).
    pub paused: Option<tap::Mark>,
}

/// The recorder: shared by the call application, the storage tasks and the sweeper.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    blobs: BlobStore,
    node_key: Arc<NodeSigningKey>,
    /// Active recipient keys: the database's (refreshed) and the configuration's.
    recipients: RwLock<Vec<RecipientKey>>,
    config: RecorderConfig,
    retention: RetentionConfig,
    /// The media streams' largest playout delay.
    jitter_max: std::time::Duration,
    /// Every storage task holds a clone; [`Recorder::drain`] waits for all to be dropped.
    alive: std::sync::Mutex<Option<tokio::sync::mpsc::Sender<()>>>,
    gone: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<()>>,
}

impl Recorder {
    /// Opens the blob store and loads the node key (created on first use) and the recipient
    /// keys. `generate_default_key`: with no recipient at all, create a key pair in the data
    /// directory (what `herald serve` on the embedded defaults does, with a loud warning).
    pub async fn open(
        config: &Config,
        store: Store,
        generate_default_key: bool,
    ) -> anyhow::Result<Recorder> {
        let blobs = open_blobs(config)?;
        let node_key = keys::load_or_create_node_key(&config.recorder.node_key)?;
        keys::register_node_key(&store, &node_key, crate::serve::unix_ms_now()).await?;
        let mut recipients = keys::recipients(&store, &config.recorder).await?;
        if recipients.is_empty() && config.recorder.enabled {
            if !generate_default_key {
                anyhow::bail!(
                    "recording is enabled but there is no recorder key to encrypt to: run \
                     `herald keys generate --out FILE --config ...` (and keep FILE offline), \
                     `herald keys add age1...`, or set recorder.recipients; or set \
                     recorder.enabled = false"
                );
            }
            recipients.push(keys::generate_default_recipient(config, &store).await?);
        }
        let (alive, gone) = tokio::sync::mpsc::channel(1);
        Ok(Recorder {
            inner: Arc::new(Inner {
                alive: std::sync::Mutex::new(Some(alive)),
                gone: tokio::sync::Mutex::new(gone),
                store,
                blobs,
                node_key: Arc::new(node_key),
                recipients: RwLock::new(recipients),
                config: config.recorder.clone(),
                retention: config.retention.clone(),
                jitter_max: config.media.jitter_max,
            }),
        })
    }

    /// This node's signing key (also what the audit log's head is signed with).
    pub fn node_key(&self) -> Arc<NodeSigningKey> {
        self.inner.node_key.clone()
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Re-reads the recipient keys from the database (after `herald keys rotate`).
    pub async fn refresh_recipients(&self) -> anyhow::Result<()> {
        let keys = keys::recipients(&self.inner.store, &self.inner.config).await?;
        if keys.is_empty() {
            anyhow::bail!("no active recorder key: keeping the previous ones");
        }
        if let Ok(mut recipients) = self.inner.recipients.write() {
            *recipients = keys;
        }
        Ok(())
    }

    /// Starts a recording whose timeline begins at `now` (`unix_ms` on the wall clock): the
    /// tap for the call's media worker, and the recording's id. The storage task runs on the
    /// current tokio runtime.
    pub fn begin(
        &self,
        now: Instant,
        unix_ms: i64,
        request: Begin,
    ) -> anyhow::Result<(String, Box<RecordingTap>)> {
        let inner = &self.inner;
        let recipients = inner
            .recipients
            .read()
            .map(|r| r.clone())
            .unwrap_or_default();
        if recipients.is_empty() {
            anyhow::bail!("no recorder key to encrypt to (herald keys generate)");
        }
        let mut rng = rand::rngs::OsRng.unwrap_err();
        let id = RecordingId::random(&mut rng);
        let data_key = DataKey::generate(&mut rng);
        let wrapped = wrap_data_key(&data_key, &recipients).context("wrapping the data key")?;
        let header = Header {
            id,
            codec: match inner.config.codec {
                RecordingCodec::Pcma => Codec::Pcma,
                RecordingCodec::Pcmu => Codec::Pcmu,
            },
            sample_rate: 8_000,
            channels: vec![ChannelRole::Caller, ChannelRole::Herald],
            start_unix_ms: u64::try_from(unix_ms).unwrap_or_default(),
            recipients: recipients.iter().map(RecipientKey::id).collect(),
            node_key: inner.node_key.id(),
        };
        let config = WriterConfig {
            segment_duration: inner.config.segment,
            ..WriterConfig::default()
        };
        let mut writer = RecordingWriter::new(header, &data_key, config)?;
        drop(data_key);
        let id = id.to_string();
        let consent = request.consent.clone();
        for evidence in &request.evidence {
            writer.evidence(now, evidence)?;
        }
        let retention_class = request
            .retention_class
            .unwrap_or_else(|| inner.config.default_retention.clone());
        let new = NewRecording {
            id: id.clone(),
            call_id: Some(request.call_id),
            caller: request.caller,
            callee: request.callee,
            blob: inner.blobs.location(&id)?,
            codec: inner.config.codec.to_string(),
            sample_rate: 8_000,
            channels: "caller,herald".to_owned(),
            started_at: unix_ms,
            consent,
            retention_class,
            node_key: Some(inner.node_key.id().to_string()),
            wrapped_keys: wrapped
                .into_iter()
                .map(|w| (w.recipient.to_string(), w.age_file))
                .collect(),
        };
        let (sink, chunks) = tokio::sync::mpsc::channel(tap::QUEUE);
        let alive = inner.alive.lock().ok().and_then(|a| a.clone());
        let Some(alive) = alive else {
            anyhow::bail!("the recorder is shutting down");
        };
        tokio::spawn(storage::run(
            self.clone(),
            new,
            request.evidence,
            chunks,
            alive,
        ));
        let tap = RecordingTap::new(
            writer,
            sink,
            self.inner.node_key.clone(),
            (now, unix_ms),
            inner.jitter_max,
            request.paused,
        );
        Ok((id, Box::new(tap)))
    }

    /// Waits until every storage task has committed its recording; no recording starts after.
    pub async fn drain(&self) {
        if let Ok(mut alive) = self.inner.alive.lock() {
            alive.take();
        }
        let mut gone = self.inner.gone.lock().await;
        // Only `None` comes: nobody sends, every sender is dropped by its task at the end.
        let _ = gone.recv().await;
    }

    /// When a recording of `class` that ended at `ended_at` expires; an unknown class keeps
    /// it (no expiry) and says so.
    fn expiry(&self, class: &str, ended_at: i64) -> Option<i64> {
        match self.inner.retention.classes.get(class) {
            Some(class) => Some(class.keep.expiry(ended_at)),
            None => {
                tracing::warn!(
                    class,
                    "unknown retention class: the recording does not expire"
                );
                None
            }
        }
    }
}

/// The blob store the configuration names.
pub fn open_blobs(config: &Config) -> anyhow::Result<BlobStore> {
    let s3 = &config.storage.s3;
    let options = S3Options {
        endpoint: s3.endpoint.clone(),
        region: s3.region.clone(),
        access_key_id: s3.access_key_id.clone(),
        secret_access_key: s3
            .secret_access_key
            .as_ref()
            .map(|secret| SecretAccessKey::new(secret.expose().to_owned())),
        allow_http: s3.allow_http,
        spool_dir: s3.spool.clone(),
    };
    let location = config.storage.recordings.to_string();
    let with_s3 = matches!(config.storage.recordings, RecordingsStore::S3 { .. });
    BlobStore::open(&location, with_s3.then_some(&options))
        .with_context(|| format!("opening the recordings store {location}"))
}
