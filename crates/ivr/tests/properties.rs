//! Property tests: whatever the caller does, a session never panics and always ends, within
//! a bounded number of platform turns; whatever the bytes, parsing never panics.

mod support;

use herald_ivr::{Document, Outcome};
use proptest::prelude::*;
use support::{MAIN, Platform, Step, vxml};

/// A field with several grammars (builtin, options, inline SRGS) plus a document link, and
/// catch handlers that give up after three noinputs or nomatches.
const FIELD: &str = r##"<link dtmf="**9" next="#linked"/>
<form id="main">
  <field name="f" type="digits?minlength=3;maxlength=5">
    <prompt bargein="true">Enter digits.</prompt>
    <prompt count="2" bargein="false">Enter digits, please.</prompt>
    <option dtmf="0">operator</option>
    <option dtmf="*0">back</option>
    <grammar mode="dtmf" root="r" version="1.0" tag-format="semantics/1.0">
      <rule id="r"><item repeat="2-4">A</item><one-of><item>#</item><item>B</item></one-of>
        <tag>out = {k: meta.current().text};</tag></rule>
    </grammar>
    <noinput count="3"><exit expr="'noinput'"/></noinput>
    <nomatch count="3"><exit expr="'nomatch'"/></nomatch>
    <nomatch><reprompt/></nomatch>
    <filled><exit expr="f"/></filled>
  </field>
</form>
<form id="linked"><block><exit expr="'linked'"/></block></form>"##;

/// Like [`FIELD`], but the field collects a secret.
const SECURE: &str = r#"<form>
  <field name="card" type="digits?minlength=6;maxlength=12" herald:secure="true">
    <prompt>Card number.</prompt>
    <noinput count="2"><exit expr="'noinput'"/></noinput>
    <nomatch count="2"><exit expr="'nomatch'"/></nomatch>
    <filled><log expr="'card ' + card"/><exit expr="card.length"/></filled>
  </field>
</form>"#;

fn key_char() -> impl Strategy<Value = char> {
    proptest::sample::select("0123456789*#ABCD".chars().collect::<Vec<_>>())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => key_char().prop_map(Step::Key),
        3 => key_char().prop_map(Step::Barge),
        2 => Just(Step::Silence),
        1 => Just(Step::Hangup),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_input_always_ends_the_session(steps in proptest::collection::vec(step(), 0..40)) {
        let run = Platform::main(&vxml(FIELD)).steps(steps).run();
        prop_assert!(!run.bounded_out, "ran past the iteration bound\n{}", run.transcript());
        prop_assert!(!run.stuck, "stuck\n{}", run.transcript());
        match run.outcome() {
            Outcome::Exit { .. } | Outcome::Hangup => {}
            other => prop_assert!(false, "unexpected outcome {other:?}\n{}", run.transcript()),
        }
    }

    #[test]
    fn secure_digits_never_appear_in_outputs(
        digits in proptest::collection::vec(proptest::sample::select(
            "0123456789".chars().collect::<Vec<_>>()), 6..=12),
        terminate in any::<bool>(),
        barge_in in any::<bool>(),
    ) {
        let secret: String = digits.iter().collect();
        let mut steps: Vec<Step> = digits
            .iter()
            .map(|c| if barge_in { Step::Barge(*c) } else { Step::Key(*c) })
            .collect();
        if terminate {
            steps.push(Step::Key('#'));
        }
        let run = Platform::main(&vxml(SECURE)).steps(steps).run();
        prop_assert_eq!(run.exit_value(), secret.len().to_string());
        for output in &run.outputs {
            let text = format!("{output:?}");
            prop_assert!(!text.contains(&secret), "leaked: {}", text);
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = Document::parse(MAIN, &text);
    }

    #[test]
    fn parsing_mutated_documents_never_panics(
        cut in 0usize..2000,
        insert in "[<>/\"a-z= &;#:]{0,12}",
    ) {
        let original = vxml(FIELD);
        let mut cut = cut.min(original.len());
        while !original.is_char_boundary(cut) {
            cut -= 1;
        }
        let mutated = format!("{}{}{}", &original[..cut], insert, &original[cut..]);
        if let Ok(doc) = Document::parse(MAIN, &mutated) {
            // Whatever parsed also runs to an end.
            let resources = [(MAIN, mutated.as_str())];
            let run = Platform::new(&resources).steps([Step::Key('1')]).run();
            prop_assert!(run.outcome.is_some(), "{}", run.transcript());
            drop(doc);
        }
    }
}
