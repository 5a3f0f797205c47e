//! Starting Tansu, an independent Kafka-protocol broker, for interop tests.
//!
//! The binary comes from `DURIAN_TANSU_BIN`, else `<repo>/.peers/bin/tansu`
//! (scripts/install-peers.sh). Without it the tests are skipped, unless
//! `DURIAN_REQUIRE_PEERS=1` makes that a failure.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Tansu process with in-memory storage, killed on drop.
pub struct Tansu {
    child: Child,
    port: u16,
}

impl Tansu {
    /// Starts Tansu on a free port, or returns `None` (after saying why)
    /// when the binary is missing and peers are optional.
    pub async fn start() -> Option<Tansu> {
        let binary = binary()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let tansu = Tansu { child, port };
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(tansu.bootstrap())
                .await
                .is_ok()
            {
                return Some(tansu);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("tansu did not listen on {}", tansu.bootstrap());
    }

    /// `host:port` of the broker.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<PathBuf> {
    let found = match std::env::var_os("DURIAN_TANSU_BIN") {
        Some(path) => Some(PathBuf::from(path)),
        None => Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers/bin/tansu")),
    }
    .filter(|p| p.is_file());
    if found.is_none() {
        let hint = "Tansu not found: run scripts/install-peers.sh or set DURIAN_TANSU_BIN";
        if std::env::var("DURIAN_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{hint}");
        }
        eprintln!("skipping: {hint}");
    }
    found
}
