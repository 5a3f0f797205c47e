//! Runs interop/java's `admin-report` (Kafka's Java Admin) with Kafka's
//! jars on the classpath, found as interop/java_runner.py finds them:
//! `DURIAN_JAVA_INTEROP_JAR`, else `<repo>/.peers/java/durian-interop.jar`,
//! and Kafka's libs and JVM as durian-testkit's `KafkaCluster` does. A jar
//! older than a file under interop/java counts as missing, as it does for
//! scripts/install-peers.sh (which then rebuilds it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use durian_testkit::{kafka, repo_root, require_peer};
use tokio::process::Command;

use crate::report::Scope;

/// How long the report's JVM may take (start, connect, a dozen requests).
const REPORT_TIMEOUT: Duration = Duration::from_secs(120);

/// The JVM, Kafka's jars and the interop programs' jar.
pub struct Runner {
    java: PathBuf,
    classpath: String,
}

/// Whether a file under `<repo>/interop/java` was modified after `jar`.
fn older_than_sources(jar: &Path) -> bool {
    let Ok(built) = fs::metadata(jar).and_then(|m| m.modified()) else {
        return true;
    };
    let mut dirs = vec![repo_root().join("interop/java")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified > built)
            {
                return true;
            }
        }
    }
    false
}

impl Runner {
    /// Everything `admin-report` needs, or `None` (skipped; a panic under
    /// `DURIAN_REQUIRE_PEERS=1`) when something is missing.
    pub fn find() -> Option<Runner> {
        let installed = kafka::installation();
        require_peer(
            installed.as_ref().map(|(libs, _)| libs.clone()),
            "Apache Kafka's jars or java not found: run scripts/install-peers.sh",
        )?;
        let (libs, java) = installed?;
        let jar = std::env::var_os("DURIAN_JAVA_INTEROP_JAR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".peers/java/durian-interop.jar"));
        let jar = require_peer(
            jar.is_file().then_some(jar),
            "the Java interop programs' jar not found: run scripts/install-peers.sh or set DURIAN_JAVA_INTEROP_JAR",
        )?;
        // A jar built before admin-report existed would only print its
        // usage: stale by the rule scripts/install-peers.sh rebuilds by.
        let jar = require_peer(
            (!older_than_sources(&jar)).then_some(jar),
            "the Java interop programs' jar is older than interop/java: run scripts/install-peers.sh",
        )?;
        Some(Runner {
            java,
            classpath: format!("{}/*:{}", libs.display(), jar.display()),
        })
    }

    /// The Java Admin's facts about `scope`, sorted.
    pub async fn admin_report(&self, bootstrap: &str, scope: &Scope<'_>) -> Vec<String> {
        let args = [
            format!("topics={}", scope.topics.join(",")),
            format!("groups={}", scope.groups.join(",")),
            format!("txns={}", scope.txns.join(",")),
            format!("users={}", scope.users.join(",")),
            format!("broker={}", scope.broker),
        ];
        let child = Command::new(&self.java)
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg("-cp")
            .arg(&self.classpath)
            .args(["dev.durian.interop.Main", "admin-report", bootstrap])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("java starts");
        let output = tokio::time::timeout(REPORT_TIMEOUT, child.wait_with_output())
            .await
            .expect("admin-report finishes in time")
            .expect("admin-report's output is read");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "admin-report failed ({}):\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        // Sorted again here: Java orders strings by UTF-16 units, Rust by bytes.
        let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }
}
