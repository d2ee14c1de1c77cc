//! Shared harness for the black-box tests: the real `herald` binary on loopback.
//!
//! - [`HeraldConfig`] / [`Herald`]: writes a configuration into a temporary directory (free
//!   loopback ports, a private RTP range, its own data directory), starts `herald serve`,
//!   waits for the "herald is serving" log line (bounded), and kills the child on drop.
//! - [`Herald::calls`] / [`Herald::call`] / [`Herald::wait_for_calls`]: what herald recorded,
//!   read with `herald calls list/show --json` against the same configuration.
//! - [`Sipp`]: runs SIPp (`/usr/bin/sipp`) against 127.0.0.1 with a scenario from
//!   `tests/sipp/`, always bounded (`-m`, `-timeout`, `-timeout_error`, `-recv_timeout`,
//!   and a hard bound on the process).
//! - [`UdpPeer`]: a tiny SIP-over-UDP client for the cases SIPp cannot express
//!   (retransmitted requests, raw datagrams).
//!
//! Waiting is always for an event with a deadline: a log line, a datagram, a process exit.
//! Call records are re-read each time herald reports a committed batch of record writes
//! (its `herald::records` debug log line). Never a fixed sleep.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The herald binary under test.
pub const HERALD: &str = env!("CARGO_BIN_EXE_herald");
/// How long herald may take to print "herald is serving".
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a condition on the call records may take to become true.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(15);
/// The log line herald prints after committing call-record writes.
/// Logged (at debug, target `herald::records`) whenever call records or a recording's
/// metadata are committed.
const COMMITTED_LINE: &str = "records committed";

/// Where the harness keeps the recorder key it generates, beside the configuration.
const RECORDER_KEY: &str = "recorder.key";
/// Hard bound on any child program (SIPp, `herald calls`, `herald check`).
pub const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);
/// The log line that says herald has bound every listener.
const READY_LINE: &str = "herald is serving";

/// The repository root (`crates/herald/../..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A SIPp scenario file in `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    let path = repo_root().join("tests/sipp").join(name);
    assert!(path.is_file(), "missing SIPp scenario {}", path.display());
    path
}

/// Whether the `CI` environment variable is set: missing external tools then fail tests
/// instead of skipping them.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// `true` when SIPp is installed; otherwise prints why the test is skipped (panics under CI).
pub fn sipp_available() -> bool {
    let ok = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            !in_ci(),
            "SIPp is not installed (Debian: apt-get install sip-tester) and CI is set"
        );
        eprintln!("skipping: SIPp is not installed (Debian: apt-get install sip-tester)");
    }
    ok
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    herald_testkit::free_loopback_udp_port().expect("a free UDP port on 127.0.0.1")
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    herald_testkit::free_loopback_tcp_port().expect("a free TCP port on 127.0.0.1")
}

/// A configured user: name and plaintext password.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub password: String,
    /// `srtp`: Herald offers SRTP (SDES) when it calls this user's phone.
    pub srtp: bool,
}

impl User {
    pub fn new(name: &str, password: &str) -> Self {
        Self {
            name: name.to_owned(),
            password: password.to_owned(),
            srtp: false,
        }
    }

    /// A user whose phones Herald calls with an SRTP (SDES) offer.
    pub fn with_srtp(mut self) -> Self {
        self.srtp = true;
        self
    }
}

/// What to put in the generated configuration.
#[derive(Clone, Debug)]
pub struct HeraldConfig {
    /// `sip.domain`.
    pub domain: String,
    /// Also listen on TCP.
    pub tcp: bool,
    /// A fixed UDP port (e.g. inside a private network namespace); `None` picks a free one.
    pub udp_port: Option<u16>,
    /// `[[users]]` with plaintext passwords.
    pub users: Vec<User>,
    /// `sip.registrar.algorithms`; `None` keeps the default.
    pub algorithms: Option<Vec<String>>,
    /// `storage.database`; `None` keeps the default (SQLite in the data directory).
    pub database: Option<String>,
    /// `storage.recordings`; `None` keeps the default (a directory in the data directory).
    pub recordings: Option<String>,
    /// Extra `key = value` lines for the `[media]` section.
    pub media: Vec<String>,
    /// What answers calls.
    pub dialplan: TestDialplan,
    /// Extra TOML appended to the configuration (whole sections, e.g. `[recorder]`).
    pub extra: Vec<String>,
    /// Extra `key = value` lines for the `[api]` section (which listens on a free port).
    pub api: Vec<String>,
    /// `[[api.tokens]]`, configured by their SHA-256.
    pub tokens: Vec<ApiToken>,
}

/// An API bearer token and its roles.
#[derive(Clone, Debug)]
pub struct ApiToken {
    pub name: String,
    pub token: String,
    pub roles: Vec<String>,
}

