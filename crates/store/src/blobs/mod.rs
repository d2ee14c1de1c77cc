//! Recording blobs: opaque ciphertext, streamed in as it is produced, on local files or an
//! S3-compatible object store.
//!
//! The bytes given to a [`BlobWriter`] are already encrypted (the recorder seals them); this
//! module never sees plaintext and never interprets what it stores.
//!
//! See [`BlobStore`] for locations, durability and recovery.

mod append_file;
mod error;
mod file;
mod s3;

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

pub use append_file::SYNC_EVERY_BYTES;
pub use error::BlobError;
pub use s3::PART_SIZE;

use file::{FileBlobs, FileWriter};
use s3::{S3Blobs, S3Writer};

/// The file name suffix of a blob: Herald recording.
const BLOB_SUFFIX: &str = ".hrec";

/// An S3 secret access key: zeroized on drop, never printed.
#[derive(Clone)]
pub struct SecretAccessKey(Zeroizing<String>);

impl SecretAccessKey {
    /// Wraps a secret access key.
    pub fn new(secret: String) -> SecretAccessKey {
        SecretAccessKey(Zeroizing::new(secret))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(<redacted>)")
    }
}

/// How to reach an S3-compatible store, for an `s3://` location.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// The endpoint URL, e.g. `https://s3.eu-central-1.amazonaws.com` or
    /// `http://127.0.0.1:9000`; `None` for AWS's default for the region.
    pub endpoint: Option<String>,
    /// The region requests are signed for, e.g. `eu-central-1`.
    pub region: String,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<SecretAccessKey>,
    /// Whether a plain `http://` endpoint is allowed (loopback tests); HTTPS otherwise.
    pub allow_http: bool,
    /// Where blobs are spooled while they are written: a local directory, created if missing.
    pub spool_dir: PathBuf,
}

/// A written blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Where it is: `file:///DIR/ab/<id>.hrec` or `s3://BUCKET/PREFIX/ab/<id>.hrec`.
    pub location: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Where recording blobs live. Cheap to clone.
///
/// # Locations
///
/// [`BlobStore::open`] takes `file://DIR` (blobs at `DIR/<first two hex digits>/<id>.hrec`) or
/// `s3://BUCKET/PREFIX` (objects at `PREFIX/<first two hex digits>/<id>.hrec`) with
/// [`S3Options`]: endpoint, region, credentials, and the local spool directory. Blob ids are
/// lower-case hex (recording ids).
///
/// # Durability
///
/// Every [`BlobWriter::append`] hands its bytes to the operating system before returning, so a
/// killed process (`kill -9`) loses nothing that was appended. The data is forced to the disk
/// (`sync_data`) every [`SYNC_EVERY_BYTES`] (about a second of recording), on
/// [`BlobWriter::sync`] and on [`BlobWriter::finish`], so a power loss loses at most about the
/// last second. A file blob is written under its final name, never a temporary one, so a
/// crashed recording is where [`BlobStore::recover`] expects it. An S3 blob is spooled to a
/// local file with the same durability; each [`PART_SIZE`] it grows by is read back and
/// uploaded as a multipart part in the background, so memory stays at about one part per
/// blob, and a failed upload loses nothing (`finish` uploads the spool anew). The spool goes
/// once the object is complete.
///
/// # Recovery
///
/// After a crash the caller reads the partial blob ([`BlobStore::read`]), finds where the last
/// intact segment ends, and calls [`BlobStore::recover`] with that length and a trailer to
/// append: the torn tail is cut, the trailer appended and synced, and an S3 blob uploaded from
/// its spool. [`BlobStore::spooled_ids`] lists the S3 blobs a crash left in the spool.
#[derive(Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    File(FileBlobs),
    S3(S3Blobs),
}

/// A blob being written: append in order, then finish. Dropping it unfinished leaves what was
/// appended for [`BlobStore::recover`], like a crash.
#[derive(Debug)]
pub struct BlobWriter {
    id: String,
    backend: WriterBackend,
}

