//! Compound RTCP read from bytes laid out by hand after RFC 3550 §6.4-6.7, and the malformed
//! shapes that must be rejected.

use herald_media::rtcp::{
    Compound, NtpTimestamp, Report, ReportBlock, RtcpError, RtcpPacket, SenderInfo,
};
use herald_media::rtp::Ssrc;

/// A common header: version 2, the P bit, the count, the type, and the total length in bytes.
fn header(padding: bool, count: u8, packet_type: u8, len: usize) -> Vec<u8> {
    let words = (len / 4 - 1) as u16;
    let mut bytes = vec![0x80 | u8::from(padding) << 5 | count, packet_type];
    bytes.extend_from_slice(&words.to_be_bytes());
    bytes
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// An SR from 0x11111111 with one block about 0x22222222.
fn sender_report() -> Vec<u8> {
    let mut bytes = header(false, 1, 200, 52);
    bytes.extend(words(&[
        0x1111_1111,
        0xe6a4_d1c9,
        0x8000_0000,
        160_000,
        500,
        80_000,
    ]));
    bytes.extend(words(&[
        0x2222_2222,
        0x10ff_fffe,
        0x0001_0203,
        37,
        0xd1c9_8000,
        0x0002_0000,
    ]));
    bytes
}

/// SDES with a CNAME chunk for 0x11111111.
fn sdes_cname() -> Vec<u8> {
    let mut bytes = header(false, 1, 202, 20);
    bytes.extend(words(&[0x1111_1111]));
    bytes.extend_from_slice(&[1, 7, b'a', b'l', b'i', b'c', b'e', b'@', b'h', 0, 0, 0]);
    bytes
}

/// BYE for 0x11111111 with reason "hangup".
fn bye() -> Vec<u8> {
    let mut bytes = header(false, 1, 203, 16);
    bytes.extend(words(&[0x1111_1111]));
    bytes.extend_from_slice(&[6, b'h', b'a', b'n', b'g', b'u', b'p', 0]);
    bytes
}

fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn reads_sr_sdes_bye() {
    let datagram = concat(&[sender_report(), sdes_cname(), bye()]);
    let compound = Compound::parse(&datagram).unwrap();
    let packets: Vec<_> = compound.packets().collect();
    assert_eq!(packets.len(), 3);

    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("{:?}", packets[0])
    };
    assert_eq!(sr.ssrc, Ssrc::new(0x1111_1111));
    let info = SenderInfo {
        ntp: NtpTimestamp::new(0xe6a4_d1c9_8000_0000),
        rtp_timestamp: 160_000,
        packet_count: 500,
        octet_count: 80_000,
    };
    assert_eq!(sr.sender_info, info);
    let blocks: Vec<_> = sr.report_blocks().collect();
    let block = ReportBlock {
        ssrc: Ssrc::new(0x2222_2222),
        fraction_lost: 0x10,
        cumulative_lost: -2,
        highest_sequence: 0x0001_0203,
        jitter: 37,
        last_sr: 0xd1c9_8000,
        delay_since_last_sr: 0x0002_0000,
    };
    assert_eq!(blocks, [block]);
    assert!(sr.profile_extension().is_empty());

    let RtcpPacket::SourceDescription(sdes) = packets[1] else {
        panic!("{:?}", packets[1])
    };
    let chunk = sdes.chunks().next().unwrap();
    assert_eq!(
        (chunk.ssrc, chunk.cname()),
        (Ssrc::new(0x1111_1111), Some(&b"alice@h"[..]))
    );

    let RtcpPacket::Bye(goodbye) = packets[2] else {
        panic!("{:?}", packets[2])
    };
    assert_eq!(
        goodbye.sources().collect::<Vec<_>>(),
        [Ssrc::new(0x1111_1111)]
    );
    assert_eq!(goodbye.reason(), Some(&b"hangup"[..]));
}

#[test]
fn reads_an_empty_rr_and_passes_app_and_xr_through() {
    let mut rr = header(false, 0, 201, 8);
    rr.extend(words(&[0x3333_3333]));
    let mut app = header(false, 3, 204, 16);
    app.extend(words(&[0x3333_3333]));
    app.extend_from_slice(b"HRLDdata");
    let mut xr = header(false, 0, 207, 12);
    xr.extend(words(&[0x3333_3333, 0x0400_0002]));
    let datagram = concat(&[rr, app, xr]);
    let packets: Vec<_> = Compound::parse(&datagram).unwrap().packets().collect();
    let RtcpPacket::ReceiverReport(rr) = packets[0] else {
        panic!("{:?}", packets[0])
    };
    assert_eq!(
        (rr.ssrc, rr.report_blocks().len()),
        (Ssrc::new(0x3333_3333), 0)
    );
    assert!(
        matches!(packets[1], RtcpPacket::Other { packet_type: 204, count: 3, body } if body.len() == 12)
    );
    assert!(matches!(
        packets[2],
        RtcpPacket::Other {
            packet_type: 207,
            ..
        }
    ));
    assert_eq!(packets.len(), 3);
}

