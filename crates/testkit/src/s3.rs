//! A real, throwaway S3-compatible server for tests: `s3s-fs`, which stores objects as files
//! and checks AWS signature V4 on every request.
//!
//! Install it with `cargo install s3s-fs --version 0.14.1 --features binary --locked`.
//!
//! Lifecycle: find `s3s-fs` on `PATH` → make a temporary root directory with one bucket
//! directory in it ([`S3Server::BUCKET`]) → run `s3s-fs` on 127.0.0.1 and a free port with fixed
//! credentials ([`S3Server::ACCESS_KEY_ID`], [`S3Server::SECRET_ACCESS_KEY`]) → poll a TCP
//! connect to that port (at most [`READY_ATTEMPTS`] attempts, [`READY_POLL`] apart, bailing out
//! early if the server exits). On drop the server is killed and the directory removed.

use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::free_loopback_tcp_port;

/// The program started.
const PROGRAM: &str = "s3s-fs";
/// How many times readiness is polled before giving up (with [`READY_POLL`]: about 30 s).
pub const READY_ATTEMPTS: u32 = 600;
/// The pause between two readiness polls.
pub const READY_POLL: Duration = Duration::from_millis(50);
/// How long one TCP connect attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How often to retry on a fresh port when another process took ours.
const PORT_ATTEMPTS: usize = 3;

/// Why an [`S3Server`] could not be started.
#[derive(Debug, thiserror::Error)]
pub enum S3ServerError {
    /// `s3s-fs` is not on `PATH`.
    #[error(
        "s3s-fs is not installed (not on PATH): \
         cargo install s3s-fs --version 0.14.1 --features binary --locked"
    )]
    NotInstalled,
    /// A file system operation or starting the program failed.
    #[error("{action}")]
    Io {
        /// What we were doing.
        action: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The server exited while starting.
    #[error("s3s-fs exited during startup ({status}); its output:\n{log}")]
    Exited {
        /// How it exited.
        status: ExitStatus,
        /// What it printed.
        log: String,
    },
    /// The server did not accept connections in time.
    #[error("s3s-fs did not accept connections after {attempts} attempts; its output:\n{log}")]
    NotReady {
        /// How many connects were tried.
        attempts: u32,
        /// What it printed.
        log: String,
    },
}

/// A running `s3s-fs` on 127.0.0.1 serving a temporary directory, killed and removed on drop.
#[derive(Debug)]
pub struct S3Server {
    program: PathBuf,
    port: u16,
    server: Option<Child>,
    // Declared last: removed after `Drop::drop` has stopped the server.
    dir: TempDir,
}

impl S3Server {
    /// The bucket that exists from the start.
    pub const BUCKET: &'static str = "herald-test";
    /// The access key id the server accepts.
    pub const ACCESS_KEY_ID: &'static str = "herald-test-access-key";
    /// The secret access key the server accepts (a test value, not a secret).
    pub const SECRET_ACCESS_KEY: &'static str = "herald-test-secret-key-0123456789";
    /// The region to sign requests for (s3s-fs accepts any).
    pub const REGION: &'static str = "us-east-1";

    /// Starts a server with the empty bucket [`S3Server::BUCKET`]. Blocks until it accepts
    /// connections.
    pub fn start() -> Result<S3Server, S3ServerError> {
        let program = find_on_path(PROGRAM).ok_or(S3ServerError::NotInstalled)?;
        let dir = tempfile::Builder::new()
            .prefix("herald-s3-")
            .tempdir()
            .map_err(io_error("create a temporary directory"))?;
        let mut server = S3Server {
            program,
            port: 0,
            server: None,
            dir,
        };
        fs::create_dir(server.data_dir()).map_err(io_error("create the data directory"))?;
        server.create_bucket(Self::BUCKET)?;
        server.run_on_free_port()?;
        Ok(server)
    }

