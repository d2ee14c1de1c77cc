//! Setting sessions up and down: a minimal SIP caller for Herald, and rtpengine's ng control
//! protocol (bencoded dictionaries over UDP) for the baseline.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::streams::{Session, Streams};

/// How long a response may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

fn offer_sdp(port: u16, session: usize) -> String {
    format!(
        "v=0\r\no=load {session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n"
    )
}

/// The `c=` address and `m=audio` port of an SDP body.
fn sdp_destination(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))?
        .split(' ')
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

/// A SIP caller on one UDP socket.
pub struct Sip {
    socket: UdpSocket,
    server: SocketAddr,
    local: SocketAddr,
}

impl Sip {
    pub fn new(server: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let local = socket.local_addr()?;
        Ok(Self {
            socket,
            server,
            local,
        })
    }

    fn request(
        &self,
        method: &str,
        i: usize,
        cseq: u32,
        to_tag: Option<&str>,
        body: &str,
    ) -> String {
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let ctype = if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".to_owned()
        };
        format!(
            "{method} sip:load@{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-load-{i}-{method}-{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:load@{local}>;tag=load{i}\r\n\
             To: <sip:load@{server}>{to_tag}\r\nCall-ID: load-{i}-{pid}@127.0.0.1\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:load@{local}>\r\n{ctype}\
             Content-Length: {len}\r\n\r\n{body}",
            server = self.server,
            local = self.local,
            pid = std::process::id(),
            len = body.len(),
        )
    }

    /// Places call `i` and starts its media.
    pub fn call(&mut self, streams: &mut Streams, i: usize) -> Result<Session, String> {
        let (index, port) = streams.add_socket()?;
        let invite = self.request("INVITE", i, 1, None, &offer_sdp(port, i));
        self.socket
            .send_to(invite.as_bytes(), self.server)
            .map_err(|e| e.to_string())?;
        let call_id = format!("load-{i}-{}@127.0.0.1", std::process::id());
        let deadline = Instant::now() + RESPONSE_TIMEOUT;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            if !text.contains(&call_id) || !text.contains("CSeq: 1 INVITE") {
                continue;
            }
            let status = text.split(' ').nth(1).unwrap_or("");
            if status.starts_with('1') {
                continue;
            }
            if status != "200" {
                return Err(format!("INVITE answered {status}"));
            }
            let to_tag = header(&text, "To:")
                .and_then(|to| to.split(";tag=").nth(1))
                .map(|t| t.split([';', '>', '\r']).next().unwrap_or(t).to_owned())
                .ok_or("200 without a To tag")?;
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            let dest = sdp_destination(body).ok_or("200 without a usable SDP answer")?;
            let ack = self.request("ACK", i, 1, Some(&to_tag), "");
            self.socket
                .send_to(ack.as_bytes(), self.server)
                .map_err(|e| e.to_string())?;
            streams.start_sending(index, dest);
            return Ok(Session {
                call_id,
                from_tag: format!("load{i}"),
                to_tag,
                sockets: vec![index],
                number: i,
            });
        }
        Err("no final response to the INVITE".into())
    }

    /// Sends BYE on every call and waits for the 200s; returns how many never came.
    pub fn hang_up_all(&mut self, sessions: &[Session], streams: &mut Streams) -> usize {
        let mut pending = std::collections::HashSet::new();
        for s in sessions {
            for &socket in &s.sockets {
                streams.stop_sending(socket);
            }
            let bye = self.request("BYE", s.number, 2, Some(&s.to_tag), "");
            let _ = self.socket.send_to(bye.as_bytes(), self.server);
            pending.insert(s.call_id.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut buf = vec![0u8; 65536];
        while !pending.is_empty() && Instant::now() < deadline {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            if text.starts_with("SIP/2.0 200")
                && text.contains("CSeq: 2 BYE")
                && let Some(id) = header(&text, "Call-ID:")
            {
                pending.remove(id.trim());
            }
        }
        pending.len()
    }
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

/// rtpengine's ng protocol client.
pub struct Ng {
    socket: UdpSocket,
    server: SocketAddr,
    cookie: u64,
}

impl Ng {
    pub fn new(server: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        Ok(Self {
            socket,
            server,
            cookie: 0,
        })
    }

    fn command(&mut self, pairs: &[(&str, &str)]) -> Result<String, String> {
        self.cookie += 1;
        let cookie = format!("c{}", self.cookie);
        let mut message = format!("{cookie} d");
        for (k, v) in pairs {
            message.push_str(&format!("{}:{}{}:{}", k.len(), k, v.len(), v));
        }
        message.push('e');
        self.socket
            .send_to(message.as_bytes(), self.server)
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = self.socket.recv(&mut buf).map_err(|e| format!("ng: {e}"))?;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if let Some(reply) = text.strip_prefix(&format!("{cookie} ")) {
                if !reply.contains("6:result2:ok") {
                    return Err(format!("ng error: {reply}"));
                }
                return Ok(reply.to_owned());
            }
        }
    }

    /// Sets up session `i`: a caller socket sending through rtpengine to a callee socket.
    pub fn session(&mut self, streams: &mut Streams, i: usize) -> Result<Session, String> {
        let (caller, caller_port) = streams.add_socket()?;
        let (callee, callee_port) = streams.add_socket()?;
        let call_id = format!("load-{i}-{}", std::process::id());
        let (from_tag, to_tag) = (format!("a{i}"), format!("b{i}"));
        let offer = offer_sdp(caller_port, i);
        self.command(&[
            ("command", "offer"),
            ("call-id", &call_id),
            ("from-tag", &from_tag),
            ("sdp", &offer),
        ])?;
        let answer = offer_sdp(callee_port, i);
        let reply = self.command(&[
            ("command", "answer"),
            ("call-id", &call_id),
            ("from-tag", &from_tag),
            ("to-tag", &to_tag),
            ("sdp", &answer),
        ])?;
        let sdp = bencoded_value(&reply, "sdp").ok_or("answer reply without sdp")?;
        let dest = sdp_destination(sdp).ok_or("answer reply without a usable SDP")?;
        streams.start_sending(caller, dest);
        Ok(Session {
            call_id,
            from_tag,
            to_tag,
            sockets: vec![caller, callee],
            number: i,
        })
    }

    /// Deletes every session; returns how many deletes failed.
    pub fn delete_all(&mut self, sessions: &[Session]) -> usize {
        sessions
            .iter()
            .filter(|s| {
                self.command(&[
                    ("command", "delete"),
                    ("call-id", &s.call_id),
                    ("from-tag", &s.from_tag),
                ])
                .is_err()
            })
            .count()
    }
}

/// The string value of `key` in a bencoded dictionary (flat lookup, enough for `sdp`).
fn bencoded_value<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let marker = format!("{}:{}", key.len(), key);
    let rest = &dict[dict.find(&marker)? + marker.len()..];
    let (len, rest) = rest.split_once(':')?;
    rest.get(..len.parse::<usize>().ok()?)
}
