//! SRGS 1.0 XML DTMF grammars: matching, interpretation, errors.

use herald_grammar::{Grammar, GrammarError, Key, MatchState, Value};

const COMPLETE: MatchState = MatchState::Complete { can_extend: false };
const EXTENDABLE: MatchState = MatchState::Complete { can_extend: true };

fn keys(text: &str) -> Vec<Key> {
    Key::parse_sequence(text).expect("test key sequence")
}

fn grammar(xml: &str) -> Grammar {
    Grammar::parse_srgs(xml).unwrap_or_else(|e| panic!("grammar should load: {e}"))
}

/// A DTMF grammar document around `rules`.
fn dtmf(attrs: &str, rules: &str) -> String {
    format!(
        r##"<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" mode="dtmf" {attrs}>
{rules}
</grammar>"##
    )
}

fn state(g: &Grammar, text: &str) -> MatchState {
    g.state(&keys(text))
}

fn value(g: &Grammar, text: &str) -> Option<Value> {
    g.interpret(&keys(text)).map(|i| i.value)
}

fn load_error(xml: &str) -> (u32, u32, String) {
    match Grammar::parse_srgs(xml) {
        Err(GrammarError::Srgs { position, reason }) => (position.line, position.column, reason),
        Err(other) => panic!("expected an SRGS error, got {other}"),
        Ok(_) => panic!("expected an error"),
    }
}

const LANGUAGE_MENU: &str = r##"<rule id="lang" scope="public">
  <one-of>
    <item>1<tag>english</tag></item>
    <item>2<tag>deutsch</tag></item>
    <item>3<tag>francais</tag></item>
  </one-of>
</rule>"##;

#[test]
fn language_menu() {
    let g = grammar(&dtmf(r##"root="lang""##, LANGUAGE_MENU));
    assert!(g.is_dtmf());
    assert_eq!(state(&g, ""), MatchState::Incomplete);
    assert_eq!(state(&g, "1"), COMPLETE);
    assert_eq!(state(&g, "4"), MatchState::NoMatch);
    assert_eq!(state(&g, "12"), MatchState::NoMatch);
    assert_eq!(value(&g, "2"), Some(Value::string("deutsch")));
    let i = g.interpret(&keys("3")).expect("match");
    assert_eq!(i.utterance, "3");
    assert!(i.script.is_none());
}

#[test]
fn pin_repeat_4() {
    let g = grammar(&dtmf(
        r##"root="pin""##,
        r##"<rule id="pin"><item repeat="4"><ruleref uri="#digit"/></item></rule>
           <rule id="digit"><one-of><item>0</item><item>1</item><item>2</item><item>3</item>
             <item>4</item><item>5</item><item>6</item><item>7</item><item>8</item><item>9</item></one-of></rule>"##,
    ));
    assert_eq!(state(&g, "123"), MatchState::Incomplete);
    assert_eq!(state(&g, "1234"), COMPLETE);
    assert_eq!(state(&g, "12345"), MatchState::NoMatch);
    assert_eq!(state(&g, "12*"), MatchState::NoMatch);
    assert_eq!(
        value(&g, "4321"),
        Some(Value::string("4321")),
        "no tags: the utterance"
    );
}

#[test]
fn one_or_more_then_pound() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="1-"><one-of><item>1</item><item>2</item></one-of></item> #</rule>"##,
    ));
    assert_eq!(state(&g, ""), MatchState::Incomplete);
    assert_eq!(state(&g, "#"), MatchState::NoMatch);
    assert_eq!(state(&g, "1"), MatchState::Incomplete);
    assert_eq!(state(&g, "1212"), MatchState::Incomplete);
    assert_eq!(state(&g, "1212#"), COMPLETE);
    assert_eq!(state(&g, "1212#1"), MatchState::NoMatch);
    assert_eq!(value(&g, "21#"), Some(Value::string("21#")));
}

