//! The UAC side, for outbound legs that a trunk or upstream registrar challenges: parse the
//! challenge, pick the best one, answer it.

use rand::RngCore;

use super::algorithm::{
    Algorithm, DigestHash, DigestInputs, Ha1, QopInputs, request_digest, truncated,
};
use super::credentials::{Malformed, NonceCount, find_param};
use super::header::{parse_params, push_quoted, split_scheme};

/// Why a challenge could not be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not a `Digest` challenge; holds the scheme.
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// Not a well-formed challenge.
    #[error("malformed challenge: {0}")]
    Malformed(Malformed),
    /// The challenge names an algorithm this crate does not implement.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The challenge offers qop values but not `auth` (e.g. only `auth-int`), or a `-sess`
    /// algorithm without qop.
    #[error("no supported qop offered")]
    UnsupportedQop,
    /// The HA1 given was computed with another hash than the challenge's algorithm uses.
    #[error("HA1 hash does not match the challenge algorithm")]
    Ha1HashMismatch,
    /// A caller-supplied value holds a control character and cannot go in a header.
    #[error("{0} holds a control character")]
    InvalidInput(&'static str),
}

impl From<Malformed> for ChallengeError {
    fn from(malformed: Malformed) -> Self {
        ChallengeError::Malformed(malformed)
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` digest challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestChallenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// `true` if `qop` offered `auth`; `false` if the challenge had no `qop` (RFC 2069 form).
    qop_auth: bool,
    stale: bool,
}

/// The user's secret for [`DigestChallenge::authorization`].
#[derive(Clone, Copy, Debug)]
pub enum ClientSecret<'a> {
    /// A cleartext password (HA1 is derived with the challenge's realm and algorithm).
    Password(&'a str),
    /// A precomputed HA1; its hash must match the challenge's algorithm.
    Ha1(&'a Ha1),
}

impl DigestChallenge {
    /// Parses a challenge value. Total: never panics.
    pub fn parse(value: &str) -> Result<DigestChallenge, ChallengeError> {
        let (scheme, rest) = split_scheme(value)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(ChallengeError::UnsupportedScheme(truncated(scheme)));
        }
        let params = parse_params(rest)?;
        let find = |name: &str| find_param(&params, name);
        let required = |name: &'static str| find(name).ok_or(Malformed::MissingParameter(name));
        let algorithm = match find("algorithm") {
            None => Algorithm::Md5,
            Some(name) => name
                .parse()
                .map_err(|e: super::UnknownAlgorithm| ChallengeError::UnsupportedAlgorithm(e.0))?,
        };
        let qop_auth = match find("qop") {
            None if algorithm.is_session() => return Err(ChallengeError::UnsupportedQop),
            None => false,
            Some(list)
                if list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth")) =>
            {
                true
            }
            Some(_) => return Err(ChallengeError::UnsupportedQop),
        };
        Ok(DigestChallenge {
            realm: required("realm")?.to_owned(),
            nonce: required("nonce")?.to_owned(),
            opaque: find("opaque").map(str::to_owned),
            algorithm,
            qop_auth,
            stale: find("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Among several challenge values (one per `WWW-Authenticate` header), the one to answer:
    /// the first usable SHA-256 challenge, else the first usable one of any algorithm.
    pub fn best<'v>(values: impl IntoIterator<Item = &'v str>) -> Option<DigestChallenge> {
        let usable: Vec<DigestChallenge> = values
            .into_iter()
            .filter_map(|v| DigestChallenge::parse(v).ok())
            .collect();
        let strong = usable
            .iter()
            .position(|c| c.algorithm.hash() == DigestHash::Sha256);
        usable.into_iter().nth(strong.unwrap_or(0))
    }

    /// The realm (to look up which account answers it).
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// The algorithm the answer will use.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// Whether the server said the previous nonce was merely stale (retry without prompting).
    pub fn stale(&self) -> bool {
        self.stale
    }
    /// The server's nonce (to tell a repeated challenge from a fresh one).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Builds the `Authorization` (or `Proxy-Authorization`) value for `method` and `uri` (the
    /// Request-URI of the request being sent). `cnonce` should come from [`generate_cnonce`];
    /// `nc` counts the requests sent with this nonce, from 1.
    pub fn authorization(
        &self,
        method: &str,
        uri: &str,
        username: &str,
        secret: ClientSecret<'_>,
        cnonce: &str,
        nc: NonceCount,
    ) -> Result<String, ChallengeError> {
        let derived;
        let ha1 = match secret {
            ClientSecret::Password(password) => {
                derived = Ha1::from_password(self.algorithm, username, &self.realm, password);
                &derived
            }
            ClientSecret::Ha1(ha1) if ha1.hash() == self.algorithm.hash() => ha1,
            ClientSecret::Ha1(_) => return Err(ChallengeError::Ha1HashMismatch),
        };
        let nc_text = nc.to_string();
        let qop = self.qop_auth.then_some(QopInputs {
            cnonce,
            nc: &nc_text,
        });
        let response = request_digest(&DigestInputs {
            algorithm: self.algorithm,
            ha1,
            nonce: &self.nonce,
            method,
            uri,
            qop,
        })
        .ok_or(ChallengeError::UnsupportedQop)?;
        self.format_authorization(username, uri, &response, qop)
    }

    fn format_authorization(
        &self,
        username: &str,
        uri: &str,
        response: &str,
        qop: Option<QopInputs<'_>>,
    ) -> Result<String, ChallengeError> {
        let mut out = String::with_capacity(256);
        let quoted = |out: &mut String, name: &str, value: &str, field: &'static str| {
            out.push_str(name);
            push_quoted(out, value).ok_or(ChallengeError::InvalidInput(field))
        };
        quoted(&mut out, "Digest username=", username, "username")?;
        quoted(&mut out, ", realm=", &self.realm, "realm")?;
        quoted(&mut out, ", nonce=", &self.nonce, "nonce")?;
        quoted(&mut out, ", uri=", uri, "uri")?;
        quoted(&mut out, ", response=", response, "response")?;
        out.push_str(", algorithm=");
        out.push_str(self.algorithm.name());
        if let Some(qop) = qop {
            quoted(&mut out, ", cnonce=", qop.cnonce, "cnonce")?;
            out.push_str(", qop=auth, nc=");
            out.push_str(qop.nc);
        }
        if let Some(opaque) = &self.opaque {
            quoted(&mut out, ", opaque=", opaque, "opaque")?;
        }
        Ok(out)
    }
}

/// Parses `challenge` and answers it: the one-call form of [`DigestChallenge::parse`] then
/// [`DigestChallenge::authorization`].
pub fn respond(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    secret: ClientSecret<'_>,
    cnonce: &str,
    nc: NonceCount,
) -> Result<String, ChallengeError> {
    DigestChallenge::parse(challenge)?.authorization(method, uri, username, secret, cnonce, nc)
}

/// A fresh client nonce: 16 random bytes from the injected RNG, as 32 hex digits.
pub fn generate_cnonce(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::DigestCredentials;

    const RFC7616_CHALLENGE_SHA256: &str = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
        algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const RFC7616_CHALLENGE_MD5: &str = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
        algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn one() -> NonceCount {
        NonceCount::new(1).expect("nonzero")
    }

    #[test]
    fn answers_rfc7616_example_challenges() {
        for (challenge, expected) in [
            (RFC7616_CHALLENGE_MD5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                RFC7616_CHALLENGE_SHA256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let value = respond(
                challenge,
                "GET",
                "/dir/index.html",
                "Mufasa",
                ClientSecret::Password("Circle of Life"),
                CNONCE,
                one(),
            )
            .expect("answerable");
            assert!(
                value.contains(&format!("response=\"{expected}\"")),
                "{value}"
            );
            assert!(value.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
            let creds = DigestCredentials::parse(&value).expect("our output parses");
            assert_eq!(hex::encode(creds.response_bytes()), expected);
        }
    }

    #[test]
    fn best_prefers_sha256() {
        let best = DigestChallenge::best([
            RFC7616_CHALLENGE_MD5,
            "Basic realm=\"x\"",
            RFC7616_CHALLENGE_SHA256,
        ]);
        assert_eq!(best.map(|c| c.algorithm()), Some(Algorithm::Sha256));
        let best = DigestChallenge::best([
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            RFC7616_CHALLENGE_MD5,
        ]);
        assert_eq!(best.map(|c| c.algorithm()), Some(Algorithm::Md5));
        assert_eq!(DigestChallenge::best(["Bearer x"]), None);
    }

    #[test]
    fn auth_int_only_is_refused_politely() {
        assert_eq!(
            DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(ChallengeError::UnsupportedQop)
        );
    }

    #[test]
    fn rfc2069_form_without_qop() {
        let value = respond(
            "Digest realm=\"r\", nonce=\"n\"",
            "REGISTER",
            "sip:r",
            "u",
            ClientSecret::Password("p"),
            "c",
            one(),
        )
        .expect("answerable");
        assert!(
            !value.contains("qop") && !value.contains("cnonce") && !value.contains("nc="),
            "{value}"
        );
    }

    #[test]
    fn ha1_mismatch_and_injection_are_refused() {
        let md5 = Ha1::from_password(DigestHash::Md5, "Mufasa", "http-auth@example.org", "x");
        let challenge = DigestChallenge::parse(RFC7616_CHALLENGE_SHA256).expect("parses");
        assert_eq!(
            challenge.authorization("GET", "/", "Mufasa", ClientSecret::Ha1(&md5), "c", one()),
            Err(ChallengeError::Ha1HashMismatch)
        );
        assert_eq!(
            challenge.authorization(
                "GET",
                "/",
                "Mu\r\nX: y",
                ClientSecret::Password("p"),
                "c",
                one()
            ),
            Err(ChallengeError::InvalidInput("username"))
        );
    }
}
