//! KIP-368 re-authentication: a SASL session that the broker limits is
//! renewed on the same connection before it runs out.
//!
//! Kafka closes a connection whose session has expired as soon as it
//! receives any request other than SaslHandshake, and it must not see
//! other requests in between the re-authentication's own. So every request
//! on an authenticated connection holds a shared guard of the session's
//! gate until its response arrives, and the renewal takes the gate
//! exclusively: it waits for the requests in flight to finish, holds new
//! ones back (tokio's `RwLock` is fair: a waiting writer blocks new
//! readers), runs the SASL exchange again, and lets them go. The renewal is
//! started by the first request that finds the session at 85% of its
//! lifetime (the Java client renews between 85% and 95%).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{RwLock, RwLockReadGuard};
use tokio::time::Instant;

use super::Connection;
use crate::error::Result;
use crate::security::sasl::{self, SaslConfig};

/// The share of a session's lifetime after which it is renewed.
const RENEWAL_SHARE: f64 = 0.85;

/// The SASL session of one connection.
#[derive(Debug)]
pub(super) struct Session {
    config: Arc<SaslConfig>,
    /// Bounds each request of a renewal.
    timeout: Duration,
    gate: RwLock<()>,
    renew_at: Mutex<Option<Instant>>,
    renewals: AtomicU64,
}

impl Session {
    /// A session authenticated at `started` for `lifetime`.
    pub(super) fn new(
        config: Arc<SaslConfig>,
        timeout: Duration,
        started: Instant,
        lifetime: Option<Duration>,
    ) -> Self {
        Session {
            config,
            timeout,
            gate: RwLock::new(()),
            renew_at: Mutex::new(renewal_point(started, lifetime)),
            renewals: AtomicU64::new(0),
        }
    }

    /// When the session is due for renewal (`None`: never).
    pub(super) fn renew_at(&self) -> Option<Instant> {
        *self.renew_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times the session has been renewed.
    pub(super) fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    fn due(&self) -> bool {
        self.renew_at().is_some_and(|at| Instant::now() >= at)
    }

    /// Renews the session first if it is due, then returns the guard the
    /// caller holds until its response has arrived.
    pub(super) async fn admit(&self, connection: &Connection) -> Result<RwLockReadGuard<'_, ()>> {
        if self.due() {
            self.renew(connection).await?;
        }
        Ok(self.gate.read().await)
    }

    async fn renew(&self, connection: &Connection) -> Result<()> {
        let _exclusive = self.gate.write().await;
        // Another request may have renewed it while this one waited.
        if !self.due() {
            return Ok(());
        }
        let started = Instant::now();
        tracing::debug!(broker = connection.broker(), "re-authenticating (KIP-368)");
        match sasl::authenticate(connection, &self.config, self.timeout).await {
            Ok(lifetime) => {
                *self.renew_at.lock().unwrap_or_else(|p| p.into_inner()) =
                    renewal_point(started, lifetime);
                self.renewals.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                // The broker closes the connection after a failed exchange;
                // poison it so every waiting request gets the typed error.
                connection.link.poison(error.clone());
                Err(error)
            }
        }
    }
}

fn renewal_point(started: Instant, lifetime: Option<Duration>) -> Option<Instant> {
    lifetime.map(|lifetime| started + lifetime.mul_f64(RENEWAL_SHARE))
}
