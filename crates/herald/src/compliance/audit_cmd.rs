//! `herald audit verify` and `herald audit list`: the hash-chained audit log from the command
//! line.

use std::path::PathBuf;

use clap::Subcommand;

use crate::recorder::cli::{Env, say, time};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Checks the hash chain and the signed head: exits non-zero if any entry was altered,
    /// removed or added.
    Verify {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The newest entries.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_audit(command: AuditCommand) -> anyhow::Result<()> {
    crate::recorder::cli::block_on(async move {
        match command {
            AuditCommand::Verify { config, json } => {
                let env = Env::read_only(config).await?;
                let local = std::fs::read_to_string(&env.config.recorder.node_key)
                    .ok()
                    .and_then(|text| herald_recorder::NodeSigningKey::from_text(&text).ok())
                    .map(|key| key.public_key());
                let report = super::audit::verify(&env.store, local.as_ref()).await?;
                if json {
                    say!("{}", serde_json::to_string(&report)?);
                } else {
                    say!(
                        "{} entries, head {} signed by {}",
                        report.entries,
                        report.head.seq,
                        if report.head.node_key.is_empty() {
                            "-"
                        } else {
                            &report.head.node_key
                        }
                    );
                    for problem in &report.problems {
                        say!("PROBLEM: {problem}");
                    }
                }
                if !report.intact() {
                    anyhow::bail!(
                        "the audit log is not intact: {} problem(s)",
                        report.problems.len()
                    );
                }
                if !json {
                    say!("intact");
                }
                Ok(())
            }
            AuditCommand::List {
                limit,
                config,
                json,
            } => {
                let env = Env::read_only(config).await?;
                for entry in env.store.audit_search(None, None, limit).await? {
                    if json {
                        say!("{}", serde_json::to_string(&entry)?);
                    } else {
                        say!(
                            "{:>6} {} {:<16} {:<20} {} {}",
                            entry.seq,
                            time(entry.at),
                            entry.actor,
                            entry.action,
                            entry.target,
                            entry.outcome
                        );
                    }
                }
                Ok(())
            }
        }
    })
}
