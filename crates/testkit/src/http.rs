//! A tiny HTTP/1.1 file server on 127.0.0.1, for tests that fetch documents over HTTP.
//!
//! [`FileServer::start`] serves one directory on an ephemeral loopback port until the server
//! is dropped. `GET` and `HEAD` return a file; `POST` to a file returns the file too, the way
//! a static web server answers a form submitted to a static page (the W3C VoiceXML tests
//! rely on that for `<submit>`). Every request is logged ([`FileServer::requests`]).
//!
//! What it does not do: directory listings, ranges, conditional requests, chunked request
//! bodies (answered with 411), keep-alive (every response closes its connection), anything
//! outside the served directory: `..` segments and symbolic links leading out are answered
//! with 404. The query and fragment of a request target are ignored when choosing the file.
//!
//! Threads: one accepting thread plus one short-lived thread per connection. A connection
//! that stalls is dropped after [`IO_TIMEOUT`]; dropping the server stops accepting and
//! closes the listening socket before `drop` returns.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long one connection may stall in a read or a write before it is dropped.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// One request the server answered, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRequest {
    /// The method as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The request target as sent, query included (`/a.vxml?x=1`).
    pub target: String,
    /// The status code of the answer.
    pub status: u16,
    /// The request body (empty for most `GET`s).
    pub body: Vec<u8>,
}

/// A file server for one directory on `127.0.0.1`; stops when dropped.
#[derive(Debug)]
pub struct FileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<ServedRequest>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Serves `root` (which must be a directory) on an ephemeral port of 127.0.0.1.
    pub fn start(root: impl AsRef<Path>) -> io::Result<FileServer> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, log) = (Arc::clone(&stop), Arc::clone(&log));
            std::thread::Builder::new()
                .name(format!("http-files-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &root, &stop, &log))?
        };
        Ok(FileServer {
            addr,
            stop,
            log,
            acceptor: Some(acceptor),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/` followed by `path` (without its leading `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The requests answered so far, in arrival order.
    pub fn requests(&self) -> Vec<ServedRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so that it sees the flag; if the connect fails the
        // acceptor is already gone.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    root: &Path,
    stop: &AtomicBool,
    log: &Arc<Mutex<Vec<ServedRequest>>>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (root, log) = (root.to_path_buf(), Arc::clone(log));
        let spawned = std::thread::Builder::new()
            .name("http-files-conn".into())
            .spawn(move || serve_connection(stream, &root, &log));
        // Out of threads: the connection is dropped, which the client sees as a reset.
        drop(spawned);
    }
}

/// A parsed request: method, target and body.
struct Request {
    method: String,
    target: String,
    body: Vec<u8>,
}

/// An answer before it is written.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    fn error(status: u16) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{} {}\n", status, reason(status)).into_bytes(),
        }
    }
}

/// Reads one request, logs it, answers it and closes the connection. The log entry is made
/// before the answer is written, so a client that has its answer finds its request logged.
/// Nothing is logged when nothing usable arrived (the client went away or stalled before
/// the end of the head).
fn serve_connection(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<ServedRequest>>) {
    if stream.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    let (request, response) = match read_request(&mut stream) {
        Ok(request) => {
            let response = answer(&request, root);
            (request, response)
        }
        Err(RequestError::Io) => return,
        Err(RequestError::Refused(status, method, target)) => {
            let request = Request {
                method,
                target,
                body: Vec::new(),
            };
            (request, Response::error(status))
        }
    };
    let with_body = request.method != "HEAD";
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(ServedRequest {
            method: request.method,
            target: request.target,
            status: response.status,
            body: request.body,
        });
    let _ = write_response(&mut stream, &response, with_body);
}

enum RequestError {
    /// The connection failed or closed before a complete request.
    Io,
    /// A request to answer with this status (method and target as far as they were read).
    Refused(u16, String, String),
}

