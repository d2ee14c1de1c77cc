//! The SIP transport shell: sockets and the clock around the sans-IO [`Endpoint`].
//!
//! One driver task owns the endpoint. UDP sockets are drained by one receive task each, which
//! batches every datagram that is ready into one channel message (few wake-ups under load);
//! TCP and TLS connections have a reader task (stream framing, size limits) and a writer task.
//! Connections stay open and are reused for responses and for requests to phones that
//! registered over them. Outputs are flushed after every batch of inputs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use herald_sip::endpoint::{ConnId, Endpoint, Event, Incoming, Output, Target, Transport};
use herald_sip::framing::{Frame, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Something that happened on a socket.
pub enum Inbound {
    Datagrams {
        local: usize,
        batch: Vec<(SocketAddr, Vec<u8>)>,
    },
    Stream {
        conn: ConnId,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: Vec<u8>,
    },
    Opened {
        conn: ConnId,
        remote: SocketAddr,
        transport: Transport,
        writer: mpsc::Sender<Bytes>,
    },
    Closed {
        conn: ConnId,
    },
}

/// A bound UDP listener and the address we advertise for it.
pub struct UdpListener {
    pub socket: Arc<UdpSocket>,
    pub advertised: SocketAddr,
    /// Bound to a wildcard address with no configured advertised address: advertise, per
    /// peer, the local address the kernel routes to that peer from.
    pub per_peer: bool,
}

/// The local address the kernel would send from to reach `remote`. A UDP `connect` only
/// looks up the route; no packet is sent.
pub(crate) fn route_source(remote: SocketAddr) -> Option<std::net::IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(remote).ok()?;
    Some(probe.local_addr().ok()?.ip())
}

/// An open stream connection.
struct Conn {
    writer: mpsc::Sender<Bytes>,
    remote: SocketAddr,
    transport: Transport,
}

/// What the driver hands application events to.
pub trait Application {
    /// What other parts of the server (the media workers) report to the application.
    type Notice: Send + 'static;
    fn on_event(&mut self, endpoint: &mut Endpoint<rand::rngs::StdRng>, now: Instant, event: Event);
    fn on_notice(
        &mut self,
        endpoint: &mut Endpoint<rand::rngs::StdRng>,
        now: Instant,
        notice: Self::Notice,
    );
    /// The application's next deadline (e.g. a ring timeout).
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, endpoint: &mut Endpoint<rand::rngs::StdRng>, now: Instant);
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

pub fn next_conn_id() -> ConnId {
    ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed))
}

/// Receives datagrams and forwards them in batches.
pub fn spawn_udp_receiver(
    index: usize,
    socket: Arc<UdpSocket>,
    tx: mpsc::Sender<Inbound>,
    max: usize,
) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; max.max(65_535)];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let mut batch = vec![(from, buf[..n].to_vec())];
            while batch.len() < 64 {
                match socket.try_recv_from(&mut buf) {
                    Ok((n, from)) => batch.push((from, buf[..n].to_vec())),
                    Err(_) => break,
                }
            }
            if tx
                .send(Inbound::Datagrams {
                    local: index,
                    batch,
                })
                .await
                .is_err()
            {
                return;
            }
        }
    });
}

/// Accepts TCP connections; `tls` wraps each in a TLS server session.
pub fn spawn_stream_listener(
    listener: TcpListener,
    advertised: SocketAddr,
    per_peer: bool,
    tls: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<Inbound>,
    max: usize,
) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, remote)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            // On a wildcard listener the accepted socket knows which local address it is.
            let advertised = match stream.local_addr() {
                Ok(local) if per_peer => SocketAddr::new(local.ip(), advertised.port()),
                _ => advertised,
            };
            let tx = tx.clone();
            match tls.clone() {
                None => spawn_connection(stream, remote, advertised, Transport::Tcp, tx, max),
                Some(acceptor) => {
                    tokio::spawn(async move {
                        // A handshake that never completes must not hold resources forever.
                        let accept = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            acceptor.accept(stream),
                        );
                        if let Ok(Ok(tls)) = accept.await {
                            spawn_connection(tls, remote, advertised, Transport::Tls, tx, max);
                        }
                    });
                }
            }
        }
    });
}

