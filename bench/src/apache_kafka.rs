//! Apache Kafka as a peer: the jars and JVM the bench finds, and one KRaft
//! node (broker and controller in one JVM) started for a run.
//!
//! The node is configured like durian's broker in the bench: one node, a
//! fresh temp dir, a free loopback port, and page-cache durability (Kafka
//! never fsyncs per message unless `log.flush.interval.messages` is set,
//! and it is not). The JVM gets a fixed 1 GiB heap and the G1 settings of
//! Kafka's own start scripts.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use durian_admin::Admin;

use crate::brokers::BrokerUnderTest;

/// The broker's heap: fixed, so its RSS is not a function of the machine's RAM.
const BROKER_HEAP: [&str; 2] = ["-Xms1g", "-Xmx1g"];
/// G1 as `kafka-run-class.sh` configures it for the broker and the tools.
pub const G1_FLAGS: [&str; 4] = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-Djava.awt.headless=true",
];
/// How long formatting the log dir may take (one short JVM run).
const FORMAT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the node may take to answer Metadata after its JVM starts.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// One readiness probe's bound.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between readiness probes (polling a process we cannot be notified by).
const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Where Apache Kafka's jars and a Java 17+ runtime are.
#[derive(Debug, Clone)]
pub struct KafkaInstall {
    /// A directory of Kafka 4.x jars (`.peers/kafka/libs`).
    pub libs: PathBuf,
    /// The `java` executable.
    pub java: PathBuf,
}

impl KafkaInstall {
    /// The JVM classpath: every jar in `libs`.
    pub fn classpath(&self) -> String {
        format!("{}/*", self.libs.display())
    }
}

/// Finds the jars (`$DURIAN_KAFKA_LIBS`, else the repository's
/// `.peers/kafka/libs` from scripts/install-peers.sh) and Java
/// (`$DURIAN_KAFKA_JAVA`, else `java` on PATH); the error says what is missing.
pub fn find() -> Result<KafkaInstall, String> {
    let libs = std::env::var_os("DURIAN_KAFKA_LIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers/kafka/libs"));
    for (prefix, what) in [
        ("kafka_2.13-", "the broker"),
        ("kafka-tools-", "the perf tools"),
    ] {
        if !has_jar(&libs, prefix) {
            return Err(format!(
                "no {prefix}*.jar ({what}) in {} (scripts/install-peers.sh or DURIAN_KAFKA_LIBS)",
                libs.display()
            ));
        }
    }
    let java = std::env::var_os("DURIAN_KAFKA_JAVA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("java"));
    let runs = Command::new(&java)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        return Err(format!(
            "{} -version failed: Kafka needs Java 17+ (PATH or DURIAN_KAFKA_JAVA)",
            java.display()
        ));
    }
    Ok(KafkaInstall { libs, java })
}

fn has_jar(dir: &Path, prefix: &str) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".jar")
        })
    })
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// `server.properties` of a single combined node listening on `client`
/// (PLAINTEXT) and `controller` (the KRaft quorum's own listener).
fn server_properties(client: u16, controller: u16, log_dir: &Path) -> String {
    format!(
        "process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{controller}\n\
         listeners=PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{client}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         log.dirs={}\n\
         num.partitions=1\n\
         default.replication.factor=1\n\
         min.insync.replicas=1\n\
         offsets.topic.replication.factor=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n\
         auto.create.topics.enable=false\n",
        log_dir.display()
    )
}

/// Kafka's own messages at WARN: the bench reads none of them, and INFO
/// logging per topic created and deleted would cost the broker CPU.
const LOG4J2: &str = "\
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
";

/// A fresh KRaft cluster id: 16 random bytes, URL-safe base64 without
/// padding, not starting with '-' (the storage tool would take it for an option).
fn cluster_id() -> Result<String, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut urandom =
        fs::File::open("/dev/urandom").map_err(|e| format!("opening /dev/urandom: {e}"))?;
    loop {
        let mut bytes = [0u8; 16];
        urandom
            .read_exact(&mut bytes)
            .map_err(|e| format!("reading /dev/urandom: {e}"))?;
        let mut bits = 0u32;
        let mut held = 0;
        let mut id = String::with_capacity(22);
        for b in bytes {
            bits = bits << 8 | u32::from(b);
            held += 8;
            while held >= 6 {
                held -= 6;
                id.push(char::from(ALPHABET[((bits >> held) & 63) as usize]));
            }
        }
        if held > 0 {
            id.push(char::from(ALPHABET[((bits << (6 - held)) & 63) as usize]));
        }
        if !id.starts_with('-') {
            return Ok(id);
        }
    }
}

