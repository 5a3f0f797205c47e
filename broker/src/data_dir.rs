//! The data directory: its sub-directories, the clean-shutdown marker and
//! the node identity kept in it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::broker::BrokerError;
use crate::catalog::write_durably;
use crate::config::{split_host_port, BrokerConfig, NodeIdentity};

/// The directories under the data dir.
pub(crate) struct DataDirs {
    pub(crate) logs: PathBuf,
    pub(crate) groups: PathBuf,
    pub(crate) meta: PathBuf,
    pub(crate) topics: PathBuf,
    pub(crate) clean_marker: PathBuf,
}

impl DataDirs {
    pub(crate) fn prepare(root: &Path) -> Result<DataDirs, BrokerError> {
        let meta = root.join("meta");
        let dirs = DataDirs {
            logs: root.join("logs"),
            groups: root.join("groups"),
            topics: meta.join("topics"),
            clean_marker: meta.join("clean_shutdown"),
            meta,
        };
        // A data dir that has been used before always holds a cluster id.
        let used_before = dirs.meta.join("cluster_id").exists();
        for dir in [&dirs.logs, &dirs.groups, &dirs.meta, &dirs.topics] {
            std::fs::create_dir_all(dir).map_err(|source| BrokerError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        match std::fs::remove_file(&dirs.clean_marker) {
            Ok(()) => tracing::debug!("previous shutdown was clean"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && used_before => {
                tracing::warn!(data_dir = %root.display(),
                    "the previous run did not shut down cleanly; logs are recovered")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!(data_dir = %root.display(), "new data directory")
            }
            Err(source) => {
                return Err(BrokerError::DataDir {
                    path: dirs.clean_marker.clone(),
                    source,
                })
            }
        }
        Ok(dirs)
    }
}

/// Works out the identity clients see: advertised address and cluster id
/// (kept in `meta/cluster_id` so it survives restarts).
pub(crate) fn node_identity(
    config: &BrokerConfig,
    bound: SocketAddr,
    dirs: &DataDirs,
) -> Result<NodeIdentity, BrokerError> {
    let (host, port) = match &config.advertised_listener {
        Some(advertised) => split_host_port(advertised).ok_or_else(|| {
            BrokerError::Config(format!(
                "advertised listener {advertised:?} is not host:port"
            ))
        })?,
        None if bound.ip().is_unspecified() => ("localhost".to_string(), i32::from(bound.port())),
        None => (bound.ip().to_string(), i32::from(bound.port())),
    };
    let id_file = dirs.meta.join("cluster_id");
    let stored = std::fs::read_to_string(&id_file)
        .ok()
        .map(|s| s.trim().to_string());
    let cluster_id = match (&config.cluster_id, stored) {
        (Some(wanted), _) => wanted.clone(),
        (None, Some(stored)) if !stored.is_empty() => stored,
        (None, _) => crate::state::random_uuid().simple().to_string(),
    };
    write_durably(
        &id_file.with_extension("tmp"),
        &id_file,
        cluster_id.as_bytes(),
    )?;
    Ok(NodeIdentity {
        node_id: config.node_id,
        cluster_id,
        host,
        port,
    })
}