impl ApiToken {
    pub fn new(name: &str, roles: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            token: format!("token-of-{name}-0123456789"),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

/// The dialplan a test's herald routes calls with.
#[derive(Clone, Debug)]
pub enum TestDialplan {
    /// One catch-all route to a VoiceXML application (text) in language `en`.
    Application(String),
    /// The repository's own `dialplans/` (the shipped disclosure application) and `prompts/`.
    Shipped,
}

impl Default for TestDialplan {
    fn default() -> Self {
        TestDialplan::Application(keys_application("welcome"))
    }
}

/// A VoiceXML application that plays `prompt:GREETING` (with barge-in) and then collects every
/// key the caller presses, one at a time, until the caller hangs up; it exits with the keys
/// (a string), which the call record's `ivr-exit` event carries.
pub fn keys_application(greeting: &str) -> String {
    format!(
        r##"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <var name="keys" expr="''"/>
  <catch event="connection.disconnect.hangup"><exit expr="keys"/></catch>
  <form id="greeting">
    <block><prompt><audio src="prompt:{greeting}"/></prompt><goto next="#collect"/></block>
  </form>
  <form id="collect">
    <field name="key">
      <property name="timeout" value="3600s"/>
      <property name="termchar" value=""/>
      <grammar mode="dtmf" root="k">
        <rule id="k"><one-of>
          <item>0</item><item>1</item><item>2</item><item>3</item><item>4</item><item>5</item>
          <item>6</item><item>7</item><item>8</item><item>9</item><item>*</item><item>#</item>
          <item>A</item><item>B</item><item>C</item><item>D</item>
        </one-of></rule>
      </grammar>
      <filled><assign name="keys" expr="keys + key"/><clear namelist="key"/></filled>
    </field>
  </form>
</vxml>
"##
    )
}

impl Default for HeraldConfig {
    fn default() -> Self {
        Self {
            domain: "herald.test".to_owned(),
            tcp: false,
            udp_port: None,
            users: Vec::new(),
            algorithms: None,
            database: None,
            recordings: None,
            media: Vec::new(),
            dialplan: TestDialplan::default(),
            extra: Vec::new(),
            api: Vec::new(),
            tokens: Vec::new(),
        }
    }
}

impl HeraldConfig {
    fn render(&self, dir: &Path, udp: u16, tcp: Option<u16>, rtp: (u16, u16)) -> String {
        let mut listen = vec![format!("\"udp:127.0.0.1:{udp}\"")];
        if let Some(tcp) = tcp {
            listen.push(format!("\"tcp:127.0.0.1:{tcp}\""));
        }
        let mut out = String::new();
        let data_dir = dir.join("data");
        writeln!(
            out,
            "data_dir = {}",
            toml_str(&data_dir.display().to_string())
        )
        .unwrap();
        writeln!(
            out,
            "\n[sip]\nlisten = [{}]\ndomain = {}",
            listen.join(", "),
            toml_str(&self.domain)
        )
        .unwrap();
        if let Some(algs) = &self.algorithms {
            let algs: Vec<String> = algs.iter().map(|a| toml_str(a)).collect();
            writeln!(out, "\n[sip.registrar]\nalgorithms = [{}]", algs.join(", ")).unwrap();
        }
        writeln!(
            out,
            "\n[media]\nrtp_port_min = {}\nrtp_port_max = {}",
            rtp.0, rtp.1
        )
        .unwrap();
        for line in &self.media {
            writeln!(out, "{line}").unwrap();
        }
        if matches!(self.dialplan, TestDialplan::Shipped) {
            let prompts = repo_root().join("prompts");
            writeln!(
                out,
                "prompts = {}",
                toml_str(&prompts.display().to_string())
            )
            .unwrap();
        }
        writeln!(out, "\n[storage]").unwrap();
        if let Some(db) = &self.database {
            writeln!(out, "database = {}", toml_str(db)).unwrap();
        }
        if let Some(recordings) = &self.recordings {
            writeln!(out, "recordings = {}", toml_str(recordings)).unwrap();
        }
        let dialplans = match &self.dialplan {
            TestDialplan::Shipped => repo_root().join("dialplans"),
            TestDialplan::Application(text) => {
                let dir = dir.join("dialplans");
                std::fs::create_dir_all(&dir).expect("create the test dialplans");
                std::fs::write(dir.join("app.vxml"), text).expect("write the test application");
                std::fs::write(
                    dir.join("test.toml"),
                    "[[route]]\nname = \"test\"\napplication = \"app.vxml\"\nlanguage = \"en\"\n",
                )
                .expect("write the test dialplan");
                dir
            }
        };
        writeln!(
            out,
            "\n[ivr]\ndialplans = {}",
            toml_str(&dialplans.display().to_string())
        )
        .unwrap();
        writeln!(out, "\n[api]\nlisten = \"127.0.0.1:0\"").unwrap();
        for line in &self.api {
            writeln!(out, "{line}").unwrap();
        }
        for token in &self.tokens {
            use sha2::Digest;
            let roles: Vec<String> = token.roles.iter().map(|r| toml_str(r)).collect();
            writeln!(
                out,
                "\n[[api.tokens]]\nname = {}\ntoken_sha256 = \"{}\"\nroles = [{}]",
                toml_str(&token.name),
                hex::encode(sha2::Sha256::digest(token.token.as_bytes())),
                roles.join(", ")
            )
            .unwrap();
        }
        for section in &self.extra {
            writeln!(out, "\n{section}").unwrap();
        }
        for u in &self.users {
            writeln!(
                out,
                "\n[[users]]\nusername = {}\npassword = {}\nsrtp = {}",
                toml_str(&u.name),
                toml_str(&u.password),
                u.srtp
            )
            .unwrap();
        }
        out
    }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A private RTP range: an even port that was free a moment ago and the 100 ports after it.
/// Ranges of concurrent tests rarely overlap, and herald skips ports it cannot bind anyway.
fn rtp_range() -> (u16, u16) {
    let base = free_udp_port().min(65_400) & !1;
    (base.max(1024), base.max(1024) + 99)
}

/// A running `herald serve`, killed on drop.
pub struct Herald {
    child: Option<Child>,
    pub config_path: PathBuf,
    pub udp: SocketAddr,
    pub tcp: Option<SocketAddr>,
    pub rtp: (u16, u16),
    /// Where the HTTP API listens.
    pub api: Option<SocketAddr>,
    log: Arc<Mutex<String>>,
    /// How many record commits herald has reported, and a signal when it reports one.
    commits: Arc<(Mutex<u64>, Condvar)>,
    /// Owned temporary directory, when the test did not provide one.
    _dir: Option<TempDir>,
}

impl Herald {
    /// Starts herald in a fresh temporary directory.
    pub fn start(config: &HeraldConfig) -> Herald {
        let dir = tempfile::Builder::new()
            .prefix("herald-it-")
            .tempdir()
            .expect("a temporary directory");
        let mut herald = Herald::start_in(dir.path(), config);
        herald._dir = Some(dir);
        herald
    }

    /// Starts herald with its configuration and data in `dir` (which the caller keeps, e.g. to
    /// restart herald on the same data). Retries on fresh ports when another process took ours.
    pub fn start_in(dir: &Path, config: &HeraldConfig) -> Herald {
        let mut last_error = String::new();
        for _ in 0..3 {
            match Herald::try_start(dir, config) {
                Ok(h) => return h,
                Err(e) if e.contains("binding") && config.udp_port.is_none() => last_error = e,
                Err(e) => panic!("herald did not start:\n{e}"),
            }
        }
        panic!("herald could not bind free ports three times:\n{last_error}");
    }

    fn try_start(dir: &Path, config: &HeraldConfig) -> Result<Herald, String> {
        let udp = config.udp_port.unwrap_or_else(free_udp_port);
        let tcp = config.tcp.then(free_tcp_port);
        let rtp = rtp_range();
        let config_path = dir.join("herald.toml");
        std::fs::write(&config_path, config.render(dir, udp, tcp, rtp))
            .expect("write the configuration");
        // A recorder key, as an operator makes one before the first start (its private half
        // stays outside the data directory), unless the test brings its own.
        let key = dir.join(RECORDER_KEY);
        if !key.exists() && !config.extra.iter().any(|e| e.contains("recipients")) {
            let out = run_program(
                Command::new(HERALD)
                    .args(["keys", "generate", "--out"])
                    .arg(&key)
                    .arg("--config")
                    .arg(&config_path),
                PROGRAM_TIMEOUT,
            );
            assert!(
                out.status.success(),
                "herald keys generate failed:\n{}",
                out.stderr
            );
        }
        let mut child = Command::new(HERALD)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env(
                "HERALD_LOG",
                std::env::var("HERALD_LOG").unwrap_or_else(|_| "info,herald::records=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {HERALD}: {e}"))?;
        let log = Arc::new(Mutex::new(String::new()));
        let commits = Arc::new((Mutex::new(0), Condvar::new()));
        let ready = follow_stderr(&mut child, log.clone(), commits.clone());
        match ready.recv_timeout(READY_TIMEOUT) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no {READY_LINE:?} within {READY_TIMEOUT:?}; log:\n{}",
                    log.lock().unwrap()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(format!(
                    "herald exited before serving ({status}); log:\n{}",
                    log.lock().unwrap()
                ));
            }
        }
        let api = api_address(&log.lock().unwrap());
        Ok(Herald {
            child: Some(child),
            api,
            config_path,
            udp: SocketAddr::from((Ipv4Addr::LOCALHOST, udp)),
            tcp: tcp.map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p))),
            rtp,
            log,
            commits,
            _dir: None,
        })
    }

    /// Everything herald wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `None` while herald runs; its exit status once it has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait on herald"))
    }

    /// Stops herald with SIGTERM (a graceful shutdown) and waits for it, bounded.
    pub fn stop(mut self) -> ExitStatus {
        let child = self.child.take().expect("herald is running");
        let pid = child.id().to_string();
        let term = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(term.success(), "kill -TERM {pid} failed");
        wait_bounded(child, PROGRAM_TIMEOUT).unwrap_or_else(|| {
            panic!("herald did not exit within {PROGRAM_TIMEOUT:?} after SIGTERM")
        })
    }

    /// Runs `herald ARGS --config <this config>` and returns its stdout; panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = run_program(
            Command::new(HERALD)
                .args(args)
                .arg("--config")
                .arg(&self.config_path),
            PROGRAM_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "herald {args:?} failed ({}):\n{}",
            out.status,
            out.stderr
        );
        out.stdout
    }

    /// Runs `herald ARGS --config ...` and returns whether it succeeded, with stdout and stderr.
    pub fn cli_result(&self, args: &[&str]) -> (bool, String) {
        let out = run_program(
            Command::new(HERALD)
                .args(args)
                .arg("--config")
                .arg(&self.config_path),
            PROGRAM_TIMEOUT,
        );
        (
            out.status.success(),
            format!("{}{}", out.stdout, out.stderr),
        )
    }

    /// The recorder key the harness generated before the first start (an `age` identity).
    pub fn recorder_key(&self) -> PathBuf {
        self.config_path
            .parent()
            .expect("the configuration is in the test directory")
            .join(RECORDER_KEY)
    }

    /// The data directory (`data_dir`).
    pub fn data_dir(&self) -> PathBuf {
        self.config_path
            .parent()
            .expect("the configuration is in the test directory")
            .join("data")
    }

    /// Waits until herald's log contains `needle` (re-checked at each line it writes); panics
    /// with the log after [`PROGRAM_TIMEOUT`].
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PROGRAM_TIMEOUT;
        let (count, signal) = &*self.commits;
        let mut guard = count.lock().unwrap();
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {needle:?} in herald's log:\n{log}");
            guard = signal.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// A request to the HTTP API: `body` is sent as JSON when given.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        self.http_raw(method, path, token, bytes.map(|b| ("application/json", b)))
    }

    /// A request to the HTTP API with any body and content type.
    pub fn http_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let api = self.api.expect("herald reported its API address");
        let client = reqwest::blocking::Client::builder()
            .timeout(PROGRAM_TIMEOUT)
            .build()
            .unwrap();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = client.request(method, format!("http://{api}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.bytes().unwrap().to_vec();
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// The status of `GET path` over HTTPS with `client`.
    pub fn http_tls_status(&self, client: &reqwest::blocking::Client, path: &str) -> u16 {
        let api = self.api.expect("herald reported its API address");
        client
            .get(format!("https://{api}{path}"))
            .send()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .status()
            .as_u16()
    }

    /// Sends herald SIGKILL: no shutdown at all. Dropping the handle reaps the process.
    pub fn kill_9(&self) {
        let pid = self
            .child
            .as_ref()
            .expect("herald is running")
            .id()
            .to_string();
        let status = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL {pid} failed");
    }

    /// `herald recordings export ID --identity KEY --out DIR`: the WAV and JSON paths.
    pub fn export(&self, id: &str, identity: &Path, out: &Path) -> (PathBuf, PathBuf) {
        self.cli(&[
            "recordings",
            "export",
            id,
            "--identity",
            identity.to_str().expect("a UTF-8 path"),
            "--out",
            out.to_str().expect("a UTF-8 path"),
        ]);
        (
            out.join(format!("{id}.wav")),
            out.join(format!("{id}.json")),
        )
    }

    /// `herald recordings list --json`.
    pub fn recordings(&self) -> Vec<Value> {
        let text = self.cli(&["recordings", "list", "--json", "--limit", "1000"]);
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("recordings list is not JSON ({e}):\n{text}"));
        value.as_array().cloned().unwrap_or_default()
    }

    /// Waits until the recordings satisfy `done`; re-read after each commit herald reports.
    pub fn wait_for_recordings(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let found = self.wait_for_records(
            what,
            || Value::Array(self.recordings()),
            |v| v.as_array().is_some_and(|r| done(r)),
        );
        found.as_array().cloned().unwrap_or_default()
    }

    /// `herald calls list --json`.
    pub fn calls(&self) -> Vec<Value> {
        let text = self.cli(&["calls", "list", "--json"]);
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("calls list is not JSON ({e}):\n{text}"));
        value
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("calls list is not a JSON array:\n{text}"))
    }

    /// `herald calls show ID --json`.
    pub fn call(&self, id: &str) -> Value {
        let text = self.cli(&["calls", "show", id, "--json"]);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("calls show is not JSON ({e}):\n{text}"))
    }

    /// Waits until the call records satisfy `done` (at most [`RECORD_TIMEOUT`]) and returns
    /// them. Records are written off the signalling path, so they trail the SIP exchange; they
    /// are re-read after each commit herald reports, never on a timer.
    pub fn wait_for_calls(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let calls = self.wait_for_records(
            what,
            || Value::Array(self.calls()),
            |v| v.as_array().is_some_and(|calls| done(calls)),
        );
        calls.as_array().cloned().unwrap_or_default()
    }

    /// Waits until the one call's full record (`calls show`, with its events) satisfies
    /// `done`; re-read after each commit herald reports.
    pub fn wait_for_call_record(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let calls = self.wait_for_calls("one call", |calls| calls.len() == 1);
        let id = calls[0]["id"].as_str().expect("a call id").to_owned();
        self.wait_for_records(what, || self.call(&id), done)
    }

    /// Waits until the call that `pick` selects from the list has a full record (`calls
    /// show`) satisfying `done`.
    pub fn wait_for_call_where(
        &self,
        what: &str,
        pick: impl Fn(&Value) -> bool,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let calls = self.wait_for_calls(what, |calls| calls.iter().any(&pick));
        let id = calls
            .iter()
            .find(|c| pick(c))
            .and_then(|c| c["id"].as_str())
            .expect("a call id")
            .to_owned();
        self.wait_for_records(what, || self.call(&id), done)
    }

    /// Like [`Self::wait_for_call_where`] for what takes longer than [`RECORD_TIMEOUT`] (an
    /// IVR, then a transfer): waits at most `bound` for the call's record to satisfy `done`.
    pub fn wait_for_call_within(
        &self,
        bound: Duration,
        what: &str,
        pick: impl Fn(&Value) -> bool,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let calls = self.wait_for_calls(what, |calls| calls.iter().any(&pick));
        let id = calls
            .iter()
            .find(|c| pick(c))
            .and_then(|c| c["id"].as_str())
            .expect("a call id")
            .to_owned();
        self.wait_for_records_within(bound, what, || self.call(&id), done)
    }

    /// Reads with `read` until `done` holds, re-reading after each commit herald reports, at
    /// most [`RECORD_TIMEOUT`].
    fn wait_for_records(
        &self,
        what: &str,
        read: impl Fn() -> Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for_records_within(RECORD_TIMEOUT, what, read, done)
    }

    fn wait_for_records_within(
        &self,
        bound: Duration,
        what: &str,
        read: impl Fn() -> Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + bound;
        let (count, signal) = &*self.commits;
        loop {
            let seen = *count.lock().unwrap();
            let value = read();
            if done(&value) {
                return value;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let guard = count.lock().unwrap();
            let (_guard, timeout) = signal
                .wait_timeout_while(guard, left, |c| *c == seen)
                .unwrap();
            if timeout.timed_out() {
                panic!(
                    "call records never showed {what} within {bound:?}; last seen:\n{}\nherald log:\n{}",
                    serde_json::to_string_pretty(&value).unwrap(),
                    self.log()
                );
            }
        }
    }

    /// Waits for exactly one call record that satisfies `done`, and returns it with its
    /// events (`calls show`).
    pub fn wait_for_single_call(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let calls = self.wait_for_calls(what, |calls| calls.len() == 1 && done(&calls[0]));
        let id = calls[0]["id"].as_str().expect("a call id").to_owned();
        self.call(&id)
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- herald log ----\n{}---- end of herald log ----",
                self.log()
            );
        }
    }
}

