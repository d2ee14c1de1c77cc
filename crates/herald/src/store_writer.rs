//! The call-record writer: store writes off the signalling path, batched into transactions.

use std::collections::HashMap;
use std::time::Duration;

use herald_store::{CallWrite, Store};
use tokio::sync::mpsc;

/// Store writes, off the signalling path, in order. Call-record writes are drained in
/// batches of up to [`MAX_BATCH`] and committed in one transaction each.
enum StoreOp {
    Call(CallWrite),
    Bindings {
        aor: String,
        bindings: Vec<herald_store::Binding>,
    },
    /// A keyed hash of an identifier of the call's caller, for the subject index.
    Subject {
        kind: herald_store::SubjectKind,
        hash: String,
        call_id: String,
        at: i64,
    },
}

const MAX_BATCH: usize = 1024;

/// How long the writer gathers writes before committing them: records trail the calls by at
/// most this much, and a busy server commits a few dozen transactions per second instead of
/// one per call.
const BATCH_WINDOW: Duration = Duration::from_millis(20);

#[derive(Clone)]
pub struct StoreWriter(mpsc::UnboundedSender<StoreOp>);

impl StoreWriter {
    /// Starts the writer task; the handle completes once every queued write is committed
    /// after the last sender is dropped.
    pub fn spawn(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<StoreOp>();
        let task = tokio::spawn(async move {
            let mut calls = Vec::with_capacity(MAX_BATCH);
            // Only the newest binding set of an AOR matters.
            let mut registrations: HashMap<String, Vec<herald_store::Binding>> = HashMap::new();
            let mut subjects = Vec::new();
            while let Some(first) = rx.recv().await {
                let window = tokio::time::Instant::now() + BATCH_WINDOW;
                let mut next = Some(first);
                while let Some(op) = next.take() {
                    match op {
                        StoreOp::Call(w) => calls.push(w),
                        StoreOp::Bindings { aor, bindings } => {
                            registrations.insert(aor, bindings);
                        }
                        subject @ StoreOp::Subject { .. } => subjects.push(subject),
                    }
                    if calls.len() + registrations.len() < MAX_BATCH {
                        // Ok(None): every sender is gone (shutdown): commit what we have.
                        next = tokio::time::timeout_at(window, rx.recv())
                            .await
                            .ok()
                            .flatten();
                    }
                }
                flush(&store, &mut calls, &mut registrations).await;
                link_subjects(&store, &mut subjects).await;
            }
        });
        (Self(tx), task)
    }

    pub fn call(&self, write: CallWrite) {
        let _ = self.0.send(StoreOp::Call(write));
    }

    pub fn event(&self, id: &str, at: i64, kind: &str, detail: serde_json::Value) {
        self.call(CallWrite::Event {
            call_id: id.to_owned(),
            at,
            kind: kind.to_owned(),
            detail,
        });
    }

    pub fn bindings(&self, aor: String, bindings: Vec<herald_store::Binding>) {
        let _ = self.0.send(StoreOp::Bindings { aor, bindings });
    }

    pub fn subject(&self, kind: herald_store::SubjectKind, hash: String, call_id: &str, at: i64) {
        let _ = self.0.send(StoreOp::Subject {
            kind,
            hash,
            call_id: call_id.to_owned(),
            at,
        });
    }
}

async fn link_subjects(store: &Store, subjects: &mut Vec<StoreOp>) {
    for op in subjects.drain(..) {
        if let StoreOp::Subject {
            kind,
            hash,
            call_id,
            at,
        } = op
            && let Err(e) = store.link_subject(kind, &hash, &call_id, at).await
        {
            tracing::warn!(error = %e, "indexing a call's subject failed");
        }
    }
}

async fn flush(
    store: &Store,
    calls: &mut Vec<CallWrite>,
    registrations: &mut HashMap<String, Vec<herald_store::Binding>>,
) {
    if !calls.is_empty() {
        let outcome = store.apply_call_writes(calls).await;
        for (_, e) in &outcome.failed {
            tracing::warn!(error = %e, "call record write failed");
        }
        tracing::debug!(target: "herald::records", writes = calls.len(), "call records committed");
        calls.clear();
    }
    if !registrations.is_empty() {
        let sets: Vec<_> = registrations.drain().collect();
        if let Err(e) = store.replace_binding_sets(&sets).await {
            tracing::warn!(error = %e, "saving registrations failed");
        }
    }
}
