//! `herald retention sweep [--dry-run] [--at TIME]` and `herald retention classes`.

use std::path::PathBuf;

use clap::Subcommand;

use super::cli::{Env, parse_time, say, time};
use super::sweep::sweep;

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Erases every recording whose retention has run out and that no legal hold keeps.
    Sweep {
        /// Only list what would be erased.
        #[arg(long)]
        dry_run: bool,
        /// Sweep as of this time (RFC 3339) instead of now: with --dry-run, what expires by a
        /// date. A time in the future erases recordings before their expiry, so it also needs
        /// --allow-future (for a test copy of the data, never for production).
        #[arg(long)]
        at: Option<String>,
        /// Let --at name a time in the future without --dry-run.
        #[arg(long)]
        allow_future: bool,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The retention classes of the configuration.
    Classes {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn run(command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::Classes { config } => {
            let config = crate::load_config(config.as_deref())?;
            for (name, class) in &config.retention.classes {
                let obligation = if class.legal_obligation {
                    " (legal obligation)"
                } else {
                    ""
                };
                say!(
                    "{name:<12} {:<10} {}{obligation}",
                    class.keep.to_string(),
                    class.description
                );
            }
            Ok(())
        }
        RetentionCommand::Sweep {
            dry_run,
            at,
            allow_future,
            config,
            json,
        } => super::cli::block_on(async move {
            let env = if dry_run {
                Env::read_only(config).await?
            } else {
                Env::writable(config).await?
            };
            let now = match at.as_deref() {
                Some(text) => parse_time(text)?,
                None => env.now,
            };
            if now > env.now && !dry_run && !allow_future {
                anyhow::bail!(
                    "--at {} is in the future: that would erase recordings before they expire \
                     (add --dry-run to see what expires by then)",
                    time(now)
                );
            }
            let report = sweep(&env.store, &env.blobs, now, dry_run).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let verb = if dry_run { "would erase" } else { "erased" };
                for r in &report.erased {
                    say!(
                        "{verb} {} ({} expired {})",
                        r.id,
                        r.retention_class,
                        time(r.expires_at)
                    );
                }
                for (id, error) in &report.failed {
                    say!("FAILED {id}: {error}");
                }
                say!(
                    "{} recording(s) {verb} as of {}",
                    report.erased.len(),
                    time(now)
                );
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                anyhow::bail!("{} erasure(s) failed", report.failed.len())
            }
        }),
    }
}
