//! Secure IVR input on a recorded call: while a `herald:secure` field collects (a card number,
//! a PIN), the recording pauses. The recording's metadata and its sealed records show one gap
//! with reason `secure-input`, the audio in the gap is silence on both channels, and the
//! digit itself appears nowhere: not in the call record, the recording's metadata or export,
//! nor the log.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Herald, HeraldConfig, Sipp, TestDialplan, json, sipp_available};

const SIPP_SHARE: &str = "/usr/share/sip-tester";

/// Records, then asks for a secret digit in secure mode, then plays a prompt and hangs up.
const APPLICATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xmlns:herald="urn:herald:ivr">
  <form>
    <block>
      <herald:consent decision="accepted"/>
      <herald:recording action="start" reason="secure test"/>
    </block>
    <field name="pin" type="digits?length=1" herald:secure="true">
      <property name="timeout" value="10s"/>
      <prompt><audio src="prompt:welcome"/></prompt>
    </field>
    <block>
      <prompt bargein="false"><audio src="prompt:welcome"/></prompt>
      <disconnect/>
    </block>
  </form>
</vxml>
"#;

#[test]
fn secure_input_pauses_the_recording_and_its_digit_is_nowhere() {
    if !sipp_available() {
        return;
    }
    let seven = Path::new(SIPP_SHARE).join("dtmf_2833_7.pcap");
    if !seven.exists() {
        assert!(!common::in_ci(), "SIPp's captures are missing");
        return;
    }
    let herald = Herald::start(&HeraldConfig {
        dialplan: TestDialplan::Application(APPLICATION.to_owned()),
        ..HeraldConfig::default()
    });
    Sipp::new("uac_ivr_caller.xml")
        .file("key.pcap", &seven)
        .timeout(Duration::from_secs(40))
        .run(&herald)
        .assert_success("the caller");
    let recordings = herald.wait_for_recordings("a complete recording", |r| {
        r.iter().any(|r| r["state"] == "complete")
    });
    let id = recordings[0]["id"].as_str().unwrap().to_owned();
    let details = json(&herald.cli(&["recordings", "show", &id, "--json"]));
    let gaps = details["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{details}");
    assert_eq!(gaps[0]["reason"], "secure-input", "{details}");
    assert_eq!(gaps[0]["actor"], "ivr");
    let (start, end) = (
        gaps[0]["start_position"].as_u64().unwrap(),
        gaps[0]["end_position"].as_u64().expect("the gap closed"),
    );
    assert!(
        end > start + 8000,
        "the secure field listened for more than a second: {details}"
    );

    let identity = herald.recorder_key();
    let out = herald.data_dir().join("export");
    herald.export(&id, &identity, &out);
    let exported = json(&std::fs::read_to_string(out.join(format!("{id}.json"))).unwrap());
    let sealed: Vec<&str> = exported["sealed"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .filter(|k| k.starts_with("gap"))
        .collect();
    assert_eq!(sealed, ["gap-begin", "gap-end"], "{exported}");
    // Both channels are silent inside the gap (which spans the secure field's own prompt);
    // the prompt after it is recorded.
    let mut wav = hound::WavReader::open(out.join(format!("{id}.wav"))).unwrap();
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let inside =
        &samples[(start as usize * 2).min(samples.len())..(end as usize * 2).min(samples.len())];
    assert!(!inside.is_empty(), "the gap is inside the recording");
    assert!(
        inside.iter().all(|&s| s == 0),
        "audio was recorded during secure input"
    );
    assert!(
        samples[(end as usize * 2).min(samples.len())..]
            .iter()
            .any(|&s| s.unsigned_abs() > 1000),
        "the prompt after the secure field is recorded"
    );

    // The digit is nowhere.
    let call = herald.wait_for_single_call("the call ended", |c| c["state"] == "ended");
    let texts = [
        call.to_string(),
        details.to_string(),
        exported.to_string(),
        herald.log(),
    ];
    for text in &texts {
        assert!(
            !text.contains("\"7\"") && !text.contains("digit=7"),
            "{text}"
        );
    }
    assert!(
        call["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["detail"].to_string().contains("secure")),
        "the call record says secure input was collected: {call}"
    );
}

/// With `recorder.enabled = false` nothing is recorded, whatever the document asks, and the
/// call record says so.
#[test]
fn with_recording_off_nothing_is_recorded_and_the_record_says_so() {
    if !sipp_available() {
        return;
    }
    let herald = Herald::start(&HeraldConfig {
        dialplan: TestDialplan::Application(common::RECORDED_WELCOME.to_owned()),
        extra: vec!["[recorder]\nenabled = false".to_owned()],
        ..HeraldConfig::default()
    });
    Sipp::new("uac_media.xml")
        .set("rtp_port", "40000")
        .run(&herald)
        .assert_success("the caller");
    let call = herald.wait_for_call_record("the recording decision", |c| {
        c["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "recording-decision"))
    });
    let decision = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "recording-decision")
        .unwrap();
    assert_eq!(decision["detail"]["recorded"], false, "{call}");
    assert!(herald.recordings().is_empty());
    assert!(!herald.data_dir().join("recordings").exists());
}
