//! Parsing `Authorization` / `Proxy-Authorization` values into [`DigestCredentials`].

use std::fmt;

use super::algorithm::{Algorithm, DigestHash, truncated};
use super::header::{AuthParam, parse_params, split_scheme};

/// Why a header value is not a well-formed digest parameter list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Unexpected character at this byte offset (of the scheme, or of the list after it).
    #[error("syntax error at byte {at}")]
    Syntax {
        /// Byte offset of the offending character.
        at: usize,
    },
    /// A scheme with no parameters.
    #[error("no parameters after the scheme")]
    NoParameters,
    /// Unterminated quoted-string, or a control character inside one.
    #[error("bad quoted-string")]
    BadQuotedString,
    /// The same parameter twice (names compare case-insensitively).
    #[error("duplicate parameter {0:?}")]
    DuplicateParameter(String),
    /// More than the parser's bound on parameters.
    #[error("too many parameters")]
    TooManyParameters,
    /// A required parameter is absent.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// `nc` is not eight hex digits, or is zero.
    #[error("nc is not eight hex digits or is zero")]
    BadNonceCount,
    /// `response` is not hex of the algorithm's digest length.
    #[error("response is not a hex digest of the algorithm's length")]
    BadResponseDigest,
    /// `qop` present without `cnonce` and `nc`, or those without `qop` (RFC 7616 §3.4).
    #[error("qop, cnonce and nc must come together")]
    QopParameterMismatch,
}

/// Why an `Authorization` value was not turned into [`DigestCredentials`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A scheme other than `Digest` (e.g. `Basic`, `Bearer`); holds the scheme token.
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// Not a well-formed digest parameter list.
    #[error("malformed digest credentials: {0}")]
    Malformed(#[from] Malformed),
    /// An `algorithm` this crate does not implement; holds the name sent.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A `qop` other than `auth` (`auth-int` included); holds the value sent.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
}

/// The quality of protection of a response. Only `auth` is implemented; `auth-int` (a hash of the
/// body) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Qop {
    /// `qop=auth`.
    Auth,
}

/// The `nc` parameter: how many requests the client has sent with this nonce, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonceCount(u32);

impl NonceCount {
    /// `None` for zero (counting starts at 1).
    pub fn new(count: u32) -> Option<NonceCount> {
        (count != 0).then_some(NonceCount(count))
    }

    /// The count.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NonceCount {
    /// Eight lowercase hex digits, as sent on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The `qop`, `cnonce` and `nc` parameters, which RFC 7616 requires together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QopParams {
    qop: Qop,
    cnonce: String,
    nc: NonceCount,
    /// `nc` exactly as sent: the client hashed this spelling.
    nc_text: String,
}

impl QopParams {
    /// The quality of protection.
    pub fn qop(&self) -> Qop {
        self.qop
    }
    /// The client nonce.
    pub fn cnonce(&self) -> &str {
        &self.cnonce
    }
    /// The nonce count.
    pub fn nc(&self) -> NonceCount {
        self.nc
    }
    pub(crate) fn nc_text(&self) -> &str {
        &self.nc_text
    }
}

/// A parsed `Digest` credentials value. The only way to get one is [`DigestCredentials::parse`],
/// so its invariants hold: the response is a digest of the algorithm's length, and `qop`,
/// `cnonce` and `nc` are all present or all absent.
///
/// `Debug` hides the username and the uri (they carry phone numbers) and the response (a
/// password verifier open to offline guessing).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: Vec<u8>,
    algorithm: Algorithm,
    opaque: Option<String>,
    qop: Option<QopParams>,
}

impl DigestCredentials {
    /// Parses an `Authorization` or `Proxy-Authorization` header value. Total: never panics.
    ///
    /// Parameter names are case-insensitive; unknown parameters (`userhash`, extensions) are
    /// ignored; a missing `algorithm` means MD5 (RFC 7616 §3.4).
    pub fn parse(value: &str) -> Result<DigestCredentials, CredentialsError> {
        let (scheme, rest) = split_scheme(value)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(CredentialsError::UnsupportedScheme(truncated(scheme)));
        }
        let params = parse_params(rest)?;
        let find = |name: &str| find_param(&params, name);
        let required = |name: &'static str| find(name).ok_or(Malformed::MissingParameter(name));
        let algorithm = match find("algorithm") {
            None => Algorithm::Md5,
            Some(name) => name.parse().map_err(|e: super::UnknownAlgorithm| {
                CredentialsError::UnsupportedAlgorithm(e.0)
            })?,
        };
        let response = parse_response(required("response")?, algorithm.hash())?;
        let qop = parse_qop(find("qop"), find("cnonce"), find("nc"))?;
        Ok(DigestCredentials {
            username: required("username")?.to_owned(),
            realm: required("realm")?.to_owned(),
            nonce: required("nonce")?.to_owned(),
            uri: required("uri")?.to_owned(),
            response,
            algorithm,
            opaque: find("opaque").map(str::to_owned),
            qop,
        })
    }

    /// The user name, as sent.
    pub fn username(&self) -> &str {
        &self.username
    }
    /// The realm the client answered.
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// The server nonce being answered.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
    /// The digest-uri (should equal the Request-URI).
    pub fn uri(&self) -> &str {
        &self.uri
    }
    /// The algorithm (MD5 when the parameter was absent).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// The opaque value echoed back, if any.
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }
    /// `qop`, `cnonce` and `nc`, or `None` for the RFC 2069 form without them.
    pub fn qop(&self) -> Option<&QopParams> {
        self.qop.as_ref()
    }
    /// The response digest in lowercase hex (as received, case-folded).
    pub fn response_hex(&self) -> String {
        hex::encode(&self.response)
    }
    pub(crate) fn response_bytes(&self) -> &[u8] {
        &self.response
    }
}

