//! Offers as real devices send them (written for these tests after the shape of AudioCodes,
//! Polycom, Linphone and SIPp traffic), parsed and answered with the default policy.

use std::net::SocketAddr;

use herald_sdp::{
    AnswerPolicy, Attribute, Codec, Direction, LocalMedia, NotAcceptableReason, OfferAnswerError,
    PayloadType, SessionDescription, TelephoneEvent, answer,
};

const AUDIOCODES_440HD: &str = "v=0\r
o=AudiocodesGW 1931286820 1931286579 IN IP4 10.10.1.50\r
s=Phone-Call\r
c=IN IP4 10.10.1.50\r
t=0 0\r
m=audio 6010 RTP/AVP 9 8 0 18 101\r
c=IN IP4 10.10.1.50\r
a=rtpmap:9 G722/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:18 G729/8000\r
a=fmtp:18 annexb=no\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=ptime:20\r
a=sendrecv\r
a=rtcp:6011 IN IP4 10.10.1.50\r
";

/// LF-only, session-level direction, a dynamic G.722.1 the server does not know.
const POLYCOM_VVX: &str = "v=0
o=- 1710252150 1710252150 IN IP4 192.168.1.120
s=Polycom IP Phone
c=IN IP4 192.168.1.120
t=0 0
a=sendrecv
m=audio 2222 RTP/AVP 9 102 0 8 18 127
a=rtpmap:9 G722/8000
a=rtpmap:102 G7221/16000
a=fmtp:102 bitrate=32000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:127 telephone-event/8000
";

const POLYCOM_SRTP_ONLY: &str = "v=0
o=- 1710252151 1710252151 IN IP4 192.168.1.120
s=Polycom IP Phone
c=IN IP4 192.168.1.120
t=0 0
m=audio 2226 RTP/SAVP 9 0 8 127
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:127 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^31
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^31
a=sendrecv
";

const LINPHONE_OPUS_AND_VIDEO: &str = "v=0\r
o=alice 3049 1557 IN IP4 192.168.0.23\r
s=Talk\r
c=IN IP4 192.168.0.23\r
t=0 0\r
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r
a=rtpmap:96 opus/48000/2\r
a=fmtp:96 useinbandfec=1\r
a=rtpmap:97 SILK/16000\r
a=rtpmap:98 speex/16000\r
a=fmtp:98 vbr=on\r
a=fmtp:18 annexb=yes\r
a=rtpmap:101 telephone-event/48000\r
a=rtpmap:99 telephone-event/16000\r
a=rtpmap:100 telephone-event/8000\r
a=rtcp-mux\r
a=rtcp-fb:* trr-int 1000\r
m=video 9078 RTP/AVP 96 97\r
b=AS:512\r
a=rtpmap:96 VP8/90000\r
a=rtpmap:97 H264/90000\r
a=fmtp:97 profile-level-id=42801F\r
a=rtcp-fb:* ccm fir\r
";

const SIPP_UAC: &str = "v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

const TRUNK_IPV6: &str = "v=0\r
o=- 20518 0 IN IP6 2001:db8::10\r
s=SBC\r
c=IN IP6 2001:db8::10\r
b=AS:80\r
t=0 0\r
m=audio 20000 RTP/AVP 8 0 101\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-16\r
a=ptime:30\r
a=maxptime:40\r
";

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(text.as_bytes()).expect("vector is valid SDP")
}

fn local_v4() -> LocalMedia {
    LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 42)
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("literal")
}

