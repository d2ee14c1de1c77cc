//! Semantic validation: turns the raw file into a typed [`Config`], collecting every problem.
//!
//! Each check reports through [`Checker`] and carries on, so one run lists all errors. Values
//! that failed a check become `None` and are replaced by placeholders at the end; the
//! placeholders never escape because any error discards the result.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::Config;
use super::credentials::{Ha1Set, Secret, parse_ha1};
use super::error::{ConfigError, ConfigErrors};
use super::net::{Listen, Transport, is_domain};
use super::raw::{
    RawConfig, RawIvr, RawMedia, RawRegistrar, RawSip, RawStorage, RawTrunk, RawUser,
};
use super::sections::{
    InbandDtmf, IvrConfig, MediaConfig, RegistrarConfig, SipConfig, SipTimers, SrtpPolicy,
    StorageConfig, Trunk, User,
};
use super::source::{KeyPath, SourceMap};
use super::storage::{DatabaseUrl, RecordingsStore};

mod agents;
mod api;
mod recording;

/// Builds the typed configuration, or every error found.
pub(crate) fn build(raw: RawConfig, map: &SourceMap<'_>) -> Result<Config, ConfigErrors> {
    let mut ck = Checker {
        map,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let root = KeyPath::root();
    let data_dir = ck.data_dir(&raw.data_dir);
    let sip = ck.sip(raw.sip, &root.key("sip"));
    let retention = ck.retention(raw.retention, &root.key("retention"));
    let recorder = ck.recorder(raw.recorder, &data_dir, &retention, &root.key("recorder"));
    let raw_user_names: Vec<String> = raw
        .users
        .iter()
        .filter_map(|u| u.username.clone())
        .collect();
    let config = Config {
        media: ck.media(raw.media, &root.key("media")),
        ivr: ck.ivr(raw.ivr, &root.key("ivr")),
        storage: ck.storage(raw.storage, &data_dir, &root.key("storage")),
        recorder,
        retention,
        api: ck.api(raw.api, &root.key("api")),
        dsr: ck.dsr(raw.dsr, &data_dir, &root.key("dsr")),
        users: ck.users(raw.users, &sip, &root.key("users")),
        trunks: ck.trunks(raw.trunks, &root.key("trunks")),
        agent_groups: ck.agent_groups(raw.agent_groups, &raw_user_names, &root.key("agent_groups")),
        data_dir,
        sip,
        load_warnings: Vec::new(),
    };
    match ConfigErrors::from_vec(ck.errors) {
        Some(errors) => Err(errors),
        None => Ok(Config {
            load_warnings: ck.warnings,
            ..config
        }),
    }
}

struct Checker<'m, 'a> {
    map: &'m SourceMap<'a>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

// Generic checks.
impl Checker<'_, '_> {
    fn error(&mut self, path: &KeyPath, message: impl fmt::Display) {
        self.errors.push(self.map.error_at(path, message));
    }

    fn warn(&mut self, path: &KeyPath, message: impl fmt::Display) {
        self.warnings.push(self.map.warning_at(path, message));
    }

    /// The first of `paths` that the file sets, for errors about a relation between keys.
    fn present<'p>(&self, paths: &'p [KeyPath]) -> &'p KeyPath {
        paths
            .iter()
            .find(|p| self.map.contains(p))
            .unwrap_or(&paths[0])
    }

    fn parse<T: FromStr<Err = String>>(&mut self, path: &KeyPath, value: &str) -> Option<T> {
        value.parse().map_err(|err| self.error(path, err)).ok()
    }

    fn int(&mut self, path: &KeyPath, value: i64, range: RangeInclusive<i64>) -> Option<i64> {
        if range.contains(&value) {
            return Some(value);
        }
        let (lo, hi) = range.into_inner();
        self.error(
            path,
            format_args!("must be between {lo} and {hi}, got {value}"),
        );
        None
    }

    fn secs(&mut self, path: &KeyPath, value: i64, range: RangeInclusive<i64>) -> Option<Duration> {
        self.int(path, value, range)
            .map(|v| Duration::from_secs(v.unsigned_abs()))
    }

    fn millis(
        &mut self,
        path: &KeyPath,
        value: i64,
        range: RangeInclusive<i64>,
    ) -> Option<Duration> {
        self.int(path, value, range)
            .map(|v| Duration::from_millis(v.unsigned_abs()))
    }

    /// Parses every entry; reports bad entries, duplicates, and (when `non_empty`) an empty list.
    fn list<T>(&mut self, path: &KeyPath, values: &[String], non_empty: bool) -> Vec<T>
    where
        T: FromStr<Err = String> + Eq + Hash + Clone + fmt::Display,
    {
        let items = self.indexed_list(path, values, non_empty);
        items.into_iter().map(|(_, item)| item).collect()
    }

    /// Like [`Self::list`], keeping each item's index in the file.
    fn indexed_list<T>(
        &mut self,
        path: &KeyPath,
        values: &[String],
        non_empty: bool,
    ) -> Vec<(usize, T)>
    where
        T: FromStr<Err = String> + Eq + Hash + Clone + fmt::Display,
    {
        if non_empty && values.is_empty() {
            self.error(path, "must not be empty");
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, value) in values.iter().enumerate() {
            let Some(item) = self.parse::<T>(&path.index(i), value) else {
                continue;
            };
            if seen.insert(item.clone()) {
                out.push((i, item));
            } else {
                self.error(&path.index(i), format_args!("`{item}` is listed twice"));
            }
        }
        out
    }

    fn required<'v>(
        &mut self,
        item: &KeyPath,
        key: &str,
        value: Option<&'v str>,
    ) -> Option<&'v str> {
        if value.is_none() {
            self.error(
                &item.key(key),
                format_args!("missing required key `{key}` in {}", item.header()),
            );
        }
        value
    }

    /// Reports text with control characters, or (when `single_word`) empty text or whitespace.
    fn text(&mut self, path: &KeyPath, value: &str, what: &str, single_word: bool) -> bool {
        let bad = value.is_empty() && single_word
            || value
                .chars()
                .any(|c| c.is_control() || single_word && c.is_whitespace());
        if bad {
            let rule = if single_word {
                "non-empty, without spaces or control characters"
            } else {
                "without control characters"
            };
            self.error(path, format_args!("{what} must be {rule}"));
        }
        !bad
    }

    fn unique<'v>(&mut self, seen: &mut HashSet<&'v str>, path: &KeyPath, name: &'v str) {
        if !seen.insert(name) {
            self.error(
                path,
                format_args!("duplicate name {name:?}: it is already used above"),
            );
        }
    }
}

