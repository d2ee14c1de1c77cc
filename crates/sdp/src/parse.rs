//! The SDP parser: bytes in, [`SessionDescription`] or an [`SdpError`] naming the line out.
//!
//! Liberal where real devices differ (LF-only endings, trailing whitespace, blank lines, a
//! missing `s=` or `t=`, lines in a non-RFC order within a section, malformed known attributes),
//! strict where the input is not SDP at all.

use crate::attribute::Attribute;
use crate::codec::parse_decimal;
use crate::error::{SdpError, SdpErrorKind};
use crate::model::{
    Bandwidth, Connection, Line, MediaDescription, Origin, SessionDescription, Timing,
};

/// Letters RFC 8866 defines only at session level.
const SESSION_ONLY: &str = "vosturzep";

impl SessionDescription {
    /// Parses a session description.
    ///
    /// This is the fuzz entry point: it never panics, whatever the bytes.
    ///
    /// # Errors
    ///
    /// [`SdpError`] with the 1-based line number and the problem when the input is not a
    /// session description; the caller answers 400.
    pub fn parse(input: &[u8]) -> Result<Self, SdpError> {
        let mut lines = numbered_lines(input).filter(|(_, line)| !line.is_empty());
        let (first, line) = lines.next().ok_or(SdpError::new(1, SdpErrorKind::Empty))?;
        check_version(first, line)?;
        let mut builder = Builder::default();
        let mut last = first;
        for (number, line) in lines {
            let (kind, value) = split_line(number, line)?;
            builder
                .line(kind, value)
                .map_err(|kind| SdpError::new(number, kind))?;
            last = number;
        }
        builder.finish().map_err(|kind| SdpError::new(last, kind))
    }
}

/// Lines numbered from 1, without their `\r` and trailing spaces and tabs.
fn numbered_lines(input: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    input
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(index, line)| {
            let end = line
                .iter()
                .rposition(|b| !matches!(b, b'\r' | b' ' | b'\t'))
                .map_or(0, |i| i + 1);
            (index + 1, &line[..end])
        })
}

fn split_line(number: usize, line: &[u8]) -> Result<(char, &str), SdpError> {
    let text =
        std::str::from_utf8(line).map_err(|_| SdpError::new(number, SdpErrorKind::NotUtf8))?;
    match text.as_bytes() {
        [kind, b'=', ..] if kind.is_ascii_lowercase() => Ok((char::from(*kind), &text[2..])),
        _ => Err(SdpError::new(number, SdpErrorKind::NotATypeValueLine)),
    }
}

fn check_version(number: usize, line: &[u8]) -> Result<(), SdpError> {
    match split_line(number, line)? {
        ('v', "0") => Ok(()),
        ('v', other) => Err(SdpError::new(
            number,
            SdpErrorKind::UnsupportedVersion(other.to_owned()),
        )),
        _ => Err(SdpError::new(number, SdpErrorKind::MissingVersionLine)),
    }
}

/// Collects lines into the model; errors carry no line number, the caller adds it.
#[derive(Default)]
struct Builder {
    origin: Option<Origin>,
    session_name: Option<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timing: Vec<Timing>,
    attributes: Vec<Attribute>,
    media: Vec<MediaDescription>,
    extra_lines: Vec<Line>,
}

impl Builder {
    fn line(&mut self, kind: char, value: &str) -> Result<(), SdpErrorKind> {
        if kind == 'm' {
            self.media.push(parse_media(value)?);
            return Ok(());
        }
        match self.media.last_mut() {
            Some(media) => media_line(media, kind, value),
            None => self.session_line(kind, value),
        }
    }

    fn session_line(&mut self, kind: char, value: &str) -> Result<(), SdpErrorKind> {
        match kind {
            'v' => return Err(SdpErrorKind::DuplicateLine('v')),
            'o' => set_once(&mut self.origin, 'o', parse_origin(value)?)?,
            's' => set_once(&mut self.session_name, 's', value.to_owned())?,
            'c' => set_once(&mut self.connection, 'c', parse_connection('c', value)?)?,
            'b' => self.bandwidths.push(parse_bandwidth(value)?),
            't' => self.timing.push(parse_timing(value)?),
            'r' => self.add_repeat(value)?,
            'a' => self.attributes.push(parse_attribute(value)?),
            _ => self.extra_lines.push(Line {
                kind,
                value: value.to_owned(),
            }),
        }
        Ok(())
    }

