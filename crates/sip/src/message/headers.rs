//! Typed views of the header fields Herald acts on, parsed strictly from the stored values.
//!
//! Each parser accepts linear whitespace where RFC 3261 §25 allows it (around `/`, `;`, `=`)
//! and rejects what the grammar forbids, with a short reason used as the `400` reason phrase.

use super::uri::{Param, Uri, parse_hostport};
use super::{Method, parse::is_token_char};

/// Why a header value did not parse. The text is a reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderError(pub &'static str);

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for HeaderError {}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Parses `*( SEMI name [EQUAL value] )` where the value is a token, a quoted string or an
/// IPv6 reference. The input starts at the first `;` (or is empty).
pub fn parse_params(mut s: &str, what: &'static str) -> Result<Vec<Param>, HeaderError> {
    let mut params = Vec::new();
    s = s.trim();
    while !s.is_empty() {
        s = s.strip_prefix(';').ok_or(HeaderError(what))?.trim_start();
        let name_end = s
            .find(|c: char| c == '=' || c == ';' || c.is_ascii_whitespace())
            .unwrap_or(s.len());
        let name = &s[..name_end];
        if !is_token(name) {
            return Err(HeaderError(what));
        }
        s = s[name_end..].trim_start();
        let value = if let Some(rest) = s.strip_prefix('=') {
            let rest = rest.trim_start();
            let (value, after) = if rest.starts_with('"') {
                let end = quoted_end(rest).ok_or(HeaderError("unterminated quoted string"))?;
                (&rest[..end], &rest[end..])
            } else {
                let end = rest
                    .find(|c: char| c == ';' || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                let v = &rest[..end];
                let ipv6 = v.starts_with('[') && v.ends_with(']');
                if !(is_token(v) || ipv6) {
                    return Err(HeaderError(what));
                }
                (v, &rest[end..])
            };
            s = after.trim_start();
            Some(value.to_owned())
        } else {
            None
        };
        params.push(Param {
            name: name.to_owned(),
            value,
        });
    }
    Ok(params)
}

/// Byte offset just past the closing quote of the quoted string `s` starts with.
fn quoted_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn find_param<'a>(params: &'a [Param], name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_deref())
}

/// One Via value: `SIP/2.0/transport sent-by *(;param)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

/// The RFC 3261 branch magic cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    pub fn parse(value: &str) -> Result<Via, HeaderError> {
        const BAD: HeaderError = HeaderError("malformed Via");
        let mut parts = value.splitn(3, '/');
        let (name, version, rest) = (parts.next(), parts.next(), parts.next());
        let (Some(name), Some(version), Some(rest)) = (name, version, rest) else {
            return Err(BAD);
        };
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return Err(BAD);
        }
        let rest = rest.trim_start();
        let t_end = rest.find(|c: char| c.is_ascii_whitespace()).ok_or(BAD)?;
        let transport = &rest[..t_end];
        if !is_token(transport) {
            return Err(BAD);
        }
        let rest = rest[t_end..].trim_start();
        let hp_end = rest
            .find(|c: char| c == ';' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (host, port) = parse_hostport(&rest[..hp_end]).map_err(|_| BAD)?;
        let params = parse_params(&rest[hp_end..], "malformed Via parameter")?;
        Ok(Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        find_param(&self.params, "branch").flatten()
    }

    pub fn received(&self) -> Option<&str> {
        find_param(&self.params, "received").flatten()
    }

    /// `None`: no rport; `Some(None)`: `;rport` without a value (RFC 3581 request);
    /// `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        find_param(&self.params, "rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// `host[:port]` as sent, the sent-by used in transaction matching.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// All Via values of a message, top first.
pub fn vias(headers: &super::Headers) -> Result<Vec<Via>, HeaderError> {
    headers
        .list(&super::HeaderName::Via)
        .map(Via::parse)
        .collect()
}

/// `name-addr` or `addr-spec` with header parameters: From, To, Contact, Route elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped.
    pub display: Option<String>,
    pub uri: Uri,
    /// True if the URI was written inside `<>`.
    pub bracketed: bool,
    pub params: Vec<Param>,
}

