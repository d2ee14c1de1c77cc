//! Herald's configuration: one TOML file, every key optional, every mistake reported.
//!
//! [`Config::load`] reads the file; [`Config::from_toml_str`] parses text already in memory;
//! [`Config::default`] is the embedded configuration `herald serve` uses without `--config`.
//! Loading runs in three passes:
//!
//! 1. a span-keeping TOML parse (syntax errors, with their position);
//! 2. serde into the raw structs of `raw` (`deny_unknown_fields` everywhere, a default for every
//!    key): unknown keys and sections, and wrong value types, stop here;
//! 3. semantic validation (`validate`): addresses, ranges, names, cross-key rules. It collects
//!    every problem rather than stopping at the first.
//!
//! Every error is one line, `FILE:LINE:COL: message`, naming the key. Positions come from the
//! span-keeping parse of pass 1 (`source`), looked up by key path.
//!
//! Secrets never reach `Debug`: HA1 values, API token hashes, trunk passwords and database
//! passwords print as `<redacted>`, and a plaintext user `password` is turned into HA1 values at
//! load and not kept. `docs/configuration.md` is the reference for users.

// Sections parsed and validated now whose consumers (API, trunks) arrive with later issues.
#![allow(
    dead_code,
    reason = "part of the configuration contract; wired up by later issues"
)]

mod agents;
mod credentials;
mod error;
mod net;
mod raw;
mod recording;
mod sections;
mod source;
mod storage;
mod validate;

#[cfg(test)]
mod recording_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

// Re-exported as the module's vocabulary; the binary uses what it needs so far.
#[allow(unused_imports)]
pub use agents::{AgentGroup, Numbering, Strategy};
#[allow(unused_imports)]
pub use credentials::{ApiRole, DigestAlgorithm, Ha1Set, Secret, TokenHash};
#[allow(unused_imports)]
pub use error::{ConfigError, ConfigErrors};
#[allow(unused_imports)]
pub use net::{Host, HostPort, IpNet, Listen, Transport};
#[allow(unused_imports)]
pub use recording::{
    RecorderConfig, RecordingCodec, RetentionClass, RetentionConfig, RetentionPeriod, S3Config,
};
#[allow(unused_imports)]
pub use sections::{
    ApiConfig, ApiToken, Codec, DsrConfig, InbandDtmf, IvrConfig, MediaConfig, RegistrarConfig,
    SipConfig, SipTimers, SrtpPolicy, StorageConfig, Trunk, User,
};
#[allow(unused_imports)]
pub use storage::{DatabaseBackend, DatabaseUrl, RecordingsStore};

use raw::RawConfig;
use source::SourceMap;

/// The whole configuration, typed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the SQLite database and the recordings go unless `[storage]` says otherwise.
    pub data_dir: PathBuf,
    pub sip: SipConfig,
    pub media: MediaConfig,
    pub ivr: IvrConfig,
    pub storage: StorageConfig,
    pub recorder: RecorderConfig,
    pub retention: RetentionConfig,
    pub api: ApiConfig,
    pub dsr: DsrConfig,
    pub users: Vec<User>,
    pub trunks: Vec<Trunk>,
    /// `[agent_groups.NAME]`, by name.
    pub agent_groups: Vec<AgentGroup>,
    /// Warnings that need the source file (e.g. plaintext passwords), found at load.
    load_warnings: Vec<String>,
}

impl Config {
    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|err| {
            let message = format!("cannot read configuration file: {err}");
            ConfigErrors::one(ConfigError::new(&origin, None, None, message))
        })?;
        Self::from_toml_str(&src, &origin)
    }

    /// Parses and validates configuration text; `origin` names it in messages (a file name).
    pub fn from_toml_str(src: &str, origin: &str) -> Result<Config, ConfigErrors> {
        let map = SourceMap::parse(src, origin).map_err(ConfigErrors::one)?;
        let raw: RawConfig = toml::from_str(src)
            .map_err(|err| ConfigErrors::one(error::from_deserialize(&map, &err)))?;
        validate::build(raw, &map)
    }

    /// Things that are allowed but probably not what the operator wants, one line each, for
    /// `herald check` to print (prefixed with `warning: `).
    /// A wildcard listener without `advertised_address` is not warned about: the server then
    /// advertises, per peer, the local address it reaches that peer from. Behind NAT the
    /// operator sets `advertised_address` to the public address.
    pub fn warnings(&self) -> Vec<String> {
        self.load_warnings.clone()
    }
}

impl Default for Config {
    /// The embedded configuration: every key at its documented default.
    fn default() -> Self {
        validate::build(
            RawConfig::default(),
            &SourceMap::without_source("<embedded defaults>"),
        )
        .expect("the embedded default configuration is valid (tested)")
    }
}
