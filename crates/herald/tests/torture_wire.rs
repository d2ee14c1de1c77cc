//! RFC 4475 torture messages sent to the real herald over UDP, compared with
//! `../shared/conformance/sip-torture/expectations.tsv`.
//!
//! The messages carry 192.0.2.x and example.com addresses, so the test runs inside a private
//! network namespace: the test re-executes its own binary under `unshare --net` with
//! [`CHILD_ENV`] set; the child brings `lo` up and runs the real body. Nothing herald sends can
//! leave that namespace's loopback.
//!
//! Herald answers UDP requests at the source IP and the top Via's sent-by port (5060 when
//! absent), or the source port when `rport` is present (RFC 3261 §18.2.2, RFC 3581), so the
//! child binds a receiver on every port the messages' top Vias name. The messages are sent
//! byte for byte; after each one an OPTIONS probe is sent and its answer ends the wait: what
//! arrived before it is the message's answer (nothing, for "drop" rows).
//!
//! Where the RFC expects a REGISTER to succeed, our registrar first challenges (401); the
//! message is then sent again with an Authorization header, a new branch and CSeq+1 (which
//! RFC 3261 §22.2 requires of a retry), and the answer to that is compared. INVITEs to a
//! configured user ring (180) without a final answer; they are cancelled, and "ringing"
//! counts as accepting the message. Messages that would collide with an earlier message's
//! server transaction (same method, branch and sent-by: the RFC reuses `z9hG4bKkdjuw`) get a
//! fresh herald, so that every message is judged on its own.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Herald, HeraldConfig, SipResponse, User, in_ci, repo_root, run_program};
use herald_sip::auth::{ClientSecret, DigestChallenge, NonceCount};

const CHILD_ENV: &str = "HERALD_TORTURE_NETNS_CHILD";
const TEST_NAME: &str = "rfc4475_torture_messages_on_the_wire";
/// Herald's UDP port inside the namespace (5060 and 5070 are taken by the messages' Vias).
const HERALD_PORT: u16 = 5090;
/// How long one message (and its probe) may take to be answered.
const WINDOW: Duration = Duration::from_secs(10);
const USERS: [(&str, &str); 3] = [
    ("j.user", "torture-j-user"),
    ("user", "torture-user"),
    ("watson", "torture-watson"),
];

fn torture_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/conformance/sip-torture");
    if dir.join("expectations.tsv").is_file() {
        return Some(dir);
    }
    assert!(!in_ci(), "{} is missing and CI is set", dir.display());
    eprintln!(
        "skipping: the RFC 4475 torture messages are not at {}",
        dir.display()
    );
    None
}

#[test]
fn rfc4475_torture_messages_on_the_wire() {
    let Some(dir) = torture_dir() else { return };
    if std::env::var_os(CHILD_ENV).is_some() {
        return in_namespace(&dir);
    }
    let probe = Command::new("unshare").args(["--net", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = probe.map_or_else(
            |e| e.to_string(),
            |o| String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        eprintln!(
            "skipping: cannot create a network namespace with `unshare --net` ({})",
            why.trim()
        );
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = run_program(
        Command::new("unshare")
            .args(["--net", "--"])
            .arg(exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, "1"),
        Duration::from_secs(600),
    );
    println!("{}", out.stdout);
    eprintln!("{}", out.stderr);
    assert!(
        out.status.success(),
        "the torture run in the network namespace failed ({})",
        out.status
    );
    assert!(
        out.stdout.contains("torture (wire):") || out.stderr.contains("torture (wire):"),
        "the child did not run the test"
    );
}

/// One row of expectations.tsv.
#[derive(Debug)]
struct Row {
    file: String,
    strict: String,
    also_ok: String,
}

fn expectations(dir: &Path) -> Vec<Row> {
    let text =
        std::fs::read_to_string(dir.join("expectations.tsv")).expect("read expectations.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 5, "bad expectations row: {l}");
            Row {
                file: cols[0].to_owned(),
                strict: cols[3].to_owned(),
                also_ok: cols[4].to_owned(),
            }
        })
        .collect()
}

/// What herald did with a message.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Nothing came back.
    Dropped,
    /// One final answer.
    Final(u16),
    /// A provisional answer (180) and no final one: the message was accepted.
    Ringing,
    /// More than one distinct final answer.
    Several(Vec<u16>),
}

/// Whether `outcome` satisfies one expectation token ("200", "!400", "drop", "accept(...)").
fn satisfies(token: &str, outcome: &Outcome) -> bool {
    let token = token.trim();
    let accepted = match outcome {
        Outcome::Ringing => true,
        Outcome::Final(s) => *s != 400 && *s < 500,
        _ => false,
    };
    if token == "drop" || token == "discard" {
        return *outcome == Outcome::Dropped;
    }
    if token == "!400" {
        return accepted;
    }
    let digits: String = token
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    if token.starts_with("accept") && digits.is_empty() {
        return accepted;
    }
    match digits.parse::<u16>() {
        Ok(code)
            if token.starts_with(|c: char| c.is_ascii_digit()) || token.starts_with("accept") =>
        {
            *outcome == Outcome::Final(code)
        }
        _ => false,
    }
}

fn tokens(column: &str) -> Vec<&str> {
    column
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "-")
        .collect()
}

