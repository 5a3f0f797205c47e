//! The files a test node runs from: its `server.properties`, the log4j2
//! configuration, and the cluster id its log dir is formatted with.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where one node listens.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// The PLAINTEXT listener clients bootstrap from.
    pub client: u16,
    /// The CONTROLLER listener of the KRaft quorum.
    pub controller: u16,
}

/// `server.properties` for node `id` of a cluster whose nodes (all of them
/// broker and controller) listen on `all` (index i is node i + 1), plus
/// this node's `listeners` (name, security protocol, port), with `extra`
/// settings appended (later keys win in a properties file).
pub fn server_properties(
    id: i32,
    all: &[Ports],
    log_dir: &Path,
    listeners: &[(String, String, u16)],
    extra: &[(String, String)],
) -> String {
    let nodes = all.len();
    let me = all[usize::try_from(id - 1).unwrap_or(0)];
    let voters: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}@127.0.0.1:{}", i + 1, p.controller))
        .collect();
    // Internal topics as replicated as the cluster allows; with three
    // nodes, two in-sync replicas are needed for acks=all.
    let replication = nodes.min(3);
    let min_isr = if nodes >= 3 { 2 } else { 1 };
    let own: String = listeners
        .iter()
        .map(|(name, _, port)| format!(",{name}://127.0.0.1:{port}"))
        .collect();
    let map: String = listeners
        .iter()
        .map(|(name, protocol, _)| format!(",{name}:{protocol}"))
        .collect();
    let mut text = format!(
        "process.roles=broker,controller\n\
         node.id={id}\n\
         listeners=PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}{own}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{client}{own}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT{map}\n\
         controller.quorum.voters={voters}\n\
         log.dirs={log_dir}\n\
         num.partitions=1\n\
         default.replication.factor={replication}\n\
         min.insync.replicas={min_isr}\n\
         offsets.topic.replication.factor={replication}\n\
         offsets.topic.num.partitions=10\n\
         transaction.state.log.replication.factor={replication}\n\
         transaction.state.log.min.isr={min_isr}\n\
         transaction.state.log.num.partitions=10\n\
         share.coordinator.state.topic.replication.factor={replication}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         group.initial.rebalance.delay.ms=0\n\
         auto.create.topics.enable=false\n\
         broker.heartbeat.interval.ms=500\n\
         broker.session.timeout.ms=4000\n",
        client = me.client,
        controller = me.controller,
        voters = voters.join(","),
        log_dir = log_dir.display(),
    );
    for (key, value) in extra {
        text.push_str(&format!("{key}={value}\n"));
    }
    text
}

/// log4j2 configuration: INFO to stdout (the node's `server.log`), the
/// chattiest loggers at WARN.
pub const LOG4J2: &str = "\
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.log.name=org.apache.kafka.storage.internals.log
logger.log.level=WARN
";

/// A fresh cluster id: 16 random bytes in URL-safe base64 without padding,
/// the form `kafka-storage random-uuid` prints (no JVM start needed). Like
/// Kafka's own, it never starts with '-', which the storage tool's
/// argument parser would take for an option.
pub fn random_cluster_id() -> String {
    loop {
        let id = base64_url(&random_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        // RandomState is seeded randomly per process; the time and index
        // make the two halves (and two clusters of one process) differ.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        chunk.copy_from_slice(&hasher.finish().to_be_bytes());
    }
    bytes
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = random_cluster_id();
        assert_eq!(id.len(), 22, "{id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, random_cluster_id());
        for _ in 0..1_000 {
            assert!(!random_cluster_id().starts_with('-'));
        }
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_url(b"Man"), "TWFu");
        assert_eq!(base64_url(b"Ma"), "TWE");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }
}
