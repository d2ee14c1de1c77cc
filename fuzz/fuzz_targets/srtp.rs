//! SRTP and SRTCP with fixed keys: arbitrary bytes unprotected, and protect→unprotect round
//! trips of arbitrary packet sequences.
//!
//! Input layout: the first byte picks the suite. The whole input is then unprotected, as SRTP
//! and as SRTCP, by a fresh session. The same bytes, read by `arbitrary`, then give a list of
//! packets (RTP of one of two SSRCs with a sequence step, CSRCs, a header extension and a
//! payload; or an RTCP report, with a BYE or not) that one session protects and its mirror
//! unprotects, some of them replayed or with one bit flipped on the way.
//!
//! Asserts:
//! * unprotecting arbitrary bytes never panics, fails only with a peer error (never a misuse),
//!   and a failure leaves the session able to unprotect genuine packets;
//! * protecting a well-formed packet succeeds unless it reuses a sequence number, and adds
//!   exactly the suite's overhead;
//! * the mirror session gets the packet back byte for byte; the same protected packet a second
//!   time is refused as a replay; one flipped bit is refused (for tags of 80 bits and more:
//!   a 32-bit tag could be forged by chance) and the genuine packet is still accepted after it.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use herald_media::rtcp::{NtpTimestamp, Report, ReportBlock, SenderInfo};
use herald_media::rtp::{RtpHeader, Ssrc};
use herald_media::srtp::{MisuseError, PeerError, SdesKey, SrtpError, SrtpSession, SrtpSuite};
use herald_sdp::PayloadType;
use libfuzzer_sys::fuzz_target;

/// Room for any packet we build plus its tag and SRTCP trailer.
const BUF: usize = 2048;

