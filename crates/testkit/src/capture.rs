//! Reading UDP datagrams out of packet captures, for tests that replay real traffic.
//!
//! [`udp_datagrams`] reads a pcap or pcapng file (told apart by its magic number) and returns
//! every UDP datagram in it, in file order, with its addresses and its time since the file's
//! first packet.
//!
//! Handled: link types Ethernet (with 802.1Q / 802.1ad VLAN tags), Linux cooked capture v1
//! (SLL) and v2 (SLL2), raw IP (`RAW`, `IPV4`, `IPV6`) and BSD loopback (`NULL`, `LOOP`); IPv4
//! and IPv6 (skipping hop-by-hop, routing and destination-options headers); pcap with micro-
//! or nanosecond timestamps; pcapng with several interfaces and their `if_tsresol`.
//!
//! Skipped without error: packets that are not UDP over IP, and IP fragments (there is no
//! reassembly). A file cut short in its last packet ends there, as a capture killed mid-write
//! does. Refused: a UDP datagram cut short by the capture's snap length (a test would
//! silently read a partial payload), an unknown link type, a file that is neither format.
//!
//! pcap and pcapng framing is parsed by `pcap-file` 2.0.0, pinned: it reads pcapng packet
//! timestamps as nanoseconds whatever the interface's `if_tsresol` (microseconds unless the
//! file says otherwise), so this module rescales them, which a fixed release would break.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapPacket, PcapParser};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, Endianness, PcapError};
use thiserror::Error;

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedDatagram {
    /// When it was captured, since the first packet of the file (of any kind).
    pub time: Duration,
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Why a capture could not be read.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The capture file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a well-formed pcap or pcapng file.
    #[error("{path} is not a readable pcap or pcapng file: {reason}")]
    Format {
        /// The capture file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A packet uses a link type this reader does not know.
    #[error("{path}: unsupported link type {link_type}")]
    UnsupportedLinkType {
        /// The capture file.
        path: PathBuf,
        /// The link type number (LINKTYPE_*).
        link_type: u32,
    },
    /// A UDP datagram is cut short by the capture's snap length.
    #[error("{path}: packet {index} holds only part of its UDP datagram")]
    Truncated {
        /// The capture file.
        path: PathBuf,
        /// The packet's 0-based index in the file.
        index: usize,
    },
}

/// Every UDP datagram in the pcap or pcapng file at `path`. See the module documentation.
pub fn udp_datagrams(path: &Path) -> Result<Vec<CapturedDatagram>, CaptureError> {
    let data = std::fs::read(path).map_err(|source| CaptureError::Io {
        path: path.to_owned(),
        source,
    })?;
    let frames = if data.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        pcapng_frames(&data)
    } else {
        pcap_frames(&data)
    }
    .map_err(|e| CaptureError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let first = frames.first().map(|f| f.timestamp).unwrap_or_default();
    let mut datagrams = Vec::new();
    for (index, frame) in frames.iter().enumerate() {
        let found = datagram_in(frame.link, &frame.data).map_err(|e| match e {
            FrameError::Truncated => CaptureError::Truncated {
                path: path.to_owned(),
                index,
            },
            FrameError::LinkType(link_type) => CaptureError::UnsupportedLinkType {
                path: path.to_owned(),
                link_type,
            },
        })?;
        if let Some((src, dst, payload)) = found {
            let time = frame.timestamp.saturating_sub(first);
            datagrams.push(CapturedDatagram {
                time,
                src,
                dst,
                payload: payload.to_vec(),
            });
        }
    }
    Ok(datagrams)
}

/// One captured frame: its link type, absolute time and bytes.
struct Frame<'a> {
    link: u32,
    timestamp: Duration,
    data: Cow<'a, [u8]>,
}

