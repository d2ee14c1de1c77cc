//! `SrtpSession` behaviour between two endpoints: round trips in both directions for every
//! suite, tampering, replay, ROC rollover, reordering, several SSRCs, and misuse.

use herald_media::srtp::{MisuseError, PeerError, SdesKey, SrtpError, SrtpSession, SrtpSuite};
use proptest::prelude::*;

/// Two ends of one call: `alice` sends with key A and receives with key B, `bob` the reverse.
fn pair(suite: SrtpSuite) -> (SrtpSession, SrtpSession) {
    let len = suite.key_material_len();
    let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let b: Vec<u8> = (0..len).map(|i| 0xff - i as u8).collect();
    let key = |bytes: &[u8]| SdesKey::new(suite, bytes).expect("suite length");
    let alice = SrtpSession::new(key(&a), key(&b)).expect("same suite");
    let bob = SrtpSession::new(key(&b), key(&a)).expect("same suite");
    (alice, bob)
}

fn rtp(ssrc: u32, sequence: u16) -> Vec<u8> {
    let mut packet = vec![0x80, 8];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&(u32::from(sequence) * 160).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend((0..160).map(|i| (i as u8) ^ (sequence as u8)));
    packet
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut packet = vec![0x80, 201, 0, 1];
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(b"receiver report body");
    packet
}

/// Protects a copy of `plain`, in a buffer with room for the suite's overhead.
fn protect_rtp(session: &mut SrtpSession, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + session.suite().rtp_overhead(), 0);
    let len = session
        .protect_rtp(&mut buf, plain.len())
        .expect("protects");
    assert_eq!(len, buf.len());
    buf
}

fn protect_rtcp(session: &mut SrtpSession, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + session.suite().rtcp_overhead(), 0);
    let len = session
        .protect_rtcp(&mut buf, plain.len())
        .expect("protects");
    assert_eq!(len, buf.len());
    buf
}

