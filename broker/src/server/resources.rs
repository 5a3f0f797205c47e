//! Broker-wide budgets that bound what clients can make the broker hold:
//! request bytes read ahead, response bytes waiting for slow readers,
//! decompression memory of produced batches, and connections per IP.
//!
//! Each memory budget is a semaphore of bytes. Whoever holds memory holds
//! permits for it, released when the permit is dropped, so the accounting
//! can never drift from what is actually held; [`Resources::usage`] reads
//! it for tests and operators.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body_buffers::BodyBuffers;
use crate::config::BrokerConfig;

/// A budget of bytes shared by every connection.
#[derive(Debug)]
pub struct MemoryPool {
    semaphore: Arc<Semaphore>,
    capacity: usize,
}

impl MemoryPool {
    /// A pool of `capacity` bytes (at most what a semaphore can count).
    pub fn new(capacity: usize) -> MemoryPool {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        MemoryPool {
            semaphore: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Bytes held right now.
    pub fn in_use(&self) -> usize {
        self.capacity
            .saturating_sub(self.semaphore.available_permits())
    }

    /// Waits for `bytes` of the pool (a request for more than the whole
    /// pool takes the whole pool, so it can still proceed alone); `None`
    /// once the pool is closed.
    pub async fn acquire(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let wanted = u32::try_from(bytes.min(self.capacity)).unwrap_or(u32::MAX);
        self.semaphore.clone().acquire_many_owned(wanted).await.ok()
    }

    /// [`MemoryPool::acquire`], giving up after `patience`.
    pub async fn acquire_within(
        &self,
        bytes: usize,
        patience: Duration,
    ) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(patience, self.acquire(bytes))
            .await
            .ok()
            .flatten()
    }

    /// [`MemoryPool::acquire_within`] from synchronous code on the blocking
    /// pool (never from a runtime worker, which must not block). Outside a
    /// runtime only what is free right now can be had.
    pub fn acquire_blocking(
        &self,
        bytes: usize,
        patience: Duration,
    ) -> Option<OwnedSemaphorePermit> {
        let wanted = u32::try_from(bytes.min(self.capacity)).unwrap_or(u32::MAX);
        if let Ok(permit) = self.semaphore.clone().try_acquire_many_owned(wanted) {
            return Some(permit);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        runtime.block_on(self.acquire_within(bytes, patience))
    }
}

/// What the broker's budgets hold right now, for tests and monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ResourceUsage {
    /// Request bytes read (or being read) and not yet processed.
    pub request_bytes: usize,
    /// Response bytes built and not yet written to their client.
    pub response_bytes: usize,
    /// Decompression memory reserved by produced batches being checked.
    pub decompression_bytes: usize,
    /// Open client connections.
    pub connections: usize,
    /// Idle buffers kept for large request bodies (not part of
    /// `request_bytes`; at most [`IDLE_BODY_BUFFER_LIMIT_BYTES`](crate::IDLE_BODY_BUFFER_LIMIT_BYTES)).
    pub idle_body_bytes: usize,
}

/// Every broker-wide budget; one per broker state (shared by the nodes of
/// an in-process cluster).
#[derive(Debug)]
pub struct Resources {
    /// `queued.max.request.bytes`.
    pub requests: MemoryPool,
    /// Queued response bytes.
    pub responses: MemoryPool,
    /// Decompression memory of produced batches.
    pub decompression: MemoryPool,
    /// Idle buffers that large request bodies are read into.
    pub bodies: Arc<BodyBuffers>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_ip: usize,
}

impl Resources {
    /// Budgets sized from `config`.
    pub fn new(config: &BrokerConfig) -> Resources {
        Resources {
            // Each pool must fit its largest single claim, or that claim
            // could never be satisfied.
            requests: MemoryPool::new(
                config
                    .queued_max_request_bytes
                    .max(config.socket_request_max_bytes),
            ),
            responses: MemoryPool::new(config.queued_max_response_bytes),
            decompression: MemoryPool::new(
                config
                    .decompression_budget_bytes
                    .max(config.max_decompressed_batch_bytes),
            ),
            bodies: BodyBuffers::new(),
            per_ip: Arc::default(),
            max_per_ip: config.max_connections_per_ip,
        }
    }

    /// Counts a new connection from `ip`, or `None` when that address
    /// already has `max.connections.per.ip` open.
    pub fn admit(&self, ip: IpAddr) -> Option<IpSlot> {
        let mut open = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            ip,
            per_ip: self.per_ip.clone(),
        })
    }

    /// What the budgets hold right now.
    pub fn usage(&self) -> ResourceUsage {
        let open = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        ResourceUsage {
            request_bytes: self.requests.in_use(),
            response_bytes: self.responses.in_use(),
            decompression_bytes: self.decompression.in_use(),
            connections: open.values().sum(),
            idle_body_bytes: self.bodies.idle_bytes(),
        }
    }
}

/// One admitted connection's place in its IP's count, given back on drop.
#[derive(Debug)]
pub struct IpSlot {
    ip: IpAddr,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pools_count_what_is_held() {
        let pool = MemoryPool::new(100);
        let a = pool.acquire(30).await.unwrap();
        assert_eq!(pool.in_use(), 30);
        // More than the pool: the whole pool, once it is free.
        assert!(pool
            .acquire_within(1000, Duration::from_millis(1))
            .await
            .is_none());
        drop(a);
        let all = pool.acquire(1000).await.unwrap();
        assert_eq!(pool.in_use(), 100);
        drop(all);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn connections_per_ip_are_capped_and_given_back() {
        let mut config = BrokerConfig::new("unused".into());
        config.max_connections_per_ip = 2;
        let resources = Resources::new(&config);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let first = resources.admit(ip).unwrap();
        let _second = resources.admit(ip).unwrap();
        assert!(resources.admit(ip).is_none());
        let _elsewhere = resources.admit(other).unwrap();
        assert_eq!(resources.usage().connections, 3);
        drop(first);
        assert!(resources.admit(ip).is_some());
    }
}
