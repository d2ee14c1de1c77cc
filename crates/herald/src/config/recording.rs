//! `[recorder]`, `[retention.classes.NAME]` and `[storage.s3]`: what gets recorded, how, for
//! how long, and where the encrypted blobs go.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::credentials::Secret;

/// `[recorder]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Record calls whose dialplan policy and caller allow it. Off: nothing is ever recorded.
    pub enabled: bool,
    /// Recipient public keys (`age1...`) from the file, wrapped to in addition to the active
    /// keys of the database (`herald keys`).
    pub recipients: Vec<String>,
    pub codec: RecordingCodec,
    /// Longest stretch of audio in one sealed segment: what a crash can lose.
    pub segment: Duration,
    /// The node's Ed25519 signing key (signs finished recordings; cannot decrypt anything).
    pub node_key: PathBuf,
    /// The class of recordings whose route names none.
    pub default_retention: String,
    /// How often the server applies retention; `None`: only `herald retention sweep` does.
    pub sweep_interval: Option<Duration>,
}

/// How audio is stored inside the encrypted stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingCodec {
    /// G.711 A-law, 8 kHz: 8,000 bytes per channel-second.
    Pcma,
    /// G.711 µ-law, 8 kHz.
    Pcmu,
}

impl FromStr for RecordingCodec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pcma" => Ok(Self::Pcma),
            "pcmu" => Ok(Self::Pcmu),
            other => Err(format!(
                "unknown recording codec {other:?}: expected \"pcma\" or \"pcmu\""
            )),
        }
    }
}

impl fmt::Display for RecordingCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pcma => "pcma",
            Self::Pcmu => "pcmu",
        })
    }
}

/// `[retention]`: the classes by name (the defaults, overridden or extended by the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    pub classes: BTreeMap<String, RetentionClass>,
}

impl RetentionConfig {
    /// Voice recordings 13 months, IVR call-flow data 90 days, MiFID II order calls 5 years
    /// (a legal obligation: erasure on request is refused while it runs).
    pub(crate) fn defaults() -> BTreeMap<String, RetentionClass> {
        let class = |keep, legal_obligation, description: &str| RetentionClass {
            keep,
            legal_obligation,
            description: description.to_owned(),
        };
        BTreeMap::from([
            (
                "voice".to_owned(),
                class(
                    RetentionPeriod::Months(13),
                    false,
                    "voice recordings of customer calls",
                ),
            ),
            (
                "ivr".to_owned(),
                class(RetentionPeriod::Days(90), false, "IVR call-flow data"),
            ),
            (
                "mifid".to_owned(),
                class(
                    RetentionPeriod::Years(5),
                    true,
                    "MiFID II order-taking calls (Art. 16(7))",
                ),
            ),
        ])
    }
}

/// `[retention.classes.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionClass {
    pub keep: RetentionPeriod,
    /// A law requires keeping the data for `keep`: data-subject erasure is refused meanwhile.
    pub legal_obligation: bool,
    pub description: String,
}

/// How long data of a class is kept after the call ended, in calendar units (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPeriod {
    Days(u32),
    Months(u32),
    Years(u32),
}

impl RetentionPeriod {
    /// When data that ended at `ended_at` (unix ms) expires, in unix ms. A month later than
    /// the 31st is the month's last day (jiff's calendar arithmetic).
    pub fn expiry(self, ended_at: i64) -> i64 {
        let span = match self {
            Self::Days(n) => jiff::Span::new().days(i64::from(n)),
            Self::Months(n) => jiff::Span::new().months(i64::from(n)),
            Self::Years(n) => jiff::Span::new().years(i64::from(n)),
        };
        let start = jiff::Timestamp::from_millisecond(ended_at)
            .unwrap_or(jiff::Timestamp::MAX)
            .to_zoned(jiff::tz::TimeZone::UTC);
        start
            .checked_add(span)
            .map(|end| end.timestamp().as_millisecond())
            .unwrap_or(i64::MAX)
    }
}

impl FromStr for RetentionPeriod {
    type Err = String;
    /// `"90 days"`, `"13 months"`, `"5 years"` (singular too), at most 100 years.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not a period such as \"90 days\", \"13 months\" or \"5 years\"");
        let mut words = s.split_whitespace();
        let (Some(count), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        let count: u32 = count.parse().map_err(|_| bad())?;
        let (period, days) = match unit {
            "day" | "days" => (Self::Days(count), u64::from(count)),
            "month" | "months" => (Self::Months(count), u64::from(count) * 31),
            "year" | "years" => (Self::Years(count), u64::from(count) * 366),
            _ => return Err(bad()),
        };
        if count == 0 || days > 100 * 366 {
            return Err(format!("{s:?} must be between 1 day and 100 years"));
        }
        Ok(period)
    }
}

impl fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Self::Days(n) => (n, "day"),
            Self::Months(n) => (n, "month"),
            Self::Years(n) => (n, "year"),
        };
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// `[storage.s3]`: the object store behind `recordings = "s3://BUCKET/PREFIX"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `None`: AWS itself, by region.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Plain HTTP to the endpoint (a server on loopback); refused otherwise.
    pub allow_http: bool,
    /// Where a blob's ciphertext is spooled while its multipart upload fills.
    pub spool: PathBuf,
}
