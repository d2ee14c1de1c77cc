//! Collecting DTMF: fields with builtin, option and SRGS grammars, timeouts, termchar,
//! noinput/nomatch with counts, prompt counts, menus, barge-in and type-ahead.

mod support;

use std::time::Duration;

use herald_ivr::{Output, PathEvent};
use support::{MAIN, Platform, Step, barge, keys, vxml};

/// A form with one field of `field_attrs` and `inner` content that exits with the value.
fn one_field(field_attrs: &str, inner: &str) -> String {
    vxml(&format!(
        r#"<form>
          <field name="f" {field_attrs}>
            <prompt>Enter it.</prompt>
            {inner}
            <filled><exit expr="f"/></filled>
          </field>
        </form>"#
    ))
}

#[test]
fn digits_of_fixed_length_fill_the_field_and_run_filled() {
    let run = Platform::main(&vxml(
        r#"<form>
          <field name="pin" type="digits?length=4">
            <prompt>Your PIN.</prompt>
            <filled><log expr="'got ' + pin + ' ' + pin$.utterance + ' ' + pin$.inputmode"/></filled>
          </field>
          <block><exit expr="lastresult$.interpretation"/></block>
        </form>"#,
    ))
    .keys("1234")
    .run();
    assert_eq!(run.logs(), ["got 1234 1234 dtmf"]);
    assert_eq!(run.exit_value(), "\"1234\"");
    assert!(run.outputs.contains(&Output::Listen { secure: false }));
    assert!(run.paths().contains(&&PathEvent::Input {
        item: "pin".into(),
        keys: 4,
        secure: false
    }));
    // A fixed-length match completes on the fourth key: no timeout needed.
    assert_eq!(run.elapsed, Duration::from_millis(400));
}

