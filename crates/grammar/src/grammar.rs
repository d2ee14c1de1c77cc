//! [`Grammar`], the one type the interpreter holds, and [`Matcher`].

use std::fmt;

use crate::builtin::{Builtin, BuiltinRef};
use crate::key::Key;
use crate::srgs::{Loaded, SrgsGrammar, StateSet};
use crate::{GrammarError, Interpretation};

/// How far a key sequence gets through a grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchState {
    /// No continuation of these keys can match: stop collecting.
    NoMatch,
    /// A prefix of a match: wait for more keys (or `interdigittimeout`).
    Incomplete,
    /// A complete match. `can_extend`: more keys could still give a longer
    /// match, so the interpreter waits for `termchar` or `termtimeout`
    /// (VoiceXML 2.0 Appendix D) instead of finishing now.
    Complete {
        /// Whether some longer key sequence also matches.
        can_extend: bool,
    },
}

/// A DTMF grammar, ready to match key sequences.
pub struct Grammar {
    kind: Kind,
}

enum Kind {
    Builtin(Builtin),
    Srgs(Box<SrgsGrammar>),
    /// A speech grammar: loaded so that documents using it are valid, never matched.
    Voice,
}

impl Grammar {
    /// A VoiceXML builtin grammar: `digits?minlength=3;maxlength=5`,
    /// `builtin:dtmf/digits?length=4`, or `builtin:grammar/boolean` (speech:
    /// accepted, [`Grammar::is_dtmf`] is false). See the `builtin` table in
    /// the crate docs for types, parameters and values.
    pub fn builtin(uri: &str) -> Result<Grammar, GrammarError> {
        let kind = match BuiltinRef::parse(uri)? {
            BuiltinRef::Dtmf(builtin) => Kind::Builtin(builtin),
            BuiltinRef::Voice => Kind::Voice,
        };
        Ok(Grammar { kind })
    }

    /// An SRGS 1.0 XML grammar document (an external `.grxml` file).
    pub fn parse_srgs(text: &str) -> Result<Grammar, GrammarError> {
        Ok(Grammar::from_loaded(Loaded::parse(text)?))
    }

    /// An inline `<grammar>` element of a VoiceXML document. Elements are
    /// matched by local name; namespaces are ignored. Errors carry positions
    /// in the VoiceXML document.
    pub fn from_srgs_node(node: roxmltree::Node<'_, '_>) -> Result<Grammar, GrammarError> {
        Ok(Grammar::from_loaded(Loaded::from_node(node)?))
    }

    /// A `<menu>`/`<option>` grammar: each DTMF sequence (e.g. `"1"`, `"*9"`;
    /// whitespace ignored) matches with its literal value. The first of two
    /// equal sequences wins. Fails if a sequence is empty or not DTMF keys.
    pub fn choices<I, S, V>(choices: I) -> Result<Grammar, GrammarError>
    where
        I: IntoIterator<Item = (S, V)>,
        S: AsRef<str>,
        V: Into<String>,
    {
        let mut parsed = Vec::new();
        for (index, (dtmf, value)) in choices.into_iter().enumerate() {
            let dtmf = dtmf.as_ref();
            let keys = Key::parse_sequence(dtmf).filter(|keys| !keys.is_empty());
            let Some(keys) = keys else {
                return Err(GrammarError::BadChoice {
                    index,
                    dtmf: dtmf.to_owned(),
                });
            };
            parsed.push((keys, value.into()));
        }
        let grammar = SrgsGrammar::choices(parsed)?;
        Ok(Grammar {
            kind: Kind::Srgs(Box::new(grammar)),
        })
    }

    fn from_loaded(loaded: Loaded) -> Grammar {
        let kind = match loaded {
            Loaded::Voice => Kind::Voice,
            Loaded::Dtmf(grammar) => Kind::Srgs(Box::new(grammar)),
        };
        Grammar { kind }
    }

    /// False for speech grammars (`mode="voice"`, the SRGS default, and
    /// `builtin:grammar/...`): they never match keys.
    pub fn is_dtmf(&self) -> bool {
        !matches!(self.kind, Kind::Voice)
    }

    /// How far `keys` (without the `termchar`) get through this grammar.
    /// Costs one pass over the keys; [`Grammar::matcher`] avoids even that.
    pub fn state(&self, keys: &[Key]) -> MatchState {
        match &self.kind {
            Kind::Builtin(builtin) => builtin.state(keys),
            Kind::Srgs(grammar) => grammar.state(keys),
            Kind::Voice => MatchState::NoMatch,
        }
    }

    /// The meaning of `keys` if they match completely.
    pub fn interpret(&self, keys: &[Key]) -> Option<Interpretation> {
        match &self.kind {
            Kind::Builtin(builtin) => Some(Interpretation {
                value: builtin.value(keys)?,
                utterance: Key::sequence_string(keys),
                script: None,
            }),
            Kind::Srgs(grammar) => grammar.interpret(keys),
            Kind::Voice => None,
        }
    }

    /// A matcher fed one key at a time.
    pub fn matcher(&self) -> Matcher<'_> {
        let progress = match &self.kind {
            Kind::Srgs(grammar) => Progress::Srgs(grammar, grammar.start()),
            Kind::Builtin(_) | Kind::Voice => Progress::Keys(Vec::new()),
        };
        Matcher {
            grammar: self,
            progress,
        }
    }
}

impl fmt::Debug for Grammar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Builtin(builtin) => f.debug_tuple("Grammar::Builtin").field(builtin).finish(),
            Kind::Srgs(grammar) => f
                .debug_struct("Grammar::Srgs")
                .field("states", &grammar.size())
                .finish(),
            Kind::Voice => f.write_str("Grammar::Voice"),
        }
    }
}

/// Incremental matching: push keys as they arrive, read the state after each.
///
/// For SRGS grammars each key costs one NFA step, independent of how many keys
/// came before. `Debug` does not show the keys.
pub struct Matcher<'g> {
    grammar: &'g Grammar,
    progress: Progress<'g>,
}

enum Progress<'g> {
    /// Builtins are checked against all keys so far (they are short and cheap).
    Keys(Vec<Key>),
    Srgs(&'g SrgsGrammar, StateSet),
}

impl Matcher<'_> {
    /// Adds `key` and returns the new state.
    pub fn push(&mut self, key: Key) -> MatchState {
        match &mut self.progress {
            Progress::Keys(keys) => keys.push(key),
            Progress::Srgs(grammar, set) => *set = grammar.step(set, key),
        }
        self.state()
    }

    /// The state after the keys pushed so far.
    pub fn state(&self) -> MatchState {
        match &self.progress {
            Progress::Keys(keys) => self.grammar.state(keys),
            Progress::Srgs(grammar, set) => grammar.state_of(set),
        }
    }
}

impl fmt::Debug for Matcher<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
