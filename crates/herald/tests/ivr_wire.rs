//! The shipped recording-disclosure application on the wire: SIPp callers reach it through
//! the shipped dialplan by called number (German and French routes), hear the disclosure in
//! their language, and either object with an RFC 4733 "9" (SIPp's own capture) or say nothing.
//! The call records show the route, the prompts played in that language, the disclosure
//! evidence, the caller's decision and whether recording started.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Herald, HeraldConfig, Sipp, TestDialplan, sipp_available};
use serde_json::Value;

/// SIPp's shipped RFC 4733 captures (Debian package sip-tester).
const SIPP_SHARE: &str = "/usr/share/sip-tester";

fn events(call: &Value) -> &[Value] {
    call["events"].as_array().map_or(&[], Vec::as_slice)
}

fn find<'a>(call: &'a Value, kind: &str) -> Vec<&'a Value> {
    events(call).iter().filter(|e| e["kind"] == kind).collect()
}

/// Waits until the call with this called number has ended and its session has finished.
fn finished_call(herald: &Herald, callee: &str) -> Value {
    herald.wait_for_call_where(
        "the call ended with its IVR outcome",
        |c| c["callee"] == callee,
        |c| c["state"] == "ended" && events(c).iter().any(|e| e["kind"] == "ivr-exit"),
    )
}

#[test]
fn disclosure_calls_in_two_languages_record_the_callers_decision() {
    if !sipp_available() {
        return;
    }
    let nine = Path::new(SIPP_SHARE).join("dtmf_2833_9.pcap");
    let no_key = Path::new(SIPP_SHARE).join("g711a.pcap");
    if !nine.exists() || !no_key.exists() {
        assert!(
            !common::in_ci(),
            "SIPp's captures are missing from {SIPP_SHARE}"
        );
        eprintln!("skipping: SIPp's captures are missing from {SIPP_SHARE}");
        return;
    }
    let herald = Herald::start(&HeraldConfig {
        dialplan: TestDialplan::Shipped,
        ..HeraldConfig::default()
    });
    // Both callers at once: a German caller objects during the disclosure, a French caller
    // lets it play out and says nothing.
    std::thread::scope(|scope| {
        let german = scope.spawn(|| {
            Sipp::new("uac_ivr_caller.xml")
                .service("+493012345678")
                .file("key.pcap", &nine)
                .timeout(Duration::from_secs(60))
                .run(&herald)
        });
        let french = scope.spawn(|| {
            Sipp::new("uac_ivr_caller.xml")
                .service("+33123456789")
                .file("key.pcap", &no_key)
                .timeout(Duration::from_secs(60))
                .run(&herald)
        });
        german
            .join()
            .expect("German caller")
            .assert_success("the German caller");
        french
            .join()
            .expect("French caller")
            .assert_success("the French caller");
    });

    let german = finished_call(&herald, "+493012345678");
    assert_eq!(german["route"], "de", "{german}");
    let prompts: Vec<&str> = find(&german, "ivr-prompt")
        .iter()
        .filter_map(|e| e["detail"]["src"].as_str())
        .collect();
    assert_eq!(
        prompts,
        [
            "prompt:welcome",
            "prompt:disclosure",
            "prompt:optout-confirmed",
            "prompt:connecting",
            "prompt:no-agents"
        ],
        "{german}"
    );
    assert!(
        find(&german, "ivr-prompt")
            .iter()
            .all(|e| e["detail"]["language"] == "de-DE"),
        "every prompt in German: {german}"
    );
    let evidence = find(&german, "disclosure-played");
    assert_eq!(evidence.len(), 1, "{german}");
    assert_eq!(evidence[0]["detail"]["prompt"], "recording-disclosure");
    assert_eq!(evidence[0]["detail"]["language"], "de-DE");
    assert_eq!(
        evidence[0]["detail"]["completed"], false,
        "the 9 barged into the disclosure"
    );
    let dtmf = find(&german, "dtmf");
    assert_eq!(dtmf.len(), 1, "{german}");
    assert_eq!(dtmf[0]["detail"]["method"], "rfc4733");
    let consent = find(&german, "ivr-consent");
    assert_eq!(consent.len(), 1, "{german}");
    assert_eq!(consent[0]["detail"]["decision"], "opted-out");
    assert!(
        find(&german, "recording").is_empty(),
        "nothing asked to record the objecting caller: {german}"
    );
    let decision = find(&german, "recording-decision");
    assert_eq!(decision[0]["detail"]["recorded"], false, "{german}");
    assert_eq!(decision[0]["detail"]["consent"], "opted-out");
    let exit = find(&german, "ivr-exit");
    assert_eq!(exit[0]["detail"]["value"], "no-agents", "{german}");
    // The hang-up came from Herald, after the goodbye message.
    assert_eq!(german["hangup_cause"], "local-hangup", "{german}");

    let french = finished_call(&herald, "+33123456789");
    assert_eq!(french["route"], "fr", "{french}");
    let evidence = find(&french, "disclosure-played");
    assert_eq!(evidence.len(), 1, "{french}");
    assert_eq!(evidence[0]["detail"]["language"], "fr-FR");
    assert_eq!(
        evidence[0]["detail"]["completed"], true,
        "the disclosure played to its end"
    );
    assert!(find(&french, "dtmf").is_empty(), "{french}");
    assert!(
        find(&french, "ivr-input-event")
            .iter()
            .any(|e| e["detail"]["event"] == "noinput"),
        "{french}"
    );
    let consent = find(&french, "ivr-consent");
    assert_eq!(consent[0]["detail"]["decision"], "accepted", "{french}");
    let recording = find(&french, "recording");
    assert_eq!(recording.len(), 1, "{french}");
    assert_eq!(recording[0]["detail"]["action"], "start");
    assert_eq!(recording[0]["detail"]["applied"], true, "{french}");
    let decision = find(&french, "recording-decision");
    assert_eq!(decision[0]["detail"]["recorded"], true, "{french}");
    assert!(
        find(&french, "ivr-prompt")
            .iter()
            .any(|e| e["detail"]["src"] == "prompt:recording-continues"
                && e["detail"]["language"] == "fr-FR"),
        "{french}"
    );
}

