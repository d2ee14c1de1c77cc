//! SRGS 1.0 XML form -> [`Ast`], DTMF mode only.
//!
//! Elements are matched by local name, namespaces are ignored (inline grammars
//! in VoiceXML documents are often written without the SRGS namespace).

use roxmltree::{Document, Node, NodeType};

use super::ast::{Ast, Expansion, Rule, RuleId, Tag, TagFormat};
use crate::GrammarError;
use crate::error::Position;
use crate::key::Key;

/// Deepest element nesting inside a rule; keeps parsing and compiling off the
/// end of the stack whatever the input.
const MAX_NESTING: usize = 48;

/// The outcome of parsing a `<grammar>` element.
pub(crate) enum Parsed {
    /// `mode="voice"` (the SRGS default): not parsed further.
    Voice,
    Dtmf(Ast),
}

/// Parses a whole grammar document.
pub(crate) fn parse_document(text: &str) -> Result<Parsed, GrammarError> {
    let doc = Document::parse(text)?;
    parse_grammar(doc.root_element())
}

/// Parses a `<grammar>` element, e.g. one inline in a VoiceXML document.
pub(crate) fn parse_grammar(grammar: Node<'_, '_>) -> Result<Parsed, GrammarError> {
    if grammar.tag_name().name() != "grammar" {
        return Err(error(grammar, "expected a <grammar> element"));
    }
    match grammar.attribute("mode") {
        None | Some("voice") => return Ok(Parsed::Voice),
        Some("dtmf") => {}
        Some(other) => {
            return Err(error(
                grammar,
                &format!("unknown mode `{other}` (expected dtmf or voice)"),
            ));
        }
    }
    let format = match grammar.attribute("tag-format").map(str::trim) {
        Some("semantics/1.0-literals") => TagFormat::Literals,
        Some(f) if f.starts_with("semantics/1.0") => TagFormat::Script,
        _ => TagFormat::Unspecified,
    };
    let rule_nodes = rule_nodes(grammar)?;
    let root = root_rule(grammar, &rule_nodes)?;
    let mut parser = Parser {
        rule_ids: rule_nodes.iter().map(|(id, _)| *id).collect(),
        format,
        tags: Vec::new(),
    };
    let mut rules = Vec::with_capacity(rule_nodes.len());
    for (id, node) in &rule_nodes {
        let body = parser.sequence(*node, 0)?;
        rules.push(Rule {
            id: (*id).to_owned(),
            body,
        });
    }
    let header_tags = header_tags(grammar)?;
    Ok(Parsed::Dtmf(Ast {
        rules,
        root,
        tags: parser.tags,
        format,
        header_tags,
    }))
}

/// The `<rule>` children with their ids, checking ids are present and unique.
fn rule_nodes<'a, 'i>(grammar: Node<'a, 'i>) -> Result<Vec<(&'a str, Node<'a, 'i>)>, GrammarError> {
    let mut rules: Vec<(&'a str, Node<'a, 'i>)> = Vec::new();
    for node in grammar
        .children()
        .filter(|n| n.tag_name().name() == "rule" && n.is_element())
    {
        let Some(id) = node.attribute("id").filter(|id| !id.is_empty()) else {
            return Err(error(node, "<rule> without an id"));
        };
        if rules.iter().any(|(other, _)| *other == id) {
            return Err(error(node, &format!("rule `{id}` is defined twice")));
        }
        rules.push((id, node));
    }
    Ok(rules)
}

/// The root rule: the `root` attribute, or the only rule if there is no attribute.
fn root_rule(
    grammar: Node<'_, '_>,
    rules: &[(&str, Node<'_, '_>)],
) -> Result<RuleId, GrammarError> {
    let index = match grammar.attribute("root") {
        Some(root) => rules
            .iter()
            .position(|(id, _)| *id == root)
            .ok_or_else(|| error(grammar, &format!("root rule `{root}` is not defined")))?,
        None if rules.len() == 1 => 0,
        None => return Err(error(grammar, "missing root rule: no root attribute")),
    };
    rule_id(index).ok_or_else(|| error(grammar, "too many rules"))
}

/// Checks the other children of `<grammar>` and returns its header tags.
fn header_tags(grammar: Node<'_, '_>) -> Result<Vec<String>, GrammarError> {
    let mut tags = Vec::new();
    for child in grammar.children() {
        match child.node_type() {
            NodeType::Element => match child.tag_name().name() {
                "rule" | "meta" | "metadata" | "lexicon" => {}
                "tag" => tags.push(tag_text(child)?),
                other => return Err(error(child, &format!("unexpected <{other}> in <grammar>"))),
            },
            NodeType::Text if child.text().is_some_and(|t| !t.trim().is_empty()) => {
                return Err(error(child, "text outside a rule"));
            }
            _ => {}
        }
    }
    Ok(tags)
}

struct Parser<'a> {
    rule_ids: Vec<&'a str>,
    format: TagFormat,
    tags: Vec<Tag>,
}

