//! Broker settings: who this node is, where it listens and stores data, and
//! the limits it enforces. Defaults follow Kafka's broker defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::security::listener::{ListenerConfig, SecurityProtocol};
use crate::security::sasl::SaslConfig;
use crate::security::tls::{ClientAuth, TlsConfig};
use crate::security::AuthorizerConfig;
use crate::storage::{FlushPolicy, LogConfig};

/// Identity of this broker as other nodes and clients see it.
///
/// Kept in one place so a multi-node cluster later only has to hand each
/// broker a different `NodeIdentity` and a list of peers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeIdentity {
    /// This broker's node id (`node.id`).
    pub node_id: i32,
    /// The cluster id reported in Metadata and DescribeCluster.
    pub cluster_id: String,
    /// Host clients are told to connect to.
    pub host: String,
    /// Port clients are told to connect to.
    pub port: i32,
}

/// Everything the broker needs to start. Built by [`crate::BrokerBuilder`].
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Node id (`node.id`, default 0).
    pub node_id: i32,
    /// Cluster id; `None` means "keep the one stored in the data dir, or make one".
    pub cluster_id: Option<String>,
    /// Address to bind, e.g. `127.0.0.1:9092`; port 0 picks a free port.
    pub listen: String,
    /// `host:port` announced to clients; `None` announces the bound address.
    pub advertised_listener: Option<String>,
    /// Root of the on-disk state (logs, topic catalog, group offsets).
    pub data_dir: PathBuf,
    /// Partitions of auto-created topics and of CreateTopics with -1 (`num.partitions`, default 1).
    pub default_partitions: i32,
    /// Create unknown topics on Metadata/Produce (`auto.create.topics.enable`, default true).
    pub auto_create_topics: bool,
    /// Log settings every topic starts from; topic configs override them.
    pub log_config: LogConfig,
    /// Largest accepted request frame (`socket.request.max.bytes`, default 100 MiB).
    pub socket_request_max_bytes: usize,
    /// Request bytes read but not yet processed, over all connections
    /// (`queued.max.request.bytes`, default 512 MiB; raised to
    /// `socket_request_max_bytes` if smaller).
    pub queued_max_request_bytes: usize,
    /// Most concurrent client connections (`max.connections`, default 1000).
    pub max_connections: usize,
    /// Close connections that send nothing for this long (`connections.max.idle.ms`, default 10 min).
    pub connections_max_idle: Duration,
    /// How often retention is enforced (`log.retention.check.interval.ms`, default 5 min).
    pub retention_check_interval: Duration,
    /// How long shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace: Duration,
    /// Most bytes one produced batch may decompress to while the broker
    /// checks its records (durian limit, default 64 MiB). Absolute: no topic
    /// setting scales it, so no client can raise it.
    pub max_decompressed_batch_bytes: usize,
    /// Decompression memory shared by every request being validated at
    /// once (durian limit, default 256 MiB, raised to
    /// `max_decompressed_batch_bytes` if smaller). Each compressed batch
    /// reserves `max_decompressed_batch_bytes` of it while it is checked.
    pub decompression_budget_bytes: usize,
    /// How long a compressed batch waits for decompression budget before
    /// its partition is refused with a retriable error (durian limit,
    /// default 5 s).
    pub decompression_wait: Duration,
    /// Once the length prefix of a request has arrived, the rest must arrive
    /// within this long or the connection is closed (durian limit, default
    /// 30 s; Kafka has no equivalent and relies on `connections.max.idle.ms`).
    pub request_body_timeout: Duration,
    /// Most concurrent connections from one IP address
    /// (`max.connections.per.ip`, default 500; Kafka's is unlimited).
    pub max_connections_per_ip: usize,
    /// A response not fully written within this long closes the connection
    /// (durian limit, default 30 s).
    pub response_write_timeout: Duration,
    /// Response bytes built but not yet written, over all connections
    /// (durian limit, default 512 MiB).
    pub queued_max_response_bytes: usize,
    /// Most topics one request may auto-create (durian limit, default 100);
    /// further unknown topics of that request get UNKNOWN_TOPIC_OR_PARTITION.
    pub max_auto_create_topics_per_request: usize,
    /// Auto-creation stops once the catalog holds this many topics (durian
    /// limit, default 10 000). CreateTopics is not limited by it.
    pub max_auto_created_topics: usize,
    /// Most fetch sessions (KIP-227) held at once
    /// (`max.incremental.fetch.session.cache.slots`, default 1000); 0
    /// turns sessions off, every fetch is then answered in full.
    pub fetch_session_cache_slots: usize,
    /// Named listeners (`listeners`, `advertised.listeners`,
    /// `listener.security.protocol.map`); the first is the one
    /// `bootstrap()` reports. Empty: one listener on `listen`, announced
    /// as `advertised_listener`, whose protocol follows from `tls` and
    /// `sasl` (PLAINTEXT when neither is set).
    pub listeners: Vec<ListenerConfig>,
    /// Certificate, key and client-certificate policy of SSL and SASL_SSL listeners.
    pub tls: Option<TlsConfig>,
    /// Users, mechanisms and limits of SASL_PLAINTEXT and SASL_SSL listeners.
    pub sasl: SaslConfig,
    /// Lets a listener that does not authenticate clients (PLAINTEXT, or
    /// SSL without required client certificates) bind a non-loopback
    /// address. Off by default: such a listener lets anyone on the
    /// network read and write every topic.
    pub allow_insecure_listener: bool,
    /// ACL checks: super users and whether resources without ACLs are
    /// open to everyone (default: yes).
    pub authorizer: AuthorizerConfig,
}