    fn add_repeat(&mut self, value: &str) -> Result<(), SdpErrorKind> {
        let timing = self
            .timing
            .last_mut()
            .ok_or(SdpErrorKind::RepeatWithoutTiming)?;
        timing.repeats.push(value.to_owned());
        Ok(())
    }

    fn finish(mut self) -> Result<SessionDescription, SdpErrorKind> {
        let origin = self.origin.ok_or(SdpErrorKind::MissingLine('o'))?;
        if self.timing.is_empty() {
            self.timing.push(Timing::default());
        }
        self.extra_lines.sort_by_key(|line| line.slot(false));
        for media in &mut self.media {
            media.extra_lines.sort_by_key(|line| line.slot(true));
        }
        Ok(SessionDescription {
            origin,
            session_name: self.session_name.unwrap_or_else(|| "-".to_owned()),
            connection: self.connection,
            bandwidths: self.bandwidths,
            timing: self.timing,
            attributes: self.attributes,
            media: self.media,
            extra_lines: self.extra_lines,
        })
    }
}

fn media_line(media: &mut MediaDescription, kind: char, value: &str) -> Result<(), SdpErrorKind> {
    match kind {
        'c' => set_once(&mut media.connection, 'c', parse_connection('c', value)?)?,
        'b' => media.bandwidths.push(parse_bandwidth(value)?),
        'a' => media.attributes.push(parse_attribute(value)?),
        _ if SESSION_ONLY.contains(kind) => return Err(SdpErrorKind::NotAllowedInMedia(kind)),
        _ => media.extra_lines.push(Line {
            kind,
            value: value.to_owned(),
        }),
    }
    Ok(())
}

fn set_once<T>(slot: &mut Option<T>, kind: char, value: T) -> Result<(), SdpErrorKind> {
    if slot.is_some() {
        return Err(SdpErrorKind::DuplicateLine(kind));
    }
    *slot = Some(value);
    Ok(())
}

fn invalid(line_type: char, field: &'static str) -> SdpErrorKind {
    SdpErrorKind::InvalidField { line_type, field }
}

