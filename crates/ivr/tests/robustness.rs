//! Bad documents, failed fetches, endless loops and runaway scripts: each ends the session
//! (or reaches a catch) with a precise error, never a hang or a panic.

mod support;

use herald_ivr::{Document, Outcome, ScriptLimits, SessionConfig};
use support::{MAIN, Platform, vxml};

#[test]
fn malformed_xml_is_a_parse_error_with_line_and_column() {
    let text = "<?xml version=\"1.0\"?>\n<vxml version=\"2.1\">\n  <form>\n    <block>\n  </form>\n</vxml>";
    let error = Document::parse(MAIN, text).expect_err("malformed");
    assert_eq!(error.uri, MAIN);
    assert_eq!(error.pos.line, 5, "{error}");
    assert!(error.pos.column > 0);
    assert!(error.message.contains("not well-formed"), "{error}");
    assert!(
        error.to_string().starts_with(&format!("{MAIN}:5:")),
        "{error}"
    );
}

#[test]
fn unknown_element_is_named_with_its_position() {
    let text = vxml("<form>\n  <block>\n    <frobnicate/>\n  </block>\n</form>");
    let error = Document::parse(MAIN, &text).expect_err("unknown element");
    assert!(error.message.contains("frobnicate"), "{error}");
    // vxml() puts two lines before the body.
    assert_eq!((error.pos.line, error.pos.column), (5, 5), "{error}");
}

#[test]
fn unknown_attribute_and_missing_required_attribute_are_rejected() {
    let error = Document::parse(MAIN, &vxml(r#"<form><block color="red"/></form>"#))
        .expect_err("unknown attribute");
    assert!(error.message.contains("color"), "{error}");
    let error = Document::parse(MAIN, &vxml(r#"<form><block><goto/></block></form>"#))
        .expect_err("goto without target");
    assert!(error.message.contains("goto"), "{error}");
    let error = Document::parse(
        MAIN,
        &vxml(r#"<form><field name="f" herald:colour="blue" type="digits"/></form>"#),
    )
    .expect_err("unknown herald attribute");
    assert!(error.message.contains("herald:colour"), "{error}");
}

#[test]
fn a_document_that_is_not_vxml_is_rejected() {
    let error = Document::parse(MAIN, "<html/>").expect_err("not vxml");
    assert!(error.message.contains("vxml"), "{error}");
}

#[test]
fn a_missing_first_document_is_error_badfetch_404() {
    let run = Platform::new(&[]).run();
    assert_eq!(run.error_event(), "error.badfetch.http.404");
}

#[test]
fn an_invalid_document_reached_by_goto_is_catchable_badfetch() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<catch event="error.badfetch"><exit expr="'caught'"/></catch>
                <form><block><goto next="broken.vxml"/></block></form>"#,
            ),
        ),
        ("http://ivr.test/broken.vxml", "<vxml><form></vxml>"),
    ])
    .run();
    assert_eq!(run.exit_value(), "\"caught\"");
}

#[test]
fn goto_an_unknown_dialog_is_error_badfetch() {
    let run = Platform::main(&vxml(
        r##"<form><block><goto next="#nowhere"/></block></form>"##,
    ))
    .run();
    assert_eq!(run.error_event(), "error.badfetch");
}

#[test]
fn an_endless_goto_loop_ends_with_error_herald_steps() {
    let run = Platform::main(&vxml(
        r##"<form id="self"><block><goto next="#self"/></block></form>"##,
    ))
    .run();
    match run.outcome() {
        Outcome::Error { event, message } => {
            assert_eq!(event, "error.herald.steps");
            assert!(message.contains(MAIN), "{message}");
        }
        other => panic!("expected error.herald.steps, got {other:?}"),
    }
}

