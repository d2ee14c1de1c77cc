//! Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE creates, identified by
//! Call-ID, local tag and remote tag, with the state needed to build and check in-dialog
//! requests: CSeq numbers, the remote target and the route set.
//!
//! ```text
//!            1xx with To tag          2xx
//!   (none) -----------------> Early -------> Confirmed ---BYE/timeout---> Terminated
//!      |                                        ^
//!      +------------------2xx-------------------+
//! ```
//!
//! Both roles are supported: the UAS side for calls Herald answers, the UAC side for the
//! outbound legs a B2BUA places (the route set is reversed for a UAC, §12.1.2).

use crate::message::headers::{CSeq, NameAddr};
use crate::message::{HeaderName, Method, Request, Response};

/// Which side of the dialog Herald is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Uac,
    Uas,
}

/// Dialog lifecycle (see the module diagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// The dialog identifier from Herald's point of view.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

/// Why a dialog could not be created or a request did not fit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The dialog-creating message lacks something a dialog needs (answered 400).
    #[error("{0}")]
    Malformed(&'static str),
    /// A request with a CSeq not above the last one (RFC 3261 §12.2.2: 500).
    #[error("CSeq out of order")]
    CSeqOutOfOrder,
}

impl DialogError {
    /// The SIP status this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            DialogError::Malformed(_) => 400,
            DialogError::CSeqOutOfOrder => 500,
        }
    }
}

/// One dialog.
#[derive(Clone, Debug)]
pub struct Dialog {
    pub id: DialogId,
    pub role: Role,
    pub state: DialogState,
    /// Our From (UAC) or To (UAS) value without the tag parameter.
    pub local_uri: String,
    /// The peer's From (UAS) or To (UAC) value without the tag parameter.
    pub remote_uri: String,
    /// Where in-dialog requests go: the peer's Contact URI.
    pub remote_target: String,
    /// Route set, in the order our requests must carry it.
    pub route_set: Vec<String>,
    pub local_seq: u32,
    pub remote_seq: Option<u32>,
}

/// The value of a From/To header without its `tag` parameter.
fn without_tag(value: &str) -> String {
    match NameAddr::parse(value) {
        Ok(na) => {
            let mut out = match (&na.display, na.bracketed) {
                (Some(d), _) => format!("\"{}\" <{}>", d.replace('"', "\\\""), na.uri),
                (None, _) => format!("<{}>", na.uri),
            };
            for p in na
                .params
                .iter()
                .filter(|p| !p.name.eq_ignore_ascii_case("tag"))
            {
                match &p.value {
                    Some(v) => out.push_str(&format!(";{}={v}", p.name)),
                    None => out.push_str(&format!(";{}", p.name)),
                }
            }
            out
        }
        Err(_) => value.to_owned(),
    }
}

/// The URI of the first Contact of a message.
fn contact_uri(headers: &crate::message::Headers) -> Result<String, DialogError> {
    let contact = headers
        .list(&HeaderName::Contact)
        .next()
        .ok_or(DialogError::Malformed("missing Contact"))?;
    let na = NameAddr::parse(contact).map_err(|e| DialogError::Malformed(e.0))?;
    Ok(na.uri.to_string())
}

/// RFC 3261 requires a Contact in an INVITE, but an RFC 2543 client (recognisable by a Via
/// branch without the magic cookie) may omit it: then the From URI is where requests go
/// (RFC 4475 §3.4.1 asks servers to accept such an INVITE).
fn rfc2543_target(request: &Request, from: &str) -> Option<String> {
    let via = request.headers.list(&HeaderName::Via).next()?;
    let via = crate::message::headers::Via::parse(via).ok()?;
    let modern = via
        .branch()
        .is_some_and(|b| b.starts_with(crate::message::headers::MAGIC_COOKIE));
    if modern {
        return None;
    }
    Some(NameAddr::parse(from).ok()?.uri.to_string())
}

fn tag_of(value: Option<&str>) -> Option<String> {
    NameAddr::parse(value?).ok()?.tag().map(str::to_owned)
}

