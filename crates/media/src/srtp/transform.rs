//! The per-packet cryptography, in place: AES-CM with HMAC-SHA1 (RFC 3711 §4.1.1, §4.2) and
//! AES-GCM (RFC 7714 §8, §9), for RTP and RTCP. State (indices, replay) lives in the caller;
//! here a packet, its index and the session keys go in, and the protected packet comes out.

use aes::Aes128;
use aes::cipher::KeyInit;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::kdf::{Label, Prf, aes_cm};
use super::key::SdesKey;
use super::packet::RTCP_HEADER_LEN;
use super::suite::{SRTCP_INDEX_LEN, SrtpSuite};

/// The E flag of the SRTCP trailer (RFC 3711 §3.4).
const ENCRYPTED: u32 = 0x8000_0000;

/// Length of the GCM tag (RFC 7714 §7).
const GCM_TAG_LEN: usize = 16;

/// A tag that does not verify. Deliberately without detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadTag;

/// The session keys of one direction of one protocol (SRTP or SRTCP), ready to use.
pub(crate) enum Transform {
    /// AES-128 counter mode and HMAC-SHA1.
    CounterMode(CounterMode),
    /// AES-GCM.
    Gcm(Gcm),
}

pub(crate) struct CounterMode {
    aes: Aes128,
    salt: Zeroizing<[u8; 14]>,
    mac: Hmac<Sha1>,
    tag_len: usize,
}

pub(crate) struct Gcm {
    cipher: GcmCipher,
    salt: Zeroizing<[u8; 12]>,
}

enum GcmCipher {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

/// Whether session keys are derived for SRTP or for SRTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Rtp,
    Rtcp,
}

impl Protocol {
    fn labels(self) -> [Label; 3] {
        match self {
            Self::Rtp => [
                Label::RtpEncryption,
                Label::RtpAuthentication,
                Label::RtpSalt,
            ],
            Self::Rtcp => [
                Label::RtcpEncryption,
                Label::RtcpAuthentication,
                Label::RtcpSalt,
            ],
        }
    }
}

impl Transform {
    /// Derives the session keys of `protocol` from `key` (RFC 3711 §4.3, RFC 7714 §11).
    pub(crate) fn derive(key: &SdesKey, protocol: Protocol) -> Self {
        let prf = Prf::new(key);
        let [encryption, authentication, salting] = protocol.labels();
        let mut session_key = Zeroizing::new([0u8; 32]);
        let session_key = &mut session_key[..key.suite().master_key_len()];
        prf.derive(key.master_salt(), encryption, session_key);
        let mut session_salt = Zeroizing::new([0u8; 14]);
        let session_salt = &mut session_salt[..key.suite().master_salt_len()];
        prf.derive(key.master_salt(), salting, session_salt);
        if key.suite().is_aead() {
            return Self::Gcm(Gcm::new(session_key, session_salt));
        }
        let mut auth_key = Zeroizing::new([0u8; 20]);
        prf.derive(key.master_salt(), authentication, &mut auth_key[..]);
        let tag_len = match (key.suite(), protocol) {
            (SrtpSuite::AesCm128HmacSha1_32, Protocol::Rtp) => 4,
            _ => 10,
        };
        Self::CounterMode(CounterMode::new(
            session_key,
            session_salt,
            &auth_key[..],
            tag_len,
        ))
    }

    /// Bytes of tag this transform appends.
    pub(crate) fn tag_len(&self) -> usize {
        match self {
            Self::CounterMode(cm) => cm.tag_len,
            Self::Gcm(_) => GCM_TAG_LEN,
        }
    }