#[test]
fn an_endless_loop_through_catch_handlers_is_bounded_too() {
    let run = Platform::main(&vxml(
        r#"<catch event="again"><throw event="again"/></catch>
        <form><block><throw event="again"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.herald.steps");
}

#[test]
fn the_step_limit_is_per_turn_not_per_session() {
    // 30 input turns of a few steps each stay well under a limit of 50 steps per turn.
    let config = SessionConfig {
        max_steps: 50,
        ..Default::default()
    };
    let doc = vxml(
        r#"<form>
          <var name="n" expr="0"/>
          <field name="f" type="digits?length=1">
            <filled>
              <assign name="n" expr="n + 1"/>
              <if cond="n &lt; 30"><clear namelist="f"/><else/><exit expr="n"/></if>
            </filled>
          </field>
        </form>"#,
    );
    let run = Platform::main(&doc)
        .with_config(config)
        .keys(&"5".repeat(30))
        .run();
    assert_eq!(run.exit_value(), "30");
}

#[test]
fn a_runaway_script_hits_the_budget_and_is_catchable_as_error() {
    let run = Platform::main(&vxml(
        r#"<form>
          <error><exit expr="'caught ' + _event"/></error>
          <block><script>while (true) {}</script></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"caught error.herald.script.budget\"");
}

#[test]
fn a_runaway_script_without_a_catch_still_ends_the_session() {
    let config = SessionConfig {
        limits: ScriptLimits {
            budget: 50,
            ..ScriptLimits::default()
        },
        ..Default::default()
    };
    let run = Platform::main(&vxml(
        r#"<var name="x" expr="(function () { for (;;) {} })()"/>
        <form><block>unreachable</block></form>"#,
    ))
    .with_config(config)
    .run();
    assert_eq!(run.error_event(), "error.herald.script.budget");
    assert!(run.spoken().is_empty());
}

#[test]
fn a_script_that_exhausts_memory_ends_with_noresource() {
    let config = SessionConfig {
        limits: ScriptLimits {
            memory: 4 << 20,
            ..ScriptLimits::default()
        },
        ..Default::default()
    };
    let run = Platform::main(&vxml(
        r#"<form><block><script>
          var a = []; for (var i = 0; i &lt; 1e7; i++) { a.push('xxxxxxxxxxxxxxxx' + i); }
        </script></block></form>"#,
    ))
    .with_config(config)
    .run();
    assert_eq!(
        run.error_event(),
        "error.noresource",
        "{}",
        run.transcript()
    );
}

#[test]
fn a_field_without_a_dtmf_grammar_is_error_semantic() {
    let run = Platform::main(&vxml(
        r#"<form><field name="f"><prompt>Say something.</prompt></field></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.semantic");

    // A voice-only grammar does not count either.
    let run = Platform::main(&vxml(
        r#"<form><field name="f">
          <grammar mode="voice" root="r" version="1.0"><rule id="r">yes</rule></grammar>
        </field></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.semantic");
}

#[test]
fn an_unknown_builtin_type_is_error_unsupported_builtin() {
    let run = Platform::main(&vxml(r#"<form><field name="f" type="creditcard"/></form>"#)).run();
    assert_eq!(run.error_event(), "error.unsupported.builtin");
}

#[test]
fn object_is_unsupported() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="error.unsupported"><exit expr="_event"/></catch>
          <object name="o" classid="method://x"/>
        </form>"#,
    ))
    .run();
    assert_eq!(
        run.exit_value(),
        "\"error.unsupported.objectname.method://x\""
    );
}

#[test]
fn a_syntax_error_in_an_expression_is_error_semantic() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="error.semantic"><exit expr="_message"/></catch>
          <block><log expr="1 +* 2"/></block>
        </form>"#,
    ))
    .run();
    let value = run.exit_value();
    assert!(value.contains("SyntaxError"), "{value}");
}

#[test]
fn expressions_cannot_escape_their_scope_chain() {
    // A closing brace in an expression must not break out of the generated `with` chain.
    let run = Platform::main(&vxml(
        r#"<form>
          <error><exit expr="'rejected'"/></error>
          <block><var name="v" expr="1)); }} globalThis.leak = 1; {{ ((1"/>
            <exit expr="typeof leak"/></block>
        </form>"#,
    ))
    .run();
    let value = run.exit_value();
    assert!(
        value == "\"rejected\"" || value == "\"undefined\"",
        "an expression escaped its scope: {value}"
    );
}

#[test]
fn an_error_inside_a_catch_handler_does_not_loop() {
    let run = Platform::main(&vxml(
        r#"<form>
          <error><assign name="undeclared" expr="1"/></error>
          <block><throw event="error.custom"/></block>
        </form>"#,
    ))
    .run();
    // The first error's catch raises error.semantic, caught by the same handler, and so on:
    // this must end, one way or another, with an error outcome.
    assert!(matches!(run.outcome(), Outcome::Error { .. }));
}

#[test]
fn a_grammar_fetch_failure_is_error_badfetch() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="error.badfetch"><exit expr="_event"/></catch>
          <field name="f"><grammar src="missing.grxml"/></field>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"error.badfetch.http.404\"");
}

#[test]
fn a_bad_inline_grammar_is_error_badfetch() {
    let run = Platform::main(&vxml(
        r#"<form><field name="f">
          <grammar mode="dtmf" root="r" version="1.0"><rule id="r"><item>12</item></rule></grammar>
        </field></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.badfetch");
}
