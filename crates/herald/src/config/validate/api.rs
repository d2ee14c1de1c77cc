//! Checks of `[api]` and `[dsr]`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::super::raw::{RawApi, RawDsr};
use super::super::sections::{ApiConfig, ApiToken, DsrConfig};
use super::super::source::KeyPath;
use super::Checker;

impl Checker<'_, '_> {
    pub(super) fn api(&mut self, raw: RawApi, path: &KeyPath) -> ApiConfig {
        let listen = raw.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
            self.error(
                &path.key("listen"),
                format_args!(
                    "{:?} is not ADDRESS:PORT such as \"127.0.0.1:8080\"",
                    raw.listen
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 0))
        });
        let mut names = HashSet::new();
        let mut hashes = Vec::new();
        let mut tokens = Vec::new();
        for (i, token) in raw.tokens.iter().enumerate() {
            let item = path.key("tokens").index(i);
            let name = self.required(&item, "name", token.name.as_deref());
            if let Some(name) = name {
                self.text(&item.key("name"), name, "the name", true);
                self.unique(&mut names, &item.key("name"), name);
            }
            let hash = self
                .required(&item, "token_sha256", token.token_sha256.as_deref())
                .and_then(|h| self.parse(&item.key("token_sha256"), h));
            if let Some(hash) = hash {
                if hashes.contains(&hash) {
                    self.error(
                        &item.key("token_sha256"),
                        "the same token hash is configured for another token",
                    );
                }
                hashes.push(hash);
            }
            let roles = self.list(&item.key("roles"), &token.roles, true);
            if let (Some(name), Some(token_sha256)) = (name, hash) {
                tokens.push(ApiToken {
                    name: name.to_owned(),
                    token_sha256,
                    roles,
                });
            }
        }
        let tls_certificate = raw.tls_certificate.map(PathBuf::from);
        let tls_private_key = raw.tls_private_key.map(PathBuf::from);
        if tls_certificate.is_some() != tls_private_key.is_some() {
            let keys = [path.key("tls_certificate"), path.key("tls_private_key")];
            let at = self.present(&keys).clone();
            self.error(
                &at,
                "tls_certificate and tls_private_key go together: set both or neither",
            );
        }
        let hold_release_approvals = self
            .int(
                &path.key("hold_release_approvals"),
                raw.hold_release_approvals,
                1..=2,
            )
            .unwrap_or(2) as u8;
        let max_body_bytes = self
            .int(
                &path.key("max_body_bytes"),
                raw.max_body_bytes,
                1_024..=16 << 20,
            )
            .unwrap_or(65_536) as usize;
        ApiConfig {
            enabled: raw.enabled,
            listen,
            tokens,
            tls_certificate,
            tls_private_key,
            recording_identity: raw.recording_identity.map(PathBuf::from),
            hold_release_approvals,
            max_body_bytes,
        }
    }

    pub(super) fn dsr(&mut self, raw: RawDsr, data_dir: &Path, path: &KeyPath) -> DsrConfig {
        let deadline = self
            .parse(&path.key("deadline"), &raw.deadline)
            .unwrap_or(super::super::recording::RetentionPeriod::Months(1));
        DsrConfig {
            subject_key: raw
                .subject_key
                .map(Into::into)
                .unwrap_or_else(|| data_dir.join("subject-index.key")),
            deadline,
            bundles: raw
                .bundles
                .map(Into::into)
                .unwrap_or_else(|| data_dir.join("dsr")),
            worker_interval: self
                .secs(&path.key("worker_interval"), raw.worker_interval, 1..=3_600)
                .unwrap_or(std::time::Duration::from_secs(5)),
            exports: raw.exports,
        }
    }
}