#[test]
fn bounded_repeat_and_optional() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="2-3">5</item><item repeat="0-1">*</item></rule>"##,
    ));
    assert_eq!(state(&g, "5"), MatchState::Incomplete);
    assert_eq!(state(&g, "55"), EXTENDABLE);
    assert_eq!(state(&g, "555"), EXTENDABLE);
    assert_eq!(state(&g, "555*"), COMPLETE);
    assert_eq!(state(&g, "5555"), MatchState::NoMatch);
    assert_eq!(state(&g, "55*"), COMPLETE);
}

#[test]
fn tokens_and_token_element() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r">1 2 <token>*</token> A d</rule>"##,
    ));
    assert_eq!(state(&g, "12*AD"), COMPLETE);
}

#[test]
fn nested_rulerefs_and_literal_inheritance() {
    let g = grammar(&dtmf(
        r##"root="main" tag-format="semantics/1.0-literals""##,
        r##"<rule id="main"><ruleref uri="#choice"/></rule>
           <rule id="choice"><one-of>
             <item><ruleref uri="#yes"/></item>
             <item><ruleref uri="#no"/></item>
           </one-of></rule>
           <rule id="yes">1<tag>true</tag></rule>
           <rule id="no">2<tag>false</tag></rule>"##,
    ));
    assert_eq!(value(&g, "1"), Some(Value::string("true")));
    assert_eq!(value(&g, "2"), Some(Value::string("false")));
    assert!(g.interpret(&keys("1")).and_then(|i| i.script).is_none());
}

#[test]
fn last_tag_on_the_root_path_wins() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r">1<tag>first</tag><item repeat="0-1">2<tag>second</tag></item></rule>"##,
    ));
    assert_eq!(value(&g, "1"), Some(Value::string("first")));
    assert_eq!(value(&g, "12"), Some(Value::string("second")));
}

#[test]
fn rule_without_tags_takes_its_text_when_tags_elsewhere() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><ruleref uri="#d"/><item repeat="0-1">#<tag>done</tag></item></rule>
           <rule id="d"><item repeat="1-3"><one-of><item>1</item><item>2</item></one-of></item></rule>"##,
    ));
    assert_eq!(value(&g, "12#"), Some(Value::string("done")));
    assert_eq!(
        value(&g, "12"),
        Some(Value::string("12")),
        "no tags on the path"
    );
}

#[test]
fn special_rules() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><ruleref special="NULL"/>1<one-of><item><ruleref special="VOID"/>2</item><item>3</item></one-of></rule>"##,
    ));
    assert_eq!(state(&g, "1"), MatchState::Incomplete);
    assert_eq!(
        state(&g, "12"),
        MatchState::NoMatch,
        "VOID blocks the branch"
    );
    assert_eq!(state(&g, "13"), COMPLETE);

    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r">9 <ruleref special="GARBAGE"/> #</rule>"##,
    ));
    assert_eq!(state(&g, "9"), MatchState::Incomplete);
    assert_eq!(
        state(&g, "9#"),
        EXTENDABLE,
        "garbage may also swallow the #"
    );
    assert_eq!(state(&g, "9123*#"), EXTENDABLE);
    assert_eq!(state(&g, "8"), MatchState::NoMatch);
}

#[test]
fn void_only_grammar_never_matches() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><ruleref special="VOID"/></rule>"##,
    ));
    assert_eq!(state(&g, ""), MatchState::NoMatch);
    assert_eq!(state(&g, "1"), MatchState::NoMatch);
}

#[test]
fn ambiguity_takes_document_order() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><one-of><item>1<tag>a</tag></item><item>1<tag>b</tag></item></one-of></rule>"##,
    ));
    assert_eq!(value(&g, "1"), Some(Value::string("a")));
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="0-2">1<tag>loop</tag></item><item repeat="0-2">1<tag>tail</tag></item></rule>"##,
    ));
    assert_eq!(
        value(&g, "11"),
        Some(Value::string("loop")),
        "greedy first repeat"
    );
    assert_eq!(value(&g, "111"), Some(Value::string("tail")));
}

#[test]
fn empty_grammar_accepts_nothing_typed() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="0-1">1</item></rule>"##,
    ));
    assert_eq!(state(&g, ""), EXTENDABLE);
    assert_eq!(value(&g, ""), Some(Value::string("")));
}

