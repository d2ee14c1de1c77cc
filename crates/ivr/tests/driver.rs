//! The run loop driven by hand: inputs at awkward moments (hang-up during a fetch, stale
//! fetch answers, inputs after the end), blind transfers and silent recordings.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_ivr::{
    Document, FetchError, Fetched, Interpreter, Key, Outcome, Output, RecordOutcome, SessionConfig,
    TransferOutcome,
};
use support::{MAIN, Platform, vxml};

#[allow(clippy::disallowed_methods)] // An origin for virtual time; nothing measures it.
fn origin() -> Instant {
    Instant::now()
}

fn drain(interpreter: &mut Interpreter) -> Vec<Output> {
    std::iter::from_fn(|| interpreter.poll_output()).collect()
}

fn document(uri: &str, body: &str) -> Result<Fetched, FetchError> {
    let doc = Document::parse(uri, &vxml(body)).expect("valid document");
    Ok(Fetched::Document(Arc::new(doc)))
}

fn fetch_id(outputs: &[Output]) -> herald_ivr::FetchId {
    outputs
        .iter()
        .find_map(|o| match o {
            Output::Fetch(f) => Some(f.id),
            _ => None,
        })
        .expect("a fetch")
}

#[test]
fn hangup_during_a_fetch_is_delivered_when_it_completes() {
    let now = origin();
    let mut ivr = Interpreter::new(SessionConfig::default(), MAIN).expect("session");
    let first = fetch_id(&drain(&mut ivr));
    ivr.handle_fetched(
        now,
        first,
        document(
            MAIN,
            r#"<catch event="connection.disconnect.hangup"><exit expr="'hung up'"/></catch>
            <form><block><goto next="next.vxml"/></block></form>"#,
        ),
    );
    let outputs = drain(&mut ivr);
    let second = fetch_id(&outputs);
    assert!(!ivr.is_finished());
    ivr.handle_hangup(now);
    assert!(
        drain(&mut ivr).is_empty(),
        "nothing happens before the fetch completes"
    );
    ivr.handle_fetched(
        now,
        second,
        document(
            "http://ivr.test/next.vxml",
            r#"<form><field name="f" type="digits"/></form>"#,
        ),
    );
    let outputs = drain(&mut ivr);
    assert!(ivr.is_finished(), "{outputs:?}");
    assert!(
        !outputs.iter().any(|o| matches!(o, Output::Listen { .. })),
        "{outputs:?}"
    );
    // The fetched document is entered and the event delivered there; it has no catch, so
    // the session ends as a hang-up without collecting anything.
    assert_eq!(outputs.last(), Some(&Output::Finished(Outcome::Hangup)));
}

#[test]
fn a_stale_fetch_answer_is_ignored() {
    let now = origin();
    let mut ivr = Interpreter::new(SessionConfig::default(), MAIN).expect("session");
    let id = fetch_id(&drain(&mut ivr));
    ivr.handle_fetched(
        now,
        herald_ivr::FetchId(id.0 + 100),
        Err(FetchError::Timeout),
    );
    assert!(drain(&mut ivr).is_empty());
    assert!(!ivr.is_finished());
    ivr.handle_fetched(
        now,
        id,
        document(MAIN, r#"<form><block><exit expr="1"/></block></form>"#),
    );
    assert_eq!(
        drain(&mut ivr).last(),
        Some(&Output::Finished(Outcome::Exit { value: "1".into() }))
    );
}

#[test]
fn a_fetch_timeout_is_error_badfetch() {
    let now = origin();
    let mut ivr = Interpreter::new(SessionConfig::default(), MAIN).expect("session");
    let id = fetch_id(&drain(&mut ivr));
    ivr.handle_fetched(now, id, Err(FetchError::Timeout));
    match drain(&mut ivr).last() {
        Some(Output::Finished(Outcome::Error { event, .. })) => assert_eq!(event, "error.badfetch"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn inputs_after_the_end_do_nothing() {
    let now = origin();
    let mut ivr = Interpreter::new(SessionConfig::default(), MAIN).expect("session");
    let id = fetch_id(&drain(&mut ivr));
    ivr.handle_fetched(
        now,
        id,
        document(MAIN, r#"<form><block><exit/></block></form>"#),
    );
    drain(&mut ivr);
    assert!(ivr.is_finished());
    ivr.handle_key(now, Key::D1);
    ivr.handle_timeout(now + Duration::from_secs(60));
    ivr.handle_prompts_done(now);
    ivr.handle_hangup(now);
    ivr.handle_transfer(now, TransferOutcome::Busy, Duration::ZERO);
    ivr.handle_record(now, RecordOutcome::Silence);
    assert!(drain(&mut ivr).is_empty());
    assert_eq!(ivr.poll_timeout(), None);
}

#[test]
fn the_noinput_deadline_starts_when_the_prompts_are_done() {
    let start = origin();
    let mut ivr = Interpreter::new(SessionConfig::default(), MAIN).expect("session");
    let id = fetch_id(&drain(&mut ivr));
    ivr.handle_fetched(
        start,
        id,
        document(
            MAIN,
            r#"<form><field name="f" type="digits?length=2"><prompt>Long prompt.</prompt></field></form>"#,
        ),
    );
    drain(&mut ivr);
    assert_eq!(ivr.poll_timeout(), None, "no deadline while prompts play");
    let done = start + Duration::from_secs(7);
    ivr.handle_prompts_done(done);
    assert_eq!(ivr.poll_timeout(), Some(done + Duration::from_secs(5)));
    // An early timeout call changes nothing.
    ivr.handle_timeout(done + Duration::from_secs(1));
    assert!(drain(&mut ivr).is_empty());
    ivr.handle_key(done + Duration::from_secs(2), Key::D1);
    assert_eq!(
        ivr.poll_timeout(),
        Some(done + Duration::from_secs(5)),
        "the interdigit timeout runs from the key"
    );
}

#[test]
fn blind_transfer_ends_the_session_as_transferred() {
    let mut platform = Platform::main(&vxml(
        r#"<form><transfer name="t" dest="sip:bob@example.com"/></form>"#,
    ));
    platform.transfer = TransferOutcome::Unknown;
    let run = platform.run();
    assert_eq!(run.outcome(), &Outcome::Transferred);
}

#[test]
fn silent_recording_is_noinput() {
    let mut platform = Platform::main(&vxml(
        r#"<form><record name="msg"><noinput><exit expr="'silence'"/></noinput></record></form>"#,
    ));
    platform.record = RecordOutcome::Silence;
    assert_eq!(platform.run().exit_value(), "\"silence\"");
}
