//! SIP trunks on loopback: a carrier's SBC on an IP-authenticated trunk (127.0.0.2), a source
//! nobody configured (127.0.0.3), and the carrier's side of outbound calls (a UDP socket the
//! test owns, which answers every INVITE 486). Calls from the trunk are taken with their
//! national numbers turned into E.164 and the caller's number from P-Asserted-Identity, a
//! withheld one stays withheld; calls from anywhere else are refused before any dialplan
//! work. Whatever a caller sends (a number to dial, a REFER), Herald dials only what a trunk's
//! `outbound_numbers` allow. A registering trunk: Herald answers the carrier's challenge and
//! refreshes its registration.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::{Herald, HeraldConfig, Sipp, TestDialplan, sipp_available};
use serde_json::Value;

const TRUNK_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The caller's number as the carrier asserts it, and as Herald must record it.
const CALLER: &str = "+4930111222";
const BOUND: Duration = Duration::from_secs(60);

/// Transfers to the number that was dialled (`session.herald.called`, E.164), then waits for
/// the caller to hang up; what the transfer did is in the call record.
fn dial_through_application() -> String {
    r##"<?xml version="1.0" encoding="UTF-8"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <form id="dial">
    <transfer name="call" bridge="true" connecttimeout="10s"
              destexpr="'tel:' + session.herald.called"/>
    <block><goto next="#wait"/></block>
    <catch event="error.connection"><goto next="#wait"/></catch>
  </form>
  <form id="wait">
    <field name="key" type="digits?length=1">
      <property name="timeout" value="60s"/>
      <noinput><reprompt/></noinput>
    </field>
  </form>
</vxml>
"##
    .to_owned()
}

/// The carrier's side of outbound calls: every INVITE gets 486; returns the INVITEs seen, in
/// order, until `count` arrived.
fn carrier(socket: &UdpSocket, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 65535];
    socket
        .set_read_timeout(Some(BOUND))
        .expect("a read timeout");
    while seen.len() < count {
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            break;
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !text.starts_with("INVITE ") {
            continue; // the ACK of our 486
        }
        let header = |name: &str| {
            text.lines()
                .find(|l| {
                    l.to_ascii_lowercase()
                        .starts_with(&format!("{}:", name.to_ascii_lowercase()))
                })
                .unwrap_or("")
                .to_owned()
        };
        let busy = format!(
            "SIP/2.0 486 Busy Here\r\n{}\r\n{}\r\n{};tag=carrier\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
            header("Via"),
            header("From"),
            header("To"),
            header("Call-ID"),
            header("CSeq"),
        );
        socket.send_to(busy.as_bytes(), from).expect("answer 486");
        seen.push(text);
    }
    seen
}

