//! `durian broker` as a child process that scenarios can SIGKILL.
//!
//! The contract with the command (see cli/src/broker.rs): started
//! with `--listen HOST:PORT --data-dir DIR`, its first stdout line is
//! `listening on HOST:PORT` once the listener is bound. Every restart asks
//! for the same port again, so clients keep their bootstrap address, as
//! they would with a real broker host.
//!
//! The port is picked *below* the kernel's ephemeral range: a port taken
//! from that range (port 0) can, while the broker is dead, be handed to any
//! outgoing connection as its local port — including the test's own
//! clients' — and the restart would then find it in use for as long as
//! that connection lives.
//! stderr goes to a log file beside the data directory, shown by
//! [`BrokerProcess::log_tail`] when a scenario fails.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::durian_binary::durian_binary;

/// How long a start may take before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starting or stopping the broker process failed.
#[derive(Debug)]
pub struct ProcessError(pub String);

impl std::fmt::Display for ProcessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for ProcessError {}

/// Options of the broker process.
#[derive(Clone, Debug)]
pub struct BrokerOptions {
    /// `--fsync always` instead of page-cache durability.
    pub fsync_always: bool,
    /// `--no-auto-create`.
    pub no_auto_create: bool,
    /// Extra arguments after the standard ones.
    pub extra_args: Vec<String>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            fsync_always: false,
            no_auto_create: true,
            extra_args: Vec::new(),
        }
    }
}

/// Peak and current resident memory of a process, from /proc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `VmHWM`: the peak resident set, KiB.
    pub peak_kib: u64,
    /// `VmRSS`: the current resident set, KiB.
    pub current_kib: u64,
}

/// One `durian broker` child process on a fixed data directory.
#[derive(Debug)]
pub struct BrokerProcess {
    binary: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    options: BrokerOptions,
    address: SocketAddr,
    child: Option<Child>,
    starts: u32,
}

impl BrokerProcess {
    /// Starts a broker on a free port with its data in `work_dir/data` and
    /// its log in `work_dir/broker.log`.
    pub fn start(work_dir: &Path, options: BrokerOptions) -> Result<BrokerProcess, ProcessError> {
        let binary = durian_binary().map_err(|e| ProcessError(e.to_string()))?;
        let mut broker = BrokerProcess {
            binary,
            data_dir: work_dir.join("data"),
            log_path: work_dir.join("broker.log"),
            options,
            address: SocketAddr::from(([127, 0, 0, 1], fixed_port()?)),
            child: None,
            starts: 0,
        };
        broker.spawn_until_listening(START_TIMEOUT)?;
        Ok(broker)
    }

    /// `HOST:PORT` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.address.to_string()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The running child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Kills the process with SIGKILL (no shutdown code runs) and reaps it.
    pub fn kill(&mut self) -> Result<(), ProcessError> {
        if let Some(mut child) = self.child.take() {
            // On Unix `Child::kill` is SIGKILL.
            child
                .kill()
                .map_err(|e| ProcessError(format!("SIGKILL failed: {e}")))?;
            child
                .wait()
                .map_err(|e| ProcessError(format!("reaping the killed broker failed: {e}")))?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit.
    pub fn terminate(&mut self, timeout: Duration) -> Result<(), ProcessError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .map_err(|e| ProcessError(format!("cannot run kill: {e}")))?;
        if !sent.success() {
            return Err(ProcessError(format!("kill -TERM failed: {sent}")));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(ProcessError(format!(
                        "broker exited with {status} after SIGTERM"
                    )))
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ProcessError(format!(
                        "broker ignored SIGTERM for {timeout:?}"
                    )));
                }
                Err(e) => return Err(ProcessError(format!("waiting for the broker failed: {e}"))),
            }
        }
    }

    /// Starts the process again on the same port and data directory
    /// (after [`kill`](Self::kill) or [`terminate`](Self::terminate)).
    pub fn restart(&mut self) -> Result<(), ProcessError> {
        if self.child.is_some() {
            return Err(ProcessError("restart while the broker is running".into()));
        }
        self.spawn_until_listening(START_TIMEOUT)
    }

    /// Whether the child is still running (it may have died on its own).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The process's peak and current resident memory.
    pub fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Some(Memory {
            peak_kib: field("VmHWM:")?,
            current_kib: field("VmRSS:")?,
        })
    }

    /// The last `lines` lines the broker logged (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn spawn_until_listening(&mut self, timeout: Duration) -> Result<(), ProcessError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.spawn_once(deadline) {
                Ok(()) => return Ok(()),
                // The old process's port may take a moment to be free again.
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, "broker restart failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => {
                    return Err(ProcessError(format!(
                        "{error}\nbroker log:\n{}",
                        self.log_tail(30)
                    )))
                }
            }
        }
    }

    fn spawn_once(&mut self, deadline: Instant) -> Result<(), ProcessError> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| ProcessError(format!("cannot create {}: {e}", self.data_dir.display())))?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| ProcessError(format!("cannot open {}: {e}", self.log_path.display())))?;
        let mut command = Command::new(&self.binary);
        command
            .arg("broker")
            .arg("--listen")
            .arg(self.address.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir);
        if self.options.fsync_always {
            command.args(["--fsync", "always"]);
        }
        if self.options.no_auto_create {
            command.arg("--no-auto-create");
        }
        command
            .args(&self.options.extra_args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = command
            .spawn()
            .map_err(|e| ProcessError(format!("cannot start {}: {e}", self.binary.display())))?;
        let stdout = child.stdout.take();
        let (lines_tx, lines_rx) = mpsc::channel();
        // The reader thread keeps draining stdout so the broker never
        // blocks on a full pipe; it ends when the process does.
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let wait = deadline.saturating_duration_since(Instant::now());
        let announced = lines_rx.recv_timeout(wait);
        let address = announced
            .ok()
            .and_then(|line| line.strip_prefix("listening on ").map(str::to_owned))
            .and_then(|a| a.trim().parse::<SocketAddr>().ok());
        match address {
            Some(address) => {
                self.address = address;
                self.child = Some(child);
                self.starts += 1;
                Ok(())
            }
            None => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(ProcessError(format!(
                    "broker on {} did not announce its address (exit: {status})",
                    self.address
                )))
            }
        }
    }
}

/// A free port below the ephemeral range (see the module docs).
fn fixed_port() -> Result<u16, ProcessError> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(ephemeral_low.saturating_sub(1_000));
    let high = ephemeral_low.saturating_sub(1).max(low + 1);
    for _ in 0..200 {
        let port = rand::random_range(low..high);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(ProcessError(format!(
        "no free port found in {low}..{high} (below the ephemeral range)"
    )))
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
