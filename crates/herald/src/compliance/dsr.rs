//! Data-subject requests (GDPR Art. 15-17): a request is filed (API or `herald dsr request`)
//! against one identifier, answered asynchronously by a worker with a status, a result and a
//! deadline (one month by default), and audited at filing and at completion.
//!
//! - **export**: every call of the subject (record, events, the IVR transcript) and every
//!   recording (metadata, and the audio as WAV when this deployment holds a private recorder
//!   key) in a tar archive encrypted with `age` to the public key the request names. Only the
//!   encrypted bundle touches the disk.
//! - **update**: rectifies the identifier: a corrected phone number replaces the caller of
//!   the subject's calls and recordings; the index follows.
//! - **delete**: crypto-shreds every recording and anonymises every call record, or nothing at
//!   all: a recording under legal hold, in a retention class with a legal obligation, or still
//!   being recorded refuses the whole request, with the reasons.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use herald_recorder::age::x25519::Identity;
use herald_store::{
    BlobStore, DsrKind, DsrRequest, DsrState, NewDsrRequest, RecordingRecord, RecordingState,
    Store, SubjectKind,
};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use super::audit::{Audit, Auditor};
use super::subjects::{Identifier, SubjectKey};
use crate::config::{DsrConfig, RetentionConfig};

/// One identifier naming the data subject: exactly one of the three.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubjectSelector {
    /// A phone number, normalised to E.164 (`+49 30 1234567`, `0049301234567`).
    pub phone: Option<String>,
    /// An e-mail address.
    pub email: Option<String>,
    /// A name.
    pub name: Option<String>,
}

impl SubjectSelector {
    /// The one identifier, normalised.
    pub fn identifier(&self) -> Result<Identifier, String> {
        let given: Vec<(SubjectKind, &String)> = [
            (SubjectKind::Phone, &self.phone),
            (SubjectKind::Email, &self.email),
            (SubjectKind::Name, &self.name),
        ]
        .into_iter()
        .filter_map(|(kind, value)| value.as_ref().map(|v| (kind, v)))
        .collect();
        match given.as_slice() {
            [(kind, value)] => {
                Identifier::new(*kind, value).map_err(|e| format!("`{}`: {e}", kind.as_str()))
            }
            [] => Err("name the subject by exactly one of `phone`, `email`, `name`".to_owned()),
            _ => Err(
                "name the subject by exactly one of `phone`, `email`, `name`, not several"
                    .to_owned(),
            ),
        }
    }
}

/// A request as filed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filing {
    /// `export`, `update` or `delete`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: DsrKind,
    pub subject: SubjectSelector,
    /// Export: the age public key (`age1...`) the bundle is encrypted to.
    pub recipient: Option<String>,
    /// Update: the corrected identifier, of the same kind as the subject's.
    pub rectify: Option<String>,
    /// Why (e.g. the ticket of the subject's request).
    pub reason: String,
}

/// Why a request could not be filed.
#[derive(Debug, thiserror::Error)]
pub enum FilingError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// What processes requests. Cheap to clone.
#[derive(Clone)]
pub struct DsrService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    blobs: BlobStore,
    key: Arc<SubjectKey>,
    config: DsrConfig,
    retention: RetentionConfig,
    /// Private recorder keys, on a deployment that has them: export bundles carry audio.
    identities: Option<Vec<Identity>>,
    auditor: Auditor,
    wake: tokio::sync::Notify,
}

/// Processing as the audit log names it.
const WORKER: &str = "dsr-worker";

/// How long a request may run before it is presumed abandoned (its worker stopped).
const LEASE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

