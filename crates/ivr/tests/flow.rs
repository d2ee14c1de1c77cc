//! Control flow and scopes: blocks, prompts, variables, conditions, transitions between
//! dialogs and documents, application roots, exit values.

mod support;

use herald_ivr::{Outcome, Output, PathEvent};
use support::{MAIN, Platform, vxml, vxml_leaf};

#[test]
fn block_text_prompt_and_value_are_spoken_in_order() {
    let run = Platform::main(&vxml(
        r#"<var name="n" expr="6 * 7"/>
        <form><block>
          Hello
          <prompt>The answer is <value expr="n"/>.</prompt>
          <value expr="'bye' + '!'"/>
        </block></form>"#,
    ))
    .run();
    assert_eq!(
        run.outcome(),
        &Outcome::Exit {
            value: "null".into()
        }
    );
    assert_eq!(run.spoken(), ["Hello", "The answer is 42 .", "bye!"]);
}

#[test]
fn exit_expr_is_json_text() {
    let run = Platform::main(&vxml(
        r#"<form><block><exit expr="'PASS'"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"PASS\"");

    let run = Platform::main(&vxml(
        r#"<form><block><var name="a" expr="1"/><var name="b" expr="'x'"/>
           <exit namelist="a b"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), r#"{"a":1,"b":"x"}"#);

    let run = Platform::main(&vxml(r#"<form><block><exit/></block></form>"#)).run();
    assert_eq!(run.exit_value(), "null");
}

#[test]
fn variables_resolve_through_the_scope_chain() {
    let run = Platform::main(&vxml(
        r#"<var name="x" expr="'document'"/>
        <form id="f">
          <var name="x" expr="'dialog'"/>
          <block>
            <var name="x" expr="'anonymous'"/>
            <log expr="x + ' ' + dialog.x + ' ' + document.x"/>
            <assign name="document.x" expr="'doc2'"/>
            <assign name="dialog.x" expr="'dlg2'"/>
            <assign name="x" expr="'anon2'"/>
            <log expr="x + ' ' + dialog.x + ' ' + document.x"/>
          </block>
          <block>
            <log expr="x + ' ' + typeof y"/>
          </block>
        </form>"#,
    ))
    .run();
    assert_eq!(
        run.logs(),
        [
            "anonymous dialog document",
            "anon2 dlg2 doc2",
            // The anonymous scope of the first block is gone; the dialog's x is visible.
            "dlg2 undefined",
        ]
    );
}

#[test]
fn script_declarations_land_in_their_scope() {
    let run = Platform::main(&vxml(
        r#"<script>var counter = 10; function inc(n) { return n + 1; }</script>
        <form>
          <script>var local = inc(counter);</script>
          <block>
            <script>counter = inc(counter); var inner = 'i';</script>
            <log expr="counter + ' ' + dialog.local + ' ' + document.counter + ' ' + inner"/>
          </block>
          <block><log expr="typeof inner"/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["11 11 11 i", "undefined"]);
}

#[test]
fn assign_to_an_undeclared_variable_throws_error_semantic() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="error.semantic">
            <log expr="'caught ' + _event"/>
            <exit expr="'caught'"/>
          </catch>
          <block><assign name="nowhere" expr="1"/><exit expr="'not caught'"/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["caught error.semantic"]);
    assert_eq!(run.exit_value(), "\"caught\"");
}

#[test]
fn uncaught_error_semantic_ends_the_session_with_an_error() {
    let run = Platform::main(&vxml(
        r#"<form><block><assign name="nowhere" expr="1"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.semantic");
}

#[test]
fn if_elseif_else_takes_exactly_one_branch() {
    let doc = |n: i32| {
        vxml(&format!(
            r#"<form><block>
              <var name="n" expr="{n}"/>
              <if cond="n &lt; 0"><log>negative</log>
              <elseif cond="n == 0"/><log>zero</log>
              <elseif cond="n &lt; 10"/><log>small</log>
              <else/><log>large</log>
              </if>
              <log>after</log>
            </block></form>"#
        ))
    };
    for (n, expected) in [(-1, "negative"), (0, "zero"), (5, "small"), (99, "large")] {
        let run = Platform::main(&doc(n)).run();
        assert_eq!(run.logs(), [expected, "after"], "n = {n}");
    }
}

#[test]
fn goto_a_form_of_the_same_document() {
    let run = Platform::main(&vxml(
        r##"<var name="visits" expr="0"/>
        <form id="first"><block>
          <assign name="visits" expr="visits + 1"/>
          <goto next="#second"/>
          <log>not reached</log>
        </block></form>
        <form id="second"><block><exit expr="'second ' + visits"/></block></form>"##,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"second 1\"");
    assert!(run.logs().is_empty());
    assert!(run.paths().contains(&&PathEvent::Dialog {
        id: "second".into()
    }));
}

#[test]
fn goto_nextitem_skips_items() {
    let run = Platform::main(&vxml(
        r#"<form>
          <block name="a"><log>a</log><goto nextitem="c"/></block>
          <block name="b"><log>b</log></block>
          <block name="c"><log>c</log></block>
        </form>"#,
    ))
    .run();
    // b is still unvisited after c, so the FIA selects it next.
    assert_eq!(run.logs(), ["a", "c", "b"]);
}

#[test]
fn goto_another_document_resolves_relative_uris() {
    let other = vxml(
        r#"<var name="here" expr="'other'"/>
        <form id="x"><block>in x</block></form>
        <form id="y"><block><exit expr="here + ' y'"/></block></form>"#,
    );
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(r#"<form><block><goto next="sub/other.vxml#y"/></block></form>"#),
        ),
        ("http://ivr.test/sub/other.vxml", &other),
    ])
    .run();
    assert_eq!(run.exit_value(), "\"other y\"");
    let fetched: Vec<&str> = run.fetches().iter().map(|f| f.uri.as_str()).collect();
    assert_eq!(fetched, [MAIN, "http://ivr.test/sub/other.vxml"]);
    assert_eq!(
        run.fetches()[1].referrer.as_deref(),
        Some(MAIN),
        "the second fetch names the document that asked for it"
    );
}

#[test]
fn document_variables_do_not_survive_a_document_change() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<var name="mine" expr="1"/>
                <form><block><goto next="b.vxml"/></block></form>"#,
            ),
        ),
        (
            "http://ivr.test/b.vxml",
            &vxml(r#"<form><block><exit expr="typeof mine"/></block></form>"#),
        ),
    ])
    .run();
    assert_eq!(run.exit_value(), "\"undefined\"");
}

const ROOT: &str = "http://ivr.test/root.vxml";

fn root_document() -> String {
    vxml(
        r#"<var name="hits" expr="0"/>
        <script>function bump() { hits = hits + 1; return hits; }</script>
        <catch event="app.custom">
          <exit expr="'root caught ' + _message + ' after ' + hits"/>
        </catch>"#,
    )
}

#[test]
fn application_root_variables_are_shared_across_leaves() {
    let run = Platform::new(&[
        (ROOT, &root_document()),
        (
            MAIN,
            &vxml_leaf(
                "root.vxml",
                r#"<form><block>
                  <log expr="bump()"/>
                  <assign name="application.hits" expr="application.hits + 10"/>
                  <goto next="leaf2.vxml"/>
                </block></form>"#,
            ),
        ),
        (
            "http://ivr.test/leaf2.vxml",
            &vxml_leaf(
                "root.vxml",
                r#"<form><block><log expr="bump()"/><exit expr="hits"/></block></form>"#,
            ),
        ),
    ])
    .run();
    assert_eq!(run.logs(), ["1", "12"]);
    assert_eq!(run.exit_value(), "12");
    let root_fetches = run.fetches().iter().filter(|f| f.uri == ROOT).count();
    assert_eq!(root_fetches, 1, "the root is loaded once for both leaves");
}

#[test]
fn application_root_catch_handlers_apply_in_leaves() {
    let run = Platform::new(&[
        (ROOT, &root_document()),
        (
            MAIN,
            &vxml_leaf(
                "root.vxml",
                r#"<form><block>
                  <script>bump(); bump();</script>
                  <throw event="app.custom" message="from leaf"/>
                </block></form>"#,
            ),
        ),
    ])
    .run();
    assert_eq!(run.exit_value(), "\"root caught from leaf after 2\"");
}

#[test]
fn leaving_the_application_resets_its_variables() {
    let run = Platform::new(&[
        (ROOT, &root_document()),
        (
            MAIN,
            &vxml_leaf(
                "root.vxml",
                r#"<form><block><script>bump();</script><goto next="plain.vxml"/></block></form>"#,
            ),
        ),
        (
            "http://ivr.test/plain.vxml",
            &vxml(r#"<form><block><exit expr="typeof hits"/></block></form>"#),
        ),
    ])
    .run();
    assert_eq!(run.exit_value(), "\"undefined\"");
}

#[test]
fn the_end_of_the_document_exits_with_null() {
    let run = Platform::main(&vxml(r#"<form><block>only</block></form>"#)).run();
    assert_eq!(
        run.outcome(),
        &Outcome::Exit {
            value: "null".into()
        }
    );
    assert!(matches!(
        run.outputs.last(),
        Some(Output::Finished(Outcome::Exit { .. }))
    ));
}

#[test]
fn log_with_label_and_value_children() {
    let run = Platform::main(&vxml(
        r#"<form><block><var name="v" expr="'x'"/>
          <log label="trace">value is <value expr="v"/> here</log>
        </block></form>"#,
    ))
    .run();
    assert_eq!(run.logs_labelled("trace"), ["value is x here"]);
}

#[test]
fn throw_and_catch_a_custom_event_with_message() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="com.example">
            <log expr="_event + '|' + _message"/>
            <exit expr="'done'"/>
          </catch>
          <block><throw event="com.example.sub" messageexpr="'m' + 1"/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["com.example.sub|m1"]);
    assert_eq!(run.exit_value(), "\"done\"");
}

#[test]
fn an_uncaught_custom_event_ends_the_session_as_an_error() {
    let run = Platform::main(&vxml(
        r#"<form><block><throw event="com.example.unhandled" message="why"/></block></form>"#,
    ))
    .run();
    assert_eq!(
        run.outcome(),
        &Outcome::Error {
            event: "com.example.unhandled".into(),
            message: "why".into()
        }
    );
}

#[test]
fn catch_cond_and_scope_precedence() {
    let run = Platform::main(&vxml(
        r#"<catch event="e"><exit expr="'document'"/></catch>
        <form>
          <catch event="e" cond="false"><exit expr="'dialog cond false'"/></catch>
          <catch event="e"><exit expr="'dialog'"/></catch>
          <block><throw event="e"/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"dialog\"");
}

#[test]
fn foreach_in_executable_content_and_in_a_prompt() {
    let run = Platform::main(&vxml(
        r#"<var name="list" expr="['a', 'b', 'c']"/>
        <form><block>
          <var name="joined" expr="''"/>
          <foreach item="x" array="list">
            <assign name="joined" expr="joined + x"/>
            <log expr="x"/>
          </foreach>
          <log expr="'joined ' + joined"/>
          <prompt>Items: <foreach item="y" array="list"><value expr="y"/>,</foreach> end</prompt>
        </block></form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["a", "b", "c", "joined abc"]);
    assert_eq!(run.spoken(), ["Items: a , b , c , end"]);
}

#[test]
fn nested_foreach_loops() {
    let run = Platform::main(&vxml(
        r#"<form><block>
          <foreach item="r" array="[1, 2]">
            <foreach item="c" array="['x', 'y']"><log expr="r + c"/></foreach>
          </foreach>
        </block></form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["1x", "1y", "2x", "2y"]);
}

#[test]
fn data_exposes_fetched_xml_as_a_dom() {
    let xml = r#"<?xml version="1.0"?>
        <accounts owner="ann"><account id="1">Checking</account><account id="2">Savings</account></accounts>"#;
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<form><block>
                  <data name="acc" src="accounts.xml"/>
                  <var name="list" expr="acc.getElementsByTagName('account')"/>
                  <log expr="acc.documentElement.getAttribute('owner') + ' ' + list.length"/>
                  <log expr="list.item(1).getAttribute('id') + ' ' + list[1].firstChild.nodeValue"/>
                </block></form>"#,
            ),
        ),
        ("http://ivr.test/accounts.xml", xml),
    ])
    .run();
    assert_eq!(run.logs(), ["ann 2", "2 Savings"]);
    assert!(
        run.fetches()
            .iter()
            .any(|f| f.kind == herald_ivr::FetchKind::Data)
    );
}

#[test]
fn data_fetch_failure_is_error_badfetch() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="error.badfetch"><exit expr="_event"/></catch>
          <block><data name="d" src="missing.xml"/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"error.badfetch.http.404\"");
}

