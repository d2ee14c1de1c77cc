//! Herald's namespace (`urn:herald:ivr`): recording control, consent, language, disclosure
//! evidence and secure input.

mod support;

use herald_ivr::{Consent, Output, PathEvent, RecordingAction};
use support::{Platform, Step, barge, vxml};

#[test]
fn recording_element_emits_recording_control() {
    let run = Platform::main(&vxml(
        r#"<form><block>
          <herald:recording action="pause" reason="x"/>
          <herald:recording action="resume"/>
        </block></form>"#,
    ))
    .run();
    let recordings: Vec<&Output> = run
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::Recording { .. }))
        .collect();
    assert_eq!(
        recordings,
        [
            &Output::Recording {
                action: RecordingAction::Pause,
                reason: "x".into()
            },
            &Output::Recording {
                action: RecordingAction::Resume,
                reason: "document".into()
            },
        ]
    );
}

#[test]
fn an_unknown_recording_action_is_error_semantic() {
    let run = Platform::main(&vxml(
        r#"<form><block><herald:recording action="rewind"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.semantic");
}

#[test]
fn consent_is_reported_and_visible_to_the_document() {
    let run = Platform::main(&vxml(
        r#"<form><block>
          <herald:consent decision="opted-out"/>
          <exit expr="session.herald.consent"/>
        </block></form>"#,
    ))
    .run();
    assert!(
        run.outputs
            .contains(&Output::Path(PathEvent::Consent(Consent::OptedOut)))
    );
    assert_eq!(run.exit_value(), "\"opted-out\"");

    let run = Platform::main(&vxml(
        r#"<form><block>
          <var name="ok" expr="true"/>
          <herald:consent expr="ok ? 'accepted' : 'opted-out'"/>
          <exit expr="session.herald.consent"/>
        </block></form>"#,
    ))
    .run();
    assert!(
        run.outputs
            .contains(&Output::Path(PathEvent::Consent(Consent::Accepted)))
    );
    assert_eq!(run.exit_value(), "\"accepted\"");
}

#[test]
fn consent_from_a_menu_choice() {
    let run = Platform::main(&vxml(
        r##"<menu>
          <prompt>Press 1 to accept recording, 2 to refuse.</prompt>
          <choice dtmf="1" next="#yes"/>
          <choice dtmf="2" next="#no"/>
        </menu>
        <form id="yes"><block><herald:consent decision="accepted"/></block></form>
        <form id="no"><block><herald:consent decision="opted-out"/></block></form>"##,
    ))
    .keys("2")
    .run();
    let consents: Vec<&PathEvent> = run
        .paths()
        .into_iter()
        .filter(|p| matches!(p, PathEvent::Consent(_)))
        .collect();
    assert_eq!(consents, [&PathEvent::Consent(Consent::OptedOut)]);
}

#[test]
fn language_changes_following_prompts() {
    let config = herald_ivr::SessionConfig {
        language: Some("en".into()),
        ..Default::default()
    };
    let run = Platform::main(&vxml(
        r#"<form><block>
          <prompt>Hello</prompt>
          <herald:language value="de"/>
          <prompt>Hallo</prompt>
          Bare text
          <prompt xml:lang="fr">Bonjour</prompt>
          <exit expr="session.herald.language"/>
        </block></form>"#,
    ))
    .with_config(config)
    .run();
    let languages: Vec<Option<&str>> = run
        .prompts()
        .iter()
        .map(|p| p.language.as_deref())
        .collect();
    assert_eq!(languages, [Some("en"), Some("de"), Some("de"), Some("fr")]);
    assert!(run.paths().contains(&&PathEvent::Language("de".into())));
    assert_eq!(run.exit_value(), "\"de\"");
}

#[test]
fn an_invalid_language_tag_is_error_semantic() {
    let run = Platform::main(&vxml(
        r#"<form><block><herald:language expr="'de; rm -rf'"/></block></form>"#,
    ))
    .run();
    assert_eq!(run.error_event(), "error.semantic");
}

#[test]
fn prompt_evidence_is_carried() {
    let run = Platform::main(&vxml(
        r#"<form><block>
          <prompt herald:evidence="disclosure-v1">This call is recorded.</prompt>
          <prompt>Plain.</prompt>
        </block></form>"#,
    ))
    .run();
    let evidence: Vec<Option<&str>> = run
        .prompts()
        .iter()
        .map(|p| p.evidence.as_deref())
        .collect();
    assert_eq!(evidence, [Some("disclosure-v1"), None]);
}

/// The card number the secure tests key in; it must appear nowhere in the outputs.
const CARD: &str = "4111222233334444";

fn secure_document() -> String {
    vxml(
        r#"<form>
          <field name="card" type="digits?length=16" herald:secure="true">
            <prompt>Your card number.</prompt>
            <filled>
              <log expr="card"/>
              <log>card is <value expr="card"/> and <value expr="card$.utterance"/></log>
              <log expr="lastresult$.utterance"/>
            </filled>
          </field>
          <field name="after" type="digits?length=1">
            <filled><exit expr="'done'"/></filled>
          </field>
        </form>"#,
    )
}

#[test]
fn secure_field_pauses_recording_while_listening() {
    let run = Platform::main(&secure_document())
        .keys(CARD)
        .keys("1")
        .run();
    assert_eq!(run.exit_value(), "\"done\"");
    let pause = run
        .position(|o| {
            matches!(
                o,
                Output::Recording {
                    action: RecordingAction::Pause,
                    ..
                }
            )
        })
        .expect("recording paused");
    let listen = run
        .position(|o| o == &Output::Listen { secure: true })
        .expect("secure listen");
    let resume = run
        .position(|o| {
            matches!(
                o,
                Output::Recording {
                    action: RecordingAction::Resume,
                    ..
                }
            )
        })
        .expect("recording resumed");
    let first_log = run
        .position(|o| matches!(o, Output::Log { .. }))
        .expect("logs");
    let plain_listen = run
        .position(|o| o == &Output::Listen { secure: false })
        .expect("second field listens");
    assert!(pause < listen, "{}", run.transcript());
    assert!(
        listen < resume && resume < first_log,
        "{}",
        run.transcript()
    );
    assert!(resume < plain_listen, "{}", run.transcript());
    assert!(run.paths().contains(&&PathEvent::Input {
        item: "card".into(),
        keys: 16,
        secure: true
    }));
}

#[test]
fn secure_digits_never_leave_the_interpreter() {
    let run = Platform::main(&secure_document())
        .keys(CARD)
        .keys("1")
        .run();
    assert_eq!(run.exit_value(), "\"done\"");
    assert_eq!(
        run.logs(),
        ["[secure]", "card is [secure] and [secure]", "[secure]"]
    );
    for output in &run.outputs {
        let text = format!("{output:?}");
        assert!(!text.contains(CARD), "secure digits leaked: {text}");
        assert!(
            !text.contains("41112222"),
            "part of the card leaked: {text}"
        );
    }
}

#[test]
fn secure_digits_typed_ahead_or_barged_stay_secret() {
    let run = Platform::main(&secure_document())
        .steps(barge(CARD))
        .keys("1")
        .run();
    assert_eq!(run.exit_value(), "\"done\"");
    for output in &run.outputs {
        let text = format!("{output:?}");
        assert!(!text.contains(CARD), "secure digits leaked: {text}");
    }
}

#[test]
fn secure_value_in_an_uncaught_error_message_is_redacted() {
    let run = Platform::main(&vxml(
        r#"<form>
          <field name="pin" type="digits?length=4" herald:secure="true">
            <filled><throw event="app.failed" messageexpr="'bad pin ' + pin"/></filled>
          </field>
        </form>"#,
    ))
    .keys("9876")
    .run();
    assert_eq!(run.error_event(), "app.failed");
    for output in &run.outputs {
        let text = format!("{output:?}");
        assert!(!text.contains("9876"), "secure digits leaked: {text}");
    }
}

#[test]
fn hangup_in_a_secure_field_resumes_recording() {
    let run = Platform::main(&secure_document())
        .keys("4111")
        .steps([Step::Hangup])
        .run();
    assert_eq!(run.outcome(), &herald_ivr::Outcome::Hangup);
    let pauses = run.count(|o| {
        matches!(
            o,
            Output::Recording {
                action: RecordingAction::Pause,
                ..
            }
        )
    });
    let resumes = run.count(|o| {
        matches!(
            o,
            Output::Recording {
                action: RecordingAction::Resume,
                ..
            }
        )
    });
    assert_eq!((pauses, resumes), (1, 1), "{}", run.transcript());
}

#[test]
fn noinput_in_a_secure_field_pairs_pause_and_resume() {
    let run = Platform::main(&vxml(
        r#"<form>
          <field name="pin" type="digits?length=4" herald:secure="true">
            <noinput count="2"><exit expr="'gave up'"/></noinput>
          </field>
        </form>"#,
    ))
    .steps([Step::Silence, Step::Silence])
    .run();
    assert_eq!(run.exit_value(), "\"gave up\"");
    let actions: Vec<RecordingAction> = run
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::Recording { action, .. } => Some(*action),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [
            RecordingAction::Pause,
            RecordingAction::Resume,
            RecordingAction::Pause,
            RecordingAction::Resume
        ]
    );
}
