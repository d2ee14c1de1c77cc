//! Storage locations: the database URL and where recording blobs go.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Which SQL server the database URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

/// A database URL: `sqlite://PATH`, `sqlite::memory:`, `postgres://...` or `postgresql://...`.
///
/// `Debug` and `Display` hide a password in the URL's user info.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: DatabaseBackend,
    url: String,
}

impl DatabaseUrl {
    /// `sqlite://<dir>/herald.db`, the default when `storage.database` is not set.
    pub(crate) fn sqlite_in(dir: &Path) -> Self {
        let url = format!("sqlite://{}", dir.join("herald.db").display());
        Self {
            backend: DatabaseBackend::Sqlite,
            url,
        }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// The full URL, password included, for the database driver.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (backend, rest) = if let Some(rest) = s.strip_prefix("sqlite:") {
            (
                DatabaseBackend::Sqlite,
                rest.strip_prefix("//").unwrap_or(rest),
            )
        } else if let Some(rest) = s
            .strip_prefix("postgres://")
            .or_else(|| s.strip_prefix("postgresql://"))
        {
            (DatabaseBackend::Postgres, rest)
        } else {
            return Err(format!(
                "unsupported database URL {:?}: expected sqlite://PATH or postgres://...",
                redact_url(s)
            ));
        };
        if rest.is_empty() {
            return Err(format!(
                "database URL {:?} names no database",
                redact_url(s)
            ));
        }
        Ok(Self {
            backend,
            url: s.to_owned(),
        })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("backend", &self.backend)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

/// `scheme://user:password@host/...` with the password replaced.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Where recording blobs are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingsStore {
    /// `file://PATH`: a directory on the local file system.
    File(PathBuf),
    /// `s3://BUCKET/PREFIX`: an S3-compatible object store.
    S3 { bucket: String, prefix: String },
}

impl RecordingsStore {
    /// `file://<dir>/recordings`, the default when `storage.recordings` is not set.
    pub(crate) fn file_in(dir: &Path) -> Self {
        Self::File(dir.join("recordings"))
    }
}

impl fmt::Display for RecordingsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "file://{}", path.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl FromStr for RecordingsStore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("file://") {
            if path.is_empty() {
                return Err(format!("{s:?} names no directory"));
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err(format!(
                "unsupported recordings location {s:?}: expected file://PATH or s3://BUCKET/PREFIX"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_bucket_name(bucket) {
            return Err(format!(
                "bad S3 bucket name {bucket:?}: 3 to 63 characters of a-z, 0-9, '.' and '-'"
            ));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix,
        })
    }
}

fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}