    /// Encrypts the payload of the RTP packet `buf[..len]` (header `header_len` bytes) in place
    /// and appends the tag. `buf` must hold `len + tag_len()` bytes. Returns the new length.
    pub(crate) fn seal_rtp(
        &self,
        buf: &mut [u8],
        len: usize,
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> usize {
        let tag_len = self.tag_len();
        let (packet, tail) = buf.split_at_mut(len);
        let tag_out = &mut tail[..tag_len];
        match self {
            Self::CounterMode(cm) => {
                cm.apply_keystream(&mut packet[header_len..], ssrc, index);
                let tag = cm.tag(packet, Some(roc_of(index)));
                tag_out.copy_from_slice(&tag[..tag_len]);
            }
            Self::Gcm(gcm) => {
                let (header, payload) = packet.split_at_mut(header_len);
                tag_out.copy_from_slice(&gcm.seal(ssrc, index, header, payload));
            }
        }
        len + tag_len
    }

    /// Verifies and decrypts the SRTP packet `packet` (all of it, tag included) in place.
    /// Returns the length of the RTP packet. The caller has checked that the packet holds the
    /// header and the tag.
    pub(crate) fn open_rtp(
        &self,
        packet: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, BadTag> {
        let end = packet.len() - self.tag_len();
        let (authenticated, tag) = packet.split_at_mut(end);
        match self {
            Self::CounterMode(cm) => {
                cm.verify(authenticated, Some(roc_of(index)), tag)?;
                cm.apply_keystream(&mut authenticated[header_len..], ssrc, index);
            }
            Self::Gcm(gcm) => {
                let (header, payload) = authenticated.split_at_mut(header_len);
                gcm.open(ssrc, index, header, payload, tag)?;
            }
        }
        Ok(end)
    }

    /// Encrypts the RTCP packet `buf[..len]` past its first 8 bytes, appends the E flag with
    /// `srtcp_index`, and the tag where the suite puts it. Returns the new length.
    pub(crate) fn seal_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        srtcp_index: u32,
    ) -> usize {
        let trailer = (ENCRYPTED | srtcp_index).to_be_bytes();
        let end = len + SRTCP_INDEX_LEN + self.tag_len();
        match self {
            Self::CounterMode(cm) => {
                cm.apply_keystream(&mut buf[RTCP_HEADER_LEN..len], ssrc, srtcp_index.into());
                buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&trailer);
                let tag = cm.tag(&buf[..len + SRTCP_INDEX_LEN], None);
                buf[len + SRTCP_INDEX_LEN..end].copy_from_slice(&tag[..cm.tag_len]);
            }
            Self::Gcm(gcm) => {
                let (header, rest) = buf.split_at_mut(RTCP_HEADER_LEN);
                let aad = rtcp_aad(header, trailer);
                let tag = gcm.seal(
                    ssrc,
                    srtcp_index.into(),
                    &aad,
                    &mut rest[..len - RTCP_HEADER_LEN],
                );
                buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                buf[len + GCM_TAG_LEN..end].copy_from_slice(&trailer);
            }
        }
        end
    }

    /// The E flag and SRTCP index of the SRTCP packet `packet`, which holds at least the
    /// header, the trailer and the tag.
    pub(crate) fn srtcp_trailer(&self, packet: &[u8]) -> (bool, u32) {
        let at = match self {
            Self::CounterMode(cm) => packet.len() - cm.tag_len - SRTCP_INDEX_LEN,
            Self::Gcm(_) => packet.len() - SRTCP_INDEX_LEN,
        };
        let word = u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]]);
        (word & ENCRYPTED != 0, word & !ENCRYPTED)
    }

    /// Verifies the SRTCP packet `packet` and, when its E flag is set, decrypts it in place.
    /// Returns the length of the RTCP packet.
    pub(crate) fn open_rtcp(&self, packet: &mut [u8], ssrc: u32) -> Result<usize, BadTag> {
        let (encrypted, index) = self.srtcp_trailer(packet);
        let end = packet.len() - SRTCP_INDEX_LEN - self.tag_len();
        match self {
            Self::CounterMode(cm) => {
                let (authenticated, tag) = packet.split_at_mut(end + SRTCP_INDEX_LEN);
                cm.verify(authenticated, None, tag)?;
                if encrypted {
                    cm.apply_keystream(
                        &mut authenticated[RTCP_HEADER_LEN..end],
                        ssrc,
                        index.into(),
                    );
                }
            }
            Self::Gcm(gcm) => gcm.open_rtcp(packet, end, ssrc, index, encrypted)?,
        }
        Ok(end)
    }
}

