//! The typed sections of [`Config`](super::Config), one struct per TOML table.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::credentials::{ApiRole, DigestAlgorithm, Ha1Set, Secret, TokenHash};
use super::net::{HostPort, IpNet, Listen, Transport};
use super::storage::{DatabaseUrl, RecordingsStore};

/// `[sip]`: signalling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipConfig {
    pub listen: Vec<Listen>,
    /// Host part of our URIs (Contact, From of requests we originate).
    pub domain: String,
    /// Digest realm; `domain` when not configured.
    pub realm: String,
    /// The address put in Contact, Via and SDP when listening on a wildcard address.
    pub advertised_address: Option<IpAddr>,
    /// Required when a `tls` or `wss` listener is configured.
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
    /// Sent in User-Agent / Server headers; empty means: send no such header.
    pub user_agent: String,
    /// Largest SIP message accepted, in bytes.
    pub max_message_size: usize,
    pub timers: SipTimers,
    /// Session-Expires we ask for (RFC 4028).
    pub session_expires: Duration,
    /// Min-SE we accept (RFC 4028, at least 90 s).
    pub min_se: Duration,
    pub registrar: RegistrarConfig,
}

impl SipConfig {
    /// The address to advertise for `listen`: `advertised_address`, else the listen address
    /// unless it is a wildcard, else the loopback address of the same family.
    pub fn advertised_ip_for(&self, listen: &Listen) -> IpAddr {
        if let Some(ip) = self.advertised_address {
            return ip;
        }
        match listen.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        }
    }
}

/// `[sip.timers]`: RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

/// `[sip.registrar]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    pub enabled: bool,
    pub min_expires: Duration,
    pub max_expires: Duration,
    pub default_expires: Duration,
    /// Most bindings one address-of-record may hold.
    pub max_contacts: u32,
    /// How long a digest nonce stays valid.
    pub nonce_ttl: Duration,
    /// Offered in this order in WWW-Authenticate challenges; never empty.
    pub algorithms: Vec<DigestAlgorithm>,
}

/// `[media]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// First RTP port (even); RTCP uses the next odd port.
    pub rtp_port_min: u16,
    /// Last port of the range (inclusive).
    pub rtp_port_max: u16,
    /// Codecs in preference order; never empty, no duplicates.
    pub codecs: Vec<Codec>,
    /// Packetization time, 10 to 60 ms in steps of 10.
    pub ptime: Duration,
    /// Offer/accept RFC 4733 telephone-event.
    pub telephone_event: bool,
    /// Media worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// How often a media worker wakes to drain its sockets and send what is due.
    pub tick: Duration,
    /// Least and most delay the adaptive jitter buffer may hold.
    pub jitter_min: Duration,
    pub jitter_max: Duration,
    /// When to listen for DTMF tones in the audio.
    pub inband_dtmf: InbandDtmf,
    /// SRTP (SDES) policy for `RTP/SAVP` offers and our own offers.
    pub srtp: SrtpPolicy,
    /// Exchange SDES keys on calls whose signalling is not encrypted (UDP, TCP). RFC 4568
    /// forbids it: the keys travel in the SDP. Off by default.
    pub srtp_over_plain_sip: bool,
    /// A call whose peer sends no RTP or RTCP for this long is ended; `None`: never.
    pub media_timeout: Option<Duration>,
    /// The prompts directory; `None`: found at start (see docs/configuration.md).
    pub prompts: Option<PathBuf>,
}

/// `[ivr]`: the dialplans and the limits of VoiceXML sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    /// The dialplans directory; `None`: found at start (see `ivr::dialplans::dialplans_dir`).
    pub dialplans: Option<PathBuf>,
    /// VoiceXML elements one session may execute per turn before it is ended as a loop.
    pub max_steps: u32,
    /// Each session's ECMAScript heap limit, in bytes (configured in MiB).
    pub script_memory: usize,
    /// The `fetchtimeout` of documents fetched at call time when they do not set one.
    pub fetch_timeout: Duration,
}

/// `media.inband_dtmf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InbandDtmf {
    /// Only on calls that did not negotiate RFC 4733 telephone-event.
    Auto,
    /// Always (RFC 4733 digits still take precedence on a call that sends them).
    On,
    Off,
}

