use std::time::Duration;

use herald_grammar::Value;

use super::collect::value_literal;
use super::prompts::parse_duration;
use super::*;

#[test]
fn durations_parse_as_css_times() {
    assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
    assert_eq!(parse_duration(" 250ms "), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    for bad in ["", "5", "s", "-1s", "1e9s", "NaNs", "infs", "5 min"] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn grammar_values_become_literals() {
    assert_eq!(value_literal(&Value::string("a\"b")), r#""a\"b""#);
    assert_eq!(value_literal(&Value::Number(4.5)), "4.5");
    assert_eq!(value_literal(&Value::Number(f64::INFINITY)), "NaN");
    assert_eq!(value_literal(&Value::Bool(true)), "true");
    assert_eq!(
        value_literal(&Value::Object(vec![
            ("k".into(), Value::string("v")),
            ("n".into(), Value::Number(1.0)),
        ])),
        r#"({"k": "v", "n": 1})"#
    );
}

#[test]
fn script_errors_map_to_events() {
    assert_eq!(
        Thrown::from(ScriptError::Budget).name,
        "error.herald.script.budget"
    );
    assert_eq!(Thrown::from(ScriptError::Memory).name, "error.noresource");
    assert_eq!(
        Thrown::from(ScriptError::Thrown("x".into())).name,
        "error.semantic"
    );
}

#[test]
fn redaction_blanks_every_secure_value() {
    let mut interpreter =
        Interpreter::new(SessionConfig::default(), "http://ivr.test/a.vxml").expect("session");
    interpreter.secure_values = vec!["1234".into(), String::new()];
    assert_eq!(
        interpreter.redact("pin 1234, again 1234"),
        "pin [secure], again [secure]"
    );
    assert_eq!(interpreter.redact("nothing"), "nothing");
}

#[test]
fn a_new_session_asks_for_its_first_document() {
    let mut interpreter =
        Interpreter::new(SessionConfig::default(), "http://ivr.test/a.vxml#start")
            .expect("session");
    match interpreter.poll_output() {
        Some(Output::Fetch(request)) => {
            assert_eq!(request.uri, "http://ivr.test/a.vxml");
            assert_eq!(request.kind, FetchKind::Document);
            assert_eq!(request.referrer, None);
            assert_eq!(request.timeout, Timeouts::default().fetch);
        }
        other => panic!("{other:?}"),
    }
    assert!(interpreter.poll_output().is_none());
    assert!(!interpreter.is_finished());
}

#[test]
fn transfer_outcome_names_round_trip() {
    use crate::output::TransferOutcome;
    for name in [
        "busy",
        "noanswer",
        "network_busy",
        "near_end_disconnect",
        "far_end_disconnect",
        "network_disconnect",
        "maxtime_disconnect",
        "unknown",
        "error.connection.noresource",
    ] {
        let outcome = TransferOutcome::from_name(name).expect("a known outcome");
        assert_eq!(outcome.as_str(), name);
    }
    assert_eq!(TransferOutcome::from_name("nope"), None);
}