#[derive(Arbitrary, Debug)]
enum Packet {
    Rtp {
        second_ssrc: bool,
        sequence_step: SequenceStep,
        marker: bool,
        payload_type: u8,
        timestamp: u32,
        csrcs: u8,
        extension: Option<(u16, u8)>,
        payload: Vec<u8>,
        fate: Fate,
    },
    Rtcp {
        second_ssrc: bool,
        sender: Option<(u64, u32, u32, u32)>,
        blocks: Vec<(u32, u8, i32, u32, u32, u32, u32)>,
        bye: bool,
        fate: Fate,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SequenceStep {
    Next,
    Small(i8),
    Any(u16),
}

/// What happens to the protected packet on the way.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fate {
    Delivered,
    Replayed,
    Flipped(u16),
}

fuzz_target!(|data: &[u8]| {
    let Some(&first) = data.first() else {
        return;
    };
    let suite = SrtpSuite::ALL[usize::from(first) % SrtpSuite::ALL.len()];
    let (ours, theirs) = keys(suite);
    check_garbage(suite, data, &ours, &theirs);
    let mut input = Unstructured::new(&data[1..]);
    let Ok(packets) = Vec::<Packet>::arbitrary(&mut input) else {
        return;
    };
    let mut sender = SrtpSession::new(ours.clone(), theirs.clone()).expect("same suite");
    let mut receiver = SrtpSession::new(theirs, ours).expect("same suite");
    let mut sequences = [0u16, 0x8000];
    for packet in &packets {
        round_trip(suite, &mut sender, &mut receiver, packet, &mut sequences);
    }
});

fn keys(suite: SrtpSuite) -> (SdesKey, SdesKey) {
    let material = |seed: u8| -> Vec<u8> {
        (0..suite.key_material_len())
            .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
            .collect()
    };
    (
        SdesKey::new(suite, &material(1)).expect("right length"),
        SdesKey::new(suite, &material(2)).expect("right length"),
    )
}

fn check_garbage(suite: SrtpSuite, data: &[u8], ours: &SdesKey, theirs: &SdesKey) {
    let mut session = SrtpSession::new(theirs.clone(), ours.clone()).expect("same suite");
    let mut buf = data.to_vec();
    match session.unprotect_rtp(&mut buf) {
        Ok(len) => assert_eq!(len + suite.rtp_overhead(), data.len()),
        Err(error) => assert!(error.is_peer(), "{error:?}"),
    }
    let mut buf = data.to_vec();
    match session.unprotect_rtcp(&mut buf) {
        Ok(len) => assert_eq!(len + suite.rtcp_overhead(), data.len()),
        Err(error) => assert!(error.is_peer(), "{error:?}"),
    }
    // Whatever it was fed, the session still takes a genuine packet.
    let mut peer = SrtpSession::new(ours.clone(), theirs.clone()).expect("same suite");
    let mut out = [0u8; 64];
    let len = rtp_header(9, 7).write(&[1, 2, 3], &mut out).expect("fits");
    let len = peer.protect_rtp(&mut out, len).expect("fresh session");
    assert_eq!(session.unprotect_rtp(&mut out[..len]), Ok(15));
}

fn rtp_header(sequence: u16, ssrc: u32) -> RtpHeader {
    RtpHeader {
        marker: false,
        payload_type: PayloadType::PCMU,
        sequence,
        timestamp: 0,
        ssrc: Ssrc::new(ssrc),
    }
}

fn round_trip(
    suite: SrtpSuite,
    sender: &mut SrtpSession,
    receiver: &mut SrtpSession,
    packet: &Packet,
    sequences: &mut [u16; 2],
) {
    let mut buf = vec![0u8; BUF];
    let (len, fate, rtcp) = match packet {
        Packet::Rtp {
            second_ssrc,
            sequence_step,
            fate,
            ..
        } => {
            let sequence = &mut sequences[usize::from(*second_ssrc)];
            *sequence = match sequence_step {
                SequenceStep::Next => sequence.wrapping_add(1),
                SequenceStep::Small(step) => sequence.wrapping_add_signed(i16::from(*step)),
                SequenceStep::Any(value) => *value,
            };
            let Some(len) = build_rtp(packet, *sequence, &mut buf) else {
                return;
            };
            (len, *fate, false)
        }
        Packet::Rtcp { fate, .. } => (build_rtcp(packet, &mut buf), *fate, true),
    };
    let plain = buf[..len].to_vec();
    let protected = if rtcp {
        sender.protect_rtcp(&mut buf, len)
    } else {
        sender.protect_rtp(&mut buf, len)
    };
    let protected = match protected {
        Ok(protected) => protected,
        // Only a sequence number this SSRC already used (or left behind) is refused.
        Err(SrtpError::Misuse(MisuseError::IndexReused)) if !rtcp => return,
        Err(error) => panic!("protecting a well-formed packet failed: {error:?}"),
    };
    let overhead = if rtcp {
        suite.rtcp_overhead()
    } else {
        suite.rtp_overhead()
    };
    assert_eq!(protected, len + overhead);
    let wire = buf[..protected].to_vec();
    let unprotect = |receiver: &mut SrtpSession, bytes: &[u8]| {
        let mut bytes = bytes.to_vec();
        let result = if rtcp {
            receiver.unprotect_rtcp(&mut bytes)
        } else {
            receiver.unprotect_rtp(&mut bytes)
        };
        result.map(|len| bytes[..len].to_vec())
    };
    if let Fate::Flipped(bit) = fate {
        let tag_bits = 8 * (overhead - if rtcp { 4 } else { 0 });
        let mut flipped = wire.clone();
        let bit = usize::from(bit) % (8 * flipped.len());
        flipped[bit / 8] ^= 1 << (bit % 8);
        let result = unprotect(receiver, &flipped);
        if tag_bits >= 80 {
            assert!(result.is_err(), "a flipped bit went through");
        }
        if result.is_ok() {
            return;
        }
    }
    assert_eq!(unprotect(receiver, &wire), Ok(plain), "round trip");
    if let Fate::Replayed = fate {
        assert_eq!(
            unprotect(receiver, &wire),
            Err(SrtpError::Peer(PeerError::Replayed))
        );
    }
}

/// Writes the RTP packet into `buf`: the fixed header, CSRCs, an extension, the payload.
fn build_rtp(packet: &Packet, sequence: u16, buf: &mut [u8]) -> Option<usize> {
    let Packet::Rtp {
        second_ssrc,
        marker,
        payload_type,
        timestamp,
        csrcs,
        extension,
        payload,
        ..
    } = packet
    else {
        return None;
    };
    let header = RtpHeader {
        marker: *marker,
        payload_type: PayloadType::new(payload_type & 0x7f)?,
        sequence,
        timestamp: *timestamp,
        ssrc: Ssrc::new(if *second_ssrc { 0xb0b } else { 0xa11ce }),
    };
    let mut len = header.write_header(buf).ok()?;
    let csrcs = csrcs % 4;
    buf[0] |= csrcs;
    for i in 0..csrcs {
        buf[len..len + 4].copy_from_slice(&u32::from(i).to_be_bytes());
        len += 4;
    }
    if let Some((profile, words)) = extension {
        buf[0] |= 0x10;
        let words = words % 4;
        buf[len..len + 2].copy_from_slice(&profile.to_be_bytes());
        buf[len + 2..len + 4].copy_from_slice(&u16::from(words).to_be_bytes());
        len += 4 + 4 * usize::from(words);
    }
    let payload = &payload[..payload.len().min(1200)];
    buf[len..len + payload.len()].copy_from_slice(payload);
    Some(len + payload.len())
}

fn build_rtcp(packet: &Packet, buf: &mut [u8]) -> usize {
    let Packet::Rtcp {
        second_ssrc,
        sender,
        blocks,
        bye,
        ..
    } = packet
    else {
        return 0;
    };
    let blocks: Vec<ReportBlock> = blocks
        .iter()
        .take(3)
        .map(
            |&(ssrc, fraction_lost, lost, highest, jitter, last_sr, delay)| ReportBlock {
                ssrc: Ssrc::new(ssrc),
                fraction_lost,
                cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff),
                highest_sequence: highest,
                jitter,
                last_sr,
                delay_since_last_sr: delay,
            },
        )
        .collect();
    let report = Report {
        ssrc: Ssrc::new(if *second_ssrc { 0xb0b } else { 0xa11ce }),
        sender_info: sender.map(
            |(ntp, rtp_timestamp, packet_count, octet_count)| SenderInfo {
                ntp: NtpTimestamp::new(ntp),
                rtp_timestamp,
                packet_count,
                octet_count,
            },
        ),
        blocks: &blocks,
    };
    let written = if *bye {
        report.write_with_bye(b"fuzz@srtp", Some(&b"bye"[..]), buf)
    } else {
        report.write(b"fuzz@srtp", buf)
    };
    written.expect("fits")
}
