//! One test per RFC 3264 answering rule listed in the crate documentation.

use herald_sdp::{
    Answer, AnswerPolicy, Codec, Direction, LocalMedia, NotAcceptableReason, OfferAnswerError,
    PayloadType, SessionDescription, SessionVersion, answer,
};

const SESSION: &str =
    "v=0\r\no=peer 500 600 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";

/// A G.711 + G.722 + telephone-event/8000 audio section on `port`, plus `extra` lines.
fn audio(port: u16, extra: &str) -> String {
    format!(
        "m=audio {port} RTP/AVP 0 8 9 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n{extra}"
    )
}

fn offer(body: &str) -> SessionDescription {
    SessionDescription::parse(format!("{SESSION}{body}").as_bytes()).expect("test offer is valid")
}

fn local() -> LocalMedia {
    LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 42)
}

fn answered(body: &str) -> Answer {
    answer(&offer(body), &local(), &AnswerPolicy::default()).expect("acceptable")
}

fn answered_with(body: &str, policy: &AnswerPolicy) -> Answer {
    answer(&offer(body), &local(), policy).expect("acceptable")
}

fn refused(body: &str) -> OfferAnswerError {
    answer(&offer(body), &local(), &AnswerPolicy::default()).expect_err("not acceptable")
}

fn not_acceptable(reason: NotAcceptableReason) -> OfferAnswerError {
    OfferAnswerError::NotAcceptable(reason)
}

#[test]
fn one_audio_stream_is_answered_with_our_address_port_and_the_offered_payload_types() {
    let answer = answered(&audio(40000, ""));
    let sdp = &answer.sdp;
    assert_eq!(sdp.media.len(), 1);
    assert_eq!(sdp.media[0].port, 30000);
    assert_eq!(sdp.media[0].formats, ["9", "101"]);
    assert_eq!(
        sdp.connection.as_ref().and_then(|c| c.ip()),
        Some(local().address)
    );
    assert_eq!(
        answer.audio.remote_rtp,
        "192.0.2.10:40000".parse().expect("literal")
    );
    assert_eq!(answer.audio.media_index, 0);
    assert_eq!(
        SessionDescription::parse(sdp.to_string().as_bytes()).as_ref(),
        Ok(sdp)
    );
}

#[test]
fn other_sections_are_refused_in_place_with_port_zero_and_one_format() {
    let body = format!(
        "m=video 50000 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\n{}{}m=image 52000 udptl t38\r\n",
        audio(40000, ""),
        audio(41000, "")
    );
    let answer = answered(&body);
    let lines: Vec<String> = answer
        .sdp
        .media
        .iter()
        .map(|m| format!("{} {} {} {}", m.media, m.port, m.proto, m.formats.join(" ")))
        .collect();
    assert_eq!(
        lines,
        [
            "video 0 RTP/AVP 96",
            "audio 30000 RTP/AVP 9 101",
            "audio 0 RTP/AVP 0",
            "image 0 udptl t38"
        ]
    );
    assert_eq!(answer.audio.media_index, 1);
    assert!(
        answer
            .sdp
            .media
            .iter()
            .filter(|m| m.port == 0)
            .all(|m| m.attributes.is_empty())
    );
}

#[test]
fn no_acceptable_audio_is_not_acceptable_with_the_first_audio_reason() {
    assert_eq!(
        refused("m=video 50000 RTP/AVP 96\r\n"),
        not_acceptable(NotAcceptableReason::NoAudioStream)
    );
    assert_eq!(
        refused(&audio(0, "")),
        not_acceptable(NotAcceptableReason::NoAudioStream)
    );
    let ilbc_only = "m=audio 40000 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\n";
    assert_eq!(
        refused(ilbc_only),
        not_acceptable(NotAcceptableReason::NoCommonCodec)
    );
    let srtp = "m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n";
    let error = refused(srtp);
    assert_eq!(
        error,
        not_acceptable(NotAcceptableReason::UnsupportedProto("RTP/SAVP".into()))
    );
    assert_eq!(error.sip_status(), 488);
}