impl BrokerConfig {
    /// Kafka's defaults for a broker storing its data in `data_dir`.
    pub fn new(data_dir: PathBuf) -> BrokerConfig {
        BrokerConfig {
            node_id: 0,
            cluster_id: None,
            listen: "127.0.0.1:9092".to_string(),
            advertised_listener: None,
            data_dir,
            default_partitions: 1,
            auto_create_topics: true,
            log_config: LogConfig::default(),
            socket_request_max_bytes: 100 * 1024 * 1024,
            queued_max_request_bytes: 512 * 1024 * 1024,
            max_connections: 1000,
            connections_max_idle: Duration::from_millis(600_000),
            retention_check_interval: Duration::from_millis(300_000),
            shutdown_grace: Duration::from_secs(5),
            max_decompressed_batch_bytes: 64 << 20,
            decompression_budget_bytes: 256 << 20,
            decompression_wait: Duration::from_secs(5),
            request_body_timeout: Duration::from_secs(30),
            max_connections_per_ip: 500,
            response_write_timeout: Duration::from_secs(30),
            queued_max_response_bytes: 512 << 20,
            max_auto_create_topics_per_request: 100,
            max_auto_created_topics: 10_000,
            fetch_session_cache_slots: crate::fetch_session::DEFAULT_SLOTS,
            listeners: Vec::new(),
            tls: None,
            sasl: SaslConfig::default(),
            allow_insecure_listener: false,
            authorizer: AuthorizerConfig::default(),
        }
    }

    /// Whether SASL users or a token validator are configured.
    fn has_sasl_users(&self) -> bool {
        !self.sasl.plain_users.is_empty()
            || !self.sasl.scram_users.is_empty()
            || self.sasl.oauthbearer.is_some()
    }

    /// The listeners the broker binds: `listeners`, or the single default
    /// one on `listen` (SASL when users are configured, TLS when a
    /// certificate is).
    pub fn effective_listeners(&self) -> Vec<ListenerConfig> {
        if !self.listeners.is_empty() {
            return self.listeners.clone();
        }
        let protocol = match (self.tls.is_some(), self.has_sasl_users()) {
            (false, false) => SecurityProtocol::Plaintext,
            (true, false) => SecurityProtocol::Ssl,
            (false, true) => SecurityProtocol::SaslPlaintext,
            (true, true) => SecurityProtocol::SaslSsl,
        };
        let mut listener = ListenerConfig::new(protocol, self.listen.clone());
        listener.advertised = self.advertised_listener.clone();
        vec![listener]
    }

