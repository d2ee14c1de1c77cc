//! What the recorder's commands share: the configuration, store and blob store they open, time
//! in and out, identity files and WAV output.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use herald_recorder::age::x25519::Identity;
use herald_store::{BlobStore, Store};

use crate::config::Config;

pub(crate) use crate::calls_cmd::say;

/// A command's surroundings.
pub struct Env {
    pub config: Config,
    pub store: Store,
    pub blobs: BlobStore,
    /// Wall-clock unix milliseconds when the command started.
    pub now: i64,
}

impl Env {
    /// For commands that only read: never creates or migrates a database.
    pub async fn read_only(config: Option<PathBuf>) -> anyhow::Result<Env> {
        Self::open(config, true).await
    }

    /// For commands that change records (erase, hold, keys).
    pub async fn writable(config: Option<PathBuf>) -> anyhow::Result<Env> {
        Self::open(config, false).await
    }

    async fn open(config: Option<PathBuf>, read_only: bool) -> anyhow::Result<Env> {
        let config = crate::load_config(config.as_deref())?;
        let url = config.storage.database.as_str();
        let store = if read_only {
            Store::connect_read_only(url).await
        } else {
            Store::connect(url).await
        }
        .with_context(|| {
            format!(
                "opening the database {} (has `herald serve` run with this configuration?)",
                crate::calls_cmd::redact_url(url)
            )
        })?;
        let blobs = super::open_blobs(&config)?;
        Ok(Env {
            config,
            store,
            blobs,
            now: crate::serve::unix_ms_now(),
        })
    }
}

/// Runs a command's future on a small runtime of its own.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// An RFC 3339 time (`2026-11-01T00:00:00Z`) as unix milliseconds.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    let at = jiff::Timestamp::from_str(text)
        .with_context(|| format!("{text:?} is not a time such as 2026-11-01T00:00:00Z"))?;
    Ok(at.as_millisecond())
}

/// Unix milliseconds as an RFC 3339 time, to the second, in UTC.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// The X25519 identities of an `age` identity file (lines `AGE-SECRET-KEY-1...`; `#` comments
/// and blank lines ignored). The secrets are never printed.
pub fn read_identities(path: &Path) -> anyhow::Result<Vec<Identity>> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let mut identities = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = Identity::from_str(line).map_err(|_| {
            anyhow::anyhow!(
                "{}:{}: not an age X25519 identity (AGE-SECRET-KEY-1...)",
                path.display(),
                n + 1
            )
        })?;
        identities.push(identity);
    }
    if identities.is_empty() {
        anyhow::bail!("{}: no identity in the file", path.display());
    }
    Ok(identities)
}

/// Creates a file for decrypted output: readable by its owner only, never replacing one.
pub fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never replaced)",
                path.display()
            )
        })
}
