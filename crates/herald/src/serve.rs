//! `herald serve`: start-up, the call application and persistence.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use herald_sip::auth::{Algorithm, DigestConfig, Ha1, ServerSecret};
use herald_sip::endpoint::{Binding, Endpoint, EndpointConfig, RegistrarSettings, UserCredentials};
use herald_sip::transaction::TimerConfig;
use herald_store::Store;
use rand::{RngCore, SeedableRng};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use herald_ivr::{ScriptLimits, SessionConfig};

use crate::app::{AppNotice, CallApp, IvrSettings};
use crate::config::{Config, DigestAlgorithm, Transport as ConfTransport};
use crate::ivr::dialplans::dialplans_dir;
use crate::ivr::fetch::Fetcher;
use crate::media::MediaEngine;
use crate::media::prompts::{PromptLibrary, prompts_dir};
use crate::media::worker::WorkerConfig;
use crate::recorder::{Recorder, recovery, sweep};
use crate::sip_io::{self, Driver, Inbound, UdpListener};
use crate::store_writer::StoreWriter;

/// Media worker threads: as configured, else one per CPU core.
fn media_workers(config: &Config) -> usize {
    match config.media.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Wall-clock unix milliseconds.
pub fn unix_ms_now() -> i64 {
    unix_ms()
}

/// Wall-clock unix milliseconds.
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Runs the server. `embedded`: the configuration is the embedded default (no `--config`),
/// the one case where a missing recorder key is generated rather than an error.
pub fn run(config: Config, source: Option<&std::path::Path>) -> anyhow::Result<()> {
    // Several threads: the socket receive tasks must keep draining the kernel buffers while
    // the driver is busy (under a flood of junk, a single thread let the buffer overflow and
    // drop the datagrams of legitimate calls).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config, source))
}

async fn serve(config: Config, source: Option<&std::path::Path>) -> anyhow::Result<()> {
    init_tracing();
    let embedded = source.is_none();
    let metrics = crate::metrics::install();
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
    let recorder = start_recorder(&config, &store, embedded).await?;

    let (tx, rx) = mpsc::channel::<Inbound>(4096);
    let max = config.sip.max_message_size;
    let udp = bind_listeners(&config, &tx, max).await?;
    let (writer, written) = StoreWriter::spawn(store.clone());
    let (notice_tx, notices) = mpsc::unbounded_channel();
    let engine = MediaEngine::start(
        media_workers(&config),
        WorkerConfig {
            tick: config.media.tick,
        },
        {
            let notice_tx = notice_tx.clone();
            Arc::new(move |notice| {
                let _ = notice_tx.send(AppNotice::Media(notice));
            })
        },
    )
    .context("starting the media workers")?;
    let prompts_dir = prompts_dir(&config);
    tracing::info!(prompts = %prompts_dir.display(), "prompt library");
    let dialplans = dialplans_dir(&config);
    let dialplan = crate::ivr::dialplans::load(&dialplans).map_err(|errors| {
        anyhow::anyhow!(
            "the dialplans in {} have errors (run `herald check`):\n{}",
            dialplans.display(),
            errors.join("\n")
        )
    })?;
    tracing::info!(dialplans = %dialplans.display(), routes = dialplan.routes().len(), "dialplans");
    let warm: Vec<(String, Option<String>)> = crate::ivr::check_doc::prompts_in_use(&dialplan)
        .into_iter()
        .map(|(name, language)| (name, Some(language)))
        .collect();
    let fetcher = Arc::new(Fetcher::new()?);
    let ivr_settings = IvrSettings {
        session: SessionConfig {
            limits: ScriptLimits {
                memory: config.ivr.script_memory,
                ..ScriptLimits::default()
            },
            max_steps: config.ivr.max_steps,
            timeouts: herald_ivr::Timeouts {
                fetch: config.ivr.fetch_timeout,
                ..herald_ivr::Timeouts::default()
            },
            ..SessionConfig::default()
        },
    };
    let mut app = CallApp::new(
        &config,
        writer,
        engine,
        PromptLibrary::new(prompts_dir),
        dialplan,
        fetcher,
        notice_tx.clone(),
        ivr_settings,
        recorder.clone(),
    );
    app.warm_prompts(&config, &warm);
    let started = crate::compliance::start::start(
        &config,
        (source, recorder.as_ref().map(Recorder::node_key)),
        &store,
        notice_tx.clone(),
        metrics,
    )
    .await?;
    app.index_subjects(started.dsr.subject_key().clone());
    app.start_trunks(
        &mut endpoint,
        std::time::Instant::now(),
        local_addresses(&config, &udp),
    );
    let driver = Driver::new(endpoint, udp, app, rx, tx, notices, max);
    tracing::info!(listeners = ?config.sip.listen.iter().map(|l| format!("{}:{}", l.transport.as_str(), l.addr)).collect::<Vec<_>>(), "herald is serving");
    let app = driver.run(shutdown_signal()).await?;
    tracing::info!("shutting down");
    app.shutdown();
    // The media workers finished every recording as they closed their streams; let the
    // storage tasks commit them.
    if let Some(recorder) = &recorder
        && tokio::time::timeout(Duration::from_secs(30), recorder.drain())
            .await
            .is_err()
    {
        tracing::warn!(
            "recordings still being stored after 30 s; they will be recovered as interrupted at the next start"
        );
    }
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

/// The recorder: recordings a crash left open are closed first, then the sweeper and the key
/// refresher start. `None` when recording is off.
async fn start_recorder(
    config: &Config,
    store: &Store,
    embedded: bool,
) -> anyhow::Result<Option<Recorder>> {
    if !config.recorder.enabled {
        tracing::info!("recording is off (recorder.enabled = false)");
        return Ok(None);
    }
    let recorder = Recorder::open(config, store.clone(), embedded).await?;
    recovery::recover_open(&recorder).await?;
    if let Some(every) = config.recorder.sweep_interval {
        let (sweeper, store) = (recorder.clone(), store.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                match sweep::sweep(&store, sweeper.blobs(), unix_ms(), false).await {
                    Ok(report) if !report.erased.is_empty() => {
                        tracing::info!(erased = report.erased.len(), "retention sweep");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "retention sweep failed"),
                }
            }
        });
    }
    let refresher = recorder.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(KEY_REFRESH);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = refresher.refresh_recipients().await {
                tracing::warn!(error = %format!("{error:#}"), "reloading recorder keys failed");
            }
        }
    });
    Ok(Some(recorder))
}

