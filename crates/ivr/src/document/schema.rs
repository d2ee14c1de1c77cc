//! What a VoiceXML 2.1 document may contain: the elements, their attributes, and the
//! attributes some of them require. Foreign namespaces (SSML extensions, vendors) are left
//! alone; grammar bodies are the grammar parser's business.

use super::{Namespace, Node, Pos};

/// One problem found in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
}

const FETCH: &[&str] = &["fetchhint", "fetchtimeout", "maxage", "maxstale"];
const ITEM: &[&str] = &["name", "expr", "cond"];
const EVENT_SOURCE: &[&str] = &["event", "eventexpr", "message", "messageexpr"];

/// The attributes each VoiceXML element allows (besides `xml:*` and foreign namespaces), or
/// `None` for an element VoiceXML does not have.
fn allowed(element: &str) -> Option<Vec<&'static str>> {
    let own: &[&str] = match element {
        "vxml" => &["version", "application"],
        "meta" => &["name", "content", "http-equiv"],
        "metadata" | "enumerate" | "reprompt" | "else" | "p" | "s" | "desc" => &[],
        "property" => &["name", "value"],
        "var" | "assign" => &["name", "expr"],
        "script" => &["src", "srcexpr", "charset"],
        "catch" | "error" | "noinput" | "nomatch" | "help" => &["event", "count", "cond"],
        "link" | "choice" => &[
            "next",
            "expr",
            "event",
            "eventexpr",
            "message",
            "messageexpr",
            "dtmf",
            "accept",
            "fetchaudio",
        ],
        "form" => &["id", "scope"],
        "menu" => &["id", "scope", "dtmf", "accept"],
        "field" => &["type", "slot", "modal"],
        "option" => &["dtmf", "accept", "value"],
        "block" | "initial" => &[],
        "subdialog" => &[
            "namelist",
            "src",
            "srcexpr",
            "method",
            "enctype",
            "fetchaudio",
        ],
        "param" => &["name", "expr", "value", "valuetype", "type"],
        "object" => &["classid", "codebase", "codetype", "data", "type", "archive"],
        "record" => &[
            "modal",
            "beep",
            "maxtime",
            "finalsilence",
            "dtmfterm",
            "type",
        ],
        "transfer" => &[
            "dest",
            "destexpr",
            "bridge",
            "type",
            "connecttimeout",
            "maxtime",
            "transferaudio",
            "aai",
            "aaiexpr",
        ],
        "filled" => &["mode", "namelist"],
        "prompt" => &["bargein", "bargeintype", "cond", "count", "timeout"],
        "audio" => &["src", "expr"],
        "value" => &["expr"],
        "break" => &["time", "strength"],
        "mark" => &["name", "nameexpr"],
        "grammar" => &[
            "src",
            "srcexpr",
            "scope",
            "type",
            "weight",
            "mode",
            "root",
            "version",
            "tag-format",
        ],
        "clear" => &["namelist"],
        "if" | "elseif" => &["cond"],
        "goto" => &["next", "expr", "nextitem", "expritem", "fetchaudio"],
        "submit" => &[
            "next",
            "expr",
            "namelist",
            "method",
            "enctype",
            "fetchaudio",
        ],
        "exit" => &["expr", "namelist"],
        "return" => &["event", "eventexpr", "message", "messageexpr", "namelist"],
        "disconnect" => &["namelist"],
        "throw" => EVENT_SOURCE,
        "log" => &["label", "expr"],
        "data" => &["name", "src", "srcexpr", "namelist", "method", "enctype"],
        "foreach" => &["array", "item"],
        // SSML inside prompts.
        "say-as" => &["interpret-as", "format", "detail"],
        "emphasis" => &["level"],
        "prosody" => &["pitch", "contour", "range", "rate", "duration", "volume"],
        "sub" => &["alias"],
        "voice" => &["gender", "age", "variant", "name"],
        "phoneme" => &["ph", "alphabet"],
        "lexicon" => &["uri", "type"],
        _ => return None,
    };
    let mut all = own.to_vec();
    if matches!(
        element,
        "field" | "block" | "initial" | "subdialog" | "object" | "record" | "transfer"
    ) {
        all.extend_from_slice(ITEM);
    }
    if matches!(
        element,
        "script"
            | "link"
            | "choice"
            | "subdialog"
            | "object"
            | "audio"
            | "grammar"
            | "goto"
            | "submit"
            | "data"
    ) {
        all.extend_from_slice(FETCH);
    }
    Some(all)
}

