//! SIP over TLS against the real binary: a certificate and key from the config, a rustls
//! client that trusts only that certificate, OPTIONS and a REGISTER challenge answered on the
//! same connection (connection reuse), and a handshake that never completes does not stop
//! other clients.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Option<Server> {
    let dir = tempfile::tempdir().unwrap();
    if !common::make_certificate(dir.path()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is needed for the TLS test"
        );
        eprintln!("skipped: openssl not available");
        return None;
    }
    let port = free_port();
    let rtp = 20000 + (port % 1000) * 10;
    let config = format!(
        "data_dir = \"{d}\"\n[sip]\nlisten = [\"tls:127.0.0.1:{port}\"]\ndomain = \"herald.test\"\n\
         tls_certificate = \"{d}/cert.pem\"\ntls_private_key = \"{d}/key.pem\"\n\
         [media]\nrtp_port_min = {rtp}\nrtp_port_max = {}\n\
         [recorder]\nenabled = false\n[api]\nlisten = \"127.0.0.1:0\"\n\
         [[users]]\nusername = \"alice\"\nha1_md5 = \"{}\"\n",
        rtp + 8,
        "0123456789abcdef0123456789abcdef",
        d = dir.path().display(),
    );
    std::fs::write(dir.path().join("herald.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--config"])
        .arg(dir.path().join("herald.toml"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("herald is serving") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("herald did not start serving within 30 s");
    Some(Server {
        child,
        port,
        _dir: dir,
    })
}

fn client_config(cert: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Reads one SIP response (headers and Content-Length body) from the stream.
fn read_response(stream: &mut impl Read) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read from herald");
        assert!(n > 0, "connection closed before a response");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head
}

fn request(method: &str, port: u16, branch: &str, cseq: u32) -> String {
    format!(
        "{method} sip:herald.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@herald.test>;tag=t1\r\nTo: <sip:alice@herald.test>\r\n\
         Call-ID: tls-{branch}@127.0.0.1\r\nCSeq: {cseq} {method}\r\nContact: <sips:alice@127.0.0.1:{port}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn options_and_register_over_tls_on_one_connection() {
    let Some(server) = start() else { return };
    // A client that opens TCP and never starts the handshake must not block anyone.
    let _stalled = TcpStream::connect(("127.0.0.1", server.port)).unwrap();

    let config = client_config(&server._dir.path().join("cert.pem"));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);

    tls.write_all(request("OPTIONS", server.port, "opt1", 1).as_bytes())
        .unwrap();
    let ok = read_response(&mut tls);
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("\r\nAllow: ") && ok.contains("REGISTER"),
        "{ok}"
    );
    assert!(ok.contains("branch=z9hG4bKopt1"), "{ok}");

    tls.write_all(request("REGISTER", server.port, "reg1", 2).as_bytes())
        .unwrap();
    let challenge = read_response(&mut tls);
    assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
    assert!(
        challenge.contains("WWW-Authenticate: Digest realm=\"herald.test\""),
        "{challenge}"
    );
}
