//! `herald serve`: start-up, the call application and persistence.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use herald_sdp::{AnswerPolicy, LocalMedia, SessionDescription, SessionVersion};
use herald_sip::auth::{Algorithm, DigestConfig, Ha1, ServerSecret};
use herald_sip::endpoint::{
    Binding, CallInfo, CallRef, Endpoint, EndpointConfig, Event, FinalStatus, RegistrarSettings,
    UserCredentials,
};
use herald_sip::transaction::TimerConfig;
use herald_store::{CallWrite, NewCall, Store};
use rand::{RngCore, SeedableRng};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use crate::config::{Codec, Config, DigestAlgorithm, Transport as ConfTransport};
use crate::media_ports::PortAllocator;
use crate::router::{Route, Router};
use crate::sip_io::{self, Application, Driver, Inbound, UdpListener};

/// Wall-clock unix milliseconds.
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn run(config: Config) -> anyhow::Result<()> {
    // Several threads: the socket receive tasks must keep draining the kernel buffers while
    // the driver is busy (under a flood of junk, a single thread let the buffer overflow and
    // drop the datagrams of legitimate calls).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    init_tracing();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let url = config.storage.database.as_str();
    let store = Store::connect(url)
        .await
        .with_context(|| format!("opening {}", crate::calls_cmd::redact_url(url)))?;
    let epoch = (Instant::now(), unix_ms());
    let mut endpoint = Endpoint::new(
        endpoint_config(&config)?,
        rand::rngs::StdRng::from_os_rng(),
        epoch,
    );
    restore_bindings(&store, &mut endpoint, epoch.1).await?;

    let (tx, rx) = mpsc::channel::<Inbound>(4096);
    let max = config.sip.max_message_size;
    let udp = bind_listeners(&config, &tx, max).await?;
    let (writer, written) = StoreWriter::spawn(store.clone());
    let app = CallApp::new(&config, writer);
    let driver = Driver::new(endpoint, udp, app, rx, tx, max);
    tracing::info!(listeners = ?config.sip.listen.iter().map(|l| format!("{}:{}", l.transport.as_str(), l.addr)).collect::<Vec<_>>(), "herald is serving");
    driver.run(shutdown_signal()).await?;
    tracing::info!("shutting down");
    // The driver (and with it the writer's sender) is gone: let the writer commit what is
    // queued before the store closes, so no call record is lost on a clean shutdown.
    if tokio::time::timeout(Duration::from_secs(30), written)
        .await
        .is_err()
    {
        tracing::warn!("call records still queued after 30 s; some may be lost");
    }
    store.close().await;
    Ok(())
}

fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Translates the configuration into the endpoint's settings.
fn endpoint_config(config: &Config) -> anyhow::Result<EndpointConfig> {
    let sip = &config.sip;
    let timers = TimerConfig {
        t1: sip.timers.t1,
        t2: sip.timers.t2,
        t4: sip.timers.t4,
    };
    let registrar = if sip.registrar.enabled {
        let r = &sip.registrar;
        let mut secret = [0u8; 32];
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut secret);
        let algorithms = r.algorithms.iter().map(|a| match a {
            DigestAlgorithm::Sha256 => Algorithm::Sha256,
            DigestAlgorithm::Md5 => Algorithm::Md5,
        });
        let mut users = HashMap::new();
        for u in &config.users {
            let md5 = u
                .ha1
                .for_algorithm(DigestAlgorithm::Md5)
                .and_then(|h| Ha1::from_hex(Algorithm::Md5.hash(), h).ok());
            let sha256 = u
                .ha1
                .for_algorithm(DigestAlgorithm::Sha256)
                .and_then(|h| Ha1::from_hex(Algorithm::Sha256.hash(), h).ok());
            users.insert(u.username.clone(), UserCredentials { md5, sha256 });
        }
        Some(RegistrarSettings {
            realm: sip.realm.clone(),
            domain: sip.domain.clone(),
            secret: ServerSecret::new(secret),
            digest: DigestConfig {
                nonce_ttl_secs: r.nonce_ttl.as_secs(),
                algorithms: algorithms.collect(),
                ..DigestConfig::default()
            },
            min_expires: r.min_expires.as_secs() as u32,
            max_expires: r.max_expires.as_secs() as u32,
            default_expires: r.default_expires.as_secs() as u32,
            max_contacts: r.max_contacts as usize,
            users: Arc::new(users),
        })
    } else {
        None
    };
    Ok(EndpointConfig {
        domain: sip.domain.clone(),
        user_agent: sip.user_agent.clone(),
        timers,
        session_expires: sip.session_expires.as_secs() as u32,
        min_se: sip.min_se.as_secs() as u32,
        registrar,
        ..EndpointConfig::default()
    })
}

