//! SRGS 1.0 XML grammars in DTMF mode (and menu choices, compiled the same way).

mod ast;
mod nfa;
mod parse;
mod path;
mod semantics;

use crate::key::Key;
use crate::{GrammarError, Interpretation, MatchState, Value};
use ast::{Ast, Expansion, Rule, Tag, TagFormat};
use nfa::Nfa;
pub(crate) use nfa::StateSet;
pub(crate) use parse::Parsed;

/// A compiled DTMF grammar.
pub(crate) struct SrgsGrammar {
    ast: Ast,
    nfa: Nfa,
}

/// The result of loading an SRGS grammar.
pub(crate) enum Loaded {
    Voice,
    Dtmf(SrgsGrammar),
}

impl Loaded {
    fn from_parsed(parsed: Parsed) -> Result<Loaded, GrammarError> {
        match parsed {
            Parsed::Voice => Ok(Loaded::Voice),
            Parsed::Dtmf(ast) => SrgsGrammar::compile(ast).map(Loaded::Dtmf),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Loaded, GrammarError> {
        Loaded::from_parsed(parse::parse_document(text)?)
    }

    pub(crate) fn from_node(node: roxmltree::Node<'_, '_>) -> Result<Loaded, GrammarError> {
        Loaded::from_parsed(parse::parse_grammar(node)?)
    }
}

impl SrgsGrammar {
    fn compile(ast: Ast) -> Result<SrgsGrammar, GrammarError> {
        let nfa = Nfa::compile(&ast)?;
        Ok(SrgsGrammar { ast, nfa })
    }

    /// A grammar matching each choice's key sequence, valued by its literal.
    pub(crate) fn choices(choices: Vec<(Vec<Key>, String)>) -> Result<SrgsGrammar, GrammarError> {
        let mut tags = Vec::with_capacity(choices.len());
        let mut alternatives = Vec::with_capacity(choices.len());
        for (id, (keys, value)) in (0..).zip(choices) {
            let mut items: Vec<Expansion> = keys.into_iter().map(Expansion::Key).collect();
            items.push(Expansion::Tag(id));
            alternatives.push(Expansion::Sequence(items));
            tags.push(Tag::new(&value, TagFormat::Literals));
        }
        let body = if alternatives.is_empty() {
            Expansion::Void
        } else {
            Expansion::OneOf(alternatives)
        };
        SrgsGrammar::compile(Ast {
            rules: vec![Rule {
                id: "choices".to_owned(),
                body,
            }],
            root: 0,
            tags,
            format: TagFormat::Literals,
            header_tags: Vec::new(),
        })
    }

    pub(crate) fn start(&self) -> StateSet {
        self.nfa.start_set()
    }

    pub(crate) fn step(&self, set: &StateSet, key: Key) -> StateSet {
        self.nfa.step(set, key)
    }

    pub(crate) fn state_of(&self, set: &StateSet) -> MatchState {
        self.nfa.state(set)
    }

    pub(crate) fn state(&self, keys: &[Key]) -> MatchState {
        let mut set = self.start();
        for key in keys {
            set = self.step(&set, *key);
        }
        self.state_of(&set)
    }

    /// The interpretation of a complete match (see the crate docs for the rules).
    pub(crate) fn interpret(&self, keys: &[Key]) -> Option<Interpretation> {
        if !matches!(self.state(keys), MatchState::Complete { .. }) {
            return None;
        }
        let root = path::best_parse(&self.nfa, keys)?;
        let utterance = Key::sequence_string(keys);
        if !root.has_tags() {
            return Some(Interpretation {
                value: Value::String(utterance.clone()),
                utterance,
                script: None,
            });
        }
        let script =
            semantics::needs_script(&self.ast, &root).then(|| semantics::script(&self.ast, &root));
        Some(Interpretation {
            utterance,
            value: semantics::literal_value(&self.ast, &root),
            script,
        })
    }

    /// Number of NFA nodes, for `Debug`.
    pub(crate) fn size(&self) -> usize {
        self.nfa.len()
    }
}