#[test]
fn best_effort_srtp_pair_takes_the_plain_rtp_section() {
    let body = format!(
        "m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n{}",
        audio(40002, "")
    );
    let answer = answered(&body);
    assert_eq!(answer.audio.media_index, 1);
    assert_eq!(
        (answer.sdp.media[0].port, answer.sdp.media[0].proto.as_str()),
        (0, "RTP/SAVP")
    );
    assert_eq!(answer.audio.remote_rtp.port(), 40002);
}

#[test]
fn our_codec_order_wins_unless_the_policy_defers_to_the_offer() {
    let ours = AnswerPolicy {
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        ..AnswerPolicy::default()
    };
    assert_eq!(
        answered_with(&audio(40000, ""), &ours).audio.codec,
        Codec::Pcma
    );
    let theirs = AnswerPolicy {
        prefer_offer_order: true,
        ..ours
    };
    assert_eq!(
        answered_with(&audio(40000, ""), &theirs).audio.codec,
        Codec::Pcmu
    );
}

#[test]
fn a_format_counts_only_with_its_codecs_clock_rate() {
    let body = "m=audio 40000 RTP/AVP 9 8\r\na=rtpmap:9 G722/16000\r\n";
    assert_eq!(answered(body).audio.codec, Codec::Pcma);
    let opus_at_16k = "m=audio 40000 RTP/AVP 96\r\na=rtpmap:96 opus/16000/2\r\n";
    assert_eq!(
        refused(opus_at_16k),
        not_acceptable(NotAcceptableReason::NoCommonCodec)
    );
}

#[test]
fn ptime_follows_the_offer_within_range_and_maxptime_caps_it() {
    let ptime = |extra: &str| answered(&audio(40000, extra)).audio.ptime;
    assert_eq!(ptime(""), 20);
    assert_eq!(ptime("a=ptime:30\r\n"), 30);
    assert_eq!(ptime("a=ptime:10\r\n"), 10);
    assert_eq!(ptime("a=ptime:60\r\n"), 60);
    assert_eq!(ptime("a=ptime:5\r\n"), 20);
    assert_eq!(ptime("a=ptime:120\r\n"), 20);
    assert_eq!(ptime("a=ptime:40\r\na=maxptime:30\r\n"), 30);
    assert_eq!(ptime("a=maxptime:5\r\n"), 20);
    let written = answered(&audio(40000, "a=ptime:30\r\n")).sdp.to_string();
    assert!(written.contains("a=ptime:30\r\n"), "{written}");
    let session_level = offer(&audio(40000, ""))
        .to_string()
        .replace("t=0 0\r\n", "t=0 0\r\na=ptime:40\r\n");
    let offer = SessionDescription::parse(session_level.as_bytes()).expect("valid");
    assert_eq!(
        answer(&offer, &local(), &AnswerPolicy::default()).map(|a| a.audio.ptime),
        Ok(40)
    );
}

#[test]
fn telephone_event_matches_the_voice_clock_rate_and_follows_the_policy() {
    let both = "m=audio 40000 RTP/AVP 96 0 101 100\r\na=rtpmap:96 opus/48000/2\r\n\
                a=rtpmap:101 telephone-event/48000\r\na=rtpmap:100 telephone-event/8000\r\n";
    let event = |policy: &AnswerPolicy| {
        answered_with(both, policy)
            .audio
            .telephone_event
            .map(|e| (e.payload_type.get(), e.clock_rate))
    };
    let opus = AnswerPolicy {
        codecs: vec![Codec::Opus],
        ..AnswerPolicy::default()
    };
    assert_eq!(event(&opus), Some((101, 48000)));
    let pcmu = AnswerPolicy {
        codecs: vec![Codec::Pcmu],
        ..AnswerPolicy::default()
    };
    assert_eq!(event(&pcmu), Some((100, 8000)));
    // Only the other rate offered: still negotiated, the media layer converts timestamps.
    let only_8k = "m=audio 40000 RTP/AVP 96 100\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:100 telephone-event/8000\r\n";
    assert_eq!(
        answered_with(only_8k, &opus)
            .audio
            .telephone_event
            .map(|e| e.clock_rate),
        Some(8000)
    );
    let off = AnswerPolicy {
        telephone_event: false,
        ..AnswerPolicy::default()
    };
    let answer = answered_with(&audio(40000, ""), &off);
    assert_eq!(answer.audio.telephone_event, None);
    assert_eq!(answer.sdp.media[0].formats, ["9"]);
}