/// A document that loops forever: the call is answered, the session is stopped by its step
/// budget, the call record says why, Herald hangs up, and the next call is served as usual.
#[test]
fn a_looping_application_ends_its_call_and_harms_no_other() {
    if !sipp_available() {
        return;
    }
    let no_key = Path::new(SIPP_SHARE).join("g711a.pcap");
    if !no_key.exists() {
        assert!(
            !common::in_ci(),
            "SIPp's captures are missing from {SIPP_SHARE}"
        );
        return;
    }
    let looping = r##"<?xml version="1.0"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
  <form id="again"><block><goto next="#again"/></block></form>
</vxml>
"##;
    let herald = Herald::start(&HeraldConfig {
        dialplan: TestDialplan::Application(looping.to_owned()),
        ..HeraldConfig::default()
    });
    for call in ["first", "second"] {
        Sipp::new("uac_play_pcap.xml")
            .service(call)
            .file("capture.pcap", &no_key)
            .run(&herald)
            .assert_success("a caller of a looping application");
        let record = finished_call(&herald, call);
        let exit = find(&record, "ivr-exit");
        assert_eq!(exit[0]["detail"]["outcome"], "error", "{record}");
        assert_eq!(exit[0]["detail"]["event"], "error.herald.steps", "{record}");
        assert!(
            exit[0]["detail"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("app.vxml:3:")),
            "the message names the place: {record}"
        );
        assert_eq!(record["hangup_cause"], "local-hangup", "{record}");
        // Thousands of dialogs entered in that loop: the record keeps the first 2,000 steps
        // of the path and says it stopped there.
        let path = events(&record)
            .iter()
            .filter(|e| {
                e["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("ivr-dialog"))
            })
            .count();
        assert!((1_900..2_000).contains(&path), "{path} dialog events");
        assert_eq!(find(&record, "ivr-path-truncated").len(), 1);
    }
}
