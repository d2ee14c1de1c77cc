//! Tests of the configuration loader: defaults, every kind of error with its position, HA1
//! conversion and redaction, and the example file at the repository root.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};
use sha2::Sha256;

use super::*;

const ORIGIN: &str = "t.toml";

/// Every error line for `src`; panics if it loads.
pub(super) fn errors(src: &str) -> Vec<String> {
    match Config::from_toml_str(src, ORIGIN) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

pub(super) fn load(src: &str) -> Config {
    Config::from_toml_str(src, ORIGIN).unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
}

pub(super) fn assert_has(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e.starts_with(expected)),
        "no error starts with {expected:?}; got:\n{}",
        errors.join("\n")
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(load(""), Config::default());
    assert_eq!(load("# only a comment\n\n"), Config::default());
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::default();
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    let listen: Vec<String> = c.sip.listen.iter().map(ToString::to_string).collect();
    assert_eq!(listen, ["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]);
    assert_eq!(c.sip.domain, "herald.local");
    assert_eq!(c.sip.realm, "herald.local");
    assert_eq!(
        c.sip.user_agent,
        format!("Herald/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(c.sip.max_message_size, 65535);
    assert_eq!(c.sip.timers.t1, Duration::from_millis(500));
    assert_eq!(c.sip.timers.t2, Duration::from_secs(4));
    assert_eq!(c.sip.timers.t4, Duration::from_secs(5));
    assert_eq!(c.sip.session_expires, Duration::from_secs(1800));
    assert_eq!(c.sip.min_se, Duration::from_secs(90));
    let r = &c.sip.registrar;
    assert!(r.enabled);
    assert_eq!(
        (r.min_expires.as_secs(), r.max_expires.as_secs()),
        (60, 3600)
    );
    assert_eq!((r.default_expires.as_secs(), r.max_contacts), (3600, 10));
    assert_eq!(r.nonce_ttl, Duration::from_secs(300));
    assert_eq!(
        r.algorithms,
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
    );
    assert_eq!((c.media.rtp_port_min, c.media.rtp_port_max), (16384, 32767));
    assert_eq!(c.media.codecs, [Codec::Pcmu, Codec::Pcma]);
    assert_eq!(c.media.ptime, Duration::from_millis(20));
    assert!(c.media.telephone_event);
    assert_eq!(
        (c.media.workers, c.media.tick),
        (0, Duration::from_millis(5))
    );
    assert_eq!(
        (c.media.jitter_min, c.media.jitter_max),
        (Duration::from_millis(40), Duration::from_millis(200))
    );
    assert_eq!(c.media.inband_dtmf, InbandDtmf::Auto);
    assert_eq!(c.media.srtp, SrtpPolicy::Optional);
    assert_eq!(c.media.media_timeout, Some(Duration::from_secs(60)));
    assert_eq!(c.media.prompts, None);
    assert_eq!(c.ivr.dialplans, None);
    assert_eq!(c.ivr.max_steps, 10_000);
    assert_eq!(c.ivr.script_memory, 64 << 20);
    assert_eq!(c.ivr.fetch_timeout, Duration::from_secs(10));
    assert_eq!(c.storage.database.as_str(), "sqlite://./data/herald.db");
    assert_eq!(c.storage.database.backend(), DatabaseBackend::Sqlite);
    assert_eq!(
        c.storage.recordings,
        RecordingsStore::File("./data/recordings".into())
    );
    assert_eq!(
        c.api.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert!(c.api.tokens.is_empty() && c.users.is_empty() && c.trunks.is_empty());
}

#[test]
fn storage_defaults_follow_data_dir() {
    let c = load("data_dir = \"/var/lib/herald\"\n");
    assert_eq!(
        c.storage.database.as_str(),
        "sqlite:///var/lib/herald/herald.db"
    );
    assert_eq!(
        c.storage.recordings.to_string(),
        "file:///var/lib/herald/recordings"
    );
}

#[test]
fn unknown_key_in_a_section_names_key_section_and_position() {
    let errs = errors("[sip]\ndomain = \"example.com\"\n  foo = 1\n");
    assert_eq!(errs.len(), 1);
    assert_has(
        &errs,
        "t.toml:3:3: unknown key `foo` in [sip], expected one of `listen`, ",
    );
}

#[test]
fn unknown_key_in_nested_and_array_tables() {
    assert_has(
        &errors("[sip.timers]\nt3_ms = 1\n"),
        "t.toml:2:1: unknown key `t3_ms` in [sip.timers]",
    );
    assert_has(
        &errors("sip.registrar.foo = true\n"),
        "t.toml:1:15: unknown key `foo` in [sip.registrar]",
    );
    let src = "[[users]]\nusername = \"a\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"\n\n[[users]]\npasswd = \"x\"\n";
    assert_has(
        &errors(src),
        "t.toml:6:1: unknown key `passwd` in [[users]], expected one of `username`",
    );
}

#[test]
fn unknown_sections_are_errors() {
    assert_has(
        &errors("[recording]\nsegment_ms = 1000\n"),
        "t.toml:1:2: unknown section [recording], expected one of `data_dir`, `sip`",
    );
    assert_has(
        &errors("\n[retentions.voice]\ndays = 1\n"),
        "t.toml:2:2: unknown section [retentions]",
    );
    assert_has(
        &errors("colour = \"blue\"\n"),
        "t.toml:1:1: unknown top-level key `colour`",
    );
}

#[test]
fn wrong_types_name_the_key() {
    assert_eq!(
        errors("[media]\nrtp_port_min = \"16384\"\n"),
        ["t.toml:2:16: `media.rtp_port_min`: invalid type: string \"16384\", expected an integer"]
    );
    assert_has(
        &errors("[sip]\nlisten = \"udp:0.0.0.0:5060\"\n"),
        "t.toml:2:10: `sip.listen`: invalid type: string",
    );
    assert_has(
        &errors("sip = 5\n"),
        "t.toml:1:7: `sip`: invalid type: integer `5`, expected a table",
    );
    assert_has(
        &errors("[sip.registrar]\nenabled = \"yes\"\n"),
        "t.toml:2:11: `sip.registrar.enabled`: invalid type: string \"yes\", expected a boolean",
    );
    assert_has(
        &errors("[[trunks]]\nname = \"t\"\nregister = 1\n"),
        "t.toml:3:12: `trunks[0].register`: invalid type: integer",
    );
}

#[test]
fn syntax_errors_have_positions() {
    let errs = errors("[sip]\ndomain = \"a\nx = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("t.toml:2:"), "{}", errs[0]);
    assert!(errs[0].contains("TOML syntax error"), "{}", errs[0]);
    assert_has(
        &errors("[sip]\ndomain = \"a\"\ndomain = \"b\"\n"),
        "t.toml:3:1: TOML syntax error: duplicate key",
    );
}

#[test]
fn bad_listen_strings_are_all_reported() {
    let src = "[sip]\nlisten = [\n  \"udp:0.0.0.0:5060\",\n  \"sctp:0.0.0.0:5060\",\n  \"udp:0.0.0.0\",\n  \"tcp:::1:5060\",\n]\n";
    let errs = errors(src);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        "t.toml:4:3: `sip.listen[1]`: unknown transport `sctp`",
    );
    assert_has(
        &errs,
        "t.toml:5:3: `sip.listen[2]`: bad listen address \"udp:0.0.0.0\"",
    );
    assert_has(&errs, "t.toml:6:3: `sip.listen[3]`: bad listen address");
}

#[test]
fn listen_parses_every_transport_and_ipv6() {
    let c = load(
        "[sip]\nlisten = [\"udp:[::1]:5060\", \"TCP:0.0.0.0:5060\", \"ws:0.0.0.0:8088\", \"wss:0.0.0.0:8089\", \"tls:[::]:5061\"]\n\
         tls_certificate = \"cert.pem\"\ntls_private_key = \"key.pem\"\n",
    );
    let l = &c.sip.listen;
    assert_eq!(
        l[0],
        Listen {
            transport: Transport::Udp,
            addr: "[::1]:5060".parse().unwrap()
        }
    );
    assert_eq!(l[1].transport, Transport::Tcp);
    assert_eq!(l[2].transport, Transport::Ws);
    assert!(l[3].transport.is_secure() && l[4].transport.is_secure());
    assert_eq!(l[4].to_string(), "tls:[::]:5061");
    assert_eq!(
        c.sip.tls_certificate.as_deref(),
        Some(Path::new("cert.pem"))
    );
}

#[test]
fn clashing_listeners_are_errors() {
    let errs = errors(
        "[sip]\nlisten = [\"tcp:0.0.0.0:5060\", \"ws:0.0.0.0:5060\", \"udp:0.0.0.0:5060\", \"udp:0.0.0.0:5060\"]\n",
    );
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        "t.toml:2:31: `sip.listen[1]`: ws:0.0.0.0:5060 needs a TCP socket",
    );
    assert_has(
        &errs,
        "t.toml:2:70: `sip.listen[3]`: `udp:0.0.0.0:5060` is listed twice",
    );
}

#[test]
fn tls_listener_needs_certificate_and_key() {
    let errs = errors("[sip]\nlisten = [\"udp:0.0.0.0:5060\", \"tls:0.0.0.0:5061\"]\n");
    assert_eq!(
        errs,
        [
            "t.toml:2:31: `sip.listen[1]`: tls listener tls:0.0.0.0:5061 needs `sip.tls_certificate` and `sip.tls_private_key`"
        ]
    );
    let errs = errors("[sip]\nlisten = [\"wss:0.0.0.0:8089\"]\ntls_certificate = \"c.pem\"\n");
    assert_has(&errs, "t.toml:2:11: `sip.listen[0]`: wss listener");
    assert_has(
        &errors("[sip]\ntls_private_key = \"k.pem\"\n"),
        "t.toml:2:19: `sip.tls_private_key`: is set but `sip.tls_certificate` is not",
    );
}

#[test]
fn codecs_are_case_insensitive_and_checked() {
    let c = load("[media]\ncodecs = [\"opus\", \"g722\", \"pcma\", \"PCMU\"]\n");
    assert_eq!(
        c.media.codecs,
        [Codec::Opus, Codec::G722, Codec::Pcma, Codec::Pcmu]
    );
    let errs = errors("[media]\ncodecs = [\"PCMU\", \"G729\", \"telephone-event\", \"pcmu\"]\n");
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        "t.toml:2:19: `media.codecs[1]`: unknown codec \"G729\", expected one of PCMU, PCMA, G722, opus",
    );
    assert_has(
        &errs,
        "t.toml:2:27: `media.codecs[2]`: unknown codec \"telephone-event\"",
    );
    assert_has(
        &errs,
        "t.toml:2:46: `media.codecs[3]`: `PCMU` is listed twice",
    );
    assert_has(
        &errors("[media]\ncodecs = []\n"),
        "t.toml:2:10: `media.codecs`: must not be empty",
    );
}

#[test]
fn media_ranges_and_every_error_is_collected() {
    let src = "[media]\nrtp_port_min = 20001\nrtp_port_max = 20000\nptime = 25\n\n[sip]\nmin_se = 60\nmax_message_size = 100\n\n[sip.timers]\nt1_ms = 5000\n";
    let errs = errors(src);
    assert_has(&errs, "t.toml:2:16: `media.rtp_port_min`: must be even");
    assert_has(
        &errs,
        "t.toml:3:16: `media.rtp_port_max`: rtp_port_min (20001) must be below rtp_port_max (20000)",
    );
    assert_has(
        &errs,
        "t.toml:4:9: `media.ptime`: must be a multiple of 10 ms, got 25",
    );
    assert_has(
        &errs,
        "t.toml:7:10: `sip.min_se`: must be between 90 and 86400, got 60",
    );
    assert_has(
        &errs,
        "t.toml:8:20: `sip.max_message_size`: must be between 1024 and 1048576, got 100",
    );
    assert_has(
        &errs,
        "t.toml:11:9: `sip.timers.t1_ms`: T1 (5000 ms) must not exceed T2 (4000 ms)",
    );
    assert_eq!(errs.len(), 6, "{errs:#?}");
    assert!(errs.iter().all(|e| !e.contains('\n')));
    assert_has(
        &errors("[media]\nrtp_port_min = 80\n"),
        "t.toml:2:16: `media.rtp_port_min`: must be between 1024 and 65534",
    );
}

#[test]
fn registrar_rules() {
    let errs = errors("[sip.registrar]\nmin_expires = 7200\nalgorithms = [\"SHA-512\"]\n");
    assert_has(
        &errs,
        "t.toml:2:15: `sip.registrar.min_expires`: expected min_expires <= default_expires <= max_expires, got 7200 <= 3600 <= 3600",
    );
    assert_has(
        &errs,
        "t.toml:3:15: `sip.registrar.algorithms[0]`: unknown digest algorithm \"SHA-512\"",
    );
    assert_has(
        &errors("[sip.registrar]\nalgorithms = []\n"),
        "t.toml:2:14: `sip.registrar.algorithms`: must not be empty",
    );
    let c = load("[sip.registrar]\nalgorithms = [\"md5\"]\nmax_contacts = 1\n");
    assert_eq!(c.sip.registrar.algorithms, [DigestAlgorithm::Md5]);
}

#[test]
fn realm_defaults_to_domain_and_addresses_are_checked() {
    let c = load("[sip]\ndomain = \"pbx.example.com\"\nadvertised_address = \"192.0.2.10\"\n");
    assert_eq!(c.sip.realm, "pbx.example.com");
    assert_eq!(
        c.sip.advertised_address,
        Some("192.0.2.10".parse::<IpAddr>().unwrap())
    );
    assert_eq!(
        c.sip.advertised_ip_for(&c.sip.listen[0]).to_string(),
        "192.0.2.10"
    );
    assert_eq!(
        load("[sip]\nrealm = \"Herald Staff\"\n").sip.realm,
        "Herald Staff"
    );
    let errs = errors("[sip]\ndomain = \"bad domain\"\nadvertised_address = \"0.0.0.0\"\n");
    assert_has(
        &errs,
        "t.toml:2:10: `sip.domain`: \"bad domain\" is not a DNS name or IP address",
    );
    assert_has(
        &errs,
        "t.toml:3:22: `sip.advertised_address`: \"0.0.0.0\" cannot be reached by peers",
    );
}

#[test]
fn storage_urls_are_checked_and_passwords_hidden() {
    let c = load(
        "[storage]\ndatabase = \"postgres://herald:hunter2@db.example/herald\"\nrecordings = \"s3://herald-rec/site-a/\"\n",
    );
    assert_eq!(c.storage.database.backend(), DatabaseBackend::Postgres);
    assert_eq!(
        c.storage.database.as_str(),
        "postgres://herald:hunter2@db.example/herald"
    );
    assert_eq!(
        c.storage.database.to_string(),
        "postgres://herald:<redacted>@db.example/herald"
    );
    assert_eq!(
        c.storage.recordings,
        RecordingsStore::S3 {
            bucket: "herald-rec".into(),
            prefix: "site-a".into()
        }
    );
    assert!(!format!("{c:?}").contains("hunter2"));
    let errs =
        errors("[storage]\ndatabase = \"mysql://root:pw@x/db\"\nrecordings = \"/var/rec\"\n");
    assert_eq!(errs.len(), 2);
    assert_has(
        &errs,
        "t.toml:2:12: `storage.database`: unsupported database URL \"mysql://root:<redacted>@x/db\"",
    );
    assert_has(
        &errs,
        "t.toml:3:14: `storage.recordings`: unsupported recordings location",
    );
    assert!(!errs.join("").contains("pw@"));
    assert_eq!(
        load("[storage]\ndatabase = \"sqlite::memory:\"\n")
            .storage
            .database
            .backend(),
        DatabaseBackend::Sqlite
    );
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

#[test]
fn plaintext_password_becomes_ha1_and_never_shows() {
    let c = load(
        "[[users]]\nusername = \"alice\"\ndisplay_name = \"Alice\"\nroles = [\"agent\"]\npassword = \"Tr0ub4dor\"\n",
    );
    let alice = &c.users[0];
    assert_eq!(
        alice.ha1.md5.as_deref(),
        Some(md5_hex("alice:herald.local:Tr0ub4dor").as_str())
    );
    let sha = hex::encode(Sha256::digest(b"alice:herald.local:Tr0ub4dor"));
    assert_eq!(alice.ha1.sha256.as_deref(), Some(sha.as_str()));
    let debug = format!("{c:?}");
    assert!(!debug.contains("Tr0ub4dor"), "{debug}");
    assert!(
        !debug.contains(&md5_hex("alice:herald.local:Tr0ub4dor")),
        "{debug}"
    );
    assert!(!debug.contains(&sha), "{debug}");
    let warnings = c.warnings();
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "t.toml:5:12: `users[0].password`: user \"alice\" has a plaintext password"
        )),
        "{warnings:#?}"
    );
    assert!(!warnings.join("").contains("secret\""));
}

#[test]
fn ha1_uses_the_configured_realm() {
    let c = load(
        "[sip]\ndomain = \"example.com\"\nrealm = \"staff\"\n[[users]]\nusername = \"bob\"\npassword = \"pw\"\n",
    );
    assert_eq!(
        c.users[0].ha1.md5.as_deref(),
        Some(md5_hex("bob:staff:pw").as_str())
    );
}

#[test]
fn ha1_values_are_checked_and_hidden() {
    let md5 = "0123456789ABCDEF0123456789ABCDEF";
    let c = load(&format!(
        "[[users]]\nusername = \"carol\"\nha1_md5 = \"{md5}\"\n"
    ));
    assert_eq!(
        c.users[0].ha1.md5.as_deref(),
        Some(md5.to_lowercase().as_str())
    );
    assert_eq!(c.users[0].ha1.sha256, None);
    assert!(
        !format!("{c:?}")
            .to_lowercase()
            .contains(&md5.to_lowercase())
    );
    assert!(c.warnings().iter().all(|w| !w.contains("users")));
    let errs = errors("[[users]]\nusername = \"carol\"\nha1_sha256 = \"abc\"\n");
    assert_eq!(
        errs,
        [
            "t.toml:3:14: `users[0].ha1_sha256`: expected 64 hexadecimal digits (the value is not shown)"
        ]
    );
}

#[test]
fn user_rules() {
    let src = "[[users]]\nusername = \"alice\"\npassword = \"a\"\n\n[[users]]\nusername = \"alice\"\npassword = \"b\"\n\n\
               [[users]]\ndisplay_name = \"Nobody\"\n\n[[users]]\nusername = \"dave\"\n\n\
               [[users]]\nusername = \"eve\"\npassword = \"x\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"\n";
    let errs = errors(src);
    assert_has(
        &errs,
        "t.toml:6:12: `users[1].username`: duplicate name \"alice\"",
    );
    assert_has(
        &errs,
        "t.toml:9:1: `users[2].username`: missing required key `username` in [[users]]",
    );
    assert_has(
        &errs,
        "t.toml:13:12: `users[3].username`: user \"dave\" has no credentials",
    );
    assert_has(
        &errs,
        "t.toml:17:12: `users[4].password`: set either `password` or HA1 values",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    let errs = errors(
        "[sip.registrar]\nalgorithms = [\"SHA-256\"]\n[[users]]\nusername = \"old\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"\n",
    );
    assert_has(
        &errs,
        "t.toml:4:12: `users[0].username`: user \"old\" has no HA1 for any algorithm",
    );
    assert_has(
        &errors("[[users]]\nusername = \"a b\"\npassword = \"x\"\n"),
        "t.toml:2:12: `users[0].username`: the username must be non-empty",
    );
}

#[test]
fn api_tokens() {
    let hash = hex::encode(Sha256::digest(b"s3cr3t-token"));
    let c = load(&format!(
        "[api]\nlisten = \"[::1]:9000\"\n[[api.tokens]]\nname = \"ops\"\ntoken_sha256 = \"{hash}\"\nroles = [\"admin\", \"cti\"]\n"
    ));
    let token = &c.api.tokens[0];
    assert_eq!(token.roles, [ApiRole::Admin, ApiRole::Cti]);
    assert!(token.token_sha256.matches("s3cr3t-token"));
    assert!(!token.token_sha256.matches("s3cr3t-tokeN"));
    assert!(!format!("{c:?}").contains(&hash));
    let errs = errors(&format!(
        "[[api.tokens]]\nname = \"a\"\ntoken_sha256 = \"{hash}\"\nroles = [\"root\"]\n[[api.tokens]]\nname = \"a\"\ntoken_sha256 = \"{hash}\"\nroles = []\n[[api.tokens]]\nroles = [\"cti\"]\n"
    ));
    assert_has(
        &errs,
        "t.toml:4:10: `api.tokens[0].roles[0]`: unknown role \"root\"",
    );
    assert_has(
        &errs,
        "t.toml:6:8: `api.tokens[1].name`: duplicate name \"a\"",
    );
    assert_has(
        &errs,
        "t.toml:7:16: `api.tokens[1].token_sha256`: the same token hash",
    );
    assert_has(
        &errs,
        "t.toml:8:9: `api.tokens[1].roles`: must not be empty",
    );
    assert_has(
        &errs,
        "t.toml:9:1: `api.tokens[2].name`: missing required key `name` in [[api.tokens]]",
    );
    assert_has(
        &errs,
        "t.toml:9:1: `api.tokens[2].token_sha256`: missing required key `token_sha256`",
    );
    assert_eq!(errs.len(), 6, "{errs:#?}");
    assert_has(
        &errors("[api]\nlisten = \"localhost\"\n"),
        "t.toml:2:10: `api.listen`: \"localhost\" is not ADDRESS:PORT",
    );
}

#[test]
fn api_settings_and_dsr() {
    let c = load("");
    assert!(c.api.enabled);
    assert_eq!(c.api.hold_release_approvals, 2);
    assert_eq!(c.api.max_body_bytes, 65_536);
    assert_eq!(
        (
            c.api.tls_certificate.as_ref(),
            c.api.recording_identity.as_ref()
        ),
        (None, None)
    );
    assert_eq!(c.dsr.deadline, RetentionPeriod::Months(1));
    assert_eq!(c.dsr.subject_key, c.data_dir.join("subject-index.key"));
    assert_eq!(c.dsr.bundles, c.data_dir.join("dsr"));
    let c = load(
        "[api]\nenabled = false\ntls_certificate = \"c.pem\"\ntls_private_key = \"k.pem\"\n\
         recording_identity = \"id.txt\"\nhold_release_approvals = 1\n\
         [dsr]\ndeadline = \"30 days\"\nworker_interval = 60\n",
    );
    assert!(!c.api.enabled);
    assert_eq!(c.api.hold_release_approvals, 1);
    assert_eq!(
        c.api.recording_identity.as_deref(),
        Some(std::path::Path::new("id.txt"))
    );
    assert_eq!(c.dsr.deadline, RetentionPeriod::Days(30));
    assert_eq!(c.dsr.worker_interval, std::time::Duration::from_secs(60));
    let errs = errors(
        "[api]\ntls_certificate = \"c.pem\"\nhold_release_approvals = 3\nmax_body_bytes = 10\n\
         [dsr]\ndeadline = \"soon\"\nworker_interval = 0\n",
    );
    assert_has(
        &errs,
        "t.toml:2:19: `api.tls_certificate`: tls_certificate and tls_private_key go together",
    );
    assert_has(
        &errs,
        "t.toml:3:26: `api.hold_release_approvals`: must be between 1 and 2, got 3",
    );
    assert_has(
        &errs,
        "t.toml:4:18: `api.max_body_bytes`: must be between 1024 and 16777216, got 10",
    );
    assert_has(
        &errs,
        "t.toml:6:12: `dsr.deadline`: \"soon\" is not a period",
    );
}

#[test]
fn trunks() {
    let c = load(
        "[[trunks]]\nname = \"carrier-a\"\naddress = \"sip.carrier.example:5060\"\ntransport = \"tcp\"\nallowed_sources = [\"192.0.2.0/24\", \"2001:db8::1\"]\nusername = \"acct\"\npassword = \"trunkpw\"\nregister = true\n",
    );
    let t = &c.trunks[0];
    assert_eq!(
        t.address.as_ref().map(ToString::to_string).as_deref(),
        Some("sip.carrier.example:5060")
    );
    assert_eq!(t.transport, Transport::Tcp);
    assert!(t.allowed_sources[0].contains("192.0.2.77".parse().unwrap()));
    assert!(t.allowed_sources[0].contains("::ffff:192.0.2.77".parse().unwrap()));
    assert!(!t.allowed_sources[0].contains("192.0.3.1".parse().unwrap()));
    assert!(t.allowed_sources[1].contains("2001:db8::1".parse().unwrap()));
    assert_eq!(t.allowed_sources[1].prefix_len(), 128);
    assert_eq!(t.password.as_ref().map(Secret::expose), Some("trunkpw"));
    assert!(!format!("{c:?}").contains("trunkpw"));
    let src = "[[trunks]]\nname = \"a\"\naddress = \"[2001:db8::5]:5060\"\nallowed_sources = [\"10.0.0.1/8\", \"nonsense\"]\ntransport = \"ws\"\n\n\
               [[trunks]]\nname = \"a\"\nregister = true\nusername = \"u\"\n\n[[trunks]]\nname = \"b\"\naddress = \"sip.example\"\n";
    let errs = errors(src);
    assert_has(
        &errs,
        "t.toml:4:20: `trunks[0].allowed_sources[0]`: bad network \"10.0.0.1/8\": host bits are set (did you mean \"10.0.0.0/8\"?)",
    );
    assert_has(
        &errs,
        "t.toml:4:34: `trunks[0].allowed_sources[1]`: bad address or network \"nonsense\"",
    );
    assert_has(
        &errs,
        "t.toml:5:13: `trunks[0].transport`: trunks use udp, tcp or tls",
    );
    assert_has(&errs, "t.toml:8:8: `trunks[1].name`: duplicate name \"a\"");
    assert_has(
        &errs,
        "t.toml:8:8: `trunks[1].name`: trunk \"a\" needs `address`, `allowed_sources`, or both",
    );
    assert_has(
        &errs,
        "t.toml:9:12: `trunks[1].register`: registration needs the trunk's `address`",
    );
    assert_has(
        &errs,
        "t.toml:10:12: `trunks[1].username`: is set but `password` is not",
    );
    assert_has(
        &errs,
        "t.toml:14:11: `trunks[2].address`: bad address \"sip.example\": expected HOST:PORT",
    );
    assert_eq!(errs.len(), 8, "{errs:#?}");
}

#[test]
fn the_defaults_give_no_warnings() {
    // A wildcard listener advertises, per peer, the address the kernel routes from.
    assert!(
        Config::default().warnings().is_empty(),
        "{:#?}",
        Config::default().warnings()
    );
    assert!(
        load("[sip]\nadvertised_address = \"192.0.2.1\"\n")
            .warnings()
            .is_empty()
    );
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let missing = repo_root().join("no-such-herald.toml");
    let errs = Config::load(&missing).unwrap_err();
    assert_eq!(errs.len(), 1);
    let line = errs.to_string();
    assert!(
        line.starts_with(&format!(
            "{}: cannot read configuration file",
            missing.display()
        )),
        "{line}"
    );
}

fn example_text() -> String {
    std::fs::read_to_string(repo_root().join("herald.example.toml"))
        .expect("herald.example.toml at the repository root")
}

#[test]
fn example_file_loads_and_documents_the_defaults() {
    let path = repo_root().join("herald.example.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config,
        Config::default(),
        "active keys in the example must be the defaults"
    );
}

/// The example with its optional settings switched on.
fn uncommented_example() -> String {
    example_text()
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.is_empty() && !rest.starts_with([' ', '#', '!']) => rest,
            _ => line,
        })
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// Lines like `#username = "alice"` (a `#` straight before TOML) are optional settings; removing
/// the `#` from all of them must still give a valid file that uses every section.
#[test]
fn example_file_optional_settings_are_valid() {
    let uncommented = uncommented_example();
    let config = Config::from_toml_str(&uncommented, "herald.example.toml (uncommented)")
        .unwrap_or_else(|e| panic!("{e}\n---\n{uncommented}"));
    assert!(!config.users.is_empty() && !config.trunks.is_empty() && !config.api.tokens.is_empty());
    assert!(config.sip.advertised_address.is_some());
    assert!(config.ivr.dialplans.is_some());
    let debug = format!("{config:?}");
    assert!(!debug.contains("change-me"), "plaintext leaked: {debug}");
}

/// Every prefix of a full configuration loads or fails with positioned one-line errors, and
/// never panics.
#[test]
fn truncated_files_never_panic() {
    let full = uncommented_example();
    let cuts = full.char_indices().map(|(i, _)| i).chain([full.len()]);
    for cut in cuts {
        if let Err(errors) = Config::from_toml_str(&full[..cut], ORIGIN) {
            assert!(!errors.is_empty());
            for error in &errors {
                let line = error.to_string();
                assert!(
                    line.starts_with("t.toml:") && !line.contains('\n'),
                    "{line}"
                );
                assert!(
                    !line.contains("change-me") && !line.contains("trunk-secret"),
                    "{line}"
                );
            }
        }
    }
}

#[test]
fn media_engine_keys_are_checked() {
    let c = load(
        "[media]\ninband_dtmf = \"on\"\nsrtp = \"required\"\nmedia_timeout = 0\nworkers = 3\n",
    );
    assert_eq!(c.media.inband_dtmf, InbandDtmf::On);
    assert_eq!(c.media.srtp, SrtpPolicy::Required);
    assert_eq!(c.media.media_timeout, None);
    assert_eq!(c.media.workers, 3);
    let errs = errors(
        "[media]\ninband_dtmf = \"maybe\"\nsrtp = \"yes\"\ntick_ms = 50\njitter_min_ms = 300\njitter_max_ms = 100\n",
    );
    assert_has(
        &errs,
        "t.toml:2:15: `media.inband_dtmf`: expected \"auto\", \"on\" or \"off\", got \"maybe\"",
    );
    assert_has(
        &errs,
        "t.toml:3:8: `media.srtp`: expected \"off\", \"optional\" or \"required\"",
    );
    assert_has(
        &errs,
        "t.toml:4:11: `media.tick_ms`: must be between 1 and 20, got 50",
    );
    assert_has(
        &errs,
        "t.toml:6:17: `media.jitter_max_ms`: must not be below jitter_min_ms (300 ms)",
    );
}

#[test]
fn ivr_keys_are_checked() {
    let c = load(
        "[ivr]\ndialplans = \"/etc/herald/dialplans\"\nmax_steps = 1\nscript_memory = 1024\nfetch_timeout = 600\n",
    );
    assert_eq!(
        c.ivr.dialplans.as_deref(),
        Some(Path::new("/etc/herald/dialplans"))
    );
    assert_eq!(c.ivr.max_steps, 1);
    assert_eq!(c.ivr.script_memory, 1024 << 20);
    assert_eq!(c.ivr.fetch_timeout, Duration::from_secs(600));
    assert_eq!(
        load("[ivr]\nmax_steps = 4294967295\n").ivr.max_steps,
        u32::MAX
    );
    let errs =
        errors("[ivr]\ndialplans = \"\"\nmax_steps = 0\nscript_memory = 2048\nfetch_timeout = 0\n");
    assert_has(&errs, "t.toml:2:13: `ivr.dialplans`: must not be empty");
    assert_has(
        &errs,
        "t.toml:3:13: `ivr.max_steps`: must be between 1 and 4294967295, got 0",
    );
    assert_has(
        &errs,
        "t.toml:4:17: `ivr.script_memory`: must be between 1 and 1024, got 2048",
    );
    assert_has(
        &errs,
        "t.toml:5:17: `ivr.fetch_timeout`: must be between 1 and 600, got 0",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert_has(
        &errors("[ivr]\nmax_steps = 4294967296\n"),
        "t.toml:2:13: `ivr.max_steps`: must be between 1 and 4294967295",
    );
}

#[test]
fn unknown_ivr_key_and_the_removed_greeting_are_errors() {
    assert_has(
        &errors("[ivr]\nmax_step = 5\n"),
        "t.toml:2:1: unknown key `max_step` in [ivr], expected one of `dialplans`, `max_steps`, `script_memory`, `fetch_timeout`",
    );
    assert_has(
        &errors("[ivr]\nfetch_timeout = \"10s\"\n"),
        "t.toml:2:17: `ivr.fetch_timeout`: invalid type: string \"10s\", expected an integer",
    );
    // Dialplans decide what a call hears now.
    assert_has(
        &errors("[media]\ngreeting = \"welcome\"\n"),
        "t.toml:2:1: unknown key `greeting` in [media]",
    );
}

const AGENTS: &str = "[[users]]\nusername = \"alice\"\npassword = \"pw\"\n[[users]]\nusername = \"bob\"\npassword = \"pw\"\nsrtp = true\n";

#[test]
fn agent_groups_load_with_their_defaults() {
    let c = load(&format!(
        "{AGENTS}[agent_groups.support]\nmembers = [\"alice\", \"bob\"]\n"
    ));
    let g = &c.agent_groups[0];
    assert_eq!((g.name.as_str(), g.members.len()), ("support", 2));
    assert_eq!(g.strategy, Strategy::LongestIdle);
    assert_eq!(g.ring_timeout, Duration::from_secs(20));
    assert_eq!(g.wrap_up, Duration::from_secs(10));
    assert_eq!(g.hold_music, None);
    assert!(!c.users[0].srtp && c.users[1].srtp);
    assert!(Config::default().agent_groups.is_empty());
}

#[test]
fn agent_group_mistakes_are_errors_with_positions() {
    let errs = errors(&format!(
        "{AGENTS}[agent_groups.sales]\nmembers = [\"alice\", \"mallory\", \"alice\"]\nstrategy = \"random\"\nring_timeout = 0\nwrap_up = -1\nhold_music = \"two words\"\ncolour = 1\n"
    ));
    assert_has(
        &errs,
        "t.toml:14:1: unknown key `colour` in [agent_groups.sales]",
    );
    let errs = errors(&format!(
        "{AGENTS}[agent_groups.sales]\nmembers = [\"alice\", \"mallory\", \"alice\"]\nstrategy = \"random\"\nring_timeout = 0\nwrap_up = -1\nhold_music = \"two words\"\n"
    ));
    assert_has(
        &errs,
        "t.toml:9:21: `agent_groups.sales.members[1]`: \"mallory\" is not a username of [[users]]",
    );
    assert_has(
        &errs,
        "t.toml:9:32: `agent_groups.sales.members[2]`: \"alice\" is listed twice",
    );
    assert_has(
        &errs,
        "t.toml:10:12: `agent_groups.sales.strategy`: unknown strategy \"random\"",
    );
    assert_has(
        &errs,
        "t.toml:11:16: `agent_groups.sales.ring_timeout`: must be between 1 and 600",
    );
    assert_has(
        &errs,
        "t.toml:12:11: `agent_groups.sales.wrap_up`: must be between 0 and 3600",
    );
    assert_has(&errs, "t.toml:13:14: `agent_groups.sales.hold_music`");
    assert_has(
        &errors("[agent_groups.empty]\nmembers = []\n"),
        "t.toml:2:11: `agent_groups.empty.members`: agent group \"empty\" has no members",
    );
}

#[test]
fn trunk_numbering_and_outbound_numbers_are_checked() {
    let c = load(
        "[[trunks]]\nname = \"c\"\naddress = \"127.0.0.1:5090\"\noutbound_numbers = [\"+49*\"]\ncountry_code = \"49\"\n",
    );
    let t = &c.trunks[0];
    assert!(t.outbound_numbers[0].matches("+4930123"));
    assert_eq!(t.numbering.to_e164("030 123").as_deref(), Some("+4930123"));
    assert_eq!(t.register_expires, 3600);
    let errs = errors(
        "[[trunks]]\nname = \"c\"\naddress = \"127.0.0.1:5090\"\noutbound_numbers = [\"49*\", \"+4*9\"]\ncountry_code = \"+49\"\nnational_prefix = \"x\"\nregister_expires = 5\n",
    );
    assert_has(
        &errs,
        "t.toml:4:21: `trunks[0].outbound_numbers[0]`: \"49*\": outbound numbers are E.164 patterns",
    );
    assert_has(&errs, "t.toml:4:28: `trunks[0].outbound_numbers[1]`");
    assert_has(&errs, "t.toml:5:16: `trunks[0].country_code`");
    assert_has(&errs, "t.toml:6:19: `trunks[0].national_prefix`");
    assert_has(
        &errs,
        "t.toml:7:20: `trunks[0].register_expires`: must be between 60 and 86400",
    );
}
