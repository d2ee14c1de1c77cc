//! The shared syntax of `WWW-Authenticate` / `Authorization` values (RFC 3261 §25.1, RFC 7235
//! §2.1): `scheme LWS auth-param *(COMMA auth-param)`, where a value is a token or a
//! quoted-string.
//!
//! Leniencies, because real user agents need them: LWS (including a folded CRLF) is allowed around
//! `=` and `,`; any parameter may be quoted or bare; a bare value is a run of visible ASCII other
//! than `,` and `"` (so unquoted base64 nonces still parse). Strictness, because these values gate
//! authentication: control characters are refused everywhere, parameter names are tokens,
//! duplicate names are refused, and a list holds at most [`MAX_PARAMS`] parameters.

use std::borrow::Cow;

use super::Malformed;

/// More parameters than any digest header needs; bounds the duplicate check.
pub(crate) const MAX_PARAMS: usize = 32;

/// One `name=value` pair, the value unquoted and unescaped.
#[derive(Debug)]
pub(crate) struct AuthParam<'a> {
    pub name: &'a str,
    pub value: Cow<'a, str>,
}

/// Splits off the auth-scheme token; returns it and the parameter list after it.
pub(crate) fn split_scheme(input: &str) -> Result<(&str, &str), Malformed> {
    let mut cursor = Cursor { s: input, pos: 0 };
    cursor.skip_lws();
    let scheme = cursor.token().ok_or(Malformed::Syntax { at: cursor.pos })?;
    Ok((scheme, &input[cursor.pos..]))
}

/// Parses the parameter list that follows the scheme. It must start with whitespace.
pub(crate) fn parse_params(input: &str) -> Result<Vec<AuthParam<'_>>, Malformed> {
    let mut cursor = Cursor { s: input, pos: 0 };
    if !cursor.skip_lws() {
        return Err(if input.is_empty() {
            Malformed::NoParameters
        } else {
            Malformed::Syntax { at: 0 }
        });
    }
    let mut params: Vec<AuthParam<'_>> = Vec::new();
    loop {
        let param = cursor.param()?;
        if params
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(param.name))
        {
            return Err(Malformed::DuplicateParameter(
                param.name.to_ascii_lowercase(),
            ));
        }
        if params.len() == MAX_PARAMS {
            return Err(Malformed::TooManyParameters);
        }
        params.push(param);
        cursor.skip_lws();
        if cursor.at_end() {
            return Ok(params);
        }
        if !cursor.eat(b',') {
            return Err(Malformed::Syntax { at: cursor.pos });
        }
        cursor.skip_lws();
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    /// Skips `*(SP / HTAB)` and folded `CRLF 1*(SP / HTAB)`; reports whether it moved.
    fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        loop {
            let rest = &self.s.as_bytes()[self.pos..];
            match rest {
                [b' ' | b'\t', ..] => self.pos += 1,
                [b'\r', b'\n', b' ' | b'\t', ..] => self.pos += 3,
                _ => return self.pos != start,
            }
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        // Only ASCII bytes are kept, so both ends are char boundaries.
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    fn token(&mut self) -> Option<&'a str> {
        self.take_while(is_token_byte)
    }

    fn param(&mut self) -> Result<AuthParam<'a>, Malformed> {
        let name = self.token().ok_or(Malformed::Syntax { at: self.pos })?;
        self.skip_lws();
        if !self.eat(b'=') {
            return Err(Malformed::Syntax { at: self.pos });
        }
        self.skip_lws();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            Cow::Borrowed(
                self.take_while(is_bare_value_byte)
                    .ok_or(Malformed::Syntax { at: self.pos })?,
            )
        };
        Ok(AuthParam { name, value })
    }

    /// `DQUOTE *(qdtext / quoted-pair) DQUOTE`, cursor on the opening quote.
    fn quoted_string(&mut self) -> Result<Cow<'a, str>, Malformed> {
        let start = self.pos + 1;
        let mut owned: Option<String> = None;
        let mut chars = self.s[start..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + offset + 1;
                    return Ok(match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.s[start..start + offset]),
                    });
                }
                '\\' => {
                    let buf = owned.get_or_insert_with(|| self.s[start..start + offset].to_owned());
                    match chars.next() {
                        Some((_, escaped)) if !is_forbidden_char(escaped) => buf.push(escaped),
                        _ => return Err(Malformed::BadQuotedString),
                    }
                }
                c if is_forbidden_char(c) => return Err(Malformed::BadQuotedString),
                c => {
                    if let Some(buf) = owned.as_mut() {
                        buf.push(c);
                    }
                }
            }
        }
        Err(Malformed::BadQuotedString)
    }
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn is_bare_value_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b',' && b != b'"'
}

/// Control characters other than HTAB (CR and LF included: no header injection).
fn is_forbidden_char(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// Appends `value` as a quoted-string, or `None` if it holds a control character that cannot be
/// sent in a header.
pub(crate) fn push_quoted(out: &mut String, value: &str) -> Option<()> {
    if value.chars().any(is_forbidden_char) {
        return None;
    }
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(input: &str) -> Result<Vec<(String, String)>, Malformed> {
        let (_, rest) = split_scheme(input)?;
        Ok(parse_params(rest)?
            .into_iter()
            .map(|p| (p.name.to_owned(), p.value.into_owned()))
            .collect())
    }

    #[test]
    fn quoted_and_bare_values_with_lws() {
        let got = params("Digest a=\"x, y\" ,b = tok ,\r\n c=\"q\\\"uote\\\\\"").expect("parses");
        assert_eq!(
            got,
            [("a", "x, y"), ("b", "tok"), ("c", "q\"uote\\")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(params("Digest"), Err(Malformed::NoParameters));
        assert!(matches!(params("Digest a"), Err(Malformed::Syntax { .. })));
        assert!(matches!(
            params("Digest a=1,"),
            Err(Malformed::Syntax { .. })
        ));
        assert!(matches!(
            params("Digest a=1 b=2"),
            Err(Malformed::Syntax { .. })
        ));
        assert_eq!(params("Digest a=\"open"), Err(Malformed::BadQuotedString));
        assert_eq!(params("Digest a=\"x\ny\""), Err(Malformed::BadQuotedString));
        assert_eq!(
            params("Digest a=\"x\\\ry\""),
            Err(Malformed::BadQuotedString)
        );
        assert_eq!(
            params("Digest a=1, A=2"),
            Err(Malformed::DuplicateParameter("a".into()))
        );
    }

    #[test]
    fn non_ascii_in_quoted_string_is_kept() {
        let got = params("Digest username=\"J\u{f6}rg\\\u{e9}\"").expect("parses");
        assert_eq!(got[0].1, "J\u{f6}rg\u{e9}");
    }

    #[test]
    fn too_many_parameters() {
        let list: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            params(&format!("Digest {}", list.join(","))),
            Err(Malformed::TooManyParameters)
        );
    }

    #[test]
    fn push_quoted_escapes_and_refuses_controls() {
        let mut out = String::new();
        assert_eq!(push_quoted(&mut out, "a\"b\\c"), Some(()));
        assert_eq!(out, "\"a\\\"b\\\\c\"");
        assert_eq!(push_quoted(&mut out, "a\r\nb"), None);
    }
}