/// Copies the child's stderr into `log` and counts record commits; the channel gets `()` once
/// the ready line appears and is dropped (disconnected) when stderr closes first.
fn follow_stderr(
    child: &mut Child,
    log: Arc<Mutex<String>>,
    commits: Arc<(Mutex<u64>, Condvar)>,
) -> mpsc::Receiver<()> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let ready = line.contains(READY_LINE);
            if line.contains(COMMITTED_LINE) {
                let (count, signal) = &*commits;
                *count.lock().unwrap() += 1;
                signal.notify_all();
            }
            {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
            // Whoever waits for a log line (`wait_for_log`) looks again; taking the lock first
            // means a waiter is either before its check or already waiting, never between.
            drop(commits.0.lock().unwrap());
            commits.1.notify_all();
            if let Some(tx) = tx.take_if(|_| ready) {
                let _ = tx.send(());
            }
        }
    });
    rx
}

/// Waits for `child` at most `bound`; kills it (and returns `None`) when it takes longer.
pub fn wait_bounded(child: Child, bound: Duration) -> Option<ExitStatus> {
    let pid = child.id().to_string();
    let (tx, rx) = mpsc::channel();
    let mut child = child;
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(bound) {
        Ok(status) => {
            let _ = waiter.join();
            Some(status.expect("wait for a child"))
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            let _ = waiter.join();
            None
        }
    }
}