async fn restore_bindings(
    store: &Store,
    endpoint: &mut Endpoint<rand::rngs::StdRng>,
    now_ms: i64,
) -> anyhow::Result<()> {
    let mut by_aor: HashMap<String, Vec<Binding>> = HashMap::new();
    for b in store.all_bindings(now_ms).await? {
        by_aor
            .entry(b.aor.clone())
            .or_default()
            .push(from_stored(b));
    }
    let count: usize = by_aor.values().map(Vec::len).sum();
    for (aor, bindings) in by_aor {
        endpoint.restore_bindings(&aor, bindings);
    }
    if count > 0 {
        tracing::info!(count, "restored registrations from the store");
    }
    Ok(())
}

fn from_stored(b: herald_store::Binding) -> Binding {
    Binding {
        contact: b.contact_uri,
        expires_at: (b.expires_at / 1000).max(0) as u64,
        call_id: b.call_id,
        cseq: b.cseq,
        q_milli: b.q_milli,
        source: Some(b.source),
        transport: Some(b.transport),
        user_agent: b.user_agent,
        conn: None,
    }
}

/// Binds every configured listener; UDP sockets are returned for the driver to send on.
async fn bind_listeners(
    config: &Config,
    tx: &mpsc::Sender<Inbound>,
    max: usize,
) -> anyhow::Result<Vec<UdpListener>> {
    let mut udp = Vec::new();
    let tls = tls_acceptor(config)?;
    for listen in &config.sip.listen {
        let advertised = SocketAddr::new(config.sip.advertised_ip_for(listen), listen.addr.port());
        let per_peer = listen.addr.ip().is_unspecified() && config.sip.advertised_address.is_none();
        match listen.transport {
            ConfTransport::Udp => {
                let socket = Arc::new(
                    bind_udp(listen.addr)
                        .with_context(|| format!("binding udp:{}", listen.addr))?,
                );
                let advertised = SocketAddr::new(advertised.ip(), socket.local_addr()?.port());
                sip_io::spawn_udp_receiver(udp.len(), socket.clone(), tx.clone(), max);
                udp.push(UdpListener {
                    socket,
                    advertised,
                    per_peer,
                });
            }
            ConfTransport::Tcp | ConfTransport::Tls => {
                let listener = TcpListener::bind(listen.addr).await.with_context(|| {
                    format!("binding {}:{}", listen.transport.as_str(), listen.addr)
                })?;
                let acceptor = if listen.transport == ConfTransport::Tls {
                    tls.clone()
                } else {
                    None
                };
                sip_io::spawn_stream_listener(
                    listener,
                    advertised,
                    per_peer,
                    acceptor,
                    tx.clone(),
                    max,
                );
            }
            ConfTransport::Ws | ConfTransport::Wss => {
                anyhow::bail!(
                    "{}:{}: SIP over WebSocket is not available yet (it arrives with WebRTC support)",
                    listen.transport.as_str(),
                    listen.addr
                )
            }
        }
    }
    Ok(udp)
}

