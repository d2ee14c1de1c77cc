//! Checks of `[recorder]`, `[retention]` and `[storage.s3]`.

use std::path::Path;

use super::super::credentials::Secret;
use super::super::raw::{RawRecorder, RawRetention, RawS3};
use super::super::recording::{RecorderConfig, RetentionClass, RetentionConfig, S3Config};
use super::super::source::KeyPath;
use super::Checker;

impl Checker<'_, '_> {
    pub(super) fn recorder(
        &mut self,
        raw: RawRecorder,
        data_dir: &Path,
        retention: &RetentionConfig,
        path: &KeyPath,
    ) -> RecorderConfig {
        for (i, key) in raw.recipients.iter().enumerate() {
            if let Err(e) = herald_recorder::RecipientKey::parse(key) {
                self.error(&path.key("recipients").index(i), e);
            }
        }
        if !retention.classes.contains_key(&raw.default_retention) {
            let known: Vec<&str> = retention.classes.keys().map(String::as_str).collect();
            self.error(
                &path.key("default_retention"),
                format_args!(
                    "no retention class {:?}; the classes are {}",
                    raw.default_retention,
                    known.join(", ")
                ),
            );
        }
        RecorderConfig {
            enabled: raw.enabled,
            recipients: raw.recipients,
            codec: self
                .parse(&path.key("codec"), &raw.codec)
                .unwrap_or(super::super::recording::RecordingCodec::Pcma),
            segment: self
                .millis(&path.key("segment_ms"), raw.segment_ms, 100..=1000)
                .unwrap_or_default(),
            node_key: raw
                .node_key
                .map(Into::into)
                .unwrap_or_else(|| data_dir.join("node-signing.key")),
            default_retention: raw.default_retention,
            sweep_interval: self
                .secs(
                    &path.key("sweep_interval"),
                    raw.sweep_interval,
                    0..=7 * 86_400,
                )
                .filter(|d| !d.is_zero()),
        }
    }

    pub(super) fn retention(&mut self, raw: RawRetention, path: &KeyPath) -> RetentionConfig {
        let mut classes = RetentionConfig::defaults();
        for (name, class) in raw.classes {
            let item = path.key("classes").key(&name);
            self.text(&item, &name, "a retention class name", true);
            let keep = self
                .required(&item, "keep", class.keep.as_deref())
                .and_then(|keep| self.parse(&item.key("keep"), keep));
            if let Some(description) = &class.description {
                self.text(
                    &item.key("description"),
                    description,
                    "the description",
                    false,
                );
            }
            let Some(keep) = keep else { continue };
            classes.insert(
                name,
                RetentionClass {
                    keep,
                    legal_obligation: class.legal_obligation,
                    description: class.description.unwrap_or_default(),
                },
            );
        }
        RetentionConfig { classes }
    }

    pub(super) fn s3(&mut self, raw: RawS3, data_dir: &Path, path: &KeyPath) -> S3Config {
        if let Some(endpoint) = &raw.endpoint {
            match url::Url::parse(endpoint) {
                Ok(url) if url.scheme() == "https" => {}
                Ok(url) if url.scheme() == "http" && raw.allow_http => {}
                Ok(url) if url.scheme() == "http" => self.error(
                    &path.key("endpoint"),
                    "is plain http: set allow_http = true (for a server on loopback only)",
                ),
                _ => self.error(
                    &path.key("endpoint"),
                    format_args!("{endpoint:?} is not an http(s) URL"),
                ),
            }
        }
        if raw.access_key_id.is_some() != raw.secret_access_key.is_some() {
            let keys = [path.key("access_key_id"), path.key("secret_access_key")];
            let at = self.present(&keys).clone();
            self.error(
                &at,
                "access_key_id and secret_access_key go together: set both or neither",
            );
        }
        S3Config {
            endpoint: raw.endpoint,
            region: raw.region.unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: raw.access_key_id,
            secret_access_key: raw.secret_access_key.map(Secret::new),
            allow_http: raw.allow_http,
            spool: raw
                .spool
                .map(Into::into)
                .unwrap_or_else(|| data_dir.join("spool")),
        }
    }
}