// Sections.
impl Checker<'_, '_> {
    fn data_dir(&mut self, data_dir: &str) -> PathBuf {
        if data_dir.is_empty() {
            self.error(&KeyPath::root().key("data_dir"), "must not be empty");
        }
        PathBuf::from(data_dir)
    }

    fn sip(&mut self, raw: RawSip, path: &KeyPath) -> SipConfig {
        let listen = self.listeners(&raw, path);
        if !is_domain(&raw.domain) {
            self.error(
                &path.key("domain"),
                format_args!("{:?} is not a DNS name or IP address", raw.domain),
            );
        }
        let realm = raw.realm.clone().unwrap_or_else(|| raw.domain.clone());
        if realm.is_empty()
            || realm
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            self.error(
                &path.key("realm"),
                "must be non-empty, without '\"', '\\' or control characters",
            );
        }
        self.text(
            &path.key("user_agent"),
            &raw.user_agent,
            "the user agent",
            false,
        );
        let advertised_address = raw
            .advertised_address
            .as_deref()
            .and_then(|a| self.advertised(&path.key("advertised_address"), a));
        let max_message_size = self.int(
            &path.key("max_message_size"),
            raw.max_message_size,
            1024..=1_048_576,
        );
        let (session_expires, min_se) = self.session_timer(&raw, path);
        let timers = self.timers(&raw, &path.key("timers"));
        SipConfig {
            listen,
            domain: raw.domain,
            realm,
            advertised_address,
            tls_certificate: raw.tls_certificate.map(PathBuf::from),
            tls_private_key: raw.tls_private_key.map(PathBuf::from),
            user_agent: raw.user_agent,
            max_message_size: max_message_size.unwrap_or_default().unsigned_abs() as usize,
            timers,
            session_expires,
            min_se,
            registrar: self.registrar(raw.registrar, &path.key("registrar")),
        }
    }

    fn listeners(&mut self, raw: &RawSip, sip: &KeyPath) -> Vec<Listen> {
        let path = sip.key("listen");
        let listen: Vec<(usize, Listen)> = self.indexed_list(&path, &raw.listen, true);
        // udp and the stream transports bind different socket kinds; two of a kind clash.
        let mut sockets = HashSet::new();
        for (i, l) in &listen {
            if !sockets.insert((l.transport.is_stream(), l.addr)) {
                self.error(
                    &path.index(*i),
                    format_args!(
                        "{l} needs a TCP socket on {} that another listener already uses",
                        l.addr
                    ),
                );
            }
        }
        let secure = listen.iter().find(|(_, l)| l.transport.is_secure());
        let has_cert = raw.tls_certificate.is_some();
        let has_key = raw.tls_private_key.is_some();
        if let Some((i, l)) = secure
            && !(has_cert && has_key)
        {
            self.error(
                &path.index(*i),
                format_args!(
                    "{} listener {l} needs `sip.tls_certificate` and `sip.tls_private_key`",
                    l.transport
                ),
            );
        } else if has_cert != has_key {
            let (set, missing) = if has_cert {
                ("tls_certificate", "tls_private_key")
            } else {
                ("tls_private_key", "tls_certificate")
            };
            self.error(
                &sip.key(set),
                format_args!("is set but `sip.{missing}` is not"),
            );
        }
        listen.into_iter().map(|(_, l)| l).collect()
    }

    fn advertised(&mut self, path: &KeyPath, value: &str) -> Option<IpAddr> {
        match value.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() || ip.is_multicast() => {
                self.error(path, format_args!("{value:?} cannot be reached by peers; give the host's public or LAN IP address"));
                None
            }
            Ok(ip) => Some(ip),
            Err(_) => {
                self.error(path, format_args!("{value:?} is not an IP address"));
                None
            }
        }
    }

    fn timers(&mut self, raw: &RawSip, path: &KeyPath) -> SipTimers {
        let t = &raw.timers;
        let t1 = self.millis(&path.key("t1_ms"), t.t1_ms, 1..=60_000);
        let t2 = self.millis(&path.key("t2_ms"), t.t2_ms, 1..=600_000);
        let t4 = self.millis(&path.key("t4_ms"), t.t4_ms, 1..=600_000);
        if let (Some(t1), Some(t2)) = (t1, t2)
            && t1 > t2
        {
            let at = self
                .present(&[path.key("t1_ms"), path.key("t2_ms")])
                .clone();
            self.error(
                &at,
                format_args!(
                    "T1 ({} ms) must not exceed T2 ({} ms)",
                    t1.as_millis(),
                    t2.as_millis()
                ),
            );
        }
        SipTimers {
            t1: t1.unwrap_or_default(),
            t2: t2.unwrap_or_default(),
            t4: t4.unwrap_or_default(),
        }
    }

    fn session_timer(&mut self, raw: &RawSip, sip: &KeyPath) -> (Duration, Duration) {
        let se = self.secs(
            &sip.key("session_expires"),
            raw.session_expires,
            90..=86_400,
        );
        let min_se = self.secs(&sip.key("min_se"), raw.min_se, 90..=86_400);
        if let (Some(se), Some(min)) = (se, min_se)
            && se < min
        {
            let at = self
                .present(&[sip.key("session_expires"), sip.key("min_se")])
                .clone();
            self.error(
                &at,
                format_args!(
                    "session_expires ({} s) must be at least min_se ({} s)",
                    se.as_secs(),
                    min.as_secs()
                ),
            );
        }
        (se.unwrap_or_default(), min_se.unwrap_or_default())
    }

    fn registrar(&mut self, raw: RawRegistrar, path: &KeyPath) -> RegistrarConfig {
        const WEEK: i64 = 7 * 86_400;
        let min = self.secs(&path.key("min_expires"), raw.min_expires, 1..=WEEK);
        let max = self.secs(&path.key("max_expires"), raw.max_expires, 1..=WEEK);
        let default = self.secs(&path.key("default_expires"), raw.default_expires, 1..=WEEK);
        if let (Some(min), Some(max), Some(default)) = (min, max, default)
            && !(min <= default && default <= max)
        {
            let at = self
                .present(&[
                    path.key("default_expires"),
                    path.key("min_expires"),
                    path.key("max_expires"),
                ])
                .clone();
            self.error(
                &at,
                format_args!(
                    "expected min_expires <= default_expires <= max_expires, got {} <= {} <= {}",
                    min.as_secs(),
                    default.as_secs(),
                    max.as_secs()
                ),
            );
        }
        let max_contacts = self.int(&path.key("max_contacts"), raw.max_contacts, 1..=1000);
        RegistrarConfig {
            enabled: raw.enabled,
            min_expires: min.unwrap_or_default(),
            max_expires: max.unwrap_or_default(),
            default_expires: default.unwrap_or_default(),
            max_contacts: max_contacts.unwrap_or_default().unsigned_abs() as u32,
            nonce_ttl: self
                .secs(&path.key("nonce_ttl"), raw.nonce_ttl, 1..=86_400)
                .unwrap_or_default(),
            algorithms: self.list(&path.key("algorithms"), &raw.algorithms, true),
        }
    }

    fn media(&mut self, raw: RawMedia, path: &KeyPath) -> MediaConfig {
        let min = self.int(&path.key("rtp_port_min"), raw.rtp_port_min, 1024..=65534);
        let max = self.int(&path.key("rtp_port_max"), raw.rtp_port_max, 1025..=65535);
        if let Some(min) = min
            && min % 2 != 0
        {
            self.error(
                &path.key("rtp_port_min"),
                format_args!("must be even (RTP takes the even port, RTCP the next), got {min}"),
            );
        }
        if let (Some(min), Some(max)) = (min, max)
            && min >= max
        {
            let at = self
                .present(&[path.key("rtp_port_max"), path.key("rtp_port_min")])
                .clone();
            self.error(
                &at,
                format_args!("rtp_port_min ({min}) must be below rtp_port_max ({max})"),
            );
        }
        let ptime = self.int(&path.key("ptime"), raw.ptime, 10..=60);
        if let Some(ptime) = ptime
            && ptime % 10 != 0
        {
            self.error(
                &path.key("ptime"),
                format_args!("must be a multiple of 10 ms, got {ptime}"),
            );
        }
        let jitter_min = self.millis(&path.key("jitter_min_ms"), raw.jitter_min_ms, 0..=1000);
        let jitter_max = self.millis(&path.key("jitter_max_ms"), raw.jitter_max_ms, 20..=2000);
        if let (Some(lo), Some(hi)) = (jitter_min, jitter_max)
            && lo > hi
        {
            self.error(
                &path.key("jitter_max_ms"),
                format_args!("must not be below jitter_min_ms ({} ms)", lo.as_millis()),
            );
        }
        MediaConfig {
            rtp_port_min: u16::try_from(min.unwrap_or_default()).unwrap_or_default(),
            rtp_port_max: u16::try_from(max.unwrap_or_default()).unwrap_or_default(),
            codecs: self.list(&path.key("codecs"), &raw.codecs, true),
            ptime: Duration::from_millis(ptime.unwrap_or_default().unsigned_abs()),
            telephone_event: raw.telephone_event,
            workers: self
                .int(&path.key("workers"), raw.workers, 0..=256)
                .unwrap_or_default() as usize,
            tick: self
                .millis(&path.key("tick_ms"), raw.tick_ms, 1..=20)
                .unwrap_or_default(),
            jitter_min: jitter_min.unwrap_or_default(),
            jitter_max: jitter_max.unwrap_or_default(),
            inband_dtmf: self
                .parse(&path.key("inband_dtmf"), &raw.inband_dtmf)
                .unwrap_or(InbandDtmf::Auto),
            srtp: self
                .parse(&path.key("srtp"), &raw.srtp)
                .unwrap_or(SrtpPolicy::Optional),
            srtp_over_plain_sip: raw.srtp_over_plain_sip,
            media_timeout: self
                .secs(&path.key("media_timeout"), raw.media_timeout, 0..=86_400)
                .filter(|d| !d.is_zero()),
            prompts: raw.prompts.map(PathBuf::from),
        }
    }

    fn ivr(&mut self, raw: RawIvr, path: &KeyPath) -> IvrConfig {
        const MIB: usize = 1 << 20;
        if raw.dialplans.as_deref() == Some("") {
            self.error(&path.key("dialplans"), "must not be empty");
        }
        let max_steps = self.int(
            &path.key("max_steps"),
            raw.max_steps,
            1..=i64::from(u32::MAX),
        );
        let script_memory = self.int(&path.key("script_memory"), raw.script_memory, 1..=1024);
        IvrConfig {
            dialplans: raw.dialplans.map(PathBuf::from),
            max_steps: max_steps
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or_default(),
            script_memory: script_memory.unwrap_or_default().unsigned_abs() as usize * MIB,
            fetch_timeout: self
                .secs(&path.key("fetch_timeout"), raw.fetch_timeout, 1..=600)
                .unwrap_or_default(),
        }
    }

    fn storage(
        &mut self,
        raw: RawStorage,
        data_dir: &std::path::Path,
        path: &KeyPath,
    ) -> StorageConfig {
        // A value that fails to parse is reported; the default stands in for it.
        let database = raw
            .database
            .and_then(|url| self.parse(&path.key("database"), &url));
        let recordings = raw
            .recordings
            .and_then(|url| self.parse(&path.key("recordings"), &url));
        StorageConfig {
            database: database.unwrap_or_else(|| DatabaseUrl::sqlite_in(data_dir)),
            recordings: recordings.unwrap_or_else(|| RecordingsStore::file_in(data_dir)),
            s3: self.s3(raw.s3, data_dir, &path.key("s3")),
        }
    }

    fn users(&mut self, raw: Vec<RawUser>, sip: &SipConfig, path: &KeyPath) -> Vec<User> {
        let mut names = HashSet::new();
        let mut users = Vec::new();
        for (i, user) in raw.iter().enumerate() {
            let item = path.index(i);
            let Some(username) = self.required(&item, "username", user.username.as_deref()) else {
                continue;
            };
            let ok = self.text(&item.key("username"), username, "the username", true);
            if ok && username.contains([':', '@']) {
                self.error(&item.key("username"), "must not contain ':' or '@'");
            }
            self.unique(&mut names, &item.key("username"), username);
            if let Some(display_name) = &user.display_name {
                self.text(
                    &item.key("display_name"),
                    display_name,
                    "the display name",
                    false,
                );
            }
            for (r, role) in user.roles.iter().enumerate() {
                self.text(&item.key("roles").index(r), role, "a role", true);
            }
            let ha1 = self.user_ha1(user, username, sip, &item);
            users.push(User {
                username: username.to_owned(),
                display_name: user.display_name.clone(),
                roles: user.roles.clone(),
                ha1,
                srtp: user.srtp,
            });
        }
        users
    }

    fn user_ha1(
        &mut self,
        user: &RawUser,
        username: &str,
        sip: &SipConfig,
        item: &KeyPath,
    ) -> Ha1Set {
        let md5 = user.ha1_md5.as_deref().and_then(|h| {
            parse_ha1(h, 32)
                .map_err(|e| self.error(&item.key("ha1_md5"), e))
                .ok()
        });
        let sha256 = user.ha1_sha256.as_deref().and_then(|h| {
            parse_ha1(h, 64)
                .map_err(|e| self.error(&item.key("ha1_sha256"), e))
                .ok()
        });
        let has_ha1 = user.ha1_md5.is_some() || user.ha1_sha256.is_some();
        let ha1 = match user.password.as_deref() {
            Some(_) if has_ha1 => {
                self.error(
                    &item.key("password"),
                    "set either `password` or HA1 values (`ha1_md5`, `ha1_sha256`), not both",
                );
                return Ha1Set::default();
            }
            Some("") => {
                self.error(&item.key("password"), "must not be empty");
                return Ha1Set::default();
            }
            Some(password) => {
                self.warn(&item.key("password"), format_args!(
                    "user {username:?} has a plaintext password; store `ha1_sha256` (and `ha1_md5` for MD5-only phones) instead"));
                Ha1Set::from_password(username, &sip.realm, password)
            }
            None if !has_ha1 => {
                self.error(&item.key("username"), format_args!(
                    "user {username:?} has no credentials: set `ha1_sha256` and/or `ha1_md5` (or, discouraged, `password`)"));
                return Ha1Set::default();
            }
            None => Ha1Set { md5, sha256 },
        };
        let usable = sip
            .registrar
            .algorithms
            .iter()
            .any(|a| ha1.for_algorithm(*a).is_some());
        if sip.registrar.enabled
            && !sip.registrar.algorithms.is_empty()
            && !ha1.is_empty()
            && !usable
        {
            self.error(&item.key("username"), format_args!(
                "user {username:?} has no HA1 for any algorithm in `sip.registrar.algorithms` and could never register"));
        }
        ha1
    }

    fn trunks(&mut self, raw: Vec<RawTrunk>, path: &KeyPath) -> Vec<Trunk> {
        let mut names = HashSet::new();
        let mut trunks = Vec::new();
        for (i, trunk) in raw.iter().enumerate() {
            let item = path.index(i);
            let Some(name) = self.required(&item, "name", trunk.name.as_deref()) else {
                continue;
            };
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                || name.is_empty()
            {
                self.error(
                    &item.key("name"),
                    "must be non-empty and use only A-Z, a-z, 0-9, '_', '.', '-'",
                );
            }
            self.unique(&mut names, &item.key("name"), name);
            trunks.push(self.trunk(trunk, name, &item));
        }
        trunks
    }

    fn trunk(&mut self, raw: &RawTrunk, name: &str, item: &KeyPath) -> Trunk {
        let address = raw
            .address
            .as_deref()
            .and_then(|a| self.parse(&item.key("address"), a));
        let transport = self.parse::<Transport>(&item.key("transport"), &raw.transport);
        if let Some(t) = transport
            && matches!(t, Transport::Ws | Transport::Wss)
        {
            self.error(&item.key("transport"), "trunks use udp, tcp or tls");
        }
        let allowed_sources = self.list(&item.key("allowed_sources"), &raw.allowed_sources, false);
        if raw.address.is_none() && raw.allowed_sources.is_empty() {
            self.error(
                &item.key("name"),
                format_args!("trunk {name:?} needs `address`, `allowed_sources`, or both"),
            );
        }
        if raw.register && raw.address.is_none() {
            self.error(
                &item.key("register"),
                "registration needs the trunk's `address`",
            );
        }
        if raw.username.is_some() != raw.password.is_some() {
            let missing = if raw.username.is_some() {
                "password"
            } else {
                "username"
            };
            let set = if raw.username.is_some() {
                "username"
            } else {
                "password"
            };
            self.error(
                &item.key(set),
                format_args!("is set but `{missing}` is not"),
            );
        }
        let (register_expires, outbound_numbers, numbering) = self.trunk_numbers(raw, item);
        Trunk {
            register_expires,
            outbound_numbers,
            numbering,
            name: name.to_owned(),
            address,
            transport: transport.unwrap_or(Transport::Udp),
            allowed_sources,
            username: raw.username.clone(),
            password: raw.password.clone().map(Secret::new),
            register: raw.register,
        }
    }
}
