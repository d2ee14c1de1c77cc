//! Recording blobs on the file system and on a real S3-compatible server (`s3s-fs`, started by
//! herald-testkit). Without `s3s-fs` installed the S3 tests are skipped with a message, unless
//! `CI` is set, where they fail.

use std::path::Path;

use herald_store::{BlobError, BlobStore, PART_SIZE, S3Options, SecretAccessKey};
use herald_testkit::S3Server;
use object_store::ObjectStoreExt;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ID: &str = "0123456789abcdef0123456789abcdef";
const OTHER: &str = "fedcba9876543210fedcba9876543210";

/// `len` pseudo-random bytes (standing in for ciphertext), the same for the same seed.
fn ciphertext(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// Appends `bytes` in chunks of `chunk` bytes.
async fn append_in_chunks(writer: &mut herald_store::BlobWriter, bytes: &[u8], chunk: usize) {
    for piece in bytes.chunks(chunk) {
        writer.append(piece).await.unwrap();
    }
}

// --- files ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_blobs_append_finish_read_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    let store = BlobStore::open(&format!("file://{}", root.display()), None).unwrap();
    let bytes = ciphertext(1, 100_000);

    let mut writer = store.create(ID).await.unwrap();
    assert_eq!(writer.id(), ID);
    append_in_chunks(&mut writer, &bytes, 16_000).await;
    let info = writer.finish().await.unwrap();

    let path = root.join("01").join(format!("{ID}.hrec"));
    assert_eq!(info.location, format!("file://{}", path.display()));
    assert_eq!(info.location, store.location(ID).unwrap());
    assert_eq!(info.bytes, bytes.len() as u64);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "stored as given, at its final name"
    );
    assert_eq!(store.read(ID).await.unwrap(), bytes);
    assert_eq!(store.spooled_ids().await.unwrap(), Vec::<String>::new());

    store.delete(ID).await.unwrap();
    assert!(!path.exists());
    assert!(matches!(
        store.read(ID).await,
        Err(BlobError::NotFound { .. })
    ));
    store
        .delete(ID)
        .await
        .expect("deleting a missing blob is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_blobs_are_created_exclusively() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::file(dir.path().to_path_buf());
    let mut writer = store.create(ID).await.unwrap();
    writer.append(b"first").await.unwrap();
    assert!(matches!(
        store.create(ID).await,
        Err(BlobError::Exists { .. })
    ));
    writer.finish().await.unwrap();
    assert!(matches!(
        store.create(ID).await,
        Err(BlobError::Exists { .. })
    ));
    assert_eq!(store.read(ID).await.unwrap(), b"first", "never overwritten");
    assert!(matches!(
        store.create("../../etc/passwd").await,
        Err(BlobError::InvalidId(_))
    ));
    assert!(matches!(
        store.read("ABCD").await,
        Err(BlobError::InvalidId(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_file_blob_is_readable_and_recovered_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::file(dir.path().to_path_buf());
    let intact = ciphertext(2, 40_000);
    let torn = ciphertext(3, 1_234);

    let mut writer = store.create(ID).await.unwrap();
    append_in_chunks(&mut writer, &intact, 10_000).await;
    writer.append(&torn).await.unwrap();
    drop(writer); // the process dies: no finish

    // Everything appended is there, unsynced or not.
    let partial = store.read(ID).await.unwrap();
    assert_eq!(partial.len(), intact.len() + torn.len());
    assert_eq!(&partial[..intact.len()], intact);

    assert!(matches!(
        store.recover(ID, partial.len() as u64 + 1, b"x").await,
        Err(BlobError::ShorterThanKept { .. })
    ));
    let info = store
        .recover(ID, intact.len() as u64, b"TRAILER")
        .await
        .unwrap();
    let mut expected = intact.clone();
    expected.extend_from_slice(b"TRAILER");
    assert_eq!(info.bytes, expected.len() as u64);
    assert_eq!(info.location, store.location(ID).unwrap());
    assert_eq!(store.read(ID).await.unwrap(), expected);

    assert!(matches!(
        store.recover(OTHER, 0, b"").await,
        Err(BlobError::NotFound { .. })
    ));
}

// --- S3 ---

fn s3_options(server: &S3Server, spool: &Path) -> S3Options {
    S3Options {
        endpoint: Some(server.endpoint()),
        region: S3Server::REGION.to_owned(),
        access_key_id: Some(S3Server::ACCESS_KEY_ID.to_owned()),
        secret_access_key: Some(SecretAccessKey::new(S3Server::SECRET_ACCESS_KEY.to_owned())),
        allow_http: true,
        spool_dir: spool.to_path_buf(),
    }
}

/// An S3 blob store on `server` under prefix `herald`, spooling to `spool`.
fn s3_store(server: &S3Server, spool: &Path) -> BlobStore {
    let location = format!("s3://{}/herald", S3Server::BUCKET);
    BlobStore::open(&location, Some(&s3_options(server, spool))).unwrap()
}

fn object_key(id: &str) -> String {
    format!("herald/{}/{id}.hrec", &id[..2])
}

/// The ETag s3s-fs gives the object: `<md5>-<parts>` when it was uploaded in parts.
async fn etag(server: &S3Server, id: &str) -> String {
    let client = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(S3Server::BUCKET)
        .with_region(S3Server::REGION)
        .with_endpoint(server.endpoint())
        .with_allow_http(true)
        .with_access_key_id(S3Server::ACCESS_KEY_ID)
        .with_secret_access_key(S3Server::SECRET_ACCESS_KEY)
        .build()
        .unwrap();
    let meta = client.head(&object_key(id).into()).await.unwrap();
    meta.e_tag.unwrap().trim_matches('"').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_small_blob_round_trips_and_deletes() {
    let Some(server) = S3Server::start_or_skip() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let store = s3_store(&server, spool.path());
    let bytes = ciphertext(4, 50_000);

    let mut writer = store.create(ID).await.unwrap();
    append_in_chunks(&mut writer, &bytes, 16_000).await;
    assert_eq!(
        store.spooled_ids().await.unwrap(),
        [ID],
        "spooled while written"
    );
    assert!(matches!(
        store.create(ID).await,
        Err(BlobError::Exists { .. })
    ));
    let debug = format!("{writer:?} {store:?}");
    assert!(!debug.contains(S3Server::SECRET_ACCESS_KEY), "{debug}");
    let info = writer.finish().await.unwrap();

    assert_eq!(
        info.location,
        format!("s3://{}/{}", S3Server::BUCKET, object_key(ID))
    );
    assert_eq!(info.bytes, bytes.len() as u64);
    let on_server = server.object_path(S3Server::BUCKET, &object_key(ID));
    assert_eq!(
        std::fs::read(on_server).unwrap(),
        bytes,
        "the server holds the object"
    );
    assert_eq!(store.spooled_ids().await.unwrap(), Vec::<String>::new());
    assert!(
        !spool.path().join(format!("{ID}.hrec")).exists(),
        "spool removed"
    );
    assert!(!etag(&server, ID).await.contains('-'), "a single PUT");
    assert_eq!(store.read(ID).await.unwrap(), bytes);
    assert!(matches!(
        store.create(ID).await,
        Err(BlobError::Exists { .. })
    ));

    store.delete(ID).await.unwrap();
    assert!(matches!(
        store.read(ID).await,
        Err(BlobError::NotFound { .. })
    ));
    store
        .delete(ID)
        .await
        .expect("deleting a missing blob is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_large_blob_goes_up_in_parts() {
    let Some(server) = S3Server::start_or_skip() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let store = s3_store(&server, spool.path());
    let bytes = ciphertext(5, 11 * 1024 * 1024);

    let mut writer = store.create(ID).await.unwrap();
    // An odd chunk size, so part boundaries fall inside appends.
    append_in_chunks(&mut writer, &bytes, 100_003).await;
    let info = writer.finish().await.unwrap();

    assert_eq!(info.bytes, bytes.len() as u64);
    let parts = bytes.len().div_ceil(PART_SIZE as usize);
    assert_eq!(parts, 3);
    assert!(
        etag(&server, ID).await.ends_with(&format!("-{parts}")),
        "uploaded as {parts} parts"
    );
    assert!(
        store.read(ID).await.unwrap() == bytes,
        "read back byte-equal"
    );
    assert_eq!(store.spooled_ids().await.unwrap(), Vec::<String>::new());
    store.delete(ID).await.unwrap();
    assert!(matches!(
        store.read(ID).await,
        Err(BlobError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_blob_recovers_from_its_spool() {
    let Some(server) = S3Server::start_or_skip() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let store = s3_store(&server, spool.path());
    let small = ciphertext(6, 30_000);
    // Larger than a part: its first part was already on its way when the process died.
    let large = ciphertext(7, PART_SIZE as usize + 300_000);

    for (id, intact) in [(ID, &small), (OTHER, &large)] {
        let mut writer = store.create(id).await.unwrap();
        append_in_chunks(&mut writer, intact, 65_536).await;
        writer.append(b"torn segm").await.unwrap();
        drop(writer); // the process dies: no finish
    }
    assert_eq!(store.spooled_ids().await.unwrap(), [ID, OTHER]);
    let partial = store.read(ID).await.unwrap();
    assert_eq!(partial.len(), small.len() + 9, "read from the spool");

    // A fresh store, as after a restart.
    let store = s3_store(&server, spool.path());
    for (id, intact) in [(ID, &small), (OTHER, &large)] {
        let info = store
            .recover(id, intact.len() as u64, b"TRAILER")
            .await
            .unwrap();
        let mut expected = intact.clone();
        expected.extend_from_slice(b"TRAILER");
        assert_eq!(info.bytes, expected.len() as u64);
        let on_server = server.object_path(S3Server::BUCKET, &object_key(id));
        assert!(
            std::fs::read(on_server).unwrap() == expected,
            "{id} uploaded"
        );
        assert!(store.read(id).await.unwrap() == expected);
    }
    assert_eq!(store.spooled_ids().await.unwrap(), Vec::<String>::new());
    assert!(matches!(
        store.recover(ID, 0, b"").await,
        Err(BlobError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_errors_never_show_the_secret() {
    let Some(server) = S3Server::start_or_skip() else {
        return;
    };
    let spool = tempfile::tempdir().unwrap();
    let wrong_secret = "wrong-secret-that-must-not-leak";
    let options = S3Options {
        secret_access_key: Some(SecretAccessKey::new(wrong_secret.to_owned())),
        ..s3_options(&server, spool.path())
    };
    let store =
        BlobStore::open(&format!("s3://{}/herald", S3Server::BUCKET), Some(&options)).unwrap();
    let error = store.read(ID).await.unwrap_err();
    assert!(matches!(error, BlobError::S3 { .. }), "{error:?}");
    let mut text = format!("{error:?} {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    assert!(text.contains(&object_key(ID)), "names the key: {text}");
    assert!(!text.contains(wrong_secret), "{text}");
    assert!(!format!("{options:?}").contains(wrong_secret));
}
