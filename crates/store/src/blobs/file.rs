//! Blobs as files: `DIR/<first two hex digits of the id>/<id>.hrec`.
//!
//! A blob is written in place under its final name, created exclusively (an existing blob is
//! never overwritten): after a crash the partial blob is where recovery looks for it.

use std::path::PathBuf;

use super::append_file::{self, AppendFile};
use super::{BLOB_SUFFIX, BlobError, BlobInfo, shard};

/// A directory of blob files.
#[derive(Debug, Clone)]
pub(crate) struct FileBlobs {
    dir: PathBuf,
}

/// A blob file being written.
#[derive(Debug)]
pub(crate) struct FileWriter {
    file: AppendFile,
    location: String,
}

impl FileBlobs {
    pub(crate) fn new(dir: PathBuf) -> FileBlobs {
        FileBlobs { dir }
    }

    /// The file of blob `id` (a valid id).
    pub(crate) fn path(&self, id: &str) -> PathBuf {
        self.dir.join(shard(id)).join(format!("{id}{BLOB_SUFFIX}"))
    }

    pub(crate) fn location(&self, id: &str) -> String {
        format!("file://{}", self.path(id).display())
    }

    pub(crate) async fn create(&self, id: &str) -> Result<FileWriter, BlobError> {
        let file = AppendFile::create_new(self.path(id)).await?;
        Ok(FileWriter {
            file,
            location: self.location(id),
        })
    }

    pub(crate) async fn recover(
        &self,
        id: &str,
        keep_bytes: u64,
        append: &[u8],
    ) -> Result<BlobInfo, BlobError> {
        let mut file = AppendFile::open_existing(self.path(id)).await?;
        file.truncate(keep_bytes).await?;
        file.append(append).await?;
        file.sync().await?;
        Ok(BlobInfo {
            location: self.location(id),
            bytes: file.len(),
        })
    }

    pub(crate) async fn read(&self, id: &str) -> Result<Vec<u8>, BlobError> {
        append_file::read_if_present(self.path(id))
            .await?
            .ok_or_else(|| BlobError::NotFound {
                location: self.location(id),
            })
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<(), BlobError> {
        append_file::remove_if_present(self.path(id)).await
    }
}

impl FileWriter {
    pub(crate) async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        self.file.append(bytes).await
    }

    pub(crate) async fn sync(&mut self) -> Result<(), BlobError> {
        self.file.sync().await
    }

    pub(crate) async fn finish(mut self) -> Result<BlobInfo, BlobError> {
        self.file.sync().await?;
        Ok(BlobInfo {
            location: self.location,
            bytes: self.file.len(),
        })
    }
}
