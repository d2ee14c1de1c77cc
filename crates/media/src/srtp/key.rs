//! SDES master keys (RFC 4568 §6.1): the `inline:` key parameters of an `a=crypto` line.

use std::fmt;

use base64::DecodeSliceError;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use zeroize::Zeroizing;

use super::suite::SrtpSuite;

/// The longest key material: `AEAD_AES_256_GCM`'s 32-byte key and 12-byte salt.
const MAX_KEY_MATERIAL: usize = 44;

/// Room to decode any key of a plausible length, so that a wrong one is reported by length.
const DECODE_BUFFER: usize = 96;

/// Decodes with or without the trailing `=`: phones differ.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An SRTP master key and master salt for one crypto suite: ours (drawn by the caller from a
/// CSPRNG) or the peer's (read from its `a=crypto` line).
///
/// The bytes are wiped when the key is dropped. `Debug` shows the suite only; there is no way
/// to print the key except [`SdesKey::key_params`], which is what goes into SDP.
#[derive(Clone)]
pub struct SdesKey {
    suite: SrtpSuite,
    material: Zeroizing<[u8; MAX_KEY_MATERIAL]>,
}

impl SdesKey {
    /// A key from `key_and_salt`: the master key followed by the master salt, exactly
    /// [`SrtpSuite::key_material_len`] bytes, e.g. 30 random bytes for
    /// `AES_CM_128_HMAC_SHA1_80`.
    ///
    /// # Errors
    ///
    /// [`SdesKeyError::WrongLength`] when `key_and_salt` has another length.
    pub fn new(suite: SrtpSuite, key_and_salt: &[u8]) -> Result<Self, SdesKeyError> {
        let expected = suite.key_material_len();
        if key_and_salt.len() != expected {
            let found = key_and_salt.len();
            return Err(SdesKeyError::WrongLength { expected, found });
        }
        let mut material = Zeroizing::new([0; MAX_KEY_MATERIAL]);
        material[..expected].copy_from_slice(key_and_salt);
        Ok(Self { suite, material })
    }

    /// Reads the key parameters of an `a=crypto` line (RFC 4568 §6.1):
    /// `inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>]`.
    ///
    /// The lifetime (`2^31`, `1048576`) is accepted and ignored: Herald's calls end long before
    /// 2^31 packets, and phones re-key with a re-INVITE anyway. An MKI is refused: with one,
    /// every packet would carry an MKI field that this implementation does not parse, so the
    /// offerer's line is not answerable. Several keys (`;`-separated) are refused for the same
    /// reason. Base64 padding is optional.
    ///
    /// # Errors
    ///
    /// An [`SdesKeyError`] naming what is wrong; none of them contains key material.
    pub fn from_key_params(suite: SrtpSuite, key_params: &str) -> Result<Self, SdesKeyError> {
        if key_params.contains(';') {
            return Err(SdesKeyError::SeveralKeys);
        }
        let inline = key_params
            .get(..7)
            .filter(|method| method.eq_ignore_ascii_case("inline:"))
            .ok_or(SdesKeyError::NotInline)?;
        let mut fields = key_params[inline.len()..].split('|');
        let encoded = fields.next().unwrap_or_default();
        check_lifetime_and_mki(fields)?;
        let mut decoded = Zeroizing::new([0; DECODE_BUFFER]);
        let found =
            LENIENT
                .decode_slice(encoded, &mut decoded[..])
                .map_err(|error| match error {
                    DecodeSliceError::OutputSliceTooSmall => SdesKeyError::WrongLength {
                        expected: suite.key_material_len(),
                        found: encoded.len() * 3 / 4,
                    },
                    DecodeSliceError::DecodeError(_) => SdesKeyError::InvalidBase64,
                })?;
        Self::new(suite, &decoded[..found])
    }

    /// The suite this key is for.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Our key parameters for `a=crypto`: `inline:<base64 key||salt>`, padded, without
    /// lifetime or MKI. The string is wiped when dropped.
    pub fn key_params(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(7 + 4 * MAX_KEY_MATERIAL.div_ceil(3)));
        text.push_str("inline:");
        STANDARD.encode_string(self.material(), &mut text);
        text
    }

    /// The key as the SDP crate takes it for our offers and answers (see
    /// [`herald_sdp::LocalMedia::srtp_keys`]). The SDP text carries the key in the clear, so
    /// signalling must run over TLS.
    pub fn to_sdp(&self) -> herald_sdp::LocalCryptoKey {
        herald_sdp::LocalCryptoKey::new(self.suite.name(), self.key_params().as_str())
    }

    /// Master key followed by master salt.
    pub(crate) fn material(&self) -> &[u8] {
        &self.material[..self.suite.key_material_len()]
    }

    pub(crate) fn master_key(&self) -> &[u8] {
        &self.material[..self.suite.master_key_len()]
    }

    pub(crate) fn master_salt(&self) -> &[u8] {
        &self.material()[self.suite.master_key_len()..]
    }
}