impl Parser<'_> {
    /// The children of `parent` as one sequence.
    fn sequence(&mut self, parent: Node<'_, '_>, depth: usize) -> Result<Expansion, GrammarError> {
        if depth > MAX_NESTING {
            return Err(error(
                parent,
                &format!("elements nested deeper than {MAX_NESTING}"),
            ));
        }
        let mut items = Vec::new();
        for child in parent.children() {
            match child.node_type() {
                NodeType::Text => items.extend(tokens(child)?.into_iter().map(Expansion::Key)),
                NodeType::Element => {
                    if let Some(item) = self.element(child, depth)? {
                        items.push(item);
                    }
                }
                _ => {}
            }
        }
        Ok(match items.len() {
            1 => items.pop().unwrap_or(Expansion::Null),
            _ => Expansion::Sequence(items),
        })
    }

    /// One element inside a rule; `None` for ignored elements.
    fn element(
        &mut self,
        node: Node<'_, '_>,
        depth: usize,
    ) -> Result<Option<Expansion>, GrammarError> {
        let expansion = match node.tag_name().name() {
            "item" => self.item(node, depth)?,
            "one-of" => self.one_of(node, depth)?,
            "ruleref" => self.ruleref(node)?,
            "token" => Expansion::Key(token(node)?),
            "tag" => self.tag(node)?,
            "example" | "meta" | "metadata" | "lexicon" => return Ok(None),
            "rule" => return Err(error(node, "<rule> must be a child of <grammar>")),
            other => return Err(error(node, &format!("unknown element <{other}>"))),
        };
        Ok(Some(expansion))
    }

    fn item(&mut self, node: Node<'_, '_>, depth: usize) -> Result<Expansion, GrammarError> {
        let body = self.sequence(node, depth + 1)?;
        let Some(repeat) = node.attribute("repeat") else {
            return Ok(body);
        };
        let (min, max) = parse_repeat(repeat).ok_or_else(|| {
            error(
                node,
                &format!("bad repeat `{repeat}` (expected n, n-m with n <= m, or n-)"),
            )
        })?;
        Ok(Expansion::Repeat {
            body: Box::new(body),
            min,
            max,
            position: position(node),
        })
    }

    fn one_of(&mut self, node: Node<'_, '_>, depth: usize) -> Result<Expansion, GrammarError> {
        let mut alternatives = Vec::new();
        for child in node.children() {
            match child.node_type() {
                NodeType::Element if child.tag_name().name() == "item" => {
                    alternatives.push(self.item(child, depth + 1)?);
                }
                NodeType::Element => {
                    let name = child.tag_name().name();
                    return Err(error(
                        child,
                        &format!("<{name}> in <one-of> (only <item> is allowed)"),
                    ));
                }
                NodeType::Text if child.text().is_some_and(|t| !t.trim().is_empty()) => {
                    return Err(error(
                        child,
                        "text directly in <one-of> (wrap it in <item>)",
                    ));
                }
                _ => {}
            }
        }
        if alternatives.is_empty() {
            return Err(error(node, "<one-of> without any <item>"));
        }
        Ok(Expansion::OneOf(alternatives))
    }

    fn ruleref(&self, node: Node<'_, '_>) -> Result<Expansion, GrammarError> {
        match (node.attribute("uri"), node.attribute("special")) {
            (Some(_), Some(_)) => Err(error(node, "<ruleref> with both uri and special")),
            (None, None) => Err(error(node, "<ruleref> needs a uri or special attribute")),
            (None, Some("NULL")) => Ok(Expansion::Null),
            (None, Some("VOID")) => Ok(Expansion::Void),
            (None, Some("GARBAGE")) => Ok(Expansion::Garbage),
            (None, Some(other)) => Err(error(node, &format!("unknown special rule `{other}`"))),
            (Some(uri), None) => self.local_ruleref(node, uri),
        }
    }

    fn local_ruleref(&self, node: Node<'_, '_>, uri: &str) -> Result<Expansion, GrammarError> {
        let Some(id) = uri.strip_prefix('#') else {
            return Err(error(
                node,
                &format!("external rule reference `{uri}` is not supported"),
            ));
        };
        let index = self
            .rule_ids
            .iter()
            .position(|known| *known == id)
            .ok_or_else(|| error(node, &format!("reference to undefined rule `{id}`")))?;
        let rule = rule_id(index).ok_or_else(|| error(node, "too many rules"))?;
        Ok(Expansion::RuleRef {
            rule,
            position: position(node),
        })
    }

    fn tag(&mut self, node: Node<'_, '_>) -> Result<Expansion, GrammarError> {
        let code = tag_text(node)?;
        let id = u32::try_from(self.tags.len()).map_err(|_| error(node, "too many tags"))?;
        self.tags.push(Tag::new(&code, self.format));
        Ok(Expansion::Tag(id))
    }
}

