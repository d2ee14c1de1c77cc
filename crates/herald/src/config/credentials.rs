//! Credentials in the configuration: digest HA1 values, API token hashes, roles and secrets.
//!
//! None of these types prints its value through `Debug` or `Display`: a `Config` can be logged
//! whole without leaking a password equivalent.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256};

const REDACTED: &str = "<redacted>";

/// A digest-authentication hash algorithm (RFC 8760 / RFC 2617).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Md5,
}

impl DigestAlgorithm {
    /// The name used in the configuration and in the `algorithm=` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DigestAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Self::Sha256, Self::Md5]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown digest algorithm {s:?}, expected \"SHA-256\" or \"MD5\"")
            })
    }
}

/// A user's digest HA1 values, lowercase hex of `H(username ":" realm ":" password)`.
///
/// HA1 is password-equivalent for digest authentication, so `Debug` hides it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Ha1Set {
    /// 32 hex digits (MD5).
    pub md5: Option<String>,
    /// 64 hex digits (SHA-256).
    pub sha256: Option<String>,
}

impl Ha1Set {
    /// Both HA1 values for a plaintext password.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        let input = format!("{username}:{realm}:{password}");
        Self {
            md5: Some(hex::encode(Md5::digest(input.as_bytes()))),
            sha256: Some(hex::encode(Sha256::digest(input.as_bytes()))),
        }
    }

    /// The HA1 for `algorithm`, when configured.
    pub fn for_algorithm(&self, algorithm: DigestAlgorithm) -> Option<&str> {
        match algorithm {
            DigestAlgorithm::Md5 => self.md5.as_deref(),
            DigestAlgorithm::Sha256 => self.sha256.as_deref(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.md5.is_none() && self.sha256.is_none()
    }
}

impl fmt::Debug for Ha1Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = |v: &Option<String>| v.as_ref().map(|_| REDACTED);
        f.debug_struct("Ha1Set")
            .field("md5", &hide(&self.md5))
            .field("sha256", &hide(&self.sha256))
            .finish()
    }
}

/// Checks an HA1 value: `digits` hex digits, returned in lowercase.
pub(crate) fn parse_ha1(value: &str, digits: usize) -> Result<String, String> {
    if value.len() == digits && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!(
            "expected {digits} hexadecimal digits (the value is not shown)"
        ))
    }
}

/// A plaintext secret that the program must keep (a trunk's outbound password).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The SHA-256 of an API bearer token; the token itself is never stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Whether `token` hashes to this value (compared in constant time).
    pub fn matches(&self, token: &str) -> bool {
        let digest = Sha256::digest(token.as_bytes());
        digest
            .iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl FromStr for TokenHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)
            .map_err(|_| "expected 64 hexadecimal digits, the SHA-256 of the token".to_owned())?;
        Ok(Self(bytes))
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiRole {
    Admin,
    Supervisor,
    Compliance,
    Cti,
}

impl ApiRole {
    pub const ALL: [ApiRole; 4] = [Self::Admin, Self::Supervisor, Self::Compliance, Self::Cti];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Compliance => "compliance",
            Self::Cti => "cti",
        }
    }
}

impl fmt::Display for ApiRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}, expected one of admin, supervisor, compliance, cti")
            })
    }
}