/// A torture message and what the harness needs to know about it.
struct Torture {
    bytes: Vec<u8>,
    method: String,
    request_uri: String,
    /// (method, branch, sent-by) of the top Via: what server transaction matching keys on.
    key: String,
    /// Where herald sends the answer, unless `rport`.
    via_port: u16,
}

fn head_of(bytes: &[u8]) -> String {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    // Unfold continuation lines.
    let mut out = String::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.push(' ');
            out.push_str(line.trim_start());
        } else {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            out.push_str(line);
        }
    }
    out
}

fn header_value<'h>(head: &'h str, names: &[&str]) -> Option<&'h str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        names
            .iter()
            .any(|want| n.trim().eq_ignore_ascii_case(want))
            .then_some(v.trim())
    })
}

impl Torture {
    fn load(path: &Path) -> Torture {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let head = head_of(&bytes);
        let request_line = head.split("\r\n").next().unwrap_or("");
        let method = request_line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned();
        let request_uri = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let via = header_value(&head, &["via", "v"]).unwrap_or("");
        let top = via.split(',').next().unwrap_or("");
        let (proto_and_host, params) = top.split_once(';').unwrap_or((top, ""));
        let compact: String = proto_and_host
            .split('/')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("/");
        let sent_by: String = compact.split_whitespace().skip(1).collect();
        let via_port = sent_by
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(5060);
        let branch = params
            .split(';')
            .find_map(|p| p.trim().strip_prefix("branch="))
            .unwrap_or("");
        let key = format!("{method} {branch} {}", sent_by.to_ascii_lowercase());
        Torture {
            bytes,
            method,
            request_uri,
            key,
            via_port,
        }
    }
}

/// The sockets of the test client: one sender (which also gets `rport` answers) and one
/// receiver per Via port.
struct Net {
    sender: UdpSocket,
    receivers: Vec<UdpSocket>,
    herald: SocketAddr,
    probes: u32,
    /// Every datagram seen from this herald: retransmissions are recognised by their bytes.
    seen: HashSet<Vec<u8>>,
}

impl Net {
    fn new(ports: &BTreeSet<u16>) -> Net {
        let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the sender");
        let receivers = ports
            .iter()
            .map(|p| {
                let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, *p))
                    .unwrap_or_else(|e| panic!("bind 127.0.0.1:{p}: {e}"));
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect();
        Net {
            sender,
            receivers,
            herald: SocketAddr::from((Ipv4Addr::LOCALHOST, HERALD_PORT)),
            probes: 0,
            seen: HashSet::new(),
        }
    }

    fn send(&self, bytes: &[u8]) {
        self.sender
            .send_to(bytes, self.herald)
            .expect("send to herald");
    }

    /// Sends an OPTIONS probe and returns every new response that arrived before the probe's
    /// answer; `Err` when the probe is not answered in time.
    fn until_probe(&mut self) -> Result<Vec<SipResponse>, String> {
        self.probes += 1;
        let n = self.probes;
        let local = self.sender.local_addr().unwrap();
        let call_id = format!("torture-probe-{n}@127.0.0.1");
        let probe = format!(
            "OPTIONS sip:127.0.0.1:{HERALD_PORT} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-probe-{n};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe{n}\r\nTo: <sip:127.0.0.1:{HERALD_PORT}>\r\n\
             Call-ID: {call_id}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        self.send(probe.as_bytes());
        let deadline = Instant::now() + WINDOW;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        let mut answered = false;
        while !answered {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "the OPTIONS probe was not answered within {WINDOW:?}"
                ));
            }
            self.sender
                .set_read_timeout(Some(left.min(Duration::from_millis(20))))
                .unwrap();
            if let Ok((len, _)) = self.sender.recv_from(&mut buf) {
                let d = buf[..len].to_vec();
                match SipResponse::parse(&d) {
                    Some(r)
                        if r.call_id().as_deref() == Some(call_id.as_str()) && r.status >= 200 =>
                    {
                        answered = true
                    }
                    Some(r) if r.call_id().as_deref() == Some(call_id.as_str()) => {}
                    _ => got.push(d),
                }
            }
            // Herald answers in order, so whatever it sent before the probe's answer is
            // already queued on the receivers.
            for r in &self.receivers {
                while let Ok((len, _)) = r.recv_from(&mut buf) {
                    got.push(buf[..len].to_vec());
                }
            }
        }
        let mut responses = Vec::new();
        for d in got {
            if !self.seen.insert(d.clone()) {
                continue; // a retransmission of something already seen
            }
            match SipResponse::parse(&d) {
                Some(r) => responses.push(r),
                None => eprintln!(
                    "  (ignored a request from herald: {:?})",
                    String::from_utf8_lossy(&d[..d.len().min(60)])
                ),
            }
        }
        Ok(responses)
    }
}

