//! The parsed form of an SRGS DTMF grammar: rules as expansion trees.

use crate::Value;
use crate::error::Position;
use crate::key::Key;

/// Index of a rule in [`Ast::rules`].
pub(crate) type RuleId = u32;
/// Index of a tag in [`Ast::tags`].
pub(crate) type TagId = u32;

/// A DTMF grammar after parsing, before compilation.
pub(crate) struct Ast {
    pub(crate) rules: Vec<Rule>,
    pub(crate) root: RuleId,
    pub(crate) tags: Vec<Tag>,
    pub(crate) format: TagFormat,
    /// Tags that are children of `<grammar>`: global script (SISR §3.2 "header tags").
    pub(crate) header_tags: Vec<String>,
}

impl Ast {
    pub(crate) fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id as usize)
    }

    pub(crate) fn tag(&self, id: TagId) -> Option<&Tag> {
        self.tags.get(id as usize)
    }
}

/// One `<rule>`.
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) body: Expansion,
}

/// A rule expansion (SRGS 1.0 §2).
pub(crate) enum Expansion {
    /// Expansions one after another.
    Sequence(Vec<Expansion>),
    /// `<one-of>`: alternatives, preferred in document order.
    OneOf(Vec<Expansion>),
    /// `<item repeat="...">`: `min` to `max` (unbounded if `None`) times, greedy.
    Repeat {
        body: Box<Expansion>,
        min: u32,
        max: Option<u32>,
        position: Position,
    },
    /// One DTMF key token.
    Key(Key),
    /// `<ruleref uri="#id"/>`.
    RuleRef { rule: RuleId, position: Position },
    /// `<ruleref special="NULL"/>`: matches without keys.
    Null,
    /// `<ruleref special="VOID"/>`: never matches.
    Void,
    /// `<ruleref special="GARBAGE"/>`: any keys, as few as possible.
    Garbage,
    /// `<tag>`.
    Tag(TagId),
}

/// The grammar's `tag-format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TagFormat {
    /// `semantics/1.0-literals`: every tag is a string literal.
    Literals,
    /// `semantics/1.0` (and its dated variants): every tag is ECMAScript.
    Script,
    /// No or another `tag-format`: each tag is judged by its content.
    Unspecified,
}

/// One `<tag>`, classified for evaluation without an ECMAScript engine.
pub(crate) struct Tag {
    /// The content as written.
    pub(crate) code: String,
    pub(crate) kind: TagKind,
}

pub(crate) enum TagKind {
    /// A literal: the rule's value becomes this string.
    Literal(String),
    /// `out = <literal>;`: the rule's value becomes this value.
    Assign(Value),
    /// Any other ECMAScript: only the generated script can evaluate it.
    Script,
}

impl Tag {
    /// Classifies `code` under `format`.
    pub(crate) fn new(code: &str, format: TagFormat) -> Tag {
        let trimmed = code.trim();
        let kind = match format {
            TagFormat::Literals => TagKind::Literal(trimmed.to_owned()),
            _ if trimmed.is_empty() => TagKind::Script,
            _ if !trimmed.contains(['=', ';']) => TagKind::Literal(unquote(trimmed).to_owned()),
            _ => simple_assignment(trimmed).map_or(TagKind::Script, TagKind::Assign),
        };
        Tag {
            code: code.to_owned(),
            kind,
        }
    }
}

/// `out = 'en';`, `out="en"`, `out = 42;`, `out = true` -> the assigned value.
fn simple_assignment(code: &str) -> Option<Value> {
    let rest = code.strip_prefix("out")?.trim_start().strip_prefix('=')?;
    if rest.starts_with('=') {
        return None;
    }
    let literal = rest.trim();
    let literal = literal.strip_suffix(';').unwrap_or(literal).trim_end();
    match literal {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(text) = quoted(literal) {
        return Some(Value::String(text.to_owned()));
    }
    let numeric = !literal.is_empty()
        && literal
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    let number = literal
        .parse::<f64>()
        .ok()
        .filter(|n| numeric && n.is_finite())?;
    Some(Value::Number(number))
}

/// The inside of `'...'` or `"..."` when it holds no quote or backslash.
fn quoted(text: &str) -> Option<&str> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))?;
    (!inner.contains(['\'', '"', '\\'])).then_some(inner)
}

fn unquote(text: &str) -> &str {
    quoted(text).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, format: TagFormat) -> TagKind {
        Tag::new(code, format).kind
    }

    #[test]
    fn classifies_tags() {
        assert!(
            matches!(kind(" english ", TagFormat::Unspecified), TagKind::Literal(s) if s == "english")
        );
        assert!(matches!(kind("'en'", TagFormat::Unspecified), TagKind::Literal(s) if s == "en"));
        assert!(
            matches!(kind("out = 'en';", TagFormat::Script), TagKind::Assign(Value::String(s)) if s == "en")
        );
        assert!(
            matches!(kind("out=\"de\"", TagFormat::Unspecified), TagKind::Assign(Value::String(s)) if s == "de")
        );
        assert!(
            matches!(kind("out = 42;", TagFormat::Script), TagKind::Assign(Value::Number(n)) if n == 42.0)
        );
        assert!(matches!(
            kind("out = true", TagFormat::Script),
            TagKind::Assign(Value::Bool(true))
        ));
        assert!(matches!(
            kind("out.lang = 'de';", TagFormat::Script),
            TagKind::Script
        ));
        assert!(matches!(
            kind("out == 1", TagFormat::Script),
            TagKind::Script
        ));
        assert!(matches!(
            kind("out = rules.x;", TagFormat::Script),
            TagKind::Script
        ));
        assert!(
            matches!(kind("a = 1; b", TagFormat::Literals), TagKind::Literal(s) if s == "a = 1; b")
        );
    }
}
