//! A running broker: its address, identity, and a clean shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::{JoinHandle, JoinSet};

use crate::broker::BrokerError;
use crate::catalog::write_durably;
use crate::config::NodeIdentity;
use crate::server::resources::ResourceUsage;
use crate::server::shutdown::ShutdownTrigger;
use crate::state::BrokerState;

/// A running broker. Dropping it signals shutdown without waiting; call
/// [`BrokerHandle::shutdown`] for a clean stop.
#[derive(Debug)]
pub struct BrokerHandle {
    pub(crate) state: Arc<BrokerState>,
    pub(crate) local_addr: SocketAddr,
    /// Every listener's name and bound address, the primary first.
    pub(crate) listeners: Vec<(String, SocketAddr)>,
    /// Where `GET /metrics` is served, when asked for.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// The metrics responder, stopped by the shutdown signal.
    pub(crate) metrics: Option<JoinHandle<()>>,
    pub(crate) trigger: ShutdownTrigger,
    pub(crate) server: Option<JoinHandle<JoinSet<()>>>,
    pub(crate) maintenance: Option<JoinHandle<()>>,
    pub(crate) clean_marker: PathBuf,
    /// The data directory's lock, released when the handle goes (declared
    /// before `temp_dir` so it is dropped first).
    pub(crate) _data_lock: crate::data_lock::DataDirLock,
    /// Keeps the temporary directory alive as long as the broker.
    pub(crate) temp_dir: Option<tempfile::TempDir>,
}

impl BrokerHandle {
    /// `host:port` for `bootstrap.servers` (the advertised address).
    pub fn bootstrap(&self) -> String {
        let node = self.state.node();
        if node.host.contains(':') {
            format!("[{}]:{}", node.host, node.port)
        } else {
            format!("{}:{}", node.host, node.port)
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound address of the listener `name` (`PLAINTEXT`, `SASL_SSL`, …).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, address)| *address)
    }

    /// Every listener's name and bound address, the primary first.
    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// The address the Prometheus metrics endpoint is bound to, if
    /// [`crate::BrokerBuilder::metrics_listen`] asked for one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The node id, cluster id and advertised address of this broker.
    pub fn node(&self) -> &NodeIdentity {
        self.state.node()
    }

    /// The directory holding this broker's data.
    pub fn data_dir(&self) -> &Path {
        &self.state.config().data_dir
    }

    /// What the broker's memory and connection budgets hold right now
    /// (request bytes read ahead, queued response bytes, decompression
    /// memory, open connections).
    pub fn resource_usage(&self) -> ResourceUsage {
        self.state.resources().usage()
    }

    /// Whether the data directory is temporary (deleted when the broker goes away).
    pub fn is_temporary(&self) -> bool {
        self.temp_dir.is_some()
    }

    /// Installs a fresh set of storage faults in this broker's logs (and
    /// committed-offset writes) and returns it, so a test can make the disk
    /// fail with ENOSPC or EIO at chosen points. Every point starts disarmed.
    #[cfg(feature = "testing")]
    pub fn storage_faults(&self) -> Arc<crate::StorageFaults> {
        let faults = crate::StorageFaults::new();
        self.state.logs().set_faults(faults.clone());
        self.state
            .groups()
            .set_faults(crate::storage::Faults::installed(faults.clone()));
        faults
    }

    /// Runs the log cleaner now over every partition whose `cleanup.policy`
    /// includes `compact`, as the broker's maintenance task does every
    /// 15 seconds (a hook
    /// for tests and tools that cannot wait for it). Returns the partitions
    /// cleaned and what each pass did; a partition that fails is logged and
    /// skipped, as in the background pass.
    pub async fn run_log_cleaner(
        &self,
    ) -> Result<Vec<crate::CleanedPartition>, crate::StorageError> {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || {
            state
                .logs()
                .clean_all(crate::clock::now_ms(), &crate::CleanerConfig::default())
        })
        .await
        .unwrap_or_else(|e| {
            Err(crate::StorageError::InvalidConfig(format!(
                "the log cleaner task failed: {e}"
            )))
        })
    }

    /// Writes a transaction marker into `topic`-`partition` as the
    /// transaction coordinator would (WriteTxnMarkers), so a test can end
    /// transactions it wrote itself. Returns the marker's offset, or the
    /// partition's error (NOT_LEADER_OR_FOLLOWER, INVALID_PRODUCER_EPOCH, ...).
    #[cfg(feature = "testing")]
    pub async fn write_txn_marker(
        &self,
        topic: &str,
        partition: i32,
        marker: crate::TxnMarker,
    ) -> Result<i64, kafka_protocol::ResponseError> {
        self.state
            .data_context()
            .write_txn_marker(topic, partition, self.state.node().node_id, marker)
            .await
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace
    /// period), flushes the logs and group state, and marks the data
    /// directory as cleanly shut down.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        self.trigger.trigger();
        let connections = match self.server.take() {
            Some(server) => server.await.ok(),
            None => None,
        };
        // The metrics port is released before shutdown returns.
        if let Some(metrics) = self.metrics.take() {
            let _ = metrics.await;
        }
        // Parked JoinGroup/SyncGroup requests are answered now (NOT_COORDINATOR)
        // instead of holding their connections for the whole grace period.
        self.state.groups().shutdown().await;
        if let Some(connections) = connections {
            drain_connections(connections, self.state.config().shutdown_grace).await;
        }
        close_storage(&self.state, self.maintenance.take(), &self.clean_marker).await
    }
}

/// Lets connections finish their requests for up to `grace`, then closes them.
pub(crate) async fn drain_connections(mut connections: JoinSet<()>, grace: std::time::Duration) {
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "connections still busy after the grace period; closing them"
        );
        connections.shutdown().await;
    }
}

/// The end of every shutdown: waits for the maintenance task, closes the
/// logs (flush + checkpoints) and marks the data directory clean.
pub(crate) async fn close_storage(
    state: &BrokerState,
    maintenance: Option<JoinHandle<()>>,
    clean_marker: &Path,
) -> Result<(), BrokerError> {
    if let Some(maintenance) = maintenance {
        let _ = maintenance.await;
    }
    state.logs().close_all()?;
    if let Err(e) = state.transactions().sync() {
        tracing::error!(error = %e, "syncing the transaction log at shutdown failed");
    }
    write_durably(
        &clean_marker.with_extension("tmp"),
        clean_marker,
        b"clean\n",
    )?;
    tracing::info!("broker stopped");
    Ok(())
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}