/// What a finished program printed.
#[derive(Debug)]
pub struct ProgramOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a program to completion with stdout and stderr in temporary files (no pipe can fill
/// up), killing it after `bound`.
pub fn run_program(cmd: &mut Command, bound: Duration) -> ProgramOutput {
    let out = tempfile::tempfile().expect("a temporary file");
    let err = tempfile::tempfile().expect("a temporary file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let status = wait_bounded(child, bound)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish within {bound:?}"));
    ProgramOutput {
        status,
        stdout: read_all(out),
        stderr: read_all(err),
    }
}

fn read_all(mut f: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut bytes).unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// SIPp's transport switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SippTransport {
    Udp,
    Tcp,
}

/// One SIPp run against herald.
pub struct Sipp {
    scenario: PathBuf,
    transport: SippTransport,
    calls: u32,
    service: String,
    extra: Vec<String>,
    /// Files linked into SIPp's working directory (e.g. a capture for `play_pcap_audio`).
    files: Vec<(String, PathBuf)>,
    /// `-timeout`.
    timeout: Duration,
    /// The From user, for scenarios that take `caller`.
    caller: String,
}

/// What a SIPp run left behind.
#[derive(Debug)]
pub struct SippRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The `-trace_msg` log: every message sent and received.
    pub messages: String,
    /// The `-trace_err` log: unexpected messages.
    pub errors: String,
}

impl SippRun {
    /// Panics with everything SIPp reported unless it exited 0 (every call succeeded).
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.status.code() == Some(0),
            "SIPp {what} failed ({}).\n--- stderr:\n{}\n--- errors:\n{}\n--- messages:\n{}\n--- screen:\n{}",
            self.status,
            self.stderr,
            self.errors,
            self.messages,
            tail(&self.stdout, 3000)
        );
    }
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

impl Sipp {
    pub fn new(scenario_name: &str) -> Self {
        Self {
            scenario: scenario(scenario_name),
            transport: SippTransport::Udp,
            calls: 1,
            service: "herald-test".into(),
            extra: Vec::new(),
            files: Vec::new(),
            timeout: Duration::from_secs(30),
            caller: "sipp".into(),
        }
    }