impl Dialog {
    /// UAS side: the dialog an INVITE creates when we answer it with `local_tag` (§12.1.1).
    pub fn new_uas(request: &Request, local_tag: &str) -> Result<Dialog, DialogError> {
        let h = &request.headers;
        let call_id = h
            .get(&HeaderName::CallId)
            .ok_or(DialogError::Malformed("missing Call-ID"))?;
        let from = h
            .get(&HeaderName::From)
            .ok_or(DialogError::Malformed("missing From"))?;
        let to = h
            .get(&HeaderName::To)
            .ok_or(DialogError::Malformed("missing To"))?;
        let cseq = CSeq::parse(h.get(&HeaderName::CSeq).unwrap_or(""))
            .map_err(|e| DialogError::Malformed(e.0))?;
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: tag_of(Some(from)).unwrap_or_default(),
            },
            role: Role::Uas,
            state: DialogState::Early,
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact_uri(h).or_else(|e| rfc2543_target(request, from).ok_or(e))?,
            route_set: h
                .list(&HeaderName::RecordRoute)
                .map(str::to_owned)
                .collect(),
            local_seq: 0,
            remote_seq: Some(cseq.seq),
        })
    }

    /// UAC side: the dialog a 1xx-with-tag or 2xx response to our INVITE creates (§12.1.2).
    pub fn new_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let rh = &response.headers;
        let call_id = request
            .call_id()
            .ok_or(DialogError::Malformed("missing Call-ID"))?;
        let from = request
            .headers
            .get(&HeaderName::From)
            .ok_or(DialogError::Malformed("missing From"))?;
        let to = rh
            .get(&HeaderName::To)
            .ok_or(DialogError::Malformed("missing To"))?;
        let cseq = CSeq::parse(request.headers.get(&HeaderName::CSeq).unwrap_or(""))
            .map_err(|e| DialogError::Malformed(e.0))?;
        let mut route_set: Vec<String> = rh
            .list(&HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_owned(),
                local_tag: tag_of(Some(from))
                    .ok_or(DialogError::Malformed("our From has no tag"))?,
                remote_tag: tag_of(Some(to))
                    .ok_or(DialogError::Malformed("response To has no tag"))?,
            },
            role: Role::Uac,
            state: if response.status < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local_uri: without_tag(from),
            remote_uri: without_tag(to),
            remote_target: contact_uri(rh)?,
            route_set,
            local_seq: cseq.seq,
            remote_seq: None,
        })
    }

    /// UAC side, before any response: the dialog our INVITE proposes, with no remote tag yet.
    /// Requests in it go to the Request-URI (there is no remote target yet).
    pub fn new_uac_pending(request: &Request) -> Result<Dialog, DialogError> {
        let h = &request.headers;
        let from = h
            .get(&HeaderName::From)
            .ok_or(DialogError::Malformed("missing From"))?;
        let to = h
            .get(&HeaderName::To)
            .ok_or(DialogError::Malformed("missing To"))?;
        let cseq = CSeq::parse(h.get(&HeaderName::CSeq).unwrap_or(""))
            .map_err(|e| DialogError::Malformed(e.0))?;
        Ok(Dialog {
            id: DialogId {
                call_id: request
                    .call_id()
                    .ok_or(DialogError::Malformed("missing Call-ID"))?
                    .to_owned(),
                local_tag: tag_of(Some(from))
                    .ok_or(DialogError::Malformed("our From has no tag"))?,
                remote_tag: String::new(),
            },
            role: Role::Uac,
            state: DialogState::Early,
            local_uri: without_tag(from),
            remote_uri: without_tag(to),
            remote_target: request.uri.clone(),
            route_set: Vec::new(),
            local_seq: cseq.seq,
            remote_seq: None,
        })
    }

    /// UAC side, for a 2xx that must be acknowledged (and then ended) even when it lacks
    /// what a dialog needs: without a usable Contact the requests go to the INVITE's
    /// Request-URI, without a To tag the remote tag stays empty. `None` only if `request`
    /// is not a request we built (no From tag, no CSeq).
    pub fn new_uac_lenient(request: &Request, response: &Response) -> Option<Dialog> {
        if let Ok(d) = Dialog::new_uac(request, response) {
            return Some(d);
        }
        let mut d = Dialog::new_uac_pending(request).ok()?;
        let rh = &response.headers;
        d.id.remote_tag = tag_of(rh.get(&HeaderName::To)).unwrap_or_default();
        if let Some(to) = rh.get(&HeaderName::To) {
            d.remote_uri = without_tag(to);
        }
        if let Ok(target) = contact_uri(rh) {
            d.remote_target = target;
        }
        d.route_set = rh
            .list(&HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        d.route_set.reverse();
        if response.status >= 200 {
            d.state = DialogState::Confirmed;
        }
        Some(d)
    }

    /// Checks and records the CSeq of an in-dialog request from the peer (§12.2.2). ACK and
    /// CANCEL carry the CSeq of the request they belong to and are not checked.
    pub fn accept_remote_cseq(&mut self, cseq: &CSeq) -> Result<(), DialogError> {
        if matches!(cseq.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if self.remote_seq.is_some_and(|last| cseq.seq <= last) {
            return Err(DialogError::CSeqOutOfOrder);
        }
        self.remote_seq = Some(cseq.seq);
        Ok(())
    }

    /// A target refresh (re-INVITE, UPDATE) replaces the remote target with its Contact.
    pub fn refresh_target(&mut self, headers: &crate::message::Headers) {
        if let Ok(uri) = contact_uri(headers) {
            self.remote_target = uri;
        }
    }

    /// Builds an in-dialog request (§12.2.1.1): Request-URI and Route from the remote target
    /// and route set (loose or strict routing), From/To/Call-ID from the dialog, the next
    /// local CSeq (ACK reuses `ack_seq`). The caller adds Via and Contact.
    pub fn request(&mut self, method: Method, ack_seq: Option<u32>) -> Request {
        let seq = match (&method, ack_seq) {
            (Method::Ack | Method::Cancel, Some(seq)) => seq,
            _ => {
                self.local_seq = self.local_seq.wrapping_add(1).max(1);
                self.local_seq
            }
        };
        let (uri, routes) = self.routing();
        let mut r = Request::new(method.clone(), uri);
        for route in routes {
            r.headers.push(HeaderName::Route, route);
        }
        r.headers.push(HeaderName::MaxForwards, "70");
        r.headers.push(
            HeaderName::From,
            format!("{};tag={}", self.local_uri, self.id.local_tag),
        );
        let to = if self.id.remote_tag.is_empty() {
            self.remote_uri.clone()
        } else {
            format!("{};tag={}", self.remote_uri, self.id.remote_tag)
        };
        r.headers.push(HeaderName::To, to);
        r.headers.push(HeaderName::CallId, self.id.call_id.clone());
        r.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        r
    }

    /// (Request-URI, Route values) per §12.2.1.1.
    fn routing(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = NameAddr::parse(first)
            .map(|na| na.uri.param("lr").is_some())
            .unwrap_or(true);
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        let uri = NameAddr::parse(first)
            .map(|na| na.uri.to_string())
            .unwrap_or_else(|_| first.clone());
        let mut routes: Vec<String> = self.route_set[1..].to_vec();
        routes.push(format!("<{}>", self.remote_target));
        (uri, routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Framing, Message, parse_message};

    fn invite() -> Request {
        let m = "INVITE sip:ivr@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK1\r\n\
                 Record-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n\
                 From: \"Alice\" <sip:alice@a.example>;tag=aa\r\nTo: <sip:ivr@10.0.0.1>\r\nCall-ID: c1\r\n\
                 CSeq: 10 INVITE\r\nContact: <sip:alice@10.0.0.2:5070>\r\nContent-Length: 0\r\n\r\n";
        match parse_message(m.as_bytes(), Framing::Datagram) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uas_dialog_routes_bye_through_record_route_in_order() {
        let mut d = Dialog::new_uas(&invite(), "bb").unwrap();
        assert_eq!(
            d.id,
            DialogId {
                call_id: "c1".into(),
                local_tag: "bb".into(),
                remote_tag: "aa".into()
            }
        );
        let bye = d.request(Method::Bye, None);
        assert_eq!(bye.uri, "sip:alice@10.0.0.2:5070");
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(
            routes,
            vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(
            bye.headers.get(&HeaderName::From),
            Some("<sip:ivr@10.0.0.1>;tag=bb")
        );
        assert_eq!(
            bye.headers.get(&HeaderName::To),
            Some("\"Alice\" <sip:alice@a.example>;tag=aa")
        );
        assert_eq!(bye.headers.get(&HeaderName::CSeq), Some("1 BYE"));
    }

    #[test]
    fn contact_is_required_except_from_rfc2543_clients() {
        let mut req = invite();
        req.headers.remove(&HeaderName::Contact);
        assert_eq!(
            Dialog::new_uas(&req, "bb").unwrap_err(),
            DialogError::Malformed("missing Contact")
        );
        req.headers.set(HeaderName::Via, "SIP/2.0/UDP 10.0.0.2");
        assert_eq!(
            Dialog::new_uas(&req, "bb").unwrap().remote_target,
            "sip:alice@a.example"
        );
    }

    #[test]
    fn remote_cseq_must_increase() {
        let mut d = Dialog::new_uas(&invite(), "bb").unwrap();
        let cseq = |seq, method| CSeq { seq, method };
        assert_eq!(
            d.accept_remote_cseq(&cseq(10, Method::Bye)),
            Err(DialogError::CSeqOutOfOrder)
        );
        assert_eq!(d.accept_remote_cseq(&cseq(10, Method::Ack)), Ok(()));
        assert_eq!(d.accept_remote_cseq(&cseq(11, Method::Invite)), Ok(()));
        assert_eq!(
            d.accept_remote_cseq(&cseq(11, Method::Bye))
                .map_err(DialogError::status),
            Err(500)
        );
    }

    #[test]
    fn strict_route_puts_first_hop_in_request_uri() {
        let mut d = Dialog::new_uas(&invite(), "bb").unwrap();
        d.route_set = vec![
            "<sip:strict.example.com>".into(),
            "<sip:p2.example.com;lr>".into(),
        ];
        let bye = d.request(Method::Bye, None);
        assert_eq!(bye.uri, "sip:strict.example.com");
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(
            routes,
            vec!["<sip:p2.example.com;lr>", "<sip:alice@10.0.0.2:5070>"]
        );
    }

    #[test]
    fn uac_dialog_reverses_route_set() {
        let mut req = invite();
        req.headers
            .set(HeaderName::From, "<sip:herald@10.0.0.1>;tag=hh");
        let resp = "SIP/2.0 200 OK\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nTo: <sip:agent@x>;tag=ag\r\n\
                    Contact: <sip:agent@10.0.0.9>\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Response(resp)) = parse_message(resp.as_bytes(), Framing::Datagram) else {
            panic!()
        };
        let d = Dialog::new_uac(&req, &resp).unwrap();
        assert_eq!(d.route_set, vec!["<sip:p2;lr>", "<sip:p1;lr>"]);
        assert_eq!((d.state, d.local_seq), (DialogState::Confirmed, 10));
    }

    #[test]
    fn lenient_uac_dialog_survives_a_2xx_without_contact_or_tag() {
        let mut req = invite();
        req.headers
            .set(HeaderName::From, "<sip:herald@10.0.0.1>;tag=hh");
        let pending = Dialog::new_uac_pending(&req).unwrap();
        assert_eq!(
            (
                pending.id.remote_tag.as_str(),
                pending.remote_target.as_str()
            ),
            ("", "sip:ivr@10.0.0.1")
        );
        let resp = "SIP/2.0 200 OK\r\nRecord-Route: <sip:p1;lr>\r\nTo: <sip:agent@x>\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Response(resp)) = parse_message(resp.as_bytes(), Framing::Datagram) else {
            panic!()
        };
        let mut d = Dialog::new_uac_lenient(&req, &resp).unwrap();
        assert_eq!(d.state, DialogState::Confirmed);
        let bye = d.request(Method::Bye, None);
        assert_eq!(bye.uri, "sip:ivr@10.0.0.1");
        assert_eq!(bye.headers.get(&HeaderName::To), Some("<sip:agent@x>"));
        assert_eq!(bye.headers.get(&HeaderName::CSeq), Some("11 BYE"));
    }
}
