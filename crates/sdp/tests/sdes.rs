//! SRTP with SDES (RFC 4568) in offer/answer: answering `RTP/SAVP` offers from hard phones,
//! the policy knobs, and the UAC side. Keys are opaque `inline:` text here; the media crate's
//! `tests/srtp_sdes.rs` runs packets through what these negotiations produce.

use proptest::prelude::*;

use herald_sdp::{
    AnswerPolicy, LocalCryptoKey, LocalMedia, NotAcceptableReason, OfferAnswerError,
    SessionDescription, SrtpPolicy, accept_answer, answer, offer,
};

/// An AudioCodes 440HD with "SRTP mandatory": CRLF, two suites, no lifetime, RTCP port given.
const AUDIOCODES_SAVP: &str = "v=0\r
o=AudiocodesGW 1931286820 1931286579 IN IP4 10.10.1.50\r
s=Phone-Call\r
c=IN IP4 10.10.1.50\r
t=0 0\r
m=audio 6010 RTP/SAVP 9 8 0 18 101\r
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
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ETBPbo2sy+oJKEdmhaTD4gEgP159nLva+Rg3VnWU\r
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:IkFgf5693PsaOVh3lrXU8xIxUG+OrczrCilIZ4al\r
";

/// A Polycom VVX with SRTP required: LF-only, session-level direction, AES-256 counter-mode
/// suites first (which Herald does not implement), lifetimes on every key.
const POLYCOM_SAVP: &str = "v=0
o=- 1710252152 1710252152 IN IP4 192.168.1.120
s=Polycom IP Phone
c=IN IP4 192.168.1.120
t=0 0
a=sendrecv
m=audio 2230 RTP/SAVP 9 0 8 127
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:127 telephone-event/8000
a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:M1JxkK/O7QwrSmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N7AsqSWiHpg==|2^31
a=crypto:2 AES_CM_256_HMAC_SHA1_32 inline:RGOCocDf/h08W3qZuNf2FTRTcpGwz+4NLEtqiajH5gUkQ2KBoL/e/Rw7WnmYtw==|2^31
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7mrnY|2^31
a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:ZoWkw+IBID9efZy72vkYN1Z1lLPS8RAvTm2Mq8rp|2^31
";

const SESSION: &str =
    "v=0\r\no=peer 500 600 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";

/// Our keys, as the media crate's `SdesKey::to_sdp` makes them (here fixed text).
const OUR_GCM_256: &str = "inline:d5a11PMSMVBvjq3M6wopSGeGpcTjAiFAX36dvNv6GThXdpW00/IRME9ujaw=";
const OUR_CM_80: &str = "inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
const OUR_CM_32: &str = "inline:YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNE";

/// A phone's 30-byte key for the `RTP/SAVP` sections written in these tests.
const PHONE_KEY: &str = "inline:VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7mrnY";

fn our_keys() -> Vec<LocalCryptoKey> {
    vec![
        LocalCryptoKey::new("AEAD_AES_256_GCM", OUR_GCM_256),
        LocalCryptoKey::new("AES_CM_128_HMAC_SHA1_80", OUR_CM_80),
        LocalCryptoKey::new("AES_CM_128_HMAC_SHA1_32", OUR_CM_32),
    ]
}

fn local() -> LocalMedia {
    LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 42).with_srtp_keys(our_keys())
}

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(text.as_bytes()).expect("valid SDP")
}

/// An offer with one audio section: `m=audio 40000 <proto> 0` and `lines`.
fn offer_with(proto: &str, lines: &str) -> SessionDescription {
    parse(&format!("{SESSION}m=audio 40000 {proto} 0\r\n{lines}"))
}

fn crypto_lines(sdp: &SessionDescription, media: usize) -> Vec<String> {
    let crypto = sdp.media[media].crypto();
    crypto
        .map(|c| format!("{} {} {}", c.tag, c.suite, c.key_params))
        .collect()
}

fn refusal(
    offer: &SessionDescription,
    local: &LocalMedia,
    policy: &AnswerPolicy,
) -> NotAcceptableReason {
    match answer(offer, local, policy) {
        Err(OfferAnswerError::NotAcceptable(reason)) => reason,
        other => panic!("expected a 488, got {other:?}"),
    }
}