/// Unprotects a copy of `protected`; the plaintext on success.
fn unprotect_rtp(session: &mut SrtpSession, protected: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = protected.to_vec();
    let len = session.unprotect_rtp(&mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

fn unprotect_rtcp(session: &mut SrtpSession, protected: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = protected.to_vec();
    let len = session.unprotect_rtcp(&mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

const PEER_AUTH: SrtpError = SrtpError::Peer(PeerError::AuthenticationFailed);
const PEER_REPLAY: SrtpError = SrtpError::Peer(PeerError::Replayed);

#[test]
fn every_suite_round_trips_rtp_and_rtcp_in_both_directions() {
    for suite in SrtpSuite::ALL {
        let (alice, bob) = pair(suite);
        let mut ends = [alice, bob];
        for (from, ssrc) in [(0, 1), (1, 2)] {
            let [sender, receiver] = &mut ends;
            let (from, to) = if from == 0 {
                (sender, receiver)
            } else {
                (receiver, sender)
            };
            let plain = rtp(ssrc, 7);
            let protected = protect_rtp(from, &plain);
            assert_eq!(
                protected[..12],
                plain[..12],
                "{suite}: the header stays clear"
            );
            assert_ne!(
                protected[12..172],
                plain[12..],
                "{suite}: the payload is encrypted"
            );
            assert_eq!(unprotect_rtp(to, &protected), Ok(plain), "{suite}");

            let plain = rtcp(ssrc);
            let protected = protect_rtcp(from, &plain);
            assert_eq!(
                protected[..8],
                plain[..8],
                "{suite}: the RTCP header stays clear"
            );
            assert_ne!(
                protected[8..plain.len()],
                plain[8..],
                "{suite}: RTCP is encrypted"
            );
            assert_eq!(unprotect_rtcp(to, &protected), Ok(plain), "{suite}");
        }
    }
}

#[test]
fn the_other_direction_key_does_not_open_a_packet() {
    for suite in SrtpSuite::ALL {
        let (mut alice, _) = pair(suite);
        let protected = protect_rtp(&mut alice, &rtp(1, 1));
        assert_eq!(
            unprotect_rtp(&mut alice, &protected),
            Err(PEER_AUTH),
            "{suite}"
        );
        let protected = protect_rtcp(&mut alice, &rtcp(1));
        assert_eq!(
            unprotect_rtcp(&mut alice, &protected),
            Err(PEER_AUTH),
            "{suite}"
        );
    }
}

#[test]
fn one_flipped_bit_anywhere_after_the_header_fails_authentication_and_changes_nothing() {
    for suite in SrtpSuite::ALL {
        let (mut alice, mut bob) = pair(suite);
        let protected = protect_rtp(&mut alice, &rtp(9, 100));
        for bit in (12 * 8..protected.len() * 8)
            .step_by(7)
            .chain([protected.len() * 8 - 1])
        {
            let mut tampered = protected.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                unprotect_rtp(&mut bob, &tampered),
                Err(PEER_AUTH),
                "{suite} bit {bit}"
            );
        }
        for bit in 0..12 * 8 {
            let mut tampered = protected.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            let result = unprotect_rtp(&mut bob, &tampered);
            assert!(
                matches!(result, Err(SrtpError::Peer(_))),
                "{suite} header bit {bit}"
            );
        }
        assert_eq!(
            unprotect_rtp(&mut bob, &protected),
            Ok(rtp(9, 100)),
            "{suite}"
        );

        let protected = protect_rtcp(&mut alice, &rtcp(9));
        for bit in (8 * 8..protected.len() * 8).step_by(5) {
            let mut tampered = protected.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            assert!(
                unprotect_rtcp(&mut bob, &tampered).is_err(),
                "{suite} RTCP bit {bit}"
            );
        }
        assert_eq!(unprotect_rtcp(&mut bob, &protected), Ok(rtcp(9)), "{suite}");
    }
}

#[test]
fn a_packet_received_twice_is_a_replay() {
    for suite in SrtpSuite::ALL {
        let (mut alice, mut bob) = pair(suite);
        let first = protect_rtp(&mut alice, &rtp(5, 1));
        let second = protect_rtp(&mut alice, &rtp(5, 2));
        assert!(unprotect_rtp(&mut bob, &first).is_ok());
        assert!(unprotect_rtp(&mut bob, &second).is_ok());
        assert_eq!(unprotect_rtp(&mut bob, &first), Err(PEER_REPLAY), "{suite}");
        assert_eq!(
            unprotect_rtp(&mut bob, &second),
            Err(PEER_REPLAY),
            "{suite}"
        );

        let report = protect_rtcp(&mut alice, &rtcp(5));
        assert!(unprotect_rtcp(&mut bob, &report).is_ok());
        assert_eq!(
            unprotect_rtcp(&mut bob, &report),
            Err(PEER_REPLAY),
            "{suite}"
        );
        assert!(SrtpError::from(PeerError::Replayed).is_peer());
    }
}

#[test]
fn sequence_numbers_wrapping_past_65535_keep_decrypting() {
    for suite in SrtpSuite::ALL {
        for lost_around_the_wrap in [0..0, 100..200, 130..137] {
            let (mut alice, mut bob) = pair(suite);
            // 400 packets from 65400: the wrap to 0 comes at the 137th.
            for n in 0u16..400 {
                let sequence = n.wrapping_add(65_400);
                let protected = protect_rtp(&mut alice, &rtp(3, sequence));
                if lost_around_the_wrap.contains(&n) || n % 7 == 3 {
                    continue;
                }
                let opened = unprotect_rtp(&mut bob, &protected);
                assert_eq!(opened, Ok(rtp(3, sequence)), "{suite} n={n}");
            }
        }
    }
}

#[test]
fn reordered_packets_within_the_window_are_accepted_and_older_ones_are_not() {
    for suite in SrtpSuite::ALL {
        let (mut alice, mut bob) = pair(suite);
        // Sequence numbers straddle a wrap so that reordering also crosses the ROC change.
        let packets: Vec<(u16, Vec<u8>)> = (0..300u16)
            .map(|i| i.wrapping_add(65_400))
            .map(|seq| (seq, protect_rtp(&mut alice, &rtp(4, seq))))
            .collect();
        let mut order: Vec<usize> = Vec::new();
        for chunk in (0..packets.len()).collect::<Vec<_>>().chunks(60) {
            order.extend(chunk.iter().rev());
        }
        for i in order {
            let (seq, protected) = &packets[i];
            let opened = unprotect_rtp(&mut bob, protected);
            assert_eq!(opened, Ok(rtp(4, *seq)), "{suite} packet {i}");
        }
        let late = protect_rtp(&mut alice, &rtp(4, 65_400u16.wrapping_add(500)));
        assert!(unprotect_rtp(&mut bob, &late).is_ok());
        let mut unsent = pair(suite).0;
        let too_old = protect_rtp(&mut unsent, &rtp(4, 65_400u16.wrapping_add(300)));
        let error = SrtpError::Peer(PeerError::TooOld);
        assert_eq!(unprotect_rtp(&mut bob, &too_old), Err(error), "{suite}");
    }
}

#[test]
fn up_to_four_interleaved_ssrcs_keep_their_own_rollover_counters() {
    let (mut alice, mut bob) = pair(SrtpSuite::AesCm128HmacSha1_80);
    for round in 0u32..40 {
        for ssrc in 1..=4u32 {
            let seq = ((ssrc * 16_000 + round * 2_000) % 65_536) as u16;
            let opened = unprotect_rtp(&mut bob, &protect_rtp(&mut alice, &rtp(ssrc, seq)));
            assert_eq!(opened, Ok(rtp(ssrc, seq)), "round {round} ssrc {ssrc}");
            let report = protect_rtcp(&mut alice, &rtcp(ssrc));
            assert_eq!(unprotect_rtcp(&mut bob, &report), Ok(rtcp(ssrc)));
        }
    }
}

#[test]
fn protecting_a_sequence_number_twice_is_refused_to_avoid_keystream_reuse() {
    let (mut alice, _) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let _ = protect_rtp(&mut alice, &rtp(1, 10));
    let _ = protect_rtp(&mut alice, &rtp(1, 11));
    let mut buf = rtp(1, 10);
    buf.resize(buf.len() + 10, 0);
    let len = buf.len() - 10;
    let reused = SrtpError::Misuse(MisuseError::IndexReused);
    assert_eq!(alice.protect_rtp(&mut buf, len), Err(reused));
    assert_eq!(buf[..len], rtp(1, 10)[..], "the buffer is untouched");
    assert!(!reused.is_peer());
}

#[test]
fn misuse_is_reported_without_touching_the_buffer_or_the_state() {
    let (mut alice, mut bob) = pair(SrtpSuite::AeadAes256Gcm);
    let plain = rtp(1, 1);
    let mut exact = plain.clone();
    let error = alice.protect_rtp(&mut exact, plain.len());
    let needed = plain.len() + 16;
    let capacity = plain.len();
    let too_small = SrtpError::Misuse(MisuseError::BufferTooSmall { needed, capacity });
    assert_eq!(error, Err(too_small));
    assert_eq!(exact, plain);
    let out_of_bounds = MisuseError::LengthOutOfBounds { len: 999, capacity };
    assert_eq!(
        alice.protect_rtp(&mut exact, 999),
        Err(out_of_bounds.into())
    );
    let mut not_rtp = vec![0u8; 64];
    assert_eq!(
        alice.protect_rtp(&mut not_rtp, 20),
        Err(MisuseError::NotRtp.into())
    );
    assert_eq!(
        alice.protect_rtcp(&mut not_rtp, 4),
        Err(MisuseError::NotRtcp.into())
    );
    // The failed calls consumed no sequence number: the same packet still protects.
    let protected = protect_rtp(&mut alice, &plain);
    assert_eq!(unprotect_rtp(&mut bob, &protected), Ok(plain));
}

#[test]
fn replacing_the_remote_key_keeps_what_we_send_going() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (mut alice, mut bob) = pair(suite);
    for seq in 65_530..=65_535 {
        let opened = unprotect_rtp(&mut bob, &protect_rtp(&mut alice, &rtp(1, seq)));
        assert_eq!(opened, Ok(rtp(1, seq)));
    }
    // Bob re-keys with a re-INVITE; Alice keeps her key, her ROC and Bob's context for it.
    let new_bob_key = SdesKey::new(suite, &[0x42; 30]).expect("30 bytes");
    let alice_key = SdesKey::new(suite, &(0..30).collect::<Vec<u8>>()).expect("30 bytes");
    alice
        .replace_remote_key(new_bob_key.clone())
        .expect("same suite");
    let mut new_bob = SrtpSession::new(new_bob_key, alice_key).expect("same suite");
    let from_bob = protect_rtp(&mut new_bob, &rtp(2, 1));
    assert_eq!(unprotect_rtp(&mut alice, &from_bob), Ok(rtp(2, 1)));
    // Alice's sequence numbers wrap on: the old receiving context still follows them.
    for seq in 0..5 {
        let opened = unprotect_rtp(&mut bob, &protect_rtp(&mut alice, &rtp(1, seq)));
        assert_eq!(opened, Ok(rtp(1, seq)));
    }
    let wrong_suite = SdesKey::new(SrtpSuite::AeadAes128Gcm, &[1; 28]).expect("28 bytes");
    assert!(alice.replace_remote_key(wrong_suite).is_err());
}

#[test]
fn mismatched_suites_are_refused() {
    let ours = SdesKey::new(SrtpSuite::AesCm128HmacSha1_80, &[1; 30]).expect("30");
    let theirs = SdesKey::new(SrtpSuite::AesCm128HmacSha1_32, &[1; 30]).expect("30");
    assert!(SrtpSession::new(ours, theirs).is_err());
}

#[test]
fn short_and_foreign_packets_are_malformed() {
    let (_, mut bob) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let malformed = Err(SrtpError::Peer(PeerError::Malformed));
    for packet in [&[][..], &[0x80; 12], &[0x80; 21], &[0x00; 40]] {
        assert_eq!(unprotect_rtp(&mut bob, packet), malformed, "{packet:?}");
    }
    for packet in [&[][..], &[0x80; 21], &[0x00; 40]] {
        assert_eq!(unprotect_rtcp(&mut bob, packet), malformed, "{packet:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_unprotect_and_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        suite in proptest::sample::select(SrtpSuite::ALL.to_vec()),
    ) {
        let (_, mut bob) = pair(suite);
        let mut packet = bytes.clone();
        prop_assert!(bob.unprotect_rtp(&mut packet).is_err_and(|e| e.is_peer()));
        let mut packet = bytes;
        prop_assert!(bob.unprotect_rtcp(&mut packet).is_err_and(|e| e.is_peer()));
    }

    #[test]
    fn any_rtp_packet_round_trips(
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        sequence in any::<u16>(),
        ssrc in any::<u32>(),
        suite in proptest::sample::select(SrtpSuite::ALL.to_vec()),
    ) {
        let (mut alice, mut bob) = pair(suite);
        let mut plain = rtp(ssrc, sequence);
        plain.truncate(12);
        plain.extend_from_slice(&payload);
        let protected = protect_rtp(&mut alice, &plain);
        prop_assert_eq!(unprotect_rtp(&mut bob, &protected), Ok(plain));
    }
}