/// Herald's elements and their attributes.
fn herald_allowed(element: &str) -> Option<&'static [&'static str]> {
    match element {
        "recording" => Some(&["action", "reason"]),
        "consent" => Some(&["decision", "expr"]),
        "language" => Some(&["value", "expr"]),
        _ => None,
    }
}

/// Herald attributes allowed on VoiceXML elements.
fn herald_attribute_allowed(element: &str, attribute: &str) -> bool {
    matches!(
        (element, attribute),
        ("prompt", "evidence") | ("field", "secure")
    )
}

/// Attributes of which exactly one must be present.
fn exactly_one(element: &str) -> &'static [&'static [&'static str]] {
    match element {
        "var" | "assign" | "param" | "property" => &[&["name"]],
        "goto" => &[&["next", "expr", "nextitem", "expritem"]],
        "submit" => &[&["next", "expr"]],
        "subdialog" => &[&["src", "srcexpr"]],
        "throw" => &[&["event", "eventexpr"]],
        "value" => &[&["expr"]],
        "if" | "elseif" => &[&["cond"]],
        "foreach" => &[&["array"], &["item"]],
        "data" => &[&["src", "srcexpr"]],
        "mark" => &[&["name", "nameexpr"]],
        "audio" => &[&["src", "expr"]],
        "transfer" => &[&["dest", "destexpr"]],
        _ => &[],
    }
}

/// Attributes of which at most one may be present.
fn at_most_one(element: &str) -> &'static [&'static [&'static str]] {
    match element {
        "exit" => &[&["expr", "namelist"]],
        "return" => &[
            &["event", "eventexpr", "namelist"],
            &["message", "messageexpr"],
        ],
        "throw" | "link" => &[&["message", "messageexpr"]],
        "choice" => &[
            &["next", "expr", "event", "eventexpr"],
            &["message", "messageexpr"],
        ],
        "script" | "grammar" => &[&["src", "srcexpr"]],
        "param" => &[&["expr", "value"]],
        "block" | "field" | "initial" | "subdialog" | "object" | "record" | "transfer" => {
            &[&["expr"]]
        }
        _ => &[],
    }
}

/// Every problem in the tree under `root`, in document order.
pub fn validate(root: &Node) -> Vec<Problem> {
    let mut problems = Vec::new();
    visit(root, &mut problems);
    problems
}

fn visit(node: &Node, problems: &mut Vec<Problem>) {
    let mut problem = |message: String| {
        problems.push(Problem {
            pos: node.pos,
            message,
        })
    };
    match node.ns {
        Namespace::Vxml => match allowed(&node.name) {
            None => problem(format!("unknown VoiceXML element <{}>", node.name)),
            Some(attrs) => check_attributes(node, &attrs, &mut problem),
        },
        Namespace::Herald => match herald_allowed(&node.name) {
            None => problem(format!("unknown Herald element <herald:{}>", node.name)),
            Some(attrs) => check_attributes(node, attrs, &mut problem),
        },
        Namespace::Srgs | Namespace::Other => {}
    }
    // Grammar bodies belong to the grammar parser.
    if node.ns == Namespace::Vxml && &*node.name == "grammar" {
        return;
    }
    for child in node.elements() {
        visit(child, problems);
    }
}

fn check_attributes(node: &Node, allowed: &[&str], problem: &mut impl FnMut(String)) {
    for attr in &node.attrs {
        match attr.ns {
            Namespace::Vxml if !allowed.contains(&&*attr.name) => {
                problem(format!("<{}> has no attribute {:?}", node.name, attr.name))
            }
            Namespace::Herald if !herald_attribute_allowed(&node.name, &attr.name) => problem(
                format!("<{}> has no attribute herald:{}", node.name, attr.name),
            ),
            _ => {}
        }
    }
    if node.ns != Namespace::Vxml {
        return;
    }
    for group in at_most_one(&node.name) {
        if group.iter().filter(|a| node.attr(a).is_some()).count() > 1 {
            problem(format!(
                "<{}> may have only one of {}",
                node.name,
                group.join(", ")
            ));
        }
    }
    for group in exactly_one(&node.name) {
        let present = group.iter().filter(|a| node.attr(a).is_some()).count();
        if present != 1 {
            problem(format!(
                "<{}> needs exactly one of {}",
                node.name,
                group.join(", ")
            ));
        }
    }
}
