//! Blobs as objects in an S3-compatible store: `s3://BUCKET/PREFIX/<first two hex digits>/<id>.hrec`.
//!
//! S3 takes an object whole or in multipart parts of at least 5 MiB (but the last), so a blob
//! being written goes to two places: a local spool file (`SPOOL/<id>.hrec`, with the file
//! backend's durability) and, each time [`PART_SIZE`] more bytes have been spooled, a part of a
//! multipart upload read back from the spool. Memory stays small (one part while it uploads)
//! and an upload failure loses nothing: appends only fail when the spool does, and `finish`
//! falls back to uploading the whole spool again. `finish` uploads the tail, completes the
//! upload and removes the spool; a blob under 5 MiB is a single `PUT`.
//!
//! After a crash the spool holds the blob: [`S3Blobs::spooled_ids`] lists them and
//! [`S3Blobs::recover`] truncates, appends, uploads and removes one. Parts of an upload a crash
//! abandoned stay in the bucket until its lifecycle rule (`AbortIncompleteMultipartUpload`)
//! removes them.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use tokio::task::JoinHandle;

use super::append_file::{self, AppendFile};
use super::{BLOB_SUFFIX, BlobError, BlobInfo, S3Options, is_valid_id, shard};

/// The size of every multipart part but the last: S3's minimum.
pub const PART_SIZE: u64 = 5 * 1024 * 1024;
/// Parts uploading at once per blob before an append waits for the oldest.
const PARTS_IN_FLIGHT: usize = 2;

type PartUpload = JoinHandle<object_store::Result<()>>;

/// A bucket (and key prefix) plus the local spool directory.
#[derive(Debug, Clone)]
pub(crate) struct S3Blobs {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    spool_dir: PathBuf,
}

/// A blob being spooled and uploaded.
#[derive(Debug)]
pub(crate) struct S3Writer {
    store: Arc<AmazonS3>,
    key: ObjectPath,
    location: String,
    spool: AppendFile,
    upload: Option<Box<dyn MultipartUpload>>,
    /// Bytes of the spool handed to parts so far.
    parts_end: u64,
    in_flight: VecDeque<PartUpload>,
    /// Streaming failed (starting the upload or a part); `finish` uploads the spool anew.
    streaming_failed: bool,
}

impl S3Blobs {
    pub(crate) fn open(
        bucket: &str,
        prefix: &str,
        options: &S3Options,
    ) -> Result<S3Blobs, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&options.region)
            .with_allow_http(options.allow_http);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &options.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &options.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        let store = builder.build().map_err(BlobError::S3Config)?;
        Ok(S3Blobs {
            store: Arc::new(store),
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            spool_dir: options.spool_dir.clone(),
        })
    }

    /// The object key of blob `id`.
    fn key(&self, id: &str) -> ObjectPath {
        let name = format!("{}/{id}{BLOB_SUFFIX}", shard(id));
        match self.prefix.is_empty() {
            true => ObjectPath::from(name),
            false => ObjectPath::from(format!("{}/{name}", self.prefix)),
        }
    }

    pub(crate) fn location(&self, id: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(id))
    }

    fn spool_path(&self, id: &str) -> PathBuf {
        self.spool_dir.join(format!("{id}{BLOB_SUFFIX}"))
    }

    pub(crate) async fn create(&self, id: &str) -> Result<S3Writer, BlobError> {
        let key = self.key(id);
        match self.store.head(&key).await {
            Ok(_) => {
                return Err(BlobError::Exists {
                    location: self.location(id),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(BlobError::s3("look up", &key)(e)),
        }
        let spool = AppendFile::create_new(self.spool_path(id)).await?;
        Ok(S3Writer {
            store: Arc::clone(&self.store),
            key,
            location: self.location(id),
            spool,
            upload: None,
            parts_end: 0,
            in_flight: VecDeque::new(),
            streaming_failed: false,
        })
    }

    pub(crate) async fn recover(
        &self,
        id: &str,
        keep_bytes: u64,
        append: &[u8],
    ) -> Result<BlobInfo, BlobError> {
        let mut spool = AppendFile::open_existing(self.spool_path(id)).await?;
        spool.truncate(keep_bytes).await?;
        spool.append(append).await?;
        spool.sync().await?;
        let key = self.key(id);
        upload_whole(&self.store, &key, &spool).await?;
        append_file::remove_if_present(self.spool_path(id)).await?;
        Ok(BlobInfo {
            location: self.location(id),
            bytes: spool.len(),
        })
    }

    /// The blob's bytes: the spool file while there is one (a blob being written or left by
    /// a crash), else the object.
    pub(crate) async fn read(&self, id: &str) -> Result<Vec<u8>, BlobError> {
        if let Some(bytes) = append_file::read_if_present(self.spool_path(id)).await? {
            return Ok(bytes);
        }
        let key = self.key(id);
        let fetched = match self.store.get(&key).await {
            Ok(result) => result.bytes().await,
            Err(e) => Err(e),
        };
        match fetched {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound {
                location: self.location(id),
            }),
            Err(e) => Err(BlobError::s3("read", &key)(e)),
        }
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<(), BlobError> {
        let key = self.key(id);
        match self.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(BlobError::s3("delete", &key)(e)),
        }
        append_file::remove_if_present(self.spool_path(id)).await
    }

    /// The ids of the blobs in the spool directory, sorted: blobs being written, or left by a
    /// crash.
    pub(crate) async fn spooled_ids(&self) -> Result<Vec<String>, BlobError> {
        let dir = self.spool_dir.clone();
        append_file::blocking("list", self.spool_dir.clone(), move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut ids = Vec::new();
            for entry in entries {
                let name = entry?.file_name();
                let id = name.to_str().and_then(|n| n.strip_suffix(BLOB_SUFFIX));
                if let Some(id) = id.filter(|id| is_valid_id(id)) {
                    ids.push(id.to_owned());
                }
            }
            ids.sort();
            Ok(ids)
        })
        .await
    }
}

