//! VoiceXML 2.0 Appendix P builtin DTMF grammars.

use herald_grammar::{Grammar, GrammarError, Key, MatchState, Value};

const COMPLETE: MatchState = MatchState::Complete { can_extend: false };
const EXTENDABLE: MatchState = MatchState::Complete { can_extend: true };

fn keys(text: &str) -> Vec<Key> {
    Key::parse_sequence(text).expect("test key sequence")
}

fn builtin(uri: &str) -> Grammar {
    Grammar::builtin(uri).expect("valid builtin")
}

fn state(g: &Grammar, text: &str) -> MatchState {
    g.state(&keys(text))
}

fn value(g: &Grammar, text: &str) -> Option<Value> {
    g.interpret(&keys(text)).map(|i| i.value)
}

#[test]
fn boolean_default_keys() {
    let g = builtin("boolean");
    assert!(g.is_dtmf());
    assert_eq!(state(&g, ""), MatchState::Incomplete);
    assert_eq!(state(&g, "1"), COMPLETE);
    assert_eq!(state(&g, "2"), COMPLETE);
    assert_eq!(state(&g, "3"), MatchState::NoMatch);
    assert_eq!(state(&g, "11"), MatchState::NoMatch);
    assert_eq!(value(&g, "1"), Some(Value::Bool(true)));
    assert_eq!(value(&g, "2"), Some(Value::Bool(false)));
    assert_eq!(value(&g, "3"), None);
}

