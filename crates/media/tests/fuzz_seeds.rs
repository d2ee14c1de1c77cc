//! The committed fuzz seeds (`fuzz/seeds/rtp`, `fuzz/seeds/rtcp`) are what their names say:
//! valid packets of each shape, so the fuzzers start from the interesting side of the parsers.

use std::path::{Path, PathBuf};

use herald_media::rtcp::{Compound, RtcpPacket};
use herald_media::rtp::RtpPacket;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("a directory entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("a seed"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn rtp_seeds_are_valid_rtp() {
    let seeds = seeds("rtp");
    assert!(seeds.len() >= 4);
    for (name, bytes) in seeds {
        let packet = RtpPacket::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!packet.payload().is_empty(), "{name}");
        if name == "csrc_extension_padding" {
            assert_eq!(packet.csrcs().count(), 2);
            assert!(packet.extension().is_some());
            assert_eq!(packet.padding_len(), 4);
        }
    }
}

#[test]
fn rtcp_seeds_are_valid_compounds() {
    let seeds = seeds("rtcp");
    assert!(seeds.len() >= 3);
    for (name, bytes) in seeds {
        let compound = Compound::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let kinds: Vec<&str> = compound
            .packets()
            .map(|p| match p {
                RtcpPacket::SenderReport(_) => "SR",
                RtcpPacket::ReceiverReport(_) => "RR",
                RtcpPacket::SourceDescription(_) => "SDES",
                RtcpPacket::Bye(_) => "BYE",
                RtcpPacket::Other { .. } => "other",
            })
            .collect();
        let want: &[&str] = match name.as_str() {
            "sr_sdes" => &["SR", "SDES"],
            "rr_bye_reason" => &["RR", "BYE"],
            "rr_app_xr" => &["RR", "other", "other"],
            _ => panic!("an unexpected seed {name}"),
        };
        assert_eq!(kinds, want, "{name}");
    }
}
