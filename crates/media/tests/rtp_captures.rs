//! Real captures from the conformance folder (asterisk/testsuite RTP pcaps), read with a
//! minimal local pcap reader: every datagram routed by `is_rtcp` either parses or is rejected
//! without a panic (including the RTCP that crashed another server, AST-2017-012), sequence
//! numbers of real streams extend without false loss, and an SSRC change is reported.
//!
//! Skips, with a message, when the conformance folder is absent.

use std::path::{Path, PathBuf};

use herald_media::rtcp::{Compound, RtcpPacket};
use herald_media::rtp::{
    RtpPacket, SequenceOutcome, SourceChange, SourceTracker, Ssrc, TimestampExtender, is_rtcp,
};

/// The RTP captures, or `None` (and a message) when the conformance folder is absent.
fn captures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/rtp-pcaps");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: no conformance captures at {}", dir.display());
        None
    }
}

/// UDP payloads of a classic pcap file (Ethernet or Linux cooked capture, IPv4 or IPv6), in
/// capture order. Panics on files it cannot read: they are fixed test inputs.
fn udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let magic = u32::from_le_bytes(file[..4].try_into().unwrap());
    let swapped = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        _ => panic!("{}: not a classic pcap file", path.display()),
    };
    let u32_at = |at: usize| {
        let word: [u8; 4] = file[at..at + 4].try_into().unwrap();
        if swapped {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        }
    };
    let link_type = u32_at(20);
    let mut payloads = Vec::new();
    let mut at = 24;
    while at + 16 <= file.len() {
        let len = u32_at(at + 8) as usize;
        let frame = &file[at + 16..at + 16 + len];
        payloads.extend(udp_payload(link_type, frame).map(<[u8]>::to_vec));
        at += 16 + len;
    }
    payloads
}

fn udp_payload(link_type: u32, frame: &[u8]) -> Option<&[u8]> {
    let (ether_type, ip) = match link_type {
        1 => (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..]),
        113 => (u16::from_be_bytes([frame[14], frame[15]]), &frame[16..]),
        other => panic!("link type {other} not supported by this little reader"),
    };
    let udp = match ether_type {
        0x0800 if ip[9] == 17 => &ip[usize::from(ip[0] & 0x0f) * 4..],
        0x86dd if ip[6] == 17 => &ip[40..],
        _ => return None,
    };
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    Some(&udp[8..len])
}

/// What routing a datagram came to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Routed {
    rtp: usize,
    rtcp: usize,
    rejected: usize,
}

fn route(datagram: &[u8], routed: &mut Routed) {
    let accepted = if is_rtcp(datagram) {
        let compound = Compound::parse(datagram);
        if let Ok(compound) = compound {
            // Walk everything, as a receiver would.
            for packet in compound.packets() {
                if let RtcpPacket::SourceDescription(sdes) = packet {
                    for chunk in sdes.chunks() {
                        let _ = chunk.items().count();
                    }
                }
            }
            routed.rtcp += 1;
        }
        compound.is_ok()
    } else {
        let packet = RtpPacket::parse(datagram);
        routed.rtp += usize::from(packet.is_ok());
        packet.is_ok()
    };
    routed.rejected += usize::from(!accepted);
}

#[test]
fn the_ast_2017_012_capture_routes_and_parses() {
    let Some(dir) = captures() else { return };
    let datagrams = udp_payloads(&dir.join("ast-2017-012_crash-27382.pcap"));
    let mut routed = Routed::default();
    for datagram in &datagrams {
        route(datagram, &mut routed);
    }
    assert_eq!(
        routed,
        Routed {
            rtp: 274,
            rtcp: 2,
            rejected: 0
        }
    );

    let first_rtcp = datagrams.iter().position(|d| is_rtcp(d)).unwrap();
    let compound = Compound::parse(&datagrams[first_rtcp]).unwrap();
    let packets: Vec<_> = compound.packets().collect();
    assert_eq!(packets.len(), 3, "SR, RR, SDES");
    let RtcpPacket::SenderReport(sr) = packets[0] else {
        panic!("{:?}", packets[0])
    };
    assert_eq!(sr.ssrc, Ssrc::new(0x6a1b_26d7));
    // The SR counts the RTP packets sent before it, 160 bytes of PCMU each.
    assert_eq!(sr.sender_info.packet_count as usize, first_rtcp);
    assert_eq!(
        sr.sender_info.octet_count,
        160 * sr.sender_info.packet_count
    );
    assert_eq!(
        sr.report_blocks().map(|b| b.ssrc).collect::<Vec<_>>(),
        [Ssrc::new(0x197f_4b44)]
    );
    let RtcpPacket::ReceiverReport(rr) = packets[1] else {
        panic!("{:?}", packets[1])
    };
    assert_eq!(rr.report_blocks().len(), 1);
    let RtcpPacket::SourceDescription(sdes) = packets[2] else {
        panic!("{:?}", packets[2])
    };
    assert_eq!(
        sdes.chunks().next().and_then(|c| c.cname()),
        Some(&b"nr"[..])
    );
}

