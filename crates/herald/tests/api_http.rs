//! The HTTP API of the real binary, without calls: every endpoint admits exactly its roles;
//! bad input (malformed JSON, wrong types, unknown fields, huge bodies, path traversal, bad
//! queries) gets a 4xx with a JSON error naming the problem; health, metrics and the OpenAPI
//! document are served; schemathesis (from PyPI) finds no 5xx; and editing or deleting audit
//! rows in the database is caught by `herald audit verify`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{ApiToken, Herald, HeraldConfig, Reply, in_ci, repo_root};
use serde_json::{Value, json};

const ROLES: [&str; 4] = ["admin", "supervisor", "compliance", "cti"];
const RECORDING: &str = "0123456789abcdef0123456789abcdef";

fn start(dir: &Path, tokens: Vec<ApiToken>) -> Herald {
    let config = HeraldConfig {
        api: vec![format!(
            "recording_identity = {}",
            common::toml_str(&dir.join("recorder.key").display().to_string())
        )],
        tokens,
        ..HeraldConfig::default()
    };
    Herald::start_in(dir, &config)
}

fn role_tokens() -> Vec<ApiToken> {
    ROLES.iter().map(|r| ApiToken::new(r, &[r])).collect()
}

/// Every endpoint, a request it accepts as well-formed, and the roles it admits.
fn endpoints() -> Vec<(&'static str, String, Option<Value>, &'static [&'static str])> {
    let reason = json!({ "reason": "test" });
    let call = "/api/v1/calls/00000000000000000000000000000000";
    vec![
        (
            "GET",
            "/api/v1/calls".into(),
            None,
            &["admin", "supervisor", "cti"],
        ),
        ("GET", call.into(), None, &["admin", "supervisor", "cti"]),
        (
            "POST",
            format!("{call}/hangup"),
            None,
            &["admin", "supervisor"],
        ),
        (
            "POST",
            format!("{call}/recording/pause"),
            Some(reason.clone()),
            &["supervisor", "cti"],
        ),
        (
            "POST",
            format!("{call}/recording/resume"),
            Some(reason.clone()),
            &["supervisor", "cti"],
        ),
        (
            "POST",
            format!("{call}/recording/start"),
            Some(reason.clone()),
            &["supervisor", "cti"],
        ),
        (
            "POST",
            format!("{call}/recording/stop"),
            Some(reason.clone()),
            &["supervisor", "cti"],
        ),
        (
            "POST",
            format!("{call}/identifiers"),
            Some(json!({ "email": "jane@example.org" })),
            &["supervisor", "cti"],
        ),
        (
            "GET",
            "/api/v1/recordings".into(),
            None,
            &["compliance", "supervisor"],
        ),
        (
            "GET",
            format!("/api/v1/recordings/{RECORDING}"),
            None,
            &["compliance", "supervisor"],
        ),
        (
            "POST",
            format!("/api/v1/recordings/{RECORDING}/audio"),
            Some(json!({ "purpose": "test" })),
            &["compliance"],
        ),
        (
            "POST",
            format!("/api/v1/recordings/{RECORDING}/erase"),
            Some(reason.clone()),
            &["compliance"],
        ),
        (
            "POST",
            format!("/api/v1/recordings/{RECORDING}/holds"),
            Some(json!({ "case_ref": "C-1", "reason": "test" })),
            &["compliance"],
        ),
        (
            "POST",
            "/api/v1/holds/nohold-h1/release".into(),
            Some(reason),
            &["compliance"],
        ),
        (
            "GET",
            "/api/v1/subjects?phone=%2B4930123456".into(),
            None,
            &["compliance"],
        ),
        (
            "POST",
            "/api/v1/dsr/requests".into(),
            Some(
                json!({ "type": "delete", "subject": { "phone": "+4930123456" }, "reason": "test" }),
            ),
            &["compliance"],
        ),
        ("GET", "/api/v1/dsr/requests".into(), None, &["compliance"]),
        (
            "GET",
            "/api/v1/dsr/requests/dsr-0000000000000000".into(),
            None,
            &["compliance"],
        ),
        (
            "GET",
            "/api/v1/dsr/requests/dsr-0000000000000000/bundle".into(),
            None,
            &["compliance"],
        ),
        (
            "GET",
            "/api/v1/audit".into(),
            None,
            &["compliance", "admin"],
        ),
        (
            "GET",
            "/api/v1/audit/verify".into(),
            None,
            &["compliance", "admin"],
        ),
    ]
}

fn text(reply: &Reply) -> String {
    format!("{} {}", reply.status, String::from_utf8_lossy(&reply.body))
}

#[test]
fn every_endpoint_admits_exactly_its_roles() {
    let dir = tempfile::tempdir().expect("a test directory");
    let herald = start(dir.path(), role_tokens());
    for (method, path, body, allowed) in endpoints() {
        let anonymous = herald.http(method, &path, None, body.as_ref());
        assert_eq!(
            (anonymous.status, anonymous.code().as_str()),
            (401, "unauthorized"),
            "{method} {path}"
        );
        let wrong = herald.http(method, &path, Some("not-a-token"), body.as_ref());
        assert_eq!(wrong.status, 401, "{method} {path}");
        for role in ROLES {
            let token = ApiToken::new(role, &[role]).token;
            let reply = herald.http(method, &path, Some(&token), body.as_ref());
            if allowed.contains(&role) {
                assert!(
                    ![401, 403].contains(&reply.status) && reply.status < 500,
                    "{role} may {method} {path}: {}",
                    text(&reply)
                );
            } else {
                assert_eq!(
                    reply.status,
                    403,
                    "{role} may not {method} {path}: {}",
                    text(&reply)
                );
                assert_eq!(reply.code(), "forbidden");
                assert!(
                    reply.json()["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains(allowed[0])
                );
            }
        }
    }
    let challenge = herald.http("GET", "/api/v1/calls", None, None);
    assert_eq!(challenge.status, 401);
}

/// Method, path, body (content type and bytes), and the status, error code and a word the
/// message must contain.
type BadRequest = (
    &'static str,
    String,
    Option<(&'static str, Vec<u8>)>,
    u16,
    &'static str,
    &'static str,
);

#[test]
fn bad_input_gets_a_clear_4xx() {
    let dir = tempfile::tempdir().expect("a test directory");
    let herald = start(dir.path(), vec![ApiToken::new("all", &ROLES)]);
    let token = ApiToken::new("all", &ROLES).token;
    let token = Some(token.as_str());
    let pause = "/api/v1/calls/0123/recording/pause";
    let json_body = |b: &str| Some(("application/json", b.as_bytes().to_vec()));
    let cases: Vec<BadRequest> = vec![
        (
            "POST",
            pause.into(),
            json_body("{\"reason\": "),
            400,
            "malformed-json",
            "EOF",
        ),
        (
            "POST",
            pause.into(),
            json_body("{\"reason\": 5}"),
            422,
            "invalid-body",
            "reason",
        ),
        (
            "POST",
            pause.into(),
            json_body("{\"reason\": \"x\", \"card\": \"4111\"}"),
            422,
            "invalid-body",
            "card",
        ),
        (
            "POST",
            pause.into(),
            json_body("{}"),
            422,
            "invalid-body",
            "reason",
        ),
        (
            "POST",
            pause.into(),
            json_body("{\"reason\": \"  \"}"),
            400,
            "invalid-argument",
            "reason",
        ),
        (
            "POST",
            pause.into(),
            Some(("text/plain", b"{\"reason\": \"x\"}".to_vec())),
            415,
            "unsupported-media-type",
            "application/json",
        ),
        (
            "POST",
            pause.into(),
            Some(("application/json", vec![b' '; 256 << 10])),
            413,
            "body-too-large",
            "max_body_bytes",
        ),
        (
            "GET",
            "/api/v1/recordings/%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(),
            None,
            400,
            "invalid-path",
            "ids",
        ),
        (
            "GET",
            "/api/v1/dsr/requests/..%2F..%2Fherald.db/bundle".into(),
            None,
            400,
            "invalid-path",
            "ids",
        ),
        (
            "GET",
            format!("/api/v1/recordings/{}", "a".repeat(200)),
            None,
            400,
            "invalid-path",
            "ids",
        ),
        (
            "GET",
            "/api/v1/recordings?limit=lots".into(),
            None,
            400,
            "invalid-query",
            "limit",
        ),
        (
            "GET",
            "/api/v1/recordings?limit=0".into(),
            None,
            400,
            "invalid-argument",
            "limit",
        ),
        (
            "GET",
            "/api/v1/recordings?colour=red".into(),
            None,
            400,
            "invalid-query",
            "colour",
        ),
        (
            "GET",
            "/api/v1/recordings?from=yesterday".into(),
            None,
            400,
            "invalid-argument",
            "from",
        ),
        (
            "GET",
            "/api/v1/subjects?phone=call-me".into(),
            None,
            400,
            "invalid-argument",
            "phone",
        ),
        (
            "GET",
            "/api/v1/subjects?phone=%2B4930123456&email=a%40b.org".into(),
            None,
            400,
            "invalid-argument",
            "exactly one",
        ),
        (
            "GET",
            "/api/v1/nothing-here".into(),
            None,
            404,
            "not-found",
            "endpoint",
        ),
        (
            "DELETE",
            "/api/v1/calls".into(),
            None,
            405,
            "method-not-allowed",
            "method",
        ),
        (
            "POST",
            "/api/v1/dsr/requests".into(),
            json_body(
                "{\"type\": \"export\", \"subject\": {\"phone\": \"+4930123456\"}, \"reason\": \"x\", \"recipient\": \"age1nope\"}",
            ),
            400,
            "invalid-argument",
            "recipient",
        ),
        (
            "POST",
            "/api/v1/dsr/requests".into(),
            json_body(
                "{\"type\": \"shred\", \"subject\": {\"phone\": \"+4930123456\"}, \"reason\": \"x\"}",
            ),
            422,
            "invalid-body",
            "type",
        ),
        (
            "POST",
            "/api/v1/dsr/requests".into(),
            json_body(
                "{\"type\": \"delete\", \"subject\": {\"name\": \"Jane Doe\"}, \"reason\": \"x\"}",
            ),
            400,
            "invalid-argument",
            "not unique",
        ),
    ];
    for (method, path, body, status, code, mentions) in cases {
        let reply = herald.http_raw(method, &path, token, body);
        assert_eq!(reply.status, status, "{method} {path}: {}", text(&reply));
        assert_eq!(reply.code(), code, "{method} {path}: {}", text(&reply));
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(
            message.contains(mentions),
            "{method} {path}: {message:?} should mention {mentions:?}"
        );
    }
    // Still serving, and nothing of the sort is in the database.
    assert_eq!(herald.http("GET", "/healthz", None, None).status, 200);
    let requests = herald
        .http("GET", "/api/v1/dsr/requests", token, None)
        .json();
    assert_eq!(requests, json!([]));
}

#[test]
fn health_metrics_and_the_openapi_document_are_served() {
    let dir = tempfile::tempdir().expect("a test directory");
    let herald = start(dir.path(), vec![ApiToken::new("ops", &["admin"])]);
    assert_eq!(
        herald.http("GET", "/healthz", None, None).json()["status"],
        "ok"
    );
    assert_eq!(
        herald.http("GET", "/readyz", None, None).json()["status"],
        "ok"
    );
    let token = ApiToken::new("ops", &["admin"]).token;
    assert_eq!(
        herald
            .http("GET", "/api/v1/calls", Some(&token), None)
            .status,
        200
    );
    let metrics = herald.http("GET", "/metrics", None, None);
    assert_eq!(metrics.status, 200);
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    // The audit entries of the start (configuration) and of the listing above.
    let audited: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("herald_audit_entries_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no audit counter:\n{metrics}"));
    assert!(audited >= 2.0, "{metrics}");
    let openapi = herald.http("GET", "/openapi.json", None, None).json();
    assert!(
        openapi["openapi"].as_str().unwrap_or("").starts_with("3."),
        "{openapi}"
    );
    for path in [
        "/api/v1/calls/{id}/recording/pause",
        "/api/v1/recordings/{id}/audio",
        "/api/v1/dsr/requests",
        "/api/v1/audit/verify",
        "/metrics",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
    assert_eq!(
        openapi["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[test]
fn the_api_speaks_https_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().expect("a test directory");
    if !common::make_certificate(dir.path()) {
        assert!(!in_ci(), "openssl is needed for the TLS test");
        eprintln!("skipped: openssl not available");
        return;
    }
    let path = |name: &str| common::toml_str(&dir.path().join(name).display().to_string());
    let herald = Herald::start_in(
        dir.path(),
        &HeraldConfig {
            api: vec![
                format!("tls_certificate = {}", path("cert.pem")),
                format!("tls_private_key = {}", path("key.pem")),
            ],
            tokens: vec![ApiToken::new("ops", &["admin"])],
            ..HeraldConfig::default()
        },
    );
    assert!(herald.log().contains("tls=true"), "{}", herald.log());
    let api = herald.api.expect("the API address");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(dir.path().join("cert.pem")).expect("the certificate");
    let client = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("a PEM certificate")])
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTPS client");
    let token = ApiToken::new("ops", &["admin"]).token;
    let reply = client
        .get(format!("https://{api}/api/v1/calls"))
        .bearer_auth(&token)
        .send()
        .expect("an HTTPS request");
    assert_eq!(reply.status().as_u16(), 200);
    // Plain HTTP on the TLS port gets no API answer.
    let plain = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
        .get(format!("http://{api}/healthz"))
        .send();
    assert!(plain.is_err() || !plain.is_ok_and(|r| r.status().is_success()));
    // A client that gives up in the handshake harms nobody.
    drop(std::net::TcpStream::connect(api).expect("connect"));
    assert_eq!(herald.http_tls_status(&client, "/healthz"), 200);
}

/// Opens the test's SQLite database directly, as someone with access to the database host.
fn sql(herald_dir: &Path, statements: &[&str]) -> Vec<Vec<String>> {
    let url = format!("sqlite://{}/data/herald.db", herald_dir.display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Row;
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("open the database");
        let mut rows = Vec::new();
        for statement in statements {
            for row in sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .fetch_all(&pool)
                .await
                .expect("run SQL")
            {
                rows.push(
                    (0..row.len())
                        .map(|i| {
                            row.try_get::<String, _>(i)
                                .unwrap_or_else(|_| row.get::<i64, _>(i).to_string())
                        })
                        .collect(),
                );
            }
        }
        pool.close().await;
        rows
    })
}

#[test]
fn audit_tampering_is_detected() {
    let dir = tempfile::tempdir().expect("a test directory");
    let herald = start(dir.path(), vec![ApiToken::new("dpo", &["compliance"])]);
    let token = ApiToken::new("dpo", &["compliance"]).token;
    for _ in 0..5 {
        assert_eq!(
            herald
                .http("GET", "/api/v1/recordings", Some(&token), None)
                .status,
            200
        );
    }
    let verified = herald
        .http("GET", "/api/v1/audit/verify", Some(&token), None)
        .json();
    assert_eq!(verified["intact"], true, "{verified}");
    assert!(herald.cli(&["audit", "verify"]).contains("intact"));
    let entries = verified["entries"].as_u64().expect("a count");
    assert!(entries >= 6, "{verified}");

    // An edited row.
    sql(
        dir.path(),
        &["UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"],
    );
    let (ok, out) = herald.cli_result(&["audit", "verify"]);
    assert!(!ok && out.contains("entry 2 was altered"), "{out}");
    let api = herald
        .http("GET", "/api/v1/audit/verify", Some(&token), None)
        .json();
    assert_eq!(api["intact"], false, "{api}");
    sql(
        dir.path(),
        &["UPDATE audit_log SET actor = 'dpo' WHERE seq = 2"],
    );
    let (ok, out) = herald.cli_result(&["audit", "verify"]);
    assert!(ok, "restoring the row restores the chain: {out}");

    // A deleted row in the middle, then at the end.
    let saved = sql(dir.path(), &["SELECT seq FROM audit_log WHERE seq = 3"]);
    assert_eq!(saved.len(), 1);
    sql(
        dir.path(),
        &[
            "CREATE TABLE saved AS SELECT * FROM audit_log WHERE seq = 3",
            "DELETE FROM audit_log WHERE seq = 3",
        ],
    );
    let (ok, out) = herald.cli_result(&["audit", "verify"]);
    assert!(!ok && out.to_lowercase().contains("missing"), "{out}");
    sql(
        dir.path(),
        &[
            "INSERT INTO audit_log SELECT * FROM saved",
            "DROP TABLE saved",
        ],
    );
    let (ok, out) = herald.cli_result(&["audit", "verify"]);
    assert!(ok, "{out}");
    let last = sql(dir.path(), &["SELECT MAX(seq) FROM audit_log"])[0][0].clone();
    sql(
        dir.path(),
        &[&format!("DELETE FROM audit_log WHERE seq = {last}")],
    );
    let (ok, out) = herald.cli_result(&["audit", "verify"]);
    assert!(!ok && out.to_lowercase().contains("truncat"), "{out}");

    // A head moved back to an earlier entry (hiding the deletion) fails its signature: only
    // the node's key signs heads.
    sql(
        dir.path(),
        &[
            "UPDATE audit_head SET seq = seq - 1, hash = (SELECT hash FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log))",
        ],
    );
    let (ok, out) = herald.cli_result(&["audit", "verify"]);
    assert!(!ok && out.to_lowercase().contains("signature"), "{out}");
}

/// schemathesis, installed from PyPI by `scripts/setup-deps.sh test`, generates requests from
/// `/openapi.json` (bounded: 25 examples per operation, fixed seed) and fails on any 5xx.
#[test]
fn schemathesis_finds_no_server_error() {
    let schemathesis = repo_root().join("target/schemathesis-venv/bin/schemathesis");
    if !schemathesis.exists() {
        assert!(
            !in_ci(),
            "schemathesis is missing: run scripts/setup-deps.sh test"
        );
        eprintln!(
            "skipped: schemathesis is not installed (scripts/setup-deps.sh test installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("a test directory");
    let herald = start(dir.path(), vec![ApiToken::new("all", &ROLES)]);
    let token = ApiToken::new("all", &ROLES).token;
    let work = dir.path().join("schemathesis");
    std::fs::create_dir_all(&work).expect("a work directory");
    let settings = work.join("schemathesis.toml");
    std::fs::write(
        &settings,
        "[cache]\nenabled = false\n\n[warnings]\nfail-on = [\"missing_auth\"]\n",
    )
    .expect("write the settings");
    let api = herald.api.expect("the API address");
    let mut command = Command::new(&schemathesis);
    command
        .current_dir(&work)
        .env("HYPOTHESIS_STORAGE_DIRECTORY", work.join("hypothesis"))
        .arg("--config-file")
        .arg(&settings)
        .arg("run")
        .arg(format!("http://{api}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "1",
        ])
        .args([
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--workers",
            "1",
            "--no-color",
        ]);
    let out = common::run_program(&mut command, Duration::from_secs(600));
    assert!(
        out.status.success(),
        "schemathesis found a problem ({}):\n{}\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    // Every documented operation was exercised.
    let openapi = herald.http("GET", "/openapi.json", None, None).json();
    let operations: usize = openapi["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, |methods| methods.len()))
        .sum();
    assert!(
        out.stdout.contains(&format!("Tested: {operations}")),
        "not every one of the {operations} operations was tested:\n{}",
        out.stdout
    );
    assert!(!herald.log().contains("panicked"), "{}", herald.log());
}