#[test]
fn direction_is_answered_per_rfc_3264() {
    let cases = [
        ("a=sendonly\r\n", Direction::SendOnly, Direction::RecvOnly),
        ("a=recvonly\r\n", Direction::RecvOnly, Direction::SendOnly),
        ("a=inactive\r\n", Direction::Inactive, Direction::Inactive),
        ("a=sendrecv\r\n", Direction::SendRecv, Direction::SendRecv),
        ("", Direction::SendRecv, Direction::SendRecv),
    ];
    for (extra, remote, ours) in cases {
        let answer = answered(&audio(40000, extra));
        assert_eq!(
            (answer.audio.remote_direction, answer.audio.local_direction),
            (remote, ours),
            "{extra}"
        );
        assert_eq!(answer.sdp.media[0].direction(), Some(ours), "{extra}");
    }
}

#[test]
fn session_level_direction_is_the_default_and_media_level_overrides_it() {
    let text = format!("{SESSION}a=sendonly\r\n{}", audio(40000, ""));
    let session_only = SessionDescription::parse(text.as_bytes()).expect("valid");
    let answer = answer(&session_only, &local(), &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(answer.audio.local_direction, Direction::RecvOnly);
    let overridden =
        SessionDescription::parse(format!("{text}a=sendrecv\r\n").as_bytes()).expect("valid");
    let answer =
        herald_sdp::answer(&overridden, &local(), &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(answer.audio.local_direction, Direction::SendRecv);
}

#[test]
fn hold_is_detected_from_sendonly_inactive_and_the_rfc_2543_address() {
    let on_hold = |body: &str| answered(body).audio.remote_on_hold;
    assert!(on_hold(&audio(40000, "a=sendonly\r\n")));
    assert!(on_hold(&audio(40000, "a=inactive\r\n")));
    assert!(!on_hold(&audio(40000, "a=recvonly\r\n")));
    assert!(!on_hold(&audio(40000, "")));

    let rfc2543 = answered(&audio(40000, "c=IN IP4 0.0.0.0\r\n"));
    assert!(rfc2543.audio.remote_on_hold);
    assert_eq!(
        rfc2543.audio.remote_direction,
        Direction::SendRecv,
        "reported as offered"
    );
    assert_eq!(
        rfc2543.audio.local_direction,
        Direction::RecvOnly,
        "0.0.0.0 cannot receive"
    );
    assert_eq!(
        rfc2543.audio.remote_rtp,
        "0.0.0.0:40000".parse().expect("literal")
    );
}

#[test]
fn our_own_hold_limits_the_answered_direction() {
    let holding = LocalMedia {
        direction: Direction::SendOnly,
        ..local()
    };
    let offer = offer(&audio(40000, ""));
    let answer = answer(&offer, &holding, &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(answer.audio.local_direction, Direction::SendOnly);
    let offer_sendonly = self::offer(&audio(40000, "a=sendonly\r\n"));
    let answer = herald_sdp::answer(&offer_sendonly, &holding, &AnswerPolicy::default())
        .expect("acceptable");
    assert_eq!(answer.audio.local_direction, Direction::Inactive);
}

#[test]
fn connection_comes_from_the_media_section_else_the_session() {
    let media_level = answered(&audio(40000, "c=IN IP4 203.0.113.7\r\n"));
    assert_eq!(
        media_level.audio.remote_rtp,
        "203.0.113.7:40000".parse().expect("literal")
    );
    let no_c = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
    let offer = SessionDescription::parse(no_c.as_bytes()).expect("parses");
    let error = answer(&offer, &local(), &AnswerPolicy::default()).expect_err("no address");
    assert_eq!(
        error,
        OfferAnswerError::MissingConnection { media_index: 0 }
    );
    assert_eq!(error.sip_status(), 400);
}

#[test]
fn host_names_and_other_address_families_are_unusable() {
    let unusable = not_acceptable(NotAcceptableReason::UnusableAddress);
    assert_eq!(
        refused(&audio(40000, "c=IN IP4 sbc.example.net\r\n")),
        unusable
    );
    assert_eq!(
        refused(&audio(40000, "c=IN IP6 2001:db8::10\r\n")),
        unusable
    );
    // A v6 hold address is still a hold, not an error.
    assert!(
        answered(&audio(40000, "c=IN IP6 ::\r\n"))
            .audio
            .remote_on_hold
    );
}

#[test]
fn rtcp_mux_is_accepted_only_when_offered_and_allowed() {
    let offered = answered(&audio(40000, "a=rtcp-mux\r\n"));
    assert!(offered.audio.rtcp_mux && offered.sdp.media[0].rtcp_mux());
    let not_offered = answered(&audio(40000, ""));
    assert!(!not_offered.audio.rtcp_mux && !not_offered.sdp.media[0].rtcp_mux());
    let off = AnswerPolicy {
        rtcp_mux: false,
        ..AnswerPolicy::default()
    };
    assert!(
        !answered_with(&audio(40000, "a=rtcp-mux\r\n"), &off)
            .audio
            .rtcp_mux
    );
}

#[test]
fn origin_uses_our_identity_and_timing_is_copied_from_the_offer() {
    let body = audio(40000, "");
    let text = format!("{SESSION}{body}").replace("t=0 0", "t=3034423619 3042462419");
    let offer = SessionDescription::parse(text.as_bytes()).expect("valid");
    let local = LocalMedia {
        session_version: 7,
        ..local()
    };
    let answer = answer(&offer, &local, &AnswerPolicy::default()).expect("acceptable");
    let origin = &answer.sdp.origin;
    assert_eq!((origin.session_id, origin.session_version), (42, 7));
    assert_eq!(origin.address, "198.51.100.1");
    assert_eq!(answer.sdp.timing, offer.timing);
}

#[test]
fn session_version_increments_only_when_the_content_changes() {
    let mut versions = SessionVersion::new(42, 1000);
    let first = versions.stamp(answered(&audio(40000, "")).sdp);
    assert_eq!(
        (first.origin.session_id, first.origin.session_version),
        (42, 1000)
    );
    let refresh = versions.stamp(answered(&audio(40000, "")).sdp);
    assert_eq!(
        refresh.origin.session_version, 1000,
        "a session refresh changes nothing"
    );
    let hold = versions.stamp(answered(&audio(40000, "a=sendonly\r\n")).sdp);
    assert_eq!(hold.origin.session_version, 1001);
    let hold_again = versions.stamp(answered(&audio(40000, "a=sendonly\r\n")).sdp);
    assert_eq!(hold_again.origin.session_version, 1001);
    let resume = versions.stamp(answered(&audio(40000, "")).sdp);
    assert_eq!(
        (resume.origin.session_id, resume.origin.session_version),
        (42, 1002)
    );
    assert_eq!(versions.version(), 1002);
}

#[test]
fn static_payload_types_need_no_rtpmap_and_are_echoed() {
    let answer = answered("m=audio 40000 RTP/AVP 8\r\n");
    assert_eq!(answer.audio.payload_type, PayloadType::PCMA);
    assert_eq!(
        answer.sdp.media[0]
            .rtpmap(PayloadType::PCMA)
            .map(|r| r.clock_rate),
        Some(8000)
    );
}