/// An ACK or CANCEL for an INVITE, built from a response to it (same Via, From, Call-ID and
/// CSeq number); `keep_to_tag` is false for CANCEL (its To is the INVITE's).
fn hop_by_hop(method: &str, request_uri: &str, resp: &SipResponse, keep_to_tag: bool) -> String {
    let via = resp.header("Via").unwrap_or_default();
    let from = resp.header("From").unwrap_or_default();
    let mut to = resp.header("To").unwrap_or_default();
    if let Some(i) = to.find(";tag=").filter(|_| !keep_to_tag) {
        let rest = &to[i + 5..];
        let end = rest.find(';').map_or(to.len(), |j| i + 5 + j);
        to.replace_range(i..end, "");
    }
    let call_id = resp.call_id().unwrap_or_default();
    let cseq = resp.header("CSeq").unwrap_or_default();
    let number = cseq.split_whitespace().next().unwrap_or("1");
    format!(
        "{method} {request_uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
         CSeq: {number} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The REGISTER again with credentials for the challenge, a new branch and CSeq + 1.
fn with_credentials(msg: &Torture, challenge: &SipResponse) -> Option<Vec<u8>> {
    let head = head_of(&msg.bytes);
    let to = header_value(&head, &["to", "t"])?;
    let user = to.split("sip:").nth(1)?.split(['@', '>', ';']).next()?;
    let (_, password) = USERS.iter().find(|(u, _)| *u == user)?;
    let values = challenge.headers("WWW-Authenticate", None);
    let chosen = DigestChallenge::best(values.iter().map(String::as_str))?;
    let nc = NonceCount::new(1)?;
    let authorization = chosen
        .authorization(
            "REGISTER",
            &msg.request_uri,
            user,
            ClientSecret::Password(password),
            "0a4f113b",
            nc,
        )
        .ok()?;
    let text = String::from_utf8_lossy(&msg.bytes).into_owned();
    let head_end = text.find("\r\n\r\n")?;
    let (head, rest) = text.split_at(head_end);
    let mut lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    for line in lines.iter_mut().skip(1) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if name == "via" || name == "v" {
            if let Some(i) = line.find("branch=") {
                let end = line[i..]
                    .find([';', ',', ' '])
                    .map_or(line.len(), |j| i + j);
                line.insert_str(end, "-auth");
            }
            break;
        }
    }
    for line in lines.iter_mut().skip(1) {
        if line.to_ascii_lowercase().starts_with("cseq:") {
            let value = line[5..].trim();
            let (n, m) = value.split_once(' ')?;
            *line = format!("CSeq: {} {m}", n.parse::<u64>().ok()? + 1);
            break;
        }
    }
    lines.insert(1, format!("Authorization: {authorization}"));
    Some(format!("{}{rest}", lines.join("\r\n")).into_bytes())
}

/// Sends one torture message and works out herald's answer.
fn exchange(
    net: &mut Net,
    msg: &Torture,
    expects_200: bool,
) -> Result<(Outcome, Vec<SipResponse>), String> {
    net.send(&msg.bytes);
    let mut responses = net.until_probe()?;
    let finals = |rs: &[SipResponse]| {
        rs.iter()
            .filter(|r| r.status >= 200)
            .map(|r| r.status)
            .collect::<Vec<u16>>()
    };
    if msg.method == "INVITE" {
        for r in responses.iter().filter(|r| r.status >= 300) {
            net.send(hop_by_hop("ACK", &msg.request_uri, r, true).as_bytes());
        }
        let ringing = responses
            .iter()
            .find(|r| (180..200).contains(&r.status))
            .cloned();
        if let Some(ringing) = ringing.filter(|_| finals(&responses).is_empty()) {
            net.send(hop_by_hop("CANCEL", &msg.request_uri, &ringing, false).as_bytes());
            let after = net.until_probe()?;
            if let Some(r) = after.iter().find(|r| r.status == 487) {
                net.send(hop_by_hop("ACK", &msg.request_uri, r, true).as_bytes());
            }
            responses.extend(after);
            return Ok((Outcome::Ringing, responses));
        }
    }
    let first = finals(&responses);
    if msg.method == "REGISTER" && first == [401] && expects_200 {
        let challenge = responses.iter().find(|r| r.status == 401).unwrap().clone();
        if let Some(retry) = with_credentials(msg, &challenge) {
            net.send(&retry);
            let after = net.until_probe()?;
            let second = finals(&after);
            responses.extend(after);
            return Ok((outcome_of(second), responses));
        }
    }
    Ok((outcome_of(first), responses))
}

fn outcome_of(mut finals: Vec<u16>) -> Outcome {
    finals.dedup();
    match finals.as_slice() {
        [] => Outcome::Dropped,
        [one] => Outcome::Final(*one),
        _ => Outcome::Several(finals),
    }
}

fn start_herald() -> Herald {
    let users = USERS.iter().map(|(u, p)| User::new(u, p)).collect();
    Herald::start(&HeraldConfig {
        domain: "example.com".into(),
        udp_port: Some(HERALD_PORT),
        users,
        ..HeraldConfig::default()
    })
}

fn in_namespace(dir: &Path) {
    let lo = run_program(
        Command::new("ip").args(["link", "set", "lo", "up"]),
        Duration::from_secs(10),
    );
    assert!(lo.status.success(), "ip link set lo up: {}", lo.stderr);
    let rows = expectations(dir);
    let messages: Vec<Torture> = rows
        .iter()
        .map(|r| Torture::load(&dir.join(&r.file)))
        .collect();
    let mut ports: BTreeSet<u16> = messages.iter().map(|m| m.via_port).collect();
    ports.insert(5060);
    ports.remove(&HERALD_PORT);
    let mut net = Net::new(&ports);

    let mut herald = start_herald();
    let mut keys = HashSet::new();
    let (mut strict, mut tolerated, mut failures) = (0, 0, Vec::new());
    for (row, msg) in rows.iter().zip(&messages) {
        if !msg.method.starts_with("SIP/") && !keys.insert(msg.key.clone()) {
            drop(herald);
            herald = start_herald();
            net.seen.clear();
            keys = HashSet::from([msg.key.clone()]);
        }
        let expects_200 = tokens(&row.strict)
            .iter()
            .chain(tokens(&row.also_ok).iter())
            .any(|t| satisfies(t, &Outcome::Final(200)))
            && !tokens(&row.strict)
                .iter()
                .any(|t| satisfies(t, &Outcome::Final(401)));
        let result = exchange(&mut net, msg, expects_200);
        let verdict = match &result {
            Err(e) => Err(e.clone()),
            Ok((outcome, _)) if tokens(&row.strict).iter().any(|t| satisfies(t, outcome)) => {
                Ok("strict")
            }
            Ok((outcome, _)) if tokens(&row.also_ok).iter().any(|t| satisfies(t, outcome)) => {
                Ok("tolerated")
            }
            Ok((outcome, _)) => Err(format!("got {outcome:?}")),
        };
        match verdict {
            Ok(kind) => {
                if kind == "strict" {
                    strict += 1;
                } else {
                    tolerated += 1;
                }
                println!(
                    "ok    {:<24} {kind:<9} {:?}",
                    row.file,
                    result.as_ref().unwrap().0
                );
            }
            Err(got) => {
                let statuses = result
                    .as_ref()
                    .map(|(_, rs)| rs.iter().map(|r| r.status).collect::<Vec<_>>())
                    .unwrap_or_default();
                let line = format!(
                    "{}: expected {} (also ok: {}), {got}; responses {statuses:?}",
                    row.file, row.strict, row.also_ok
                );
                println!("FAIL  {line}");
                failures.push(line);
            }
        }
        if herald.exit_status().is_some() {
            failures.push(format!(
                "{}: herald exited ({:?}); log:\n{}",
                row.file,
                herald.exit_status(),
                herald.log()
            ));
            herald = start_herald();
            net.seen.clear();
            keys.clear();
        }
    }
    println!(
        "torture (wire): {} passed, {} failed ({strict} strict, {tolerated} tolerated)",
        strict + tolerated,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "torture (wire) failures:\n{}",
        failures.join("\n")
    );
}