#[test]
fn padding_on_the_last_packet_is_stripped() {
    let mut padded_bye = header(true, 1, 203, 12);
    padded_bye.extend(words(&[0x1111_1111]));
    padded_bye.extend_from_slice(&[0, 0, 0, 4]);
    let datagram = concat(&[sender_report(), padded_bye]);
    let packets: Vec<_> = Compound::parse(&datagram).unwrap().packets().collect();
    let RtcpPacket::Bye(goodbye) = packets[1] else {
        panic!("{:?}", packets[1])
    };
    assert_eq!(goodbye.reason(), None);
}

#[test]
fn leniently_accepts_a_compound_starting_with_bye_or_sdes() {
    assert!(Compound::parse(&bye()).is_ok());
    assert!(Compound::parse(&concat(&[sdes_cname(), bye()])).is_ok());
}

#[test]
fn rejects_malformed_compounds() {
    let good = concat(&[sender_report(), sdes_cname()]);
    let cases: Vec<(&str, Vec<u8>, RtcpError)> = vec![
        ("empty", vec![], RtcpError::TooShort(0)),
        ("one byte", vec![0x80], RtcpError::TooShort(1)),
        ("version 1", with(&good, 0, 0x41), RtcpError::Version(1)),
        (
            "version 1 later",
            with(&good, 52, 0x41),
            RtcpError::Version(1),
        ),
        (
            "length past the end",
            with(&good, 3, 0xff),
            RtcpError::LengthBeyondDatagram {
                declared: 1024,
                available: 72,
            },
        ),
        (
            "truncated",
            good[..70].to_vec(),
            RtcpError::LengthBeyondDatagram {
                declared: 20,
                available: 18,
            },
        ),
        (
            "trailing bytes",
            concat(&[good.clone(), vec![0x80, 201]]),
            RtcpError::TooShort(2),
        ),
        (
            "starts with APP",
            with(&good, 1, 204),
            RtcpError::FirstPacket(204),
        ),
        (
            "starts with RTP",
            with(&good, 1, 0x00),
            RtcpError::FirstPacket(0),
        ),
        ("padding not last", with(&good, 0, 0xa1), RtcpError::Padding),
        (
            "padding zero",
            with(&with(&good, 52, 0xa1), 71, 0),
            RtcpError::Padding,
        ),
        (
            "padding into header",
            with(&with(&good, 52, 0xa1), 71, 17),
            RtcpError::Padding,
        ),
        (
            "blocks past the SR",
            with(&good, 0, 0x82),
            RtcpError::BodyTooShort { packet_type: 200 },
        ),
        (
            "SDES item too long",
            with(&good, 61, 30),
            RtcpError::Malformed { packet_type: 202 },
        ),
        (
            "SDES chunk missing",
            with(&good, 52, 0x82),
            RtcpError::Malformed { packet_type: 202 },
        ),
    ];
    for (name, bytes, error) in cases {
        assert_eq!(Compound::parse(&bytes), Err(error), "{name}");
    }
}

#[test]
fn what_we_write_reads_back() {
    let block = ReportBlock {
        ssrc: Ssrc::new(5),
        fraction_lost: 3,
        cumulative_lost: 1000,
        highest_sequence: 77,
        jitter: 4,
        last_sr: 9,
        delay_since_last_sr: 10,
    };
    let info = SenderInfo {
        ntp: NtpTimestamp::new(1 << 40),
        rtp_timestamp: 3,
        packet_count: 2,
        octet_count: 320,
    };
    let report = Report {
        ssrc: Ssrc::new(4),
        sender_info: Some(info),
        blocks: &[block],
    };
    let mut out = [0u8; 200];
    let len = report
        .write_with_bye(b"herald", Some(b"done"), &mut out)
        .unwrap();
    let packets: Vec<_> = Compound::parse(&out[..len]).unwrap().packets().collect();
    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("{:?}", packets[0])
    };
    assert_eq!((sr.ssrc, sr.sender_info), (Ssrc::new(4), info));
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), [block]);
    let RtcpPacket::SourceDescription(sdes) = packets[1] else {
        panic!("{:?}", packets[1])
    };
    assert_eq!(sdes.chunks().next().unwrap().cname(), Some(&b"herald"[..]));
    let RtcpPacket::Bye(goodbye) = packets[2] else {
        panic!("{:?}", packets[2])
    };
    assert_eq!(goodbye.reason(), Some(&b"done"[..]));
}

/// `bytes` with the byte at `index` replaced.
fn with(bytes: &[u8], index: usize, value: u8) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    changed[index] = value;
    changed
}
