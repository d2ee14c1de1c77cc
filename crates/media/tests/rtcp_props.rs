//! Property tests for RTCP: parsing never panics, an accepted compound iterates in full, and
//! the compounds we write parse back to what we wrote.

use herald_media::rtcp::{Compound, NtpTimestamp, Report, ReportBlock, RtcpPacket, SenderInfo};
use herald_media::rtp::Ssrc;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Packets in a compound, counted by walking the length fields (no other checks).
fn packets_by_length(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while bytes.len() >= 4 {
        let len = (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])) + 1) * 4;
        bytes = &bytes[len.min(bytes.len())..];
        count += 1;
    }
    count
}

/// One RTCP-looking packet: version 2, a type near the RTCP range, an honest length, and
/// arbitrary contents.
fn rtcp_like_packet() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), 0u8..32, 198u8..210, vec(any::<u32>(), 0..12)).prop_map(
        |(padding, count, packet_type, body)| {
            let mut bytes = vec![0x80 | u8::from(padding) << 5 | count, packet_type];
            bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
            bytes.extend(body.iter().flat_map(|word| word.to_be_bytes()));
            bytes
        },
    )
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (any::<[u32; 6]>(), any::<u8>(), -0x80_0000i32..=0x7f_ffff).prop_map(
        |([ssrc, highest, jitter, lsr, dlsr, _], fraction_lost, cumulative_lost)| ReportBlock {
            ssrc: Ssrc::new(ssrc),
            fraction_lost,
            cumulative_lost,
            highest_sequence: highest,
            jitter,
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        },
    )
}

fn sender_info() -> impl Strategy<Value = SenderInfo> {
    any::<(u64, u32, u32, u32)>().prop_map(|(ntp, rtp_timestamp, packet_count, octet_count)| {
        SenderInfo {
            ntp: NtpTimestamp::new(ntp),
            rtp_timestamp,
            packet_count,
            octet_count,
        }
    })
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in vec(any::<u8>(), 0..300)) {
        if let Ok(compound) = Compound::parse(&bytes) {
            prop_assert_eq!(compound.packets().count(), packets_by_length(&bytes));
        }
    }

    #[test]
    fn parse_never_panics_on_rtcp_like_compounds(packets in vec(rtcp_like_packet(), 1..5)) {
        let bytes = packets.concat();
        if let Ok(compound) = Compound::parse(&bytes) {
            prop_assert_eq!(compound.packets().count(), packets.len());
            for packet in compound.packets() {
                if let RtcpPacket::SourceDescription(sdes) = packet {
                    for chunk in sdes.chunks() {
                        let _ = chunk.items().count();
                    }
                }
            }
        }
    }

    #[test]
    fn written_reports_parse_back(
        ssrc in any::<u32>(),
        info in option::of(sender_info()),
        blocks in vec(report_block(), 0..=31),
        cname in vec(any::<u8>(), 0..=255),
        bye in option::of(option::of(vec(any::<u8>(), 0..=255))),
    ) {
        let report = Report { ssrc: Ssrc::new(ssrc), sender_info: info, blocks: &blocks };
        let mut out = vec![0xa5u8; 1500];
        let len = match &bye {
            None => report.write(&cname, &mut out),
            Some(reason) => report.write_with_bye(&cname, reason.as_deref(), &mut out),
        }
        .expect("fits");
        prop_assert_eq!(len % 4, 0);
        let compound = Compound::parse(&out[..len]).expect("we write valid RTCP");
        let packets: Vec<_> = compound.packets().collect();
        prop_assert_eq!(packets.len(), 2 + usize::from(bye.is_some()));
        let read_blocks: Vec<_> = match (packets[0], info) {
            (RtcpPacket::SenderReport(sr), Some(info)) => {
                prop_assert_eq!((sr.ssrc, sr.sender_info), (report.ssrc, info));
                sr.report_blocks().collect()
            }
            (RtcpPacket::ReceiverReport(rr), None) => {
                prop_assert_eq!(rr.ssrc, report.ssrc);
                rr.report_blocks().collect()
            }
            (other, _) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(&read_blocks, &blocks);
        let RtcpPacket::SourceDescription(sdes) = packets[1] else {
            return Err(TestCaseError::fail(format!("{:?}", packets[1])));
        };
        let chunks: Vec<_> = sdes.chunks().collect();
        prop_assert_eq!(chunks.len(), 1);
        prop_assert_eq!((chunks[0].ssrc, chunks[0].cname()), (report.ssrc, Some(&cname[..])));
        if let Some(reason) = bye {
            let RtcpPacket::Bye(goodbye) = packets[2] else {
                return Err(TestCaseError::fail(format!("{:?}", packets[2])));
            };
            prop_assert_eq!(goodbye.sources().collect::<Vec<_>>(), vec![report.ssrc]);
            prop_assert_eq!(goodbye.reason(), reason.as_deref());
        }
    }
}