impl FromStr for InbandDtmf {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(format!("expected \"auto\", \"on\" or \"off\", got {s:?}")),
        }
    }
}

/// `media.srtp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// Plain RTP only: `RTP/SAVP` offers are refused.
    Off,
    /// Answer `RTP/SAVP` with SRTP and `RTP/AVP` with RTP; offer RTP.
    Optional,
    /// Refuse plain `RTP/AVP`; offer `RTP/SAVP`.
    Required,
}

impl FromStr for SrtpPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            _ => Err(format!(
                "expected \"off\", \"optional\" or \"required\", got {s:?}"
            )),
        }
    }
}

/// An audio codec Herald can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Pcmu,
    Pcma,
    G722,
    Opus,
}

impl Codec {
    pub const ALL: [Codec; 4] = [Self::Pcmu, Self::Pcma, Self::G722, Self::Opus];

    /// The SDP encoding name (`PCMU`, `PCMA`, `G722`, `opus`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
            Self::Opus => "opus",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Codec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(codec) = Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
        {
            return Ok(codec);
        }
        let hint = if s.eq_ignore_ascii_case("telephone-event") {
            " (DTMF events are switched by `media.telephone_event`)"
        } else {
            ""
        };
        Err(format!(
            "unknown codec {s:?}, expected one of PCMU, PCMA, G722, opus{hint}"
        ))
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub database: DatabaseUrl,
    pub recordings: RecordingsStore,
    pub s3: super::recording::S3Config,
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// `false`: no HTTP listener at all.
    pub enabled: bool,
    pub listen: SocketAddr,
    pub tokens: Vec<ApiToken>,
    /// HTTPS when both are set.
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
    /// An age identity file that opens recordings: only a compliance deployment has one.
    /// Without it the API never serves audio.
    pub recording_identity: Option<PathBuf>,
    /// How many different `compliance` users must release a legal hold: 1 or 2.
    pub hold_release_approvals: u8,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
}

/// `[dsr]`: data-subject requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsrConfig {
    /// The secret key of the subject index (HMAC-SHA-256 over normalised identifiers);
    /// generated at first start when missing. Nodes sharing a database share this file.
    pub subject_key: PathBuf,
    /// How long the organisation has to answer a request (GDPR Art. 12(3): one month).
    pub deadline: super::recording::RetentionPeriod,
    /// Where export bundles (encrypted to the requester) are kept.
    pub bundles: PathBuf,
    /// How often the server looks for pending requests (it also wakes when one is filed).
    pub worker_interval: Duration,
    /// Whether this node takes export requests (`false`: leave them to the compliance
    /// deployment, which holds the private key that puts audio in the bundle).
    pub exports: bool,
}

/// `[[api.tokens]]`: a bearer token, stored as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub token_sha256: TokenHash,
    /// Never empty, no duplicates.
    pub roles: Vec<ApiRole>,
}

/// `[[users]]`: a phone or agent that registers with Herald.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub display_name: Option<String>,
    /// Free-form role names such as `agent`, `admin`.
    pub roles: Vec<String>,
    /// Never empty. A plaintext `password` in the file is turned into both values at load.
    pub ha1: Ha1Set,
    /// Offer SRTP (SDES keys, `RTP/SAVP`) to this user's phones when Herald calls them: when
    /// the phone registered over TLS, or with `media.srtp_over_plain_sip`.
    pub srtp: bool,
}

/// `[[trunks]]`: a SIP trunk or SBC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    pub name: String,
    /// Where to send requests (and REGISTER when `register`).
    pub address: Option<HostPort>,
    pub transport: Transport,
    /// Source addresses accepted as this trunk.
    pub allowed_sources: Vec<IpNet>,
    /// Outbound credentials: both or neither.
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub register: bool,
    /// The registration interval asked of the carrier.
    pub register_expires: u32,
    /// The numbers Herald may call over this trunk (E.164 patterns such as `+49*`); empty:
    /// none, the trunk only brings calls in. The toll-fraud guard: no other number is dialled.
    pub outbound_numbers: Vec<herald_dialplan::NumberPattern>,
    pub numbering: super::agents::Numbering,
}
