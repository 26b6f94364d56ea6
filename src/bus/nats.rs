//! The JetStream link: one NATS client for the life of the forwarder, the
//! stream created or checked, and publishes that carry the event id.
//!
//! The client is created with `retry_on_initial_connect`: it never fails on
//! an absent server, it (re)connects in the background for ever, and every
//! request made meanwhile times out, which the forwarder treats as any other
//! error (back off, resend from the first unacknowledged record).

use crate::config::{BusConfig, BusStorage};
use async_nats::jetstream::{self, context::PublishAckFuture, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use std::time::Duration;

use super::{EventMeta, SUBJECT_PREFIX};

/// The header carrying the journal seq of a published record.
pub const SEQ_HEADER: &str = "Alarmgate-Journal-Seq";

/// Why the link failed; the `kind` is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The client could not be created (a bad URL).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The configured URL.
        url: String,
        /// The client's explanation.
        reason: String,
    },
    /// The stream could not be created, read or updated.
    #[error("stream {stream}: {reason}")]
    Stream {
        /// The stream name.
        stream: String,
        /// The server's or client's explanation.
        reason: String,
    },
    /// A publish could not be sent.
    #[error("publish: {0}")]
    Publish(String),
    /// No ack within `ack_timeout_ms`.
    #[error("no ack within the ack timeout")]
    AckTimeout,
    /// The server refused the publish.
    #[error("publish refused: {0}")]
    Ack(String),
}

impl LinkError {
    /// The `kind` label of [`crate::telemetry::metrics::BUS_ERRORS`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect",
            Self::Stream { .. } => "stream",
            Self::Publish(_) => "publish",
            Self::AckTimeout => "ack_timeout",
            Self::Ack(_) => "ack",
        }
    }
}

/// What the server said about one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// The stream sequence it has (the earlier one for a duplicate).
    pub stream_seq: u64,
    /// True when the server already had this id.
    pub duplicate: bool,
}

/// A connected (or connecting) client and its JetStream context.
#[derive(Clone)]
pub struct Link {
    js: jetstream::Context,
    ack_timeout: Duration,
}

impl Link {
    /// Creates the client; it connects in the background.
    pub async fn connect(cfg: &BusConfig, node: &str) -> Result<Self, LinkError> {
        let options = async_nats::ConnectOptions::new()
            .name(format!("alarmgate/{node}"))
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .max_reconnects(None);
        let client = options
            .connect(cfg.url.as_str())
            .await
            .map_err(|e| LinkError::Connect {
                url: cfg.url.clone(),
                reason: e.to_string(),
            })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(cfg.ack_timeout())
            .ack_timeout(cfg.ack_timeout())
            .max_ack_inflight(cfg.max_inflight as usize * 2)
            .build(client);
        Ok(Self {
            js,
            ack_timeout: cfg.ack_timeout(),
        })
    }

    /// Creates the stream when missing; when present, makes sure it takes our
    /// subjects and has the configured duplicate window (updating it if not)
    /// and warns when its storage or replicas differ from the config (those
    /// cannot be changed in place).
    pub async fn ensure_stream(&self, cfg: &BusConfig) -> Result<(), LinkError> {
        let err = |reason: String| LinkError::Stream {
            stream: cfg.stream.clone(),
            reason,
        };
        let wanted = stream_config(cfg);
        let stream = self
            .js
            .get_or_create_stream(wanted.clone())
            .await
            .map_err(|e| err(e.to_string()))?;
        let have = stream.cached_info().config.clone();
        let filter = format!("{SUBJECT_PREFIX}.>");
        let covered = have.subjects.iter().any(|s| s == &filter);
        if !covered || have.duplicate_window != wanted.duplicate_window {
            let mut update = have.clone();
            if !covered {
                update.subjects.push(filter);
            }
            update.duplicate_window = wanted.duplicate_window;
            tracing::warn!(stream = %cfg.stream, "bus stream differs from the config: updating subjects and duplicate window");
            self.js
                .update_stream(update)
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        if have.storage != wanted.storage || have.num_replicas != wanted.num_replicas {
            tracing::warn!(
                stream = %cfg.stream,
                storage = ?have.storage,
                replicas = have.num_replicas,
                "bus stream storage or replicas differ from the config; they are kept as they are"
            );
        }
        Ok(())
    }

    /// Sends one record; the returned future resolves with the server's ack.
    pub async fn publish(
        &self,
        meta: &EventMeta,
        seq: u64,
        payload: Vec<u8>,
    ) -> Result<PendingAck, LinkError> {
        let mut headers = HeaderMap::new();
        headers.insert(SEQ_HEADER, seq.to_string().as_str());
        let message = jetstream::message::PublishMessage::build()
            .payload(Bytes::from(payload))
            .headers(headers)
            .message_id(&meta.id);
        let send = self.js.send_publish(meta.subject(), message);
        match tokio::time::timeout(self.ack_timeout, send).await {
            Ok(Ok(future)) => Ok(PendingAck(future)),
            Ok(Err(e)) => Err(LinkError::Publish(e.to_string())),
            Err(_) => Err(LinkError::AckTimeout),
        }
    }
}

/// A publish sent, its ack not yet read.
pub struct PendingAck(PublishAckFuture);

impl PendingAck {
    /// Waits for the ack (bounded by the context's ack timeout).
    pub async fn wait(self) -> Result<Acked, LinkError> {
        use async_nats::jetstream::context::PublishErrorKind;
        match self.0.await {
            Ok(ack) => Ok(Acked {
                stream_seq: ack.sequence,
                duplicate: ack.duplicate,
            }),
            Err(e) if e.kind() == PublishErrorKind::TimedOut => Err(LinkError::AckTimeout),
            Err(e) => Err(LinkError::Ack(e.to_string())),
        }
    }
}

/// The stream as the config wants it.
pub fn stream_config(cfg: &BusConfig) -> stream::Config {
    stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{SUBJECT_PREFIX}.>")],
        storage: match cfg.storage {
            BusStorage::File => stream::StorageType::File,
            BusStorage::Memory => stream::StorageType::Memory,
        },
        num_replicas: cfg.replicas as usize,
        duplicate_window: cfg.duplicate_window(),
        ..Default::default()
    }
}