#[test]
fn audiocodes_savp_offer_is_answered_with_its_first_suite_and_our_key() {
    let answer =
        answer(&parse(AUDIOCODES_SAVP), &local(), &AnswerPolicy::default()).expect("acceptable");
    let media = &answer.sdp.media[0];
    assert_eq!((media.proto.as_str(), media.port), ("RTP/SAVP", 30000));
    assert_eq!(
        crypto_lines(&answer.sdp, 0),
        [format!("1 AES_CM_128_HMAC_SHA1_80 {OUR_CM_80}")]
    );
    let srtp = answer.audio.srtp.as_ref().expect("SRTP negotiated");
    assert_eq!(
        (srtp.tag, srtp.suite.as_str()),
        (1, "AES_CM_128_HMAC_SHA1_80")
    );
    assert_eq!(srtp.local_key_params, OUR_CM_80);
    assert_eq!(
        srtp.remote_key_params,
        "inline:ETBPbo2sy+oJKEdmhaTD4gEgP159nLva+Rg3VnWU"
    );
    assert_eq!(answer.audio.remote_rtp.port(), 6010);
    let text = answer.sdp.to_string();
    assert!(
        text.contains(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 {OUR_CM_80}\r\n"
        )),
        "{text}"
    );
    assert_eq!(
        SessionDescription::parse(text.as_bytes()).as_ref(),
        Ok(&answer.sdp)
    );
}

#[test]
fn polycom_savp_offer_skips_the_suites_we_lack_and_keeps_the_offer_order() {
    let answered =
        answer(&parse(POLYCOM_SAVP), &local(), &AnswerPolicy::default()).expect("acceptable");
    assert_eq!(
        crypto_lines(&answered.sdp, 0),
        [format!("3 AES_CM_128_HMAC_SHA1_80 {OUR_CM_80}")]
    );
    let srtp = answered.audio.srtp.expect("SRTP negotiated");
    assert_eq!(
        (srtp.tag, srtp.suite.as_str()),
        (3, "AES_CM_128_HMAC_SHA1_80")
    );
    assert_eq!(srtp.remote_key_params, format!("{PHONE_KEY}|2^31"));

    // With only a key for the 32-bit suite, its line (the fourth) is the one answered.
    let only_32 =
        LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 42).with_srtp_keys(vec![
            LocalCryptoKey::new("AES_CM_128_HMAC_SHA1_32", OUR_CM_32),
        ]);
    let answered =
        answer(&parse(POLYCOM_SAVP), &only_32, &AnswerPolicy::default()).expect("acceptable");
    let srtp = answered.audio.srtp.expect("SRTP negotiated");
    assert_eq!(
        (srtp.tag, srtp.suite.as_str()),
        (4, "AES_CM_128_HMAC_SHA1_32")
    );
}

#[test]
fn unusable_crypto_lines_are_skipped_and_none_left_is_a_488() {
    let line = |tag, suite, params: &str| format!("a=crypto:{tag} {suite} {params}\r\n");
    let unusable = [
        line(
            1,
            "AES_CM_128_HMAC_SHA1_80",
            &format!("{PHONE_KEY}|2^20|1:4"),
        ),
        line(2, "AES_CM_128_HMAC_SHA1_80", &format!("{PHONE_KEY} KDR=1")),
        line(
            3,
            "AES_CM_128_HMAC_SHA1_80",
            &format!("{PHONE_KEY} UNENCRYPTED_SRTP"),
        ),
        line(4, "AES_CM_128_HMAC_SHA1_80", "inline:QUJDRA=="),
        line(
            5,
            "AES_CM_128_HMAC_SHA1_80",
            &format!("{PHONE_KEY};{PHONE_KEY}"),
        ),
        line(6, "F8_128_HMAC_SHA1_80", PHONE_KEY),
        line(7, "AEAD_AES_256_GCM", PHONE_KEY),
    ]
    .concat();
    let offer = offer_with("RTP/SAVP", &unusable);
    let reason = refusal(&offer, &local(), &AnswerPolicy::default());
    assert_eq!(reason, NotAcceptableReason::NoAcceptableCrypto);
    assert_eq!(OfferAnswerError::NotAcceptable(reason).sip_status(), 488);

    let usable = line(
        8,
        "AES_CM_128_HMAC_SHA1_80",
        &format!("{PHONE_KEY}|2^31 WSH=128"),
    );
    let offer = offer_with("RTP/SAVP", &format!("{unusable}{usable}"));
    let answer = answer(&offer, &local(), &AnswerPolicy::default()).expect("line 8 is usable");
    assert_eq!(answer.audio.srtp.map(|s| s.tag), Some(8));
}

