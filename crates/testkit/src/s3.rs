//! A real, throwaway S3-compatible server for tests: `s3s-fs`, which stores objects as files
//! and checks AWS signature V4 on every request.
//!
//! Install it with `cargo install s3s-fs --version 0.14.1 --features binary --locked`.
//!
//! Lifecycle: find `s3s-fs` on `PATH` → make a temporary root directory with one bucket
//! directory in it ([`S3Server::BUCKET`]) → run `s3s-fs` on 127.0.0.1, port 0 (the kernel picks
//! a free one: no race with other tests), with fixed credentials ([`S3Server::ACCESS_KEY_ID`],
//! [`S3Server::SECRET_ACCESS_KEY`]) → wait for the line it logs once its listener is bound,
//! which names the port (at most [`READY_TIMEOUT`]; an exit ends the wait at once). On drop the
//! server is killed and the directory removed.

use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::error_chain;

/// The program started.
const PROGRAM: &str = "s3s-fs";
/// How long the server may take to bind its listener.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// What `s3s-fs` logs (at `info`) once its listener is bound, followed by its address.
const READY_LINE: &str = "server is running at http://";

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
    /// The server did not bind its listener in time.
    #[error("s3s-fs was not listening after {waited:?}; its output:\n{log}")]
    NotReady {
        /// How long we waited.
        waited: Duration,
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
        let ready = server.spawn_server()?;
        server.wait_until_ready(&ready)?;
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

    /// Starts `s3s-fs` on port 0; the receiver gets the port it bound.
    fn spawn_server(&mut self) -> Result<mpsc::Receiver<u16>, S3ServerError> {
        let log = File::create(self.log_path()).map_err(io_error("create the server log"))?;
        let log_err = log.try_clone().map_err(io_error("share the server log"))?;
        let mut child = Command::new(&self.program)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", Self::ACCESS_KEY_ID])
            .args(["--secret-key", Self::SECRET_ACCESS_KEY])
            .arg(self.data_dir())
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_err)
            .spawn()
            .map_err(io_error("start s3s-fs"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        self.server = Some(child);
        Ok(follow_log(stdout, log))
    }

    /// Waits for the listening line (its port), the server's exit, or [`READY_TIMEOUT`].
    fn wait_until_ready(&mut self, ready: &mpsc::Receiver<u16>) -> Result<(), S3ServerError> {
        match ready.recv_timeout(READY_TIMEOUT) {
            Ok(port) => {
                self.port = port;
                Ok(())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(S3ServerError::NotReady {
                waited: READY_TIMEOUT,
                log: self.log(),
            }),
            // Its output ended without the line: it exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = match self.server.as_mut() {
                    Some(child) => child.wait().map_err(io_error("wait for s3s-fs"))?,
                    None => {
                        return Err(S3ServerError::NotReady {
                            waited: Duration::ZERO,
                            log: self.log(),
                        });
                    }
                };
                Err(S3ServerError::Exited {
                    status,
                    log: self.log(),
                })
            }
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

/// Copies the server's output into the log file and sends the port of the listening line.
fn follow_log(stdout: std::process::ChildStdout, mut file: File) -> mpsc::Receiver<u16> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut tx = Some(tx);
        for line in io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            if let Some(port) = listening_port(&line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(port);
            }
        }
    });
    rx
}

/// The port in `... server is running at http://127.0.0.1:PORT`.
fn listening_port(line: &str) -> Option<u16> {
    let (_, address) = line.split_once(READY_LINE)?;
    address.trim().rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};

    use super::*;

    #[test]
    fn the_listening_line_names_the_port() {
        let line =
            "  2026-11-23T05:08:08Z  INFO s3s_fs: server is running at http://127.0.0.1:39123";
        assert_eq!(listening_port(line), Some(39123));
        assert_eq!(
            listening_port("INFO s3s_fs: authentication is enabled"),
            None
        );
    }

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
            TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_err(),
            "the server is gone after drop"
        );
    }
}