#[cfg(test)]
impl Transform {
    /// AES-CM with given session keys, for the RFC 3711 vectors.
    pub(super) fn counter_mode(key: &[u8; 16], salt: &[u8; 14], auth: &[u8; 20]) -> Self {
        Self::CounterMode(CounterMode::new(key, salt, auth, 10))
    }

    /// AES-GCM with given session keys, for the RFC 7714 vectors.
    pub(super) fn gcm(key: &[u8], salt: &[u8; 12]) -> Self {
        Self::Gcm(Gcm::new(key, salt))
    }

    /// The AES-CM keystream for `ssrc` and `index`, XORed into `data`.
    pub(super) fn keystream(&self, data: &mut [u8], ssrc: u32, index: u64) {
        if let Self::CounterMode(cm) = self {
            cm.apply_keystream(data, ssrc, index);
        }
    }
}

/// Every primitive holding key material wipes it when dropped (their `zeroize` features):
/// the AES key schedules, the GCM states, and the two SHA-1 states that make an HMAC key.
fn wipes_on_drop<T: ZeroizeOnDrop>() {}
const _: [fn(); 5] = [
    wipes_on_drop::<Aes128>,
    wipes_on_drop::<aes::Aes256>,
    wipes_on_drop::<Aes128Gcm>,
    wipes_on_drop::<Aes256Gcm>,
    wipes_on_drop::<sha1::block_api::Sha1Core>,
];

/// The rollover counter of a 48-bit index.
fn roc_of(index: u64) -> u32 {
    // The index has 48 bits, so the shifted value has 32.
    (index >> 16) as u32
}

/// GCM's associated data for an encrypted SRTCP packet: the header and the trailer.
fn rtcp_aad(header: &[u8], trailer: [u8; 4]) -> [u8; RTCP_HEADER_LEN + SRTCP_INDEX_LEN] {
    let mut aad = [0; RTCP_HEADER_LEN + SRTCP_INDEX_LEN];
    aad[..RTCP_HEADER_LEN].copy_from_slice(header);
    aad[RTCP_HEADER_LEN..].copy_from_slice(&trailer);
    aad
}

/// `00 00 || SSRC || index (48 bits)`, the common shape of every IV here before the salt is
/// XORed in: RFC 7714 §8.1 (ROC and SEQ make the index) and §9.1 (the SRTCP index has 31
/// bits), and RFC 3711 §4.1.1 as bytes 2..14 of the 16-byte counter block.
fn iv_base(ssrc: u32, index: u64) -> [u8; 12] {
    let mut iv = [0; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..].copy_from_slice(&index.to_be_bytes()[2..]);
    iv
}

fn xor_into(target: &mut [u8], mask: &[u8]) {
    target.iter_mut().zip(mask).for_each(|(t, m)| *t ^= m);
}

impl CounterMode {
    fn new(key: &[u8], salt: &[u8], auth_key: &[u8], tag_len: usize) -> Self {
        let mut session_salt = Zeroizing::new([0; 14]);
        session_salt.copy_from_slice(salt);
        Self {
            aes: Aes128::new_from_slice(key).expect("the session key has 16 bytes"),
            salt: session_salt,
            mac: Hmac::new_from_slice(auth_key).expect("HMAC takes any key length"),
            tag_len,
        }
    }

    /// XORs the AES-CM keystream for `ssrc` and `index` (RFC 3711 §4.1.1:
    /// `IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)`) into `data`.
    fn apply_keystream(&self, data: &mut [u8], ssrc: u32, index: u64) {
        let mut iv = Zeroizing::new([0u8; 16]);
        iv[2..14].copy_from_slice(&iv_base(ssrc, index));
        xor_into(&mut iv[..14], &self.salt[..]);
        aes_cm(&self.aes, &iv, data);
    }

