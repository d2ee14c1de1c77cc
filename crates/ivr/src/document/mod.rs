//! VoiceXML documents: parsed once into an owned tree that keeps every element's position, so
//! that the interpreter, `herald check` and error events can name `file:line:column`.
//!
//! The tree is generic (element name, attributes, children); [`schema`] knows which elements
//! and attributes VoiceXML 2.1 and Herald's namespace allow, and [`Document::parse`] rejects a
//! document that uses anything else, as a conforming interpreter must (`error.badfetch`).

pub mod schema;

use std::fmt;
use std::sync::Arc;

/// The VoiceXML namespace.
pub const VXML_NS: &str = "http://www.w3.org/2001/vxml";
/// Herald's own elements and attributes (recording control, disclosure evidence, secure input).
pub const HERALD_NS: &str = "urn:herald:ivr";
/// SRGS grammars embedded in documents.
pub const SRGS_NS: &str = "http://www.w3.org/2001/06/grammar";

/// Which vocabulary an element belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// VoiceXML (also an element with no namespace, as old documents are written).
    Vxml,
    /// Herald's extensions.
    Herald,
    /// SRGS grammar content inside `<grammar>`.
    Srgs,
    /// Anything else (foreign content such as SSML inside prompts is kept as text).
    Other,
}

/// A place in a document's source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// An element: its local name, namespace, attributes in source order, children and position.
#[derive(Debug)]
pub struct Node {
    pub name: Box<str>,
    pub ns: Namespace,
    pub attrs: Vec<Attr>,
    pub children: Vec<Child>,
    pub pos: Pos,
    /// The element's source text (for inline grammars, which are parsed on their own).
    pub source: Option<Box<str>>,
}

/// An attribute (namespace-qualified names keep their prefix-free local name and namespace).
#[derive(Debug)]
pub struct Attr {
    pub name: Box<str>,
    pub ns: Namespace,
    pub value: Box<str>,
}

/// Element content.
#[derive(Debug)]
pub enum Child {
    Element(Arc<Node>),
    Text(Box<str>),
}

impl Node {
    /// A VoiceXML-namespace attribute (attributes without a prefix).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns != Namespace::Herald && &*a.name == name)
            .map(|a| &*a.value)
    }

    /// A Herald-namespace attribute (`herald:secure`).
    pub fn herald_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == Namespace::Herald && &*a.name == name)
            .map(|a| &*a.value)
    }

    /// Whether this is the VoiceXML element `name`.
    pub fn is(&self, name: &str) -> bool {
        self.ns == Namespace::Vxml && &*self.name == name
    }

    /// Child elements in order.
    pub fn elements(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.children.iter().filter_map(|c| match c {
            Child::Element(e) => Some(e),
            Child::Text(_) => None,
        })
    }

    /// Child VoiceXML elements named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Arc<Node>> {
        self.elements().filter(move |e| e.is(name))
    }

    /// The first child VoiceXML element named `name`.
    pub fn child(&self, name: &str) -> Option<&Arc<Node>> {
        self.elements().find(|e| e.is(name))
    }

    /// All text content, descendants included, with whitespace runs collapsed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        collapse_whitespace(&out)
    }

    fn collect_text(&self, out: &mut String) {
        for child in &self.children {
            match child {
                Child::Text(t) => out.push_str(t),
                Child::Element(e) => e.collect_text(out),
            }
        }
    }
}

/// Collapses runs of whitespace to one space and trims the ends.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A parsed, validated VoiceXML document.
#[derive(Debug)]
pub struct Document {
    /// The absolute URI it was fetched from (base for relative URIs).
    pub uri: String,
    pub root: Arc<Node>,
}

/// Why a document cannot be used; rendered `uri:line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{uri}:{pos}: {message}")]
pub struct DocumentError {
    pub uri: String,
    pub pos: Pos,
    pub message: String,
}

impl Document {
    /// Parses and validates a document fetched from `uri`: the first schema problem is the
    /// error, as a conforming interpreter rejects the whole document (`error.badfetch`).
    pub fn parse(uri: &str, text: &str) -> Result<Document, DocumentError> {
        let document = Document::parse_unvalidated(uri, text)?;
        if let Some(problem) = schema::validate(&document.root).into_iter().next() {
            return Err(document.error_at(problem.pos, problem.message));
        }
        Ok(document)
    }

