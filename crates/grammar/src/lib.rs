//! DTMF grammars for Herald's VoiceXML 2.1 interpreter, matched key by key.
//!
//! # What it does
//!
//! A [`Grammar`] says which DTMF key sequences a `<field>`, `<menu>` or
//! `<form>` accepts and what they mean. Three sources:
//!
//! - [`Grammar::builtin`]: the VoiceXML 2.0 Appendix P builtin types
//!   (`boolean`, `date`, `digits`, `currency`, `number`, `phone`, `time`) with
//!   their parameters, as `digits?length=4` or `builtin:dtmf/digits?length=4`.
//! - [`Grammar::parse_srgs`] / [`Grammar::from_srgs_node`]: SRGS 1.0 XML
//!   grammars with `mode="dtmf"`, external or inline.
//! - [`Grammar::choices`]: the `<menu>`/`<option>` shorthand.
//!
//! While the caller presses keys the interpreter asks [`Grammar::state`]
//! (or pushes keys into a [`Matcher`]) after every key:
//! [`MatchState::NoMatch`] means raise `nomatch`, [`MatchState::Incomplete`]
//! wait for more keys, [`MatchState::Complete`] a match, which can end the
//! input at once unless `can_extend` says a longer match is possible (then the
//! interpreter waits for `termchar` or `termtimeout`). Once input ends,
//! [`Grammar::interpret`] gives the [`Interpretation`]: the utterance
//! (space-free, e.g. `"123#"`) and the semantic [`Value`].
//!
//! ```
//! use herald_grammar::{Grammar, Key, MatchState, Value};
//! let g = Grammar::builtin("digits?minlength=3;maxlength=5")?;
//! let keys: Vec<Key> = "123".chars().filter_map(Key::from_char).collect();
//! assert_eq!(g.state(&keys[..2]), MatchState::Incomplete);
//! assert_eq!(g.state(&keys), MatchState::Complete { can_extend: true });
//! assert_eq!(g.interpret(&keys).map(|i| i.value), Some(Value::string("123")));
//! # Ok::<(), herald_grammar::GrammarError>(())
//! ```
//!
//! Everything here is pure computation: no I/O, no clock, no timeouts (those
//! belong to the interpreter). Loading a grammar can fail with a
//! [`GrammarError`] (with `line:column` for SRGS); matching never fails and
//! never panics, whatever the keys. Memory and time are bounded: compiled
//! grammars are capped in size, recursion is refused, matching is linear in
//! the number of keys.
//!
//! # SRGS support
//!
//! Supported: `<grammar mode="dtmf" root tag-format>`, `<rule id scope>`,
//! `<one-of>`, `<item repeat="n|n-m|n-">` (`repeat-prob` and `weight`
//! ignored), key tokens as whitespace-separated text (each token exactly one
//! of `0-9 * # A-D`; a token such as `12` is an error), `<token>`,
//! `<ruleref uri="#id"/>`, `<ruleref special="NULL|VOID|GARBAGE"/>`
//! (`GARBAGE` matches any keys, as few as possible), `<tag>`.
//! `<example>`, `<meta>`, `<metadata>`, `<lexicon>` are ignored. `mode="voice"`
//! grammars load but never match ([`Grammar::is_dtmf`] is false). Without a
//! `root` attribute a grammar with exactly one rule uses that rule.
//!
//! Not supported (load error): external rule references (`uri` without `#`),
//! recursive rule references (write `repeat` instead), grammars that expand
//! to more than 20 000 NFA states, elements nested more than 48 deep.
//!
//! When several parses accept the same keys, the interpretation comes from the
//! first one in document order: `<one-of>` alternatives in order, repeats
//! taking as many iterations as possible, `GARBAGE` as few keys as possible.
//!
//! # Semantic interpretation
//!
//! - No `<tag>` on the matched path: the value is the utterance string.
//! - `tag-format="semantics/1.0-literals"`, or tags that are plain literals (no
//!   `=` or `;`; one pair of surrounding quotes is removed): each rule's value
//!   is its last literal tag; a rule without tags takes the value of the last
//!   rule it referenced, else its matched keys (SISR 1.0). The value is the
//!   root rule's, always a `Value::String`. A tag `out = <literal>;` (string,
//!   number, `true`/`false`) counts as a literal of that type.
//! - `tag-format="semantics/1.0"` (or any other tag containing script): this
//!   crate has no ECMAScript engine. [`Interpretation::script`] holds a
//!   self-contained ECMAScript expression that computes the SISR result; the
//!   interpreter evaluates it and uses its value. [`Interpretation::value`] is
//!   the literal computation above, ignoring tags it cannot evaluate.
//!
//! The script declares one function per matched rule instance, called in
//! match order. Inside each: `out` (starts as `{}` if the rule has tags on
//! the matched path; otherwise the rule returns `rules.latest()` if it
//! referenced a rule, else its text), `rules.<id>` / `rules.latest()` (values
//! of rules referenced so far in this rule), `meta.<id>.text`,
//! `meta.latest().text`, `meta.current().text` (keys matched, space-free, as
//! the utterance; `score` is always 1.0). Header tags (children of
//! `<grammar>`) run first, in the enclosing scope. Tag code is inserted
//! verbatim: it is as trusted as the document that holds the grammar.
//! Not provided: `meta.*.score` other than 1.0, `rules.current()`, SISR
//! `$`-style pre-recommendation syntax; a rule named `latest` shadows
//! `rules.latest()` in the rule that references it.
//!
//! # Privacy
//!
//! Keys are what callers typed (PINs, card numbers): `Debug` of [`Key`],
//! [`Value`], [`Interpretation`] and [`Matcher`] never shows them.

mod builtin;
mod error;
mod grammar;
mod interpretation;
mod key;
mod srgs;

pub use error::{GrammarError, Position};
pub use grammar::{Grammar, MatchState, Matcher};
pub use interpretation::{Interpretation, Value};
pub use key::Key;
