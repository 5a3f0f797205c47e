//! librdkafka's mock cluster: a fake multi-broker Kafka cluster inside
//! librdkafka that injects faults on demand (leader moves, brokers down and
//! up, per-API error stacks, round-trip delay).
//!
//! It runs as a child process, `durian-mock-cluster` (the C program in
//! `interop/mock_cluster/`, built by `scripts/install-peers.sh` against
//! Debian's librdkafka-dev). The program prints its bootstrap servers, then
//! applies one command per stdin line and answers each with `ok` or
//! `error: ...`; every method here waits for that answer, so a fault is in
//! place when the call returns.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

/// What to do when the mock cluster program cannot be found.
pub const INSTALL_HINT: &str = "librdkafka's mock cluster not found: run scripts/install-peers.sh \
     (builds .peers/bin/durian-mock-cluster from interop/mock_cluster/mock_cluster.c against \
     Debian's librdkafka-dev) or set DURIAN_MOCK_CLUSTER_BIN";

/// How long the program may take to print its bootstrap servers, and to
/// answer one command.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The program: `DURIAN_MOCK_CLUSTER_BIN`, else
/// `<repo>/.peers/bin/durian-mock-cluster`.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("DURIAN_MOCK_CLUSTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".peers/bin/durian-mock-cluster"));
    Some(path).filter(|p| p.is_file())
}

/// A running mock cluster, killed on drop. Brokers are numbered from 1.
#[derive(Debug)]
pub struct MockCluster {
    bootstrap: String,
    control: Mutex<Control>,
    child: Child,
}

#[derive(Debug)]
struct Control {
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl MockCluster {
    /// Starts a cluster of `brokers` brokers, or returns `None` (test
    /// skipped) when the program is not installed; panics instead when
    /// peers are required (`DURIAN_REQUIRE_PEERS=1`).
    pub async fn start(brokers: u32) -> Option<MockCluster> {
        let binary = crate::require_peer(binary(), INSTALL_HINT)?;
        let mut child = Command::new(&binary)
            .arg(brokers.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            panic!("the mock cluster's stdin and stdout were not piped");
        };
        let mut control = Control {
            stdin,
            stdout: BufReader::new(stdout).lines(),
        };
        let first = control.answer().await;
        let Some(bootstrap) = first.strip_prefix("bootstrap ") else {
            panic!("the mock cluster printed {first:?} instead of its bootstrap servers");
        };
        Some(MockCluster {
            bootstrap: bootstrap.to_owned(),
            control: Mutex::new(control),
            child,
        })
    }

    /// The brokers' `host:port`s, comma-separated.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Creates `topic`; its partitions' leaders are spread over the brokers.
    pub async fn create_topic(&self, topic: &str, partitions: i32, replication: i32) {
        self.command(&format!("topic {topic} {partitions} {replication}"))
            .await;
    }

    /// Makes `broker` the leader of `topic`'s `partition`.
    pub async fn set_leader(&self, topic: &str, partition: i32, broker: i32) {
        self.command(&format!("leader {topic} {partition} {broker}"))
            .await;
    }

    /// Closes `broker`'s listener and connections (it refuses new ones).
    pub async fn broker_down(&self, broker: i32) {
        self.command(&format!("down {broker}")).await;
    }

    /// Brings `broker` back after [`MockCluster::broker_down`].
    pub async fn broker_up(&self, broker: i32) {
        self.command(&format!("up {broker}")).await;
    }

    /// Makes the next `count` requests of API `api_key`, on whichever
    /// broker gets them, fail with error `code`.
    pub async fn push_errors(&self, api_key: i16, count: u32, code: i16) {
        self.command(&format!("errors {api_key} {count} {code}"))
            .await;
    }

    /// Delays every answer of `broker` by `rtt` (0 removes the delay).
    pub async fn set_rtt(&self, broker: i32, rtt: Duration) {
        self.command(&format!("rtt {broker} {}", rtt.as_millis()))
            .await;
    }

    /// Sends one command line and panics unless the program answers `ok`.
    async fn command(&self, line: &str) {
        let mut control = self.control.lock().await;
        let write = async {
            control.stdin.write_all(line.as_bytes()).await?;
            control.stdin.write_all(b"\n").await?;
            control.stdin.flush().await
        };
        if let Err(e) = write.await {
            panic!("cannot send {line:?} to the mock cluster: {e}");
        }
        let answer = control.answer().await;
        assert_eq!(answer, "ok", "mock cluster command {line:?}");
    }
}

impl Control {
    /// The program's next stdout line, within [`ANSWER_TIMEOUT`].
    async fn answer(&mut self) -> String {
        match tokio::time::timeout(ANSWER_TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => panic!("the mock cluster exited"),
            Ok(Err(e)) => panic!("reading the mock cluster's output: {e}"),
            Err(_) => panic!("the mock cluster did not answer within {ANSWER_TIMEOUT:?}"),
        }
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        // kill_on_drop would do it too; this also covers a Child kept alive
        // elsewhere. Errors mean it is already gone.
        let _ = self.child.start_kill();
    }
}
