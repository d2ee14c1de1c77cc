//! SDES (RFC 4568): choosing an `a=crypto` line to answer, writing ours, and reading the one an
//! answer picked. Keys stay opaque text here: the media crate decodes them, and this crate has
//! no cryptography and no randomness.

use std::fmt;

use crate::attribute::Crypto;
use crate::codec::parse_decimal;
use crate::model::MediaDescription;

/// The plain RTP profile (RFC 3551).
pub(crate) const RTP_AVP: &str = "RTP/AVP";
/// The SRTP profile (RFC 3711 §12).
pub(crate) const RTP_SAVP: &str = "RTP/SAVP";

/// What a media section's transport profile means to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// `RTP/AVP`.
    Plain,
    /// `RTP/SAVP` with SDES keys.
    Secure,
    /// Anything else: `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF` (DTLS-SRTP), `udptl`, ...
    Unsupported,
}

impl Profile {
    pub(crate) fn of(proto: &str) -> Self {
        if proto.eq_ignore_ascii_case(RTP_AVP) {
            Self::Plain
        } else if proto.eq_ignore_ascii_case(RTP_SAVP) {
            Self::Secure
        } else {
            Self::Unsupported
        }
    }
}

/// Whether we do SRTP (RFC 3711 with SDES keys, RFC 4568).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// No SRTP: `RTP/SAVP` offers are refused and our offers are `RTP/AVP`.
    Disabled,
    /// Answer `RTP/SAVP` with SRTP when [`crate::LocalMedia::srtp_keys`] has a key for an
    /// offered suite, and `RTP/AVP` with plain RTP; our offers are `RTP/AVP`, which every peer
    /// accepts.
    #[default]
    Optional,
    /// Only SRTP: `RTP/AVP` offers are refused, and our offers are `RTP/SAVP` with one
    /// `a=crypto` per key in [`crate::LocalMedia::srtp_keys`].
    Required,
}

/// One of our SDES keys: a crypto suite and the key parameters we write after it, e.g.
/// `AES_CM_128_HMAC_SHA1_80` and `inline:<base64 key||salt>`.
///
/// The caller draws the key from a CSPRNG and encodes it (the media crate's `SdesKey` does
/// both); this crate only copies the text. `Debug` hides the key parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalCryptoKey {
    /// Crypto suite name as RFC 4568 / RFC 7714 register it.
    pub suite: String,
    /// `inline:<base64 key||salt>`, without lifetime or MKI. Secret.
    pub key_params: String,
}

impl LocalCryptoKey {
    /// A key for `suite` with the given key parameters.
    pub fn new(suite: impl Into<String>, key_params: impl Into<String>) -> Self {
        Self {
            suite: suite.into(),
            key_params: key_params.into(),
        }
    }
}

impl fmt::Debug for LocalCryptoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCryptoKey")
            .field("suite", &self.suite)
            .field("key_params", &"<redacted>")
            .finish()
    }
}

/// The SDES crypto both sides agreed on: one suite, our key for what we send and theirs for
/// what we receive. `Debug` hides both keys.
#[derive(Clone, PartialEq, Eq)]
pub struct NegotiatedSrtp {
    /// The `a=crypto` tag of the chosen line.
    pub tag: u32,
    /// The crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// Our key parameters (`inline:...`): protect what we send with this key.
    pub local_key_params: String,
    /// The peer's key parameters as it wrote them (possibly with a lifetime): unprotect what we
    /// receive with this key.
    pub remote_key_params: String,
}

impl fmt::Debug for NegotiatedSrtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NegotiatedSrtp")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("local_key_params", &"<redacted>")
            .field("remote_key_params", &"<redacted>")
            .finish()
    }
}

/// The offered line to answer and our line echoing its tag: the first offered line (the
/// offerer lists them most preferred first, RFC 4568 §5.1) whose suite we have a key for and
/// whose key and session parameters we can use.
pub(crate) fn choose_crypto(
    offered: &MediaDescription,
    keys: &[LocalCryptoKey],
) -> Option<(Crypto, NegotiatedSrtp)> {
    offered.crypto().find_map(|theirs| {
        let ours = keys.iter().find(|k| k.suite == theirs.suite)?;
        usable(theirs, &ours.key_params).then(|| {
            let line = Crypto {
                tag: theirs.tag,
                suite: ours.suite.clone(),
                key_params: ours.key_params.clone(),
                session_params: None,
            };
            (line, negotiated(theirs, &ours.key_params))
        })
    })
}

/// Our `a=crypto` lines for an offer: one per key, tagged 1, 2, ... in the caller's order.
pub(crate) fn offer_crypto(keys: &[LocalCryptoKey]) -> Vec<Crypto> {
    (1..)
        .zip(keys)
        .map(|(tag, key)| Crypto {
            tag,
            suite: key.suite.clone(),
            key_params: key.key_params.clone(),
            session_params: None,
        })
        .collect()
}

