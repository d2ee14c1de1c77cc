//! Property tests: printing then parsing gives the model back; no input makes the parser or the
//! answerer panic.

use herald_sdp::{
    AnswerPolicy, Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, Line, LocalMedia,
    MediaDescription, Origin, PayloadType, RtpMap, SessionDescription, Timing, answer,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// A field without whitespace, as in `o=`, `c=`, `m=` tokens.
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._/+-]{1,12}"
}

/// Free text without leading or trailing whitespace (the parser trims trailing whitespace).
fn text() -> impl Strategy<Value = String> {
    "([!-~]([ -~]{0,16}[!-~])?)?"
}

fn payload_type() -> impl Strategy<Value = PayloadType> {
    (0u8..=127).prop_map(|v| PayloadType::new(v).expect("in range"))
}

fn connection() -> impl Strategy<Value = Connection> {
    (token(), token(), token()).prop_map(|(net_type, addr_type, address)| Connection {
        net_type,
        addr_type,
        address,
    })
}

fn origin() -> impl Strategy<Value = Origin> {
    (token(), any::<u64>(), any::<u64>(), connection()).prop_map(
        |(username, session_id, session_version, c)| Origin {
            username,
            session_id,
            session_version,
            net_type: c.net_type,
            addr_type: c.addr_type,
            address: c.address,
        },
    )
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    ("[A-Z]{1,4}", any::<u64>()).prop_map(|(bw_type, value)| Bandwidth { bw_type, value })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive)
    ]
}

fn attribute() -> impl Strategy<Value = Attribute> {
    let rtpmap = (
        payload_type(),
        "[A-Za-z0-9-]{1,15}",
        any::<u32>(),
        option::of(any::<u8>()),
    )
        .prop_map(|(payload_type, encoding, clock_rate, channels)| RtpMap {
            payload_type,
            encoding,
            clock_rate,
            channels,
        });
    let fmtp =
        (payload_type(), "[!-~]([ -~]{0,16}[!-~])?").prop_map(|(payload_type, parameters)| Fmtp {
            payload_type,
            parameters,
        });
    let crypto = (
        any::<u32>(),
        token(),
        token(),
        option::of("[!-~]{1,8}( [!-~]{1,8}){0,2}"),
    )
        .prop_map(|(tag, suite, key_params, session_params)| Crypto {
            tag,
            suite,
            key_params,
            session_params,
        });
    // `x-` keeps generated names clear of the attributes that parse into typed variants.
    let other = ("x-[a-z0-9-]{0,10}", option::of(text()))
        .prop_map(|(name, value)| Attribute::Other { name, value });
    prop_oneof![
        rtpmap.prop_map(Attribute::RtpMap),
        fmtp.prop_map(Attribute::Fmtp),
        any::<u32>().prop_map(Attribute::Ptime),
        any::<u32>().prop_map(Attribute::MaxPtime),
        direction().prop_map(Attribute::Direction),
        Just(Attribute::RtcpMux),
        crypto.prop_map(Attribute::Crypto),
        other,
    ]
}

/// Extra lines of the given kinds, in the order the printer writes them (as the parser sorts).
fn extra_lines(kinds: &'static str, in_media: bool) -> impl Strategy<Value = Vec<Line>> {
    let kinds: Vec<char> = kinds.chars().collect();
    vec((proptest::sample::select(kinds), text()), 0..4).prop_map(move |lines| {
        let mut lines: Vec<Line> = lines
            .into_iter()
            .map(|(kind, value)| Line { kind, value })
            .collect();
        let early: &[char] = if in_media {
            &['i']
        } else {
            &['i', 'u', 'e', 'p']
        };
        lines.sort_by_key(|line| !early.contains(&line.kind));
        lines
    })
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        (
            "[a-z]{1,10}",
            any::<u16>(),
            option::of(any::<u16>()),
            token(),
            vec(token(), 0..5),
        ),
        (
            option::of(connection()),
            vec(bandwidth(), 0..2),
            vec(attribute(), 0..6),
            extra_lines("ikx", true),
        ),
    )
        .prop_map(
            |(
                (media, port, port_count, proto, formats),
                (connection, bandwidths, attributes, extra_lines),
            )| {
                MediaDescription {
                    media,
                    port,
                    port_count,
                    proto,
                    formats,
                    connection,
                    bandwidths,
                    attributes,
                    extra_lines,
                }
            },
        )
}

fn timing() -> impl Strategy<Value = Timing> {
    (
        any::<u64>(),
        any::<u64>(),
        vec("[0-9][0-9a-z ]{0,10}[0-9a-z]", 0..2),
    )
        .prop_map(|(start, stop, repeats)| Timing {
            start,
            stop,
            repeats,
        })
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        (
            origin(),
            text(),
            option::of(connection()),
            vec(bandwidth(), 0..2),
            vec(timing(), 1..3),
        ),
        (
            vec(attribute(), 0..5),
            vec(media(), 0..4),
            extra_lines("iuepzky", false),
        ),
    )
        .prop_map(
            |(
                (origin, session_name, connection, bandwidths, timing),
                (attributes, media, extra_lines),
            )| {
                SessionDescription {
                    origin,
                    session_name,
                    connection,
                    bandwidths,
                    timing,
                    attributes,
                    media,
                    extra_lines,
                }
            },
        )
}

/// Lines that look like SDP, to reach past the first-line checks.
fn sdp_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "[vosctmbar]=[ -~]{0,30}",
        "m=(audio|video) [0-9]{1,6} RTP/(AVP|SAVP) [0-9 ]{0,12}",
        "c=IN IP[46] [0-9a-f.:]{1,15}",
        "a=(rtpmap|fmtp|ptime|maxptime|crypto|sendonly|rtcp-mux):[ -~]{0,20}",
        "[ -~]{0,10}",
    ];
    vec(line, 0..20).prop_map(|lines| {
        let mut text = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
        text.push_str(&lines.join("\r\n"));
        text.into_bytes()
    })
}

proptest! {
    #[test]
    fn printed_model_parses_back_to_the_same_model(sdp in session()) {
        let printed = sdp.to_string();
        prop_assert_eq!(SessionDescription::parse(printed.as_bytes()), Ok(sdp));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..512)) {
        let _ = SessionDescription::parse(&bytes);
    }

    #[test]
    fn parse_and_answer_never_panic_on_sdp_like_input(bytes in sdp_like()) {
        if let Ok(offer) = SessionDescription::parse(&bytes) {
            let reprinted = offer.to_string();
            prop_assert_eq!(SessionDescription::parse(reprinted.as_bytes()), Ok(offer.clone()));
            let local = LocalMedia::new("198.51.100.1".parse().expect("literal"), 30000, 1);
            if let Ok(answer) = answer(&offer, &local, &AnswerPolicy::default()) {
                prop_assert_eq!(answer.sdp.media.len(), offer.media.len());
                prop_assert_eq!(answer.sdp.media.iter().filter(|m| m.port != 0).count(), 1);
            }
        }
    }
}
