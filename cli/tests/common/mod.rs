//! Helpers shared by the CLI tests: an embedded durian broker, and the
//! built `durian` binary run as a child process with a time limit.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use durian_broker::{Broker, BrokerHandle};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// Longest any single `durian` run may take in these tests.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// An embedded broker on a free port in a temporary directory.
pub async fn start_broker() -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .expect("embedded broker starts")
}

/// What a finished `durian` run left behind.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Run {
    /// stdout as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Panics with both outputs unless the run succeeded.
    pub fn assert_ok(&self) -> &Run {
        assert!(
            self.status.success(),
            "durian failed ({}):\nstdout: {}\nstderr: {}",
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        self
    }

    /// Panics unless the run failed with `needle` in its stderr.
    pub fn assert_failed_with(&self, needle: &str) -> &Run {
        assert!(
            !self.status.success(),
            "durian succeeded but should have failed with {needle:?}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr does not mention {needle:?}: {}",
            self.stderr
        );
        self
    }
}

/// `durian -b BOOTSTRAP ARGS...` as a command with quiet logging and
/// piped output, stdin closed unless the caller pipes it.
pub fn command(bootstrap: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_durian"));
    command.arg("-b").arg(bootstrap).args(args);
    quiet_and_piped(&mut command);
    command
}

/// What every test run of `durian` gets, directly or under a wrapper such
/// as `script`: no colours, warnings only, no `DURIAN_BROKERS` from the
/// environment, stdin closed, output piped, killed when dropped.
pub fn quiet_and_piped(command: &mut Command) -> &mut Command {
    command
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .env_remove("DURIAN_BROKERS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
}

/// Runs `durian` to completion, feeding `stdin`; panics after [`RUN_LIMIT`].
pub async fn durian(bootstrap: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut command = command(bootstrap, args);
    command.stdin(Stdio::piped());
    let mut child = command.spawn().expect("durian binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // Written concurrently with reading the output, so neither pipe fills up.
    let feeder = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
    });
    let run = finish(child, args).await;
    let _ = feeder.await;
    run
}

/// Waits for a spawned `durian` to exit; panics after [`RUN_LIMIT`].
pub async fn finish(child: Child, args: &[&str]) -> Run {
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("durian {args:?} did not finish within {RUN_LIMIT:?}"))
        .expect("durian runs");
    Run {
        status: output.status,
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Creates `topic` with `partitions` partitions through `durian topic create`.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    durian(
        bootstrap,
        &["topic", "create", topic, "-p", &partitions.to_string()],
        b"",
    )
    .await
    .assert_ok();
}

/// Lines of `durian consume TOPIC --exit-at-end --format FMT`.
pub async fn consume_all(bootstrap: &str, topic: &str, format: &str) -> Vec<String> {
    let run = durian(
        bootstrap,
        &["consume", topic, "--exit-at-end", "--format", format],
        b"",
    )
    .await;
    run.assert_ok();
    run.text().lines().map(str::to_owned).collect()
}

/// An address nothing listens on.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    drop(listener);
    address
}