impl NameAddr {
    pub fn parse(value: &str) -> Result<NameAddr, HeaderError> {
        let value = value.trim();
        let (display, rest) = if value.starts_with('"') {
            let end = quoted_end(value).ok_or(HeaderError("unterminated quoted string"))?;
            (Some(unquote(&value[..end])), value[end..].trim_start())
        } else if let Some(lt) = value.find('<') {
            let name = value[..lt].trim();
            if !name.split_ascii_whitespace().all(is_token) {
                return Err(HeaderError("display name must be a token list or quoted"));
            }
            (
                Some(name.to_owned()).filter(|n| !n.is_empty()),
                &value[lt..],
            )
        } else {
            (None, value)
        };
        if let Some(inner) = rest.strip_prefix('<') {
            let (uri, params) = inner
                .split_once('>')
                .ok_or(HeaderError("unterminated <URI>"))?;
            let uri = Uri::parse(uri).map_err(|e| HeaderError(e.0))?;
            let params = parse_params(params, "malformed header parameter")?;
            return Ok(NameAddr {
                display,
                uri,
                bracketed: true,
                params,
            });
        }
        if display.is_some() {
            return Err(HeaderError("display name without <URI>"));
        }
        let end = rest.find(';').unwrap_or(rest.len());
        let spec = rest[..end].trim_end();
        if spec.contains(['?', ',']) {
            return Err(HeaderError("URI with ',' or '?' must be enclosed in <>"));
        }
        let uri = Uri::parse(spec).map_err(|e| HeaderError(e.0))?;
        let params = parse_params(&rest[end..], "malformed header parameter")?;
        Ok(NameAddr {
            display: None,
            uri,
            bracketed: false,
            params,
        })
    }

    pub fn tag(&self) -> Option<&str> {
        find_param(&self.params, "tag").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }
}

fn unquote(q: &str) -> String {
    let inner = &q[1..q.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `CSeq: number method`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(value: &str) -> Result<CSeq, HeaderError> {
        let mut it = value.split_ascii_whitespace();
        let (Some(n), Some(m), None) = (it.next(), it.next(), it.next()) else {
            return Err(HeaderError("malformed CSeq"));
        };
        if n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HeaderError("malformed CSeq number"));
        }
        let seq: u64 = n
            .parse()
            .map_err(|_| HeaderError("malformed CSeq number"))?;
        if seq >= 1 << 31 {
            return Err(HeaderError("CSeq number out of range"));
        }
        let method = Method::parse(m).ok_or(HeaderError("malformed CSeq method"))?;
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

/// A non-negative integer header (Max-Forwards, Expires, Min-SE...) no larger than `max`.
pub fn parse_number(value: &str, max: u64, what: &'static str) -> Result<u64, HeaderError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError(what));
    }
    match v.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(HeaderError(what)),
    }
}

/// `delta-seconds` as in Expires: values past u32 are clamped (RFC 3261 §20.19 caps at 2**32-1).
pub fn parse_delta_seconds(value: &str) -> Result<u32, HeaderError> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError("malformed delta-seconds"));
    }
    Ok(v.parse::<u64>()
        .map(|n| n.min(u32::MAX as u64) as u32)
        .unwrap_or(u32::MAX))
}

/// `Session-Expires: delta [;refresher=uac|uas]` (RFC 4028).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionExpires {
    pub interval: u32,
    pub refresher: Option<String>,
}

impl SessionExpires {
    pub fn parse(value: &str) -> Result<SessionExpires, HeaderError> {
        let num_end = value.find(';').unwrap_or(value.len());
        let interval = parse_delta_seconds(&value[..num_end])?;
        let params = parse_params(&value[num_end..], "malformed Session-Expires")?;
        let refresher = find_param(&params, "refresher")
            .flatten()
            .map(str::to_ascii_lowercase);
        Ok(SessionExpires {
            interval,
            refresher,
        })
    }
}

/// The media type of a Content-Type or Accept element, lowercased, without parameters.
pub fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_whitespace_everywhere() {
        let v = Via::parse("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(
            (v.transport.as_str(), v.host.as_str(), v.branch()),
            ("UDP", "192.0.2.2", Some("390skdjuw"))
        );
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(
            (v.transport.as_str(), v.branch()),
            ("TCP", Some("z9hG4bK9ikj8"))
        );
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9:1]:5070;rport;branch=z9hG4bKa").unwrap();
        assert_eq!((v.port, v.rport()), (Some(5070), Some(None)));
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP",
            "SIP/3.0/UDP h",
            "SIP/2.0/UDP h;branch=\"x",
            "SIP/2.0/UDP h:99999",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(n.display.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(n.tag(), Some("98asjd8"));
        let n =
            NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(
            (n.uri.host.as_str(), n.tag()),
            ("chair-dnrc.example.com", Some("1918181833n"))
        );
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display.as_deref(), Some("caller"));
        let n = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(n.uri.params.is_empty());
        assert_eq!(n.param("unknownparam"), Some(None));
        for bad in [
            r#""Mr. J. User <sip:j.user@example.com>"#,
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "< sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            r#""Joe" <sip:joe@example.org>;;;;"#,
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(
            CSeq::parse("0009 INVITE").unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }

    #[test]
    fn numbers_and_session_expires() {
        assert_eq!(parse_number("0068", 255, "x"), Ok(68));
        assert!(parse_number("300", 255, "x").is_err());
        assert_eq!(parse_delta_seconds("10000000000000000000000"), Ok(u32::MAX));
        let se = SessionExpires::parse("1800;refresher=UAC").unwrap();
        assert_eq!((se.interval, se.refresher.as_deref()), (1800, Some("uac")));
    }
}