    /// Whether some listener authenticates its clients: SASL, or SSL that
    /// requires client certificates.
    pub fn authenticates_clients(&self) -> bool {
        self.effective_listeners()
            .iter()
            .any(|listener| match listener.protocol {
                SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl => true,
                SecurityProtocol::Ssl => self
                    .tls
                    .as_ref()
                    .is_some_and(|tls| tls.client_auth == ClientAuth::Required),
                SecurityProtocol::Plaintext => false,
            })
    }

    /// Refuses listeners that cannot work (TLS without a certificate) or
    /// that expose an unauthenticated listener beyond this host without
    /// `allow_insecure_listener`.
    pub fn check_listeners(&self) -> Result<(), String> {
        for listener in self.effective_listeners() {
            if listener.protocol.uses_tls() && self.tls.is_none() {
                return Err(format!(
                    "listener {} is {} but no TLS certificate and key are configured",
                    listener.name, listener.protocol
                ));
            }
            let authenticated = match listener.protocol {
                SecurityProtocol::Plaintext => false,
                SecurityProtocol::Ssl => self
                    .tls
                    .as_ref()
                    .is_some_and(|t| t.client_auth == ClientAuth::Required),
                SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl => true,
            };
            if !authenticated && !self.allow_insecure_listener && !is_loopback(&listener.bind) {
                return Err(format!(
                    "listener {} ({}) on {} accepts unauthenticated clients from the network: \
                     anyone who can reach it may read, write and delete every topic. Bind it \
                     to a loopback address, make it authenticate (SASL_SSL, SASL_PLAINTEXT, or \
                     SSL with required client certificates), or allow it explicitly \
                     (--allow-insecure-listener / allow_insecure_listener(true))",
                    listener.name, listener.protocol, listener.bind
                ));
            }
        }
        if self
            .effective_listeners()
            .iter()
            .any(|l| l.protocol.uses_sasl())
        {
            self.sasl.validate()?;
        }
        Ok(())
    }

    /// The flush policy every topic gets unless it overrides `flush.messages`.
    pub fn fsync(&self) -> FlushPolicy {
        self.log_config.flush
    }
}

/// Whether `address` (`host:port`) binds only the loopback interface.
fn is_loopback(address: &str) -> bool {
    match split_host_port(address) {
        Some((host, _)) if host.eq_ignore_ascii_case("localhost") => true,
        Some((host, _)) => host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Splits `host:port` (the host may be a bracketed IPv6 literal).
pub(crate) fn split_host_port(value: &str) -> Option<(String, i32)> {
    let (host, port) = value.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), i32::from(port)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_and_port() {
        assert_eq!(
            split_host_port("localhost:9092"),
            Some(("localhost".to_string(), 9092))
        );
        assert_eq!(
            split_host_port("[::1]:19092"),
            Some(("::1".to_string(), 19092))
        );
        assert_eq!(split_host_port("nohost"), None);
        assert_eq!(split_host_port(":9092"), None);
        assert_eq!(split_host_port("h:99999"), None);
    }

    #[test]
    fn unauthenticated_listeners_stay_on_loopback_unless_allowed() {
        let mut config = BrokerConfig::new("unused".into());
        assert!(config.check_listeners().is_ok());
        config.listen = "0.0.0.0:9092".to_string();
        let refused = config.check_listeners().unwrap_err();
        assert!(refused.contains("allow-insecure-listener"), "{refused}");
        config
            .sasl
            .plain_users
            .insert("alice".into(), "secret".into());
        assert!(config.check_listeners().is_ok(), "SASL authenticates");
        config.sasl.plain_users.clear();
        config.allow_insecure_listener = true;
        assert!(config.check_listeners().is_ok());
        config.allow_insecure_listener = false;
        config.listen = "[::1]:0".to_string();
        assert!(config.check_listeners().is_ok());
    }
}
