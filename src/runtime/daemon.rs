//! The daemon: builds every part from the configuration, runs them, and
//! drains them on SIGTERM.
//!
//! Start order: metrics recorder, the alarm journal (recovered, its segment
//! open) and the bus forwarder (which connects in the background: a bus
//! outage never delays the start), media workers, routes resolved, the HTTP
//! listener (`/readyz` still 503), then the SIP transports, the call core
//! with the ports they bound, and the SIP driver; then the node reports
//! ready. The SIP listeners open last, so the first datagram finds
//! everything running; the DC-09 sockets (`[dc09]`) open after the SIP
//! driver runs, so a DC-09 alarm always has somewhere to be listed.
//! Stop order on SIGTERM or SIGINT: the DC-09 sockets close (units retry
//! or fail over), not ready, refuse new calls (503), let
//! calls run for `calls.shutdown_grace_s`, hang up what is left, close the transports, stop the bus forwarder (up to 5 s for
//! the batch in flight; the rest is forwarded after the next start).

use super::alarm_leg::AlarmContextShared;
use super::media::{MediaHandle, MediaSettings};
use super::sip_driver::{self, Control};
use super::switchboard_setup;
use super::transport::{self, ListenerSpec, TransportLimits, Transports};
use crate::admission::Admission;
use crate::alarm::classify::Classifier;
use crate::alarm::pipeline::PipelineConfig;
use crate::api::{self, ApiTokens};
use crate::bus;
use crate::call::{CallCore, CoreConfig, DeviceAuth, HoldAudio, TenantPolicy};
use crate::config::{self, Config, HoldKind};
use crate::console::ConsoleConfig;
use crate::journal::{self, Journal, JournalHandle};
use crate::sip::digest::{Algorithm, DigestServer};
use crate::sip::transaction::TimerConfig;
use crate::sip::types::Transport;
use crate::telemetry::{health::Health, http};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// Why the daemon could not run.
#[derive(Debug, Error)]
pub enum RunError {
    /// The HTTP listener failed to start.
    #[error(transparent)]
    Http(#[from] http::HttpError),
    /// A SIP listener failed to start (address in use, bad certificate...).
    #[error("SIP transport: {0}")]
    Transport(#[from] transport::TransportError),
    /// A DC-09 socket failed to open (address in use...).
    #[error("DC-09 listener: {0}")]
    Dc09(std::io::Error),
    /// The alarm journal could not be opened (or recovered).
    #[error("alarm journal: {0}")]
    Journal(#[from] crate::journal::JournalError),
    /// The operator side (registrar, routing plan) could not be set up.
    #[error(transparent)]
    Setup(#[from] switchboard_setup::SetupError),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The DTLS certificate for browser (WebRTC) operator legs.
    #[error(transparent)]
    Dtls(#[from] crate::media::webrtc::IdentityError),
}

/// Runs the daemon until it is told to stop and has drained. `source` is
/// the file the config came from: SIGHUP reloads it (none: the embedded
/// default, nothing to reload).
pub async fn run(config: Config, source: Option<PathBuf>) -> Result<(), RunError> {
    let prometheus = http::install_recorder()?;
    let health = Health::new();
    let specs = listener_specs(&config)?;
    // Everything a call needs comes up before the SIP listeners open: a
    // datagram that arrives finds a running driver, not a queue behind the
    // journal's recovery, DNS or the HTTP bind (issue 9, item 9).
    let journal = open_journal(&config, &health)?;
    let alarm = alarm_context(&config, &journal);
    let forwarder = config
        .bus
        .clone()
        .map(|bus_config| bus::Forwarder::start(bus_config, &config.node.name, journal.clone()));
    let records = start_records(&config, &journal).map(std::sync::Arc::new);
    let report_settings = crate::records::query::SharedSettings::new(
        crate::records::query::Settings::from_config(&config),
    );
    let retention = journal::retention::start(
        &journal,
        config.alarm.retention(),
        forwarder.as_ref().map(bus::Forwarder::acked),
        journal::retention::PASS_EVERY,
    );
    let (control_tx, control_rx) = mpsc::channel(64);
    let (supervision, units) = start_supervision(&config, &journal, &control_tx);
    let planned = core_config(&config, &configured_listeners(&config));
    let mut media_settings = MediaSettings::new(media_bind_ip(&planned));
    media_settings.source = config.media.source_rules();
    media_settings.recorder = super::recording::start(&config, &journal);
    // One certificate per run for browser legs' DTLS: its fingerprint goes
    // into our WebRTC offers, the certificate to the media workers.
    let dtls = crate::media::webrtc::DtlsIdentity::generate()?;
    media_settings.dtls = Some(dtls.clone());
    let sockets = media_settings.sockets.clone();
    let media = MediaHandle::start(media_settings, 2, control_tx.clone(), alarm);
    let routes = resolve_routes(&config).await;
    let callbacks = super::restore::pending_callbacks(&journal).await;
    let (api_tx, api_rx) = mpsc::channel(256);
    let tokens = ApiTokens::from_hashes(config.api_tokens())
        .with_sessions(config.api.session_ttl(), session_entropy());
    let (http_stop_tx, http_stop_rx) = oneshot::channel::<()>();
    let (http_addr, http_serve) = http::bind_with(
        config.http.listen,
        prometheus,
        health.clone(),
        bus::sse::routes(Some(journal.clone()), tokens.clone())
            .merge(api::router(api_tx, tokens.clone()))
            .merge(crate::console::routes(ConsoleConfig::from_config(&config)))
            .merge(api::units::routes(units, tokens.clone()))
            .merge(records_routes(&config, &tokens, &report_settings))
            .merge(api::recordings_router(
                crate::recording::store::Store::new(&config.recording.dir),
                super::recording::journal_sink(&journal, &config.node.name),
                tokens.clone(),
            )),
        async {
            let _ = http_stop_rx.await;
        },
    )
    .await?;
    let http_task = tokio::spawn(http_serve);
    let (events_tx, events_rx) = mpsc::channel(8192);
    let (stored_tx, stored_rx) = mpsc::unbounded_channel();
    let transports =
        Transports::start(&specs, events_tx, TransportLimits::from_config(&config)).await?;
    let bound = transports.local_addrs();
    transports
        .sender()
        .set_tls_peers(super::tls_routes::resolve_off_thread(&config).await?);
    let mut core_settings = core_config(&config, &bound);
    core_settings.dtls_fingerprint = Some(dtls.fingerprint().clone());
    let mut core = CallCore::new(
        core_settings,
        admission(&config),
        device_auth(&config),
        seed(),
    );
    core.set_port_check(Box::new(sockets));
    let mut switchboard =
        switchboard_setup::build_resolved(&config, core, crate::clock::now(), routes)?;
    switchboard.restore_callbacks(crate::clock::now(), crate::clock::wall(), callbacks);
    let cluster = config
        .cluster
        .clone()
        .map(|c| super::cluster::spawn(c, control_tx.clone(), health.clone()));
    let driver = tokio::spawn(sip_driver::run(
        switchboard,
        sip_driver::Inputs {
            transport: events_rx,
            control: control_rx,
            api: api_rx,
            stored: stored_rx,
        },
        sip_driver::Outputs {
            sender: transports.sender(),
            media,
            health: health.clone(),
            call_events: bus::emit::CallEvents::new(Some(journal.clone()), &config.node.name),
            journal: Some(journal.clone()),
            node: Arc::from(config.node.name.as_str()),
            stored: stored_tx,
            cluster,
        },
    ));
    let dc09 = start_dc09(&config, &journal, &control_tx).await?;
    let reloader = tokio::spawn(reload_on_sighup(
        config.clone(),
        source,
        control_tx.clone(),
        tokens,
        RecordsReload {
            settings: report_settings,
            follower: records.clone(),
        },
    ));
    health.set_serving(true);
    for (transport, addr) in &bound {
        tracing::info!(%transport, %addr, "SIP listening");
    }
    tracing::info!(addr = %http_addr, node = %config.node.name, "HTTP listening; ready");
    wait_for_stop_signal().await.map_err(RunError::Signals)?;
    if let Some(dc09) = dc09 {
        dc09.shutdown();
    }
    drain(&health, &control_tx, driver, config.calls.shutdown_grace()).await;
    transports.shutdown().await;
    if let Some(forwarder) = forwarder {
        forwarder.stop(Duration::from_secs(5)).await;
    }
    if let Some(supervision) = supervision {
        supervision.stop().await;
    }
    reloader.abort();
    let _ = reloader.await; // drops its handle on the records follower
    if let Some(records) = records.and_then(|r| std::sync::Arc::try_unwrap(r).ok()) {
        records.stop().await;
    }
    retention.stop();
    let _ = http_stop_tx.send(());
    let _ = http_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// Supervision of silent units, when the dialplan supervises any (a
/// `[tenants.supervision]` or a `[[units]]` entry).
fn start_supervision(
    config: &Config,
    journal: &journal::JournalHandle,
    control: &mpsc::Sender<Control>,
) -> (
    Option<super::supervision::SupervisionTask>,
    Option<super::supervision::UnitsHandle>,
) {
    use super::supervision::{SupervisionTask, Wiring};
    let settings = config.supervision_settings();
    if settings.tenants.is_empty() && settings.units.is_empty() {
        return (None, None);
    }
    let wiring = Wiring {
        journal: journal.clone(),
        control: control.clone(),
        node: Arc::from(config.node.name.as_str()),
    };
    let (task, units) = SupervisionTask::start(settings, wiring);
    (Some(task), Some(units))
}

/// SIGHUP: re-reads `source`; a valid dialplan goes to the SIP driver and
/// the API's tokens, an invalid one is logged problem by problem and the
/// running one stays.
async fn reload_on_sighup(
    mut running: Config,
    source: Option<PathBuf>,
    control: mpsc::Sender<Control>,
    tokens: ApiTokens,
    records: RecordsReload,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return tracing::warn!("cannot listen for SIGHUP: no reloads");
    };
    while hup.recv().await.is_some() {
        let Some(path) = source.as_deref() else {
            tracing::warn!("SIGHUP: running on the embedded default, nothing to reload");
            continue;
        };
        match config::reload(path) {
            Ok(new) => {
                let later = running.restart_needed(&new);
                tracing::info!(path = %path.display(), restart_needed_for = ?later, "SIGHUP: dialplan valid, applying the routing part now");
                tokens.replace(new.api_tokens());
                tokens.set_session_ttl(new.api.session_ttl());
                records.apply(&new);
                running = new.clone();
                // Target and trunk host names: DNS off the SIP driver.
                let resolve = move || switchboard_setup::Reload::resolve(new);
                match tokio::task::spawn_blocking(resolve).await {
                    Ok(reload) => {
                        let _ = control.send(Control::Reload(Box::new(reload))).await;
                    }
                    Err(err) => tracing::error!(%err, "SIGHUP: resolving the routes failed"),
                }
            }
            Err(errors) => {
                metrics::counter!(crate::telemetry::metrics::CONFIG_RELOADS, "result" => "invalid")
                    .increment(1);
                for e in errors.iter() {
                    tracing::error!(problem = %e, "SIGHUP: dialplan refused, the running one stays");
                }
            }
        }
    }
}

/// Not ready, refuse new calls, wait for the calls to end (or the grace to run out).
async fn drain(
    health: &Health,
    control: &mpsc::Sender<Control>,
    driver: tokio::task::JoinHandle<()>,
    grace: Duration,
) {
    tracing::info!(grace_s = grace.as_secs(), "draining: new calls get 503");
    health.set_draining();
    let _ = control.send(Control::Drain { grace }).await;
    // The core hangs up what is left at the end of the grace; BYEs then get up to 32 s.
    if tokio::time::timeout(grace + Duration::from_secs(35), driver)
        .await
        .is_err()
    {
        tracing::warn!("drain did not complete in time; stopping anyway");
    }
}

async fn wait_for_stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}

/// The listeners as configured (port 0 not yet bound): enough to choose
/// the media sockets' address before the SIP listeners open.
fn configured_listeners(config: &Config) -> Vec<(Transport, SocketAddr)> {
    let listen = config.sip.listen.iter();
    listen.map(|l| (l.transport.into(), l.addr)).collect()
}

/// Target and trunk host names, resolved off the runtime's threads (DNS
/// blocks) and before the SIP listeners open.
async fn resolve_routes(config: &Config) -> crate::switchboard::SwitchboardConfig {
    let owned = config.clone();
    let resolve = move || switchboard_setup::switchboard_config(&owned);
    match tokio::task::spawn_blocking(resolve).await {
        Ok(routes) => routes,
        Err(err) => {
            tracing::error!(%err, "resolving the routes failed; resolving inline");
            switchboard_setup::switchboard_config(config)
        }
    }
}

fn listener_specs(config: &Config) -> Result<Vec<ListenerSpec>, RunError> {
    let mut specs = Vec::new();
    for listen in &config.sip.listen {
        let tls = match listen.tls_paths() {
            Some(paths) => Some(transport::load_tls_config(&paths.cert, &paths.key)?),
            None => None,
        };
        specs.push(ListenerSpec {
            transport: listen.transport.into(),
            addr: listen.addr,
            tls,
        });
    }
    Ok(specs)
}

/// The call core's view of the configuration, with the ports actually bound.
pub fn core_config(config: &Config, bound: &[(Transport, SocketAddr)]) -> CoreConfig {
    let advertise = config
        .sip
        .advertise
        .unwrap_or_else(|| default_advertise(bound));
    CoreConfig {
        user_agent: config.sip.user_agent.clone(),
        advertise,
        advertise_v6: bound
            .iter()
            .map(|(_, a)| a.ip())
            .find(|ip| ip.is_ipv6() && !ip.is_unspecified()),
        listeners: bound.to_vec(),
        timers: TimerConfig {
            t1: config.sip.timers.t1(),
            t2: config.sip.timers.t2(),
            t4: config.sip.timers.t4(),
        },
        tenants: config.tenants.iter().map(tenant_policy).collect(),
        answer_delay: config.calls.answer_delay(),
        max_duration: config.calls.max_duration(),
        session_expires: config.calls.session_expires(),
        min_se: config.calls.min_se(),
        rtp_ports: (config.media.rtp_port_min, config.media.rtp_port_max),
        ptime_ms: 20,
        sdp_allow: config.media.sdp_allow.clone(),
        hold: hold_audio(config),
        registrar: config.registrar_active(),
        dtls_fingerprint: None,
    }
}

/// A tenant as the call core routes new calls.
pub fn tenant_policy(tenant: &config::Tenant) -> TenantPolicy {
    TenantPolicy {
        id: tenant.id.as_str().into(),
        dids: tenant
            .dids
            .iter()
            .map(|d| config::normalise_did(d))
            .collect(),
        codecs: tenant.codecs.iter().map(|&c| c.into()).collect(),
    }
}

fn hold_audio(config: &Config) -> HoldAudio {
    match config.media.hold {
        HoldKind::Silence => HoldAudio::Silence,
        HoldKind::Tone => HoldAudio::Tone {
            frequency_hz: config.media.hold_tone.frequency_hz as f32,
            level_dbm0: config.media.hold_tone.level_dbm0 as f32,
            on_ms: config.media.hold_tone.on_ms as u32,
            off_ms: config.media.hold_tone.off_ms as u32,
        },
    }
}

/// Without `sip.advertise`: the first specific listening address, else loopback.
fn default_advertise(bound: &[(Transport, SocketAddr)]) -> IpAddr {
    let specific = bound
        .iter()
        .map(|(_, a)| a.ip())
        .find(|ip| !ip.is_unspecified());
    specific.unwrap_or_else(|| {
        tracing::warn!(
            "sip.advertise is not set and SIP listens on all addresses: advertising 127.0.0.1"
        );
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    })
}

/// RTP sockets bind on the advertised address when it is local, else on all
/// addresses; with any IPv6 listener, on all addresses of both families
/// (a dual-stack `[::]` socket), so IPv6 units get media too.
fn media_bind_ip(core: &CoreConfig) -> IpAddr {
    if core.listeners.iter().any(|(_, a)| a.is_ipv6()) {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else if core.advertise.is_loopback() {
        core.advertise
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// The call-records projection (`[records]`): a database that cannot be
/// opened is logged and the daemon runs without it (calls never depend on it).
fn start_records(
    config: &Config,
    journal: &JournalHandle,
) -> Option<crate::records::follow::Follower> {
    if !config.records.enabled {
        return None;
    }
    let detector = crate::records::frequent::Detector::new(crate::config::frequent_thresholds(
        &config.tenants,
    ));
    let path = config.records_path();
    match crate::records::follow::Follower::start(
        path.clone(),
        journal.clone(),
        &config.node.name,
        detector,
    ) {
        Ok(follower) => {
            tracing::info!(path = %path.display(), "call records: following the journal");
            Some(follower)
        }
        Err(err) => {
            tracing::error!(%err, "call records unavailable; calls are not affected");
            None
        }
    }
}

/// The records' API routes (none when `[records]` is disabled).
fn records_routes(
    config: &Config,
    tokens: &ApiTokens,
    settings: &crate::records::query::SharedSettings,
) -> axum::Router {
    if !config.records.enabled {
        return axum::Router::new();
    }
    crate::records::api::routes(settings.clone(), tokens.clone())
}

/// What a SIGHUP changes in the call records: tenants' time zones,
/// languages and frequent-caller thresholds (`[records]` itself needs a restart).
struct RecordsReload {
    settings: crate::records::query::SharedSettings,
    follower: Option<std::sync::Arc<crate::records::follow::Follower>>,
}

impl RecordsReload {
    fn apply(&self, new: &Config) {
        let mut settings = crate::records::query::Settings::from_config(new);
        settings.path = self.settings.get().path;
        self.settings.replace(settings);
        if let Some(follower) = &self.follower {
            follower.set_thresholds(crate::config::frequent_thresholds(&new.tenants));
        }
    }
}

/// The event journal, whatever else is configured: call events are kept
/// with or without the Contact ID receiver. Readiness follows its health.
fn open_journal(config: &Config, health: &Health) -> Result<JournalHandle, RunError> {
    std::fs::create_dir_all(&config.alarm.journal_dir).map_err(|source| {
        crate::journal::JournalError::Io {
            op: "create directory",
            path: config.alarm.journal_dir.clone(),
            source: std::sync::Arc::new(source),
        }
    })?;
    let journal = Journal::open(config.alarm.journal_config())?;
    health.attach_journal(journal.health_flag());
    tracing::info!(dir = %config.alarm.journal_dir.display(), next_seq = journal.last_durable_seq() + 1, "event journal open");
    Ok(journal)
}

/// The DC-09 receiver's alarm core: units wait 20-30 s for an ACK, so a
/// journal slower than 10 s gets none (the unit repeats); at most 4096
/// messages in flight.
const DC09_CORE: crate::alarm::core::CoreConfig = crate::alarm::core::CoreConfig {
    store_timeout: std::time::Duration::from_secs(10),
    list_technical: false,
    max_pending: 4096,
};

/// The DC-09 sockets, when `[dc09]` is configured. They open after the SIP
/// driver runs, so the first alarm finds somewhere to be listed.
async fn start_dc09(
    config: &Config,
    journal: &JournalHandle,
    control: &mpsc::Sender<Control>,
) -> Result<Option<super::dc09::Dc09Service>, RunError> {
    let Some(dc09) = &config.dc09 else {
        return Ok(None);
    };
    let classifiers = config
        .tenants
        .iter()
        .map(|t| {
            let rules = Classifier::default().with_overrides(t.classify.clone());
            (t.id.clone(), rules)
        })
        .collect();
    let shared = Arc::new(super::dc09::Dc09Shared {
        receiver: std::sync::Mutex::new(crate::dc09::Dc09Receiver::new(dc09.receiver_config())),
        journal: journal.clone(),
        control: control.clone(),
        classifiers,
        node: Arc::from(config.node.name.as_str()),
        core: std::sync::Mutex::new(crate::alarm::core::AlarmCore::new(DC09_CORE)),
        store_timeout: DC09_CORE.store_timeout,
    });
    let service = super::dc09::start(dc09, shared)
        .await
        .map_err(RunError::Dc09)?;
    Ok(Some(service))
}

/// Per-tenant classifiers for the Contact ID receiver, when
/// `alarm.contact_id` is on.
fn alarm_context(config: &Config, journal: &JournalHandle) -> Option<AlarmContextShared> {
    if !config.alarm.contact_id {
        return None;
    }
    let classifiers = config
        .tenants
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                Classifier::default().with_overrides(t.classify.clone()),
            )
        })
        .collect();
    Some(AlarmContextShared {
        journal: journal.clone(),
        classifiers: Arc::new(classifiers),
        config: PipelineConfig::default(),
        settle_technical: config.alarm.settle_technical,
        node: Arc::from(config.node.name.as_str()),
    })
}

fn admission(config: &Config) -> Admission {
    Admission::from_config(config)
}

fn device_auth(config: &Config) -> Option<DeviceAuth> {
    if config.auth.devices.is_empty() {
        return None;
    }
    let devices: HashMap<_, _> = config
        .auth
        .devices
        .iter()
        .map(|d| {
            (
                d.username.clone(),
                (d.ha1_md5.clone(), d.ha1_sha256.clone()),
            )
        })
        .collect();
    let server = DigestServer::new(config.auth.realm.clone(), secret(), config.auth.nonce_ttl());
    let algorithms = config
        .auth
        .challenge_order()
        .into_iter()
        .map(|a| match a {
            config::ChallengeAlgorithm::Sha256 => Algorithm::Sha256,
            config::ChallengeAlgorithm::Md5 => Algorithm::Md5,
        })
        .collect();
    Some(DeviceAuth {
        server,
        devices,
        algorithms,
    })
}

/// 32 random bytes for the nonce key: nonces do not survive a restart, by design.
fn secret() -> [u8; 32] {
    rand::random()
}

fn seed() -> u64 {
    rand::random()
}

/// The operating system's randomness for operator session tokens.
fn session_entropy() -> api::Entropy {
    api::Entropy::new(rand::random::<[u8; 32]>)
}