fn read_request(stream: &mut TcpStream) -> Result<Request, RequestError> {
    let mut buf = Vec::with_capacity(1024);
    let head_len = read_head(stream, &mut buf)?;
    let mut body = buf.split_off(head_len + 4);
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| RequestError::Refused(400, String::new(), String::new()))?;
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or_default().split(' ');
    let (method, target, version) = (words.next(), words.next(), words.next());
    let (Some(method), Some(target), Some(version), None) = (method, target, version, words.next())
    else {
        return Err(RequestError::Refused(400, String::new(), String::new()));
    };
    let refuse = |status| RequestError::Refused(status, method.to_owned(), target.to_owned());
    if !version.starts_with("HTTP/1.") {
        return Err(refuse(505));
    }
    let mut content_length = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| refuse(400))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().map_err(|_| refuse(400))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(refuse(411));
        }
    }
    if content_length > MAX_BODY {
        return Err(refuse(413));
    }
    body.truncate(content_length);
    if body.len() < content_length {
        let already = body.len();
        body.resize(content_length, 0);
        stream
            .read_exact(&mut body[already..])
            .map_err(|_| RequestError::Io)?;
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        body,
    })
}

/// Reads until the blank line that ends the head; returns the head's length (without the
/// blank line). Bytes after it stay in `buf`.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, RequestError> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(end);
        }
        if buf.len() > MAX_HEAD {
            return Err(RequestError::Refused(431, String::new(), String::new()));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(RequestError::Io),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn answer(request: &Request, root: &Path) -> Response {
    if !matches!(request.method.as_str(), "GET" | "HEAD" | "POST") {
        return Response::error(405);
    }
    let Some(path) = file_for_target(&request.target, root) else {
        return Response::error(404);
    };
    match std::fs::read(&path) {
        Ok(body) => Response {
            status: 200,
            content_type: content_type(&path),
            body,
        },
        Err(_) => Response::error(404),
    }
}

/// The regular file under `root` that `target` names, if any. Refuses `..` segments,
/// backslashes, NULs and symbolic links that lead out of `root`.
fn file_for_target(target: &str, root: &Path) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?.strip_prefix('/')?;
    let decoded = percent_decode(path)?;
    let mut file = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            s if s.contains(['\\', '\0']) => return None,
            s => file.push(s),
        }
    }
    let file = file.canonicalize().ok()?;
    (file.starts_with(root) && file.is_file()).then_some(file)
}

/// `%XX` decoding; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The media type for a file, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        // `.txml` is the W3C VoiceXML tests' source extension; a test that serves files under
        // it serves them transformed, as VoiceXML.
        Some("vxml" | "txml") => "application/voicexml+xml",
        Some("grxml") => "application/srgs+xml",
        Some("js") => "text/javascript",
        Some("wav") => "audio/wav",
        Some("au") => "audio/basic",
        Some("xml") => "application/xml",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

