//! [`parse_info`]: the DTMF key in a SIP INFO body.

use std::time::Duration;

use super::{Digit, DtmfError};

/// The key a SIP INFO carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// The key.
    pub digit: Digit,
    /// The `Duration` of an `application/dtmf-relay` body, when present.
    pub duration: Option<Duration>,
}

/// Reads the DTMF key of a SIP INFO from its `Content-Type` value and body.
///
/// Two body types are read (neither is standardised, both are common):
///
/// - `application/dtmf-relay`, as AudioCodes, Polycom, Cisco and most PBXs send it: lines of
///   `key=value`, with `Signal` (the key, as a character or an event code) and optionally
///   `Duration` (milliseconds):
///
///   ```text
///   Signal=5
///   Duration=160
///   ```
///
///   Keys are case-insensitive, spaces around keys and values are ignored, lines end in CRLF
///   or LF, unknown keys are ignored.
/// - `application/dtmf`: the body is the key alone, as a character (`5`, `*`) or an RFC 4733
///   event code (`10` for `*`).
///
/// The content type is compared without case and without parameters (`;charset=...`). The
/// RFC 6086 Info-Package framework (`Info-Package:` header) is the SIP layer's business; this
/// function only reads the body.
pub fn parse_info(content_type: &str, body: &[u8]) -> Result<InfoDigit, DtmfError> {
    let kind = content_type.split(';').next().unwrap_or_default().trim();
    let text = std::str::from_utf8(body).map_err(|_| DtmfError::BodyNotText)?;
    if kind.eq_ignore_ascii_case("application/dtmf-relay") {
        parse_relay(text)
    } else if kind.eq_ignore_ascii_case("application/dtmf") {
        Ok(InfoDigit {
            digit: parse_signal(text)?,
            duration: None,
        })
    } else {
        Err(DtmfError::UnsupportedContentType)
    }
}

/// Reads an `application/dtmf-relay` body.
fn parse_relay(text: &str) -> Result<InfoDigit, DtmfError> {
    let mut digit = None;
    let mut duration = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or(DtmfError::MalformedLine { line: index + 1 })?;
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("signal") {
            if digit.is_some() {
                return Err(DtmfError::DuplicateSignal);
            }
            digit = Some(parse_signal(value)?);
        } else if key.eq_ignore_ascii_case("duration") {
            let ms = value
                .parse::<u64>()
                .map_err(|_| DtmfError::InvalidDuration)?;
            duration = Some(Duration::from_millis(ms));
        }
    }
    let digit = digit.ok_or(DtmfError::MissingSignal)?;
    Ok(InfoDigit { digit, duration })
}

/// Reads a key written as one character or as an event code (0-15).
fn parse_signal(value: &str) -> Result<Digit, DtmfError> {
    let value = value.trim();
    let mut chars = value.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Digit::from_char(c).ok_or(DtmfError::NotADigit);
    }
    value
        .parse::<u8>()
        .ok()
        .and_then(Digit::from_event_code)
        .ok_or(DtmfError::NotADigit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(content_type: &str, body: &str) -> Result<(char, Option<u64>), DtmfError> {
        parse_info(content_type, body.as_bytes()).map(|i| {
            let ms = i.duration.map(|d| d.as_millis() as u64);
            (i.digit.as_char(), ms)
        })
    }

    #[test]
    fn reads_dtmf_relay_as_phones_send_it() {
        let relay = "application/dtmf-relay";
        assert_eq!(
            key(relay, "Signal=5\r\nDuration=160\r\n"),
            Ok(('5', Some(160)))
        );
        assert_eq!(
            key(relay, "Signal= *\r\nDuration= 250\r\n"),
            Ok(('*', Some(250)))
        );
        assert_eq!(key(relay, "signal=#\nduration=100\n"), Ok(('#', Some(100))));
        assert_eq!(key(relay, "Signal=d"), Ok(('D', None)));
        assert_eq!(key(relay, "Signal=11\r\n"), Ok(('#', None)));
        assert_eq!(
            key(relay, "\r\nMode=x\r\nSIGNAL = 0 \r\n\r\n"),
            Ok(('0', None))
        );
        assert_eq!(
            key("Application/DTMF-Relay; charset=utf-8", "Signal=9"),
            Ok(('9', None))
        );
    }

    #[test]
    fn reads_application_dtmf() {
        assert_eq!(key("application/dtmf", "5"), Ok(('5', None)));
        assert_eq!(key("application/dtmf", "5\r\n"), Ok(('5', None)));
        assert_eq!(key("application/dtmf", "10"), Ok(('*', None)));
        assert_eq!(key("application/dtmf", "#"), Ok(('#', None)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let relay = "application/dtmf-relay";
        assert_eq!(
            key("text/plain", "Signal=5"),
            Err(DtmfError::UnsupportedContentType)
        );
        assert_eq!(key(relay, "Duration=160"), Err(DtmfError::MissingSignal));
        assert_eq!(key(relay, ""), Err(DtmfError::MissingSignal));
        assert_eq!(
            key(relay, "Signal=5\nSignal=6"),
            Err(DtmfError::DuplicateSignal)
        );
        assert_eq!(key(relay, "Signal=E"), Err(DtmfError::NotADigit));
        assert_eq!(key(relay, "Signal=16"), Err(DtmfError::NotADigit));
        assert_eq!(key(relay, "Signal=55"), Err(DtmfError::NotADigit));
        assert_eq!(key(relay, "Signal="), Err(DtmfError::NotADigit));
        assert_eq!(
            key(relay, "Signal=5\nDuration=-1"),
            Err(DtmfError::InvalidDuration)
        );
        assert_eq!(
            key(relay, "Signal=5\nhello"),
            Err(DtmfError::MalformedLine { line: 2 })
        );
        assert_eq!(key("application/dtmf", ""), Err(DtmfError::NotADigit));
        assert_eq!(
            parse_info("application/dtmf", &[0xff, 0x35]),
            Err(DtmfError::BodyNotText)
        );
        assert_eq!(DtmfError::UnsupportedContentType.sip_status(), Some(415));
        assert_eq!(DtmfError::MissingSignal.sip_status(), Some(400));
    }

    #[test]
    fn errors_never_quote_the_body() {
        let err = parse_info("application/dtmf-relay", b"Signal=7\nDuration=x7").unwrap_err();
        assert!(!err.to_string().contains('7'), "{err}");
    }

    proptest! {
        #[test]
        fn never_panics(ct in "[a-zA-Z/;= -]{0,30}", body: Vec<u8>) {
            let _ = parse_info(&ct, &body);
            let _ = parse_info("application/dtmf-relay", &body);
            let _ = parse_info("application/dtmf", &body);
        }
    }
}
