//! A real, throwaway PostgreSQL server for tests.
//!
//! Lifecycle: find the newest installed server binaries → `initdb` a cluster
//! into a temporary directory (trust authentication, superuser `postgres`) →
//! run `postgres` as a child process listening on 127.0.0.1 and a free port,
//! with its unix socket inside the temporary directory → wait for its ready log line
//! until the server accepts connections (at most [`READY_TIMEOUT`]) →
//! `createdb`. On drop: `pg_ctl stop -m immediate`, then the directory goes.
//!
//! initdb and postgres refuse to run as root; when the tests run as root (CI
//! containers) they run as the `postgres` system user through `runuser` (or
//! `setpriv`), and the temporary directory is handed to that user.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::system_user::{self, SystemUser};
use crate::{error_chain, free_loopback_tcp_port};

/// Where Debian installs PostgreSQL: one `<major version>/bin` per version.
const DEBIAN_INSTALL_ROOT: &str = "/usr/lib/postgresql";
/// How long the server may take to accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often readiness is polled.
/// What PostgreSQL logs once it accepts connections.
const READY_LINE: &str = "ready to accept connections";
/// How often to retry on a fresh port when another process took ours.
const PORT_ATTEMPTS: usize = 3;
/// The superuser initdb creates, and the user in [`PostgresServer::url`].
const SUPERUSER: &str = "postgres";
/// The database [`PostgresServer::start`] creates.
const DEFAULT_DATABASE: &str = "herald_test";

/// Why a [`PostgresServer`] could not be started.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// No server binaries found.
    #[error(
        "PostgreSQL is not installed: no {root}/<version>/bin/initdb \
         (Debian: apt-get install postgresql)"
    )]
    NotInstalled {
        /// Where we looked.
        root: PathBuf,
    },
    /// Running as root, but there is no `postgres` user to run the server as.
    #[error("running as root and there is no `postgres` system user to run PostgreSQL as")]
    NoPostgresUser,
    /// Running as root, but neither `runuser` nor `setpriv` is installed.
    #[error("running as root and neither runuser nor setpriv is installed")]
    NoUserSwitch,
    /// A file system operation or starting a program failed.
    #[error("{action}")]
    Io {
        /// What we were doing.
        action: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A program exited unsuccessfully.
    #[error("{program} failed ({status}):\n{output}")]
    Command {
        /// The program.
        program: String,
        /// How it exited.
        status: ExitStatus,
        /// What it printed.
        output: String,
    },
    /// The server exited while starting.
    #[error("postgres exited during startup ({status}); server log:\n{log}")]
    Exited {
        /// How it exited.
        status: ExitStatus,
        /// The server log.
        log: String,
    },
    /// The server did not accept connections in time.
    #[error("postgres did not accept connections within {waited:?}; server log:\n{log}")]
    NotReady {
        /// How long we waited.
        waited: Duration,
        /// The server log.
        log: String,
    },
}

/// A running PostgreSQL server in a temporary directory, stopped and removed
/// on drop.
#[derive(Debug)]
pub struct PostgresServer {
    bin_dir: PathBuf,
    run_as: Option<SystemUser>,
    port: u16,
    server: Option<Child>,
    /// Gets `()` when the server logs that it is ready; disconnects when its log ends.
    ready: Option<std::sync::mpsc::Receiver<()>>,
    // Declared last: dropped after `Drop::drop` has stopped the server.
    dir: TempDir,
}

impl PostgresServer {
    /// Starts a server with an empty database `herald_test`; see
    /// [`url`](Self::url). Blocks until it accepts connections.
    pub fn start() -> Result<PostgresServer, PostgresError> {
        let bin_dir = find_bin_dir(Path::new(DEBIAN_INSTALL_ROOT))?;
        let run_as = match system_user::running_as_root() {
            true => Some(system_user::lookup("postgres").ok_or(PostgresError::NoPostgresUser)?),
            false => None,
        };
        let dir = tempfile::Builder::new()
            .prefix("herald-pg-")
            .tempdir()
            .map_err(io_error("create a temporary directory"))?;
        let mut server = PostgresServer {
            bin_dir,
            run_as,
            port: 0,
            server: None,
            ready: None,
            dir,
        };
        server.prepare_dirs()?;
        server.initdb()?;
        server.run_on_free_port()?;
        server.create_database(DEFAULT_DATABASE)?;
        Ok(server)
    }

