//! The SDP parser, printer and offer/answer.
//!
//! Asserts:
//! * `SessionDescription::parse` never panics;
//! * a parsed description prints (`to_string`) to text that parses back into an equal
//!   description;
//! * `answer` (the input as a peer's offer) and `accept_answer` (the input as the peer's answer
//!   to our offer) never panic, over IPv4 and IPv6 local addresses;
//! * an answer we produce is itself SDP that parses back into the same description.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use herald_sdp::{AnswerPolicy, LocalMedia, SessionDescription, accept_answer, answer, offer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse(data) else {
        return;
    };
    let printed = sdp.to_string();
    let reparsed = SessionDescription::parse(printed.as_bytes())
        .unwrap_or_else(|e| panic!("printed SDP does not parse back: {e:?}\n{printed}"));
    assert_eq!(reparsed, sdp, "print/parse round trip\n{printed}");

    let policy = AnswerPolicy::default();
    let addresses = [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10)),
    ];
    for address in addresses {
        let local = LocalMedia::new(address, 40_000, 42);
        if let Ok(ours) = answer(&sdp, &local, &policy) {
            let text = ours.sdp.to_string();
            let back = SessionDescription::parse(text.as_bytes())
                .unwrap_or_else(|e| panic!("our answer is not valid SDP: {e:?}\n{text}"));
            assert_eq!(back, ours.sdp, "our answer does not round-trip\n{text}");
        }
        let _ = accept_answer(&offer(&local, &policy), &sdp);
    }
});