#[test]
fn boolean_parameters() {
    let g = builtin("builtin:dtmf/boolean?y=7;n=9");
    assert_eq!(value(&g, "7"), Some(Value::Bool(true)));
    assert_eq!(value(&g, "9"), Some(Value::Bool(false)));
    assert_eq!(state(&g, "1"), MatchState::NoMatch);
    let g = builtin("boolean?y=*");
    assert_eq!(value(&g, "*"), Some(Value::Bool(true)));
    assert_eq!(value(&g, "2"), Some(Value::Bool(false)));
    for bad in [
        "boolean?y=12",
        "boolean?y=2",
        "boolean?y=x",
        "boolean?yes=1",
        "boolean?y",
    ] {
        assert!(
            matches!(
                Grammar::builtin(bad),
                Err(GrammarError::BadParameter { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn date() {
    let g = builtin("date");
    assert_eq!(state(&g, "2001"), MatchState::Incomplete);
    assert_eq!(state(&g, "200103"), MatchState::Incomplete);
    assert_eq!(state(&g, "20010314"), COMPLETE);
    assert_eq!(value(&g, "20010314"), Some(Value::string("20010314")));
    assert_eq!(state(&g, "20011"), MatchState::Incomplete);
    assert_eq!(state(&g, "20012"), MatchState::NoMatch, "month 2x");
    assert_eq!(state(&g, "200113"), MatchState::NoMatch, "month 13");
    assert_eq!(state(&g, "200100"), MatchState::NoMatch, "month 00");
    assert_eq!(
        state(&g, "2001043"),
        MatchState::Incomplete,
        "April 30 still possible"
    );
    assert_eq!(state(&g, "20010431"), MatchState::NoMatch, "April 31");
    assert_eq!(state(&g, "20010400"), MatchState::NoMatch, "day 00");
    assert_eq!(state(&g, "20010132"), MatchState::NoMatch);
    assert_eq!(state(&g, "200101310"), MatchState::NoMatch, "nine digits");
    assert_eq!(state(&g, "2001*"), MatchState::NoMatch);
    assert!(Grammar::builtin("date?format=x").is_err());
}

#[test]
fn digits_without_parameters() {
    let g = builtin("digits");
    assert_eq!(state(&g, ""), MatchState::Incomplete);
    assert_eq!(state(&g, "0"), EXTENDABLE);
    assert_eq!(state(&g, "0123456789012345"), EXTENDABLE);
    assert_eq!(state(&g, "12*"), MatchState::NoMatch);
    assert_eq!(value(&g, "0042"), Some(Value::string("0042")));
}

#[test]
fn digits_min_and_max() {
    let g = builtin("digits?minlength=3;maxlength=5");
    assert_eq!(state(&g, "12"), MatchState::Incomplete);
    assert_eq!(state(&g, "123"), EXTENDABLE);
    assert_eq!(state(&g, "1234"), EXTENDABLE);
    assert_eq!(state(&g, "12345"), COMPLETE);
    assert_eq!(state(&g, "123456"), MatchState::NoMatch);
    assert_eq!(value(&g, "12"), None);
    let g = builtin("digits?maxlength=2");
    assert_eq!(state(&g, "1"), EXTENDABLE);
    assert_eq!(state(&g, "12"), COMPLETE);
    let g = builtin("digits?minlength=2");
    assert_eq!(state(&g, "1"), MatchState::Incomplete);
    assert_eq!(state(&g, "123456789"), EXTENDABLE);
}

#[test]
fn digits_length() {
    let g = builtin("builtin:dtmf/digits?length=4");
    assert_eq!(state(&g, "123"), MatchState::Incomplete);
    assert_eq!(state(&g, "1234"), COMPLETE);
    assert_eq!(state(&g, "12345"), MatchState::NoMatch);
    assert_eq!(value(&g, "1234"), Some(Value::string("1234")));
}

#[test]
fn digits_bad_parameters() {
    for bad in [
        "digits?minlength=5;maxlength=3",
        "digits?length=x",
        "digits?length=-1",
        "digits?length=0",
        "digits?maxlength=0",
        "digits?length=4;minlength=2",
        "digits?minlength=1;minlength=2",
        "digits?min=3",
        "digits?length=",
        "digits?length=1.5",
    ] {
        let err = Grammar::builtin(bad).expect_err(bad);
        assert!(
            matches!(err, GrammarError::BadParameter { .. }),
            "{bad}: {err}"
        );
    }
    let message = Grammar::builtin("digits?minlength=5;maxlength=3")
        .expect_err("min > max")
        .to_string();
    assert!(
        message.contains("minlength is greater than maxlength"),
        "{message}"
    );
}

#[test]
fn currency() {
    let g = builtin("currency");
    assert_eq!(state(&g, ""), MatchState::Incomplete);
    assert_eq!(state(&g, "12"), EXTENDABLE);
    assert_eq!(state(&g, "12*"), MatchState::Incomplete);
    assert_eq!(state(&g, "12*5"), EXTENDABLE);
    assert_eq!(state(&g, "12*50"), COMPLETE);
    assert_eq!(state(&g, "12*505"), MatchState::NoMatch);
    assert_eq!(state(&g, "*5"), MatchState::NoMatch);
    assert_eq!(value(&g, "12"), Some(Value::string("12.00")));
    assert_eq!(value(&g, "12*5"), Some(Value::string("12.50")));
    assert_eq!(value(&g, "012*05"), Some(Value::string("12.05")));
    let g = builtin("currency?currency=EUR");
    assert_eq!(value(&g, "3*99"), Some(Value::string("EUR3.99")));
    assert!(Grammar::builtin("currency?currency=euro").is_err());
}

#[test]
fn number() {
    let g = builtin("number");
    assert_eq!(state(&g, "12"), EXTENDABLE);
    assert_eq!(state(&g, "12*"), MatchState::Incomplete);
    assert_eq!(state(&g, "12*5"), EXTENDABLE);
    assert_eq!(state(&g, "12*5*"), MatchState::NoMatch);
    assert_eq!(state(&g, "#"), MatchState::NoMatch);
    assert_eq!(value(&g, "12*5"), Some(Value::string("12.5")));
    assert_eq!(value(&g, "007"), Some(Value::string("7")));
    assert_eq!(value(&g, "0"), Some(Value::string("0")));
    assert!(Grammar::builtin("number?x=1").is_err());
}

#[test]
fn phone() {
    let g = builtin("phone");
    assert_eq!(state(&g, "8005551234"), EXTENDABLE);
    assert_eq!(state(&g, "8005551234*"), MatchState::Incomplete);
    assert_eq!(state(&g, "8005551234*789"), EXTENDABLE);
    assert_eq!(value(&g, "8005551234"), Some(Value::string("8005551234")));
    assert_eq!(
        value(&g, "8005551234*789"),
        Some(Value::string("8005551234x789"))
    );
    assert_eq!(state(&g, "*1"), MatchState::NoMatch);
}

#[test]
fn time() {
    let g = builtin("time");
    assert_eq!(state(&g, "0"), MatchState::Incomplete);
    assert_eq!(state(&g, "23"), MatchState::Incomplete);
    assert_eq!(state(&g, "24"), MatchState::NoMatch);
    assert_eq!(state(&g, "3"), MatchState::NoMatch);
    assert_eq!(state(&g, "096"), MatchState::NoMatch);
    assert_eq!(state(&g, "0930"), COMPLETE);
    assert_eq!(state(&g, "09300"), MatchState::NoMatch);
    assert_eq!(value(&g, "0930"), Some(Value::string("0930?")));
    assert_eq!(value(&g, "2115"), Some(Value::string("2115h")));
    assert_eq!(value(&g, "0015"), Some(Value::string("0015h")));
}

#[test]
fn uri_forms() {
    assert!(builtin("builtin:dtmf/time").is_dtmf());
    let voice = builtin("builtin:grammar/boolean");
    assert!(!voice.is_dtmf());
    assert_eq!(voice.state(&keys("1")), MatchState::NoMatch);
    assert!(voice.interpret(&keys("1")).is_none());
    for unknown in [
        "builtin:dtmf/colour",
        "colour",
        "builtin:voice/boolean",
        "Digits",
        "",
    ] {
        assert!(
            matches!(
                Grammar::builtin(unknown),
                Err(GrammarError::UnknownBuiltin(_))
            ),
            "{unknown:?}"
        );
    }
}

#[test]
fn utterance_is_the_keys() {
    let i = builtin("phone").interpret(&keys("12*3")).expect("match");
    assert_eq!(i.utterance, "12*3");
    assert!(i.script.is_none());
}

#[test]
fn matcher_agrees_with_state() {
    let g = builtin("digits?length=3");
    let mut m = g.matcher();
    assert_eq!(m.state(), MatchState::Incomplete);
    assert_eq!(m.push(Key::D1), MatchState::Incomplete);
    assert_eq!(m.push(Key::D2), MatchState::Incomplete);
    assert_eq!(m.push(Key::D3), COMPLETE);
    assert_eq!(m.push(Key::D4), MatchState::NoMatch);
    assert!(!format!("{m:?}").contains('1'));
}