impl S3Writer {
    /// Spools `bytes`, then starts uploading every full part the spool now holds.
    pub(crate) async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        self.spool.append(bytes).await?;
        while !self.streaming_failed && self.spool.len() - self.parts_end >= PART_SIZE {
            self.start_part(PART_SIZE).await?;
        }
        Ok(())
    }

    pub(crate) async fn sync(&mut self) -> Result<(), BlobError> {
        self.spool.sync().await
    }

    /// Starts uploading the next `len` spooled bytes as a part, in the background.
    async fn start_part(&mut self, len: u64) -> Result<(), BlobError> {
        self.reap_finished_parts().await;
        if self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.wait_for_oldest_part().await;
        }
        if self.upload.is_none() {
            match self.store.put_multipart(&self.key).await {
                Ok(upload) => self.upload = Some(upload),
                Err(_) => {
                    self.streaming_failed = true;
                    return Ok(());
                }
            }
        }
        let part = self.spool.read_at(self.parts_end, len).await?;
        if let Some(upload) = self.upload.as_mut() {
            let sending = upload.put_part(PutPayload::from(part));
            self.in_flight.push_back(tokio::spawn(sending));
            self.parts_end += len;
        }
        Ok(())
    }

    async fn reap_finished_parts(&mut self) {
        while self.in_flight.front().is_some_and(JoinHandle::is_finished) {
            self.wait_for_oldest_part().await;
        }
    }

    async fn wait_for_oldest_part(&mut self) {
        if let Some(part) = self.in_flight.pop_front() {
            let uploaded = matches!(part.await, Ok(Ok(())));
            self.streaming_failed |= !uploaded;
        }
    }

    /// Uploads the tail, completes the upload (or, after a streaming failure or for a small
    /// blob, uploads the whole spool) and removes the spool.
    pub(crate) async fn finish(mut self) -> Result<BlobInfo, BlobError> {
        self.spool.sync().await?;
        let tail = self.spool.len() - self.parts_end;
        if self.upload.is_some() && tail > 0 && !self.streaming_failed {
            self.start_part(tail).await?;
        }
        while !self.in_flight.is_empty() {
            self.wait_for_oldest_part().await;
        }
        let completed = match self.upload.as_mut() {
            Some(upload) if !self.streaming_failed => upload.complete().await.is_ok(),
            _ => false,
        };
        if !completed {
            if let Some(mut upload) = self.upload.take() {
                // Best effort: a lifecycle rule removes parts an abort failed to.
                let _ = upload.abort().await;
            }
            upload_whole(&self.store, &self.key, &self.spool).await?;
        }
        append_file::remove_if_present(self.spool.path().to_path_buf()).await?;
        Ok(BlobInfo {
            location: self.location,
            bytes: self.spool.len(),
        })
    }
}