fn pcap_frames(data: &[u8]) -> Result<Vec<Frame<'_>>, PcapError> {
    let (mut rest, parser) = PcapParser::new(data)?;
    let link = u32::from(parser.header().datalink);
    let mut frames = Vec::new();
    while !rest.is_empty() {
        match parser.next_packet(rest) {
            Ok((next, packet)) => {
                let PcapPacket {
                    timestamp, data, ..
                } = packet;
                frames.push(Frame {
                    link,
                    timestamp,
                    data,
                });
                rest = next;
            }
            Err(PcapError::IncompleteBuffer) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(frames)
}

fn pcapng_frames(data: &[u8]) -> Result<Vec<Frame<'_>>, PcapError> {
    let (mut rest, mut parser) = PcapNgParser::new(data)?;
    let mut frames = Vec::new();
    let mut last_time = Duration::ZERO;
    while !rest.is_empty() {
        let (next, block) = match parser.next_block(rest) {
            Ok(found) => found,
            Err(PcapError::IncompleteBuffer) => break,
            Err(e) => return Err(e),
        };
        rest = next;
        let little_endian = parser.section().endianness == Endianness::Little;
        let (interface, raw_time, data) = match block {
            Block::EnhancedPacket(p) => (p.interface_id, Some(p.timestamp.as_nanos()), p.data),
            Block::Packet(p) => {
                // The obsolete Packet Block's two timestamp words are read as one u64 in the
                // section's byte order, which swaps them in little-endian files.
                let t = if little_endian {
                    p.timestamp.rotate_left(32)
                } else {
                    p.timestamp
                };
                (u32::from(p.interface_id), Some(u128::from(t)), p.data)
            }
            Block::SimplePacket(p) => (0, None, p.data),
            _ => continue,
        };
        let Some(idb) = parser.interfaces().get(interface as usize) else {
            return Err(PcapError::InvalidInterfaceId(interface));
        };
        if let Some(raw) = raw_time {
            last_time = scale_timestamp(raw, tsresol(&idb.options));
        }
        frames.push(Frame {
            link: u32::from(idb.linktype),
            timestamp: last_time,
            data,
        });
    }
    Ok(frames)
}

/// The interface's `if_tsresol`, 6 (microseconds) when absent.
fn tsresol(options: &[InterfaceDescriptionOption<'_>]) -> u8 {
    options
        .iter()
        .find_map(|o| match o {
            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
            _ => None,
        })
        .unwrap_or(6)
}

/// A pcapng timestamp in units of `tsresol` (10^-n s, or 2^-n s with the top bit set).
fn scale_timestamp(raw: u128, tsresol: u8) -> Duration {
    let exponent = u32::from(tsresol & 0x7f);
    let nanos = if tsresol & 0x80 != 0 {
        raw.saturating_mul(1_000_000_000) >> exponent.min(127)
    } else if exponent <= 9 {
        raw.saturating_mul(10u128.pow(9 - exponent))
    } else {
        raw / 10u128.saturating_pow(exponent - 9)
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Why a frame could not be read.
enum FrameError {
    LinkType(u32),
    Truncated,
}

type Datagram<'a> = (SocketAddr, SocketAddr, &'a [u8]);

/// The UDP datagram in a frame, `None` for anything else.
fn datagram_in(link: u32, frame: &[u8]) -> Result<Option<Datagram<'_>>, FrameError> {
    let ip = match DataLink::from(link) {
        DataLink::ETHERNET => ethernet_payload(frame),
        DataLink::LINUX_SLL => ethertype_payload(be16(frame, 14), frame.get(16..)),
        DataLink::LINUX_SLL2 => ethertype_payload(be16(frame, 0), frame.get(20..)),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(frame),
        DataLink::NULL | DataLink::LOOP => frame.get(4..),
        _ => return Err(FrameError::LinkType(link)),
    };
    match ip {
        Some(ip) => ip_datagram(ip),
        None => Ok(None),
    }
}

/// The IP packet in an Ethernet frame, after any VLAN tags.
fn ethernet_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut offset = 12;
    let mut ethertype = be16(frame, offset)?;
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
        offset += 4;
        ethertype = be16(frame, offset)?;
    }
    ethertype_payload(Some(ethertype), frame.get(offset + 2..))
}

/// `payload` when `ethertype` is IPv4 or IPv6.
fn ethertype_payload(ethertype: Option<u16>, payload: Option<&[u8]>) -> Option<&[u8]> {
    matches!(ethertype?, 0x0800 | 0x86dd).then_some(payload?)
}

fn ip_datagram(ip: &[u8]) -> Result<Option<Datagram<'_>>, FrameError> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4_datagram(ip),
        Some(6) => ipv6_datagram(ip),
        _ => Ok(None),
    }
}

fn ipv4_datagram(ip: &[u8]) -> Result<Option<Datagram<'_>>, FrameError> {
    let Some(header) = ip.first_chunk::<20>() else {
        return Ok(None);
    };
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let fragment = u16::from_be_bytes([header[6], header[7]]) & 0x3fff != 0;
    if header[9] != 17 || fragment || header_len < 20 {
        return Ok(None);
    }
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let src = IpAddr::V4(Ipv4Addr::new(
        header[12], header[13], header[14], header[15],
    ));
    let dst = IpAddr::V4(Ipv4Addr::new(
        header[16], header[17], header[18], header[19],
    ));
    // Ethernet pads short frames: the IP total length says where the packet ends.
    let packet = ip.get(..total.min(ip.len())).unwrap_or(ip);
    udp_datagram(
        src,
        dst,
        packet.get(header_len..).ok_or(FrameError::Truncated)?,
    )
}