fn events<'v>(call: &'v Value, kind: &str) -> Vec<&'v Value> {
    call["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["kind"] == kind)
                .map(|e| &e["detail"])
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn trunks_take_known_sources_only_and_dial_only_allowed_numbers() {
    if !sipp_available() {
        return;
    }
    let carrier_socket = UdpSocket::bind("127.0.0.1:0").expect("the carrier's socket");
    let carrier_addr = carrier_socket.local_addr().expect("an address");
    let herald = Herald::start(&HeraldConfig {
        dialplan: TestDialplan::Application(dial_through_application()),
        extra: vec![format!(
            "[[trunks]]\nname = \"carrier\"\naddress = \"{carrier_addr}\"\nallowed_sources = [\"{TRUNK_SOURCE}/32\"]\noutbound_numbers = [\"+4930*\"]\ncountry_code = \"49\"\n"
        )],
        ..HeraldConfig::default()
    });
    std::thread::scope(|scope| {
        let dialled = scope.spawn(|| carrier(&carrier_socket, 1));

        // A source nobody configured: 403, and no call record.
        Sipp::new("trunk_invite_in.xml")
            .local_ip(STRANGER)
            .service("030123456")
            .set("caller", CALLER)
            .set("expect", "rejected")
            .set("call_ms", "0")
            .run(&herald)
            .assert_success("a call from an unknown source");

        // From the trunk: a national number no trunk may dial (Munich) is refused.
        Sipp::new("trunk_invite_in.xml")
            .local_ip(TRUNK_SOURCE)
            .service("0899876543")
            .set("caller", CALLER)
            .set("expect", "accepted")
            .set("call_ms", "3000")
            .run(&herald)
            .assert_success("a call to a number no trunk may dial");
        let munich = herald.wait_for_call_where(
            "the Munich call",
            |c| c["callee"] == "+49899876543",
            |c| c["state"] == "ended",
        );
        assert_eq!(
            munich["caller"], CALLER,
            "the asserted number, in E.164: {munich:#}"
        );
        assert_eq!(
            events(&munich, "transfer-refused")[0]["refused"],
            "number-not-allowed",
            "{munich:#}"
        );

        // A caller asks Herald to dial out with REFER: refused with 403 in the NOTIFY.
        Sipp::new("trunk_refer_out.xml")
            .local_ip(TRUNK_SOURCE)
            .service("0899876543")
            .set("caller", CALLER)
            .set("target", "tel:+4930555666")
            .run(&herald)
            .assert_success("a caller's REFER");

        // An allowed number (Berlin) is dialled over the trunk, withheld identity kept.
        Sipp::new("trunk_invite_in.xml")
            .local_ip(TRUNK_SOURCE)
            .service("030123456")
            .set("caller", CALLER)
            .set("expect", "accepted")
            .set("call_ms", "4000")
            .run(&herald)
            .assert_success("a call to an allowed number");
        let invites = dialled.join().expect("the carrier");
        assert_eq!(invites.len(), 1, "one INVITE reached the carrier");
        let invite = &invites[0];
        let first_line = invite.lines().next().unwrap_or("");
        assert!(
            first_line.starts_with("INVITE sip:+4930123456@"),
            "the first (and only) number dialled is the allowed one: {invite}"
        );
        let lower = invite.to_ascii_lowercase();
        assert!(lower.contains("\r\nprivacy: id"), "{invite}");
        assert!(
            lower.contains(&format!("p-asserted-identity: <sip:{CALLER}@")),
            "{invite}"
        );
        assert!(
            lower.contains("from: \"anonymous\" <sip:anonymous@anonymous.invalid>"),
            "a withheld caller stays withheld: {invite}"
        );
    });
    let calls = herald.calls();
    assert_eq!(
        calls.len(),
        3,
        "no record of the refused source: {calls:#?}"
    );
    let berlin = herald.wait_for_call_where(
        "the Berlin call",
        |c| c["callee"] == "+4930123456",
        |c| c["state"] == "ended" && !events(c, "leg-busy").is_empty(),
    );
    assert_eq!(events(&berlin, "transfer")[0]["to"], "number", "{berlin:#}");
    let refused: Vec<Value> = calls
        .iter()
        .map(|c| herald.call(c["id"].as_str().expect("an id")))
        .filter(|c| !events(c, "refer-refused").is_empty())
        .collect();
    assert_eq!(refused.len(), 1, "the caller's REFER was refused");
    assert_eq!(
        events(&refused[0], "refer-refused")[0]["refused"],
        "not-an-agent"
    );
}

#[test]
fn a_registering_trunk_answers_the_challenge_and_refreshes() {
    if !sipp_available() {
        return;
    }
    let registrar = Sipp::new("trunk_register.xml")
        .set("user", "herald-account")
        .set("password", "trunk-secret")
        .set("realm", "carrier.test")
        .set("expires", "4")
        .recv_timeout(Duration::from_secs(30))
        .timeout(BOUND)
        .spawn_server();
    let address: SocketAddr = registrar.local_addr();
    let herald = Herald::start(&HeraldConfig {
        extra: vec![format!(
            "[[trunks]]\nname = \"carrier\"\naddress = \"{address}\"\nusername = \"herald-account\"\npassword = \"trunk-secret\"\nregister = true\nregister_expires = 60\n"
        )],
        ..HeraldConfig::default()
    });
    registrar
        .wait(BOUND)
        .assert_success("the carrier's registrar (challenge, then a refresh)");
    let log = herald.wait_for_log("registered with the trunk");
    assert!(log.contains("trunk=carrier"), "{log}");
    assert!(
        !log.contains("trunk-secret"),
        "the trunk password stays out of the log"
    );
}