#[test]
fn external_script_runs_in_the_document_scope() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<script src="lib.js"/>
                <form><block><exit expr="triple(limit)"/></block></form>"#,
            ),
        ),
        (
            "http://ivr.test/lib.js",
            "var limit = 5; function triple(n) { return 3 * n; }",
        ),
    ])
    .run();
    assert_eq!(run.exit_value(), "15");
}

#[test]
fn session_variables_come_from_the_config() {
    let config = herald_ivr::SessionConfig {
        session: vec![(
            "connection.remote.uri".into(),
            "sip:alice@example.com".into(),
        )],
        language: Some("fr".into()),
        ..Default::default()
    };
    let run = Platform::main(&vxml(
        r#"<form><block>
          <exit expr="session.connection.remote.uri + ' ' + session.herald.language"/>
        </block></form>"#,
    ))
    .with_config(config)
    .run();
    assert_eq!(run.exit_value(), "\"sip:alice@example.com fr\"");
}

#[test]
fn disconnect_hangs_up_and_its_catch_still_runs() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="connection.disconnect.hangup"><log expr="'cleanup ' + _event"/></catch>
          <block>Goodbye<disconnect/><log>not reached</log></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["cleanup connection.disconnect.hangup"]);
    assert!(run.outputs.contains(&Output::Disconnect));
    assert_eq!(run.outcome(), &Outcome::Hangup, "{}", run.transcript());
}