    /// For tests: the started server; or, when PostgreSQL is not installed
    /// and the `CI` environment variable is unset, `None` after printing
    /// why the test is skipped. Panics on every other failure, and on a
    /// missing installation under CI.
    pub fn start_or_skip() -> Option<PostgresServer> {
        match PostgresServer::start() {
            Ok(server) => Some(server),
            Err(e @ PostgresError::NotInstalled { .. }) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "skipping the PostgreSQL part of this test: {e} (with CI set this fails)"
                );
                None
            }
            Err(e) => panic!("cannot start PostgreSQL: {}", error_chain(&e)),
        }
    }

    /// The URL of the `herald_test` database, e.g.
    /// `postgres://postgres@127.0.0.1:41234/herald_test`.
    pub fn url(&self) -> String {
        self.database_url(DEFAULT_DATABASE)
    }

    /// The URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the cluster, its socket and its log;
    /// removed on drop.
    pub fn directory(&self) -> &Path {
        self.dir.path()
    }

    /// Creates another empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, PostgresError> {
        let mut createdb = self.client_command("createdb");
        createdb.arg(name);
        run(&mut createdb, "createdb")?;
        Ok(self.database_url(name))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Creates the socket directory and, as root, hands everything to the
    /// `postgres` user.
    fn prepare_dirs(&self) -> Result<(), PostgresError> {
        let socket_dir = self.socket_dir();
        fs::create_dir(&socket_dir).map_err(io_error("create the socket directory"))?;
        if let Some(user) = self.run_as {
            for dir in [self.dir.path(), &socket_dir] {
                chown(dir, Some(user.uid), Some(user.gid))
                    .map_err(io_error(format!("chown {} to postgres", dir.display())))?;
            }
        }
        Ok(())
    }

    fn initdb(&self) -> Result<(), PostgresError> {
        let mut initdb = self.server_command("initdb")?;
        initdb
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--username", SUPERUSER, "--auth", "trust"])
            .args(["--encoding", "UTF8", "--no-locale", "--no-sync"]);
        run(&mut initdb, "initdb")
    }

    /// Runs the server, on a fresh port again if another process took the
    /// one we picked before the server could bind it.
    fn run_on_free_port(&mut self) -> Result<(), PostgresError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_loopback_tcp_port().map_err(io_error("find a free port"))?;
            self.spawn_server()?;
            match self.wait_until_ready() {
                Err(PostgresError::Exited { log, .. })
                    if attempt < PORT_ATTEMPTS && log.contains("could not bind") =>
                {
                    self.server = None;
                }
                outcome => return outcome,
            }
        }
    }

    fn spawn_server(&mut self) -> Result<(), PostgresError> {
        let log = File::create(self.log_path()).map_err(io_error("create the server log"))?;
        let log_err = log.try_clone().map_err(io_error("share the server log"))?;
        let mut postgres = self.server_command("postgres")?;
        postgres
            .arg("-D")
            .arg(self.data_dir())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("port={}", self.port)])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.socket_dir().display()
            ))
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::piped());
        let mut child = postgres.spawn().map_err(io_error("start postgres"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        self.ready = Some(follow_log(stderr, log_err));
        self.server = Some(child);
        Ok(())
    }

    /// Waits for the server's "ready to accept connections" log line, its exit, or
    /// [`READY_TIMEOUT`], whichever comes first.
    fn wait_until_ready(&mut self) -> Result<(), PostgresError> {
        let ready = self
            .ready
            .take()
            .expect("wait_until_ready after spawn_server");
        match ready.recv_timeout(READY_TIMEOUT) {
            Ok(()) => Ok(()),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(PostgresError::NotReady {
                waited: READY_TIMEOUT,
                log: self.log(),
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = match self.server.as_mut() {
                    Some(child) => child.wait().map_err(io_error("wait for postgres"))?,
                    None => {
                        return Err(PostgresError::NotReady {
                            waited: Duration::ZERO,
                            log: self.log(),
                        });
                    }
                };
                Err(PostgresError::Exited {
                    status,
                    log: self.log(),
                })
            }
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// A command for a server program (initdb, postgres, pg_ctl): as the
    /// `postgres` user when we are root.
    fn server_command(&self, program: &str) -> Result<Command, PostgresError> {
        let program = self.bin_dir.join(program);
        let mut command = match self.run_as {
            None => Command::new(program),
            Some(user) => as_user(user, &program)?,
        };
        command.current_dir(self.dir.path());
        clear_pg_environment(&mut command);
        Ok(command)
    }

    /// A command for a client program, connecting over TCP as the superuser.
    fn client_command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .current_dir(self.dir.path())
            .args(["--host", "127.0.0.1", "--username", SUPERUSER])
            .args(["--port", &self.port.to_string()]);
        clear_pg_environment(&mut command);
        command
    }

    fn stop(&mut self) -> Result<(), PostgresError> {
        let mut pg_ctl = self.server_command("pg_ctl")?;
        pg_ctl
            .arg("stop")
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--mode", "immediate", "--wait"]);
        run(&mut pg_ctl, "pg_ctl stop")
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let still_running = matches!(child.try_wait(), Ok(None));
        if still_running && let Err(e) = self.stop() {
            eprintln!("testkit: {}; killing postgres", error_chain(&e));
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

/// The `bin` directory of the highest PostgreSQL version under `root`.
/// Copies the server's log into `file` and signals once the ready line appears.
fn follow_log(stderr: std::process::ChildStderr, mut file: File) -> std::sync::mpsc::Receiver<()> {
    use std::io::{BufRead, Write};
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut tx = Some(tx);
        for line in io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            if line.contains(READY_LINE)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    rx
}

fn find_bin_dir(root: &Path) -> Result<PathBuf, PostgresError> {
    let not_installed = || PostgresError::NotInstalled {
        root: root.to_path_buf(),
    };
    let entries = fs::read_dir(root).map_err(|_| not_installed())?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_key(&entry.file_name().to_string_lossy())?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
        .ok_or_else(not_installed)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// `program` run as `user`, through whichever of runuser and setpriv exists.
fn as_user(user: SystemUser, program: &Path) -> Result<Command, PostgresError> {
    let find = |name: &str| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|path| path.is_file())
    };
    if let Some(runuser) = find("runuser") {
        let mut command = Command::new(runuser);
        command.args(["-u", "postgres", "--"]).arg(program);
        return Ok(command);
    }
    if let Some(setpriv) = find("setpriv") {
        let mut command = Command::new(setpriv);
        command
            .arg(format!("--reuid={}", user.uid))
            .arg(format!("--regid={}", user.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        return Ok(command);
    }
    Err(PostgresError::NoUserSwitch)
}

/// Keeps the caller's `PGHOST`, `PGPORT`, `PGDATA`, ... from redirecting
/// our programs to another server.
fn clear_pg_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
}

fn run(command: &mut Command, program: &str) -> Result<(), PostgresError> {
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .stdin(Stdio::null())
        .output()
        .map_err(io_error(format!("run {program}")))?;
    if status.success() {
        return Ok(());
    }
    Err(PostgresError::Command {
        program: program.to_owned(),
        status,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    })
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> PostgresError {
    let action = action.into();
    move |source| PostgresError::Io { action, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert!(version_key("16") > version_key("15"));
        assert_eq!(version_key("15~beta"), None);
    }

    #[test]
    fn a_missing_installation_says_so() {
        let empty = tempfile::tempdir().unwrap();
        let error = find_bin_dir(empty.path()).unwrap_err();
        assert!(matches!(error, PostgresError::NotInstalled { .. }));
        assert!(error.to_string().contains("not installed"));
        let error = find_bin_dir(&empty.path().join("absent")).unwrap_err();
        assert!(matches!(error, PostgresError::NotInstalled { .. }));
    }

    #[test]
    fn picks_the_highest_version() {
        let root = tempfile::tempdir().unwrap();
        for version in ["9.6", "15", "13"] {
            let bin = root.path().join(version).join("bin");
            fs::create_dir_all(&bin).unwrap();
            File::create(bin.join("initdb")).unwrap();
        }
        fs::create_dir_all(root.path().join("17").join("bin")).unwrap(); // no initdb
        assert_eq!(
            find_bin_dir(root.path()).unwrap(),
            root.path().join("15").join("bin")
        );
    }
}
