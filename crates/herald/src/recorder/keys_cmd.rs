//! `herald keys generate / add / list / rotate / retire`: the recipient public keys recordings
//! are encrypted to. Only public keys are stored; `generate` and `rotate` write the private
//! half to a file that belongs offline, with whoever may listen to recordings.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use herald_recorder::RecipientKey;
use herald_recorder::age::secrecy::ExposeSecret;
use herald_store::RecorderKey;

use super::cli::{Env, say, time};
use super::keys::{generate_pair, write_identity};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Generates a key pair: the private identity goes to --out (mode 0600; move it offline),
    /// the public key is stored as active. Running servers use it within 30 s.
    Generate {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Adds a public key made elsewhere (`age-keygen` on an offline machine: the best way).
    Add {
        /// The recipient, `age1...`.
        public_key: String,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The keys, active and retired.
    List {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Generates a new key pair (private half to --out) and retires the other active keys (the
    /// first in the same transaction as the addition, so some key is always active). Retired
    /// keys still open the recordings made with them; keys in recorder.recipients of the
    /// configuration are not touched.
    Rotate {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Retires one key: new recordings are no longer encrypted to it.
    Retire {
        id: String,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    super::cli::block_on(async move {
        match command {
            KeysCommand::Generate { out, label, config } => {
                let env = Env::writable(config).await?;
                let recipient = generate_to(&out)?;
                env.store
                    .add_recorder_key(&row(&recipient, &label, env.now))
                    .await?;
                announce(&recipient, &out);
                Ok(())
            }
            KeysCommand::Add {
                public_key,
                label,
                config,
            } => {
                let recipient = RecipientKey::parse(public_key.trim())?;
                let env = Env::writable(config).await?;
                env.store
                    .add_recorder_key(&row(&recipient, &label, env.now))
                    .await?;
                say!("key {} added: {}", recipient.id(), recipient.to_text());
                Ok(())
            }
            KeysCommand::List { config, json } => {
                let env = Env::read_only(config).await?;
                let keys = env.store.recorder_keys().await?;
                if json {
                    say!("{}", serde_json::to_string_pretty(&keys)?);
                    return Ok(());
                }
                say!(
                    "{:<18} {:<9} {:<20} {:<64} LABEL",
                    "ID",
                    "STATE",
                    "CREATED",
                    "PUBLIC KEY"
                );
                for key in &keys {
                    let state = if key.retired_at.is_some() {
                        "retired"
                    } else {
                        "active"
                    };
                    say!(
                        "{:<18} {:<9} {:<20} {:<64} {}",
                        key.id,
                        state,
                        time(key.created_at),
                        key.public_key,
                        key.label
                    );
                }
                Ok(())
            }
            KeysCommand::Rotate { out, label, config } => rotate(config, &out, &label).await,
            KeysCommand::Retire { id, config } => {
                let env = Env::writable(config).await?;
                let active = env.store.active_recorder_keys().await?;
                if active.len() == 1
                    && active[0].id == id
                    && env.config.recorder.recipients.is_empty()
                {
                    anyhow::bail!("{id} is the only active key: recording would stop (use rotate)");
                }
                env.store.retire_recorder_key(&id, env.now).await?;
                say!("key {id} retired");
                Ok(())
            }
        }
    })
}

async fn rotate(config: Option<PathBuf>, out: &Path, label: &str) -> anyhow::Result<()> {
    let env = Env::writable(config).await?;
    let active = env.store.active_recorder_keys().await?;
    let recipient = generate_to(out)?;
    let new = row(&recipient, label, env.now);
    match active.split_first() {
        None => env.store.add_recorder_key(&new).await?,
        Some((first, rest)) => {
            env.store
                .rotate_recorder_key(&new, &first.id, env.now)
                .await?;
            for old in rest {
                env.store.retire_recorder_key(&old.id, env.now).await?;
            }
        }
    }
    announce(&recipient, out);
    for old in &active {
        say!("retired {}", old.id);
    }
    Ok(())
}

fn generate_to(out: &Path) -> anyhow::Result<RecipientKey> {
    let (identity, recipient) = generate_pair();
    write_identity(out, identity.expose_secret(), &recipient)
        .with_context(|| format!("writing the private key to {}", out.display()))?;
    Ok(recipient)
}

fn row(recipient: &RecipientKey, label: &str, now: i64) -> RecorderKey {
    RecorderKey {
        id: recipient.id().to_string(),
        public_key: recipient.to_text(),
        label: label.to_owned(),
        created_at: now,
        retired_at: None,
    }
}

fn announce(recipient: &RecipientKey, out: &Path) {
    say!("key {} active: {}", recipient.id(), recipient.to_text());
    say!(
        "private key written to {}: move it OFFLINE; the serving host must not keep it",
        out.display()
    );
}
