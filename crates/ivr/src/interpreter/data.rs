//! `<data>` (VoiceXML 2.1 section 5): fetch XML and expose it to ECMAScript as a read-only
//! DOM with the Level 2 Core subset documents use (`documentElement`, `childNodes`,
//! `firstChild`, `getElementsByTagName`, `getAttribute`, `nodeValue`, ...).

use super::exec::method_of;
use super::{Interpreter, Purpose, Thrown};
use crate::document::Node;
use crate::output::FetchKind;
use crate::script::{Level, js_string};

/// Builds DOM nodes from a compact array form: `[name, {attrs}, [children]]` for elements,
/// strings for text.
const DOM: &str = r#"
__h.dom = function (tree) {
  function list(nodes) { nodes.item = function (i) { return nodes[i] || null; }; return nodes; }
  function build(t, parent) {
    var n;
    if (typeof t === 'string') {
      n = { nodeType: 3, nodeName: '#text', nodeValue: t, data: t, childNodes: list([]) };
    } else {
      n = { nodeType: 1, nodeName: t[0], tagName: t[0], nodeValue: null, attrs: t[1] };
      n.childNodes = list(t[2].map(function (c) { return build(c, n); }));
      n.getAttribute = function (a) { return Object.prototype.hasOwnProperty.call(n.attrs, a) ? n.attrs[a] : ''; };
      n.hasAttribute = function (a) { return Object.prototype.hasOwnProperty.call(n.attrs, a); };
      n.getElementsByTagName = function (name) { return list(find(n, name, [])); };
      n.attributes = list(Object.keys(t[1]).map(function (k) {
        return { nodeType: 2, nodeName: k, name: k, nodeValue: t[1][k], value: t[1][k] };
      }));
    }
    n.parentNode = parent;
    n.hasChildNodes = function () { return n.childNodes.length > 0; };
    n.firstChild = null; n.lastChild = null;
    return n;
  }
  function link(n) {
    var c = n.childNodes;
    n.firstChild = c.length ? c[0] : null; n.lastChild = c.length ? c[c.length - 1] : null;
    for (var i = 0; i < c.length; i++) {
      c[i].previousSibling = i > 0 ? c[i - 1] : null;
      c[i].nextSibling = i + 1 < c.length ? c[i + 1] : null;
      link(c[i]);
    }
  }
  function find(n, name, out) {
    for (var i = 0; i < n.childNodes.length; i++) {
      var c = n.childNodes[i];
      if (c.nodeType === 1) { if (name === '*' || c.nodeName === name) out.push(c); find(c, name, out); }
    }
    return out;
  }
  var doc = { nodeType: 9, nodeName: '#document', nodeValue: null };
  var root = build(tree, doc);
  link(root);
  doc.documentElement = root;
  doc.childNodes = list([root]); doc.firstChild = root; doc.lastChild = root;
  doc.getElementsByTagName = function (name) {
    var out = (name === '*' || root.nodeName === name) ? [root] : [];
    return list(find(root, name, out));
  };
  return doc;
};
"#;

impl Interpreter {
    /// `<data>`: fetch the resource; [`data_arrived`](Self::data_arrived) resumes.
    pub(crate) fn data(&mut self, node: &Node) -> Result<(), Thrown> {
        let src = self.attr_or_expr(node, "src", "srcexpr")?;
        let uri = self.resolve(&src)?;
        let method = method_of(node);
        let params = match node.attr("namelist") {
            Some(names) => self.namelist_values(names)?,
            None => Vec::new(),
        };
        let name = node.attr("name").unwrap_or_default().to_owned();
        let timeout = self.fetch_timeout(node);
        self.fetch(
            super::uri::split_fragment(&uri).0,
            FetchKind::Data,
            method,
            params,
            timeout,
            Purpose::Data { name },
        );
        Ok(())
    }

    /// The XML of a `<data>` arrived: parse it and bind the DOM.
    pub(crate) fn data_arrived(&mut self, name: &str, xml: &str) {
        if let Err(thrown) = self.bind_data(name, xml) {
            self.pending = Some(thrown);
        }
    }

    fn bind_data(&mut self, name: &str, xml: &str) -> Result<(), Thrown> {
        let parsed = roxmltree::Document::parse(xml)
            .map_err(|e| Thrown::badfetch(format!("<data>: not well-formed XML: {e}")))?;
        let mut tree = String::new();
        compact(parsed.root_element(), &mut tree);
        if !self.dom_ready {
            self.js.run(DOM)?;
            self.dom_ready = true;
        }
        let value = format!("__h.dom({tree})");
        if name.is_empty() {
            return Ok(());
        }
        if self.js.is_declared(name)? {
            self.js.set_literal(name, &value)?;
        } else {
            self.js.declare_literal(Level::Anonymous, name, &value)?;
        }
        Ok(())
    }
}

fn compact(node: roxmltree::Node<'_, '_>, out: &mut String) {
    out.push('[');
    out.push_str(&js_string(node.tag_name().name()));
    out.push_str(",{");
    for (i, attr) in node.attributes().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&js_string(attr.name()));
        out.push(':');
        out.push_str(&js_string(attr.value()));
    }
    out.push_str("},[");
    let mut first = true;
    for child in node.children() {
        if child.is_element() {
            if !first {
                out.push(',');
            }
            compact(child, out);
            first = false;
        } else if let Some(text) = child.text().filter(|_| child.is_text()) {
            if !first {
                out.push(',');
            }
            out.push_str(&js_string(text));
            first = false;
        }
    }
    out.push_str("]]");
}
