//! URIs: SIP and SIPS (RFC 3261 §19.1) parsed into parts; any other well-formed scheme kept
//! opaque so that a UAS can answer `416` instead of `400`.

use std::fmt;

/// A URI scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// A syntactically valid scheme we do not support.
    Other(String),
}

/// A URI or header parameter: `name[=value]`. Names compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// A parsed URI. For `sip:`/`sips:` every part is filled; for other schemes only
/// [`Uri::scheme`] and [`Uri::opaque`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    /// The user part as received, still percent-encoded (RFC 3261 §19.1.4 compares users
    /// after decoding; see [`Uri::user_decoded`]).
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<Param>,
    /// The `?headers` part, verbatim. It is never turned into real header fields.
    pub headers: Option<String>,
    /// Everything after `scheme:` for non-SIP schemes.
    pub opaque: String,
}

/// Why a URI did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UriError(pub &'static str);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UriError {}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

fn is_user_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()%&=+$,;?/".contains(&b)
}

fn is_password_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()%&=+$,".contains(&b)
}

fn is_param_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()%[]/:&+$".contains(&b)
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() {
                return false;
            }
            if !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

impl Uri {
    /// Parses a URI. Whitespace anywhere is an error (RFC 4475 §3.1.2.8).
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(UriError("whitespace or control character in URI"));
        }
        let (scheme, rest) = s.split_once(':').ok_or(UriError("URI has no scheme"))?;
        if !is_scheme(scheme) {
            return Err(UriError("malformed URI scheme"));
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "sip" => Scheme::Sip,
            "sips" => Scheme::Sips,
            "tel" => Scheme::Tel,
            _ => Scheme::Other(scheme.to_owned()),
        };
        if !matches!(scheme, Scheme::Sip | Scheme::Sips) {
            if rest.is_empty() {
                return Err(UriError("empty URI"));
            }
            return Ok(Uri {
                scheme,
                user: None,
                password: None,
                host: String::new(),
                port: None,
                params: Vec::new(),
                headers: None,
                opaque: rest.to_owned(),
            });
        }
        Self::parse_sip(scheme, rest)
    }

    fn parse_sip(scheme: Scheme, rest: &str) -> Result<Uri, UriError> {
        let (userinfo, hostpart) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                if user.is_empty() || !user.bytes().all(is_user_char) || !valid_escapes(user) {
                    return Err(UriError("malformed user part"));
                }
                if let Some(p) = password
                    && (!p.bytes().all(is_password_char) || !valid_escapes(p))
                {
                    return Err(UriError("malformed password"));
                }
                (Some(user.to_owned()), password.map(str::to_owned))
            }
        };
        let (hostpart, headers) = match hostpart.split_once('?') {
            Some((h, hdrs)) => (h, Some(hdrs.to_owned())),
            None => (hostpart, None),
        };
        let mut pieces = hostpart.split(';');
        let hostport = pieces.next().unwrap_or("");
        let (host, port) = parse_hostport(hostport)?;
        let mut params = Vec::new();
        for p in pieces {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if name.is_empty() || !name.bytes().all(is_param_char) || !valid_escapes(name) {
                return Err(UriError("malformed URI parameter"));
            }
            if let Some(v) = value
                && (v.is_empty() || !v.bytes().all(is_param_char) || !valid_escapes(v))
            {
                return Err(UriError("malformed URI parameter value"));
            }
            params.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        }
        Ok(Uri {
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
            opaque: rest.to_owned(),
        })
    }

    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// A URI parameter's value (`Some(None)` for a flag like `;lr`).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The user part with `%HH` escapes decoded; may contain any byte, including NUL.
    pub fn user_decoded(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(percent_decode)
    }

    /// `user@host` (no port, no parameters): the form used as an address-of-record key.
    pub fn aor(&self) -> String {
        let scheme = match &self.scheme {
            Scheme::Sips => "sips",
            _ => "sip",
        };
        match &self.user {
            Some(u) => format!("{scheme}:{u}@{}", self.host.to_ascii_lowercase()),
            None => format!("{scheme}:{}", self.host.to_ascii_lowercase()),
        }
    }
}

/// Decodes `%HH` escapes; malformed escapes are kept literally.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `host [":" port]` where host is a hostname, an IPv4 address or a bracketed IPv6 reference.
pub(crate) fn parse_hostport(s: &str) -> Result<(String, Option<u16>), UriError> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or(UriError("unterminated IPv6 reference"))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UriError("malformed IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(UriError("junk after IPv6 reference"))?,
            ),
        };
        (format!("[{addr}]"), port)
    } else {
        let (h, p) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let ok = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !h.starts_with(['-', '.']);
        if !ok {
            return Err(UriError("malformed host"));
        }
        (h.to_owned(), p)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UriError("malformed port"));
            }
            Some(
                p.parse::<u16>()
                    .map_err(|_| UriError("port out of range"))?,
            )
        }
    };
    Ok((host, port))
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match &self.scheme {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        };
        if !self.is_sip() {
            return write!(f, "{scheme}:{}", self.opaque);
        }
        write!(f, "{scheme}:")?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for p in &self.params {
            match &p.value {
                Some(v) => write!(f, ";{}={v}", p.name)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sip_uris_with_odd_user_parts() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, "example.com");
        let u = Uri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(u.user_decoded().unwrap(), b"sips:user@example.com");
        let u = Uri::parse("sip:null-%00-null@example.com").unwrap();
        assert_eq!(u.user_decoded().unwrap(), b"null-\0-null");
        let u = Uri::parse("sip:[2001:db8::10]:5070;transport=tcp;lr").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[2001:db8::10]", Some(5070)));
        assert_eq!(u.param("LR"), Some(None));
        assert_eq!(u.param("transport"), Some(Some("tcp")));
    }

    #[test]
    fn unknown_schemes_stay_opaque_and_bad_ones_fail() {
        let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme, Scheme::Other("soap.beep".into()));
        for bad in [
            "<sip:a@b>",
            "sip:a@b c",
            "sip:",
            "sip:a@",
            "sip:a@b:99999",
            "1sip:x",
            "sip:a@b;;x",
            "sip:%zz@b",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "sip:alice:pw@atlanta.com:5061;transport=tls?subject=x",
            "sips:[::1];lr",
            "tel:+4930123",
        ] {
            assert_eq!(Uri::parse(s).unwrap().to_string(), s);
        }
    }
}
