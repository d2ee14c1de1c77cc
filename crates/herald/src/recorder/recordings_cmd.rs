//! `herald recordings list / show / verify / export / erase / hold / release`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use herald_recorder::{NodePublicKey, Verdict, verify};
use herald_store::{EraseOutcome, RecordingDetails, RecordingFilter, RecordingState, Store};

use super::cli::{Env, parse_time, say, time};

#[derive(Subcommand, Debug)]
pub enum RecordingsCommand {
    /// Recordings, newest first.
    List {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only this state: recording, complete, interrupted, erased.
        #[arg(long)]
        state: Option<String>,
        /// Only this calling number or user.
        #[arg(long)]
        caller: Option<String>,
        /// Only this called number or user.
        #[arg(long)]
        callee: Option<String>,
        /// Only this retention class.
        #[arg(long)]
        class: Option<String>,
        /// Started at or after (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        from: Option<String>,
        /// Started before (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One recording (ID or a unique prefix) with its gaps, evidence and holds.
    Show {
        id: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Checks a recording's integrity without any decryption key: structure, segment count,
    /// digest, and the node's signature. Exits non-zero unless it is intact.
    Verify {
        id: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Decrypts a recording with a private key: writes ID.wav (stereo: caller left,
    /// Herald/agent right) and ID.json (metadata, gaps, evidence) into --out.
    Export {
        id: String,
        /// An `age` identity file (AGE-SECRET-KEY-1...) of a recorder key.
        #[arg(long, value_name = "KEYFILE")]
        identity: PathBuf,
        /// Directory to write into (created if missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Crypto-shreds a recording: its wrapped keys are destroyed (every copy of the blob
    /// becomes unreadable), the erasure is recorded, then the blob is deleted. Refused while
    /// a legal hold is in force.
    Erase {
        id: String,
        #[arg(long)]
        reason: String,
        /// Who erases (recorded).
        #[arg(long, default_value = "cli")]
        by: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Places a legal hold: the recording neither expires nor can be erased until every hold
    /// on it is released.
    Hold {
        id: String,
        /// The case reference.
        #[arg(long = "case")]
        case_ref: String,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        by: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Releases a legal hold (by the hold's id, as `show` lists it).
    Release {
        hold: String,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        by: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn run(command: RecordingsCommand) -> anyhow::Result<()> {
    super::cli::block_on(async move {
        match command {
            RecordingsCommand::List {
                config,
                limit,
                state,
                caller,
                callee,
                class,
                from,
                until,
                json,
            } => {
                let filter = RecordingFilter {
                    started_from: from.as_deref().map(parse_time).transpose()?,
                    started_before: until.as_deref().map(parse_time).transpose()?,
                    caller,
                    callee,
                    state: state.as_deref().map(parse_state).transpose()?,
                    retention_class: class,
                    limit,
                };
                list(&Env::read_only(config).await?, &filter, json).await
            }
            RecordingsCommand::Show { id, config, json } => {
                show(&Env::read_only(config).await?, &id, json).await
            }
            RecordingsCommand::Verify { id, config, json } => {
                verify_cmd(&Env::read_only(config).await?, &id, json).await
            }
            RecordingsCommand::Export {
                id,
                identity,
                out,
                config,
            } => export(&Env::read_only(config).await?, &id, &identity, &out).await,
            RecordingsCommand::Erase {
                id,
                reason,
                by,
                config,
            } => erase(&Env::writable(config).await?, &id, &by, &reason).await,
            RecordingsCommand::Hold {
                id,
                case_ref,
                reason,
                by,
                config,
            } => {
                let env = Env::writable(config).await?;
                let details = find(&env.store, &id).await?;
                let hold = env
                    .store
                    .place_hold(&details.recording.id, &case_ref, &reason, &by, env.now)
                    .await?;
                say!("hold {hold} placed on {}", details.recording.id);
                Ok(())
            }
            RecordingsCommand::Release {
                hold,
                reason,
                by,
                config,
            } => {
                let env = Env::writable(config).await?;
                env.store.release_hold(&hold, &by, &reason, env.now).await?;
                say!("hold {hold} released");
                Ok(())
            }
        }
    })
}

fn parse_state(text: &str) -> anyhow::Result<RecordingState> {
    RecordingState::ALL
        .into_iter()
        .find(|state| state.as_str() == text)
        .with_context(|| {
            format!("unknown state {text:?}: recording, complete, interrupted or erased")
        })
}

async fn find(store: &Store, id: &str) -> anyhow::Result<RecordingDetails> {
    store
        .recording(id)
        .await?
        .with_context(|| format!("no recording with id {id:?}"))
}

async fn list(env: &Env, filter: &RecordingFilter, json: bool) -> anyhow::Result<()> {
    let recordings = env.store.recordings(filter).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&recordings)?);
        return Ok(());
    }
    say!(
        "{:<32} {:<20} {:>8} {:<11} {:<16} {:<16} {:<7} {:<20}",
        "ID",
        "STARTED",
        "SECONDS",
        "STATE",
        "CALLER",
        "CALLEE",
        "CLASS",
        "EXPIRES"
    );
    for r in &recordings {
        say!(
            "{:<32} {:<20} {:>8} {:<11} {:<16} {:<16} {:<7} {:<20}",
            r.id,
            time(r.started_at),
            r.duration_ms
                .map_or("-".to_owned(), |ms| format!("{:.1}", ms as f64 / 1000.0)),
            r.state.as_str(),
            r.caller,
            r.callee,
            r.retention_class,
            r.expires_at.map_or("-".to_owned(), time),
        );
    }
    Ok(())
}

async fn show(env: &Env, id: &str, json: bool) -> anyhow::Result<()> {
    let details = find(&env.store, id).await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&details)?);
        return Ok(());
    }
    let r = &details.recording;
    say!("recording   {}", r.id);
    say!("call        {}", r.call_id.as_deref().unwrap_or("-"));
    say!("parties     {} -> {}", r.caller, r.callee);
    say!("state       {}", r.state.as_str());
    say!("started     {}", time(r.started_at));
    say!("ended       {}", r.ended_at.map_or("-".to_owned(), time));
    say!(
        "audio       {} {} Hz, channels {}",
        r.codec,
        r.sample_rate,
        r.channels
    );
    say!(
        "segments    {}",
        r.segments.map_or("-".to_owned(), |s| s.to_string())
    );
    say!("consent     {}", r.consent);
    say!(
        "retention   {} (expires {})",
        r.retention_class,
        r.expires_at.map_or("-".to_owned(), time)
    );
    say!("digest      {}", r.digest.as_deref().unwrap_or("-"));
    say!(
        "keys        {}",
        if details.key_ids.is_empty() {
            "none (erased)".to_owned()
        } else {
            details.key_ids.join(", ")
        }
    );
    if let Some(at) = r.erased_at {
        say!(
            "erased      {} by {} ({})",
            time(at),
            r.erased_by.as_deref().unwrap_or("-"),
            r.erase_reason.as_deref().unwrap_or("-")
        );
    }
    for gap in &details.gaps {
        say!(
            "gap         {} .. {} {} by {}",
            time(gap.started_at),
            gap.ended_at.map_or("open".to_owned(), time),
            gap.reason,
            gap.actor
        );
    }
    for e in &details.evidence {
        say!(
            "evidence    {} {} {} completed={} choice={}",
            time(e.at),
            e.prompt,
            e.language,
            e.completed,
            e.choice.as_deref().unwrap_or("-")
        );
    }
    for hold in &details.holds {
        let state = match hold.released_at {
            Some(at) => format!("released {}", time(at)),
            None => "in force".to_owned(),
        };
        say!(
            "hold        {} case {} ({}) {state}",
            hold.id,
            hold.case_ref,
            hold.reason
        );
    }
    Ok(())
}

/// The node public key that should have signed a blob: from the database's registry.
async fn node_key_for(store: &Store, id: &str) -> anyhow::Result<NodePublicKey> {
    let text = store
        .node_key(id)
        .await?
        .with_context(|| format!("node key {id} is not registered in the database"))?;
    NodePublicKey::from_text(&text).with_context(|| format!("node key {id} is unreadable"))
}

async fn verify_cmd(env: &Env, id: &str, json: bool) -> anyhow::Result<()> {
    let details = find(&env.store, id).await?;
    let r = &details.recording;
    let blob = env
        .blobs
        .read(&r.id)
        .await
        .with_context(|| format!("reading {}", r.blob))?;
    let node = r
        .node_key
        .as_deref()
        .context("the recording names no node key")?;
    let report = verify(&blob, &node_key_for(&env.store, node).await?);
    let digest = report.digest.map(hex::encode);
    let digest_matches = r.digest.is_some() && digest == r.digest;
    let intact = matches!(
        report.verdict,
        Verdict::Complete { .. } | Verdict::Interrupted { .. }
    ) && digest_matches;
    if json {
        let out = serde_json::json!({
            "id": r.id,
            "intact": intact,
            "verdict": format!("{:?}", report.verdict),
            "segments": report.segments,
            "digest": digest,
            "digest_matches_database": digest_matches,
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        say!(
            "recording {}: {}, {} segment(s)",
            r.id,
            verdict_text(&report.verdict),
            report.segments
        );
        say!(
            "digest {} ({})",
            digest.as_deref().unwrap_or("-"),
            if digest_matches {
                "matches the database"
            } else {
                "does NOT match the database"
            }
        );
    }
    if !intact {
        anyhow::bail!("recording {} failed verification", r.id);
    }
    Ok(())
}

async fn export(env: &Env, id: &str, identity: &Path, out: &Path) -> anyhow::Result<()> {
    let details = find(&env.store, id).await?;
    let r = &details.recording;
    if r.state == RecordingState::Erased {
        anyhow::bail!(
            "recording {} was erased {} ({}): its key no longer exists",
            r.id,
            r.erased_at.map_or("-".to_owned(), time),
            r.erase_reason.as_deref().unwrap_or("-")
        );
    }
    let identities = super::cli::read_identities(identity)?;
    let decrypted =
        crate::compliance::export::decrypt(&env.store, &env.blobs, &details, &identities)
            .await
            .with_context(|| format!("with the identities in {}", identity.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let wav = out.join(format!("{}.wav", r.id));
    std::io::Write::write_all(&mut super::cli::create_private(&wav)?, &decrypted.wav)?;
    let json = out.join(format!("{}.json", r.id));
    std::io::Write::write_all(
        &mut super::cli::create_private(&json)?,
        serde_json::to_string_pretty(&decrypted.metadata)?.as_bytes(),
    )?;
    say!("{}", wav.display());
    say!("{}", json.display());
    Ok(())
}

async fn erase(env: &Env, id: &str, by: &str, reason: &str) -> anyhow::Result<()> {
    let details = find(&env.store, id).await?;
    let id = &details.recording.id;
    if details.recording.state == RecordingState::Recording {
        anyhow::bail!("recording {id} is still being recorded: erase it once its call has ended");
    }
    match env.store.erase_recording(id, env.now, by, reason).await? {
        EraseOutcome::Erased { keys_deleted } => {
            say!("recording {id} erased: {keys_deleted} wrapped key(s) destroyed");
        }
        EraseOutcome::AlreadyErased => say!("recording {id} was already erased"),
    }
    env.blobs
        .delete(id)
        .await
        .with_context(|| format!("the key is destroyed, but deleting the blob of {id} failed"))?;
    Ok(())
}

/// A verdict for people.
fn verdict_text(verdict: &Verdict) -> String {
    let at = |ms: u64| time(i64::try_from(ms).unwrap_or(i64::MAX));
    match verdict {
        Verdict::Complete { end_unix_ms } => {
            format!("complete, signed, ended {}", at(*end_unix_ms))
        }
        Verdict::Interrupted { end_unix_ms } => format!(
            "interrupted (closed after a crash), signed {}",
            at(*end_unix_ms)
        ),
        Verdict::Unsealed { torn_tail_bytes } => format!(
            "UNSEALED: no signed trailer (still recording, or not recovered yet; \
             {torn_tail_bytes} byte(s) of a torn tail)"
        ),
        Verdict::Damaged { offset, defect } => format!("DAMAGED at byte {offset}: {defect}"),
    }
}