fn parse_origin(value: &str) -> Result<Origin, SdpErrorKind> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, id, version, net_type, addr_type, address] = fields[..] else {
        return Err(invalid('o', "field count (expected 6)"));
    };
    Ok(Origin {
        username: username.to_owned(),
        session_id: parse_decimal(id).ok_or(invalid('o', "session id"))?,
        session_version: parse_decimal(version).ok_or(invalid('o', "session version"))?,
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_connection(line_type: char, value: &str) -> Result<Connection, SdpErrorKind> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [net_type, addr_type, address] = fields[..] else {
        return Err(invalid(line_type, "field count (expected 3)"));
    };
    Ok(Connection {
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_bandwidth(value: &str) -> Result<Bandwidth, SdpErrorKind> {
    let (bw_type, amount) = value
        .split_once(':')
        .ok_or(invalid('b', "`<type>:<value>` shape"))?;
    if bw_type.is_empty() || bw_type.contains(char::is_whitespace) {
        return Err(invalid('b', "bandwidth type"));
    }
    let value = parse_decimal(amount.trim()).ok_or(invalid('b', "bandwidth value"))?;
    Ok(Bandwidth {
        bw_type: bw_type.to_owned(),
        value,
    })
}

fn parse_timing(value: &str) -> Result<Timing, SdpErrorKind> {
    let mut fields = value.split_ascii_whitespace();
    let mut time = |name| {
        fields
            .next()
            .and_then(parse_decimal)
            .ok_or(invalid('t', name))
    };
    let (start, stop) = (time("start time")?, time("stop time")?);
    if fields.next().is_some() {
        return Err(invalid('t', "field count (expected 2)"));
    }
    Ok(Timing {
        start,
        stop,
        repeats: Vec::new(),
    })
}

fn parse_attribute(value: &str) -> Result<Attribute, SdpErrorKind> {
    Attribute::parse(value).ok_or(invalid('a', "attribute name"))
}

fn parse_media(value: &str) -> Result<MediaDescription, SdpErrorKind> {
    let mut fields = value.split_ascii_whitespace();
    let media = fields.next().ok_or(invalid('m', "media type"))?;
    let ports = fields.next().ok_or(invalid('m', "port"))?;
    let proto = fields.next().ok_or(invalid('m', "transport protocol"))?;
    let (port, port_count) = match ports.split_once('/') {
        Some((port, count)) => (
            port,
            Some(parse_decimal(count).ok_or(invalid('m', "port count"))?),
        ),
        None => (ports, None),
    };
    Ok(MediaDescription {
        media: media.to_owned(),
        port: parse_decimal(port).ok_or(invalid('m', "port"))?,
        port_count,
        proto: proto.to_owned(),
        formats: fields.map(str::to_owned).collect(),
        connection: None,
        bandwidths: Vec::new(),
        attributes: Vec::new(),
        extra_lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: &str) -> SdpError {
        SessionDescription::parse(input.as_bytes()).expect_err("input is invalid")
    }

    const HEAD: &str = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\n";

    #[test]
    fn errors_name_the_line_and_the_problem() {
        assert_eq!(error(""), SdpError::new(1, SdpErrorKind::Empty));
        assert_eq!(
            error("o=- 1 1 IN IP4 a\n"),
            SdpError::new(1, SdpErrorKind::MissingVersionLine)
        );
        assert_eq!(
            error("v=1\n").kind,
            SdpErrorKind::UnsupportedVersion("1".into())
        );
        let garbage = format!("{HEAD}c=IN IP4 192.0.2.1\nhello world\n");
        assert_eq!(
            error(&garbage),
            SdpError::new(5, SdpErrorKind::NotATypeValueLine)
        );
        let bad_port = format!("{HEAD}m=audio 70000 RTP/AVP 0\n");
        assert_eq!(error(&bad_port), SdpError::new(4, invalid('m', "port")));
        let t_in_media = format!("{HEAD}m=audio 4000 RTP/AVP 0\nt=0 0\n");
        assert_eq!(
            error(&t_in_media),
            SdpError::new(5, SdpErrorKind::NotAllowedInMedia('t'))
        );
        assert_eq!(
            error("v=0\ns=-\nt=0 0\n"),
            SdpError::new(3, SdpErrorKind::MissingLine('o'))
        );
        let two_c = format!("{HEAD}c=IN IP4 a\nc=IN IP4 b\n");
        assert_eq!(
            error(&two_c),
            SdpError::new(5, SdpErrorKind::DuplicateLine('c'))
        );
        let message = error(&format!("{HEAD}o=- 2 2 IN IP4 192.0.2.2\n")).to_string();
        assert_eq!(message, "SDP line 4: duplicate `o=` line");
    }

    #[test]
    fn non_utf8_and_uppercase_types_are_rejected() {
        let mut bytes = HEAD.as_bytes().to_vec();
        bytes.extend_from_slice(b"i=\xff\xfe\n");
        assert_eq!(
            SessionDescription::parse(&bytes),
            Err(SdpError::new(4, SdpErrorKind::NotUtf8))
        );
        assert_eq!(
            error(&format!("{HEAD}A=sendrecv\n")).kind,
            SdpErrorKind::NotATypeValueLine
        );
    }

    #[test]
    fn tolerates_lf_endings_trailing_whitespace_blank_lines_and_missing_s_and_t() {
        let input = "v=0 \r\no=- 7 8 IN IP4 192.0.2.1\t\n\nc=IN IP4 192.0.2.1  \r\n\r\n";
        let sdp = SessionDescription::parse(input.as_bytes()).expect("tolerated");
        assert_eq!((sdp.origin.session_id, sdp.origin.session_version), (7, 8));
        assert_eq!(sdp.session_name, "-");
        assert_eq!(sdp.timing, vec![Timing::default()]);
        assert_eq!(sdp.connection.map(|c| c.address), Some("192.0.2.1".into()));
    }

    #[test]
    fn unknown_lines_keep_their_place_class_and_text() {
        let input = format!(
            "{HEAD}t=0 0\nr=7d 1h 0 25h\nk=prompt\ni=info\nx=experimental 1\nm=audio 4000 RTP/AVP 0\nk=clear:x\ni=voice\n"
        );
        let sdp = SessionDescription::parse(input.as_bytes()).expect("valid");
        let printed = sdp.to_string();
        let expected = "s=-\r\ni=info\r\nt=0 0\r\nr=7d 1h 0 25h\r\nk=prompt\r\nx=experimental 1\r\nm=audio 4000 RTP/AVP 0\r\ni=voice\r\nk=clear:x\r\n";
        assert!(printed.ends_with(expected), "{printed}");
        assert_eq!(SessionDescription::parse(printed.as_bytes()), Ok(sdp));
    }
}