/// Runs one stream connection: a reader that frames messages and a writer fed by a channel.
pub fn spawn_connection<S>(
    stream: S,
    remote: SocketAddr,
    local: SocketAddr,
    transport: Transport,
    tx: mpsc::Sender<Inbound>,
    max: usize,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let conn = next_conn_id();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        while let Some(bytes) = wrx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    let pong = wtx.clone();
    tokio::spawn(async move {
        if tx
            .send(Inbound::Opened {
                conn,
                remote,
                transport,
                writer: wtx,
            })
            .await
            .is_err()
        {
            return;
        }
        let mut framer = StreamFramer::new(max);
        let mut buf = vec![0u8; 16 * 1024];
        'read: loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            framer.push(&buf[..n]);
            loop {
                match framer.next_message() {
                    Ok(Some(Frame::Message(bytes))) => {
                        let msg = Inbound::Stream {
                            conn,
                            transport,
                            local,
                            remote,
                            bytes,
                        };
                        if tx.send(msg).await.is_err() {
                            break 'read;
                        }
                    }
                    Ok(Some(Frame::KeepAlivePing)) => {
                        let _ = pong.try_send(Bytes::from_static(b"\r\n"));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(%remote, error = %e, "closing SIP connection after a framing error");
                        break 'read;
                    }
                }
            }
        }
        let _ = tx.send(Inbound::Closed { conn }).await;
    });
}

/// The driver: owns the endpoint and every socket handle it sends on.
pub struct Driver<A: Application> {
    pub endpoint: Endpoint<rand::rngs::StdRng>,
    pub udp: Vec<UdpListener>,
    pub app: A,
    pub inbound: mpsc::Receiver<Inbound>,
    pub inbound_tx: mpsc::Sender<Inbound>,
    pub notices: mpsc::UnboundedReceiver<A::Notice>,
    pub max_message: usize,
    conns: HashMap<ConnId, Conn>,
    /// The newest connection to each remote address, for sending without a ConnId.
    by_remote: HashMap<(Transport, SocketAddr), ConnId>,
    /// Local address toward each peer IP, for per-peer listeners (bounded cache).
    routes: HashMap<std::net::IpAddr, std::net::IpAddr>,
}

impl<A: Application> Driver<A> {
    pub fn new(
        endpoint: Endpoint<rand::rngs::StdRng>,
        udp: Vec<UdpListener>,
        app: A,
        inbound: mpsc::Receiver<Inbound>,
        inbound_tx: mpsc::Sender<Inbound>,
        notices: mpsc::UnboundedReceiver<A::Notice>,
        max_message: usize,
    ) -> Self {
        Self {
            endpoint,
            udp,
            app,
            inbound,
            inbound_tx,
            notices,
            max_message,
            conns: HashMap::new(),
            by_remote: HashMap::new(),
            routes: HashMap::new(),
        }
    }

