//! Interop with libsrtp2, the reference implementation: packets it protected must unprotect
//! here, and packets protected here must be byte for byte what it produces.
//!
//! The vectors below were produced by libsrtp 2.5.0 (Debian 12 `libsrtp2-1`, driven through
//! `python3-pylibsrtp` 0.8.0) with this script:
//!
//! ```text
//! import struct, pylibsrtp
//! P = pylibsrtp.Policy
//! PROFILES = [(P.SRTP_PROFILE_AES128_CM_SHA1_80, 30), (P.SRTP_PROFILE_AES128_CM_SHA1_32, 30),
//!             (P.SRTP_PROFILE_AEAD_AES_128_GCM, 28), (P.SRTP_PROFILE_AEAD_AES_256_GCM, 44)]
//! def rtp(seq):
//!     head = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0xCAFEBABE)
//!     if seq == 2:  # one CSRC and a one-word header extension
//!         head = struct.pack("!BBHIII", 0x91, 0, seq, seq * 160, 0xCAFEBABE, 0x01020304)
//!         head += struct.pack("!HHI", 0xBEDE, 1, 0x10AA0000)
//!     return head + bytes((seq + i) & 0xFF for i in range(20))
//! RTCP = bytes.fromhex("80c80006cafebabe" + "00" * 20)
//! for profile, n in PROFILES:
//!     key = bytes((i * 7 + 3) & 0xFF for i in range(n))
//!     s = pylibsrtp.Session(policy=P(key=key, ssrc_type=P.SSRC_ANY_OUTBOUND,
//!                                    srtp_profile=profile))
//!     for seq in (65534, 65535, 0, 1, 2):
//!         print("rtp", seq, s.protect(rtp(seq)).hex())
//!     for _ in range(2):
//!         print("rtcp", s.protect_rtcp(RTCP).hex())
//! ```
//!
//! The sequence numbers cross 65535 -> 0, so the ROC goes from 0 to 1 on both sides. libsrtp
//! numbers SRTCP packets from 1, Herald from 0 (RFC 3711 §3.4); libsrtp was also checked to
//! accept Herald's SRTCP index 0.

use herald_media::srtp::{SdesKey, SrtpSession, SrtpSuite};