#[test]
fn boolean_field() {
    let doc = one_field(r#"type="boolean""#, "");
    let yes = Platform::main(&doc).keys("1").run();
    assert_eq!(yes.exit_value(), "true");
    let no = Platform::main(&doc).keys("2").run();
    assert_eq!(no.exit_value(), "false");
}

#[test]
fn termchar_ends_variable_length_input() {
    let doc = one_field(r#"type="digits?minlength=1;maxlength=9""#, "");
    let run = Platform::main(&doc).keys("42#").run();
    assert_eq!(run.exit_value(), "\"42\"");
    // Ended by '#' after the second key, long before any interdigit timeout.
    assert_eq!(run.elapsed, Duration::from_millis(300));
}

#[test]
fn termchar_property_changes_the_terminating_key() {
    let doc = vxml(
        r#"<property name="termchar" value="*"/>
        <form><field name="f" type="digits?minlength=1;maxlength=9">
          <filled><exit expr="f"/></filled>
        </field></form>"#,
    );
    let run = Platform::main(&doc).keys("42*").run();
    assert_eq!(run.exit_value(), "\"42\"");
}

#[test]
fn interdigit_timeout_completes_variable_length_digits() {
    let doc = one_field(r#"type="digits?minlength=2;maxlength=6""#, "");
    let run = Platform::main(&doc).keys("123").run();
    assert_eq!(run.exit_value(), "\"123\"");
    // Three keys, then the default 3 s interdigit timeout.
    assert_eq!(
        run.elapsed,
        Duration::from_millis(300) + Duration::from_secs(3)
    );
}

#[test]
fn interdigit_timeout_property_is_honoured() {
    let doc = vxml(
        r#"<property name="interdigittimeout" value="500ms"/>
        <form><field name="f" type="digits?minlength=2;maxlength=6">
          <filled><exit expr="f"/></filled>
        </field></form>"#,
    );
    let run = Platform::main(&doc).keys("123").run();
    assert_eq!(run.exit_value(), "\"123\"");
    assert_eq!(run.elapsed, Duration::from_millis(800));
}

#[test]
fn maxlength_completes_without_waiting() {
    let doc = one_field(r#"type="digits?minlength=2;maxlength=6""#, "");
    let run = Platform::main(&doc).keys("123456").run();
    assert_eq!(run.exit_value(), "\"123456\"");
    assert_eq!(run.elapsed, Duration::from_millis(600));
}

#[test]
fn too_few_digits_then_timeout_is_nomatch() {
    let doc = one_field(
        r#"type="digits?minlength=2;maxlength=6""#,
        r#"<nomatch><exit expr="'nomatch'"/></nomatch>"#,
    );
    let run = Platform::main(&doc).keys("1").run();
    assert_eq!(run.exit_value(), "\"nomatch\"");
}

const ESCALATION: &str = r#"<form>
  <field name="f" type="digits?length=2">
    <prompt>Enter two digits.</prompt>
    <noinput count="1"><log>noinput 1</log></noinput>
    <noinput count="2"><log>noinput 2</log><reprompt/></noinput>
    <noinput count="3"><exit expr="'gave up'"/></noinput>
    <nomatch><log>nomatch 1</log><reprompt/></nomatch>
    <nomatch count="2"><log>nomatch 2</log><reprompt/></nomatch>
    <filled><exit expr="f"/></filled>
  </field>
</form>"#;

#[test]
fn noinput_counts_escalate() {
    let run = Platform::main(&vxml(ESCALATION))
        .steps([Step::Silence, Step::Silence, Step::Silence])
        .run();
    assert_eq!(run.logs(), ["noinput 1", "noinput 2"]);
    assert_eq!(run.exit_value(), "\"gave up\"");
    // Each noinput waited the default 5 s timeout.
    assert_eq!(run.elapsed, Duration::from_secs(15));
    let reprompts = run
        .paths()
        .iter()
        .filter(|p| matches!(p, PathEvent::Reprompt { event, .. } if event == "noinput"))
        .count();
    assert_eq!(reprompts, 3);
}

#[test]
fn a_catch_without_reprompt_does_not_replay_the_prompts() {
    let run = Platform::main(&vxml(ESCALATION))
        .steps([Step::Silence])
        .keys("12")
        .run();
    assert_eq!(run.exit_value(), "\"12\"");
    // noinput 1 has no <reprompt/>: the field's prompt played once.
    assert_eq!(run.spoken(), ["Enter two digits."]);
}

#[test]
fn nomatch_counts_escalate_and_reprompt_replays() {
    let run = Platform::main(&vxml(ESCALATION))
        .keys("*")
        .keys("#")
        .keys("*")
        .keys("42")
        .run();
    assert_eq!(run.logs(), ["nomatch 1", "nomatch 2", "nomatch 2"]);
    assert_eq!(run.exit_value(), "\"42\"");
    assert_eq!(run.spoken().len(), 4, "{:?}", run.spoken());
}

#[test]
fn default_handlers_reprompt() {
    let doc = one_field(r#"type="digits?length=2""#, "");
    let run = Platform::main(&doc)
        .steps([Step::Silence])
        .keys("*")
        .keys("77")
        .run();
    assert_eq!(run.exit_value(), "\"77\"");
    assert_eq!(run.spoken(), ["Enter it.", "Enter it.", "Enter it."]);
}

#[test]
fn prompt_counts_select_prompts() {
    let doc = one_field(
        r#"type="digits?length=2""#,
        r#"<prompt count="2">Second try.</prompt>
           <prompt count="4">Fourth try.</prompt>"#,
    );
    let run = Platform::main(&doc)
        .steps([Step::Silence, Step::Silence, Step::Silence, Step::Silence])
        .keys("11")
        .run();
    assert_eq!(
        run.spoken(),
        [
            "Enter it.",
            "Second try.",
            "Second try.",
            "Fourth try.",
            "Fourth try."
        ]
    );
}

#[test]
fn prompt_timeout_attribute_sets_the_noinput_timeout() {
    let doc = vxml(
        r#"<form><field name="f" type="digits?length=1">
          <prompt timeout="2s">Quick.</prompt>
          <noinput><exit expr="'noinput'"/></noinput>
        </field></form>"#,
    );
    let run = Platform::main(&doc).run();
    assert_eq!(run.exit_value(), "\"noinput\"");
    assert_eq!(run.elapsed, Duration::from_secs(2));
}

#[test]
fn option_elements_form_the_grammar() {
    let doc = one_field(
        "",
        r#"<option dtmf="1" value="sales">Sales</option>
           <option dtmf="2">support</option>"#,
    );
    assert_eq!(
        Platform::main(&doc).keys("1").run().exit_value(),
        "\"sales\""
    );
    assert_eq!(
        Platform::main(&doc).keys("2").run().exit_value(),
        "\"support\""
    );
    let run = Platform::main(&doc).keys("3").keys("2").run();
    assert_eq!(run.exit_value(), "\"support\"");
}

#[test]
fn enumerate_in_a_field_lists_its_options() {
    let doc = vxml(
        r#"<form><field name="f">
          <prompt>Say <enumerate><value expr="_prompt"/> press <value expr="_dtmf"/>;</enumerate></prompt>
          <option dtmf="1" value="a">apples</option>
          <option dtmf="2" value="p">pears</option>
          <filled><exit expr="f"/></filled>
        </field></form>"#,
    );
    let run = Platform::main(&doc).keys("2").run();
    assert_eq!(run.spoken(), ["Say apples press 1 ; pears press 2 ;"]);
    assert_eq!(run.exit_value(), "\"p\"");
}

#[test]
fn inline_srgs_grammar() {
    let doc = one_field(
        "",
        r#"<grammar mode="dtmf" root="r" version="1.0" xmlns="http://www.w3.org/2001/06/grammar">
             <rule id="r"><one-of>
               <item>1 2<tag>out = "twelve";</tag></item>
               <item>3</item>
             </one-of></rule>
           </grammar>"#,
    );
    assert_eq!(
        Platform::main(&doc).keys("12").run().exit_value(),
        "\"twelve\""
    );
    assert_eq!(Platform::main(&doc).keys("3").run().exit_value(), "\"3\"");
    let run = Platform::main(&doc).keys("4").keys("3").run();
    assert_eq!(run.exit_value(), "\"3\"");
    assert!(
        run.paths()
            .iter()
            .any(|p| matches!(p, PathEvent::Reprompt { event, .. } if event == "nomatch"))
    );
}

#[test]
fn srgs_semantics_script_tags_are_evaluated() {
    let doc = one_field(
        "",
        r#"<grammar mode="dtmf" root="r" tag-format="semantics/1.0" version="1.0"
                    xmlns="http://www.w3.org/2001/06/grammar">
             <rule id="r"><item repeat="1-3"><one-of><item>1</item><item>2</item></one-of></item>
               #<tag>out.n = meta.current().text.length;</tag></rule>
           </grammar>
           <filled><exit expr="f.n"/></filled>"#,
    );
    // The field's own <filled> runs first and exits.
    let run = Platform::main(&doc).keys("121#").run();
    assert_eq!(run.exit_value(), "4");
}

#[test]
fn external_srgs_grammar_is_fetched() {
    let grammar = r#"<grammar mode="dtmf" root="r" version="1.0" xmlns="http://www.w3.org/2001/06/grammar">
        <rule id="r"><item>9 9</item></rule></grammar>"#;
    let run = Platform::new(&[
        (MAIN, &one_field("", r#"<grammar src="nines.grxml"/>"#)),
        ("http://ivr.test/nines.grxml", grammar),
    ])
    .keys("99")
    .run();
    assert_eq!(run.exit_value(), "\"99\"");
    assert!(
        run.fetches()
            .iter()
            .any(|f| f.uri == "http://ivr.test/nines.grxml")
    );
}

#[test]
fn several_grammars_first_complete_wins() {
    let doc = one_field(
        r#"type="digits?length=2""#,
        r#"<option dtmf="9">nine</option>"#,
    );
    assert_eq!(
        Platform::main(&doc).keys("9").run().exit_value(),
        "\"nine\""
    );
    assert_eq!(Platform::main(&doc).keys("12").run().exit_value(), "\"12\"");
}

const MENU: &str = r##"<menu id="main" dtmf="true">
  <prompt>Choose: <enumerate/></prompt>
  <choice next="#sales">Sales</choice>
  <choice next="#support">Support</choice>
  <choice dtmf="0" next="#operator">Operator</choice>
  <noinput><exit expr="'menu noinput'"/></noinput>
</menu>
<form id="sales"><block><exit expr="'sales'"/></block></form>
<form id="support"><block><exit expr="'support'"/></block></form>
<form id="operator"><block><exit expr="'operator'"/></block></form>"##;

#[test]
fn menu_with_automatic_and_explicit_dtmf() {
    let run = Platform::main(&vxml(MENU)).keys("2").run();
    assert_eq!(run.exit_value(), "\"support\"");
    assert_eq!(run.spoken(), ["Choose: Sales Support Operator"]);
    assert!(run.paths().contains(&&PathEvent::MenuChoice {
        menu: "main".into(),
        choice: "2".into()
    }));
    assert_eq!(
        Platform::main(&vxml(MENU)).keys("1").run().exit_value(),
        "\"sales\""
    );
    assert_eq!(
        Platform::main(&vxml(MENU)).keys("0").run().exit_value(),
        "\"operator\""
    );
}

#[test]
fn menu_nomatch_reprompts_and_noinput_is_caught() {
    let run = Platform::main(&vxml(MENU)).keys("7").keys("0").run();
    assert_eq!(run.exit_value(), "\"operator\"");
    assert_eq!(run.spoken().len(), 2);
    let run = Platform::main(&vxml(MENU)).steps([Step::Silence]).run();
    assert_eq!(run.exit_value(), "\"menu noinput\"");
}

#[test]
fn menu_choice_can_throw_an_event() {
    let run = Platform::main(&vxml(
        r#"<menu>
          <choice dtmf="5" event="custom.help" message="asked">Help</choice>
          <catch event="custom.help"><exit expr="_message"/></catch>
        </menu>"#,
    ))
    .keys("5")
    .run();
    assert_eq!(run.exit_value(), "\"asked\"");
}

#[test]
fn enumerate_with_template_in_a_menu() {
    let run = Platform::main(&vxml(
        r##"<menu dtmf="true">
          <prompt><enumerate>For <value expr="_prompt"/> press <value expr="_dtmf"/>.</enumerate></prompt>
          <choice next="#a">apples</choice>
          <choice next="#b">bananas</choice>
        </menu>
        <form id="a"><block><exit expr="'a'"/></block></form>
        <form id="b"><block><exit expr="'b'"/></block></form>"##,
    ))
    .keys("2")
    .run();
    assert_eq!(run.spoken(), ["For apples press 1 . For bananas press 2 ."]);
    assert_eq!(run.exit_value(), "\"b\"");
}

#[test]
fn document_link_is_active_during_a_field() {
    let run = Platform::main(&vxml(
        r##"<link dtmf="*" next="#out"/>
        <form><field name="f" type="digits?length=3"><filled><exit expr="f"/></filled></field></form>
        <form id="out"><block><exit expr="'link'"/></block></form>"##,
    ))
    .keys("*")
    .run();
    assert_eq!(run.exit_value(), "\"link\"");
}

#[test]
fn clear_makes_a_field_visited_again() {
    let run = Platform::main(&vxml(
        r#"<form>
          <var name="round" expr="0"/>
          <field name="f" type="digits?length=1">
            <prompt>Digit.</prompt>
            <filled>
              <assign name="round" expr="round + 1"/>
              <log expr="'round ' + round + ': ' + f"/>
              <if cond="round &lt; 2"><clear namelist="f"/></if>
            </filled>
          </field>
          <block><exit expr="f"/></block>
        </form>"#,
    ))
    .keys("3")
    .keys("8")
    .run();
    assert_eq!(run.logs(), ["round 1: 3", "round 2: 8"]);
    assert_eq!(run.exit_value(), "\"8\"");
    // The prompt counter was reset too: the same (count 1) prompt played twice.
    assert_eq!(run.spoken(), ["Digit.", "Digit."]);
}

#[test]
fn form_level_filled_runs_when_all_items_are_filled() {
    let run = Platform::main(&vxml(
        r#"<form>
          <field name="a" type="digits?length=1"/>
          <field name="b" type="digits?length=1"/>
          <filled mode="all"><exit expr="a + b"/></filled>
          <filled mode="any" namelist="a"><log expr="'a is ' + a"/></filled>
        </form>"#,
    ))
    .keys("12")
    .run();
    assert_eq!(run.logs(), ["a is 1"]);
    assert_eq!(run.exit_value(), "\"12\"");
}

#[test]
fn field_expr_and_cond_guard_selection() {
    let run = Platform::main(&vxml(
        r#"<form>
          <field name="pre" type="digits?length=1" expr="'5'"/>
          <field name="skipped" type="digits?length=1" cond="false"/>
          <block><exit expr="pre + ' ' + typeof skipped"/></block>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"5 undefined\"");
    assert_eq!(run.count(|o| matches!(o, Output::Listen { .. })), 0);
}

#[test]
fn a_key_during_a_prompt_barges_in_and_counts_as_input() {
    let doc = one_field(r#"type="digits?length=2""#, "");
    let run = Platform::main(&doc).steps(barge("4")).keys("2").run();
    assert_eq!(run.exit_value(), "\"42\"");
    let stop = run
        .position(|o| matches!(o, Output::StopPrompts))
        .expect("barge-in stops the prompts");
    let listen = run
        .position(|o| matches!(o, Output::Listen { .. }))
        .expect("listening");
    assert!(listen < stop, "{}", run.transcript());
}

#[test]
fn bargein_false_ignores_keys_while_the_prompt_plays() {
    let doc = vxml(
        r#"<form><field name="f" type="digits?length=2">
          <prompt bargein="false">Listen to all of this.</prompt>
          <filled><exit expr="f"/></filled>
        </field></form>"#,
    );
    let run = Platform::main(&doc).steps(barge("99")).keys("12").run();
    assert_eq!(run.exit_value(), "\"12\"");
    assert_eq!(run.count(|o| matches!(o, Output::StopPrompts)), 0);
}

#[test]
fn bargein_property_false_ignores_keys() {
    let doc = vxml(
        r#"<property name="bargein" value="false"/>
        <form><field name="f" type="digits?length=1">
          <prompt>Wait.</prompt>
          <filled><exit expr="f"/></filled>
        </field></form>"#,
    );
    let run = Platform::main(&doc).steps(barge("9")).keys("1").run();
    assert_eq!(run.exit_value(), "\"1\"");
}

#[test]
fn typeahead_before_the_field_listens_is_buffered() {
    let doc = vxml(
        r#"<form>
          <block><prompt>Welcome to the long greeting.</prompt></block>
          <field name="f" type="digits?length=3">
            <prompt>Enter three digits.</prompt>
            <filled><exit expr="f"/></filled>
          </field>
        </form>"#,
    );
    let run = Platform::main(&doc).steps(barge("123")).run();
    assert_eq!(run.exit_value(), "\"123\"");
}

#[test]
fn mark_name_reaches_lastresult() {
    let doc = vxml(
        r#"<form><field name="f" type="digits?length=1">
          <prompt>Before <mark name="m1"/> after.</prompt>
          <filled><exit expr="lastresult$.markname"/></filled>
        </field></form>"#,
    );
    let run = Platform::main(&doc).keys("1").run();
    assert_eq!(run.exit_value(), "\"m1\"");
}

#[test]
fn transfer_outcome_fills_the_variable() {
    let run = Platform::main(&vxml(
        r#"<form>
          <transfer name="t" dest="sip:agent@example.com" bridge="true" connecttimeout="20s">
            <filled><exit expr="t + ' ' + typeof t$.duration"/></filled>
          </transfer>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"busy number\"");
    let request = run
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Transfer(t) => Some(t),
            _ => None,
        })
        .expect("a transfer request");
    assert_eq!(request.dest, "sip:agent@example.com");
    assert!(request.bridge);
    assert_eq!(request.connect_timeout, Duration::from_secs(20));
    assert!(run.paths().contains(&&PathEvent::Transfer {
        dest: "sip:agent@example.com".into(),
        outcome: "busy".into()
    }));
}

#[test]
fn transfer_error_throws_the_connection_event() {
    let mut platform = Platform::main(&vxml(
        r#"<form>
          <catch event="error.connection.noresource"><exit expr="_event"/></catch>
          <transfer name="t" dest="sip:x@example.com" bridge="true"/>
        </form>"#,
    ));
    platform.transfer = herald_ivr::TransferOutcome::Error("error.connection.noresource".into());
    let run = platform.run();
    assert_eq!(run.exit_value(), "\"error.connection.noresource\"");
}

#[test]
fn record_unsupported_throws_error_unsupported_record() {
    let run = Platform::main(&vxml(
        r#"<form>
          <error><exit expr="_event"/></error>
          <record name="msg" beep="true" maxtime="30s"/>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"error.unsupported.record\"");
    assert!(run.outputs.iter().any(|o| matches!(
        o,
        Output::Record(r) if r.beep && r.max_time == Some(Duration::from_secs(30))
    )));
}

#[test]
fn record_outcome_fills_the_shadow_variables() {
    let mut platform = Platform::main(&vxml(
        r#"<form><record name="msg">
          <filled><exit expr="msg$.duration + ' ' + msg$.size + ' ' + msg$.termchar"/></filled>
        </record></form>"#,
    ));
    platform.record = herald_ivr::RecordOutcome::Recorded {
        duration: Duration::from_millis(2500),
        size: 40_000,
        termchar: Some('#'),
        max_time: false,
    };
    assert_eq!(platform.run().exit_value(), "\"2500 40000 #\"");
}

#[test]
fn hangup_during_a_field_ends_with_hangup() {
    let doc = one_field(r#"type="digits?length=4""#, "");
    let run = Platform::main(&doc).keys("12").steps([Step::Hangup]).run();
    assert_eq!(run.outcome(), &herald_ivr::Outcome::Hangup);
}

#[test]
fn hangup_catch_runs_before_the_session_ends() {
    let doc = one_field(
        r#"type="digits?length=4""#,
        r#"<catch event="connection.disconnect.hangup"><log>cleanup</log></catch>"#,
    );
    let run = Platform::main(&doc).steps([Step::Hangup]).run();
    assert_eq!(run.logs(), ["cleanup"]);
    assert_eq!(run.outcome(), &herald_ivr::Outcome::Hangup);
}

#[test]
fn keys_helper_matches_steps() {
    assert_eq!(keys("1#"), [Step::Key('1'), Step::Key('#')]);
    assert_eq!(MAIN, "http://ivr.test/main.vxml");
}

#[test]
fn platform_timeouts_and_the_timeout_property() {
    let config = herald_ivr::SessionConfig {
        timeouts: herald_ivr::Timeouts {
            noinput: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let doc = one_field(
        r#"type="digits?length=1""#,
        r#"<noinput><exit expr="'noinput'"/></noinput>"#,
    );
    let run = Platform::main(&doc).with_config(config).run();
    assert_eq!(run.exit_value(), "\"noinput\"");
    assert_eq!(run.elapsed, Duration::from_secs(1));

    let doc = vxml(
        r#"<form><property name="timeout" value="7s"/>
          <field name="f" type="digits?length=1"><noinput><exit expr="'noinput'"/></noinput></field>
        </form>"#,
    );
    let run = Platform::main(&doc).run();
    assert_eq!(run.elapsed, Duration::from_secs(7));
}

#[test]
fn event_counts_restart_when_the_form_is_entered_again() {
    let doc = vxml(
        r##"<var name="entries" expr="0"/>
        <form id="f">
          <block><assign name="entries" expr="entries + 1"/></block>
          <field name="x" type="digits?length=1">
            <nomatch count="1"><log expr="'first nomatch, entry ' + entries"/>
              <if cond="entries &lt; 2"><goto next="#f"/></if></nomatch>
            <nomatch count="2"><exit expr="'second nomatch'"/></nomatch>
          </field>
        </form>"##,
    );
    let run = Platform::main(&doc).keys("*").keys("*").keys("*").run();
    assert_eq!(
        run.logs(),
        ["first nomatch, entry 1", "first nomatch, entry 2"]
    );
    assert_eq!(run.exit_value(), "\"second nomatch\"");
}
