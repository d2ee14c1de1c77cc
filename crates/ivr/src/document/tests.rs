use super::*;

const URI: &str = "file:///ivr/test.vxml";

fn parse(text: &str) -> Document {
    Document::parse(URI, text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn elements_keep_their_positions() {
    let doc = parse("<vxml version=\"2.1\">\n  <form id=\"a\">\n    <block/>\n  </form>\n</vxml>");
    let form = doc.dialog(Some("a")).expect("form a");
    assert_eq!(form.pos, Pos { line: 2, column: 3 });
    let block = form.child("block").expect("block");
    assert_eq!(block.pos.to_string(), "3:5");
}

#[test]
fn namespaces_are_told_apart() {
    let doc = parse(
        r#"<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml" xmlns:herald="urn:herald:ivr"
                 xmlns:x="urn:example">
          <form><block><herald:consent decision="accepted"/><x:thing/></block>
            <field name="f" herald:secure="true" type="digits"/></form>
        </vxml>"#,
    );
    let form = doc.dialog(None).expect("form");
    let block = form.child("block").expect("block");
    let kinds: Vec<Namespace> = block.elements().map(|e| e.ns).collect();
    assert_eq!(kinds, [Namespace::Herald, Namespace::Other]);
    let field = form.child("field").expect("field");
    assert_eq!(field.herald_attr("secure"), Some("true"));
    assert_eq!(field.attr("secure"), None);
}

#[test]
fn an_srgs_namespaced_grammar_is_a_voicexml_grammar_with_its_source() {
    let doc = parse(
        r#"<vxml version="2.1" xmlns="http://www.w3.org/2001/vxml"><form><field name="f">
          <grammar xmlns="http://www.w3.org/2001/06/grammar" mode="dtmf" root="r" version="1.0"><rule id="r">1</rule></grammar>
        </field></form></vxml>"#,
    );
    let field = doc
        .dialog(None)
        .and_then(|f| f.child("field"))
        .expect("field");
    let grammar = field
        .child("grammar")
        .expect("the grammar is found as a VoiceXML element");
    let source = grammar.source.as_deref().expect("source kept");
    assert!(
        source.starts_with("<grammar") && source.ends_with("</grammar>"),
        "{source}"
    );
    // Its rules stay SRGS content.
    assert!(grammar.elements().all(|e| e.ns == Namespace::Srgs));
}

#[test]
fn problems_lists_every_problem_in_order() {
    let doc = Document {
        uri: URI.into(),
        root: Arc::new(convert_for_test(
            "<vxml><form><bogus/><block wrong=\"1\"/><goto/></form></vxml>",
        )),
    };
    let problems = doc.problems();
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(problems.len(), 3, "{messages:?}");
    assert!(messages[0].contains("bogus"));
    assert!(messages[1].contains("wrong"));
    assert!(messages[2].contains("goto"));
    assert!(
        problems
            .windows(2)
            .all(|w| w[0].pos.column < w[1].pos.column)
    );
}

fn convert_for_test(text: &str) -> Node {
    let xml = roxmltree::Document::parse(text).expect("well-formed");
    convert(&LineIndex::new(text), xml.root_element(), text)
}

#[test]
fn positions_match_roxmltree_including_multibyte_text() {
    let text =
        "<vxml version=\"2.1\">\n  <form id=\"ä\">\n\t<block>é<log>x</log></block></form>\n</vxml>";
    let xml = roxmltree::Document::parse(text).expect("well-formed");
    let lines = LineIndex::new(text);
    for node in xml.descendants().filter(|n| n.is_element()) {
        let want = xml.text_pos_at(node.range().start);
        let got = lines.pos(text, node.range().start);
        assert_eq!(
            (got.line, got.column),
            (want.row, want.col),
            "{:?}",
            node.tag_name()
        );
    }
}

#[test]
fn the_first_dialog_and_the_application_attribute() {
    let doc = parse(
        r#"<vxml version="2.1" application="root.vxml"><var name="x"/><menu id="m"/><form id="f"/></vxml>"#,
    );
    assert_eq!(doc.application(), Some("root.vxml"));
    assert_eq!(doc.dialog(None).and_then(|d| d.attr("id")), Some("m"));
    assert!(doc.dialog(Some("nope")).is_none());
}

#[test]
fn text_collapses_whitespace_and_text_raw_keeps_it() {
    let doc =
        parse("<vxml><form><block>  one\n\t two  <value expr=\"1\"/> three </block></form></vxml>");
    let block = doc
        .dialog(None)
        .and_then(|f| f.child("block"))
        .expect("block");
    assert_eq!(block.text(), "one two three");
    assert_eq!(block.text_raw(), "  one\n\t two   three ");
}

#[test]
fn a_dtd_is_allowed() {
    parse(
        r#"<?xml version="1.0"?>
<!DOCTYPE vxml PUBLIC "-//W3C//DTD VOICEXML 2.1//EN" "http://www.w3.org/TR/voicexml21/vxml.dtd">
<vxml version="2.1"><form/></vxml>"#,
    );
}