struct Vector {
    suite: SrtpSuite,
    key_len: usize,
    rtp: [&'static str; 5],
    rtcp: [&'static str; 2],
}

const SEQUENCES: [u16; 5] = [65534, 65535, 0, 1, 2];

const VECTORS: [Vector; 4] = [
    Vector {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        key_len: 30,
        rtp: [
            "8000fffe009ffec0cafebabe0b34003c70610918ec3473942e59030b13522099d630410f642412ba59fa",
            "8000ffff009fff60cafebabeb25381aa1f83e9ea115837cf437577500e43837506c6b61fdf506a0a3dad",
            "8000000000000000cafebabee8cfa2bbb8be107d193d29be69340fa25b117f851a65dd9c23e7067efdb0",
            "80000001000000a0cafebabe116b476cdffb0bc77542b0991bef34b4690d76069e9f488e07b66779ae30",
            "9100000200000140cafebabe01020304bede000110aa00002f775d5ba5713829a3adddcd52f3b2d27b51892ca8f4cc7cfc7d5016a430",
        ],
        rtcp: [
            "80c80006cafebabe374b5f7d8c73b4c7e55eb9f0f57e5aa7423257d880000001a1e9fe209d8c28560829",
            "80c80006cafebabe82549d37159cadcca4c0c4c9c109fb18bfa2205b80000002f577580882ad156725d7",
        ],
    },
    Vector {
        suite: SrtpSuite::AesCm128HmacSha1_32,
        key_len: 30,
        rtp: [
            "8000fffe009ffec0cafebabe0b34003c70610918ec3473942e59030b13522099d630410f",
            "8000ffff009fff60cafebabeb25381aa1f83e9ea115837cf437577500e43837506c6b61f",
            "8000000000000000cafebabee8cfa2bbb8be107d193d29be69340fa25b117f851a65dd9c",
            "80000001000000a0cafebabe116b476cdffb0bc77542b0991bef34b4690d76069e9f488e",
            "9100000200000140cafebabe01020304bede000110aa00002f775d5ba5713829a3adddcd52f3b2d27b51892ca8f4cc7c",
        ],
        // SRTCP keeps the 80-bit tag with the 32-bit suite (RFC 4568 §6.2.2).
        rtcp: [
            "80c80006cafebabe374b5f7d8c73b4c7e55eb9f0f57e5aa7423257d880000001a1e9fe209d8c28560829",
            "80c80006cafebabe82549d37159cadcca4c0c4c9c109fb18bfa2205b80000002f577580882ad156725d7",
        ],
    },
    Vector {
        suite: SrtpSuite::AeadAes128Gcm,
        key_len: 28,
        rtp: [
            "8000fffe009ffec0cafebabe1b49a20abe16ccec729f9007ac1bb4bdabee69a1ad77a4e016056de2d0856583181cc0b0",
            "8000ffff009fff60cafebabe7c448f47c2e3459256e4322d1e2e5a99eb79688b8625a8dc6f715cd04529c69ddfe3ec59",
            "8000000000000000cafebabe4836f077d847b5d94f5b473abe6e98612a3bd075b21b4225e1c00c23ba86b6c0bc18577f",
            "80000001000000a0cafebabe291b4897189e5ffef52730614f13db06786444ff99de4afdcd0cd7fbd7c993899d97796f",
            "9100000200000140cafebabe01020304bede000110aa0000f339a0a510938e8366550b018de5d3020dfef586a35183eba0aa95c3b6567fe5919c6a8e",
        ],
        rtcp: [
            "80c80006cafebabee57885547d5517ddf611ab47f31affee5d7b4b9f450fdfb11fec673a821d6776e098e7cd80000001",
            "80c80006cafebabe0b3295ff8ebf7ef4a66e6d2e7667d9a7106cc8cc859591b4227c578fbe62ba90f784c1de80000002",
        ],
    },
    Vector {
        suite: SrtpSuite::AeadAes256Gcm,
        key_len: 44,
        rtp: [
            "8000fffe009ffec0cafebabe0372cd5ef15572223079bf43bd6211863001483b1c5b28102e4989ca23bc040ce3786ca2",
            "8000ffff009fff60cafebabe5f7a8f2fef091f2046a69c0e84a0de009633837253e46febeaea826c0926c9f7a13f8fc5",
            "8000000000000000cafebabe98e1672d5f2e8ace0bef1d241be075a2848f4f5e9b108c7ae4ad1196525f42a4991167e1",
            "80000001000000a0cafebabe03d3d97b827ba96a60b638c7d5ca6c1d97d77706477c96537c5a8ecac7d0ab3b65f2275c",
            "9100000200000140cafebabe01020304bede000110aa0000ce1ce59454a6845a40d2ba7e1349b610639b2139d8c1f045337e873b810a50520f1f4ba7",
        ],
        rtcp: [
            "80c80006cafebabe0470422511c9298f5d49aedcbe75e35dbdb6b45d2d73d496f83772baf53dbbb4c32c22ed80000001",
            "80c80006cafebabe8c2effb1d9a1180f279986194277d14b75f0b74a37aa74d21b4d96cb99fb5ada84a09c1b80000002",
        ],
    },
];

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The script's key: `(i * 7 + 3) & 0xff`.
fn session(vector: &Vector) -> SrtpSession {
    let material: Vec<u8> = (0..vector.key_len).map(|i| (i * 7 + 3) as u8).collect();
    let key = SdesKey::new(vector.suite, &material).expect("key length of the suite");
    SrtpSession::new(key.clone(), key).expect("same suite")
}

/// The script's RTP packet for `sequence`.
fn rtp(sequence: u16) -> Vec<u8> {
    let mut packet = vec![0x80, 0];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&(u32::from(sequence) * 160).to_be_bytes());
    packet.extend_from_slice(&0xcafe_babe_u32.to_be_bytes());
    if sequence == 2 {
        packet[0] = 0x91;
        packet.extend_from_slice(&[1, 2, 3, 4, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    }
    packet.extend((0..20).map(|i| (sequence as u8).wrapping_add(i)));
    packet
}

fn rtcp() -> Vec<u8> {
    let mut packet = hex("80c80006cafebabe");
    packet.resize(28, 0);
    packet
}

fn protect(session: &mut SrtpSession, plain: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 20, 0);
    let len = if rtcp {
        session.protect_rtcp(&mut buf, plain.len())
    } else {
        session.protect_rtp(&mut buf, plain.len())
    };
    buf.truncate(len.expect("protects"));
    buf
}

#[test]
fn herald_protects_rtp_exactly_as_libsrtp_across_the_rollover() {
    for vector in &VECTORS {
        let mut herald = session(vector);
        for (sequence, expected) in SEQUENCES.into_iter().zip(vector.rtp) {
            let protected = protect(&mut herald, &rtp(sequence), false);
            assert_eq!(
                protected,
                hex(expected),
                "{:?} seq {sequence}",
                vector.suite
            );
        }
    }
}

#[test]
fn herald_unprotects_what_libsrtp_protected() {
    for vector in &VECTORS {
        let mut herald = session(vector);
        for (sequence, protected) in SEQUENCES.into_iter().zip(vector.rtp) {
            let mut buf = hex(protected);
            let len = herald.unprotect_rtp(&mut buf);
            assert_eq!(
                len,
                Ok(rtp(sequence).len()),
                "{:?} seq {sequence}",
                vector.suite
            );
            assert_eq!(buf[..rtp(sequence).len()], rtp(sequence)[..]);
        }
        for protected in vector.rtcp {
            let mut buf = hex(protected);
            assert_eq!(herald.unprotect_rtcp(&mut buf), Ok(rtcp().len()));
            assert_eq!(buf[..rtcp().len()], rtcp()[..], "{:?}", vector.suite);
        }
    }
}

#[test]
fn herald_srtcp_matches_libsrtp_index_for_index() {
    for vector in &VECTORS {
        let mut herald = session(vector);
        let first = protect(&mut herald, &rtcp(), true);
        let trailer_from_end = match vector.suite {
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 4,
            _ => 14,
        };
        let trailer = &first[first.len() - trailer_from_end..][..4];
        assert_eq!(trailer, [0x80, 0, 0, 0], "E flag set, SRTCP index 0");
        for expected in vector.rtcp {
            assert_eq!(
                protect(&mut herald, &rtcp(), true),
                hex(expected),
                "{:?}",
                vector.suite
            );
        }
    }
}
