//! Apache Kafka (the reference broker) run as child JVMs: one KRaft node,
//! or a cluster of several, each node both broker and controller, on free
//! loopback ports with log dirs in a temporary directory.
//!
//! The jars come from `scripts/install-peers.sh` (`.peers/kafka/libs`, or
//! `DURIAN_KAFKA_LIBS`), the JVM from `DURIAN_KAFKA_JAVA`, else `java` on
//! PATH. Without them the cluster is not started and the test is skipped
//! with a message, unless `DURIAN_REQUIRE_PEERS=1`, which makes it fail.
//!
//! A node counts as started when it answers a Metadata request listing
//! every running node as a broker: the port accepting connections is not
//! enough (a KRaft broker listens before it has joined the cluster). Every
//! JVM is killed when the cluster is dropped; the temporary directory is
//! removed then too, unless the test is failing (or `DURIAN_KAFKA_KEEP` is
//! set), in which case its path (with each node's `server.log`) is printed.

mod config;
pub mod pki;
mod probe;

use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use config::Ports;

/// What to do when Apache Kafka cannot be found.
pub const INSTALL_HINT: &str =
    "Apache Kafka not found: run scripts/install-peers.sh (fetches its jars into \
     .peers/kafka/libs from Maven Central) or set DURIAN_KAFKA_LIBS to a directory of \
     Kafka 4.x jars; it needs Java 17+ (`java` on PATH or DURIAN_KAFKA_JAVA)";

/// Heap of each node: three nodes and the tests fit beside other work.
pub const NODE_HEAP: &str = "-Xmx512m";

/// How long a node may take to answer with the whole cluster after it is
/// started (JVM start, log recovery, joining the quorum) on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a node may take to exit after SIGTERM (controlled shutdown).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long formatting the log dirs may take.
const FORMAT_TIMEOUT: Duration = Duration::from_secs(60);

/// The Kafka jars and the JVM to run them with, if both are there.
pub fn installation() -> Option<(PathBuf, PathBuf)> {
    let libs = std::env::var_os("DURIAN_KAFKA_LIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".peers/kafka/libs"));
    let has_broker = fs::read_dir(&libs).ok()?.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.starts_with("kafka_2.13-") && name.ends_with(".jar")
    });
    let java = std::env::var_os("DURIAN_KAFKA_JAVA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("java"));
    let java_runs = Command::new(&java)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (has_broker && java_runs).then_some((libs, java))
}

/// A listener beside the PLAINTEXT one every node has (which the harness
/// and inter-broker traffic keep using). Its settings, e.g.
/// `listener.name.<name lower-case>.ssl.keystore.location`, go into
/// [`KafkaOptions::extra`].
#[derive(Debug, Clone)]
pub struct Listener {
    /// The listener name, upper case (`SECURE`, `MTLS`, …).
    pub name: String,
    /// Its security protocol: `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: String,
}

impl Listener {
    /// A listener called `name` speaking `protocol`.
    pub fn new(name: &str, protocol: &str) -> Self {
        Listener {
            name: name.to_owned(),
            protocol: protocol.to_owned(),
        }
    }
}

/// How to start a [`KafkaCluster`] beyond its node count.
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// Broker settings on top of the test defaults.
    pub extra: Vec<(String, String)>,
    /// Listeners besides PLAINTEXT, each on a free port of every node.
    pub listeners: Vec<Listener>,
    /// `--add-scram` arguments for the storage tool, e.g.
    /// `SCRAM-SHA-512=[name=alice,password=alice-secret]`: SCRAM users
    /// that exist from the first start (KRaft keeps them in its metadata).
    pub scram_users: Vec<String>,
}

/// One node of a [`KafkaCluster`].
#[derive(Debug)]
struct Node {
    id: i32,
    ports: Ports,
    /// The port of each of [`KafkaOptions::listeners`], in order.
    listener_ports: Vec<u16>,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.ports.client)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The last lines of the node's log, for failure messages.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A running Apache Kafka cluster; every node is killed on drop.
#[derive(Debug)]
pub struct KafkaCluster {
    java: PathBuf,
    libs: PathBuf,
    dir: PathBuf,
    nodes: Vec<Node>,
    listeners: Vec<Listener>,
}

impl KafkaCluster {
    /// One node (broker and controller), or `None` (test skipped) when
    /// Kafka is not installed; panics instead when peers are required.
    pub async fn single() -> Option<KafkaCluster> {
        KafkaCluster::start(1, &[]).await
    }

    /// `nodes` nodes (ids 1..=nodes, each broker and controller, all
    /// voters), with `extra` broker settings on top of the test defaults
    /// (internal topics replicated min(nodes, 3) times, min.insync.replicas
    /// 2 from three nodes on, no initial rebalance delay, no topic
    /// auto-creation). Returns once every node answers with all of them.
    pub async fn start(nodes: usize, extra: &[(&str, &str)]) -> Option<KafkaCluster> {
        let options = KafkaOptions {
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..KafkaOptions::default()
        };
        KafkaCluster::start_with(nodes, options).await
    }