    /// Runs until `shutdown` resolves; hands the application back for its own shutdown.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<A> {
        tokio::pin!(shutdown);
        // What the application queued before the loop (registrations with trunks) goes now.
        self.flush();
        loop {
            let deadline = [self.endpoint.poll_timeout(), self.app.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let deadline = deadline.map(tokio::time::Instant::from_std);
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(self.app),
                Some(notice) = self.notices.recv() => {
                    let now = Instant::now();
                    guarded("a media notice", || {
                        self.app.on_notice(&mut self.endpoint, now, notice);
                    });
                    while let Ok(more) = self.notices.try_recv() {
                        guarded("a media notice", || {
                            self.app.on_notice(&mut self.endpoint, now, more);
                        });
                    }
                }
                msg = self.inbound.recv() => {
                    let msg = msg.context("inbound channel closed")?;
                    self.handle_inbound(msg);
                    while let Ok(more) = self.inbound.try_recv() {
                        self.handle_inbound(more);
                    }
                }
                () = sleep_until(deadline) => {
                    let now = Instant::now();
                    guarded("a timer", || {
                        self.endpoint.handle_timeout(now);
                        self.app.handle_timeout(&mut self.endpoint, now);
                    });
                }
            }
            self.flush();
        }
    }

    fn handle_inbound(&mut self, msg: Inbound) {
        let now = Instant::now();
        match msg {
            Inbound::Datagrams { local, batch } => {
                let Some((advertised, per_peer)) =
                    self.udp.get(local).map(|l| (l.advertised, l.per_peer))
                else {
                    return;
                };
                for (remote, bytes) in batch {
                    let local = if per_peer {
                        self.local_toward(advertised, remote)
                    } else {
                        advertised
                    };
                    let incoming = Incoming {
                        transport: Transport::Udp,
                        conn: None,
                        local,
                        remote,
                        bytes: &bytes,
                    };
                    guarded("a datagram", || {
                        self.endpoint.handle_incoming(now, incoming)
                    });
                    self.flush();
                }
            }
            Inbound::Stream {
                conn,
                transport,
                local,
                remote,
                bytes,
            } => {
                let incoming = Incoming {
                    transport,
                    conn: Some(conn),
                    local,
                    remote,
                    bytes: &bytes,
                };
                guarded("a stream message", || {
                    self.endpoint.handle_incoming(now, incoming)
                });
            }
            Inbound::Opened {
                conn,
                remote,
                transport,
                writer,
            } => {
                self.by_remote.insert((transport, remote), conn);
                self.conns.insert(
                    conn,
                    Conn {
                        writer,
                        remote,
                        transport,
                    },
                );
            }
            Inbound::Closed { conn } => {
                if let Some(c) = self.conns.remove(&conn)
                    && self.by_remote.get(&(c.transport, c.remote)) == Some(&conn)
                {
                    self.by_remote.remove(&(c.transport, c.remote));
                }
            }
        }
    }

    /// The address to advertise to `remote` on a per-peer listener.
    fn local_toward(&mut self, advertised: SocketAddr, remote: SocketAddr) -> SocketAddr {
        if self.routes.len() > 4096 {
            self.routes.clear();
        }
        let ip = *self
            .routes
            .entry(remote.ip())
            .or_insert_with(|| route_source(remote).unwrap_or(advertised.ip()));
        SocketAddr::new(ip, advertised.port())
    }

    /// Sends what the endpoint produced and hands events to the application.
    fn flush(&mut self) {
        while let Some(out) = self.endpoint.poll_output() {
            match out {
                Output::Transmit { target, bytes } => self.send(target, bytes),
                Output::Event(event) => {
                    guarded("an event", || {
                        self.app.on_event(&mut self.endpoint, Instant::now(), event)
                    });
                }
            }
        }
    }

    fn send(&mut self, target: Target, bytes: Bytes) {
        if target.transport == Transport::Udp {
            let sock = self
                .udp
                .iter()
                .find(|l| l.advertised.is_ipv4() == target.addr.is_ipv4())
                .or(self.udp.first());
            if let Some(l) = sock
                && let Err(e) = l.socket.try_send_to(&bytes, target.addr)
            {
                tracing::debug!(error = %e, "UDP send failed");
            }
            return;
        }
        let conn = target
            .conn
            .filter(|c| self.conns.contains_key(c))
            .or_else(|| {
                self.by_remote
                    .get(&(target.transport, target.addr))
                    .copied()
            });
        match conn.and_then(|c| self.conns.get(&c)) {
            Some(c) => {
                if c.writer.try_send(bytes).is_err() {
                    tracing::debug!("SIP connection writer full or closed; message dropped");
                }
            }
            None if target.transport == Transport::Tcp => self.connect_and_send(target.addr, bytes),
            None => {
                tracing::debug!(transport = ?target.transport, "no connection to send on; message dropped")
            }
        }
    }

    /// RFC 3261 §18.2.2: when the connection is gone, open a new one to the same address.
    fn connect_and_send(&self, addr: SocketAddr, bytes: Bytes) {
        let tx = self.inbound_tx.clone();
        let max = self.max_message;
        let local = self.udp.first().map(|l| l.advertised).unwrap_or(addr);
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(std::time::Duration::from_secs(5), TcpStream::connect(addr))
                    .await
            else {
                return;
            };
            let mut stream = stream;
            let _ = stream.set_nodelay(true);
            if stream.write_all(&bytes).await.is_err() {
                return;
            }
            spawn_connection(stream, addr, local, Transport::Tcp, tx, max);
        });
    }
}

/// Runs `f`, containing a panic: the server logs it and keeps serving every other call
/// instead of losing the whole SIP service. The fuzz targets exist so that this never fires.
fn guarded(what: &str, f: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned());
        tracing::error!(
            panic = message.as_deref().unwrap_or("?"),
            "internal error while handling {what}; continuing"
        );
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_lookup_names_the_local_address_toward_a_peer() {
        let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
        assert_eq!(
            route_source("127.0.0.1:5060".parse().unwrap()),
            Some(loopback)
        );
        assert_eq!(
            route_source("127.0.0.2:5060".parse().unwrap()),
            Some(loopback),
            "the 127/8 route leaves from 127.0.0.1"
        );
    }
}
