//! The preferred parse of a complete match, as a tree of rule matches.
//!
//! Several paths through the NFA may accept the same keys. The one chosen is
//! the first in a depth-first walk that takes each `Split`'s preferred branch
//! first: one-of alternatives in document order, repeats as long as possible,
//! `GARBAGE` as short as possible (the order a backtracking parser would find).

use std::collections::HashSet;

use super::ast::{RuleId, TagId};
use super::nfa::{Nfa, Node, NodeId};
use crate::key::Key;

/// One rule's part of a match.
pub(crate) struct RuleMatch {
    pub(crate) rule: RuleId,
    pub(crate) items: Vec<Item>,
}

/// What a rule matched, in order.
pub(crate) enum Item {
    Key(Key),
    Tag(TagId),
    Rule(RuleMatch),
}

impl RuleMatch {
    /// The keys this rule matched, space-free.
    pub(crate) fn text(&self) -> String {
        let mut text = String::new();
        self.write_text(&mut text);
        text
    }

    fn write_text(&self, out: &mut String) {
        for item in &self.items {
            match item {
                Item::Key(key) => out.push(key.as_char()),
                Item::Rule(rule) => rule.write_text(out),
                Item::Tag(_) => {}
            }
        }
    }

    /// Whether any tag was matched in this rule or the rules it referenced.
    pub(crate) fn has_tags(&self) -> bool {
        self.items.iter().any(|item| match item {
            Item::Tag(_) => true,
            Item::Rule(rule) => rule.has_tags(),
            Item::Key(_) => false,
        })
    }

    /// The tags matched directly in this rule.
    pub(crate) fn own_tags(&self) -> impl Iterator<Item = TagId> + '_ {
        self.items.iter().filter_map(|item| match item {
            Item::Tag(tag) => Some(*tag),
            _ => None,
        })
    }

    /// The last rule this rule referenced (SISR `rules.latest()`).
    pub(crate) fn latest_child(&self) -> Option<&RuleMatch> {
        self.items.iter().rev().find_map(|item| match item {
            Item::Rule(rule) => Some(rule),
            _ => None,
        })
    }
}

/// The preferred parse of `keys`, `None` if they do not match completely.
pub(crate) fn best_parse(nfa: &Nfa, keys: &[Key]) -> Option<RuleMatch> {
    let nodes = best_path(nfa, keys)?;
    let mut stack: Vec<RuleMatch> = Vec::new();
    let mut consumed = keys.iter();
    for node in nodes {
        match nfa.node(node)? {
            Node::Enter { rule, .. } => stack.push(RuleMatch {
                rule,
                items: Vec::new(),
            }),
            Node::Exit { .. } => {
                let done = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.items.push(Item::Rule(done)),
                    None => return Some(done),
                }
            }
            Node::Key { .. } | Node::AnyKey { .. } => {
                stack.last_mut()?.items.push(Item::Key(*consumed.next()?))
            }
            Node::Tag { tag, .. } => stack.last_mut()?.items.push(Item::Tag(tag)),
            Node::Split { .. } | Node::Match | Node::Fail => {}
        }
    }
    None
}

/// A step of the walk: the node, how many keys are consumed, and the step before.
struct Step {
    node: NodeId,
    pos: usize,
    parent: Option<usize>,
}

/// The nodes on the preferred accepting path, in order.
fn best_path(nfa: &Nfa, keys: &[Key]) -> Option<Vec<NodeId>> {
    let mut steps = vec![Step {
        node: nfa.start(),
        pos: 0,
        parent: None,
    }];
    let mut stack = vec![0usize];
    let mut visited: HashSet<(NodeId, usize)> = HashSet::new();
    while let Some(index) = stack.pop() {
        let (node, pos) = steps.get(index).map(|s| (s.node, s.pos))?;
        if !nfa.is_live(node) || !visited.insert((node, pos)) {
            continue;
        }
        let mut go = |node: NodeId, pos: usize| {
            if nfa.is_live(node) && !visited.contains(&(node, pos)) {
                stack.push(steps.len());
                steps.push(Step {
                    node,
                    pos,
                    parent: Some(index),
                });
            }
        };
        match nfa.node(node)? {
            Node::Match if pos == keys.len() => return Some(trace(&steps, index)),
            Node::Key { key, next } if keys.get(pos) == Some(&key) => go(next, pos + 1),
            Node::AnyKey { next } if pos < keys.len() => go(next, pos + 1),
            Node::Split { first, second } => {
                go(second, pos);
                go(first, pos);
            }
            Node::Tag { next, .. } | Node::Enter { next, .. } | Node::Exit { next } => {
                go(next, pos)
            }
            _ => {}
        }
    }
    None
}

fn trace(steps: &[Step], last: usize) -> Vec<NodeId> {
    let mut path = Vec::new();
    let mut at = Some(last);
    while let Some(step) = at.and_then(|i| steps.get(i)) {
        path.push(step.node);
        at = step.parent;
    }
    path.reverse();
    path
}