#[derive(Debug)]
enum WriterBackend {
    File(FileWriter),
    S3(Box<S3Writer>),
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = match &self.backend {
            Backend::File(_) => "file",
            Backend::S3(_) => "s3",
        };
        f.debug_struct("BlobStore")
            .field("backend", &location)
            .finish_non_exhaustive()
    }
}

impl BlobStore {
    /// Opens `file://DIR` or `s3://BUCKET/PREFIX` (which needs `s3`). Nothing is created or
    /// contacted yet: directories appear with the first blob.
    pub fn open(location: &str, s3: Option<&S3Options>) -> Result<BlobStore, BlobError> {
        let scheme = location.split(':').next().unwrap_or_default();
        if let Some(dir) = location.strip_prefix("file://") {
            return Ok(BlobStore::file(PathBuf::from(dir)));
        }
        let Some(rest) = location.strip_prefix("s3://") else {
            return Err(BlobError::UnsupportedLocation {
                scheme: scheme.to_owned(),
            });
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobError::MissingBucket);
        }
        BlobStore::s3(bucket, prefix, s3.ok_or(BlobError::MissingS3Options)?)
    }

    /// Blobs as files under `dir`.
    pub fn file(dir: PathBuf) -> BlobStore {
        BlobStore {
            backend: Backend::File(FileBlobs::new(dir)),
        }
    }

    /// Blobs as objects in `bucket` under `prefix` (which may be empty).
    pub fn s3(bucket: &str, prefix: &str, options: &S3Options) -> Result<BlobStore, BlobError> {
        Ok(BlobStore {
            backend: Backend::S3(S3Blobs::open(bucket, prefix, options)?),
        })
    }

    /// Where blob `id` is (or will be), as [`BlobInfo::location`] gives it.
    pub fn location(&self, id: &str) -> Result<String, BlobError> {
        check_id(id)?;
        Ok(match &self.backend {
            Backend::File(files) => files.location(id),
            Backend::S3(objects) => objects.location(id),
        })
    }

    /// Starts writing blob `id`, which must not exist ([`BlobError::Exists`]).
    pub async fn create(&self, id: &str) -> Result<BlobWriter, BlobError> {
        check_id(id)?;
        let backend = match &self.backend {
            Backend::File(files) => WriterBackend::File(files.create(id).await?),
            Backend::S3(objects) => WriterBackend::S3(Box::new(objects.create(id).await?)),
        };
        Ok(BlobWriter {
            id: id.to_owned(),
            backend,
        })
    }

    /// Repairs blob `id` after a crash: cuts it to its first `keep_bytes` (the intact part),
    /// appends `append` (a recovery trailer made by the caller) and syncs it; an S3 blob is
    /// then uploaded from its spool and the spool removed. Keeping more bytes than there are
    /// is [`BlobError::ShorterThanKept`]; no partial blob (file, or S3 spool) is
    /// [`BlobError::NotFound`].
    pub async fn recover(
        &self,
        id: &str,
        keep_bytes: u64,
        append: &[u8],
    ) -> Result<BlobInfo, BlobError> {
        check_id(id)?;
        match &self.backend {
            Backend::File(files) => files.recover(id, keep_bytes, append).await,
            Backend::S3(objects) => objects.recover(id, keep_bytes, append).await,
        }
    }

    /// All of blob `id` (recordings are small: about 16 KB per second). For S3, a blob still
    /// in the spool (being written, or left by a crash) is read from there.
    pub async fn read(&self, id: &str) -> Result<Vec<u8>, BlobError> {
        check_id(id)?;
        match &self.backend {
            Backend::File(files) => files.read(id).await,
            Backend::S3(objects) => objects.read(id).await,
        }
    }

    /// Deletes blob `id` (and, for S3, its spool file). Deleting a missing blob is not an
    /// error.
    pub async fn delete(&self, id: &str) -> Result<(), BlobError> {
        check_id(id)?;
        match &self.backend {
            Backend::File(files) => files.delete(id).await,
            Backend::S3(objects) => objects.delete(id).await,
        }
    }

    /// The ids of S3 blobs in the spool, sorted: being written, or left by a crash. Always
    /// empty for files (a crashed file blob is at its final name).
    pub async fn spooled_ids(&self) -> Result<Vec<String>, BlobError> {
        match &self.backend {
            Backend::File(_) => Ok(Vec::new()),
            Backend::S3(objects) => objects.spooled_ids().await,
        }
    }
}