#[test]
fn audiocodes_offer_gets_g722_with_telephone_event() {
    let offer = parse(AUDIOCODES_440HD);
    assert_eq!(offer.origin.username, "AudiocodesGW");
    let media = &offer.media[0];
    assert_eq!(media.ptime(), Some(20));
    assert_eq!(media.direction(), Some(Direction::SendRecv));
    assert_eq!(
        media
            .fmtp(PayloadType::new(18).expect("7 bits"))
            .map(|f| f.parameters.as_str()),
        Some("annexb=no")
    );
    assert!(
        media
            .attributes
            .iter()
            .any(|a| a.to_string() == "rtcp:6011 IN IP4 10.10.1.50")
    );

    let answer = answer(&offer, &local_v4(), &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(answer.audio.codec, Codec::G722);
    assert_eq!(
        (answer.audio.payload_type, answer.audio.clock_rate),
        (PayloadType::G722, 8000)
    );
    let event = TelephoneEvent {
        payload_type: PayloadType::new(101).expect("7 bits"),
        clock_rate: 8000,
    };
    assert_eq!(answer.audio.telephone_event, Some(event));
    assert_eq!(answer.audio.remote_rtp, addr("10.10.1.50:6010"));
    assert_eq!(answer.audio.ptime, 20);
    let text = answer.sdp.to_string();
    assert!(text.contains("m=audio 30000 RTP/AVP 9 101\r\n"), "{text}");
    assert!(
        text.contains(
            "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
        ),
        "{text}"
    );
}

#[test]
fn polycom_lf_only_offer_with_session_level_direction() {
    let offer = parse(POLYCOM_VVX);
    assert_eq!(offer.direction(), Some(Direction::SendRecv));
    assert_eq!(offer.media[0].direction(), None);
    let g7221 = offer.media[0]
        .rtp_formats()
        .into_iter()
        .find(|f| f.payload_type.get() == 102);
    assert_eq!(
        g7221.map(|f| (f.codec, f.clock_rate)),
        Some((Codec::Other("G7221".into()), 16000))
    );

    let policy = AnswerPolicy {
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        ..AnswerPolicy::default()
    };
    let answer = answer(&offer, &local_v4(), &policy).expect("acceptable");
    assert_eq!(answer.audio.codec, Codec::Pcma);
    assert_eq!(
        answer.audio.telephone_event.map(|e| e.payload_type.get()),
        Some(127)
    );
    assert_eq!(answer.audio.local_direction, Direction::SendRecv);
}

#[test]
fn polycom_srtp_only_offer_is_refused_while_srtp_is_unavailable() {
    let offer = parse(POLYCOM_SRTP_ONLY);
    let suites: Vec<_> = offer.media[0]
        .crypto()
        .map(|c| (c.tag, c.suite.as_str()))
        .collect();
    assert_eq!(
        suites,
        [
            (1, "AES_CM_128_HMAC_SHA1_80"),
            (2, "AES_CM_128_HMAC_SHA1_32")
        ]
    );
    assert!(
        !format!("{offer:?}").contains("MTIzNDU2"),
        "keys must not reach Debug output"
    );
    assert_eq!(
        offer.to_string().matches("inline:").count(),
        2,
        "keys must reach the wire"
    );

    let error = answer(&offer, &local_v4(), &AnswerPolicy::default()).expect_err("SAVP only");
    let reason = NotAcceptableReason::UnsupportedProto("RTP/SAVP".into());
    assert_eq!(error, OfferAnswerError::NotAcceptable(reason));
    assert_eq!(error.sip_status(), 488);
}

#[test]
fn linphone_opus_offer_with_video_answers_opus_and_refuses_video_in_place() {
    let offer = parse(LINPHONE_OPUS_AND_VIDEO);
    let events: Vec<u32> = offer.media[0]
        .telephone_events()
        .iter()
        .map(|e| e.clock_rate)
        .collect();
    assert_eq!(events, [48000, 16000, 8000]);
    // Payload type 18 has an fmtp but no rtpmap: the static table still knows it.
    assert!(
        offer.media[0]
            .rtp_formats()
            .iter()
            .any(|f| f.codec == Codec::Other("G729".into()))
    );

    let policy = AnswerPolicy {
        codecs: vec![Codec::Opus, Codec::Pcma],
        ..AnswerPolicy::default()
    };
    let answer = answer(&offer, &local_v4(), &policy).expect("acceptable");
    assert_eq!(
        (
            answer.audio.codec.clone(),
            answer.audio.clock_rate,
            answer.audio.channels
        ),
        (Codec::Opus, 48000, 2)
    );
    let event = answer.audio.telephone_event.expect("offered");
    assert_eq!((event.payload_type.get(), event.clock_rate), (101, 48000));
    assert!(answer.audio.rtcp_mux);
    let text = answer.sdp.to_string();
    assert!(
        text.contains("m=audio 30000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\n"),
        "{text}"
    );
    assert!(text.ends_with("m=video 0 RTP/AVP 96\r\n"), "{text}");
}

#[test]
fn sipp_pcmu_only_offer() {
    let offer = parse(SIPP_UAC);
    let answer = answer(&offer, &local_v4(), &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(
        (answer.audio.codec.clone(), answer.audio.payload_type),
        (Codec::Pcmu, PayloadType::PCMU)
    );
    assert_eq!(answer.audio.telephone_event, None);
    assert_eq!(answer.audio.remote_rtp, addr("127.0.0.1:6000"));
    assert_eq!(answer.audio.ptime, 20);
    assert!(!answer.audio.rtcp_mux);
    assert!(!answer.sdp.to_string().contains("rtcp-mux"));
}

#[test]
fn ipv6_trunk_offer_with_ptime_30_and_maxptime() {
    let offer = parse(TRUNK_IPV6);
    assert_eq!(offer.bandwidths[0].value, 80);
    assert_eq!(offer.media[0].maxptime(), Some(40));
    let local = LocalMedia::new("2001:db8::1".parse().expect("literal"), 30000, 42);
    let answer = answer(&offer, &local, &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(answer.audio.remote_rtp, addr("[2001:db8::10]:20000"));
    assert_eq!(answer.audio.ptime, 30);
    assert_eq!(answer.audio.codec, Codec::Pcma);
    let text = answer.sdp.to_string();
    assert!(text.contains("o=- 42 1 IN IP6 2001:db8::1\r\n"), "{text}");
    assert!(text.contains("c=IN IP6 2001:db8::1\r\n"), "{text}");
    assert!(text.contains("a=ptime:30\r\n"), "{text}");
}

#[test]
fn every_vector_prints_back_to_an_equal_description() {
    for vector in [
        AUDIOCODES_440HD,
        POLYCOM_VVX,
        POLYCOM_SRTP_ONLY,
        LINPHONE_OPUS_AND_VIDEO,
        SIPP_UAC,
        TRUNK_IPV6,
    ] {
        let sdp = parse(vector);
        let printed = sdp.to_string();
        assert!(printed.lines().all(|line| !line.is_empty()));
        assert!(
            printed
                .split_inclusive('\n')
                .all(|line| line.ends_with("\r\n"))
        );
        assert_eq!(
            SessionDescription::parse(printed.as_bytes()),
            Ok(sdp),
            "{vector}"
        );
    }
}

#[test]
fn crlf_vectors_print_back_byte_for_byte() {
    // Everything in these vectors is in canonical form, so the printer reproduces them exactly.
    for vector in [AUDIOCODES_440HD, LINPHONE_OPUS_AND_VIDEO, TRUNK_IPV6] {
        assert_eq!(parse(vector).to_string(), vector);
    }
    let unknown = parse(LINPHONE_OPUS_AND_VIDEO).attributes;
    assert!(matches!(&unknown[..], [Attribute::Other { name, .. }] if name == "rtcp-xr"));
}