/// The last lines of the node's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Formats a temp dir, starts the node and waits until it answers Metadata
/// naming itself as a broker.
pub async fn start(install: &KafkaInstall) -> Result<BrokerUnderTest, String> {
    let dir = tempfile::Builder::new()
        .prefix("durian-bench-kafka")
        .tempdir()
        .map_err(|e| format!("cannot create Kafka's temp dir: {e}"))?;
    let (client, controller) = (free_port()?, free_port()?);
    let properties = dir.path().join("server.properties");
    let log4j = dir.path().join("log4j2.properties");
    let server_log = dir.path().join("server.log");
    let write = |path: &Path, text: &str| {
        fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(
        &properties,
        &server_properties(client, controller, &dir.path().join("data")),
    )?;
    write(&log4j, LOG4J2)?;
    let log4j_flag = format!("-Dlog4j2.configurationFile={}", log4j.display());
    let open_log = || {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&server_log)
            .map_err(|e| format!("opening {}: {e}", server_log.display()))
    };

    let mut format = Command::new(&install.java)
        .args(["-Xmx128m", "-XX:TieredStopAtLevel=1", &log4j_flag, "-cp"])
        .arg(install.classpath())
        .args([
            "kafka.tools.StorageTool",
            "format",
            "-t",
            &cluster_id()?,
            "-c",
        ])
        .arg(&properties)
        .stdout(open_log()?)
        .stderr(open_log()?)
        .spawn()
        .map_err(|e| format!("cannot start kafka.tools.StorageTool: {e}"))?;
    let deadline = Instant::now() + FORMAT_TIMEOUT;
    let status = loop {
        match format.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = format.kill();
                let _ = format.wait();
                return Err(format!(
                    "formatting Kafka's log dir took over {FORMAT_TIMEOUT:?}"
                ));
            }
            Ok(None) => tokio::time::sleep(PROBE_INTERVAL).await,
            Err(e) => return Err(format!("waiting for kafka.tools.StorageTool: {e}")),
        }
    };
    if !status.success() {
        return Err(format!(
            "formatting Kafka's log dir failed ({status}):\n{}",
            log_tail(&server_log)
        ));
    }

    let child = Command::new(&install.java)
        .args(BROKER_HEAP)
        .args(G1_FLAGS)
        .arg(&log4j_flag)
        .arg("-cp")
        .arg(install.classpath())
        .arg("kafka.Kafka")
        .arg(&properties)
        .stdout(open_log()?)
        .stderr(open_log()?)
        .spawn()
        .map_err(|e| format!("cannot start kafka.Kafka: {e}"))?;
    let bootstrap = format!("127.0.0.1:{client}");
    // From here on, dropping the broker kills the JVM and removes the dir.
    let broker = BrokerUnderTest::from_child("kafka", bootstrap, child, dir);
    wait_ready(&broker)
        .await
        .map_err(|e| format!("{e}\n{}", log_tail(&server_log)))?;
    Ok(broker)
}

/// Polls Metadata (through durian's admin client, which bootstraps with it)
/// until the node lists a broker, or the process died, or time is up.
async fn wait_ready(broker: &BrokerUnderTest) -> Result<(), String> {
    let admin = Admin::from_properties([("bootstrap.servers", broker.bootstrap.as_str())])
        .map_err(|e| format!("admin client for {}: {e}", broker.bootstrap))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if broker.snapshot().is_none() {
            return Err("Kafka's JVM exited during start-up".to_owned());
        }
        let answer = tokio::time::timeout(PROBE_TIMEOUT, admin.describe_cluster()).await;
        if let Ok(Ok(cluster)) = answer {
            if !cluster.brokers.is_empty() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Kafka did not answer Metadata on {} within {READY_TIMEOUT:?}",
                broker.bootstrap
            ));
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = cluster_id().expect("urandom");
        assert_eq!(id.len(), 22, "{id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, cluster_id().expect("urandom"));
    }

    #[test]
    fn one_node_is_its_own_quorum_and_never_fsyncs_per_message() {
        let text = server_properties(9092, 9093, Path::new("/tmp/k"));
        assert!(text.contains("controller.quorum.voters=1@127.0.0.1:9093\n"));
        assert!(text.contains("advertised.listeners=PLAINTEXT://127.0.0.1:9092\n"));
        assert!(!text.contains("log.flush.interval"));
    }
}