#[test]
fn savp_is_refused_without_keys_or_when_disabled_and_dtls_profiles_always() {
    let offer = offer_with(
        "RTP/SAVP",
        &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n"),
    );
    let savp = NotAcceptableReason::UnsupportedProto("RTP/SAVP".into());
    let no_keys = LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 42);
    assert_eq!(refusal(&offer, &no_keys, &AnswerPolicy::default()), savp);
    let disabled = AnswerPolicy {
        srtp: SrtpPolicy::Disabled,
        ..AnswerPolicy::default()
    };
    assert_eq!(refusal(&offer, &local(), &disabled), savp);
    for proto in ["RTP/SAVPF", "UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP"] {
        let offer = offer_with(proto, "a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n");
        let reason = NotAcceptableReason::UnsupportedProto(proto.into());
        assert_eq!(refusal(&offer, &local(), &AnswerPolicy::default()), reason);
    }
}

#[test]
fn required_srtp_refuses_plain_rtp_and_best_effort_pairs_follow_the_policy() {
    let required = AnswerPolicy {
        srtp: SrtpPolicy::Required,
        ..AnswerPolicy::default()
    };
    let plain = offer_with("RTP/AVP", "");
    assert_eq!(
        refusal(&plain, &local(), &required),
        NotAcceptableReason::SrtpRequired
    );

    // The old "best effort" pattern: the same stream as RTP/SAVP, then as RTP/AVP.
    let pair = parse(&format!(
        "{SESSION}m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n\
         m=audio 40002 RTP/AVP 0\r\n"
    ));
    let chosen = |local: &LocalMedia, policy: &AnswerPolicy| {
        let answer = answer(&pair, local, policy).expect("acceptable");
        let ports: Vec<u16> = answer.sdp.media.iter().map(|m| m.port).collect();
        (answer.audio.media_index, answer.audio.srtp.is_some(), ports)
    };
    assert_eq!(
        chosen(&local(), &AnswerPolicy::default()),
        (0, true, vec![30000, 0])
    );
    assert_eq!(chosen(&local(), &required), (0, true, vec![30000, 0]));
    let disabled = AnswerPolicy {
        srtp: SrtpPolicy::Disabled,
        ..AnswerPolicy::default()
    };
    assert_eq!(chosen(&local(), &disabled), (1, false, vec![0, 30000]));
}

#[test]
fn crypto_lines_in_a_plain_rtp_offer_are_ignored() {
    let offer = offer_with(
        "RTP/AVP",
        &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n"),
    );
    let answer = answer(&offer, &local(), &AnswerPolicy::default()).expect("plain RTP");
    assert_eq!(answer.sdp.media[0].proto, "RTP/AVP");
    assert!(crypto_lines(&answer.sdp, 0).is_empty());
    assert_eq!(answer.audio.srtp, None);
}

#[test]
fn keys_never_reach_debug_output() {
    let answer =
        answer(&parse(AUDIOCODES_SAVP), &local(), &AnswerPolicy::default()).expect("acceptable");
    let printed = format!("{answer:?} {:?}", local());
    for secret in ["QUJDREVG", "ETBPbo2s", "d5a11PMS", "YWJjZGVm"] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
    assert!(
        printed.contains("AES_CM_128_HMAC_SHA1_80"),
        "the suite is not secret"
    );
}

#[test]
fn uac_offers_savp_with_every_key_only_when_srtp_is_required() {
    let plain = offer(&local(), &AnswerPolicy::default());
    assert_eq!(plain.media[0].proto, "RTP/AVP");
    assert!(crypto_lines(&plain, 0).is_empty());

    let required = AnswerPolicy {
        srtp: SrtpPolicy::Required,
        ..AnswerPolicy::default()
    };
    let secure = offer(&local(), &required);
    assert_eq!(secure.media[0].proto, "RTP/SAVP");
    assert_eq!(
        crypto_lines(&secure, 0),
        [
            format!("1 AEAD_AES_256_GCM {OUR_GCM_256}"),
            format!("2 AES_CM_128_HMAC_SHA1_80 {OUR_CM_80}"),
            format!("3 AES_CM_128_HMAC_SHA1_32 {OUR_CM_32}"),
        ]
    );
    let text = secure.to_string();
    assert!(
        text.contains("m=audio 30000 RTP/SAVP 9 8 0 111 101 110\r\n"),
        "{text}"
    );
    assert_eq!(SessionDescription::parse(text.as_bytes()), Ok(secure));
}