    /// The full HMAC-SHA1 of `authenticated`, followed by the ROC for SRTP (RFC 3711 §4.2).
    fn tag(&self, authenticated: &[u8], roc: Option<u32>) -> [u8; 20] {
        let mut mac = self.mac.clone();
        mac.update(authenticated);
        if let Some(roc) = roc {
            mac.update(&roc.to_be_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// Compares the truncated tag in constant time.
    fn verify(&self, authenticated: &[u8], roc: Option<u32>, tag: &[u8]) -> Result<(), BadTag> {
        let mut mac = self.mac.clone();
        mac.update(authenticated);
        if let Some(roc) = roc {
            mac.update(&roc.to_be_bytes());
        }
        mac.verify_truncated_left(tag).map_err(|_| BadTag)
    }
}

impl Gcm {
    fn new(key: &[u8], salt: &[u8]) -> Self {
        let mut session_salt = Zeroizing::new([0; 12]);
        session_salt.copy_from_slice(salt);
        let invariant = "the session key has 16 or 32 bytes";
        let cipher = match key.len() {
            32 => GcmCipher::Aes256(Aes256Gcm::new_from_slice(key).expect(invariant)),
            _ => GcmCipher::Aes128(Aes128Gcm::new_from_slice(key).expect(invariant)),
        };
        Self {
            cipher,
            salt: session_salt,
        }
    }

    fn nonce(&self, ssrc: u32, index: u64) -> [u8; 12] {
        let mut nonce = iv_base(ssrc, index);
        xor_into(&mut nonce, &self.salt[..]);
        nonce
    }

    fn seal(&self, ssrc: u32, index: u64, aad: &[u8], data: &mut [u8]) -> [u8; GCM_TAG_LEN] {
        let nonce = self.nonce(ssrc, index).into();
        let tag = match &self.cipher {
            GcmCipher::Aes128(c) => c.encrypt_inout_detached(&nonce, aad, data.into()),
            GcmCipher::Aes256(c) => c.encrypt_inout_detached(&nonce, aad, data.into()),
        };
        // SRTP packets are far below GCM's 64 GiB plaintext limit.
        tag.expect("an SRTP packet fits GCM's length limits").into()
    }

    fn open(
        &self,
        ssrc: u32,
        index: u64,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), BadTag> {
        let nonce = self.nonce(ssrc, index).into();
        let tag: [u8; GCM_TAG_LEN] = tag.try_into().map_err(|_| BadTag)?;
        let tag = tag.into();
        match &self.cipher {
            GcmCipher::Aes128(c) => c.decrypt_inout_detached(&nonce, aad, data.into(), &tag),
            GcmCipher::Aes256(c) => c.decrypt_inout_detached(&nonce, aad, data.into(), &tag),
        }
        .map_err(|_| BadTag)
    }

    /// RFC 7714 §9: `packet` is `header | ciphertext | tag | trailer`, `end` where the tag
    /// starts. Unencrypted SRTCP authenticates header, payload and trailer as associated data;
    /// the trailer is moved next to the payload so that they form one slice.
    fn open_rtcp(
        &self,
        packet: &mut [u8],
        end: usize,
        ssrc: u32,
        index: u32,
        encrypted: bool,
    ) -> Result<(), BadTag> {
        let mut tag = [0; GCM_TAG_LEN];
        tag.copy_from_slice(&packet[end..end + GCM_TAG_LEN]);
        let trailer_at = end + GCM_TAG_LEN;
        let mut trailer = [0; SRTCP_INDEX_LEN];
        trailer.copy_from_slice(&packet[trailer_at..trailer_at + SRTCP_INDEX_LEN]);
        if encrypted {
            let (header, rest) = packet.split_at_mut(RTCP_HEADER_LEN);
            let aad = rtcp_aad(header, trailer);
            return self.open(
                ssrc,
                index.into(),
                &aad,
                &mut rest[..end - RTCP_HEADER_LEN],
                &tag,
            );
        }
        packet[end..end + SRTCP_INDEX_LEN].copy_from_slice(&trailer);
        self.open(
            ssrc,
            index.into(),
            &packet[..end + SRTCP_INDEX_LEN],
            &mut [],
            &tag,
        )
    }
}
