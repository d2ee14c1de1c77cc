//! The file as serde reads it: every key optional with its default, no unknown key accepted.
//!
//! Values stay close to their TOML form here (strings, `i64`); `validate` turns them into the
//! typed [`Config`](super::Config) and reports every problem at once.

use serde::Deserialize;

/// Top level of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawConfig {
    pub data_dir: String,
    pub sip: RawSip,
    pub media: RawMedia,
    pub ivr: RawIvr,
    pub storage: RawStorage,
    pub recorder: RawRecorder,
    pub retention: RawRetention,
    pub api: RawApi,
    pub dsr: RawDsr,
    pub users: Vec<RawUser>,
    pub trunks: Vec<RawTrunk>,
    pub agent_groups: std::collections::BTreeMap<String, RawAgentGroup>,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            data_dir: "./data".to_owned(),
            sip: RawSip::default(),
            media: RawMedia::default(),
            ivr: RawIvr::default(),
            storage: RawStorage::default(),
            recorder: RawRecorder::default(),
            retention: RawRetention::default(),
            api: RawApi::default(),
            dsr: RawDsr::default(),
            users: Vec::new(),
            trunks: Vec::new(),
            agent_groups: std::collections::BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSip {
    pub listen: Vec<String>,
    pub domain: String,
    pub realm: Option<String>,
    pub advertised_address: Option<String>,
    pub tls_certificate: Option<String>,
    pub tls_private_key: Option<String>,
    pub user_agent: String,
    pub max_message_size: i64,
    pub timers: RawTimers,
    pub session_expires: i64,
    pub min_se: i64,
    pub registrar: RawRegistrar,
}