    /// SIPp's overall time limit (`-timeout`), for calls an application keeps up long.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    pub fn transport(mut self, t: SippTransport) -> Self {
        self.transport = t;
        self
    }

    /// Places `n` calls, all at once (`-m n -l n`, at SIPp's default rate).
    pub fn calls(mut self, n: u32) -> Self {
        self.calls = n;
        self
    }

    /// The user part of the Request-URI (`-s`).
    pub fn service(mut self, s: &str) -> Self {
        self.service = s.to_owned();
        self
    }

    /// Links `source` into SIPp's working directory as `name`.
    pub fn file(mut self, name: &str, source: &Path) -> Self {
        self.files.push((name.to_owned(), source.to_path_buf()));
        self
    }

    /// Sets a scenario's global variable (`-set NAME VALUE`).
    /// The calling user or number (scenarios with a `caller` variable; default `sipp`).
    pub fn caller(mut self, caller: &str) -> Self {
        caller.clone_into(&mut self.caller);
        self
    }

    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.extra
            .extend(["-set".into(), name.into(), value.into()]);
        self
    }

    /// Digest credentials (`-au`, `-ap`).
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.extra
            .extend(["-au".into(), user.into(), "-ap".into(), password.into()]);
        self
    }

    /// Runs the scenario once (`-m 1`) against herald's UDP or TCP listener, bounded.
    pub fn run(self, herald: &Herald) -> SippRun {
        let target = match self.transport {
            SippTransport::Udp => herald.udp,
            SippTransport::Tcp => herald.tcp.expect("herald listens on TCP"),
        };
        assert!(target.ip().is_loopback(), "SIPp only ever targets loopback");
        let dir = tempfile::Builder::new()
            .prefix("herald-sipp-")
            .tempdir()
            .expect("a temporary directory");
        for (name, source) in &self.files {
            std::os::unix::fs::symlink(source, dir.path().join(name))
                .expect("link a file for SIPp");
        }
        let messages = dir.path().join("messages.log");
        let errors = dir.path().join("errors.log");
        let local_port = match self.transport {
            SippTransport::Udp => free_udp_port(),
            SippTransport::Tcp => free_tcp_port(),
        };
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .arg(target.to_string())
            .arg("-sf")
            .arg(&self.scenario)
            .args([
                "-t",
                if self.transport == SippTransport::Udp {
                    "u1"
                } else {
                    "t1"
                },
            ])
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args([
                "-p",
                &local_port.to_string(),
                "-mp",
                &free_udp_port().to_string(),
            ])
            .args(["-s", &self.service])
            .args(["-m", &self.calls.to_string(), "-l", &self.calls.to_string()])
            .args([
                "-timeout",
                &format!("{}s", self.timeout.as_secs()),
                "-timeout_error",
                "-recv_timeout",
                "10s",
            ])
            .args(["-nostdin", "-trace_msg", "-trace_err"])
            .args(
                std::fs::read_to_string(&self.scenario)
                    .is_ok_and(|text| text.contains("$caller"))
                    .then(|| ["-set".to_owned(), "caller".to_owned(), self.caller.clone()])
                    .into_iter()
                    .flatten(),
            )
            .arg("-message_file")
            .arg(&messages)
            .arg("-error_file")
            .arg(&errors)
            .args(&self.extra);
        let out = run_program(&mut cmd, PROGRAM_TIMEOUT);
        SippRun {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
            messages: std::fs::read_to_string(&messages).unwrap_or_default(),
            errors: std::fs::read_to_string(&errors).unwrap_or_default(),
        }
    }
}

/// A SIP response as text, with case-insensitive header lookup.
#[derive(Clone, Debug)]
pub struct SipResponse {
    pub status: u16,
    pub raw: String,
}

impl SipResponse {
    /// Parses a datagram that starts with `SIP/2.0 NNN`; `None` for anything else.
    pub fn parse(bytes: &[u8]) -> Option<SipResponse> {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let status = raw.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
        Some(SipResponse { status, raw })
    }

    /// Every value of header `name` (long or compact form), in order.
    pub fn headers(&self, name: &str, compact: Option<&str>) -> Vec<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        head.split("\r\n")
            .skip(1)
            .filter_map(|line| {
                let (n, v) = line.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c)))
                    .then(|| v.trim().to_owned())
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let compact = match name.to_ascii_lowercase().as_str() {
            "call-id" => Some("i"),
            "via" => Some("v"),
            "to" => Some("t"),
            "from" => Some("f"),
            "contact" => Some("m"),
            "content-length" => Some("l"),
            "content-type" => Some("c"),
            _ => None,
        };
        self.headers(name, compact).into_iter().next()
    }

    pub fn call_id(&self) -> Option<String> {
        self.header("Call-ID")
    }

    /// The method in the CSeq header.
    pub fn cseq_method(&self) -> Option<String> {
        self.header("CSeq")?
            .split_whitespace()
            .nth(1)
            .map(str::to_owned)
    }

    /// The message body.
    pub fn body(&self) -> &str {
        self.raw.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

/// A SIP-over-UDP peer on 127.0.0.1 with an ephemeral port.
pub struct UdpPeer {
    pub socket: UdpSocket,
    pub server: SocketAddr,
}

impl UdpPeer {
    pub fn new(server: SocketAddr) -> Self {
        let socket =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a UDP socket on 127.0.0.1");
        Self { socket, server }
    }

    pub fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub fn send(&self, bytes: &[u8]) {
        self.socket
            .send_to(bytes, self.server)
            .expect("send a datagram to herald");
    }

    /// The next datagram within `bound`, or `None`.
    pub fn recv_within(&self, bound: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + bound;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())?;
            self.socket.set_read_timeout(Some(left)).unwrap();
            match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => return Some(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                // ICMP port unreachable from an earlier send surfaces here on Linux: ignore it.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => panic!("UDP receive failed: {e}"),
            }
        }
    }

    /// Receives responses until `done` accepts one; returns every response received on the way
    /// (including the accepted one). Panics after `bound`.
    pub fn recv_until(
        &self,
        bound: Duration,
        what: &str,
        mut done: impl FnMut(&SipResponse) -> bool,
    ) -> Vec<SipResponse> {
        let deadline = Instant::now() + bound;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(bytes) = self.recv_within(left) else {
                let statuses: Vec<u16> = seen.iter().map(|r: &SipResponse| r.status).collect();
                panic!("no {what} within {bound:?}; received statuses {statuses:?}");
            };
            let Some(resp) = SipResponse::parse(&bytes) else {
                continue;
            };
            let stop = done(&resp);
            seen.push(resp);
            if stop {
                return seen;
            }
        }
    }

    /// Sends an OPTIONS and returns herald's final answer to it.
    pub fn options(&self, tag: &str) -> SipResponse {
        let call_id = format!("options-{tag}-{}@127.0.0.1", self.local().port());
        let msg = format!(
            "OPTIONS sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-opt-{tag};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:probe@127.0.0.1>;tag=probe-{tag}\r\nTo: <sip:{server}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            server = self.server,
            local = self.local(),
        );
        self.send(msg.as_bytes());
        let seen = self.recv_until(Duration::from_secs(10), "answer to OPTIONS", |r| {
            r.status >= 200 && r.call_id().as_deref() == Some(call_id.as_str())
        });
        seen.into_iter().last().unwrap()
    }
}

