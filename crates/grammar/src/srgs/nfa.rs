//! [`Ast`] -> a Thompson NFA over keys, and its simulation.
//!
//! Rule references are inlined, each wrapped in `Enter`/`Exit` marker nodes so
//! that a path through the NFA spells out its parse tree. `Split` nodes list
//! their preferred branch first: one-of alternatives in document order, repeats
//! greedy, `GARBAGE` lazy. Nodes from which `Match` cannot be reached are marked
//! dead and never enter a state set, so `Incomplete` always means "some
//! continuation can still match".

use super::ast::{Ast, Expansion, RuleId, TagId};
use crate::error::Position;
use crate::key::Key;
use crate::{GrammarError, MatchState};

pub(crate) type NodeId = u32;

/// Most nodes a compiled grammar may have (after repeats and rule references are
/// expanded). A 16-digit PIN grammar needs a few hundred.
const MAX_NODES: usize = 20_000;
/// Deepest nesting of expansions plus inlined rule references while compiling.
const MAX_DEPTH: usize = 160;

/// One NFA node.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    /// Consumes `key`.
    Key {
        key: Key,
        next: NodeId,
    },
    /// Consumes any key (`GARBAGE`).
    AnyKey {
        next: NodeId,
    },
    /// Epsilon to both, `first` preferred.
    Split {
        first: NodeId,
        second: NodeId,
    },
    /// Epsilon, running a tag.
    Tag {
        tag: TagId,
        next: NodeId,
    },
    /// Epsilon, entering a rule.
    Enter {
        rule: RuleId,
        next: NodeId,
    },
    /// Epsilon, leaving the innermost rule entered.
    Exit {
        next: NodeId,
    },
    Match,
    /// No way on (`VOID`, or a placeholder while compiling).
    Fail,
}

/// A compiled grammar.
pub(crate) struct Nfa {
    nodes: Vec<Node>,
    start: NodeId,
    live: Vec<bool>,
}

/// The nodes a key sequence can have reached: key-consuming nodes and `Match`.
#[derive(Clone, Default)]
pub(crate) struct StateSet {
    nodes: Vec<NodeId>,
}

impl Nfa {
    /// Compiles `ast` from its root rule.
    pub(crate) fn compile(ast: &Ast) -> Result<Nfa, GrammarError> {
        let mut compiler = Compiler {
            ast,
            nodes: Vec::new(),
            active: Vec::new(),
            depth: 0,
            position: Position { line: 1, column: 1 },
        };
        let accept = compiler.push(Node::Match)?;
        let start = compiler.rule(ast.root, accept)?;
        let live = live_nodes(&compiler.nodes);
        Ok(Nfa {
            nodes: compiler.nodes,
            start,
            live,
        })
    }

    pub(crate) fn node(&self, id: NodeId) -> Option<Node> {
        self.nodes.get(id as usize).copied()
    }

    pub(crate) fn start(&self) -> NodeId {
        self.start
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether `Match` can be reached from `id`.
    pub(crate) fn is_live(&self, id: NodeId) -> bool {
        self.live.get(id as usize).copied().unwrap_or(false)
    }

    /// The state set before any key.
    pub(crate) fn start_set(&self) -> StateSet {
        self.closure([self.start])
    }

    /// The state set after `key`.
    pub(crate) fn step(&self, set: &StateSet, key: Key) -> StateSet {
        let next = set.nodes.iter().filter_map(|&id| match self.node(id)? {
            Node::Key { key: k, next } if k == key => Some(next),
            Node::AnyKey { next } => Some(next),
            _ => None,
        });
        self.closure(next.collect::<Vec<_>>())
    }

    /// What a state set means for the caller.
    pub(crate) fn state(&self, set: &StateSet) -> MatchState {
        let consumes =
            |id: &NodeId| matches!(self.node(*id), Some(Node::Key { .. } | Node::AnyKey { .. }));
        if set.nodes.is_empty() {
            MatchState::NoMatch
        } else if set
            .nodes
            .iter()
            .any(|id| matches!(self.node(*id), Some(Node::Match)))
        {
            MatchState::Complete {
                can_extend: set.nodes.iter().any(consumes),
            }
        } else {
            MatchState::Incomplete
        }
    }

    /// Follows epsilon edges from `seeds`, keeping live key and match nodes.
    fn closure(&self, seeds: impl IntoIterator<Item = NodeId>) -> StateSet {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = seeds.into_iter().collect();
        let mut out = Vec::new();
        while let Some(id) = stack.pop() {
            let Some(slot) = seen.get_mut(id as usize) else {
                continue;
            };
            if *slot || !self.is_live(id) {
                continue;
            }
            *slot = true;
            match self.node(id) {
                Some(Node::Key { .. } | Node::AnyKey { .. } | Node::Match) => out.push(id),
                Some(Node::Split { first, second }) => stack.extend([second, first]),
                Some(Node::Tag { next, .. } | Node::Enter { next, .. } | Node::Exit { next }) => {
                    stack.push(next)
                }
                Some(Node::Fail) | None => {}
            }
        }
        StateSet { nodes: out }
    }
}

struct Compiler<'a> {
    ast: &'a Ast,
    nodes: Vec<Node>,
    /// Rules being inlined, innermost last: a rule found here again is recursion.
    active: Vec<RuleId>,
    depth: usize,
    /// The element being expanded, for errors.
    position: Position,
}