    /// For tests: the started server; or, when `s3s-fs` is not installed and the `CI`
    /// environment variable is unset, `None` after printing why the test is skipped. Panics on
    /// every other failure, and on a missing installation under CI.
    pub fn start_or_skip() -> Option<S3Server> {
        match S3Server::start() {
            Ok(server) => Some(server),
            Err(e @ S3ServerError::NotInstalled) if std::env::var_os("CI").is_none() => {
                eprintln!("skipping the S3 part of this test: {e} (with CI set this fails)");
                None
            }
            Err(e) => panic!("cannot start s3s-fs: {}", error_chain(&e)),
        }
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory the server stores buckets in: one directory per bucket, one file per
    /// object (at its key's path).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where object `key` of `bucket` lives on disk (whether or not it exists).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.data_dir().join(bucket).join(key)
    }

    /// Creates another, empty bucket (a directory under [`data_dir`](Self::data_dir)).
    pub fn create_bucket(&self, name: &str) -> Result<(), S3ServerError> {
        fs::create_dir(self.data_dir().join(name))
            .map_err(io_error(format!("create bucket directory {name}")))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("s3s-fs.log")
    }

    /// Runs the server, on a fresh port again if another process took the one we picked
    /// before the server could bind it.
    fn run_on_free_port(&mut self) -> Result<(), S3ServerError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_loopback_tcp_port().map_err(io_error("find a free port"))?;
            self.spawn_server()?;
            match self.wait_until_ready() {
                Err(S3ServerError::Exited { .. }) if attempt < PORT_ATTEMPTS => {
                    self.server = None;
                }
                outcome => return outcome,
            }
        }
    }

    fn spawn_server(&mut self) -> Result<(), S3ServerError> {
        let log = File::create(self.log_path()).map_err(io_error("create the server log"))?;
        let log_err = log.try_clone().map_err(io_error("share the server log"))?;
        let child = Command::new(&self.program)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", Self::ACCESS_KEY_ID])
            .args(["--secret-key", Self::SECRET_ACCESS_KEY])
            .arg(self.data_dir())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io_error("start s3s-fs"))?;
        self.server = Some(child);
        Ok(())
    }

    /// Polls a TCP connect until the server accepts one, exits, or [`READY_ATTEMPTS`] run out.
    fn wait_until_ready(&mut self) -> Result<(), S3ServerError> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        for _ in 0..READY_ATTEMPTS {
            if let Some(status) = self.exit_status()? {
                return Err(S3ServerError::Exited {
                    status,
                    log: self.log(),
                });
            }
            if TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).is_ok() {
                return Ok(());
            }
            thread::sleep(READY_POLL);
        }
        Err(S3ServerError::NotReady {
            attempts: READY_ATTEMPTS,
            log: self.log(),
        })
    }

    fn exit_status(&mut self) -> Result<Option<ExitStatus>, S3ServerError> {
        match self.server.as_mut() {
            Some(child) => child.try_wait().map_err(io_error("poll s3s-fs")),
            None => Ok(None),
        }
    }

    fn log(&self) -> String {
        let mut text = String::new();
        match File::open(self.log_path()).and_then(|mut f| f.read_to_string(&mut text)) {
            Ok(_) => text,
            Err(e) => format!("(no log: {e})"),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first executable file called `name` in a directory of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> S3ServerError {
    let action = action.into();
    move |source| S3ServerError::Io { action, source }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_missing_from_path_is_not_found() {
        assert_eq!(find_on_path("herald-no-such-program-anywhere"), None);
    }

    #[test]
    fn serves_on_loopback_and_goes_away_on_drop() {
        let Some(server) = S3Server::start_or_skip() else {
            return;
        };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()));
        TcpStream::connect(address).expect("the server accepts connections");
        assert!(server.data_dir().join(S3Server::BUCKET).is_dir());
        assert!(server.endpoint().starts_with("http://127.0.0.1:"));
        let root = server.data_dir();
        drop(server);
        assert!(!root.exists(), "the data directory is removed on drop");
        assert!(
            TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).is_err(),
            "the server is gone after drop"
        );
    }
}
