//! One whole client process, measured from outside: wall time from spawn
//! to exit (or to a moment the caller picks), user+sys CPU and peak RSS
//! from `wait4(2)`'s rusage of that child, and, under `strace -c -f`, its
//! system call count.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a whole-process run may take before it is killed and failed.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(600);

/// What the kernel reported for one finished child.
#[derive(Debug, Clone, Copy)]
pub struct Exited {
    /// Whether it exited with status 0.
    pub success: bool,
    /// User plus system CPU of the child and its threads.
    pub cpu: Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
}

/// A started child process; its stderr goes to a file, shown when it fails.
#[derive(Debug)]
pub struct Running {
    pid: libc::pid_t,
    started: Instant,
    stderr_file: PathBuf,
    what: String,
}

impl Running {
    /// Starts `program args...` (under `strace -c -f -o STRACE_OUT` when
    /// given) in a process group of its own, stdout discarded, stderr to
    /// `stderr_file`.
    pub fn spawn(
        what: &str,
        program: &Path,
        args: &[String],
        stderr_file: &Path,
        strace_out: Option<&Path>,
    ) -> Result<Running, String> {
        let mut command = match strace_out {
            Some(out) => {
                let mut c = Command::new("strace");
                c.arg("-c")
                    .arg("-f")
                    .arg("-o")
                    .arg(out)
                    .arg("--")
                    .arg(program);
                c
            }
            None => Command::new(program),
        };
        let stderr = std::fs::File::create(stderr_file)
            .map_err(|e| format!("{what}: creating {}: {e}", stderr_file.display()))?;
        // Its own group, so a stop signal can reach strace and the traced
        // client at once.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("{what}: cannot start {}: {e}", program.display()))?;
        let started = Instant::now();
        let pid = libc::pid_t::try_from(child.id())
            .map_err(|_| format!("{what}: pid {} out of range", child.id()))?;
        // The child is reaped with wait4 below, not through `Child`.
        drop(child);
        Ok(Running {
            pid,
            started,
            stderr_file: stderr_file.to_owned(),
            what: what.to_owned(),
        })
    }

    /// Time since the process was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the process has exited (a zombie not yet reaped, or gone).
    pub fn has_exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            // The state follows the command name, which may hold spaces.
            Ok(stat) => stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|state| state == "Z" || state == "X"),
            Err(_) => true,
        }
    }

    /// Sends `signal` to the process group (the client, and strace around it).
    pub fn signal_group(&self, signal: libc::c_int) {
        // SAFETY: kill has no memory effects; the group is the one the
        // child leads, and it has not been reaped yet.
        unsafe {
            libc::kill(-self.pid, signal);
        }
    }

    /// Waits for the process to exit (killing its group after
    /// [`PROCESS_TIMEOUT`]) and returns its wall time and rusage; an error
    /// with the tail of its stderr when it did not exit with status 0.
    pub async fn wait(self) -> Result<(Duration, Exited), String> {
        let pid = self.pid;
        let waiter = tokio::task::spawn_blocking(move || reap(pid));
        let exited = match tokio::time::timeout(PROCESS_TIMEOUT, waiter).await {
            Ok(joined) => joined.map_err(|e| format!("{}: waiter: {e}", self.what))??,
            Err(_) => {
                self.signal_group(libc::SIGKILL);
                return Err(format!(
                    "{}: still running after {PROCESS_TIMEOUT:?}; killed",
                    self.what
                ));
            }
        };
        let wall = self.started.elapsed();
        if !exited.success {
            return Err(format!(
                "{} failed: {}",
                self.what,
                stderr_tail(&self.stderr_file)
            ));
        }
        Ok((wall, exited))
    }
}

/// Blocks in `wait4` until `pid` exits.
fn reap(pid: libc::pid_t) -> Result<Exited, String> {
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 only writes into the zeroed struct and int we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our unreaped child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4({pid}): {err}"));
        }
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Ok(Exited {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss.max(0) as u64,
    })
}

/// The last few lines a failed child wrote to stderr.
fn stderr_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        "no stderr".to_owned()
    } else {
        tail
    }
}

/// Whether `strace` can be run.
pub fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The total call count from an `strace -c` summary (its `total` row:
/// `% time, seconds, usecs/call, calls, [errors,] total`).
pub fn strace_total_calls(summary: &str) -> Option<u64> {
    let row = summary
        .lines()
        .rev()
        .find(|l| l.split_whitespace().last() == Some("total"))?;
    row.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_total_row_is_parsed() {
        let summary = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.006000           5      1200        12 futex
 40.00    0.004000           2      2000           write
------ ----------- ----------- --------- --------- ----------------
100.00    0.010000           3      3200        12 total
";
        assert_eq!(strace_total_calls(summary), Some(3200));
        assert_eq!(strace_total_calls("no summary"), None);
    }

    #[tokio::test]
    async fn a_child_is_measured_and_its_failure_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = dir.path().join("stderr");
        let ok = Running::spawn("true", Path::new("true"), &[], &err, None).expect("spawn");
        let (wall, exited) = ok.wait().await.expect("true exits 0");
        assert!(exited.success && exited.max_rss_kib > 0 && wall > Duration::ZERO);
        let args = vec!["-c".to_owned(), "echo boom >&2; exit 3".to_owned()];
        let bad = Running::spawn("sh", Path::new("sh"), &args, &err, None).expect("spawn");
        let failure = bad.wait().await.expect_err("exit 3 is a failure");
        assert!(failure.contains("boom"), "{failure}");
    }
}
