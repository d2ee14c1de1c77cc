//! Fetching what VoiceXML sessions ask for: documents, scripts, grammars and data, from
//! `file:` URIs and over HTTP(S), with a cache shared by every session.
//!
//! Documents are parsed once per version and shared (`Arc<Document>`); a file is re-read when
//! its modification time or size changes; an HTTP response is reused while its
//! `Cache-Control: max-age` holds and revalidated with `If-None-Match` / `If-Modified-Since`
//! after. Submissions (`<submit>`, POST, parameters) are never cached. Responses are capped in
//! size, and a document fetched over the network may not read local files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use herald_ivr::{Document, FetchError, FetchKind, FetchRequest, Fetched, Method};

/// The largest resource a session may fetch.
pub const MAX_BYTES: usize = 4 << 20;

/// A cached resource.
#[derive(Clone)]
struct Entry {
    body: Arc<str>,
    document: Option<Arc<Document>>,
    /// For files: modification time and size; for HTTP: validators.
    version: Version,
    fresh_until: Option<Instant>,
}

#[derive(Clone, PartialEq, Eq)]
enum Version {
    File {
        modified: Option<SystemTime>,
        len: u64,
    },
    Http {
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// The shared fetcher.
pub struct Fetcher {
    client: reqwest::Client,
    cache: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn new() -> anyhow::Result<Self> {
        // reqwest is built without a default TLS provider: Herald uses ring everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION"), " (VoiceXML)"))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        Ok(Self {
            client,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Answers one request, within its timeout.
    pub async fn fetch(&self, request: &FetchRequest) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(request.timeout, self.fetch_untimed(request)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn fetch_untimed(&self, request: &FetchRequest) -> Result<Fetched, FetchError> {
        let url = url::Url::parse(&request.uri)
            .map_err(|e| FetchError::Failed(format!("{}: {e}", request.uri)))?;
        // Only a local document (or the session's first, from the dialplan) may read files.
        let remote_referrer = request
            .referrer
            .as_deref()
            .is_some_and(|r| url::Url::parse(r).map_or(true, |u| u.scheme() != "file"));
        let entry = match url.scheme() {
            "file" if remote_referrer => {
                return Err(FetchError::Failed(format!(
                    "{}: a document fetched over the network may not read local files",
                    request.uri
                )));
            }
            "file" => self.file(&url).await?,
            "http" | "https" => self.http(request, url).await?,
            other => {
                return Err(FetchError::Failed(format!(
                    "{}: unsupported URI scheme {other:?}",
                    request.uri
                )));
            }
        };
        match request.kind {
            FetchKind::Document => {
                let document = match entry.document {
                    Some(document) => document,
                    None => self.parse_and_cache(&request.uri, entry)?,
                };
                Ok(Fetched::Document(document))
            }
            _ => Ok(Fetched::Text(entry.body.to_string())),
        }
    }

    fn parse_and_cache(&self, uri: &str, mut entry: Entry) -> Result<Arc<Document>, FetchError> {
        let document = Arc::new(
            Document::parse(uri, &entry.body).map_err(|e| FetchError::Failed(e.to_string()))?,
        );
        entry.document = Some(document.clone());
        if let Ok(mut cache) = self.cache.lock() {
            // Only the entry this version came from is updated.
            if let Some(current) = cache.get_mut(uri)
                && current.version == entry.version
            {
                current.document = Some(document.clone());
            }
        }
        Ok(document)
    }

    fn cached(&self, key: &str) -> Option<Entry> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    fn store(&self, key: &str, entry: &Entry) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 1024 {
                cache.clear();
            }
            cache.insert(key.to_owned(), entry.clone());
        }
    }

    async fn file(&self, url: &url::Url) -> Result<Entry, FetchError> {
        let path = url
            .to_file_path()
            .map_err(|_| FetchError::Failed(format!("{url}: not a local file path")))?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| FetchError::Failed(format!("{}: {e}", path.display())))?;
        if meta.len() > MAX_BYTES as u64 {
            return Err(FetchError::Failed(format!(
                "{}: larger than {MAX_BYTES} bytes",
                path.display()
            )));
        }
        let version = Version::File {
            modified: meta.modified().ok(),
            len: meta.len(),
        };
        let key = url.as_str();
        if let Some(entry) = self.cached(key)
            && entry.version == version
        {
            return Ok(entry);
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| FetchError::Failed(format!("{}: {e}", path.display())))?;
        let body = String::from_utf8(bytes)
            .map_err(|_| FetchError::Failed(format!("{}: not UTF-8 text", path.display())))?;
        let entry = Entry {
            body: body.into(),
            document: None,
            version,
            fresh_until: None,
        };
        self.store(key, &entry);
        Ok(entry)
    }

    async fn http(&self, request: &FetchRequest, mut url: url::Url) -> Result<Entry, FetchError> {
        let cacheable = request.method == Method::Get && request.params.is_empty();
        let cached = if cacheable {
            self.cached(url.as_str())
        } else {
            None
        };
        if let Some(entry) = &cached
            && entry.fresh_until.is_some_and(|t| t > Instant::now())
        {
            return Ok(entry.clone());
        }
        let key = url.as_str().to_owned();
        let builder = match request.method {
            Method::Get => {
                if !request.params.is_empty() {
                    url.query_pairs_mut().extend_pairs(&request.params);
                }
                self.client.get(url)
            }
            Method::Post => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&request.params)
                    .finish();
                self.client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
        };
        let builder = match cached.as_ref().map(|e| &e.version) {
            Some(Version::Http {
                etag,
                last_modified,
            }) => {
                let mut b = builder;
                if let Some(etag) = etag {
                    b = b.header("if-none-match", etag);
                }
                if let Some(lm) = last_modified {
                    b = b.header("if-modified-since", lm);
                }
                b
            }
            _ => builder,
        };
        let mut response = builder
            .send()
            .await
            .map_err(|e| FetchError::Failed(format!("{}: {}", request.uri, e.without_url())))?;
        let status = response.status();
        let max_age = max_age(response.headers());
        let no_store = response
            .headers()
            .get_all("cache-control")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
            });
        if status == reqwest::StatusCode::NOT_MODIFIED
            && let Some(mut entry) = cached
        {
            entry.fresh_until = max_age.map(|age| Instant::now() + age);
            self.store(&key, &entry);
            return Ok(entry);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let version = Version::Http {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Failed(format!("{}: {}", request.uri, e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(FetchError::Failed(format!(
                    "{}: larger than {MAX_BYTES} bytes",
                    request.uri
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body)
            .map_err(|_| FetchError::Failed(format!("{}: not UTF-8 text", request.uri)))?;
        let entry = Entry {
            body: body.into(),
            document: None,
            version,
            fresh_until: max_age.map(|age| Instant::now() + age),
        };
        if cacheable && !no_store {
            self.store(&key, &entry);
        }
        Ok(entry)
    }
}

/// `Cache-Control: max-age`, unless `no-store`/`no-cache`.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get("cache-control")?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return None;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            age = seconds.trim().parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age
}

/// The `file:` URI of a local path (made absolute), or an `http(s)` URL as given.
pub fn document_uri(doc: &str) -> anyhow::Result<String> {
    if doc.starts_with("http://") || doc.starts_with("https://") || doc.starts_with("file:") {
        url::Url::parse(doc)?;
        return Ok(doc.to_owned());
    }
    let path = std::path::Path::new(doc);
    let absolute =
        std::fs::canonicalize(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    url::Url::from_file_path(&absolute)
        .map(String::from)
        .map_err(|_| anyhow::anyhow!("{}: not a usable path", absolute.display()))
}