impl fmt::Debug for SdesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdesKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// After the key: at most a lifetime, then at most an MKI, which we refuse.
fn check_lifetime_and_mki<'a>(
    mut fields: impl Iterator<Item = &'a str>,
) -> Result<(), SdesKeyError> {
    let Some(first) = fields.next() else {
        return Ok(());
    };
    if first.contains(':') {
        return Err(SdesKeyError::MkiNotSupported);
    }
    if !is_lifetime(first) {
        return Err(SdesKeyError::InvalidLifetime);
    }
    match fields.next() {
        None => Ok(()),
        Some(mki) if mki.contains(':') => Err(SdesKeyError::MkiNotSupported),
        Some(_) => Err(SdesKeyError::InvalidLifetime),
    }
}

/// `2^<n>` or a decimal packet count (RFC 4568 §9.2 `lifetime`).
fn is_lifetime(text: &str) -> bool {
    let digits = text.strip_prefix("2^").unwrap_or(text);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Why key parameters or a key pair cannot be used. No variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdesKeyError {
    /// The key method is not `inline:` (RFC 4568 defines no other).
    #[error("key parameters do not start with `inline:`")]
    NotInline,
    /// The key is not base64.
    #[error("the inline key is not base64")]
    InvalidBase64,
    /// The key and salt do not have the suite's length.
    #[error("key material is {found} bytes, the suite needs {expected}")]
    WrongLength {
        /// What the suite needs.
        expected: usize,
        /// What was given.
        found: usize,
    },
    /// The lifetime field is neither `2^n` nor a decimal number.
    #[error("invalid key lifetime")]
    InvalidLifetime,
    /// The key has a master key identifier, which Herald does not support.
    #[error("MKI is not supported")]
    MkiNotSupported,
    /// Several `;`-separated keys, which only make sense with an MKI.
    #[error("several keys in one crypto attribute are not supported")]
    SeveralKeys,
    /// The suite name is not one of [`SrtpSuite::ALL`].
    #[error("unsupported crypto suite {0:?}")]
    UnsupportedSuite(String),
    /// The local and remote keys are for different suites: the caller mixed keys of two
    /// negotiations.
    #[error("local key is for {local}, remote key for {remote}")]
    SuiteMismatch {
        /// Our key's suite.
        local: SrtpSuite,
        /// The peer's key's suite.
        remote: SrtpSuite,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4568 §6.1's example key, 30 bytes.
    const RFC_4568_KEY: &str = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn parse(params: &str) -> Result<SdesKey, SdesKeyError> {
        SdesKey::from_key_params(SrtpSuite::AesCm128HmacSha1_80, params)
    }

    #[test]
    fn inline_keys_parse_with_lifetime_and_print_back_without() {
        let key = parse(RFC_4568_KEY).expect("valid");
        assert_eq!(&key.material()[..4], b"YS__");
        assert_eq!(key.key_params().as_str(), RFC_4568_KEY);
        for params in ["|2^20", "|2^31", "|1048576"] {
            let with_lifetime = parse(&format!("{RFC_4568_KEY}{params}")).expect("lifetime");
            assert_eq!(with_lifetime.material(), key.material());
        }
        assert!(parse(&RFC_4568_KEY.replace("inline:", "INLINE:")).is_ok());
    }

    #[test]
    fn mki_several_keys_and_garbage_are_refused() {
        let cases = [
            (
                format!("{RFC_4568_KEY}|2^20|1:4"),
                SdesKeyError::MkiNotSupported,
            ),
            (
                format!("{RFC_4568_KEY}|1:32"),
                SdesKeyError::MkiNotSupported,
            ),
            (
                format!("{RFC_4568_KEY};{RFC_4568_KEY}"),
                SdesKeyError::SeveralKeys,
            ),
            (format!("{RFC_4568_KEY}|2^x"), SdesKeyError::InvalidLifetime),
            (
                format!("{RFC_4568_KEY}|2^20|7"),
                SdesKeyError::InvalidLifetime,
            ),
            ("uri:sip:key".into(), SdesKeyError::NotInline),
            ("inline:!!!!".into(), SdesKeyError::InvalidBase64),
            (
                "inline:QUJD".into(),
                SdesKeyError::WrongLength {
                    expected: 30,
                    found: 3,
                },
            ),
            ("".into(), SdesKeyError::NotInline),
            ("inlin".into(), SdesKeyError::NotInline),
        ];
        for (params, error) in cases {
            assert_eq!(parse(&params).err(), Some(error), "{params}");
        }
        let too_long = format!("inline:{}", STANDARD.encode([7; 60]));
        let error = SdesKeyError::WrongLength {
            expected: 30,
            found: 60,
        };
        assert_eq!(parse(&too_long).err(), Some(error));
        let huge = format!("inline:{}", STANDARD.encode([7; 300]));
        assert!(matches!(
            parse(&huge),
            Err(SdesKeyError::WrongLength { found: 300, .. })
        ));
    }

    #[test]
    fn gcm_keys_decode_with_or_without_padding_and_debug_hides_them() {
        let suite = SrtpSuite::AeadAes256Gcm;
        let key = SdesKey::new(suite, &[0xa5; 44]).expect("44 bytes");
        let params = key.key_params();
        assert!(params.ends_with('='), "{}", params.as_str());
        let unpadded = params.trim_end_matches('=');
        let again = SdesKey::from_key_params(suite, unpadded).expect("unpadded");
        assert_eq!(again.material(), key.material());
        assert_eq!(format!("{key:?}"), "SdesKey { suite: AeadAes256Gcm, .. }");
        assert_eq!(key.master_key(), &[0xa5; 32]);
        assert_eq!(key.master_salt().len(), 12);
    }
}
