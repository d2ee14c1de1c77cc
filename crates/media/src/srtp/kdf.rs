//! Session key derivation (RFC 3711 §4.3) with a key derivation rate of 0: the session keys are
//! derived once from the master key and salt, and `r = index DIV kdr` is always 0.

use aes::cipher::consts::U16;
use aes::cipher::{BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipher};
use aes::{Aes128, Aes256};
use zeroize::Zeroizing;

use super::key::SdesKey;

/// The key derivation labels (RFC 3711 §4.3.1 and §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    RtpEncryption = 0,
    RtpAuthentication = 1,
    RtpSalt = 2,
    RtcpEncryption = 3,
    RtcpAuthentication = 4,
    RtcpSalt = 5,
}

/// The AES-CM pseudo-random function keyed with a master key: AES-128 (RFC 3711 §4.3.3), or
/// AES-256 for 32-byte master keys (RFC 6188 §7, used by `AEAD_AES_256_GCM`, RFC 7714 §11).
pub(crate) enum Prf {
    Aes128(Aes128),
    Aes256(Aes256),
}

impl Prf {
    /// The PRF for `key`'s master key.
    pub(crate) fn new(key: &SdesKey) -> Self {
        let master = key.master_key();
        let invariant = "SdesKey holds a master key of its suite's length";
        if key.suite().master_key_len() == 32 {
            Self::Aes256(Aes256::new_from_slice(master).expect(invariant))
        } else {
            Self::Aes128(Aes128::new_from_slice(master).expect(invariant))
        }
    }

    /// Fills `out` with the session key for `label`: the AES-CM keystream starting at
    /// `IV = (master_salt XOR (label << 48)) << 16`.
    ///
    /// A 12-byte (GCM) master salt is taken as the first 12 of the 14 bytes, zero-padded on the
    /// right, as libsrtp and every interoperating implementation do.
    pub(crate) fn derive(&self, master_salt: &[u8], label: Label, out: &mut [u8]) {
        let mut iv = Zeroizing::new([0u8; 16]);
        iv[..master_salt.len()].copy_from_slice(master_salt);
        iv[7] ^= label as u8;
        out.fill(0);
        match self {
            Self::Aes128(aes) => aes_cm(aes, &iv, out),
            Self::Aes256(aes) => aes_cm(aes, &iv, out),
        }
    }
}

/// XORs the AES counter-mode keystream starting at counter block `iv` into `data` (RFC 3711
/// §4.1.1): the SRTP cipher and, over zeros, the key derivation PRF. The counter is the whole
/// 128-bit block, big-endian; SRTP never needs more than 2^16 blocks from one IV.
pub(crate) fn aes_cm<C>(aes: &C, iv: &[u8; 16], data: &mut [u8])
where
    C: BlockCipherEncrypt<BlockSize = U16>,
{
    let core = ctr::CtrCore::<&C, ctr::flavors::Ctr128BE>::inner_iv_init(aes, iv.into());
    ctr::Ctr128BE::from_core(core).apply_keystream(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::suite::SrtpSuite;

    #[test]
    fn labels_and_prf_width_change_the_output() {
        let short = SdesKey::new(SrtpSuite::AeadAes128Gcm, &[1; 28]).expect("28 bytes");
        let long = SdesKey::new(SrtpSuite::AeadAes256Gcm, &[1; 44]).expect("44 bytes");
        assert!(matches!(Prf::new(&short), Prf::Aes128(_)));
        assert!(matches!(Prf::new(&long), Prf::Aes256(_)));
        let mut outputs = Vec::new();
        for key in [&short, &long] {
            for label in [Label::RtpEncryption, Label::RtcpEncryption] {
                let mut out = [0; 16];
                Prf::new(key).derive(key.master_salt(), label, &mut out);
                outputs.push(out);
            }
        }
        outputs.sort_unstable();
        outputs.dedup();
        assert_eq!(outputs.len(), 4);
    }
}