fn ipv6_datagram(ip: &[u8]) -> Result<Option<Datagram<'_>>, FrameError> {
    let Some(header) = ip.first_chunk::<40>() else {
        return Ok(None);
    };
    let src: [u8; 16] = header[8..24].try_into().unwrap_or_default();
    let dst: [u8; 16] = header[24..40].try_into().unwrap_or_default();
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let packet = ip.get(..(40 + payload_len).min(ip.len())).unwrap_or(ip);
    let (mut next, mut offset) = (header[6], 40);
    while matches!(next, 0 | 43 | 60) {
        let (Some(&following), Some(&len)) = (packet.get(offset), packet.get(offset + 1)) else {
            return Err(FrameError::Truncated);
        };
        next = following;
        offset += (usize::from(len) + 1) * 8;
    }
    if next != 17 {
        return Ok(None);
    }
    let (src, dst) = (
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
    );
    udp_datagram(src, dst, packet.get(offset..).ok_or(FrameError::Truncated)?)
}

fn udp_datagram(src: IpAddr, dst: IpAddr, udp: &[u8]) -> Result<Option<Datagram<'_>>, FrameError> {
    let Some(header) = udp.first_chunk::<8>() else {
        return Err(FrameError::Truncated);
    };
    let src_port = u16::from_be_bytes([header[0], header[1]]);
    let dst_port = u16::from_be_bytes([header[2], header[3]]);
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let payload = udp.get(8..len.max(8)).ok_or(FrameError::Truncated)?;
    Ok(Some((
        SocketAddr::new(src, src_port),
        SocketAddr::new(dst, dst_port),
        payload,
    )))
}