fn write_response(stream: &mut TcpStream, response: &Response, with_body: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    if response.status == 405 {
        head.push_str("Allow: GET, HEAD, POST\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A served directory `site/` inside a temporary directory that also holds `secret.txt`
    /// next to it, outside what is served.
    fn site() -> (tempfile::TempDir, FileServer) {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("sub")).unwrap();
        std::fs::write(site.join("a.vxml"), "<vxml/>").unwrap();
        std::fs::write(site.join("g.grxml"), "<grammar/>").unwrap();
        std::fs::write(site.join("s.js"), "var x = 1;").unwrap();
        std::fs::write(site.join("t.wav"), b"RIFF").unwrap();
        std::fs::write(site.join("sub/b c.vxml"), "<vxml>b</vxml>").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        let server = FileServer::start(&site).unwrap();
        (dir, server)
    }

    /// Sends `raw` and returns (status code, head, body) of the answer.
    fn exchange(server: &FileServer, raw: &[u8]) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.write_all(raw).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(answer[..end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        (status, head, answer[end + 4..].to_vec())
    }

    fn get(server: &FileServer, target: &str) -> (u16, String, Vec<u8>) {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        exchange(server, raw.as_bytes())
    }

    #[test]
    fn get_serves_files_with_their_media_types() {
        let (_dir, server) = site();
        let (status, head, body) = get(&server, "/a.vxml");
        assert_eq!(status, 200);
        assert!(
            head.contains("Content-Type: application/voicexml+xml\r\n"),
            "{head}"
        );
        assert!(head.contains("Content-Length: 7\r\n"), "{head}");
        assert_eq!(body, b"<vxml/>");
        for (target, media_type) in [
            ("/g.grxml", "application/srgs+xml"),
            ("/s.js", "text/javascript"),
            ("/t.wav", "audio/wav"),
        ] {
            let (status, head, _) = get(&server, target);
            assert_eq!(status, 200, "{target}");
            assert!(
                head.contains(&format!("Content-Type: {media_type}\r\n")),
                "{head}"
            );
        }
    }

    #[test]
    fn query_fragment_and_escapes_are_understood() {
        let (_dir, server) = site();
        assert_eq!(get(&server, "/a.vxml?x=1&y=2").2, b"<vxml/>");
        assert_eq!(get(&server, "/sub/b%20c.vxml").2, b"<vxml>b</vxml>");
        assert_eq!(get(&server, "/./sub//b%20c.vxml#f").0, 200);
    }

    #[test]
    fn post_to_a_file_returns_the_file_and_is_logged_with_its_body() {
        let (_dir, server) = site();
        let raw = b"POST /a.vxml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nv=1&w";
        let (status, _, body) = exchange(&server, raw);
        assert_eq!(status, 200);
        assert_eq!(body, b"<vxml/>");
        let log = server.requests();
        assert_eq!(
            log,
            vec![ServedRequest {
                method: "POST".into(),
                target: "/a.vxml".into(),
                status: 200,
                body: b"v=1&w".to_vec(),
            }]
        );
    }

    #[test]
    fn head_has_no_body() {
        let (_dir, server) = site();
        let (status, head, body) = exchange(&server, b"HEAD /a.vxml HTTP/1.1\r\n\r\n");
        assert_eq!(status, 200);
        assert!(head.contains("Content-Length: 7\r\n"), "{head}");
        assert!(body.is_empty());
    }

    #[test]
    fn missing_files_directories_and_escapes_are_not_found() {
        let (_dir, server) = site();
        for target in [
            "/nope.vxml",
            "/sub",
            "/",
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/sub%5c..%5c..%5csecret.txt",
            "/%zz",
            "a.vxml",
        ] {
            let (status, _, body) = get(&server, target);
            assert_eq!(status, 404, "{target}");
            assert!(!body.starts_with(b"secret"), "{target}");
        }
        let logged: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
        assert_eq!(logged, vec![404; 10]);
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_the_root_are_not_followed() {
        let (dir, server) = site();
        let link = dir.path().join("site/leak.txt");
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), link).unwrap();
        assert_eq!(get(&server, "/leak.txt").0, 404);
    }

    #[test]
    fn bad_requests_are_refused() {
        let (_dir, server) = site();
        assert_eq!(exchange(&server, b"DELETE /a.vxml HTTP/1.1\r\n\r\n").0, 405);
        assert_eq!(exchange(&server, b"garbage\r\n\r\n").0, 400);
        assert_eq!(exchange(&server, b"GET /a.vxml SPDY/3\r\n\r\n").0, 505);
        let chunked = b"POST /a.vxml HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(exchange(&server, chunked).0, 411);
    }

    #[test]
    fn dropping_the_server_closes_its_port() {
        let (_dir, server) = site();
        let addr = server.addr();
        assert_eq!(server.url("/x.vxml"), format!("http://{addr}/x.vxml"));
        drop(server);
        assert!(TcpStream::connect(addr).is_err());
    }
}
