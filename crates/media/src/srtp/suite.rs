//! The SRTP crypto suites Herald speaks, by their RFC 4568 / RFC 7714 SDES names.

use std::fmt;
use std::str::FromStr;

/// An SRTP crypto suite (the `a=crypto` suite name of RFC 4568 §6.2 and RFC 7714 §14.1).
///
/// Every suite uses the default key derivation (RFC 3711 §4.3, key derivation rate 0): AES-128
/// in counter mode as the PRF, or AES-256 for `AEAD_AES_256_GCM` (RFC 7714 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128 counter mode, 80-bit HMAC-SHA1 tag. The one suite every
    /// SDES phone does (RFC 4568 §6.2.1).
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: as above with a 32-bit tag on SRTP; SRTCP keeps the 80-bit tag
    /// (RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
    /// `AEAD_AES_128_GCM`: AES-128 in GCM with a 16-byte tag (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM`: AES-256 in GCM with a 16-byte tag (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpSuite {
    /// Every suite, strongest first: the order in which to offer them. Many phones only do
    /// [`SrtpSuite::AesCm128HmacSha1_80`], which an answerer then picks further down the list.
    pub const ALL: [Self; 4] = [
        Self::AeadAes256Gcm,
        Self::AeadAes128Gcm,
        Self::AesCm128HmacSha1_80,
        Self::AesCm128HmacSha1_32,
    ];

    /// The SDES name, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub fn name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The suite with this SDES name (exact, as RFC 4568 registers them); `None` for suites
    /// Herald does not implement, such as `AES_256_CM_HMAC_SHA1_80` or `F8_128_HMAC_SHA1_80`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|suite| suite.name() == name)
    }

    /// Length of the master key in bytes: 16, or 32 for `AEAD_AES_256_GCM`.
    pub fn master_key_len(self) -> usize {
        match self {
            Self::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Length of the master salt in bytes: 14 for the counter-mode suites, 12 for GCM.
    pub fn master_salt_len(self) -> usize {
        if self.is_aead() { 12 } else { 14 }
    }

    /// Length of the SDES key material (master key followed by master salt) in bytes.
    pub fn key_material_len(self) -> usize {
        self.master_key_len() + self.master_salt_len()
    }

    /// Bytes [`crate::srtp::SrtpSession::protect_rtp`] adds to an RTP packet: the tag.
    pub fn rtp_overhead(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// Bytes [`crate::srtp::SrtpSession::protect_rtcp`] adds to an RTCP packet: the
    /// E flag with the SRTCP index (4) and the tag (10, or 16 for GCM).
    pub fn rtcp_overhead(self) -> usize {
        SRTCP_INDEX_LEN + self.rtcp_tag_len()
    }

    /// The SRTCP tag length: 80 bits for both HMAC suites, 16 bytes for GCM.
    pub(crate) fn rtcp_tag_len(self) -> usize {
        if self.is_aead() { 16 } else { 10 }
    }

    pub(crate) fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm | Self::AeadAes256Gcm)
    }
}

/// The E flag and SRTCP index trailer (RFC 3711 §3.4).
pub(crate) const SRTCP_INDEX_LEN: usize = 4;

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of the suites in [`SrtpSuite::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SRTP crypto suite {0:?}")]
pub struct UnsupportedSuite(pub String);

impl FromStr for SrtpSuite {
    type Err = UnsupportedSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnsupportedSuite(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_lengths_follow_the_rfcs() {
        for suite in SrtpSuite::ALL {
            assert_eq!(suite.name().parse(), Ok(suite));
        }
        assert!("AES_256_CM_HMAC_SHA1_80".parse::<SrtpSuite>().is_err());
        assert!("aes_cm_128_hmac_sha1_80".parse::<SrtpSuite>().is_err());
        let lengths = |s: SrtpSuite| (s.key_material_len(), s.rtp_overhead(), s.rtcp_overhead());
        assert_eq!(lengths(SrtpSuite::AesCm128HmacSha1_80), (30, 10, 14));
        assert_eq!(lengths(SrtpSuite::AesCm128HmacSha1_32), (30, 4, 14));
        assert_eq!(lengths(SrtpSuite::AeadAes128Gcm), (28, 16, 20));
        assert_eq!(lengths(SrtpSuite::AeadAes256Gcm), (44, 16, 20));
    }
}
