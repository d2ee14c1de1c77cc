//! The published test vectors: RFC 3711 Appendix B.2 (AES-CM keystream) and B.3 (key
//! derivation), RFC 7714 §16 and §17 (AES-GCM SRTP and SRTCP, 128 and 256 bits). The RFC 7714
//! packets use the session key and salt directly (the RFC gives no master key for them), so
//! they drive [`Transform`] rather than a whole session.

use super::kdf::{Label, Prf};
use super::key::SdesKey;
use super::suite::SrtpSuite;
use super::transform::Transform;

/// Bytes from hex text with spaces and line breaks.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII");
            u8::from_str_radix(pair, 16).expect("hex digits")
        })
        .collect()
}

fn array<const N: usize>(text: &str) -> [u8; N] {
    hex(text).try_into().expect("vector length")
}

#[test]
fn rfc_3711_b2_aes_cm_keystream() {
    let session_key = array("2B7E151628AED2A6ABF7158809CF4F3C");
    let session_salt = array("F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
    let transform = Transform::counter_mode(&session_key, &session_salt, &[0; 20]);
    // 65282 blocks: the whole segment the RFC describes, ROC, SEQ and SSRC all 0.
    let mut keystream = vec![0; 1_044_512];
    transform.keystream(&mut keystream, 0, 0);
    let first = hex(
        "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB
         41E95B3BB0A2E8DD477901E4FCA894C0",
    );
    let last = hex(
        "EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE
         6A2CC3787889374FBEB4C81B17BA6C44",
    );
    assert_eq!(keystream[..48], first[..]);
    assert_eq!(keystream[keystream.len() - 48..], last[..]);
}

#[test]
fn rfc_3711_b3_key_derivation() {
    let material = hex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6");
    let master = SdesKey::new(SrtpSuite::AesCm128HmacSha1_80, &material).expect("30 bytes");
    let prf = Prf::new(&master);
    let derive = |label, len| {
        let mut out = vec![0; len];
        prf.derive(master.master_salt(), label, &mut out);
        out
    };
    let cipher_key = hex("C61E7A93744F39EE10734AFE3FF7A087");
    assert_eq!(derive(Label::RtpEncryption, 16), cipher_key);
    let cipher_salt = hex("30CBBC08863D8C85D49DB34A9AE1");
    assert_eq!(derive(Label::RtpSalt, 14), cipher_salt);
    // The RFC derives 94 bytes of authentication key; HMAC-SHA1 uses the first 20.
    let auth = hex(
        "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
         E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
         6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
    );
    assert_eq!(derive(Label::RtpAuthentication, 94), auth);
}

/// One RFC 7714 key size: §16 (RTP) and §17 (RTCP) with the same key and salt.
struct GcmVector {
    key: &'static str,
    rtp_protected: &'static str,
    rtcp_protected: &'static str,
    rtcp_authenticated_only: &'static str,
}

const SALT: &str = "517569642070726f2071756f"; // "Quid pro quo"
const RTP_SSRC: u32 = 0x5501_a0b2;
const RTP_INDEX: u64 = 0xf17b; // ROC 0, SEQ 0xf17b
const RTCP_SSRC: u32 = 0x4d61_7273;
const SRTCP_INDEX: u32 = 0x5d4;

const RTP_PLAIN: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
    20646976 69736120 696e2070 61727465 73207472 6573";

const RTCP_PLAIN: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
    4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";

const AES_128_GCM: GcmVector = GcmVector {
    key: "000102030405060708090a0b0c0d0e0f",
    rtp_protected: "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
        be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439
        0cce",
    rtcp_protected: "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7
        6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
        45d9eade 800005d4",
    rtcp_authenticated_only: "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a
        0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968 3dd78ec9
        2ae58790 125f62b3 000005d4",
};

const AES_256_GCM: GcmVector = GcmVector {
    key: "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f",
    rtp_protected: "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa
        b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7
        6c13",
    rtcp_protected: "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d
        bffe0a50 a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c
        b26ac3be 800005d4",
    rtcp_authenticated_only: "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a
        0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 91db4afb feee5a97
        8fab4393 ed2615fe 000005d4",
};

fn check_gcm(vector: &GcmVector) {
    let transform = Transform::gcm(&hex(vector.key), &array(SALT));
    let (plain, protected) = (hex(RTP_PLAIN), hex(vector.rtp_protected));
    let mut buf = plain.clone();
    buf.resize(plain.len() + 16, 0);
    let len = transform.seal_rtp(&mut buf, plain.len(), 12, RTP_SSRC, RTP_INDEX);
    assert_eq!(buf[..len], protected[..], "RFC 7714 §16.1 encryption");
    let mut buf = protected.clone();
    let opened = transform.open_rtp(&mut buf, 12, RTP_SSRC, RTP_INDEX);
    assert_eq!(opened, Ok(plain.len()));
    assert_eq!(buf[..plain.len()], plain[..], "RFC 7714 §16.2 decryption");

    let (plain, protected) = (hex(RTCP_PLAIN), hex(vector.rtcp_protected));
    let mut buf = plain.clone();
    buf.resize(plain.len() + 20, 0);
    let len = transform.seal_rtcp(&mut buf, plain.len(), RTCP_SSRC, SRTCP_INDEX);
    assert_eq!(buf[..len], protected[..], "RFC 7714 §17.1 encryption");
    let mut buf = protected.clone();
    assert_eq!(transform.srtcp_trailer(&buf), (true, SRTCP_INDEX));
    assert_eq!(transform.open_rtcp(&mut buf, RTCP_SSRC), Ok(plain.len()));
    assert_eq!(buf[..plain.len()], plain[..], "RFC 7714 §17.2 decryption");

    let mut buf = hex(vector.rtcp_authenticated_only);
    assert_eq!(transform.srtcp_trailer(&buf), (false, SRTCP_INDEX));
    assert_eq!(transform.open_rtcp(&mut buf, RTCP_SSRC), Ok(plain.len()));
    assert_eq!(buf[..plain.len()], plain[..], "RFC 7714 §17.4 verification");
}

#[test]
fn rfc_7714_aead_aes_128_gcm() {
    check_gcm(&AES_128_GCM);
}

#[test]
fn rfc_7714_aead_aes_256_gcm() {
    check_gcm(&AES_256_GCM);
}

#[test]
fn rfc_7714_vectors_fail_when_one_bit_flips() {
    let transform = Transform::gcm(&hex(AES_128_GCM.key), &array(SALT));
    let protected = hex(AES_128_GCM.rtp_protected);
    for bit in [0, 8 * 12, 8 * protected.len() - 1] {
        let mut buf = protected.clone();
        buf[bit / 8] ^= 1 << (bit % 8);
        assert!(
            transform
                .open_rtp(&mut buf, 12, RTP_SSRC, RTP_INDEX)
                .is_err(),
            "{bit}"
        );
    }
    let authenticated = hex(AES_128_GCM.rtcp_authenticated_only);
    for byte in [20, authenticated.len() - 1] {
        let mut buf = authenticated.clone();
        buf[byte] ^= 0x10;
        assert!(transform.open_rtcp(&mut buf, RTCP_SSRC).is_err(), "{byte}");
    }
}