/// The crypto an answer to our `RTP/SAVP` section chose: exactly one line, carrying the tag and
/// suite of one of our lines (RFC 4568 §5.1), and a key we can use.
pub(crate) fn accept_crypto(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Option<NegotiatedSrtp> {
    let mut answered = theirs.crypto();
    let chosen = answered.next()?;
    if answered.next().is_some() {
        return None;
    }
    let offered = ours
        .crypto()
        .find(|c| c.tag == chosen.tag && c.suite == chosen.suite)?;
    usable(chosen, &offered.key_params).then(|| negotiated(chosen, &offered.key_params))
}

fn negotiated(theirs: &Crypto, our_key_params: &str) -> NegotiatedSrtp {
    NegotiatedSrtp {
        tag: theirs.tag,
        suite: theirs.suite.clone(),
        local_key_params: our_key_params.to_owned(),
        remote_key_params: theirs.key_params.clone(),
    }
}

/// Whether the peer's line can be used with the suite of `our_key_params`: one `inline:` key
/// of the same length as ours, an optional lifetime (ignored), no MKI, and no session parameter
/// but `WSH` (a window size hint; ours is 128 anyway). `KDR`, `UNENCRYPTED_SRTP`,
/// `UNENCRYPTED_SRTCP`, `UNAUTHENTICATED_SRTP`, `FEC_ORDER`, `FEC_KEY` and unknown ones are
/// refused: RFC 4568 §6.3 lets a receiver reject the line over parameters it does not support.
fn usable(theirs: &Crypto, our_key_params: &str) -> bool {
    let session_ok = theirs
        .session_params
        .as_deref()
        .is_none_or(|params| params.split_ascii_whitespace().all(is_window_size_hint));
    let same_length = inline_key_len(&theirs.key_params)
        .is_some_and(|len| Some(len) == inline_key_len(our_key_params));
    session_ok && same_length
}

fn is_window_size_hint(param: &str) -> bool {
    param
        .strip_prefix("WSH=")
        .and_then(parse_decimal::<u32>)
        .is_some()
}

/// The decoded length of the key in `inline:<base64>[|lifetime]`, or `None` when the key
/// parameters carry an MKI, several keys, a bad lifetime, or non-base64 text.
fn inline_key_len(key_params: &str) -> Option<usize> {
    let method = key_params.get(..7)?;
    if !method.eq_ignore_ascii_case("inline:") || key_params.contains(';') {
        return None;
    }
    let mut fields = key_params[7..].split('|');
    let key = fields.next()?;
    match (fields.next(), fields.next()) {
        (None, _) => {}
        (Some(lifetime), None) if is_lifetime(lifetime) => {}
        _ => return None,
    }
    base64_len(key)
}

/// `2^<n>` or a decimal packet count.
fn is_lifetime(text: &str) -> bool {
    let digits = text.strip_prefix("2^").unwrap_or(text);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// How many bytes `text` decodes to as base64 (RFC 4648 §4, padding optional).
fn base64_len(text: &str) -> Option<usize> {
    let data = text.trim_end_matches('=');
    let padding = text.len() - data.len();
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let well_formed = !data.is_empty()
        && data.bytes().all(is_base64)
        && data.len() % 4 != 1
        && (padding == 0 || (padding <= 2 && text.len().is_multiple_of(4)));
    well_formed.then_some(data.len() * 3 / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_30: &str = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn crypto(key_params: &str, session_params: Option<&str>) -> Crypto {
        Crypto {
            tag: 1,
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key_params: key_params.into(),
            session_params: session_params.map(str::to_owned),
        }
    }

    #[test]
    fn base64_lengths_with_and_without_padding() {
        assert_eq!(
            base64_len("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"),
            Some(30)
        );
        assert_eq!(base64_len("QUJDRA=="), Some(4));
        assert_eq!(base64_len("QUJDRA"), Some(4));
        assert_eq!(base64_len("QUJDREU="), Some(5));
        for bad in [
            "",
            "QUJDR",
            "QUJ DRA==",
            "QUJDRA=",
            "QU==JDRA",
            "====",
            "QUJDRA===",
        ] {
            assert_eq!(base64_len(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn usable_lines_have_one_inline_key_of_our_length_and_known_parameters() {
        assert!(usable(&crypto(KEY_30, None), KEY_30));
        assert!(usable(&crypto(&format!("{KEY_30}|2^31"), None), KEY_30));
        assert!(usable(
            &crypto(&format!("{KEY_30}|1048576"), Some("WSH=64")),
            KEY_30
        ));
        let refused = [
            crypto(&format!("{KEY_30}|2^20|1:4"), None),
            crypto(&format!("{KEY_30}|1:32"), None),
            crypto(&format!("{KEY_30};{KEY_30}"), None),
            crypto(KEY_30, Some("KDR=1")),
            crypto(KEY_30, Some("UNENCRYPTED_SRTCP")),
            crypto(KEY_30, Some("WSH=64 FEC_ORDER=FEC_SRTP")),
            crypto("inline:QUJD", None),
            crypto("uri:sip:example", None),
        ];
        for line in refused {
            assert!(!usable(&line, KEY_30), "{}", line.key_params);
        }
    }
}