/// Field accessors on a call record.
pub fn field<'v>(call: &'v Value, name: &str) -> &'v Value {
    call.get(name).unwrap_or(&Value::Null)
}

/// The kinds of a call's events, in order.
pub fn event_kinds(call: &Value) -> Vec<String> {
    call["events"].as_array().map_or_else(Vec::new, |events| {
        events
            .iter()
            .filter_map(|e| e["kind"].as_str().map(str::to_owned))
            .collect()
    })
}

/// `name=value` pairs of a `key: value` style summary, for messages.
pub fn summary(call: &Value) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    for k in [
        "state",
        "hangup_cause",
        "final_status",
        "route",
        "transport",
        "callee",
    ] {
        m.insert(k, call.get(k).map(ToString::to_string).unwrap_or_default());
    }
    m
}

/// An `age-keygen` identity in `dir`: (identity file, public key). `None` (skip, with a
/// message) without the tool, outside CI.
pub fn age_keygen(dir: &Path) -> Option<(PathBuf, String)> {
    let path = dir.join("auditor.key");
    let ok = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!in_ci(), "age-keygen (Debian package age) is missing");
        eprintln!("skipping: age-keygen (Debian package age) is missing");
        return None;
    }
    let text = std::fs::read_to_string(&path).expect("read the identity");
    let public = text
        .lines()
        .find_map(|l| l.split("public key: ").nth(1))
        .expect("the identity file names its public key")
        .trim()
        .to_owned();
    Some((path, public))
}

/// Every file under `dir`, recursively (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Parses JSON a command printed; panics with the text otherwise.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// A VoiceXML application that records the call (the caller's consent taken as given), plays
/// `prompt:welcome` and hangs up: a short recorded call.
pub const RECORDED_WELCOME: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xmlns:herald="urn:herald:ivr">
  <form>
    <block>
      <herald:consent decision="accepted"/>
      <herald:recording action="start" reason="test"/>
      <prompt bargein="false"><audio src="prompt:welcome"/></prompt>
      <disconnect/>
    </block>
  </form>
</vxml>
"#;

/// Records at once, then plays a minute-long tone (`prompt:tone`, see [`write_tone`]) while
/// waiting 120 s for keys: Herald's channel has audio for as long as the call lasts.
pub const RECORDED_TONE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xmlns:herald="urn:herald:ivr">
  <form>
    <block>
      <herald:consent decision="accepted"/>
      <herald:recording action="start" reason="test"/>
    </block>
    <field name="keys" type="digits">
      <property name="timeout" value="120s"/>
      <prompt bargein="false"><audio src="prompt:tone"/></prompt>
    </field>
  </form>
</vxml>
"#;

/// A self-signed certificate for 127.0.0.1 (`cert.pem`, `key.pem` in `dir`) made with the
/// openssl command-line tool; `false` when openssl is missing.
pub fn make_certificate(dir: &Path) -> bool {
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=herald-test"])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    status.is_ok_and(|s| s.success())
}

/// Whether a datagram is RTP (version 2, a whole header) rather than RTCP (payload types
/// 72-95 with the marker bit, RFC 5761) or anything else.
pub fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() >= 12 && datagram[0] >> 6 == 2 && !(72..=95).contains(&(datagram[1] & 0x7f))
}

/// A prompt file: a 60 s, 300 Hz tone at about -20 dBFS, 8 kHz mono WAV.
pub fn write_tone(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the tone prompt");
    for i in 0..60 * 8000 {
        let t = f64::from(i) / 8000.0;
        w.write_sample((3300.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()) as i16)
            .expect("write a sample");
    }
    w.finalize().expect("finish the tone prompt");
}

