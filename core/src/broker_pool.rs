//! Connections to brokers, one per (address, traffic class), made lazily.
//!
//! A slot holds the current connection for its key. A caller that finds
//! the slot empty or its connection poisoned connects anew, after waiting
//! out the reconnect backoff if the last attempt failed or the last
//! connection died; concurrent callers queue on the slot so only one of
//! them dials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::connection::{Connection, ConnectionSettings, Transport};
use crate::error::{Error, Result};
use crate::security::SecurityContext;
use crate::traffic::TrafficClass;
use crate::ClientConfig;

/// How connections are opened.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// `client.id`.
    pub client_id: String,
    /// `receive.message.max.bytes`.
    pub max_frame_bytes: usize,
    /// `socket.connection.setup.timeout.ms`, bounding TCP, TLS, ApiVersions
    /// and each SASL request.
    pub setup_timeout: Duration,
    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    pub reconnect_backoff: (Duration, Duration),
    /// `security.protocol` and the TLS and SASL settings, with the TLS
    /// configuration built (files read) once for every connection.
    pub security: SecurityContext,
}

impl PoolSettings {
    /// The settings of a client config; fails when the `ssl.*` files it
    /// names cannot be read or used.
    pub fn from_config(config: &ClientConfig) -> Result<Self> {
        Ok(PoolSettings {
            client_id: config.client_id.clone(),
            max_frame_bytes: config.receive_message_max_bytes,
            setup_timeout: config.connection_setup_timeout,
            reconnect_backoff: (config.reconnect_backoff, config.reconnect_backoff_max),
            security: SecurityContext::new(&config.security)?,
        })
    }
}

struct SlotState {
    connection: Option<Connection>,
    backoff: Backoff,
    not_before: Option<Instant>,
}

type Slot = Arc<tokio::sync::Mutex<SlotState>>;

/// The connections of one client.
pub struct BrokerPool {
    settings: PoolSettings,
    slots: Mutex<HashMap<(String, TrafficClass), Slot>>,
}

impl std::fmt::Debug for BrokerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerPool")
            .field("settings", &self.settings)
            .finish()
    }
}

impl BrokerPool {
    /// An empty pool.
    pub fn new(settings: PoolSettings) -> Self {
        BrokerPool {
            settings,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The live connection to `address` for `class`, connecting if needed.
    pub async fn connection(&self, address: &str, class: TrafficClass) -> Result<Connection> {
        let slot = self.slot(address, class);
        let mut state = slot.lock().await;
        if let Some(connection) = &state.connection {
            if !connection.is_poisoned() {
                return Ok(connection.clone());
            }
            // The broker may be restarting; do not hammer it.
            state.connection = None;
            let delay = state.backoff.next_delay();
            state.not_before = Some(Instant::now() + delay);
        }
        if let Some(not_before) = state.not_before {
            tokio::time::sleep_until(not_before).await;
        }
        match self.open(address).await {
            Ok(connection) => {
                tracing::debug!(broker = address, ?class, "connected");
                state.backoff.reset();
                state.not_before = None;
                state.connection = Some(connection.clone());
                Ok(connection)
            }
            Err(error) => {
                let delay = state.backoff.next_delay();
                state.not_before = Some(Instant::now() + delay);
                tracing::debug!(broker = address, ?class, %error, ?delay, "connect failed");
                Err(error)
            }
        }
    }

    /// A connection to the first of `candidates` that accepts one.
    pub async fn any_connection(
        &self,
        candidates: &[String],
        class: TrafficClass,
    ) -> Result<Connection> {
        let mut last_error = None;
        for address in candidates {
            match self.connection(address, class).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(Error::Bootstrap {
            servers: candidates.join(","),
            last_error: Arc::new(last_error.unwrap_or(Error::Config {
                property: "bootstrap.servers".to_owned(),
                reason: "no broker address to try".to_owned(),
            })),
        })
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        let slots: Vec<Slot> = self.lock_slots().values().cloned().collect();
        for slot in slots {
            if let Ok(state) = slot.try_lock() {
                if let Some(connection) = &state.connection {
                    connection.close();
                }
            }
        }
    }

    fn slot(&self, address: &str, class: TrafficClass) -> Slot {
        self.lock_slots()
            .entry((address.to_owned(), class))
            .or_insert_with(|| {
                let (initial, max) = self.settings.reconnect_backoff;
                Arc::new(tokio::sync::Mutex::new(SlotState {
                    connection: None,
                    backoff: Backoff::new(initial, max),
                    not_before: None,
                }))
            })
            .clone()
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<(String, TrafficClass), Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn open(&self, address: &str) -> Result<Connection> {
        let security = &self.settings.security;
        let timeout = self.settings.setup_timeout;
        let stream = Transport::connect(address, security, timeout).await?;
        let settings = ConnectionSettings {
            broker: address.to_owned(),
            client_id: Some(self.settings.client_id.clone()),
            max_frame_bytes: self.settings.max_frame_bytes,
        };
        let sasl = security.sasl().cloned();
        Connection::establish_authenticated(stream, settings, timeout, sasl).await
    }
}