/// Uploads the whole of `spool` as object `key`: one `PUT` up to [`PART_SIZE`], else a
/// multipart upload of parts read from the spool one at a time.
async fn upload_whole(
    store: &AmazonS3,
    key: &ObjectPath,
    spool: &AppendFile,
) -> Result<(), BlobError> {
    let len = spool.len();
    if len <= PART_SIZE {
        let bytes = spool.read_at(0, len).await?;
        store
            .put(key, PutPayload::from(bytes))
            .await
            .map_err(BlobError::s3("upload", key))?;
        return Ok(());
    }
    let mut upload = store
        .put_multipart(key)
        .await
        .map_err(BlobError::s3("start uploading", key))?;
    let uploaded = upload_parts(upload.as_mut(), key, spool).await;
    match uploaded {
        Ok(()) => upload
            .complete()
            .await
            .map(|_| ())
            .map_err(BlobError::s3("complete uploading", key)),
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

async fn upload_parts(
    upload: &mut dyn MultipartUpload,
    key: &ObjectPath,
    spool: &AppendFile,
) -> Result<(), BlobError> {
    let mut offset = 0;
    while offset < spool.len() {
        let len = PART_SIZE.min(spool.len() - offset);
        let part = spool.read_at(offset, len).await?;
        upload
            .put_part(PutPayload::from(part))
            .await
            .map_err(BlobError::s3("upload a part of", key))?;
        offset += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use herald_testkit::S3Server;

    use super::*;
    use crate::blobs::SecretAccessKey;

    fn blobs(server: &S3Server, spool: &std::path::Path) -> S3Blobs {
        let options = S3Options {
            endpoint: Some(server.endpoint()),
            region: S3Server::REGION.to_owned(),
            access_key_id: Some(S3Server::ACCESS_KEY_ID.to_owned()),
            secret_access_key: Some(SecretAccessKey::new(S3Server::SECRET_ACCESS_KEY.to_owned())),
            allow_http: true,
            spool_dir: spool.to_path_buf(),
        };
        S3Blobs::open(S3Server::BUCKET, "p", &options).unwrap()
    }

    /// Bytes that differ from part to part, so a misplaced part shows.
    fn pattern(len: u64) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / PART_SIZE) as u8)
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parts_start_uploading_while_the_blob_grows() {
        let Some(server) = S3Server::start_or_skip() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let objects = blobs(&server, spool.path());
        let bytes = pattern(2 * PART_SIZE + 1_000);
        let mut writer = objects.create("ab12").await.unwrap();
        writer
            .append(&bytes[..PART_SIZE as usize - 1])
            .await
            .unwrap();
        assert_eq!(writer.parts_end, 0, "no full part yet");
        assert!(
            writer.upload.is_none(),
            "a small blob never starts a multipart upload"
        );
        writer
            .append(&bytes[PART_SIZE as usize - 1..])
            .await
            .unwrap();
        assert_eq!(
            writer.parts_end,
            2 * PART_SIZE,
            "both full parts were started"
        );
        assert!(!writer.streaming_failed);
        writer.finish().await.unwrap();
        assert!(objects.read("ab12").await.unwrap() == bytes);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_stream_is_uploaded_whole_at_finish() {
        let Some(server) = S3Server::start_or_skip() else {
            return;
        };
        let spool = tempfile::tempdir().unwrap();
        let objects = blobs(&server, spool.path());
        let bytes = pattern(PART_SIZE + 10);
        let mut writer = objects.create("cd34").await.unwrap();
        writer.append(&bytes).await.unwrap();
        writer.streaming_failed = true; // as if a part upload had failed
        let info = writer.finish().await.unwrap();
        assert_eq!(info.bytes, bytes.len() as u64);
        assert!(objects.read("cd34").await.unwrap() == bytes);
        assert!(objects.spooled_ids().await.unwrap().is_empty());
    }
}