/// An HTTP API answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (panics with the body otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// The API address herald logged (`api_address=...`).
fn api_address(log: &str) -> Option<SocketAddr> {
    let at = log.find("api_address=")? + "api_address=".len();
    let text: String = log[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    text.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// SIPp in the background: registered phones and trunks as test peers.
//
// A phone is one SIPp process with two scenarios: the main one registers (and subscribes, and
// idles), the out-of-call one (`-oocsf`) answers every request whose Call-ID the main one does
// not know, which is each INVITE herald sends to the binding. The two share global variables:
// the out-of-call half counts the INVITEs it handled as planned (`handled`) and the ones it
// could not (`failures`); the main half unregisters and exits when `handled` reaches
// `invites`, on a failure, on a check-sync NOTIFY (`stop`, what [`SippChild::stop`] sends), or
// after `stay_ms`, and fails the run (exit 1) when INVITEs are missing or failed. See the
// header comments of `tests/sipp/phone_*.xml` for the flows and variables.

/// A desk phone model with a SIPp scenario pair in `tests/sipp/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phone {
    /// AudioCodes 420HD over UDP (`phone_audiocodes.xml`): RFC 2833 DTMF, a=sendonly hold,
    /// session timers.
    AudioCodes420,
    /// Polycom VVX 411 over TCP (`phone_polycom.xml`): SDES SRTP when offered, DTMF by SIP
    /// INFO, a=sendonly (or a=inactive) hold, no session timers.
    PolycomVvx411,
}

/// The SDES key (30 bytes of key and salt, base64) the Polycom scenario answers with unless a
/// test sets `srtp_key`.
pub const PHONE_SRTP_KEY: &str = "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";

/// How long a phone stays registered unless a test says otherwise ([`Sipp::stay`]).
pub const PHONE_STAY: Duration = Duration::from_secs(25);

impl Sipp {
    /// A registered phone: `user` registers with `password` (digest), handles herald's INVITEs
    /// by the [`Sipp::plan`], and exits 0 once [`Sipp::invites`] were handled as planned (or,
    /// with no count, when stopped or after [`Sipp::stay`]). Nothing sends RTP: the SDP names
    /// [`Sipp::rtp_endpoint`] (default: SIPp's own media port, which drops what it gets).
    /// Start it with [`Sipp::spawn`].
    pub fn phone(kind: Phone, user: &str, password: &str) -> Self {
        let (main, ooc, transport) = match kind {
            Phone::AudioCodes420 => (
                "phone_audiocodes.xml",
                "phone_audiocodes_ooc.xml",
                SippTransport::Udp,
            ),
            Phone::PolycomVvx411 => (
                "phone_polycom.xml",
                "phone_polycom_ooc.xml",
                SippTransport::Tcp,
            ),
        };
        let mut sipp = Sipp::new(main)
            .ooc(ooc)
            .transport(transport)
            .service(user)
            .credentials(user, password)
            .auto_answer()
            .stay(PHONE_STAY)
            .set("invites", "0")
            .set("mwi", "no")
            .set("plan", "")
            .set("ring_ms", "200")
            .set("talk_ms", "0")
            .set("hold_ms", "0");
        if kind == Phone::PolycomVvx411 {
            sipp = sipp
                .set("srtp_key", PHONE_SRTP_KEY)
                .set("digits", "")
                .set("hold_dir", "sendonly");
        }
        sipp
    }

    /// The out-of-call scenario (`-oocsf`, a file in `tests/sipp/`): SIPp runs it for every
    /// request whose Call-ID the main scenario does not know. Put before any `set` of a
    /// variable only it declares (it is placed first among the extra arguments anyway).
    pub fn ooc(mut self, scenario_name: &str) -> Self {
        let path = scenario(scenario_name).to_string_lossy().into_owned();
        self.extra.insert(0, path);
        self.extra.insert(0, "-oocsf".to_owned());
        self
    }

    /// Answers unexpected in-dialog INFO, NOTIFY, OPTIONS and UPDATE with 200 (`-aa`).
    pub fn auto_answer(mut self) -> Self {
        self.extra.push("-aa".into());
        self
    }

    /// How long a scenario waits for any one message (`-recv_timeout`; default 10 s), e.g. a
    /// trunk registrar waiting for the refresh.
    pub fn recv_timeout(mut self, limit: Duration) -> Self {
        self.extra
            .extend(["-recv_timeout".into(), format!("{}ms", limit.as_millis())]);
        self
    }

    /// SIPp's own address (`-i`), another loopback address such as 127.0.0.2 to come from a
    /// source herald does not trust.
    pub fn local_ip(mut self, ip: Ipv4Addr) -> Self {
        assert!(ip.is_loopback(), "SIPp only ever runs on loopback");
        self.extra.extend(["-i".into(), ip.to_string()]);
        self
    }

    /// Sends every message to `addr` instead of the target (`-rsa`).
    pub fn remote_sending_address(mut self, addr: SocketAddr) -> Self {
        assert!(addr.ip().is_loopback(), "SIPp only ever targets loopback");
        self.extra.extend(["-rsa".into(), addr.to_string()]);
        self
    }

    /// The phone's media endpoint written into its SDP (`rtp_ip`, `rtp_port`): the test's own
    /// RTP socket, so the test is the phone's media.
    pub fn rtp_endpoint(self, addr: SocketAddr) -> Self {
        assert!(addr.ip().is_loopback(), "media stays on loopback");
        self.set("rtp_ip", &addr.ip().to_string())
            .set("rtp_port", &addr.port().to_string())
    }

    /// What the phone does with each INVITE, one letter per INVITE in order: `a` answer (then
    /// hold, resume and wait for herald's BYE), `b` busy (486), `n` no answer (rings until
    /// CANCEL), `r` (AudioCodes only) answer, then after `talk_ms` transfer the caller with
    /// REFER to [`Sipp::refer_to`] (blind transfer: expects 202, answers herald's NOTIFYs
    /// "100 Trying", any provisional ones and a terminated one that must say 200, then
    /// answers herald's BYE; a final NOTIFY other than 200 is a failure). INVITEs beyond the
    /// plan are answered.
    pub fn plan(self, plan: &str) -> Self {
        assert!(
            plan.chars().all(|c| matches!(c, 'a' | 'b' | 'n' | 'r')),
            "a phone plan is made of a, b, n and r"
        );
        self.set("plan", plan)
    }

    /// The transfer target of plan letter `r` (`refer_to`, the Refer-To URI), e.g.
    /// `sip:bob@herald.test`. AudioCodes only (the Polycom scenarios have no such variable).
    pub fn refer_to(self, uri: &str) -> Self {
        self.set("refer_to", uri)
    }

    /// The phone exits (0) once it handled `n` INVITEs as planned.
    pub fn invites(self, n: u32) -> Self {
        self.set("invites", &n.to_string())
    }

    /// How long the phone stays registered at most (`stay_ms`); SIPp's own `-timeout` is a
    /// little longer.
    pub fn stay(mut self, limit: Duration) -> Self {
        self.timeout = limit + Duration::from_secs(5);
        self.set("stay_ms", &limit.as_millis().to_string())
    }

    /// Starts the scenario in the background against herald (UDP or TCP listener, per
    /// [`Sipp::transport`]). Bounded by `-timeout` and by the bound given to
    /// [`SippChild::wait`]; killed on drop.
    pub fn spawn(self, herald: &Herald) -> SippChild {
        let target = match self.transport {
            SippTransport::Udp => herald.udp,
            SippTransport::Tcp => herald.tcp.expect("herald listens on TCP"),
        };
        self.start(Some(target))
    }

    /// Starts the scenario in the background as a server (no target: SIPp waits for the first
    /// request), e.g. the trunk registrar herald registers to. Its address is
    /// [`SippChild::local_addr`], known before herald starts.
    pub fn spawn_server(self) -> SippChild {
        self.start(None)
    }

    fn start(self, target: Option<SocketAddr>) -> SippChild {
        if let Some(target) = target {
            assert!(target.ip().is_loopback(), "SIPp only ever targets loopback");
        }
        let dir = tempfile::Builder::new()
            .prefix("herald-sipp-")
            .tempdir()
            .expect("a temporary directory");
        for (name, source) in &self.files {
            std::os::unix::fs::symlink(source, dir.path().join(name))
                .expect("link a file for SIPp");
        }
        let messages = dir.path().join("messages.log");
        let errors = dir.path().join("errors.log");
        let local_port = match self.transport {
            SippTransport::Udp => free_udp_port(),
            SippTransport::Tcp => free_tcp_port(),
        };
        let media_port = free_udp_port();
        // The last -i wins in SIPp; the child's address is that one.
        let local_ip = self
            .extra
            .windows(2)
            .rfind(|w| w[0] == "-i")
            .and_then(|w| w[1].parse::<Ipv4Addr>().ok())
            .unwrap_or(Ipv4Addr::LOCALHOST);
        // An -oocsf pair leads the extra arguments: a -set of a variable that only the
        // out-of-call scenario declares must come after it.
        let (ooc, rest) = if self.extra.first().is_some_and(|a| a == "-oocsf") {
            self.extra.split_at(2)
        } else {
            self.extra.split_at(0)
        };
        let declares = |var: &str| {
            std::iter::once(self.scenario.as_path())
                .chain(ooc.get(1).map(Path::new))
                .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(var)))
        };
        let mut defaults = Vec::new();
        if declares("$rtp_port") && !rest.windows(2).any(|w| w == ["-set", "rtp_port"]) {
            // No media endpoint given: SIPp's own media port, which drops what it receives.
            defaults.extend([
                "-set".to_owned(),
                "rtp_ip".to_owned(),
                local_ip.to_string(),
                "-set".to_owned(),
                "rtp_port".to_owned(),
                media_port.to_string(),
            ]);
        }
        if declares("$caller") {
            defaults.extend(["-set".to_owned(), "caller".to_owned(), self.caller.clone()]);
        }
        let out = tempfile::tempfile().expect("a temporary file");
        let err = tempfile::tempfile().expect("a temporary file");
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path());
        if let Some(target) = target {
            cmd.arg(target.to_string());
        }
        cmd.arg("-sf")
            .arg(&self.scenario)
            .args([
                "-t",
                if self.transport == SippTransport::Udp {
                    "u1"
                } else {
                    "t1"
                },
            ])
            .args(["-i", "127.0.0.1", "-mi", &local_ip.to_string()])
            .args([
                "-p",
                &local_port.to_string(),
                "-mp",
                &media_port.to_string(),
            ])
            .args(["-s", &self.service])
            .args(["-m", &self.calls.to_string(), "-l", &self.calls.to_string()])
            .args([
                "-timeout",
                &format!("{}s", self.timeout.as_secs().max(1)),
                "-timeout_error",
                "-recv_timeout",
                "10s",
            ])
            .args(["-nostdin", "-trace_msg", "-trace_err"])
            .arg("-message_file")
            .arg(&messages)
            .arg("-error_file")
            .arg(&errors)
            .args(ooc)
            .args(&defaults)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        SippChild {
            child: Some(child),
            transport: self.transport,
            local: SocketAddr::from((local_ip, local_port)),
            user: self.service.clone(),
            stdout: out,
            stderr: err,
            messages,
            errors,
            _dir: dir,
        }
    }
}