/// The text of a `<tag>`; elements inside it are an error.
fn tag_text(node: Node<'_, '_>) -> Result<String, GrammarError> {
    let mut code = String::new();
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => return Err(error(child, "element inside <tag>")),
            NodeType::Text => code.push_str(child.text().unwrap_or_default()),
            _ => {}
        }
    }
    Ok(code)
}

/// A `<token>`: exactly one key.
fn token(node: Node<'_, '_>) -> Result<Key, GrammarError> {
    let mut text = String::new();
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => return Err(error(child, "element inside <token>")),
            NodeType::Text => text.push_str(child.text().unwrap_or_default()),
            _ => {}
        }
    }
    match tokens_of(&text).as_deref() {
        Some([key]) => Ok(*key),
        _ => Err(error(
            node,
            &format!("<token> `{}` is not a single DTMF key", text.trim()),
        )),
    }
}

/// Whitespace-separated DTMF tokens of a text node, each exactly one key.
fn tokens(text: Node<'_, '_>) -> Result<Vec<Key>, GrammarError> {
    let content = text.text().unwrap_or_default();
    tokens_of(content).ok_or_else(|| {
        let bad = content
            .split_whitespace()
            .find(|t| single_key(t).is_none())
            .unwrap_or_default();
        error(
            text,
            &format!("`{bad}` is not a DTMF key (each token is one of 0-9 * # A-D)"),
        )
    })
}

fn tokens_of(text: &str) -> Option<Vec<Key>> {
    text.split_whitespace().map(single_key).collect()
}

fn single_key(token: &str) -> Option<Key> {
    let mut chars = token.chars();
    let key = Key::from_char(chars.next()?)?;
    chars.next().is_none().then_some(key)
}

/// `"4"`, `"2-5"`, `"1-"` -> (min, max).
pub(crate) fn parse_repeat(text: &str) -> Option<(u32, Option<u32>)> {
    let text = text.trim();
    let number = |s: &str| -> Option<u32> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let Some((min, max)) = text.split_once('-') else {
        let n = number(text)?;
        return Some((n, Some(n)));
    };
    let min = number(min)?;
    if max.trim().is_empty() {
        return Some((min, None));
    }
    let max = number(max)?;
    (min <= max).then_some((min, Some(max)))
}

fn rule_id(index: usize) -> Option<RuleId> {
    RuleId::try_from(index).ok()
}

/// Where `node` starts in the document.
pub(crate) fn position(node: Node<'_, '_>) -> Position {
    let pos = node.document().text_pos_at(node.range().start);
    Position {
        line: pos.row,
        column: pos.col,
    }
}

fn error(node: Node<'_, '_>, reason: &str) -> GrammarError {
    GrammarError::Srgs {
        position: position(node),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_forms() {
        assert_eq!(parse_repeat("4"), Some((4, Some(4))));
        assert_eq!(parse_repeat("0-1"), Some((0, Some(1))));
        assert_eq!(parse_repeat("1-"), Some((1, None)));
        assert_eq!(parse_repeat(" 2 - 5 "), Some((2, Some(5))));
        for bad in ["", "-", "5-2", "x", "1-x", "-3", "+1", "99999999999"] {
            assert_eq!(parse_repeat(bad), None, "{bad}");
        }
    }
}