impl Default for RawSip {
    fn default() -> Self {
        Self {
            listen: vec!["udp:0.0.0.0:5060".to_owned(), "tcp:0.0.0.0:5060".to_owned()],
            domain: "herald.local".to_owned(),
            realm: None,
            advertised_address: None,
            tls_certificate: None,
            tls_private_key: None,
            user_agent: concat!("Herald/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_message_size: 65535,
            timers: RawTimers::default(),
            session_expires: 1800,
            min_se: 90,
            registrar: RawRegistrar::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTimers {
    pub t1_ms: i64,
    pub t2_ms: i64,
    pub t4_ms: i64,
}

impl Default for RawTimers {
    fn default() -> Self {
        Self {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRegistrar {
    pub enabled: bool,
    pub min_expires: i64,
    pub max_expires: i64,
    pub default_expires: i64,
    pub max_contacts: i64,
    pub nonce_ttl: i64,
    pub algorithms: Vec<String>,
}

impl Default for RawRegistrar {
    fn default() -> Self {
        Self {
            enabled: true,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
            nonce_ttl: 300,
            algorithms: vec!["SHA-256".to_owned(), "MD5".to_owned()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMedia {
    pub rtp_port_min: i64,
    pub rtp_port_max: i64,
    pub codecs: Vec<String>,
    pub ptime: i64,
    pub telephone_event: bool,
    pub workers: i64,
    pub tick_ms: i64,
    pub jitter_min_ms: i64,
    pub jitter_max_ms: i64,
    pub inband_dtmf: String,
    pub srtp: String,
    pub srtp_over_plain_sip: bool,
    pub media_timeout: i64,
    pub prompts: Option<String>,
}

impl Default for RawMedia {
    fn default() -> Self {
        Self {
            rtp_port_min: 16384,
            rtp_port_max: 32767,
            codecs: vec!["PCMU".to_owned(), "PCMA".to_owned()],
            ptime: 20,
            telephone_event: true,
            workers: 0,
            tick_ms: 5,
            jitter_min_ms: 40,
            jitter_max_ms: 200,
            inband_dtmf: "auto".to_owned(),
            srtp: "optional".to_owned(),
            srtp_over_plain_sip: false,
            media_timeout: 60,
            prompts: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawIvr {
    pub dialplans: Option<String>,
    pub max_steps: i64,
    pub script_memory: i64,
    pub fetch_timeout: i64,
}

impl Default for RawIvr {
    fn default() -> Self {
        Self {
            dialplans: None,
            max_steps: 10_000,
            script_memory: 64,
            fetch_timeout: 10,
        }
    }
}

/// Both default to locations under `data_dir`, computed in `validate`.
// No `Debug`: `s3` holds a secret.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawStorage {
    pub database: Option<String>,
    pub recordings: Option<String>,
    pub s3: RawS3,
}

/// `[storage.s3]`: how to reach the object store named by `recordings = "s3://..."`.
// No `Debug`: `secret_access_key` is a secret.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawS3 {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub allow_http: bool,
    pub spool: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRecorder {
    pub enabled: bool,
    pub recipients: Vec<String>,
    pub codec: String,
    pub segment_ms: i64,
    pub node_key: Option<String>,
    pub default_retention: String,
    pub sweep_interval: i64,
}

impl Default for RawRecorder {
    fn default() -> Self {
        Self {
            enabled: true,
            recipients: Vec::new(),
            codec: "pcma".to_owned(),
            segment_ms: 1000,
            node_key: None,
            default_retention: "voice".to_owned(),
            sweep_interval: 3600,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRetention {
    pub classes: std::collections::BTreeMap<String, RawRetentionClass>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRetentionClass {
    pub keep: Option<String>,
    pub legal_obligation: bool,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawApi {
    pub enabled: bool,
    pub listen: String,
    pub tokens: Vec<RawApiToken>,
    pub tls_certificate: Option<String>,
    pub tls_private_key: Option<String>,
    pub recording_identity: Option<String>,
    pub hold_release_approvals: i64,
    pub max_body_bytes: i64,
}

impl Default for RawApi {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:8080".to_owned(),
            tokens: Vec::new(),
            tls_certificate: None,
            tls_private_key: None,
            recording_identity: None,
            hold_release_approvals: 2,
            max_body_bytes: 65_536,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawDsr {
    pub subject_key: Option<String>,
    pub deadline: String,
    pub bundles: Option<String>,
    pub worker_interval: i64,
    pub exports: bool,
}

impl Default for RawDsr {
    fn default() -> Self {
        Self {
            subject_key: None,
            deadline: "1 month".to_owned(),
            bundles: None,
            worker_interval: 5,
            exports: true,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawApiToken {
    pub name: Option<String>,
    pub token_sha256: Option<String>,
    pub roles: Vec<String>,
}

// No `Debug`: `password` is plaintext.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawUser {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
    pub password: Option<String>,
    pub srtp: bool,
}

// No `Debug`: `password` is plaintext.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTrunk {
    pub name: Option<String>,
    pub address: Option<String>,
    pub transport: String,
    pub allowed_sources: Vec<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub register: bool,
    pub register_expires: i64,
    pub outbound_numbers: Vec<String>,
    pub country_code: Option<String>,
    pub national_prefix: String,
    pub international_prefix: String,
}

impl Default for RawTrunk {
    fn default() -> Self {
        Self {
            name: None,
            address: None,
            transport: "udp".to_owned(),
            allowed_sources: Vec::new(),
            username: None,
            password: None,
            register: false,
            register_expires: 3600,
            outbound_numbers: Vec::new(),
            country_code: None,
            national_prefix: "0".to_owned(),
            international_prefix: "00".to_owned(),
        }
    }
}

/// `[agent_groups.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAgentGroup {
    pub members: Vec<String>,
    pub strategy: String,
    pub ring_timeout: i64,
    pub wrap_up: i64,
    pub hold_music: Option<String>,
}

impl Default for RawAgentGroup {
    fn default() -> Self {
        Self {
            members: Vec::new(),
            strategy: "longest-idle".to_owned(),
            ring_timeout: 20,
            wrap_up: 10,
            hold_music: None,
        }
    }
}
