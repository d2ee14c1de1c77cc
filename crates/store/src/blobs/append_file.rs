//! A file that only grows, with the durability both backends promise: every append is handed
//! to the operating system before it returns (a killed process loses nothing), and the data is
//! forced to the disk (`sync_data`) whenever [`SYNC_EVERY_BYTES`] have accumulated, on
//! [`AppendFile::sync`] and on finish (a power loss loses at most about a second of audio).
//!
//! File operations block, so each runs on tokio's blocking pool.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{BlobError, task_failed};

/// Unsynced bytes that trigger a `sync_data`: about one second of an encrypted recording
/// (~16 KB/s).
pub const SYNC_EVERY_BYTES: u64 = 16 * 1024;

/// An open, append-only file and how much of it is not yet on the disk.
#[derive(Debug)]
pub(crate) struct AppendFile {
    file: Arc<File>,
    path: PathBuf,
    len: u64,
    unsynced: u64,
}

impl AppendFile {
    /// Creates `path`, which must not exist, and makes its name durable (the directory is
    /// created if needed and synced).
    pub(crate) async fn create_new(path: PathBuf) -> Result<AppendFile, BlobError> {
        let opened_path = path.clone();
        let created = blocking("create", path.clone(), move || {
            let dir = parent(&opened_path);
            if !dir.is_dir() {
                std::fs::create_dir_all(dir)?;
                sync_dir(parent(dir))?;
            }
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .create_new(true)
                .open(&opened_path)?;
            sync_dir(dir)?;
            Ok(file)
        })
        .await;
        let file = match created {
            Err(BlobError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                return Err(BlobError::Exists {
                    location: path.display().to_string(),
                });
            }
            other => other?,
        };
        Ok(AppendFile {
            file: Arc::new(file),
            path,
            len: 0,
            unsynced: 0,
        })
    }

    /// Opens the existing file `path` to append to it.
    pub(crate) async fn open_existing(path: PathBuf) -> Result<AppendFile, BlobError> {
        let opened_path = path.clone();
        let opened = blocking("open", path.clone(), move || {
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&opened_path)?;
            let len = file.metadata()?.len();
            Ok((file, len))
        })
        .await;
        let (file, len) = match opened {
            Err(BlobError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound {
                    location: path.display().to_string(),
                });
            }
            other => other?,
        };
        Ok(AppendFile {
            file: Arc::new(file),
            path,
            len,
            unsynced: 0,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `bytes`: in the operating system when this returns, on the disk once
    /// [`SYNC_EVERY_BYTES`] have accumulated.
    pub(crate) async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let file = Arc::clone(&self.file);
        let owned = bytes.to_vec();
        let sync = self.unsynced + owned.len() as u64 >= SYNC_EVERY_BYTES;
        blocking("append to", self.path.clone(), move || {
            (&*file).write_all(&owned)?;
            if sync {
                file.sync_data()?;
            }
            Ok(())
        })
        .await?;
        self.len += bytes.len() as u64;
        self.unsynced = if sync {
            0
        } else {
            self.unsynced + bytes.len() as u64
        };
        Ok(())
    }

    /// Forces everything appended so far to the disk.
    pub(crate) async fn sync(&mut self) -> Result<(), BlobError> {
        let file = Arc::clone(&self.file);
        blocking("sync", self.path.clone(), move || file.sync_data()).await?;
        self.unsynced = 0;
        Ok(())
    }

    /// Cuts the file to its first `keep` bytes (a torn tail after a crash) and syncs it.
    pub(crate) async fn truncate(&mut self, keep: u64) -> Result<(), BlobError> {
        if keep > self.len {
            return Err(BlobError::ShorterThanKept {
                location: self.path.display().to_string(),
                len: self.len,
                keep,
            });
        }
        let file = Arc::clone(&self.file);
        blocking("truncate", self.path.clone(), move || {
            file.set_len(keep)?;
            file.sync_data()
        })
        .await?;
        self.len = keep;
        self.unsynced = 0;
        Ok(())
    }

    /// Reads `len` bytes from `offset`.
    pub(crate) async fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, BlobError> {
        let file = Arc::clone(&self.file);
        blocking("read", self.path.clone(), move || {
            let size = usize::try_from(len).map_err(io::Error::other)?;
            let mut buffer = vec![0; size];
            file.read_exact_at(&mut buffer, offset)?;
            Ok(buffer)
        })
        .await
    }
}

/// Removes `path` if it exists and makes the removal durable.
pub(crate) async fn remove_if_present(path: PathBuf) -> Result<(), BlobError> {
    let removed_path = path.clone();
    blocking("remove", path, move || {
        match std::fs::remove_file(&removed_path) {
            Ok(()) => sync_dir(parent(&removed_path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await
}

/// Reads all of `path`; `None` if it does not exist.
pub(crate) async fn read_if_present(path: PathBuf) -> Result<Option<Vec<u8>>, BlobError> {
    let read_path = path.clone();
    blocking("read", path, move || match std::fs::read(&read_path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
}

/// Runs file operation `op` on the blocking pool; its error names `action` and `path`.
pub(crate) async fn blocking<T: Send + 'static>(
    action: &'static str,
    path: PathBuf,
    op: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::task::spawn_blocking(op).await {
        Ok(result) => result.map_err(BlobError::io(action, path)),
        Err(e) => Err(task_failed(action, path, e)),
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes the entries of `dir` (a new or removed name) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