/// A phone's answer to our `RTP/SAVP` offer with the given crypto lines.
fn phone_answer(proto: &str, crypto: &str) -> SessionDescription {
    parse(&format!(
        "v=0\r\no=- 9 9 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
         m=audio 40000 {proto} 8 101\r\na=rtpmap:101 telephone-event/8000\r\n{crypto}"
    ))
}

#[test]
fn uac_reads_the_crypto_line_the_answer_chose() {
    let required = AnswerPolicy {
        srtp: SrtpPolicy::Required,
        ..AnswerPolicy::default()
    };
    let ours = offer(&local(), &required);
    let answer = phone_answer(
        "RTP/SAVP",
        &format!("a=crypto:2 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}|2^31\r\n"),
    );
    let audio = accept_answer(&ours, &answer).expect("acceptable");
    let srtp = audio.srtp.expect("SRTP negotiated");
    assert_eq!(
        (srtp.tag, srtp.suite.as_str()),
        (2, "AES_CM_128_HMAC_SHA1_80")
    );
    assert_eq!(srtp.local_key_params, OUR_CM_80);
    assert_eq!(srtp.remote_key_params, format!("{PHONE_KEY}|2^31"));

    let no_crypto = NotAcceptableReason::NoAcceptableCrypto;
    let refused = |crypto: &str| match accept_answer(&ours, &phone_answer("RTP/SAVP", crypto)) {
        Err(OfferAnswerError::NotAcceptable(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let cm80 = |tag| format!("a=crypto:{tag} AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n");
    assert_eq!(refused(""), no_crypto, "no crypto line");
    assert_eq!(refused(&cm80(9)), no_crypto, "a tag we did not offer");
    assert_eq!(
        refused(&cm80(1)),
        no_crypto,
        "our tag 1 is AEAD_AES_256_GCM"
    );
    assert_eq!(
        refused(&format!("{}{}", cm80(2), cm80(2))),
        no_crypto,
        "two lines"
    );
    let with_mki = format!("a=crypto:2 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}|2^31|1:4\r\n");
    assert_eq!(refused(&with_mki), no_crypto, "an MKI");
    let plain = phone_answer("RTP/AVP", "");
    let reason = NotAcceptableReason::UnsupportedProto("RTP/AVP".into());
    assert_eq!(
        accept_answer(&ours, &plain),
        Err(OfferAnswerError::NotAcceptable(reason))
    );
}

proptest! {
    #[test]
    fn arbitrary_crypto_lines_never_panic_and_a_chosen_line_echoes_its_tag(
        lines in proptest::collection::vec(
            "[0-9]{1,3} (AES_CM_128_HMAC_SHA1_(80|32)|AEAD_AES_256_GCM|X) \
             (inline:VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7mrnY|(inline:)?[A-Za-z0-9+/=]{0,64})\
             (\\|2\\^[0-9]{1,2})?(\\|[0-9]:[0-9])?( WSH=[0-9]{1,3}| KDR=1)?",
            0..4,
        ),
    ) {
        let attributes: String = lines.iter().map(|l| format!("a=crypto:{l}\r\n")).collect();
        let offer = offer_with("RTP/SAVP", &attributes);
        if let Ok(answered) = answer(&offer, &local(), &AnswerPolicy::default()) {
            let srtp = answered.audio.srtp.expect("an RTP/SAVP answer carries keys");
            let ours = answered.sdp.media[0].crypto().next().expect("one crypto line");
            prop_assert_eq!(ours.tag, srtp.tag);
            prop_assert!(offer.media[0].crypto().any(|c| c.tag == srtp.tag));
            let printed = answered.sdp.to_string();
            prop_assert_eq!(SessionDescription::parse(printed.as_bytes()), Ok(answered.sdp));
        }
    }
}