#[test]
fn script_generation() {
    let g = grammar(&dtmf(
        r##"root="main" tag-format="semantics/1.0""##,
        r##"<tag>var prefix = 'x';</tag>
           <rule id="main"><ruleref uri="#lang"/> <item repeat="0-1">#</item><tag>out.lang = rules.lang; out.raw = meta.current().text;</tag></rule>
           <rule id="lang"><one-of><item>1<tag>out = 'en';</tag></item><item>2<tag>out = 'de';</tag></item></one-of></rule>"##,
    ));
    let i = g.interpret(&keys("2#")).expect("match");
    assert_eq!(i.utterance, "2#");
    let script = i.script.expect("script tags give a script");
    assert!(script.starts_with("(function () {"), "{script}");
    assert!(script.contains("var prefix = 'x';"));
    assert!(script.contains("function __herald_rule_0()"));
    assert!(script.contains("__latest = rules[\"lang\"] = __herald_rule_1();"));
    assert!(script.contains("out = 'de';"));
    assert!(
        !script.contains("out = 'en';"),
        "only the matched alternative"
    );
    assert!(script.contains("text: \"2#\""));
    assert!(
        script
            .trim_end()
            .ends_with("return __herald_rule_0();\n})()")
    );
    // The fallback value: the root's only tag is script, so it inherits `lang`'s literal.
    assert_eq!(i.value, Value::string("de"));
}

#[test]
fn script_rule_numbering_is_preorder() {
    let g = grammar(&dtmf(
        r##"root="r" tag-format="semantics/1.0""##,
        r##"<rule id="r"><ruleref uri="#a"/><ruleref uri="#b"/><tag>out = rules.a + rules.b;</tag></rule>
           <rule id="a"><ruleref uri="#d"/></rule>
           <rule id="b"><ruleref uri="#d"/></rule>
           <rule id="d">1<tag>out = 1;</tag></rule>"##,
    ));
    let script = g
        .interpret(&keys("11"))
        .and_then(|i| i.script)
        .expect("script");
    assert!(
        script.contains("rules[\"a\"] = __herald_rule_1()"),
        "{script}"
    );
    assert!(
        script.contains("rules[\"b\"] = __herald_rule_3()"),
        "{script}"
    );
    assert_eq!(script.matches("function __herald_rule_").count(), 5);
    assert!(
        script.contains("return __latest;"),
        "a and b inherit from d"
    );
}

#[test]
fn assignment_tags_without_format_give_typed_values() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><one-of><item>1<tag>out = 10;</tag></item><item>2<tag>out = true;</tag></item></one-of></rule>"##,
    ));
    let i = g.interpret(&keys("1")).expect("match");
    assert_eq!(i.value, Value::Number(10.0));
    assert!(i.script.is_none(), "simple assignments need no script");
    assert_eq!(value(&g, "2"), Some(Value::Bool(true)));
}

#[test]
fn mixed_tags_without_format_give_a_script() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r">1<tag>english</tag><tag>out.x = 1;</tag></rule>"##,
    ));
    let i = g.interpret(&keys("1")).expect("match");
    let script = i.script.expect("script");
    assert!(script.contains("out = \"english\";"), "{script}");
    assert_eq!(i.value, Value::string("english"));
}