    /// Like [`KafkaCluster::start`], with extra listeners and SCRAM users.
    pub async fn start_with(nodes: usize, options: KafkaOptions) -> Option<KafkaCluster> {
        KafkaCluster::start_per_node(options, &vec![Vec::new(); nodes]).await
    }

    /// One node per entry of `per_node` (ids 1..=len), each with its entry's
    /// broker settings on top of `options` (later keys win), e.g. a
    /// `broker.rack` of its own for rack-aware tests.
    pub async fn start_per_node(
        options: KafkaOptions,
        per_node: &[Vec<(String, String)>],
    ) -> Option<KafkaCluster> {
        let nodes = per_node.len();
        assert!(nodes >= 1, "a cluster needs a node");
        let found = installation();
        let (libs, java) = match found {
            Some(found) => found,
            None if crate::peers_required() => panic!("{INSTALL_HINT}"),
            None => {
                eprintln!("skipping: {INSTALL_HINT}");
                return None;
            }
        };
        let dir = temp_dir();
        let (ports, listener_ports) = free_ports(nodes, options.listeners.len());
        let KafkaOptions {
            extra,
            listeners,
            scram_users,
        } = options;
        fs::write(dir.join("log4j2.properties"), config::LOG4J2).expect("write log4j2 config");
        let mut cluster = KafkaCluster {
            java,
            libs,
            dir: dir.clone(),
            nodes: Vec::new(),
            listeners,
        };
        for (index, node_ports) in ports.iter().enumerate() {
            let id = i32::try_from(index + 1).expect("node id");
            let node_dir = dir.join(format!("node-{id}"));
            let log_dir = node_dir.join("data");
            fs::create_dir_all(&node_dir).expect("create node dir");
            let own_listeners: Vec<(String, String, u16)> = cluster
                .listeners
                .iter()
                .zip(&listener_ports[index])
                .map(|(l, port)| (l.name.clone(), l.protocol.clone(), *port))
                .collect();
            let settings: Vec<(String, String)> =
                extra.iter().chain(&per_node[index]).cloned().collect();
            let properties =
                config::server_properties(id, &ports, &log_dir, &own_listeners, &settings);
            fs::write(node_dir.join("server.properties"), properties)
                .expect("write server.properties");
            cluster.nodes.push(Node {
                id,
                ports: *node_ports,
                listener_ports: listener_ports[index].clone(),
                dir: node_dir,
                child: None,
            });
        }
        cluster
            .format(&config::random_cluster_id(), &scram_users)
            .await;
        for index in 0..cluster.nodes.len() {
            cluster.spawn(index);
        }
        cluster.wait_ready().await;
        Some(cluster)
    }