/// SIP UDP sockets get 4 MiB kernel buffers: at thousands of calls per second the default
/// (about 200 KiB) overflows between two drains and the kernel drops datagrams.
const UDP_BUFFER: usize = 4 << 20;

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// A rustls acceptor from the configured certificate and key, when a TLS listener needs one.
fn tls_acceptor(config: &Config) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    let needs = config
        .sip
        .listen
        .iter()
        .any(|l| l.transport == ConfTransport::Tls);
    let (Some(cert), Some(key)) = (&config.sip.tls_certificate, &config.sip.tls_private_key) else {
        return Ok(None);
    };
    if !needs {
        return Ok(None);
    }
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).with_context(|| format!("reading {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("parsing certificates in {}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("reading {}", key.display()))?,
    ))
    .with_context(|| format!("parsing {}", key.display()))?
    .with_context(|| format!("no private key in {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("building the TLS server configuration")?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

/// Store writes, off the signalling path, in order. Call-record writes are drained in
/// batches of up to [`MAX_BATCH`] and committed in one transaction each.
enum StoreOp {
    Call(CallWrite),
    Bindings {
        aor: String,
        bindings: Vec<herald_store::Binding>,
    },
}

const MAX_BATCH: usize = 1024;

/// How long the writer gathers writes before committing them: records trail the calls by at
/// most this much, and a busy server commits a few dozen transactions per second instead of
/// one per call.
const BATCH_WINDOW: Duration = Duration::from_millis(20);

#[derive(Clone)]
struct StoreWriter(mpsc::UnboundedSender<StoreOp>);

impl StoreWriter {
    /// Starts the writer task; the handle completes once every queued write is committed
    /// after the last sender is dropped.
    fn spawn(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<StoreOp>();
        let task = tokio::spawn(async move {
            let mut calls = Vec::with_capacity(MAX_BATCH);
            // Only the newest binding set of an AOR matters.
            let mut registrations: HashMap<String, Vec<herald_store::Binding>> = HashMap::new();
            while let Some(first) = rx.recv().await {
                let window = tokio::time::Instant::now() + BATCH_WINDOW;
                let mut next = Some(first);
                while let Some(op) = next.take() {
                    match op {
                        StoreOp::Call(w) => calls.push(w),
                        StoreOp::Bindings { aor, bindings } => {
                            registrations.insert(aor, bindings);
                        }
                    }
                    if calls.len() + registrations.len() < MAX_BATCH {
                        // Ok(None): every sender is gone (shutdown): commit what we have.
                        next = tokio::time::timeout_at(window, rx.recv())
                            .await
                            .ok()
                            .flatten();
                    }
                }
                flush(&store, &mut calls, &mut registrations).await;
            }
        });
        (Self(tx), task)
    }

    fn call(&self, write: CallWrite) {
        let _ = self.0.send(StoreOp::Call(write));
    }

    fn event(&self, id: &str, at: i64, kind: &str, detail: serde_json::Value) {
        self.call(CallWrite::Event {
            call_id: id.to_owned(),
            at,
            kind: kind.to_owned(),
            detail,
        });
    }

    fn bindings(&self, aor: String, bindings: Vec<herald_store::Binding>) {
        let _ = self.0.send(StoreOp::Bindings { aor, bindings });
    }
}

async fn flush(
    store: &Store,
    calls: &mut Vec<CallWrite>,
    registrations: &mut HashMap<String, Vec<herald_store::Binding>>,
) {
    if !calls.is_empty() {
        let outcome = store.apply_call_writes(calls).await;
        for (_, e) in &outcome.failed {
            tracing::warn!(error = %e, "call record write failed");
        }
        tracing::debug!(target: "herald::records", writes = calls.len(), "call records committed");
        calls.clear();
    }
    if !registrations.is_empty() {
        let sets: Vec<_> = registrations.drain().collect();
        if let Err(e) = store.replace_binding_sets(&sets).await {
            tracing::warn!(error = %e, "saving registrations failed");
        }
    }
}

/// A live call's media placeholder: its RTP socket and SDP session state.
struct LiveCall {
    id: String,
    media: Option<Media>,
    on_hold: bool,
}

/// The negotiated media placeholder: the bound RTP socket and SDP session state.
struct Media {
    _rtp: StdUdpSocket,
    local: LocalMedia,
    version: SessionVersion,
}

/// The call application: placeholder routing, real RTP ports, real SDP offer/answer, and the
/// call record.
struct CallApp {
    router: Router,
    ports: PortAllocator,
    policy: AnswerPolicy,
    writer: StoreWriter,
    calls: HashMap<CallRef, LiveCall>,
    /// Ringing agent calls and when they give up (480).
    ringing: std::collections::BTreeSet<(Instant, CallRef)>,
    rng: rand::rngs::StdRng,
}

/// How long a call for an agent rings before it is answered 480.
const RING_TIMEOUT: Duration = Duration::from_secs(30);

impl CallApp {
    fn new(config: &Config, writer: StoreWriter) -> Self {
        let first = config.sip.listen.first();
        let wildcard = first.is_none_or(|l| l.addr.ip().is_unspecified())
            || config.sip.advertised_address.is_some();
        let bind_ip = match first {
            Some(l) if !wildcard => l.addr.ip(),
            _ => IpAddr::from([0, 0, 0, 0]),
        };
        let codecs = config.media.codecs.iter().map(|c| match c {
            Codec::Pcmu => herald_sdp::Codec::Pcmu,
            Codec::Pcma => herald_sdp::Codec::Pcma,
            Codec::G722 => herald_sdp::Codec::G722,
            Codec::Opus => herald_sdp::Codec::Opus,
        });
        let policy = AnswerPolicy {
            codecs: codecs.collect(),
            default_ptime: config.media.ptime.as_millis() as u32,
            telephone_event: config.media.telephone_event,
            ..AnswerPolicy::default()
        };
        Self {
            router: Router::new(
                &config.sip.domain,
                config.users.iter().map(|u| u.username.clone()),
            ),
            ports: PortAllocator::new(
                bind_ip,
                config.media.rtp_port_min,
                config.media.rtp_port_max,
            ),
            policy,
            writer,
            calls: HashMap::new(),
            ringing: std::collections::BTreeSet::new(),
            rng: rand::rngs::StdRng::from_os_rng(),
        }
    }

    fn incoming(
        &mut self,
        ep: &mut Endpoint<rand::rngs::StdRng>,
        now: Instant,
        call: CallRef,
        info: &CallInfo,
    ) {
        let id = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        let route = self.router.route(info);
        self.writer.call(CallWrite::Insert(Box::new(NewCall {
            id: id.clone(),
            sip_call_id: info.call_id.clone(),
            from_uri: info.from.clone(),
            to_uri: info.to.clone(),
            caller: info.caller_user.clone().unwrap_or_default(),
            callee: info.callee_user.clone().unwrap_or_default(),
            source: info.source,
            transport: info.transport.via_name().to_ascii_lowercase(),
            route: Router::route_name(route).to_owned(),
            started_at: ep.unix_ms(now),
            user_agent: info.user_agent.clone(),
        })));
        if route == Route::Ring {
            ep.ring(now, call, None);
            self.ringing.insert((now + RING_TIMEOUT, call));
            self.pending_end(call, id);
            return;
        }
        if route == Route::NotFound {
            self.writer
                .event(&id, ep.unix_ms(now), "no-route", serde_json::json!({}));
            ep.reject(now, call, FinalStatus::NOT_FOUND);
            self.pending_end(call, id);
            return;
        }
        let Some(rtp) = self.ports.allocate() else {
            tracing::warn!("RTP port range exhausted; rejecting call with 503");
            ep.reject(now, call, FinalStatus::SERVICE_UNAVAILABLE);
            self.pending_end(call, id);
            return;
        };
        let port = rtp.local_addr().map_or(0, |a| a.port());
        let session_id = self.rng.next_u64() >> 1;
        // SDP carries the address the call's signalling reached us on (per peer on a wildcard
        // listener), so media follows the same route.
        let local = LocalMedia::new(info.local.ip(), port, session_id);
        let mut media = Media {
            _rtp: rtp,
            local,
            version: SessionVersion::new(session_id, 1),
        };
        let sdp = match &info.offer {
            Some(offer) => negotiate(offer, &mut media, &self.policy),
            None => Ok(media
                .version
                .stamp(herald_sdp::offer(&media.local, &self.policy))),
        };
        let live = LiveCall {
            id: id.clone(),
            media: Some(media),
            on_hold: false,
        };
        match sdp {
            Ok(sdp) => {
                self.calls.insert(call, live);
                ep.answer(now, call, Bytes::from(sdp.to_string()));
                self.writer.call(CallWrite::Answered {
                    id,
                    at: ep.unix_ms(now),
                });
            }
            Err(status) => {
                self.writer.event(
                    &id,
                    ep.unix_ms(now),
                    "sdp-rejected",
                    serde_json::json!({ "status": status }),
                );
                ep.reject(
                    now,
                    call,
                    FinalStatus::new(status).unwrap_or(FinalStatus::NOT_ACCEPTABLE_HERE),
                );
                self.pending_end(call, id);
            }
        }
    }

    /// Keeps the record id of a call without media until its CallEnded event arrives.
    fn pending_end(&mut self, call: CallRef, id: String) {
        self.calls.insert(
            call,
            LiveCall {
                id,
                media: None,
                on_hold: false,
            },
        );
    }

    fn reoffer(
        &mut self,
        ep: &mut Endpoint<rand::rngs::StdRng>,
        now: Instant,
        call: CallRef,
        offer: Option<Bytes>,
    ) {
        let Some(live) = self.calls.get_mut(&call) else {
            return ep.reject_offer(now, call, FinalStatus::NOT_ACCEPTABLE_HERE);
        };
        let Some(media) = live.media.as_mut() else {
            return ep.reject_offer(now, call, FinalStatus::NOT_ACCEPTABLE_HERE);
        };
        let result = match &offer {
            Some(o) => negotiate(o, media, &self.policy),
            None => Ok(media
                .version
                .stamp(herald_sdp::offer(&media.local, &self.policy))),
        };
        match result {
            Ok(sdp) => {
                let held = offer
                    .as_deref()
                    .and_then(|o| SessionDescription::parse(o).ok())
                    .is_some_and(|o| {
                        herald_sdp::answer(&o, &media.local, &self.policy)
                            .is_ok_and(|a| a.audio.remote_on_hold)
                    });
                if held != live.on_hold {
                    live.on_hold = held;
                    let kind = if held { "hold" } else { "resume" };
                    self.writer
                        .event(&live.id, ep.unix_ms(now), kind, serde_json::json!({}));
                }
                ep.answer_offer(now, call, Bytes::from(sdp.to_string()));
            }
            Err(status) => ep.reject_offer(
                now,
                call,
                FinalStatus::new(status).unwrap_or(FinalStatus::NOT_ACCEPTABLE_HERE),
            ),
        }
    }
}

/// Answers an SDP offer; the error is the SIP status to reject with.
fn negotiate(
    offer: &[u8],
    media: &mut Media,
    policy: &AnswerPolicy,
) -> Result<SessionDescription, u16> {
    let offer = SessionDescription::parse(offer).map_err(|e| e.sip_status())?;
    let answer = herald_sdp::answer(&offer, &media.local, policy).map_err(|e| e.sip_status())?;
    Ok(media.version.stamp(answer.sdp))
}

impl Application for CallApp {
    fn on_event(&mut self, ep: &mut Endpoint<rand::rngs::StdRng>, now: Instant, event: Event) {
        match event {
            Event::IncomingCall { call, info } => self.incoming(ep, now, call, &info),
            Event::CallConfirmed { call } => {
                if let Some(live) = self.calls.get(&call) {
                    self.writer.event(
                        &live.id,
                        ep.unix_ms(now),
                        "confirmed",
                        serde_json::json!({}),
                    );
                }
            }
            Event::CallEnded {
                call,
                cause,
                status,
            } => {
                self.ringing.retain(|(_, c)| *c != call);
                if let Some(live) = self.calls.remove(&call) {
                    self.writer.call(CallWrite::Ended {
                        id: live.id,
                        at: ep.unix_ms(now),
                        cause: cause.as_str().to_owned(),
                        status,
                    });
                }
            }
            Event::Offer { call, offer } => self.reoffer(ep, now, call, offer),
            Event::Info {
                call,
                content_type,
                body: _,
            } => {
                // The body may carry DTMF digits: it is never stored or logged.
                if let Some(live) = self.calls.get(&call) {
                    let detail = serde_json::json!({ "content_type": content_type });
                    self.writer.event(&live.id, ep.unix_ms(now), "info", detail);
                }
            }
            Event::Registration {
                aor,
                bindings,
                source,
                user_agent,
            } => {
                let stored = bindings
                    .into_iter()
                    .map(|b| herald_store::Binding {
                        aor: aor.clone(),
                        contact_uri: b.contact,
                        expires_at: b.expires_at as i64 * 1000,
                        transport: b.transport.unwrap_or_else(|| "udp".into()),
                        source: b.source.unwrap_or(source),
                        user_agent: b.user_agent.or_else(|| user_agent.clone()),
                        call_id: b.call_id,
                        cseq: b.cseq,
                        q_milli: b.q_milli,
                        instance_id: None,
                        reg_id: None,
                    })
                    .collect();
                self.writer.bindings(aor, stored);
            }
            Event::Malformed { source: _, reason } => {
                tracing::debug!(reason, "rejected or dropped a malformed SIP message");
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ringing.first().map(|(at, _)| *at)
    }

    fn handle_timeout(&mut self, ep: &mut Endpoint<rand::rngs::StdRng>, now: Instant) {
        while let Some(&(at, call)) = self.ringing.first() {
            if at > now {
                break;
            }
            self.ringing.pop_first();
            ep.reject(now, call, FinalStatus::TEMPORARILY_UNAVAILABLE);
        }
    }
}
