//! The per-recording data key, the segment key derived from it, and the STREAM nonces that
//! seal each segment.

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::header::RecordingId;

/// Bytes in a data key.
pub const DATA_KEY_LEN: usize = 32;
/// Bytes in an AES-GCM tag, appended to every segment's ciphertext.
pub(crate) const TAG_LEN: usize = 16;
/// HKDF `info` for the segment key.
const SEGMENT_KEY_INFO: &[u8] = b"herald recording v1 segments";

/// The 256-bit secret of one recording. Whoever holds it can read the recording; the serving
/// host holds it only while writing, then keeps it solely in wrapped form (see
/// [`wrap_data_key`](crate::wrap_data_key)). Wiped on drop; neither `Debug` nor `Clone`.
pub struct DataKey([u8; DATA_KEY_LEN]);

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl DataKey {
    /// A fresh key from the caller's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut key = Self([0; DATA_KEY_LEN]);
        rng.fill_bytes(&mut key.0);
        key
    }

    /// A key from its raw bytes (test vectors, unwrapping).
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A key copied from exactly 32 bytes, without a stack copy left behind.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Self([0; DATA_KEY_LEN]);
        (bytes.len() == DATA_KEY_LEN).then(|| {
            key.0.copy_from_slice(bytes);
            key
        })
    }

    /// The raw bytes, for wrapping. Do not log or store them.
    pub fn expose_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

/// The AEAD key of one recording's segments: HKDF-SHA256(ikm = data key, salt = recording id,
/// info = `"herald recording v1 segments"`). `aes-gcm`'s `zeroize` feature wipes the key
/// schedule on drop.
pub(crate) struct SegmentKey {
    cipher: Aes256Gcm,
}

/// A segment failed authentication (wrong key, wrong place, or altered bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthentic;

impl SegmentKey {
    pub(crate) fn derive(data_key: &DataKey, recording_id: &RecordingId) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(&recording_id.0), &data_key.0);
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf.expand(SEGMENT_KEY_INFO, okm.as_mut())
            .expect("invariant: 32 bytes is a valid HKDF-SHA256 output length");
        let cipher = Aes256Gcm::new_from_slice(okm.as_ref())
            .expect("invariant: AES-256 takes a 32-byte key");
        Self { cipher }
    }

    /// Encrypts `data` in place and returns the tag.
    pub(crate) fn seal(
        &self,
        index: u32,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let nonce = stream_nonce(index, last).into();
        self.cipher
            .encrypt_inout_detached(&nonce, aad, data.into())
            .expect("invariant: segments are far below GCM's 64 GiB plaintext limit")
            .into()
    }

    /// Decrypts `data` in place if `tag` authenticates it at this index and flag.
    pub(crate) fn open(
        &self,
        index: u32,
        last: bool,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Unauthentic> {
        let nonce = stream_nonce(index, last).into();
        self.cipher
            .decrypt_inout_detached(&nonce, aad, data.into(), &(*tag).into())
            .map_err(|_| Unauthentic)
    }
}

/// STREAM nonce: the segment counter as an 11-byte big-endian integer, then a flag byte that is
/// 0x01 on the last segment and 0x00 on every other.
pub(crate) fn stream_nonce(index: u32, last: bool) -> [u8; 12] {
    let mut nonce = [0; 12];
    nonce[7..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_counter_then_flag() {
        assert_eq!(
            stream_nonce(0x0102_0304, true),
            [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 1]
        );
        assert_eq!(stream_nonce(0, false), [0; 12]);
    }

    #[test]
    fn a_segment_opens_only_at_its_index_flag_and_recording() {
        let key = DataKey::from_bytes([7; 32]);
        let id = RecordingId([1; 16]);
        let segment_key = SegmentKey::derive(&key, &id);
        let mut data = *b"audio";
        let tag = segment_key.seal(3, false, b"aad", &mut data);
        let open = |index, last, aad: &[u8], other: &SegmentKey| {
            let mut copy = data;
            other.open(index, last, aad, &mut copy, &tag).map(|()| copy)
        };
        assert_eq!(open(3, false, b"aad", &segment_key), Ok(*b"audio"));
        assert_eq!(open(4, false, b"aad", &segment_key), Err(Unauthentic));
        assert_eq!(open(3, true, b"aad", &segment_key), Err(Unauthentic));
        assert_eq!(open(3, false, b"aae", &segment_key), Err(Unauthentic));
        let other_recording = SegmentKey::derive(&key, &RecordingId([2; 16]));
        assert_eq!(open(3, false, b"aad", &other_recording), Err(Unauthentic));
    }
}