#[test]
fn voice_grammars_are_not_dtmf() {
    let g = grammar(r##"<grammar root="r" version="1.0"><rule id="r">yes</rule></grammar>"##);
    assert!(!g.is_dtmf());
    assert_eq!(state(&g, "1"), MatchState::NoMatch);
    let g = grammar(r##"<grammar mode="voice" root="r"><rule id="r">yes</rule></grammar>"##);
    assert!(!g.is_dtmf());
}

#[test]
fn inline_grammar_in_a_voicexml_document() {
    let doc = r##"<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml">
<form><field name="pin">
  <grammar mode="dtmf" root="r" version="1.0" xmlns="http://www.w3.org/2001/06/grammar">
    <rule id="r"><item repeat="2">7</item></rule>
  </grammar>
</field></form></vxml>"##;
    let parsed = roxmltree::Document::parse(doc).expect("xml");
    let node = parsed
        .descendants()
        .find(|n| n.has_tag_name("grammar"))
        .expect("grammar element");
    let g = Grammar::from_srgs_node(node).expect("inline grammar");
    assert_eq!(state(&g, "77"), COMPLETE);
    let bad = doc.replace("<item repeat=\"2\">", "<item repeat=\"x\">");
    let parsed = roxmltree::Document::parse(&bad).expect("xml");
    let node = parsed
        .descendants()
        .find(|n| n.has_tag_name("grammar"))
        .expect("grammar element");
    match Grammar::from_srgs_node(node) {
        Err(GrammarError::Srgs { position, .. }) => {
            assert_eq!((position.line, position.column), (4, 18))
        }
        other => panic!("expected a positioned error, got {other:?}"),
    }
}

#[test]
fn no_namespace_and_single_rule_without_root() {
    let g = grammar(r##"<grammar mode="dtmf"><rule id="only">4 2</rule></grammar>"##);
    assert_eq!(state(&g, "42"), COMPLETE);
}

#[test]
fn choices() {
    let g = Grammar::choices([
        ("1", "english"),
        ("2", "deutsch"),
        ("* 9", "operator"),
        ("1", "shadowed"),
    ])
    .expect("valid choices");
    assert_eq!(value(&g, "1"), Some(Value::string("english")));
    assert_eq!(value(&g, "*9"), Some(Value::string("operator")));
    assert_eq!(state(&g, "*"), MatchState::Incomplete);
    assert_eq!(state(&g, "3"), MatchState::NoMatch);
    let g = Grammar::choices([("1", "one"), ("12", "twelve")]).expect("valid choices");
    assert_eq!(state(&g, "1"), EXTENDABLE);
    assert_eq!(value(&g, "12"), Some(Value::string("twelve")));
    assert!(matches!(
        Grammar::choices([("1x", "bad")]),
        Err(GrammarError::BadChoice { index: 0, .. })
    ));
    assert!(Grammar::choices([("", "empty")]).is_err());
    let none = Grammar::choices(Vec::<(&str, &str)>::new()).expect("no choices");
    assert_eq!(none.state(&[]), MatchState::NoMatch);
}

#[test]
fn matcher_is_incremental() {
    let g = grammar(&dtmf(r##"root="lang""##, LANGUAGE_MENU));
    let mut m = g.matcher();
    assert_eq!(m.state(), MatchState::Incomplete);
    assert_eq!(m.push(Key::D2), COMPLETE);
    assert_eq!(m.push(Key::D2), MatchState::NoMatch);
}

#[test]
fn errors_carry_line_and_column() {
    let unknown = dtmf(r##"root="r""##, "<rule id=\"r\">\n  <bogus/>\n</rule>");
    let (line, column, reason) = load_error(&unknown);
    assert_eq!((line, column), (4, 3));
    assert!(reason.contains("unknown element <bogus>"), "{reason}");

    let (line, _, reason) = load_error(&dtmf(r##"root="missing""##, r##"<rule id="r">1</rule>"##));
    assert_eq!(line, 2);
    assert!(
        reason.contains("root rule `missing` is not defined"),
        "{reason}"
    );

    let (_, _, reason) = load_error(&dtmf("", r##"<rule id="a">1</rule><rule id="b">2</rule>"##));
    assert!(reason.contains("missing root rule"), "{reason}");

    let (line, column, reason) = load_error(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="3-1">1</item></rule>"##,
    ));
    assert_eq!((line, column), (3, 14));
    assert!(reason.contains("bad repeat `3-1`"), "{reason}");
}

#[test]
fn more_load_errors() {
    let cases = [
        (r##"<rule id="r">12</rule>"##, "`12` is not a DTMF key"),
        (r##"<rule id="r">1 x</rule>"##, "`x` is not a DTMF key"),
        (
            r##"<rule id="r"><token>12</token></rule>"##,
            "not a single DTMF key",
        ),
        (
            r##"<rule id="r"><ruleref uri="#nope"/></rule>"##,
            "undefined rule `nope`",
        ),
        (
            r##"<rule id="r"><ruleref uri="other.grxml#x"/></rule>"##,
            "external rule reference",
        ),
        (
            r##"<rule id="r"><ruleref special="ANY"/></rule>"##,
            "unknown special rule",
        ),
        (
            r##"<rule id="r"><ruleref/></rule>"##,
            "needs a uri or special",
        ),
        (
            r##"<rule id="r"><one-of></one-of></rule>"##,
            "without any <item>",
        ),
        (
            r##"<rule id="r"><one-of>1</one-of></rule>"##,
            "text directly in <one-of>",
        ),
        (
            r##"<rule id="r"><one-of><tag>x</tag></one-of></rule>"##,
            "only <item> is allowed",
        ),
        (
            r##"<rule id="r">1</rule><rule id="r">2</rule>"##,
            "defined twice",
        ),
        (r##"<rule>1</rule>"##, "without an id"),
        (
            r##"<rule id="r"><ruleref uri="#r"/></rule>"##,
            "recursive reference to rule `r`",
        ),
        (
            r##"<rule id="r">1<item repeat="0-1"><ruleref uri="#s"/></item></rule><rule id="s">2<ruleref uri="#r"/></rule>"##,
            "recursive",
        ),
        (
            r##"<rule id="r"><item repeat="100000">1</item></rule>"##,
            "grammar too large",
        ),
        (
            r##"<rule id="r"><tag><b/></tag></rule>"##,
            "element inside <tag>",
        ),
        (
            r##"<rule id="r"><rule id="s"/></rule>"##,
            "must be a child of <grammar>",
        ),
        (r##"<rule id="r">1</rule> stray"##, "text outside a rule"),
        (r##"<rule id="r">1</rule><bogus/>"##, "unexpected <bogus>"),
    ];
    for (rules, expected) in cases {
        let (_, _, reason) = load_error(&dtmf(r##"root="r""##, rules));
        assert!(
            reason.contains(expected),
            "{rules}: got `{reason}`, expected `{expected}`"
        );
    }
    let (_, _, reason) = load_error(r##"<grammar mode="touch" root="r"/>"##);
    assert!(reason.contains("unknown mode"), "{reason}");
    let (_, _, reason) = load_error(r##"<vxml/>"##);
    assert!(reason.contains("expected a <grammar>"), "{reason}");
    assert!(matches!(
        Grammar::parse_srgs("<grammar"),
        Err(GrammarError::Xml(_))
    ));
}

#[test]
fn exponential_rule_expansion_is_refused() {
    let mut rules = String::from(r##"<rule id="r0">1</rule>"##);
    for i in 1..30 {
        let prev = i - 1;
        rules.push_str(&format!(
            r##"<rule id="r{i}"><ruleref uri="#r{prev}"/><ruleref uri="#r{prev}"/></rule>"##
        ));
    }
    let (_, _, reason) = load_error(&dtmf(r##"root="r29""##, &rules));
    assert!(reason.contains("too large"), "{reason}");
}

#[test]
fn deep_nesting_is_refused() {
    let open = "<item>".repeat(200);
    let close = "</item>".repeat(200);
    let (_, _, reason) = load_error(&dtmf(
        r##"root="r""##,
        &format!(r##"<rule id="r">{open}1{close}</rule>"##),
    ));
    assert!(reason.contains("nested deeper"), "{reason}");
}

#[test]
fn empty_repeat_body_does_not_hang() {
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="4000000000"><ruleref special="NULL"/></item>1</rule>"##,
    ));
    assert_eq!(state(&g, "1"), COMPLETE);
    let g = grammar(&dtmf(
        r##"root="r""##,
        r##"<rule id="r"><item repeat="0-"><item repeat="0-"><ruleref special="NULL"/></item></item>1</rule>"##,
    ));
    assert_eq!(state(&g, "1"), COMPLETE);
    assert_eq!(value(&g, "1"), Some(Value::string("1")));
}

#[test]
fn debug_output_hides_keys() {
    let g = grammar(&dtmf(r##"root="lang""##, LANGUAGE_MENU));
    let i = g.interpret(&keys("2")).expect("match");
    let shown = format!("{g:?} {i:?} {:?}", i.value);
    assert!(
        !shown.contains("deutsch") && !shown.contains('2'),
        "{shown}"
    );
}