#[test]
fn disconnect_without_a_catch_ends_with_hangup() {
    let run = Platform::main(&vxml(r#"<form><block><disconnect/></block></form>"#)).run();
    assert_eq!(run.outcome(), &Outcome::Hangup);
}

#[test]
fn a_catch_may_submit_after_hangup_but_cannot_collect() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="connection.disconnect.hangup"><log>cleanup</log></catch>
          <block><disconnect/></block>
          <field name="f" type="digits?length=1"/>
        </form>"#,
    ))
    .run();
    assert_eq!(run.logs(), ["cleanup"]);
    assert_eq!(run.outcome(), &Outcome::Hangup);
    assert_eq!(run.count(|o| matches!(o, Output::Listen { .. })), 0);
}

#[test]
fn exit_in_a_hangup_catch_keeps_its_value() {
    let run = Platform::main(&vxml(
        r#"<form>
          <catch event="connection.disconnect.hangup"><exit expr="'saved'"/></catch>
          <block><disconnect/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"saved\"");
}

#[test]
fn a_same_document_subdialog_gets_a_fresh_application_root() {
    let run = Platform::new(&[
        (ROOT, &root_document()),
        (
            MAIN,
            &vxml_leaf(
                "root.vxml",
                r##"<form>
                  <block><script>bump(); bump();</script></block>
                  <subdialog name="r" src="#helper"/>
                  <block><exit expr="hits + ' ' + r.seen"/></block>
                </form>
                <form id="helper"><block>
                  <var name="seen" expr="bump()"/>
                  <return namelist="seen"/>
                </block></form>"##,
            ),
        ),
    ])
    .run();
    // The subdialog's context has its own, freshly initialised application scope.
    assert_eq!(run.exit_value(), "\"2 1\"");
}

#[test]
fn submit_sends_the_namelist_with_its_method() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<form><block>
                  <var name="who" expr="'ann'"/><var name="n" expr="3"/>
                  <submit next="save.vxml" namelist="who n" method="post"/>
                </block></form>"#,
            ),
        ),
        (
            "http://ivr.test/save.vxml",
            &vxml(r#"<form><block><exit expr="'saved'"/></block></form>"#),
        ),
    ])
    .run();
    assert_eq!(run.exit_value(), "\"saved\"");
    let submit = run.fetches()[1];
    assert_eq!(submit.method, herald_ivr::Method::Post);
    assert_eq!(
        submit.params,
        [
            ("who".to_owned(), "ann".to_owned()),
            ("n".to_owned(), "3".to_owned())
        ]
    );
}