    /// Parses well-formed XML whose root is `<vxml>` without the schema check, so that
    /// [`problems`](Self::problems) can report every problem at once (`herald check`).
    pub fn parse_unvalidated(uri: &str, text: &str) -> Result<Document, DocumentError> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let xml = roxmltree::Document::parse_with_options(text, options).map_err(|e| {
            let pos = e.pos();
            DocumentError {
                uri: uri.to_owned(),
                pos: Pos {
                    line: pos.row,
                    column: pos.col,
                },
                message: format!("not well-formed XML: {e}"),
            }
        })?;
        let root = xml.root_element();
        let lines = LineIndex::new(text);
        let converted = convert(&lines, root, text);
        let document = Document {
            uri: uri.to_owned(),
            root: Arc::new(converted),
        };
        if !document.root.is("vxml") {
            return Err(document.error(&document.root, "the root element must be <vxml>"));
        }
        Ok(document)
    }

    /// Every schema problem in the document (for `herald check`, which reports them all).
    pub fn problems(&self) -> Vec<DocumentError> {
        schema::validate(&self.root)
            .into_iter()
            .map(|p| self.error_at(p.pos, p.message))
            .collect()
    }

    /// An error about a node of this document.
    pub fn error(&self, node: &Node, message: impl Into<String>) -> DocumentError {
        self.error_at(node.pos, message)
    }

    fn error_at(&self, pos: Pos, message: impl Into<String>) -> DocumentError {
        DocumentError {
            uri: self.uri.clone(),
            pos,
            message: message.into(),
        }
    }

    /// The dialog (`form` or `menu`) with this id, or the first one for `None`.
    pub fn dialog(&self, id: Option<&str>) -> Option<&Arc<Node>> {
        let mut dialogs = self
            .root
            .elements()
            .filter(|e| e.is("form") || e.is("menu"));
        match id {
            None => dialogs.next(),
            Some(id) => dialogs.find(|d| d.attr("id") == Some(id)),
        }
    }

    /// The `application` attribute: the root document's URI, as written.
    pub fn application(&self) -> Option<&str> {
        self.root.attr("application")
    }
}

fn namespace_of(uri: Option<&str>) -> Namespace {
    match uri {
        None | Some("") | Some(VXML_NS) => Namespace::Vxml,
        Some(HERALD_NS) => Namespace::Herald,
        Some(SRGS_NS) => Namespace::Srgs,
        Some(_) => Namespace::Other,
    }
}

/// Byte offsets of line starts, so that every element's position costs a binary search
/// instead of a scan from the start of the document (quadratic in its size).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// Line and column (both from 1, the column in characters) of a byte offset.
    fn pos(&self, text: &str, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

fn convert(lines: &LineIndex, node: roxmltree::Node<'_, '_>, text: &str) -> Node {
    let tag = node.tag_name();
    let pos = lines.pos(text, node.range().start);
    let is_grammar = tag.name() == "grammar";
    let ns = match namespace_of(tag.namespace()) {
        // VoiceXML's <grammar> is SRGS's (VoiceXML 2.0 section 3.1.1): documents commonly
        // write inline grammars as <grammar xmlns="http://www.w3.org/2001/06/grammar">, and
        // the interpreter must find them among the field's grammars all the same.
        Namespace::Srgs if is_grammar => Namespace::Vxml,
        ns => ns,
    };
    let children = node
        .children()
        .filter_map(|child| {
            if child.is_element() {
                Some(Child::Element(Arc::new(convert(lines, child, text))))
            } else if child.is_text() {
                Some(Child::Text(child.text().unwrap_or_default().into()))
            } else {
                None
            }
        })
        .collect();
    Node {
        name: tag.name().into(),
        ns,
        attrs: node
            .attributes()
            .map(|a| Attr {
                name: a.name().into(),
                ns: match a.namespace() {
                    None => Namespace::Vxml,
                    Some(uri) => namespace_of(Some(uri)),
                },
                value: a.value().into(),
            })
            .collect(),
        children,
        pos,
        source: is_grammar.then(|| text.get(node.range()).unwrap_or_default().into()),
    }
}

#[cfg(test)]
mod tests;
