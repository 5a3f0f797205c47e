//! Running third-party peers for the consumer's interop tests. The peers
//! themselves (Python with confluent-kafka, kcat) are found by
//! `durian_testkit`; a missing one skips the test, unless
//! `DURIAN_REQUIRE_PEERS=1`, which makes it fail.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The one-shot confluent-kafka jobs (produce, committed).
pub const TOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/rdkafka_tools.py");

/// How long one peer process may run.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `program args`, feeding `input` on stdin; returns stdout, failing
/// the test (with stderr) when the process fails or outlives its timeout.
pub async fn run(program: &Path, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(PEER_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not finish", program.display()))
        .unwrap();
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}): {}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs one job of [`TOOLS`] and parses its JSON line.
pub async fn rdkafka_tool(python: &Path, args: &[&str]) -> serde_json::Value {
    let mut full = vec![TOOLS];
    full.extend_from_slice(args);
    let out = run(python, &full, b"").await;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{out}: {e}"))
}