impl DsrService {
    pub fn new(
        store: Store,
        blobs: BlobStore,
        config: &crate::config::Config,
        identities: Option<Vec<Identity>>,
        auditor: Auditor,
    ) -> anyhow::Result<Self> {
        let key = Arc::new(SubjectKey::load_or_create(&config.dsr.subject_key)?);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                blobs,
                key,
                config: config.dsr.clone(),
                retention: config.retention.clone(),
                identities,
                auditor,
                wake: tokio::sync::Notify::new(),
            }),
        })
    }

    pub fn subject_key(&self) -> &Arc<SubjectKey> {
        &self.inner.key
    }

    /// The calls (ids, oldest first) the identifier is linked to.
    pub async fn subject_calls(&self, identifier: &Identifier) -> anyhow::Result<Vec<String>> {
        let hash = self.inner.key.hash(identifier);
        Ok(self
            .inner
            .store
            .subject_calls(identifier.kind, &hash)
            .await?)
    }

    /// Files a request (pending); the worker takes it from there.
    pub async fn file(
        &self,
        filing: Filing,
        (actor, role): (&str, &str),
        now: i64,
    ) -> Result<DsrRequest, FilingError> {
        let identifier = filing.subject.identifier().map_err(FilingError::Invalid)?;
        if identifier.kind == SubjectKind::Name {
            return Err(FilingError::Invalid(
                "a name is not unique to one person: file requests by `phone` or `email` \
                 (GET /api/v1/subjects?name=... finds the calls first)"
                    .to_owned(),
            ));
        }
        let reason =
            super::free_text("reason", &filing.reason, 500).map_err(FilingError::Invalid)?;
        let reason = reason.as_str();
        let parameters = self.parameters(&filing, &identifier)?;
        let id = new_id()?;
        let request = NewDsrRequest {
            id: id.clone(),
            kind: filing.kind,
            subject_kind: identifier.kind,
            subject_hash: self.inner.key.hash(&identifier),
            parameters,
            requested_by: actor.to_owned(),
            reason: reason.to_owned(),
            created_at: now,
            deadline_at: self.inner.config.deadline.expiry(now),
        };
        self.inner
            .auditor
            .record(
                Audit {
                    actor,
                    role,
                    action: "dsr-file",
                    target: &id,
                    purpose: Some(reason),
                    outcome: "accepted",
                    detail: serde_json::json!({ "type": filing.kind.as_str(), "subject_kind": identifier.kind.as_str() }),
                },
                now,
            )
            .await?;
        self.inner
            .store
            .insert_dsr_request(&request)
            .await
            .context("filing the request")?;
        self.inner.wake.notify_one();
        let stored = self
            .inner
            .store
            .dsr_request(&id)
            .await
            .context("reading the request")?;
        stored.ok_or_else(|| FilingError::Failed(anyhow::anyhow!("request {id} vanished")))
    }

    /// What the worker needs besides the subject; checked now so a bad request never queues.
    fn parameters(
        &self,
        filing: &Filing,
        subject: &Identifier,
    ) -> Result<serde_json::Value, FilingError> {
        let invalid = |m: &str| Err(FilingError::Invalid(m.to_owned()));
        match filing.kind {
            DsrKind::Export => {
                if filing.rectify.is_some() {
                    return invalid("`rectify` belongs to update requests");
                }
                let Some(recipient) = &filing.recipient else {
                    return invalid(
                        "an export needs `recipient`, the age public key (age1...) to encrypt the bundle to",
                    );
                };
                herald_recorder::RecipientKey::parse(recipient.trim())
                    .map_err(|e| FilingError::Invalid(format!("`recipient`: {e}")))?;
                Ok(serde_json::json!({ "recipient": recipient.trim() }))
            }
            DsrKind::Update => {
                if filing.recipient.is_some() {
                    return invalid("`recipient` belongs to export requests");
                }
                let Some(rectify) = &filing.rectify else {
                    return invalid("an update needs `rectify`, the corrected identifier");
                };
                let corrected = Identifier::new(subject.kind, rectify)
                    .map_err(|e| FilingError::Invalid(format!("`rectify`: {e}")))?;
                if corrected == *subject {
                    return invalid("`rectify` is the same identifier as the subject's");
                }
                // Personal data: kept only until the request is processed.
                Ok(serde_json::json!({ "from": subject.value(), "to": corrected.value() }))
            }
            DsrKind::Delete => {
                if filing.recipient.is_some() || filing.rectify.is_some() {
                    return invalid("a delete request takes neither `recipient` nor `rectify`");
                }
                Ok(serde_json::json!({}))
            }
        }
    }

    /// Runs until the process ends: takes pending requests as they are filed (or every
    /// `dsr.worker_interval`, for requests filed by other nodes or the command line). A
    /// request running for longer than [`LEASE`] was left by a stopped worker (on any node)
    /// and is pending again.
    pub async fn run_worker(self) {
        loop {
            let stale = crate::serve::unix_ms_now() - LEASE.as_millis() as i64;
            match self.inner.store.requeue_stale_dsr(stale).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    requests = n,
                    "data-subject requests left by a stopped worker are pending again"
                ),
                Err(error) => {
                    tracing::warn!(%error, "requeueing stale data-subject requests failed")
                }
            }
            match self.process_pending().await {
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "processing data-subject requests failed")
                }
            }
            let _ = tokio::time::timeout(
                self.inner.config.worker_interval,
                self.inner.wake.notified(),
            )
            .await;
        }
    }

    /// Processes every pending request; returns how many.
    pub async fn process_pending(&self) -> anyhow::Result<usize> {
        let mut done = 0;
        while let Some(request) = self
            .inner
            .store
            .claim_dsr_request_of(crate::serve::unix_ms_now(), self.inner.config.exports)
            .await?
        {
            self.process(&request).await?;
            done += 1;
        }
        Ok(done)
    }

    /// Processes request `id` now if no worker has taken it, else waits (polling the
    /// database, at most `limit`) until whoever took it has finished; returns it as it ends.
    pub async fn process_now(
        &self,
        id: &str,
        limit: std::time::Duration,
    ) -> anyhow::Result<DsrRequest> {
        let store = &self.inner.store;
        if let Some(request) = store
            .claim_dsr_request_id(id, crate::serve::unix_ms_now())
            .await?
        {
            self.process(&request).await?;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let request = store
                .dsr_request(id)
                .await?
                .with_context(|| format!("no request {id}"))?;
            if request.state.is_final() {
                return Ok(request);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "request {id} is still {} (another node is processing it)",
                request.state.as_str()
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    async fn process(&self, request: &DsrRequest) -> anyhow::Result<()> {
        // On record before anything is read or erased.
        self.inner
            .auditor
            .record(
                Audit {
                    actor: WORKER,
                    role: "system",
                    action: "dsr-process",
                    target: &request.id,
                    purpose: Some(&request.reason),
                    outcome: "started",
                    detail: serde_json::json!({ "type": request.kind.as_str() }),
                },
                crate::serve::unix_ms_now(),
            )
            .await?;
        let outcome = match request.kind {
            DsrKind::Export => self.export(request).await,
            DsrKind::Update => self.update(request).await,
            DsrKind::Delete => self.delete(request).await,
        };
        let now = crate::serve::unix_ms_now();
        let (state, result, error) = match outcome {
            Ok(Outcome::Done(result)) => (DsrState::Done, Some(result), None),
            Ok(Outcome::Refused(reason)) => (DsrState::Refused, None, Some(reason)),
            Err(error) => {
                tracing::warn!(request = %request.id, error = %format!("{error:#}"), "a data-subject request failed");
                (DsrState::Failed, None, Some(format!("{error:#}")))
            }
        };
        self.inner
            .auditor
            .record(
                Audit {
                    actor: WORKER,
                    role: "system",
                    action: match request.kind {
                        DsrKind::Export => "dsr-export",
                        DsrKind::Update => "dsr-update",
                        DsrKind::Delete => "dsr-delete",
                    },
                    target: &request.id,
                    purpose: Some(&request.reason),
                    outcome: state.as_str(),
                    detail: serde_json::json!({ "result": result, "error": error }),
                },
                now,
            )
            .await?;
        self.inner
            .store
            .finish_dsr_request(
                &request.id,
                state,
                result.as_ref(),
                error.as_deref(),
                now,
                true,
            )
            .await?;
        tracing::info!(request = %request.id, kind = request.kind.as_str(), state = state.as_str(), "data-subject request finished");
        Ok(())
    }

    async fn subject_of(
        &self,
        request: &DsrRequest,
    ) -> anyhow::Result<(Vec<String>, Vec<RecordingRecord>)> {
        let store = &self.inner.store;
        let calls = store
            .subject_calls(request.subject_kind, &request.subject_hash)
            .await?;
        let recordings = store.recordings_of_calls(&calls).await?;
        Ok((calls, recordings))
    }

    async fn export(&self, request: &DsrRequest) -> anyhow::Result<Outcome> {
        let recipient = request
            .parameters
            .get("recipient")
            .and_then(|r| r.as_str())
            .context("the request lost its recipient")?;
        let recipient: herald_recorder::age::x25519::Recipient = recipient
            .parse()
            .map_err(|e| anyhow::anyhow!("the recipient key: {e}"))?;
        let (calls, recordings) = self.subject_of(request).await?;
        let needs_key = recordings.iter().any(|r| r.state != RecordingState::Erased);
        if needs_key && self.inner.identities.is_none() {
            return Ok(Outcome::Refused(
                "the subject has recordings, and this deployment holds no private recorder key \
                 (api.recording_identity) to put their audio in the bundle; process the \
                 request on the compliance deployment"
                    .to_owned(),
            ));
        }
        let mut bundle = Bundle::default();
        self.bundle_calls(&mut bundle, &calls).await?;
        self.bundle_recordings(&mut bundle, &recordings).await?;
        let manifest = serde_json::json!({
            "request": request.id,
            "created_at": request.created_at,
            "calls": calls.len(),
            "recordings": recordings.len(),
            "files": bundle.files,
        });
        bundle.add("manifest.json", &serde_json::to_vec_pretty(&manifest)?)?;
        let tar = zeroize::Zeroizing::new(bundle.archive.into_inner()?);
        let sealed = encrypt_to(&recipient, &tar)?;
        let path = self.write_bundle(&request.id, &sealed)?;
        Ok(Outcome::Done(serde_json::json!({
            "bundle": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "bytes": sealed.len(),
            "calls": calls.len(),
            "recordings": recordings.len(),
        })))
    }

    /// Each call's record with its events, and the transcript of the caller's IVR choices.
    async fn bundle_calls(&self, bundle: &mut Bundle, calls: &[String]) -> anyhow::Result<()> {
        for id in calls {
            let Some(call) = self.inner.store.call(id).await? else {
                continue;
            };
            let transcript: Vec<&herald_store::CallEvent> = call
                .events
                .iter()
                .filter(|e| is_ivr_choice(&e.kind))
                .collect();
            bundle.add(
                &format!("calls/{id}.json"),
                &serde_json::to_vec_pretty(&call)?,
            )?;
            bundle.add(
                &format!("calls/{id}.transcript.json"),
                &serde_json::to_vec_pretty(&transcript)?,
            )?;
        }
        Ok(())
    }

    /// Each recording's metadata, and its audio unless it was erased.
    async fn bundle_recordings(
        &self,
        bundle: &mut Bundle,
        recordings: &[RecordingRecord],
    ) -> anyhow::Result<()> {
        for recording in recordings {
            let Some(details) = self.inner.store.recording(&recording.id).await? else {
                continue;
            };
            let json = format!("recordings/{}.json", recording.id);
            match &self.inner.identities {
                Some(identities) if recording.state != RecordingState::Erased => {
                    let (store, blobs) = (&self.inner.store, &self.inner.blobs);
                    let decrypted =
                        super::export::decrypt(store, blobs, &details, identities).await?;
                    let wav = format!("recordings/{}.wav", recording.id);
                    bundle.add(&wav, &decrypted.wav)?;
                    bundle.add(&json, &serde_json::to_vec_pretty(&decrypted.metadata)?)?;
                }
                _ => bundle.add(&json, &serde_json::to_vec_pretty(&details)?)?,
            }
        }
        Ok(())
    }

    /// Writes request `id`'s sealed bundle aside, then moves it into place: a re-run replaces
    /// an earlier bundle whole.
    fn write_bundle(&self, id: &str, sealed: &[u8]) -> anyhow::Result<PathBuf> {
        let path = self.bundle_path(id)?;
        std::fs::create_dir_all(&self.inner.config.bundles)
            .with_context(|| format!("creating {}", self.inner.config.bundles.display()))?;
        let partial = path.with_extension("age.partial");
        let _ = std::fs::remove_file(&partial);
        crate::recorder::keys::write_private(&partial, sealed)?;
        std::fs::rename(&partial, &path)
            .with_context(|| format!("moving the bundle to {}", path.display()))?;
        Ok(path)
    }

    /// Where request `id`'s export bundle is (`id` is one of ours: checked characters).
    pub fn bundle_path(&self, id: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "not a request id"
        );
        Ok(self.inner.config.bundles.join(format!("{id}.tar.age")))
    }

    async fn update(&self, request: &DsrRequest) -> anyhow::Result<Outcome> {
        let text = |k: &str| {
            request
                .parameters
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .context("the request lost its rectification")
        };
        let (from, to) = (text("from")?, text("to")?);
        let store = &self.inner.store;
        let (calls, _) = self.subject_of(request).await?;
        let mut changed = 0;
        if request.subject_kind == SubjectKind::Phone {
            for id in &calls {
                if let Some(call) = store.call(id).await? {
                    let current = call.call.caller.clone();
                    let matches =
                        super::subjects::normalize_phone(&current).is_ok_and(|n| n == from);
                    if matches {
                        changed += store.rectify_caller(id, &current, &to).await?;
                    }
                }
            }
        }
        let corrected =
            Identifier::new(request.subject_kind, &to).map_err(|e| anyhow::anyhow!(e))?;
        let relinked = store
            .relink_subject(
                request.subject_kind,
                &request.subject_hash,
                &self.inner.key.hash(&corrected),
            )
            .await?;
        Ok(Outcome::Done(serde_json::json!({
            "calls": calls.len(),
            "records_rectified": changed,
            "index_entries": relinked,
        })))
    }

    async fn delete(&self, request: &DsrRequest) -> anyhow::Result<Outcome> {
        let store = &self.inner.store;
        let (calls, recordings) = self.subject_of(request).await?;
        // A call still ringing or answered may start a recording after the erasure. One that
        // started more than a day ago was cut by a crash and never closed: it cannot.
        let recent = crate::serve::unix_ms_now() - 86_400_000;
        let mut live = Vec::new();
        for id in &calls {
            let in_progress = store.call(id).await?.is_some_and(|c| {
                matches!(
                    c.call.state,
                    herald_store::CallState::Ringing | herald_store::CallState::Answered
                ) && c.call.started_at > recent
            });
            if in_progress {
                live.push(format!("call {id} is still in progress"));
            }
        }
        if !live.is_empty() {
            return Ok(Outcome::Refused(format!(
                "nothing was erased: {}",
                live.join("; ")
            )));
        }
        let protected: Vec<String> = self
            .inner
            .retention
            .classes
            .iter()
            .filter(|(_, class)| class.legal_obligation)
            .map(|(name, _)| name.clone())
            .collect();
        let ids: Vec<String> = recordings.iter().map(|r| r.id.clone()).collect();
        let by = format!("dsr:{}", request.id);
        let when = (
            crate::serve::unix_ms_now(),
            by.as_str(),
            "data-subject erasure request",
        );
        let erased = match store.erase_subject(&ids, &calls, when, &protected).await {
            Ok(erased) => erased,
            Err(refusal @ herald_store::StoreError::ErasureRefused(_)) => {
                return Ok(Outcome::Refused(refusal.to_string()));
            }
            Err(error) => return Err(error.into()),
        };
        for id in &erased.recordings_erased {
            if let Err(error) = self.inner.blobs.delete(id).await {
                tracing::warn!(recording = %id, %error, "the key is destroyed, but deleting the blob failed");
            }
        }
        Ok(Outcome::Done(serde_json::json!({
            "recordings_erased": erased.recordings_erased,
            "calls_anonymized": erased.calls_anonymized,
        })))
    }
}

enum Outcome {
    Done(serde_json::Value),
    Refused(String),
}

/// The call events that make up the transcript of the caller's IVR choices (never digits:
/// the call record holds none).
fn is_ivr_choice(kind: &str) -> bool {
    // The IVR path (`ivr-input`, `ivr-menu-choice`, `ivr-consent`, `ivr-language`,
    // `ivr-transfer-result`, `ivr-exit`, ...) and what was decided about recording.
    kind.starts_with("ivr-")
        || matches!(
            kind,
            "disclosure-played" | "recording" | "recording-decision"
        )
}

/// An export bundle being built: a tar archive in memory and the names it holds.
struct Bundle {
    archive: tar::Builder<Vec<u8>>,
    files: Vec<String>,
}

impl Default for Bundle {
    fn default() -> Self {
        Self {
            archive: tar::Builder::new(Vec::new()),
            files: Vec::new(),
        }
    }
}

impl Bundle {
    fn add(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        self.archive.append_data(&mut header, name, bytes)?;
        self.files.push(name.to_owned());
        Ok(())
    }
}

fn encrypt_to(
    recipient: &herald_recorder::age::x25519::Recipient,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let encryptor = herald_recorder::age::Encryptor::with_recipients(std::iter::once(
        recipient as &dyn herald_recorder::age::Recipient,
    ))
    .map_err(|e| anyhow::anyhow!("age: {e}"))?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut writer = encryptor.wrap_output(&mut out)?;
    writer.write_all(plaintext)?;
    writer.finish()?;
    Ok(out)
}

/// `dsr-` and 16 random hex digits.
fn new_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .context("the OS random number generator failed")?;
    Ok(format!("dsr-{}", hex::encode(bytes)))
}