/// Truncations and single-byte changes of the capture's RTCP: parsed or rejected, never a panic.
#[test]
fn mutations_of_the_crash_rtcp_never_panic() {
    let Some(dir) = captures() else { return };
    let datagrams = udp_payloads(&dir.join("ast-2017-012_crash-27382.pcap"));
    let mut routed = Routed::default();
    for datagram in datagrams.iter().filter(|d| is_rtcp(d)) {
        for len in 0..datagram.len() {
            route(&datagram[..len], &mut routed);
        }
        for index in 0..datagram.len() {
            for value in 0..=255 {
                let mut changed = datagram.clone();
                changed[index] = value;
                route(&changed, &mut routed);
            }
        }
    }
    assert!(routed.rejected > 0 && routed.rtcp > 0, "{routed:?}");
}

/// Tracks every datagram of a single-stream capture; returns the outcomes.
fn track(tracker: &mut SourceTracker, datagrams: &[Vec<u8>]) -> Vec<SequenceOutcome> {
    let packets = datagrams.iter().map(|d| RtpPacket::parse(d).expect("RTP"));
    packets
        .map(|packet| tracker.track(&packet).sequence)
        .collect()
}

#[test]
fn real_streams_extend_without_false_loss() {
    let Some(dir) = captures() else { return };
    let files = [
        ("ast-2017-012_crash-27382.pcap", 274u64),
        ("dtmf_sdp_recognition_ulaw-2013785496.pcap", 974),
        ("dtmf_sdp_recognition_ulaw-3125894607.pcap", 922),
        ("rtp_ptime_40msalaw.pcap", 826),
        ("rfc2833_dtmf_detect_dtmf_2833_1_noend.pcap", 7),
    ];
    for (file, count) in files {
        let rtp: Vec<_> = udp_payloads(&dir.join(file))
            .into_iter()
            .filter(|d| !is_rtcp(d))
            .collect();
        assert_eq!(rtp.len() as u64, count, "{file}");
        let mut tracker = SourceTracker::new(1);
        let outcomes = track(&mut tracker, &rtp);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, SequenceOutcome::Next { .. })),
            "{file}"
        );
        let sequence = tracker.sequence().unwrap();
        assert_eq!(
            (sequence.expected(), sequence.received()),
            (count, count),
            "{file}"
        );
    }
}

#[test]
fn the_broken_dtmf_capture_shows_its_gaps_as_loss() {
    let Some(dir) = captures() else { return };
    let rtp = udp_payloads(&dir.join("rfc2833_dtmf_detect_broken_dtmf.pcap"));
    let mut tracker = SourceTracker::new(1);
    let outcomes = track(&mut tracker, &rtp);
    assert!(outcomes.iter().all(|o| o.is_accepted()));
    let sequence = tracker.sequence().unwrap();
    // Sequence numbers 8314..=8381 with 28 of them present.
    assert_eq!((sequence.expected(), sequence.received()), (68, 28));
}

#[test]
fn forty_millisecond_alaw_advances_320_timestamp_units_a_packet() {
    let Some(dir) = captures() else { return };
    let mut extender = TimestampExtender::new();
    let timestamps: Vec<u64> = udp_payloads(&dir.join("rtp_ptime_40msalaw.pcap"))
        .iter()
        .map(|d| extender.extend(RtpPacket::parse(d).expect("RTP").timestamp()))
        .collect();
    assert!(timestamps.windows(2).all(|w| w[1] - w[0] == 320));
}

#[test]
fn the_ssrc_change_capture_is_reported() {
    let Some(dir) = captures() else { return };
    let mut datagrams = udp_payloads(&dir.join("ssrc_change_ssrc1.pcap"));
    datagrams.extend(udp_payloads(&dir.join("ssrc_change_ssrc2.pcap")));
    let packets: Vec<_> = datagrams
        .iter()
        .map(|d| RtpPacket::parse(d).expect("RTP"))
        .collect();
    let (old, new) = (Ssrc::new(0x0027_3aab), Ssrc::new(0x0014_71b8));

    let mut eager = SourceTracker::new(1);
    let changes: Vec<_> = packets
        .iter()
        .map(|p| eager.track(p).source_change)
        .collect();
    let first = SourceChange {
        previous: None,
        current: old,
    };
    let second = SourceChange {
        previous: Some(old),
        current: new,
    };
    assert_eq!(changes, [Some(first), Some(second), None]);

    // With RFC 3550's probation the lone packet of the first source never counts.
    let mut careful = SourceTracker::default();
    let arrivals: Vec<_> = packets.iter().map(|p| careful.track(p)).collect();
    let only = SourceChange {
        previous: None,
        current: new,
    };
    assert_eq!(
        arrivals.iter().map(|a| a.source_change).collect::<Vec<_>>(),
        [None, None, Some(only)]
    );
    assert_eq!(
        arrivals[2].sequence,
        SequenceOutcome::Next {
            extended: 1 << 16 | 1
        }
    );
}
