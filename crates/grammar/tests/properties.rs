//! Property tests: no input makes matching panic, hang or disagree with itself.

use herald_grammar::{Grammar, Key, MatchState};
use proptest::prelude::*;

fn any_key() -> impl Strategy<Value = Key> {
    proptest::sample::select(Key::ALL.to_vec())
}

fn key_sequence(max: usize) -> impl Strategy<Value = Vec<Key>> {
    proptest::collection::vec(any_key(), 0..max)
}

const BUILTINS: [&str; 10] = [
    "boolean",
    "boolean?y=#;n=*",
    "date",
    "digits",
    "digits?minlength=2;maxlength=4",
    "currency",
    "currency?currency=USD",
    "number",
    "phone",
    "time",
];

const SRGS: &str = r##"<grammar mode="dtmf" root="r" tag-format="semantics/1.0">
  <rule id="r">
    <one-of>
      <item><item repeat="1-"><ruleref uri="#d"/></item> #<tag>out.n = meta.current().text;</tag></item>
      <item>* <ruleref special="GARBAGE"/> 0</item>
      <item repeat="2-3">A</item>
    </one-of>
  </rule>
  <rule id="d"><one-of><item>1</item><item>2</item><item>3</item></one-of></rule>
</grammar>"##;

/// Keys that the generated grammars use, so that some sequences match.
fn grammar_keys() -> impl Strategy<Value = Vec<Key>> {
    let key = proptest::sample::select(vec![
        Key::D1,
        Key::D2,
        Key::D3,
        Key::D9,
        Key::Pound,
        Key::Star,
        Key::A,
    ]);
    proptest::collection::vec(key, 0..10)
}

/// Checks one grammar against one key sequence for internal consistency.
fn check_consistency(g: &Grammar, keys: &[Key]) -> Result<(), TestCaseError> {
    let state = g.state(keys);
    let mut matcher = g.matcher();
    for key in keys {
        matcher.push(*key);
    }
    prop_assert_eq!(matcher.state(), state);
    let interpretation = g.interpret(keys);
    prop_assert_eq!(
        interpretation.is_some(),
        matches!(state, MatchState::Complete { .. })
    );
    if let Some(i) = interpretation {
        prop_assert_eq!(i.utterance, Key::sequence_string(keys));
    }
    // A dead end stays dead; a match that cannot extend rejects any further key.
    let prefix_state = keys.split_last().map(|(_, prefix)| g.state(prefix));
    if matches!(
        prefix_state,
        Some(MatchState::NoMatch | MatchState::Complete { can_extend: false })
    ) {
        prop_assert_eq!(state, MatchState::NoMatch);
    }
    Ok(())
}

proptest! {
    #[test]
    fn builtins_are_consistent(index in 0..BUILTINS.len(), keys in key_sequence(20)) {
        let g = Grammar::builtin(BUILTINS[index]).expect("valid builtin");
        check_consistency(&g, &keys)?;
    }

    #[test]
    fn srgs_is_consistent(keys in key_sequence(20)) {
        let g = Grammar::parse_srgs(SRGS).expect("valid grammar");
        check_consistency(&g, &keys)?;
    }

    #[test]
    fn digits_length_n_completes_exactly_at_n(n in 1usize..12, digits in proptest::collection::vec(0u8..10, 0..16)) {
        let g = Grammar::builtin(&format!("digits?length={n}")).expect("valid builtin");
        let keys: Vec<Key> = digits.iter().filter_map(|d| Key::digit(*d)).collect();
        let state = g.state(&keys);
        prop_assert_eq!(matches!(state, MatchState::Complete { .. }), keys.len() == n);
        prop_assert_eq!(state == MatchState::NoMatch, keys.len() > n);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = Grammar::parse_srgs(&text);
        let _ = Grammar::builtin(&text);
        let _ = Grammar::choices([(text.as_str(), "x")]);
    }

    #[test]
    fn random_grammars_never_panic(xml in grammar_document(), keys in grammar_keys()) {
        if let Ok(g) = Grammar::parse_srgs(&xml) {
            check_consistency(&g, &keys)?;
        }
    }
}

/// Text pieces that an SRGS document is made of, now and then a wrong one.
fn fragment() -> impl Strategy<Value = String> {
    let valid = proptest::sample::select(vec![
        " 1 ",
        " 2 3 ",
        " # ",
        " * ",
        " A ",
        " ",
        "<tag>out = 'a';</tag>",
        "<tag>b</tag>",
        r##"<ruleref uri="#a"/>"##,
        r##"<ruleref uri="#b"/>"##,
        r#"<ruleref special="NULL"/>"#,
        r#"<ruleref special="VOID"/>"#,
        r#"<ruleref special="GARBAGE"/>"#,
        "<token>9</token>",
        "<example>1</example>",
    ]);
    let invalid = proptest::sample::select(vec![
        " 12 ",
        " x ",
        "<bogus/>",
        r##"<ruleref uri="#r"/>"##,
        "<one-of/>",
        "<item",
    ]);
    let leaf = prop_oneof![20 => valid, 1 => invalid].prop_map(str::to_owned);
    leaf.prop_recursive(5, 48, 4, |inner| {
        let children = proptest::collection::vec(inner, 0..4).prop_map(|c| c.concat());
        let repeat = prop_oneof![
            20 => proptest::sample::select(vec!["", r#" repeat="0-1""#, r#" repeat="2""#, r#" repeat="1-""#, r#" repeat="0-""#, r#" repeat="2-4""#]),
            1 => proptest::sample::select(vec![r#" repeat="3-2""#, r#" repeat="40-60""#, r#" repeat="-""#]),
        ];
        prop_oneof![
            (repeat, children.clone()).prop_map(|(r, c)| format!("<item{r}>{c}</item>")),
            proptest::collection::vec(children.clone(), 1..4)
                .prop_map(|items| format!("<one-of>{}</one-of>", items.iter().map(|i| format!("<item>{i}</item>")).collect::<String>())),
            children,
        ]
    })
}

fn grammar_document() -> impl Strategy<Value = String> {
    let format = proptest::sample::select(vec![
        "",
        r#" tag-format="semantics/1.0""#,
        r#" tag-format="semantics/1.0-literals""#,
    ]);
    let end = prop_oneof![20 => Just("</grammar>"), 1 => Just("")];
    (format, fragment(), fragment(), fragment(), end).prop_map(|(format, r, a, b, end)| {
        format!(
            r#"<grammar mode="dtmf" root="r"{format}><rule id="r">{r}</rule><rule id="a">{a}</rule><rule id="b">{b}</rule>{end}"#
        )
    })
}
