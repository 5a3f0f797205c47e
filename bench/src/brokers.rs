//! The broker under test: durian's broker in a child process of this binary,
//! Tansu (memory storage) in a child process, or any broker given by address.
//!
//! Child processes keep the broker's CPU and memory apart from the clients',
//! so /proc/<pid> gives clean broker figures.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procstat::{self, ProcSnapshot};
use crate::security::{self, Security};

/// Line the `serve-broker` subcommand prints once it listens.
pub const LISTENING_PREFIX: &str = "LISTENING ";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running broker and, when we started it, its process.
#[derive(Debug)]
pub struct BrokerUnderTest {
    /// Short name for tables: "durian", "tansu", "kafka" or "external".
    pub name: &'static str,
    /// Bootstrap address.
    pub bootstrap: String,
    /// How clients reach it.
    pub security: Security,
    /// The CA its certificate chains to, when it speaks TLS.
    pub ca_file: Option<PathBuf>,
    child: Option<Child>,
    // Removed when dropped, after the child is gone.
    _data_dir: Option<tempfile::TempDir>,
    _tls_dir: Option<tempfile::TempDir>,
}

impl BrokerUnderTest {
    /// Starts `durian-bench serve-broker` on a free port with data in a fresh
    /// temp dir; for SASL_SSL, with a certificate made now in another one.
    pub fn start_durian(security: Security) -> Result<BrokerUnderTest, String> {
        let data_dir = tempfile::Builder::new()
            .prefix("durian-bench-broker")
            .tempdir()
            .map_err(|e| format!("cannot create the broker's temp dir: {e}"))?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
        let mut command = Command::new(exe);
        command
            .arg("serve-broker")
            .arg("--data-dir")
            .arg(data_dir.path());
        let (tls_dir, ca_file) = match security {
            Security::Plaintext => (None, None),
            Security::SaslSsl => {
                let dir = tempfile::Builder::new()
                    .prefix("durian-bench-tls")
                    .tempdir()
                    .map_err(|e| format!("cannot create the TLS temp dir: {e}"))?;
                let ca = security::write_tls_files(dir.path())?;
                command.arg("--sasl-ssl-dir").arg(dir.path());
                (Some(dir), Some(ca))
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the durian broker process: {e}"))?;
        let stdout = child.stdout.take().ok_or("broker child has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("reading the broker's address: {e}"))?;
        let Some(bootstrap) = line.trim().strip_prefix(LISTENING_PREFIX) else {
            let _ = child.kill();
            return Err(format!(
                "durian broker did not report its address (got {line:?})"
            ));
        };
        Ok(BrokerUnderTest {
            name: "durian",
            bootstrap: bootstrap.to_owned(),
            security,
            ca_file,
            child: Some(child),
            _data_dir: Some(data_dir),
            _tls_dir: tls_dir,
        })
    }

    /// Starts Tansu with in-memory storage on a free port.
    pub fn start_tansu(binary: &PathBuf) -> Result<BrokerUnderTest, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let bootstrap = format!("127.0.0.1:{port}");
        let url = format!("tcp://{bootstrap}");
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
            .map_err(|e| format!("cannot start tansu ({}): {e}", binary.display()))?;
        let broker = BrokerUnderTest {
            name: "tansu",
            bootstrap,
            security: Security::Plaintext,
            ca_file: None,
            child: Some(child),
            _data_dir: None,
            _tls_dir: None,
        };
        broker.wait_listening()?;
        Ok(broker)
    }

    /// A broker process started elsewhere in the bench (Apache Kafka's
    /// node), already serving `bootstrap`; `data_dir` is removed once the
    /// process is gone.
    pub fn from_child(
        name: &'static str,
        bootstrap: String,
        child: Child,
        data_dir: tempfile::TempDir,
    ) -> BrokerUnderTest {
        BrokerUnderTest {
            name,
            bootstrap,
            security: Security::Plaintext,
            ca_file: None,
            child: Some(child),
            _data_dir: Some(data_dir),
            _tls_dir: None,
        }
    }

    /// A broker somebody else runs.
    pub fn external(bootstrap: &str) -> BrokerUnderTest {
        BrokerUnderTest {
            name: "external",
            bootstrap: bootstrap.to_owned(),
            security: Security::Plaintext,
            ca_file: None,
            child: None,
            _data_dir: None,
            _tls_dir: None,
        }
    }

    fn wait_listening(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(&self.bootstrap).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on {} within {START_TIMEOUT:?}",
                    self.name, self.bootstrap
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// CPU and memory of the broker process, when we started it.
    pub fn snapshot(&self) -> Option<ProcSnapshot> {
        procstat::snapshot(self.child.as_ref()?.id())
    }
}

impl Drop for BrokerUnderTest {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where the Tansu binary is: `$DURIAN_TANSU_BIN`, else the repository's `.peers/bin/tansu`.
pub fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DURIAN_TANSU_BIN") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    Some(repo.join(".peers/bin/tansu")).filter(|p| p.is_file())
}

/// Body of `durian-bench serve-broker`: runs durian's broker until killed.
/// With `sasl_ssl_dir` (the files of [`security::write_tls_files`]) its one
/// listener is SASL_SSL with the bench's SCRAM-SHA-512 user, a super user
/// so that no ACLs are needed.
pub async fn serve(data_dir: PathBuf, sasl_ssl_dir: Option<PathBuf>) -> Result<(), String> {
    let mut builder = durian_broker::Broker::builder()
        .data_dir(data_dir)
        .listen("127.0.0.1:0")
        .auto_create_topics(false);
    if let Some(dir) = sasl_ssl_dir {
        builder = builder
            .tls(dir.join(security::CERT_FILE), dir.join(security::KEY_FILE))
            .sasl_scram_user(
                durian_broker::ScramMechanism::Sha512,
                security::USER,
                security::PASSWORD,
            )
            .super_users([durian_broker::Principal::user(security::USER)]);
    }
    let handle = builder
        .start()
        .await
        .map_err(|e| format!("durian broker failed to start: {e}"))?;
    println!("{LISTENING_PREFIX}{}", handle.bootstrap());
    // The parent reads one line, then kills us when the run is over.
    std::future::pending::<()>().await;
    drop(handle);
    Ok(())
}
