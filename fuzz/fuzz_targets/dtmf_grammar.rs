//! DTMF grammars (`herald_grammar`): SRGS XML, builtin references and menu choices, matched
//! key by key.
//!
//! Input layout: grammar text, then optionally a NUL byte and the keys (each byte modulo 16
//! picks one of the sixteen DTMF keys, at most 48 of them). The text is tried as an SRGS
//! document (`Grammar::parse_srgs`), as a builtin reference (`Grammar::builtin`) and as a
//! comma-separated list of menu choices (`Grammar::choices`). Without a NUL the keys are a few
//! fixed sequences. Non-UTF-8 bytes in the text are replaced.
//!
//! Asserts, for every grammar that loads and every prefix of the keys:
//! * loading and matching never panic;
//! * a `Matcher` fed the keys one at a time is in the same state as `Grammar::state` of the
//!   prefix (before any key, too);
//! * `interpret` gives a value exactly when the state is `Complete`, and its utterance is the
//!   keys written out;
//! * a dead end stays dead: after `NoMatch` or `Complete { can_extend: false }` every longer
//!   sequence is `NoMatch`;
//! * a speech grammar (`is_dtmf` false) never matches.

#![no_main]

use herald_grammar::{Grammar, Key, MatchState};
use libfuzzer_sys::fuzz_target;

const MAX_KEYS: usize = 48;

/// Sequences tried when the input names no keys: every single key, and a few longer ones
/// that the seeds' grammars accept or nearly accept.
const FIXED: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "*",
    "#",
    "A",
    "B",
    "C",
    "D",
    "12",
    "123#",
    "1234",
    "20260229",
    "2359",
    "12*50",
    "8005551234*789",
    "##",
    "*9",
    "1*",
    "AAA",
];

fuzz_target!(|data: &[u8]| {
    let (text, keys) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    let text = String::from_utf8_lossy(text);
    let sequences: Vec<Vec<Key>> = match keys {
        Some(bytes) => vec![
            bytes
                .iter()
                .take(MAX_KEYS)
                .map(|b| Key::ALL[usize::from(b % 16)])
                .collect(),
        ],
        None => FIXED
            .iter()
            .map(|s| Key::parse_sequence(s).expect("fixed sequences are DTMF keys"))
            .collect(),
    };

    let mut grammars = Vec::new();
    if let Ok(grammar) = Grammar::parse_srgs(&text) {
        grammars.push(grammar);
    }
    if let Ok(grammar) = Grammar::builtin(&text) {
        grammars.push(grammar);
    }
    if text.len() <= 512 {
        let choices = text
            .split(',')
            .enumerate()
            .map(|(index, dtmf)| (dtmf, index.to_string()));
        if let Ok(grammar) = Grammar::choices(choices) {
            grammars.push(grammar);
        }
    }
    for grammar in &grammars {
        let _ = format!("{grammar:?}");
        for keys in &sequences {
            check(grammar, keys);
        }
    }
});

/// Checks one grammar against every prefix of `keys`.
fn check(grammar: &Grammar, keys: &[Key]) {
    let mut matcher = grammar.matcher();
    let mut previous: Option<MatchState> = None;
    for end in 0..=keys.len() {
        let prefix = &keys[..end];
        if end > 0 {
            let pushed = matcher.push(keys[end - 1]);
            assert_eq!(pushed, matcher.state(), "push returned another state");
        }
        let state = grammar.state(prefix);
        assert_eq!(
            matcher.state(),
            state,
            "matcher and state disagree after {:?}",
            Key::sequence_string(prefix)
        );
        if !grammar.is_dtmf() {
            assert_eq!(state, MatchState::NoMatch, "a speech grammar matched keys");
        }
        let interpretation = grammar.interpret(prefix);
        assert_eq!(
            interpretation.is_some(),
            matches!(state, MatchState::Complete { .. }),
            "interpret and state ({state:?}) disagree on {:?}",
            Key::sequence_string(prefix)
        );
        if let Some(interpretation) = interpretation {
            assert_eq!(interpretation.utterance, Key::sequence_string(prefix));
        }
        if matches!(
            previous,
            Some(MatchState::NoMatch | MatchState::Complete { can_extend: false })
        ) {
            assert_eq!(
                state,
                MatchState::NoMatch,
                "{:?} matches after a dead end ({previous:?})",
                Key::sequence_string(prefix)
            );
        }
        previous = Some(state);
    }
}
