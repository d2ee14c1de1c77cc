//! Digest algorithms, the `Ha1` secret and the request-digest computation (RFC 7616 §3.4.1-§3.4.3).

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256};

/// The hash function underneath a digest algorithm.
///
/// `MD5` and `MD5-sess` share [`DigestHash::Md5`], so one stored [`Ha1`] serves both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestHash {
    /// MD5 (RFC 2617): 32 hex digits.
    Md5,
    /// SHA-256 (RFC 7616, RFC 8760): 64 hex digits.
    Sha256,
}

impl DigestHash {
    /// Length of a digest of this hash, in lowercase hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            DigestHash::Md5 => 32,
            DigestHash::Sha256 => 64,
        }
    }

    /// `H(parts[0] ":" parts[1] ":" ...)` in lowercase hex.
    pub(crate) fn hex_of(self, parts: &[&str]) -> String {
        match self {
            DigestHash::Md5 => hex_of::<Md5>(parts),
            DigestHash::Sha256 => hex_of::<Sha256>(parts),
        }
    }
}

fn hex_of<D: Digest>(parts: &[&str]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A digest algorithm as named in the `algorithm` parameter.
///
/// SHA-512-256 (RFC 7616) is not implemented; a peer naming it gets `UnsupportedAlgorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when the parameter is absent.
    Md5,
    /// `MD5-sess`: HA1 is re-keyed with the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 8760 makes it the preferred algorithm for SIP).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// The token sent on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// The hash function this algorithm uses.
    pub fn hash(self) -> DigestHash {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => DigestHash::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => DigestHash::Sha256,
        }
    }

    /// Whether this is a `-sess` variant (needs a cnonce, hence qop).
    pub fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

impl From<Algorithm> for DigestHash {
    fn from(algorithm: Algorithm) -> Self {
        algorithm.hash()
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name this crate does not implement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported digest algorithm {0:?}")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Case-insensitive, as RFC 7616 §3.3 tokens are.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| UnknownAlgorithm(truncated(s)))
    }
}

/// Copies at most 64 bytes of peer input into an error, on a char boundary.
pub(crate) fn truncated(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `H(username ":" realm ":" password)` in lowercase hex: what a user store keeps instead of the
/// password.
///
/// It is password-equivalent for its realm, so it has no `Display`, its `Debug` hides the value,
/// and it does not implement `PartialEq` (which would not be constant-time). Read it with
/// [`Ha1::expose_hex`] only to persist it.
#[derive(Clone)]
pub struct Ha1 {
    hash: DigestHash,
    hex: String,
}

/// A stored HA1 that is not a hex digest of the expected length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HA1 is not {expected_len} hex digits")]
pub struct InvalidHa1 {
    /// Expected number of hex digits for the hash.
    pub expected_len: usize,
}

impl Ha1 {
    /// Computes HA1 from a cleartext password. `hash` accepts an [`Algorithm`] too.
    pub fn from_password(
        hash: impl Into<DigestHash>,
        username: &str,
        realm: &str,
        password: &str,
    ) -> Ha1 {
        let hash = hash.into();
        Ha1 {
            hash,
            hex: hash.hex_of(&[username, realm, password]),
        }
    }

    /// Wraps a stored HA1 (either case); the length must match the hash.
    pub fn from_hex(hash: impl Into<DigestHash>, hex: &str) -> Result<Ha1, InvalidHa1> {
        let hash = hash.into();
        let expected_len = hash.hex_len();
        if hex.len() != expected_len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidHa1 { expected_len });
        }
        Ok(Ha1 {
            hash,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The hash function this HA1 was computed with.
    pub fn hash(&self) -> DigestHash {
        self.hash
    }

    /// The lowercase hex value, for persisting it. Never log it.
    pub fn expose_hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1")
            .field("hash", &self.hash)
            .field("hex", &"<redacted>")
            .finish()
    }
}

/// The `qop`-dependent inputs of the request digest.
#[derive(Clone, Copy)]
pub(crate) struct QopInputs<'a> {
    pub cnonce: &'a str,
    /// Eight lowercase hex digits, exactly as sent in `nc`.
    pub nc: &'a str,
}