#[test]
fn goto_expr_and_expritem() {
    let run = Platform::main(&vxml(
        r##"<var name="target" expr="'#b'"/>
        <form id="a"><block><goto expr="target"/></block></form>
        <form id="b">
          <block name="one"><goto expritem="'three'"/></block>
          <block name="two"><exit expr="'two'"/></block>
          <block name="three"><log>three</log></block>
        </form>"##,
    ))
    .run();
    assert_eq!(run.logs(), ["three"]);
    assert_eq!(run.exit_value(), "\"two\"");
}

#[test]
fn goto_an_unknown_item_is_error_badfetch() {
    let run = Platform::main(&vxml(
        r#"<form><block><goto nextitem="ghost"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.badfetch");
}

#[test]
fn a_missing_application_root_is_error_badfetch() {
    let run = Platform::main(&vxml_leaf(
        "no-root.vxml",
        r#"<form><block>unreachable</block></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.badfetch.http.404");
    assert!(run.spoken().is_empty());
}

#[test]
fn catch_in_the_document_sees_the_badfetch_of_a_goto() {
    let run = Platform::main(&vxml(
        r#"<error><exit expr="_event"/></error>
        <form><block><goto next="missing.vxml"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"error.badfetch.http.404\"");
}

#[test]
fn audio_with_src_and_fallback() {
    let run = Platform::main(&vxml(
        r#"<form><block>
          <prompt><audio src="prompt:welcome">Welcome</audio><audio src="clips/a.wav"/></prompt>
          <prompt><audio expr="undefined">never</audio>after</prompt>
          <prompt>a<break time="250ms"/>b</prompt>
        </block></form>"#,
    ))
    .run();
    let prompts = run.prompts();
    assert_eq!(
        prompts[0].items,
        [
            herald_ivr::PromptItem::Audio {
                src: "prompt:welcome".into(),
                fallback: "Welcome".into(),
                computed: false,
            },
            herald_ivr::PromptItem::Audio {
                src: "http://ivr.test/clips/a.wav".into(),
                fallback: String::new(),
                computed: false,
            },
        ]
    );
    assert_eq!(
        prompts[1].items,
        [herald_ivr::PromptItem::Text("after".into())]
    );
    assert_eq!(
        prompts[2].items,
        [
            herald_ivr::PromptItem::Text("a".into()),
            herald_ivr::PromptItem::Break(std::time::Duration::from_millis(250)),
            herald_ivr::PromptItem::Text("b".into()),
        ]
    );
}