impl fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &"<redacted>")
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &"<redacted>")
            .field("response", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("opaque", &self.opaque)
            .field("qop", &self.qop.as_ref().map(|q| (q.qop, q.nc)))
            .finish()
    }
}

pub(crate) fn find_param<'p>(params: &'p [AuthParam<'_>], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_ref())
}

fn parse_response(hex_digest: &str, hash: DigestHash) -> Result<Vec<u8>, Malformed> {
    if hex_digest.len() != hash.hex_len() {
        return Err(Malformed::BadResponseDigest);
    }
    hex::decode(hex_digest).map_err(|_| Malformed::BadResponseDigest)
}

fn parse_qop(
    qop: Option<&str>,
    cnonce: Option<&str>,
    nc: Option<&str>,
) -> Result<Option<QopParams>, CredentialsError> {
    let (qop, cnonce, nc_text) = match (qop, cnonce, nc) {
        (None, None, None) => return Ok(None),
        (Some(qop), Some(cnonce), Some(nc)) => (qop, cnonce, nc),
        _ => return Err(Malformed::QopParameterMismatch.into()),
    };
    if !qop.eq_ignore_ascii_case("auth") {
        return Err(CredentialsError::UnsupportedQop(truncated(qop)));
    }
    Ok(Some(QopParams {
        qop: Qop::Auth,
        cnonce: cnonce.to_owned(),
        nc: parse_nonce_count(nc_text)?,
        nc_text: nc_text.to_owned(),
    }))
}

fn parse_nonce_count(text: &str) -> Result<NonceCount, Malformed> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Malformed::BadNonceCount);
    }
    u32::from_str_radix(text, 16)
        .ok()
        .and_then(NonceCount::new)
        .ok_or(Malformed::BadNonceCount)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC7616_SHA256: &str = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
        uri=\"/dir/index.html\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
        nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
        response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

    #[test]
    fn parses_rfc7616_example() {
        let creds = DigestCredentials::parse(RFC7616_SHA256).expect("parses");
        assert_eq!(creds.username(), "Mufasa");
        assert_eq!(creds.realm(), "http-auth@example.org");
        assert_eq!(creds.uri(), "/dir/index.html");
        assert_eq!(creds.algorithm(), Algorithm::Sha256);
        assert_eq!(
            creds.opaque(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        let qop = creds.qop().expect("qop present");
        assert_eq!((qop.qop(), qop.nc().get()), (Qop::Auth, 1));
        assert_eq!(creds.response_bytes().len(), 32);
    }

    #[test]
    fn names_are_case_insensitive_and_algorithm_defaults_to_md5() {
        let creds = DigestCredentials::parse(
            "digest USERNAME=\"bob\", Realm=\"r\", NONCE=\"n\", Uri=\"sip:r\", \
             RESPONSE=\"0123456789abcdef0123456789ABCDEF\"",
        )
        .expect("parses");
        assert_eq!(creds.algorithm(), Algorithm::Md5);
        assert_eq!(creds.qop(), None);
    }

    #[test]
    fn scheme_qop_algorithm_errors() {
        assert_eq!(
            DigestCredentials::parse("Basic dXNlcjpwYXNz"),
            Err(CredentialsError::UnsupportedScheme("Basic".into()))
        );
        let with = |extra: &str| {
            DigestCredentials::parse(&format!(
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", {extra}"
            ))
        };
        let md5 = "response=\"0123456789abcdef0123456789abcdef\"";
        assert_eq!(
            with(&format!("{md5}, qop=auth-int, cnonce=\"c\", nc=00000001")),
            Err(CredentialsError::UnsupportedQop("auth-int".into()))
        );
        assert_eq!(
            with(&format!("{md5}, algorithm=SHA-512-256")),
            Err(CredentialsError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        assert_eq!(
            with(&format!("{md5}, qop=auth")),
            Err(Malformed::QopParameterMismatch.into())
        );
        assert_eq!(
            with(&format!("{md5}, qop=auth, cnonce=c, nc=00000000")),
            Err(Malformed::BadNonceCount.into())
        );
        assert_eq!(
            with(&format!("{md5}, qop=auth, cnonce=c, nc=1")),
            Err(Malformed::BadNonceCount.into())
        );
        assert_eq!(
            with(&format!("{md5}, algorithm=SHA-256")),
            Err(Malformed::BadResponseDigest.into())
        );
        assert_eq!(
            with("algorithm=MD5"),
            Err(Malformed::MissingParameter("response").into())
        );
        assert_eq!(
            with(&format!("{md5}, Username=\"x\"")),
            Err(Malformed::DuplicateParameter("username".into()).into())
        );
    }

    #[test]
    fn debug_hides_username_uri_and_response() {
        let creds = DigestCredentials::parse(RFC7616_SHA256).expect("parses");
        let debug = format!("{creds:?}");
        for secret in ["Mufasa", "/dir/index.html", "753927fa"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