impl BlobWriter {
    /// The blob's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Appends `bytes` (ciphertext). Handed to the operating system before this returns.
    pub async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        match &mut self.backend {
            WriterBackend::File(writer) => writer.append(bytes).await,
            WriterBackend::S3(writer) => writer.append(bytes).await,
        }
    }

    /// Forces everything appended so far to the disk, for a caller that syncs on its own
    /// schedule (appends sync every [`SYNC_EVERY_BYTES`] anyway).
    pub async fn sync(&mut self) -> Result<(), BlobError> {
        match &mut self.backend {
            WriterBackend::File(writer) => writer.sync().await,
            WriterBackend::S3(writer) => writer.sync().await,
        }
    }

    /// Syncs the blob and, for S3, uploads the rest and removes the spool.
    pub async fn finish(self) -> Result<BlobInfo, BlobError> {
        match self.backend {
            WriterBackend::File(writer) => writer.finish().await,
            WriterBackend::S3(writer) => writer.finish().await,
        }
    }
}

/// Whether `id` is 2 to 64 lower-case hex digits: safe as a file name and an object key.
fn is_valid_id(id: &str) -> bool {
    (2..=64).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_id(id: &str) -> Result<(), BlobError> {
    match is_valid_id(id) {
        true => Ok(()),
        false => Err(BlobError::InvalidId(id.to_owned())),
    }
}

/// The subdirectory of blob `id` (a valid id): its first two hex digits.
fn shard(id: &str) -> &str {
    id.get(..2).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> S3Options {
        S3Options {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            region: "us-east-1".to_owned(),
            access_key_id: Some("AKID".to_owned()),
            secret_access_key: Some(SecretAccessKey::new("very-secret-value".to_owned())),
            allow_http: true,
            spool_dir: PathBuf::from("/tmp/spool"),
        }
    }

    #[test]
    fn ids_are_lower_case_hex() {
        assert!(is_valid_id("0123456789abcdef0123456789abcdef"));
        assert!(is_valid_id("ab"));
        for bad in ["", "a", "AB", "../x", "ab/cd", "0g", &"a".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn locations_are_parsed() {
        let files = BlobStore::open("file:///var/lib/herald/rec", None).unwrap();
        assert_eq!(
            files.location("abcdef").unwrap(),
            "file:///var/lib/herald/rec/ab/abcdef.hrec"
        );
        let objects = BlobStore::open("s3://bucket/some/prefix/", Some(&options())).unwrap();
        assert_eq!(
            objects.location("abcdef").unwrap(),
            "s3://bucket/some/prefix/ab/abcdef.hrec"
        );
        let bare = BlobStore::open("s3://bucket", Some(&options())).unwrap();
        assert_eq!(bare.location("0a").unwrap(), "s3://bucket/0a/0a.hrec");
        assert!(matches!(
            BlobStore::open("s3://bucket", None),
            Err(BlobError::MissingS3Options)
        ));
        assert!(matches!(
            BlobStore::open("s3:///prefix", Some(&options())),
            Err(BlobError::MissingBucket)
        ));
        assert!(matches!(
            files.location("../../etc"),
            Err(BlobError::InvalidId(_))
        ));
    }

    #[test]
    fn unsupported_locations_do_not_echo_credentials() {
        let error = BlobStore::open("ftp://user:hunter2@host/dir", None).unwrap_err();
        assert!(matches!(&error, BlobError::UnsupportedLocation { scheme } if scheme == "ftp"));
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let options = options();
        let store = BlobStore::open("s3://bucket/p", Some(&options)).unwrap();
        let debug = format!("{options:?} {store:?}");
        assert!(!debug.contains("very-secret-value"), "{debug}");
    }
}