/// How soon a key added or rotated with `herald keys` is used by a running server.
const KEY_REFRESH: Duration = Duration::from_secs(30);

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
/// Our listeners as outbound requests advertise them: the UDP sockets as bound, the stream
/// listeners as configured.
fn local_addresses(config: &Config, udp: &[UdpListener]) -> Vec<crate::app::LocalAddress> {
    use herald_sip::endpoint::Transport;
    let mut out: Vec<_> = udp
        .iter()
        .map(|l| crate::app::LocalAddress {
            transport: Transport::Udp,
            addr: l.advertised,
            per_peer: l.per_peer,
        })
        .collect();
    for listen in &config.sip.listen {
        let transport = match listen.transport {
            ConfTransport::Tcp => Transport::Tcp,
            ConfTransport::Tls => Transport::Tls,
            _ => continue,
        };
        out.push(crate::app::LocalAddress {
            transport,
            addr: SocketAddr::new(config.sip.advertised_ip_for(listen), listen.addr.port()),
            per_peer: listen.addr.ip().is_unspecified() && config.sip.advertised_address.is_none(),
        });
    }
    out
}

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
    match (&config.sip.tls_certificate, &config.sip.tls_private_key) {
        (Some(cert), Some(key)) if needs => tls_acceptor_from(cert, key).map(Some),
        _ => Ok(None),
    }
}

/// A rustls acceptor for a PEM certificate chain and private key.
pub fn tls_acceptor_from(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
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
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}