/// A SIPp process running in the background ([`Sipp::spawn`], [`Sipp::spawn_server`]).
/// Killed on drop if still running.
pub struct SippChild {
    child: Option<Child>,
    transport: SippTransport,
    local: SocketAddr,
    user: String,
    stdout: std::fs::File,
    stderr: std::fs::File,
    messages: PathBuf,
    errors: PathBuf,
    _dir: TempDir,
}

impl SippChild {
    /// Where SIPp receives SIP (its `-i`/`-p`): a phone's binding, a trunk registrar's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `None` while SIPp runs; its exit status once it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("poll SIPp"))
    }

    /// The messages SIPp has sent and received so far (its `-trace_msg` log).
    pub fn messages(&self) -> String {
        std::fs::read_to_string(&self.messages).unwrap_or_default()
    }

    /// Waits for SIPp to exit, at most `bound`; then kills it (the run's status says so).
    pub fn wait(mut self, bound: Duration) -> SippRun {
        let child = self.child.take().expect("SIPp still owned");
        let status = wait_or_kill(child, bound);
        self.collect(status)
    }

    /// Ends SIPp now (SIGTERM, so it closes its logs; SIGKILL if it lingers) and returns what
    /// it left behind. Its status is then not a verdict on the scenario.
    pub fn kill(mut self) -> SippRun {
        let child = self.child.take().expect("SIPp still owned");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = wait_or_kill(child, Duration::from_secs(5));
        self.collect(status)
    }

    /// Tells a phone to stop: an out-of-dialog NOTIFY with `Event: check-sync` (what a PBX
    /// sends to make a phone resync) to its SIP port, over its transport. The phone answers
    /// 200, unregisters and exits; this waits for that at most `bound`.
    pub fn stop(self, bound: Duration) -> SippRun {
        let nonce = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let notify = |via_transport: &str, via_addr: SocketAddr| {
            format!(
                "NOTIFY sip:{user}@{phone} SIP/2.0\r\n\
                 Via: SIP/2.0/{via_transport} {via_addr};branch=z9hG4bK{nonce};rport\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:herald-test@127.0.0.1>;tag={nonce}\r\n\
                 To: <sip:{user}@{phone}>\r\n\
                 Call-ID: check-sync-{nonce}@127.0.0.1\r\n\
                 CSeq: 1 NOTIFY\r\n\
                 Event: check-sync\r\n\
                 Subscription-State: terminated\r\n\
                 Content-Length: 0\r\n\r\n",
                user = self.user,
                phone = self.local,
            )
        };
        // Best effort: if the phone is already gone, the wait below says so.
        match self.transport {
            SippTransport::Udp => {
                if let Ok(socket) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) {
                    let me = socket.local_addr().expect("a bound socket");
                    let _ = socket.send_to(notify("UDP", me).as_bytes(), self.local);
                    let _ = socket.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut buf = [0u8; 4096];
                    let _ = socket.recv_from(&mut buf);
                }
            }
            SippTransport::Tcp => {
                use std::io::{Read, Write};
                if let Ok(mut stream) =
                    std::net::TcpStream::connect_timeout(&self.local, Duration::from_secs(2))
                {
                    let me = stream.local_addr().expect("a connected socket");
                    let _ = stream.write_all(notify("TCP", me).as_bytes());
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                }
            }
        }
        self.wait(bound)
    }

    fn collect(&mut self, status: ExitStatus) -> SippRun {
        SippRun {
            status,
            stdout: read_all(self.stdout.try_clone().expect("SIPp's stdout file")),
            stderr: read_all(self.stderr.try_clone().expect("SIPp's stderr file")),
            messages: std::fs::read_to_string(&self.messages).unwrap_or_default(),
            errors: std::fs::read_to_string(&self.errors).unwrap_or_default(),
        }
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for `child` at most `bound`, then SIGKILLs it; either way returns its exit status.
fn wait_or_kill(child: Child, bound: Duration) -> ExitStatus {
    let pid = child.id().to_string();
    let (tx, rx) = mpsc::channel();
    let mut child = child;
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(bound) {
        Ok(status) => status,
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            rx.recv().expect("the waiter reports")
        }
    };
    let _ = waiter.join();
    status.expect("wait for SIPp")
}