fn be16(data: &[u8], offset: usize) -> Option<u16> {
    let bytes = data.get(offset..offset + 2)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] = b"\x80\x65\x12\x34hello";

    fn ipv4_udp(fragment: bool) -> Vec<u8> {
        let total = 20 + 8 + PAYLOAD.len();
        let mut ip = vec![0x45, 0, 0, total as u8, 0, 0, 0, 0, 64, 17, 0, 0];
        if fragment {
            ip[6] = 0x20; // more fragments
        }
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&udp(5060, 4000));
        ip
    }

    fn udp(src: u16, dst: u16) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&src.to_be_bytes());
        u.extend_from_slice(&dst.to_be_bytes());
        u.extend_from_slice(&((8 + PAYLOAD.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(PAYLOAD);
        u
    }

    /// IPv6 with a hop-by-hop options header before UDP.
    fn ipv6_udp() -> Vec<u8> {
        let udp = udp(5004, 5006);
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&((8 + udp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 64]);
        ip.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        ip.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        ip.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        ip.extend_from_slice(&udp);
        ip
    }

    fn ethernet(vlans: usize, ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 12];
        for _ in 0..vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a]);
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f.resize(f.len().max(60), 0); // Ethernet padding
        f
    }

    fn sll(ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 14];
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(ip);
        f
    }

    fn sll2(ip: &[u8]) -> Vec<u8> {
        let mut f = 0x86ddu16.to_be_bytes().to_vec();
        f.resize(20, 0);
        f.extend_from_slice(ip);
        f
    }

    /// A little-endian microsecond pcap file; packets at `(seconds, microseconds)`.
    fn pcap(link: u32, packets: &[((u32, u32), Vec<u8>)]) -> Vec<u8> {
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&65535u32.to_le_bytes());
        file.extend_from_slice(&link.to_le_bytes());
        for ((sec, usec), data) in packets {
            for word in [*sec, *usec, data.len() as u32, data.len() as u32] {
                file.extend_from_slice(&word.to_le_bytes());
            }
            file.extend_from_slice(data);
        }
        file
    }

    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    /// A pcapng file with one interface per `(link, tsresol)` and enhanced packet blocks
    /// `(interface, raw timestamp, frame)`.
    fn pcapng(interfaces: &[(u16, Option<u8>)], packets: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
        let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut file = block(0x0a0d0d0a, &shb);
        for &(link, tsresol) in interfaces {
            let mut idb = link.to_le_bytes().to_vec();
            idb.extend_from_slice(&[0, 0]);
            idb.extend_from_slice(&65535u32.to_le_bytes());
            if let Some(r) = tsresol {
                idb.extend_from_slice(&[9, 0, 1, 0, r, 0, 0, 0]);
            }
            idb.extend_from_slice(&[0, 0, 0, 0]);
            file.extend(block(1, &idb));
        }
        for (interface, ts, data) in packets {
            let mut epb = interface.to_le_bytes().to_vec();
            epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(*ts as u32).to_le_bytes());
            epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
            epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
            epb.extend_from_slice(data);
            epb.resize(epb.len().next_multiple_of(4), 0);
            file.extend(block(6, &epb));
        }
        file
    }

    fn read(file: &[u8]) -> Result<Vec<CapturedDatagram>, CaptureError> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("capture");
        std::fs::write(&path, file).expect("writable");
        udp_datagrams(&path)
    }

    #[test]
    fn reads_ethernet_with_vlans_and_skips_what_is_not_udp() {
        let packets = [
            ((100, 0), ethernet(0, 0x0800, &ipv4_udp(false))),
            ((100, 20_000), ethernet(2, 0x0800, &ipv4_udp(false))),
            ((100, 30_000), ethernet(0, 0x0806, &[0; 28])), // ARP
            ((100, 40_000), ethernet(0, 0x0800, &ipv4_udp(true))), // fragment
            ((101, 500), ethernet(1, 0x86dd, &ipv6_udp())),
        ];
        let got = read(&pcap(1, &packets)).unwrap();
        let times: Vec<u128> = got.iter().map(|d| d.time.as_micros()).collect();
        assert_eq!(times, [0, 20_000, 1_000_500]);
        assert!(got.iter().all(|d| d.payload == PAYLOAD));
        assert_eq!(got[0].src, "10.0.0.1:5060".parse().unwrap());
        assert_eq!(got[0].dst, "10.0.0.2:4000".parse().unwrap());
        assert_eq!(got[2].dst, "[::1]:5006".parse().unwrap());
    }

    #[test]
    fn reads_linux_cooked_and_raw_ip() {
        let v4 = read(&pcap(113, &[((1, 0), sll(&ipv4_udp(false)))])).unwrap();
        assert_eq!(v4[0].payload, PAYLOAD);
        let v6 = read(&pcap(276, &[((1, 0), sll2(&ipv6_udp()))])).unwrap();
        assert_eq!(v6[0].src, "[::1]:5004".parse().unwrap());
        let raw = read(&pcap(
            101,
            &[((1, 0), ipv4_udp(false)), ((1, 5), ipv6_udp())],
        ))
        .unwrap();
        assert_eq!(raw.len(), 2);
        assert_eq!(raw[1].time, Duration::from_micros(5));
    }

    #[test]
    fn reads_pcapng_timestamps_at_each_interfaces_resolution() {
        let frame = ethernet(0, 0x0800, &ipv4_udp(false));
        let file = pcapng(
            &[(1, None), (101, Some(9))],
            &[
                (0, 1_000_000, frame.clone()),       // 1 s in microseconds
                (1, 1_250_000_000, ipv4_udp(false)), // 1.25 s in nanoseconds
                (0, 3_000_001, frame),
            ],
        );
        let got = read(&file).unwrap();
        let times: Vec<Duration> = got.iter().map(|d| d.time).collect();
        assert_eq!(
            times,
            [
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_micros(2_000_001)
            ]
        );
    }

    #[test]
    fn refuses_truncated_datagrams_and_unknown_links() {
        let mut cut = ipv4_udp(false);
        cut.truncate(cut.len() - 3);
        assert!(matches!(
            read(&pcap(101, &[((1, 0), cut)])),
            Err(CaptureError::Truncated { index: 0, .. })
        ));
        assert!(matches!(
            read(&pcap(147, &[((1, 0), vec![0; 40])])),
            Err(CaptureError::UnsupportedLinkType { link_type: 147, .. })
        ));
        assert!(matches!(
            read(b"not a capture at all"),
            Err(CaptureError::Format { .. })
        ));
        let missing = udp_datagrams(Path::new("/nonexistent/capture.pcap"));
        assert!(matches!(missing, Err(CaptureError::Io { .. })));
    }

    #[test]
    fn a_file_cut_in_its_last_packet_ends_there() {
        let mut file = pcap(101, &[((1, 0), ipv4_udp(false)), ((2, 0), ipv4_udp(false))]);
        file.truncate(file.len() - 5);
        assert_eq!(read(&file).unwrap().len(), 1);
    }
}
