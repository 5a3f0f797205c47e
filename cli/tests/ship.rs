//! `durian ship` as a process (issue 6's acceptance): lines appended while
//! it runs, the file rotated, the agent SIGKILLed between acknowledgement
//! and checkpoint and restarted → the topic holds every line exactly
//! once, in file order. With `--transactional-id`, a SIGKILL while a
//! transaction is open → every line once for a read_committed reader.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

#[path = "../../tests/support/ship.rs"]
mod ship_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use durian::ship::checkpoint::Checkpoint;
use ship_support::{append, assert_shipped_exactly, setup, TOPIC};

const DEADLINE: Duration = Duration::from_secs(60);

fn ship(bootstrap: &str, log: &Path, stderr: &Path, checkpoint_interval_ms: u64) -> Child {
    ship_with(bootstrap, log, stderr, checkpoint_interval_ms, &[])
}

/// `durian ship` with `extra` arguments after the usual ones.
fn ship_with(
    bootstrap: &str,
    log: &Path,
    stderr: &Path,
    checkpoint_interval_ms: u64,
    extra: &[&str],
) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_durian"))
        .args([
            "-b",
            bootstrap,
            "ship",
            "--topic",
            TOPIC,
            "--poll-interval-ms",
            "20",
        ])
        .arg("--checkpoint-interval-ms")
        .arg(checkpoint_interval_ms.to_string())
        .arg("--file")
        .arg(log)
        .args(extra)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "durian ship did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_after_rotation_ships_every_line_exactly_once_in_order() {
    let setup = setup().await;
    let bootstrap = setup.broker.bootstrap();
    let (dir, log) = (&setup.dir, &setup.log);
    let agent_log = dir.path().join("agent.stderr");
    let mut topic = setup.reader(DEADLINE).with_diagnostics(&agent_log);
    let mut lines = Vec::new();

    // First run: checkpoints only at start, so everything it ships is
    // acknowledged but not checkpointed when it is killed.
    lines.extend(append(log, 0..100));
    let mut agent = ship(&bootstrap, log, &agent_log, 3_600_000);
    topic.wait_for(100).await;
    lines.extend(append(log, 100..200));
    topic.wait_for(200).await;
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(log, &rotated).unwrap();
    lines.extend(append(&rotated, 200..220)); // the writer's last lines before it reopens
    lines.extend(append(log, 220..320));
    topic.wait_for(320).await;
    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();

    let checkpoint_path = dir.path().join("access.log.durian-ship");
    let stale = Checkpoint::load(&checkpoint_path).unwrap().unwrap();
    assert_eq!(
        (stale.file, stale.position),
        (None, 0),
        "the kill came before any line was checkpointed"
    );

    // Written while the agent is down, then a second run that is stopped cleanly.
    lines.extend(append(log, 320..370));
    let mut agent = ship(&bootstrap, log, &agent_log, 50);
    topic.wait_for(370).await;
    lines.extend(append(log, 370..400));
    topic.wait_for(400).await;
    let term = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = wait_exit(&mut agent).await;
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        std::fs::read_to_string(&agent_log).unwrap_or_default()
    );

    // stderr is a file here: no spinner (nor any other escape code).
    let stderr = std::fs::read_to_string(&agent_log).unwrap();
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "escape codes in a piped stderr: {stderr:?}"
    );

    let saved = Checkpoint::load(&checkpoint_path).unwrap().unwrap();
    assert_eq!(saved.generation, 1, "the second file is generation 1");
    assert_eq!(saved.position, std::fs::metadata(log).unwrap().len());

    assert_shipped_exactly(&topic.read_to_end().await, &lines);
    setup.broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_agent_on_the_same_file_exits_with_an_error_naming_the_holder() {
    let setup = setup().await;
    let bootstrap = setup.broker.bootstrap();
    let (dir, log) = (&setup.dir, &setup.log);
    let first_log = dir.path().join("first.stderr");
    let mut topic = setup.reader(DEADLINE).with_diagnostics(&first_log);
    let lines = append(log, 0..10);
    let mut first = ship(&bootstrap, log, &first_log, 50);
    topic.wait_for(10).await; // it runs, so it holds the checkpoint

    let second_log = dir.path().join("second.stderr");
    let mut second = ship(&bootstrap, log, &second_log, 50);
    let status = wait_exit(&mut second).await;
    let stderr = std::fs::read_to_string(&second_log).unwrap();
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("in use by another agent")
            && stderr.contains(&format!("pid {}", first.id()))
            && stderr.contains("access.log.durian-ship"),
        "stderr:\n{stderr}"
    );

    first.kill().unwrap();
    first.wait().unwrap();
    assert_shipped_exactly(&topic.read_to_end().await, &lines);
    setup.broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactional_agent_killed_with_a_transaction_open_ships_each_line_once_committed() {
    let setup = setup().await;
    let bootstrap = setup.broker.bootstrap();
    let (dir, log) = (&setup.dir, &setup.log);
    let agent_log = dir.path().join("agent.stderr");
    let transactional = ["--transactional-id", "ship-web"];
    let mut uncommitted = setup.reader(DEADLINE).with_diagnostics(&agent_log);
    let mut lines = append(log, 0..100);
    // One transaction, never committed before the SIGKILL.
    let mut agent = ship_with(&bootstrap, log, &agent_log, 3_600_000, &transactional);
    uncommitted.wait_for(100).await;
    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();

    lines.extend(append(log, 100..150));
    let mut agent = ship_with(&bootstrap, log, &agent_log, 50, &transactional);
    let mut committed = setup
        .committed_reader(DEADLINE)
        .with_diagnostics(&agent_log);
    committed.wait_for(150).await;
    let term = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = wait_exit(&mut agent).await;
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        std::fs::read_to_string(&agent_log).unwrap_or_default()
    );
    assert_shipped_exactly(&committed.read_to_end().await, &lines);
    // The killed agent's lines are in the log too, aborted.
    assert_eq!(uncommitted.read_to_end().await.len(), 250);
    setup.broker.shutdown().await.unwrap();
}
