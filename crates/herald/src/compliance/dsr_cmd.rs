//! `herald dsr ...`: data-subject requests from the command line, the same operations as the
//! HTTP API (and audited the same way, with the operator's name from `--by`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use herald_store::{DsrKind, DsrRequest};

use super::audit::{Audit, Auditor};
use super::dsr::{DsrService, Filing, FilingError, SubjectSelector};
use crate::recorder::cli::{Env, say, time};

#[derive(Args, Debug)]
pub struct SubjectArgs {
    /// A phone number (normalised to E.164).
    #[arg(long, group = "subject")]
    phone: Option<String>,
    /// An e-mail address.
    #[arg(long, group = "subject")]
    email: Option<String>,
    /// A name.
    #[arg(long, group = "subject")]
    name: Option<String>,
}

impl SubjectArgs {
    fn selector(&self) -> SubjectSelector {
        SubjectSelector {
            phone: self.phone.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum DsrCommand {
    /// The calls and recordings of a data subject.
    Subjects {
        #[command(flatten)]
        subject: SubjectArgs,
        /// Who asks (for the audit log).
        #[arg(long, default_value = "cli")]
        by: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Files a request: export (to an age public key), update (rectify) or delete.
    Request {
        /// export, update or delete.
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        #[command(flatten)]
        subject: SubjectArgs,
        /// Export: the age public key (age1...) to encrypt the bundle to.
        #[arg(long)]
        recipient: Option<String>,
        /// Update: the corrected identifier.
        #[arg(long)]
        rectify: Option<String>,
        /// Why (e.g. the subject's ticket).
        #[arg(long)]
        reason: String,
        /// Who files it (for the audit log).
        #[arg(long, default_value = "cli")]
        by: String,
        /// Process it now instead of leaving it to the server's worker.
        #[arg(long)]
        wait: bool,
        /// With --wait: an age identity file that opens recordings (export with audio).
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// A request's state, deadline and result.
    Status {
        id: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Requests, newest first.
    List {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_dsr(command: DsrCommand) -> anyhow::Result<()> {
    crate::recorder::cli::block_on(async move {
        match command {
            DsrCommand::Subjects {
                subject,
                by,
                config,
                json,
            } => {
                let (env, service, auditor) = open(config, None).await?;
                let identifier = subject
                    .selector()
                    .identifier()
                    .map_err(anyhow::Error::msg)?;
                let target = service.subject_key().audit_ref(&identifier);
                audit(&auditor, &by, "subject-search", &target, env.now).await?;
                let calls = service.subject_calls(&identifier).await?;
                let recordings = env.store.recordings_of_calls(&calls).await?;
                if json {
                    say!(
                        "{}",
                        serde_json::json!({ "calls": calls, "recordings": recordings })
                    );
                } else {
                    say!("{} call(s), {} recording(s)", calls.len(), recordings.len());
                    for call in &calls {
                        say!("call {call}");
                    }
                    for r in &recordings {
                        say!("recording {} {} {}", r.id, r.state, time(r.started_at));
                    }
                }
                Ok(())
            }
            DsrCommand::Request {
                kind,
                subject,
                recipient,
                rectify,
                reason,
                by,
                wait,
                identity,
                config,
                json,
            } => {
                let kind = match kind.as_str() {
                    "export" => DsrKind::Export,
                    "update" => DsrKind::Update,
                    "delete" => DsrKind::Delete,
                    other => {
                        anyhow::bail!("unknown request type {other:?}: export, update or delete")
                    }
                };
                let (env, service, _) = open(config, identity).await?;
                let filing = Filing {
                    kind,
                    subject: subject.selector(),
                    recipient,
                    rectify,
                    reason,
                };
                let request =
                    service
                        .file(filing, (&by, "cli"), env.now)
                        .await
                        .map_err(|e| match e {
                            FilingError::Invalid(m) => anyhow::anyhow!(m),
                            FilingError::Failed(e) => e,
                        })?;
                let request = if wait {
                    service
                        .process_now(&request.id, std::time::Duration::from_secs(600))
                        .await?
                } else {
                    request
                };
                show(&request, json);
                Ok(())
            }
            DsrCommand::Status { id, config, json } => {
                let env = Env::read_only(config).await?;
                let request = env
                    .store
                    .dsr_request(&id)
                    .await?
                    .with_context(|| format!("no request {id}"))?;
                show(&request, json);
                Ok(())
            }
            DsrCommand::List { config, json } => {
                let env = Env::read_only(config).await?;
                for request in env.store.dsr_requests(None, 1000).await? {
                    show(&request, json);
                }
                Ok(())
            }
        }
    })
}

async fn open(
    config: Option<PathBuf>,
    identity: Option<PathBuf>,
) -> anyhow::Result<(Env, DsrService, Auditor)> {
    let env = Env::writable(config).await?;
    let key = Arc::new(crate::recorder::keys::load_or_create_node_key(
        &env.config.recorder.node_key,
    )?);
    crate::recorder::keys::register_node_key(&env.store, &key, env.now).await?;
    let auditor = Auditor::new(env.store.clone(), key);
    let identities = identity
        .as_deref()
        .map(crate::recorder::cli::read_identities)
        .transpose()?;
    let service = DsrService::new(
        env.store.clone(),
        env.blobs.clone(),
        &env.config,
        identities,
        auditor.clone(),
    )?;
    Ok((env, service, auditor))
}

async fn audit(
    auditor: &Auditor,
    by: &str,
    action: &str,
    target: &str,
    at: i64,
) -> anyhow::Result<()> {
    auditor
        .record(
            Audit {
                actor: by,
                role: "cli",
                action,
                target,
                purpose: None,
                outcome: "allowed",
                detail: serde_json::json!({}),
            },
            at,
        )
        .await?;
    Ok(())
}

fn show(request: &DsrRequest, json: bool) {
    if json {
        match serde_json::to_string(request) {
            Ok(text) => say!("{text}"),
            Err(error) => say!("{error}"),
        }
        return;
    }
    say!(
        "{} {} {} filed {} deadline {}{}",
        request.id,
        request.kind.as_str(),
        request.state.as_str(),
        time(request.created_at),
        time(request.deadline_at),
        request
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    if let Some(result) = &request.result {
        say!("  {result}");
    }
}