impl Compiler<'_> {
    fn push(&mut self, node: Node) -> Result<NodeId, GrammarError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(self.error(&format!(
                "grammar too large: more than {MAX_NODES} states once repeats and rule references are expanded"
            )));
        }
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| self.error("grammar too large"))?;
        self.nodes.push(node);
        Ok(id)
    }

    fn set(&mut self, id: NodeId, node: Node) {
        if let Some(slot) = self.nodes.get_mut(id as usize) {
            *slot = node;
        }
    }

    fn error(&self, reason: &str) -> GrammarError {
        GrammarError::Srgs {
            position: self.position,
            reason: reason.to_owned(),
        }
    }

    /// Compiles `expansion` so that it continues at `next`; returns its entry.
    fn expansion(&mut self, expansion: &Expansion, next: NodeId) -> Result<NodeId, GrammarError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("rules nested too deeply"));
        }
        let entry = self.expansion_inner(expansion, next);
        self.depth -= 1;
        entry
    }

    fn expansion_inner(
        &mut self,
        expansion: &Expansion,
        next: NodeId,
    ) -> Result<NodeId, GrammarError> {
        match expansion {
            Expansion::Sequence(items) => items
                .iter()
                .rev()
                .try_fold(next, |next, item| self.expansion(item, next)),
            Expansion::OneOf(alternatives) => self.one_of(alternatives, next),
            Expansion::Repeat {
                body,
                min,
                max,
                position,
            } => {
                self.position = *position;
                self.repeat(body, *min, *max, next)
            }
            Expansion::Key(key) => self.push(Node::Key { key: *key, next }),
            Expansion::RuleRef { rule, position } => {
                self.position = *position;
                self.rule(*rule, next)
            }
            Expansion::Null => Ok(next),
            Expansion::Void => self.push(Node::Fail),
            Expansion::Garbage => self.garbage(next),
            Expansion::Tag(tag) => self.push(Node::Tag { tag: *tag, next }),
        }
    }

    fn one_of(&mut self, alternatives: &[Expansion], next: NodeId) -> Result<NodeId, GrammarError> {
        let Some((last, rest)) = alternatives.split_last() else {
            return self.push(Node::Fail);
        };
        let mut entry = self.expansion(last, next)?;
        for alternative in rest.iter().rev() {
            let first = self.expansion(alternative, next)?;
            entry = self.push(Node::Split {
                first,
                second: entry,
            })?;
        }
        Ok(entry)
    }

    fn repeat(
        &mut self,
        body: &Expansion,
        min: u32,
        max: Option<u32>,
        next: NodeId,
    ) -> Result<NodeId, GrammarError> {
        let mut entry = match max {
            Some(max) => {
                let mut entry = next;
                for _ in min..max {
                    let first = self.expansion(body, entry)?;
                    entry = self.push(Node::Split {
                        first,
                        second: next,
                    })?;
                }
                entry
            }
            None => {
                let again = self.push(Node::Fail)?;
                let first = self.expansion(body, again)?;
                self.set(
                    again,
                    Node::Split {
                        first,
                        second: next,
                    },
                );
                again
            }
        };
        for _ in 0..min {
            let before = self.nodes.len();
            entry = self.expansion(body, entry)?;
            if self.nodes.len() == before {
                break; // the body matches only the empty sequence: repeating it changes nothing
            }
        }
        Ok(entry)
    }

    fn rule(&mut self, rule: RuleId, next: NodeId) -> Result<NodeId, GrammarError> {
        let Some(definition) = self.ast.rule(rule) else {
            return Err(self.error("reference to an undefined rule"));
        };
        if self.active.contains(&rule) {
            let id = &definition.id;
            return Err(self.error(&format!(
                "recursive reference to rule `{id}` (use repeat instead)"
            )));
        }
        self.active.push(rule);
        let exit = self.push(Node::Exit { next })?;
        let body = self.expansion(&definition.body, exit);
        self.active.pop();
        self.push(Node::Enter { rule, next: body? })
    }

    fn garbage(&mut self, next: NodeId) -> Result<NodeId, GrammarError> {
        let again = self.push(Node::Fail)?;
        let any = self.push(Node::AnyKey { next: again })?;
        self.set(
            again,
            Node::Split {
                first: next,
                second: any,
            },
        );
        Ok(again)
    }
}

/// Marks the nodes from which `Match` is reachable (a reverse breadth-first walk).
fn live_nodes(nodes: &[Node]) -> Vec<bool> {
    let mut predecessors: Vec<Vec<NodeId>> = vec![Vec::new(); nodes.len()];
    let mut stack = Vec::new();
    for (id, node) in (0..).zip(nodes) {
        let successors = match *node {
            Node::Key { next, .. }
            | Node::AnyKey { next }
            | Node::Tag { next, .. }
            | Node::Enter { next, .. }
            | Node::Exit { next } => [Some(next), None],
            Node::Split { first, second } => [Some(first), Some(second)],
            Node::Match => {
                stack.push(id);
                [None, None]
            }
            Node::Fail => [None, None],
        };
        for successor in successors.into_iter().flatten() {
            if let Some(list) = predecessors.get_mut(successor as usize) {
                list.push(id);
            }
        }
    }
    let mut live = vec![false; nodes.len()];
    while let Some(id) = stack.pop() {
        let Some(slot) = live.get_mut(id as usize) else {
            continue;
        };
        if !*slot {
            *slot = true;
            stack.extend(predecessors.get(id as usize).into_iter().flatten());
        }
    }
    live
}