/// Everything the request digest (`response` parameter) depends on.
pub(crate) struct DigestInputs<'a> {
    pub algorithm: Algorithm,
    pub ha1: &'a Ha1,
    pub nonce: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    /// `Some` for `qop=auth`, `None` for the RFC 2069 compatibility form.
    pub qop: Option<QopInputs<'a>>,
}

/// The request digest in lowercase hex, or `None` if the inputs are inconsistent (hash of `ha1`
/// differs from the algorithm's, or a `-sess` algorithm without qop and therefore without
/// cnonce).
pub(crate) fn request_digest(inputs: &DigestInputs<'_>) -> Option<String> {
    let hash = inputs.algorithm.hash();
    if inputs.ha1.hash != hash {
        return None;
    }
    let ha1 = match (inputs.algorithm.is_session(), inputs.qop) {
        (false, _) => inputs.ha1.hex.clone(),
        (true, Some(qop)) => hash.hex_of(&[&inputs.ha1.hex, inputs.nonce, qop.cnonce]),
        (true, None) => return None,
    };
    let ha2 = hash.hex_of(&[inputs.method, inputs.uri]);
    Some(match inputs.qop {
        Some(qop) => hash.hex_of(&[&ha1, inputs.nonce, qop.nc, qop.cnonce, "auth", &ha2]),
        None => hash.hex_of(&[&ha1, inputs.nonce, &ha2]),
    })
}

/// Compares two byte strings without an early exit on the first difference. The lengths are
/// public (they follow from the algorithm).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_response(algorithm: Algorithm) -> String {
        let ha1 = Ha1::from_password(
            algorithm,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        request_digest(&DigestInputs {
            algorithm,
            ha1: &ha1,
            nonce: NONCE,
            method: "GET",
            uri: "/dir/index.html",
            qop: Some(QopInputs {
                cnonce: CNONCE,
                nc: "00000001",
            }),
        })
        .expect("consistent inputs")
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        assert_eq!(
            rfc7616_response(Algorithm::Md5),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        assert_eq!(
            rfc7616_response(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rfc2617_section_3_5_md5() {
        let ha1 = Ha1::from_password(
            DigestHash::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let response = request_digest(&DigestInputs {
            algorithm: Algorithm::Md5,
            ha1: &ha1,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            qop: Some(QopInputs {
                cnonce: "0a4f113b",
                nc: "00000001",
            }),
        });
        assert_eq!(
            response.as_deref(),
            Some("6629fae49393a05397450978507c4ef1")
        );
    }

    #[test]
    fn sess_without_qop_and_hash_mismatch_are_refused() {
        let ha1 = Ha1::from_password(DigestHash::Md5, "u", "r", "p");
        let mut inputs = DigestInputs {
            algorithm: Algorithm::Md5Sess,
            ha1: &ha1,
            nonce: "n",
            method: "REGISTER",
            uri: "sip:r",
            qop: None,
        };
        assert_eq!(request_digest(&inputs), None);
        inputs.algorithm = Algorithm::Sha256;
        assert_eq!(request_digest(&inputs), None);
    }

    #[test]
    fn ha1_from_hex_checks_length_and_lowercases() {
        let ha1 = Ha1::from_hex(Algorithm::Md5, "3D78807DEFE7DE2157E2B0B6573A855F").expect("valid");
        assert_eq!(ha1.expose_hex(), "3d78807defe7de2157e2b0b6573a855f");
        assert!(Ha1::from_hex(Algorithm::Sha256, ha1.expose_hex()).is_err());
        assert!(Ha1::from_hex(Algorithm::Md5, "zz78807defe7de2157e2b0b6573a855f").is_err());
    }

    #[test]
    fn ha1_debug_hides_value() {
        let ha1 = Ha1::from_password(
            DigestHash::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let debug = format!("{ha1:?}");
        assert!(!debug.contains(ha1.expose_hex()), "{debug}");
    }

    #[test]
    fn algorithm_names_parse_case_insensitively() {
        assert_eq!("sha-256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
        assert_eq!("md5-SESS".parse::<Algorithm>(), Ok(Algorithm::Md5Sess));
        assert!("SHA-512-256".parse::<Algorithm>().is_err());
    }
}
