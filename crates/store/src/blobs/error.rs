//! What a blob operation can fail with. Errors name the file or object key, never
//! credentials.

use std::io;
use std::path::PathBuf;

/// Everything a [`BlobStore`](super::BlobStore) operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    // --- the caller misused the API ---
    /// A blob id must be 2 to 64 lower-case hex digits (recording ids are 32).
    #[error("invalid blob id {0:?}: expected 2 to 64 lower-case hex digits")]
    InvalidId(String),
    /// The blob location is neither `file://DIR` nor `s3://BUCKET/PREFIX`. Carries only the
    /// scheme: the rest of a URL may hold credentials.
    #[error("unsupported blob location scheme {scheme:?}: expected file:// or s3://")]
    UnsupportedLocation {
        /// The part before the first `:`.
        scheme: String,
    },
    /// An `s3://` location without a bucket name.
    #[error("s3:// blob location without a bucket name")]
    MissingBucket,
    /// An `s3://` location but no S3 options (region, credentials, spool directory).
    #[error("an s3:// blob location needs S3 options")]
    MissingS3Options,
    /// A blob with this id already exists (or is being written): blobs are never overwritten.
    #[error("blob {location} already exists")]
    Exists {
        /// The file or object.
        location: String,
    },
    /// No blob (or, for recovery, no spool file) with this id.
    #[error("blob {location} not found")]
    NotFound {
        /// The file or object.
        location: String,
    },
    /// Recovery was asked to keep more bytes than the blob holds.
    #[error("blob {location} holds {len} bytes, fewer than the {keep} to keep")]
    ShorterThanKept {
        /// The file.
        location: String,
        /// Its length.
        len: u64,
        /// The length asked for.
        keep: u64,
    },

    // --- I/O failed ---
    /// A local file operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Configuring the S3 client failed.
    #[error("invalid S3 configuration")]
    S3Config(#[source] object_store::Error),
    /// An S3 request failed.
    #[error("cannot {action} s3 object {key}")]
    S3 {
        /// What was being done.
        action: &'static str,
        /// The object key.
        key: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
}

impl BlobError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| BlobError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn s3(
        action: &'static str,
        key: &object_store::path::Path,
    ) -> impl FnOnce(object_store::Error) -> Self {
        let key = key.to_string();
        move |source| BlobError::S3 {
            action,
            key,
            source,
        }
    }
}

/// A blocking task that panicked or was cancelled, as an I/O error on `path`.
pub(crate) fn task_failed(
    action: &'static str,
    path: PathBuf,
    error: tokio::task::JoinError,
) -> BlobError {
    BlobError::Io {
        action,
        path,
        source: io::Error::other(error),
    }
}
