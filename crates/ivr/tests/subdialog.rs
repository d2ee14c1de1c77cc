//! Subdialogs: parameters, return values, return events, their own scopes.

mod support;

use support::{MAIN, Platform, vxml};

const SUB: &str = "http://ivr.test/sub.vxml";

fn sub_document() -> String {
    vxml(
        r#"<var name="docvar" expr="'sub document'"/>
        <form id="ask">
          <var name="greeting"/>
          <var name="times" expr="1"/>
          <field name="answer" type="digits?length=2">
            <prompt><value expr="greeting"/></prompt>
          </field>
          <block>
            <var name="doubled" expr="answer * 2 * times"/>
            <if cond="answer == '00'">
              <return event="sub.cancelled" message="zero"/>
            </if>
            <return namelist="answer doubled"/>
          </block>
        </form>"#,
    )
}

#[test]
fn subdialog_takes_params_and_returns_a_namelist() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<var name="docvar" expr="'caller document'"/>
                <form>
                  <var name="hello" expr="'Two digits please'"/>
                  <subdialog name="result" src="sub.vxml#ask">
                    <param name="greeting" expr="hello"/>
                    <param name="times" value="3"/>
                    <filled>
                      <log expr="result.answer + ' ' + result.doubled + ' ' + docvar"/>
                    </filled>
                  </subdialog>
                  <block><exit expr="result.doubled"/></block>
                </form>"#,
            ),
        ),
        (SUB, &sub_document()),
    ])
    .keys("21")
    .run();
    assert_eq!(run.spoken(), ["Two digits please"]);
    assert_eq!(run.logs(), ["21 126 caller document"]);
    assert_eq!(run.exit_value(), "126");
}

#[test]
fn subdialog_return_event_is_thrown_in_the_caller() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<form>
                  <catch event="sub.cancelled"><exit expr="'caller caught ' + _message"/></catch>
                  <subdialog name="result" src="sub.vxml">
                    <param name="greeting" expr="'hi'"/>
                  </subdialog>
                </form>"#,
            ),
        ),
        (SUB, &sub_document()),
    ])
    .keys("00")
    .run();
    assert_eq!(run.exit_value(), "\"caller caught zero\"");
}

#[test]
fn subdialog_in_the_same_document_has_its_own_scopes() {
    let run = Platform::main(&vxml(
        r##"<var name="counter" expr="0"/>
        <form id="main">
          <block><assign name="counter" expr="counter + 5"/></block>
          <subdialog name="r" src="#helper"/>
          <block><exit expr="counter + ' ' + r.seen"/></block>
        </form>
        <form id="helper">
          <block>
            <var name="seen" expr="counter"/>
            <assign name="counter" expr="100"/>
            <return namelist="seen"/>
          </block>
        </form>"##,
    ))
    .run();
    // The subdialog's document scope is fresh (counter is 0 there); its changes stay there.
    assert_eq!(run.exit_value(), "\"5 0\"");
}

#[test]
fn subdialog_fetch_failure_is_error_badfetch_in_the_caller() {
    let run = Platform::main(&vxml(
        r#"<form>
          <error><exit expr="_event"/></error>
          <subdialog name="r" src="missing.vxml"/>
        </form>"#,
    ))
    .run();
    assert_eq!(run.exit_value(), "\"error.badfetch.http.404\"");
}

#[test]
fn return_outside_a_subdialog_is_error_semantic() {
    let run = Platform::main(&vxml(r#"<form><block><return/></block></form>"#)).run();
    assert_eq!(run.error_event(), "error.semantic");
}

#[test]
fn subdialog_namelist_is_submitted() {
    let run = Platform::new(&[
        (
            MAIN,
            &vxml(
                r#"<form>
                  <var name="account" expr="'A-17'"/>
                  <subdialog name="r" src="sub.vxml" namelist="account" method="post">
                    <param name="greeting" expr="'x'"/>
                  </subdialog>
                  <block><exit expr="r.answer"/></block>
                </form>"#,
            ),
        ),
        (SUB, &sub_document()),
    ])
    .keys("42")
    .run();
    assert_eq!(run.exit_value(), "\"42\"");
    let fetch = run
        .fetches()
        .into_iter()
        .find(|f| f.uri == SUB)
        .expect("subdialog fetched");
    assert_eq!(fetch.method, herald_ivr::Method::Post);
    assert_eq!(fetch.params, [("account".to_owned(), "A-17".to_owned())]);
}
