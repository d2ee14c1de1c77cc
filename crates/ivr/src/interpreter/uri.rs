//! URI resolution: relative references against the current document (RFC 3986), with the
//! prompt library's own scheme (`prompt:NAME`) and builtin grammars left as they are.

/// Splits `uri#fragment`.
pub fn split_fragment(uri: &str) -> (String, Option<String>) {
    match uri.split_once('#') {
        Some((base, fragment)) => (
            base.to_owned(),
            (!fragment.is_empty()).then(|| fragment.to_owned()),
        ),
        None => (uri.to_owned(), None),
    }
}

/// Resolves `reference` against `base`; an error names what could not be resolved.
pub fn resolve(base: &str, reference: &str) -> Result<String, String> {
    let reference = reference.trim();
    if reference.starts_with("prompt:") || reference.starts_with("builtin:") {
        return Ok(reference.to_owned());
    }
    let base_url = url::Url::parse(base).map_err(|e| format!("base URI {base:?}: {e}"))?;
    base_url
        .join(reference)
        .map(String::from)
        .map_err(|e| format!("URI {reference:?}: {e}"))
}

/// Whether two URIs name the same document (fragments ignored).
pub fn same_document(a: &str, b: &str) -> bool {
    split_fragment(a).0 == split_fragment(b).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references_resolve_against_the_document() {
        assert_eq!(
            resolve("http://127.0.0.1:8080/ir/a.vxml", "b.vxml#f").unwrap(),
            "http://127.0.0.1:8080/ir/b.vxml#f"
        );
        assert_eq!(
            resolve("file:///srv/ivr/main.vxml", "../common/root.vxml").unwrap(),
            "file:///srv/common/root.vxml"
        );
        assert_eq!(
            resolve("file:///a/b.vxml", "prompt:welcome").unwrap(),
            "prompt:welcome"
        );
        assert_eq!(
            split_fragment("x.vxml#main"),
            ("x.vxml".to_owned(), Some("main".to_owned()))
        );
        assert!(same_document("file:///a.vxml#x", "file:///a.vxml"));
    }
}