    /// bootstrap.servers: every node's client address, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(Node::address)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// bootstrap.servers for the extra listener called `name`.
    pub fn listener_bootstrap(&self, name: &str) -> String {
        let index = self
            .listeners
            .iter()
            .position(|l| l.name == name)
            .unwrap_or_else(|| panic!("no listener {name} in this cluster"));
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.listener_ports[index]))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client address (`127.0.0.1:PORT`) of node `id`.
    pub fn node_address(&self, id: i32) -> String {
        self.node(id).address()
    }

    /// The log directory (`log.dirs`) of node `id`: one `<topic>-<partition>`
    /// directory per partition it hosts. Read it after
    /// [`KafkaCluster::stop`], when Kafka has closed its segments.
    pub fn log_dir(&self, id: i32) -> PathBuf {
        self.node(id).dir.join("data")
    }

    /// The node ids, 1..=n.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The leader of `topic`'s `partition` as a running node reports it
    /// (`None` when no node answers or the partition has no leader).
    pub async fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            let Ok(metadata) = probe::metadata(&node.address(), &[topic]).await else {
                continue;
            };
            let leader = metadata
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == partition)
                .map(|p| p.leader_id.0)
                .filter(|id| *id >= 0);
            if leader.is_some() {
                return leader;
            }
        }
        None
    }

    /// Stops node `id` with SIGTERM (a controlled shutdown) and waits until
    /// it has exited; panics when it outlives [`STOP_TIMEOUT`].
    pub async fn stop(&mut self, id: i32) {
        let node = self.node_mut(id);
        let Some(mut child) = node.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM node {id} failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if child.try_wait().expect("wait for node").is_some() {
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("node {id} did not exit within {STOP_TIMEOUT:?} of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills node `id` with SIGKILL (no shutdown at all) and reaps it.
    pub fn kill(&mut self, id: i32) {
        if let Some(mut child) = self.node_mut(id).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `id` again (after [`KafkaCluster::stop`] or
    /// [`KafkaCluster::kill`]) on its ports and log dir, and waits until
    /// every running node answers with all running nodes.
    pub async fn restart(&mut self, id: i32) {
        assert!(self.node(id).child.is_none(), "node {id} is still running");
        let index = self.index(id);
        self.spawn(index);
        self.wait_ready().await;
    }

    fn node(&self, id: i32) -> &Node {
        &self.nodes[self.index(id)]
    }

    fn node_mut(&mut self, id: i32) -> &mut Node {
        let index = self.index(id);
        &mut self.nodes[index]
    }

    fn index(&self, id: i32) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in this cluster"))
    }

    fn classpath(&self) -> String {
        format!("{}/*", self.libs.display())
    }

    /// Formats every node's log dir with `cluster_id` (the JVMs run side
    /// by side: each start costs about two seconds).
    async fn format(&self, cluster_id: &str, scram_users: &[String]) {
        let mut running = Vec::new();
        for node in &self.nodes {
            let log = fs::File::create(node.dir.join("format.log")).expect("create format.log");
            let child = Command::new(&self.java)
                .args(["-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp"])
                .arg(self.classpath())
                .arg(format!(
                    "-Dlog4j2.configurationFile={}",
                    self.dir.join("log4j2.properties").display()
                ))
                .args(["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c"])
                .arg(node.dir.join("server.properties"))
                .args(scram_users.iter().flat_map(|user| ["--add-scram", user]))
                .stdout(log.try_clone().expect("clone log handle"))
                .stderr(log)
                .spawn()
                .expect("start kafka.tools.StorageTool");
            running.push((node, child));
        }
        let deadline = Instant::now() + FORMAT_TIMEOUT;
        for (node, mut child) in running {
            let status = loop {
                if let Some(status) = child.try_wait().expect("wait for StorageTool") {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("formatting node {} took over {FORMAT_TIMEOUT:?}", node.id);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert!(
                status.success(),
                "formatting node {} failed ({status}):\n{}",
                node.id,
                fs::read_to_string(node.dir.join("format.log")).unwrap_or_default()
            );
        }
    }

    fn spawn(&mut self, index: usize) {
        let classpath = self.classpath();
        let log4j = format!(
            "-Dlog4j2.configurationFile={}",
            self.dir.join("log4j2.properties").display()
        );
        let node = &mut self.nodes[index];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log())
            .expect("open server.log");
        let child = Command::new(&self.java)
            .args([NODE_HEAP, "-XX:+UseSerialGC", "-Djava.awt.headless=true"])
            .arg(log4j)
            .arg("-cp")
            .arg(classpath)
            .arg("kafka.Kafka")
            .arg(node.dir.join("server.properties"))
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("start kafka.Kafka");
        node.child = Some(child);
    }

    /// Waits until every running node answers Metadata listing exactly the
    /// running nodes as brokers.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let expected: Vec<i32> = self
            .nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.id)
            .collect();
        for index in 0..self.nodes.len() {
            if self.nodes[index].child.is_none() {
                continue;
            }
            loop {
                let node = &mut self.nodes[index];
                if let Some(child) = node.child.as_mut() {
                    if let Some(status) = child.try_wait().expect("wait for node") {
                        node.child = None;
                        panic!(
                            "Kafka node {} exited ({status}) while starting:\n{}",
                            node.id,
                            node.log_tail()
                        );
                    }
                }
                let answer = probe::metadata(&node.address(), &[]).await;
                if let Ok(metadata) = &answer {
                    let mut brokers: Vec<i32> =
                        metadata.brokers.iter().map(|b| b.node_id.0).collect();
                    brokers.sort_unstable();
                    if brokers == expected {
                        break;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "Kafka node {} did not answer with brokers {expected:?} within \
                     {START_TIMEOUT:?} (last answer: {answer:?}); its log ends with:\n{}",
                    node.id,
                    node.log_tail()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() || std::env::var_os("DURIAN_KAFKA_KEEP").is_some() {
            eprintln!(
                "Kafka cluster files (server.log per node) kept in {}",
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A new, empty directory under the system's temporary directory.
fn temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "durian-kafka-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).expect("create the cluster's temporary directory");
    dir
}

/// Distinct free loopback ports: two per node, and `extra` more per node
/// for its extra listeners, all held until every one is picked so none
/// is handed out twice.
fn free_ports(nodes: usize, extra: usize) -> (Vec<Ports>, Vec<Vec<u16>>) {
    let per_node = 2 + extra;
    let listeners: Vec<TcpListener> = (0..nodes * per_node)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("no free loopback port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect();
    ports
        .chunks(per_node)
        .map(|chunk| {
            (
                Ports {
                    client: chunk[0],
                    controller: chunk[1],
                },
                chunk[2..].to_vec(),
            )
        })
        .unzip()
}
