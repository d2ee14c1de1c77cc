//! SISR 1.0 results of a parse: evaluated here for literal tags, generated as
//! an ECMAScript program for script tags.
//!
//! Rule values follow SISR 1.0 §3: a rule's value is set by its own tags (the
//! last literal wins); a rule whose matched path holds none of its own tags
//! takes the value of the last rule it referenced (`rules.latest()`), or else
//! its matched text. Exception, by VoiceXML convention: if no tag at all lies on
//! the matched path, the value is the whole utterance.

use std::fmt::Write as _;

use super::ast::{Ast, TagFormat, TagKind};
use super::path::{Item, RuleMatch};
use crate::Value;

/// The value computed without ECMAScript: literal tags and `out = <literal>;`
/// assignments count, other script tags are skipped.
pub(crate) fn literal_value(ast: &Ast, rule: &RuleMatch) -> Value {
    let own = rule.own_tags().filter_map(|tag| match &ast.tag(tag)?.kind {
        TagKind::Literal(text) => Some(Value::String(text.clone())),
        TagKind::Assign(value) => Some(value.clone()),
        TagKind::Script => None,
    });
    if let Some(value) = own.last() {
        return value;
    }
    match rule.latest_child() {
        Some(child) => literal_value(ast, child),
        None => Value::String(rule.text()),
    }
}

/// Whether the match needs the generated script to be interpreted.
pub(crate) fn needs_script(ast: &Ast, root: &RuleMatch) -> bool {
    match ast.format {
        TagFormat::Literals => false,
        TagFormat::Script => root.has_tags(),
        TagFormat::Unspecified => has_script_tag(ast, root),
    }
}

fn has_script_tag(ast: &Ast, rule: &RuleMatch) -> bool {
    rule.items.iter().any(|item| match item {
        Item::Tag(tag) => ast
            .tag(*tag)
            .is_some_and(|t| matches!(t.kind, TagKind::Script)),
        Item::Rule(child) => has_script_tag(ast, child),
        Item::Key(_) => false,
    })
}

/// A self-contained ECMAScript expression whose value is the SISR result of
/// the parse. Each matched rule becomes a function with its own `out`,
/// `rules` and `meta`; the functions are declared side by side (not nested) so
/// that a rule sees only its own variables and the grammar's header tags.
pub(crate) fn script(ast: &Ast, root: &RuleMatch) -> String {
    let mut program = String::from("(function () {\n");
    for header in &ast.header_tags {
        let _ = writeln!(program, "{header}\n;");
    }
    let mut next_function = 0;
    write_rule(ast, root, &mut next_function, &mut program);
    program.push_str("return __herald_rule_0();\n})()");
    program
}

/// Writes the function for `rule` and, after it, those of the rules it
/// referenced; `next` numbers the functions in that order.
fn write_rule(ast: &Ast, rule: &RuleMatch, next: &mut usize, out: &mut String) {
    let own_number = *next;
    *next += 1;
    let text = js_string(&rule.text());
    let has_own_tags = rule.own_tags().next().is_some();
    let _ = writeln!(out, "function __herald_rule_{own_number}() {{");
    out.push_str(if has_own_tags {
        "var out = {};\n"
    } else {
        "var out;\n"
    });
    out.push_str("var rules = {}, meta = {}, __latest, __latest_meta;\n");
    out.push_str("rules.latest = function () { return __latest; };\n");
    out.push_str("meta.latest = function () { return __latest_meta; };\n");
    let _ = writeln!(
        out,
        "meta.current = function () {{ return {{ text: {text}, score: 1.0 }}; }};"
    );
    let mut children = Vec::new();
    for item in &rule.items {
        match item {
            Item::Tag(tag) => write_tag(ast, *tag, out),
            Item::Rule(child) => {
                let number = *next + children.iter().map(count_rules).sum::<usize>();
                let name = ast
                    .rule(child.rule)
                    .map_or_else(String::new, |r| js_string(&r.id));
                let child_text = js_string(&child.text());
                let _ = writeln!(out, "__latest = rules[{name}] = __herald_rule_{number}();");
                let _ = writeln!(
                    out,
                    "__latest_meta = meta[{name}] = {{ text: {child_text}, score: 1.0 }};"
                );
                children.push(child);
            }
            Item::Key(_) => {}
        }
    }
    match (has_own_tags, children.is_empty()) {
        (true, _) => out.push_str("return out;\n}\n"),
        (false, false) => out.push_str("return __latest;\n}\n"),
        (false, true) => {
            let _ = writeln!(out, "return {text};\n}}");
        }
    }
    for child in children {
        write_rule(ast, child, next, out);
    }
}

fn write_tag(ast: &Ast, tag: u32, out: &mut String) {
    let Some(tag) = ast.tag(tag) else { return };
    match (&tag.kind, ast.format) {
        (TagKind::Literal(text), TagFormat::Unspecified) => {
            let _ = writeln!(out, "out = {};", js_string(text));
        }
        _ => {
            let _ = writeln!(out, "{}\n;", tag.code);
        }
    }
}

/// How many functions `rule` and its descendants become.
fn count_rules(rule: &&RuleMatch) -> usize {
    1 + rule
        .items
        .iter()
        .map(|item| match item {
            Item::Rule(child) => count_rules(&child),
            _ => 0,
        })
        .sum::<usize>()
}

/// `text` as a double-quoted ECMAScript string literal.
pub(crate) fn js_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        assert_eq!(
            js_string("a\"b\\c\nd\u{2028}"),
            "\"a\\\"b\\\\c\\nd\\u2028\""
        );
    }
}
