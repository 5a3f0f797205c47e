//! The lock that keeps a second broker off a data directory.
//!
//! ```text
//! <data>/.lock   "<pid> <process start time>\n", created with O_EXCL
//!
//! start ──create_new(.lock)──▶ ok: ours until the broker goes away (then removed)
//!              │ exists
//!              ▼
//!        holder alive? (/proc/<pid>/stat exists with the same start time)
//!              ├─ yes ─▶ refuse: BrokerError::DataDirLocked naming dir and holder
//!              └─ no  ─▶ stale (a crash): remove it, try once more
//! ```
//!
//! Kafka takes an OS file lock on `.lock`. The workspace forbids `unsafe`
//! and its minimum Rust (1.87) predates `File::try_lock` (1.89), so this is
//! a lock *file* instead. Its limits: liveness is read from `/proc`, so on
//! a system without `/proc` a stale lock is only recognised by a dead pid
//! never being found there (the lock is then treated as stale); a broker on
//! another host sharing the directory over a network file system is not
//! seen as alive; and a process killed between the check and the removal of
//! a stale lock by two brokers starting at once is resolved by `create_new`
//! (one of them wins, the other refuses). Recording the process start time
//! next to the pid keeps a recycled pid from passing for the holder.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::broker::BrokerError;

/// Name of the lock file in the data directory.
const LOCK_FILE: &str = ".lock";

/// A held lock on a data directory; dropping it removes the lock file.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    path: PathBuf,
    /// What was written, so a lock taken over by someone else is left alone.
    contents: String,
}

impl DataDirLock {
    /// Locks `data_dir` (which must exist) for this process.
    pub(crate) fn acquire(data_dir: &Path) -> Result<DataDirLock, BrokerError> {
        let path = data_dir.join(LOCK_FILE);
        let pid = std::process::id();
        let contents = format!("{pid} {}\n", start_time(pid).unwrap_or_default());
        // Two attempts: the second after removing a stale lock.
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(contents.as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(|source| BrokerError::DataDir {
                            path: path.clone(),
                            source,
                        })?;
                    return Ok(DataDirLock { path, contents });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    if let Some(live) = live_holder(&holder) {
                        return Err(BrokerError::DataDirLocked {
                            path: data_dir.to_path_buf(),
                            holder: live,
                        });
                    }
                    tracing::warn!(lock = %path.display(), holder = holder.trim(),
                        "removing a stale data directory lock (its process is gone)");
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(BrokerError::DataDir { path, source }),
                    }
                }
                Err(source) => return Err(BrokerError::DataDir { path, source }),
            }
        }
        Err(BrokerError::DataDirLocked {
            path: data_dir.to_path_buf(),
            holder: "another broker starting at the same moment".to_string(),
        })
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.path).is_ok_and(|found| found == self.contents) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// "process <pid>" if the lock's holder is still running.
fn live_holder(lock: &str) -> Option<String> {
    let mut fields = lock.split_whitespace();
    let pid: u32 = fields.next()?.parse().ok()?;
    let recorded: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    let started = start_time(pid)?;
    // 0: the holder could not read its own start time; trust the pid.
    (recorded == 0 || recorded == started).then(|| format!("process {pid}"))
}

/// The start time of process `pid` (field 22 of `/proc/<pid>/stat`, in
/// clock ticks since boot), or `None` if no such process runs. A zombie
/// (killed, not yet reaped by its parent, e.g. a test harness after
/// SIGKILL) does not run.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start behind the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_lock_refuses_a_second_holder_naming_dir_and_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = DataDirLock::acquire(dir.path()).expect("first");
        let err = DataDirLock::acquire(dir.path()).expect_err("second");
        let message = err.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        drop(lock);
        let again =
            DataDirLock::acquire(dir.path()).expect("free again after the holder went away");
        drop(again);
        assert!(!dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn data_dir_lock_takes_over_a_stale_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A pid beyond the kernel's maximum (2^22) never runs.
        std::fs::write(dir.path().join(LOCK_FILE), "4194305 12345\n").expect("write");
        let _lock = DataDirLock::acquire(dir.path()).expect("stale lock taken over");
        // A recycled pid: ours, but with another start time.
        let dir = tempfile::tempdir().expect("temp dir");
        let recycled = format!("{} 1\n", std::process::id());
        std::fs::write(dir.path().join(LOCK_FILE), recycled).expect("write");
        let _lock = DataDirLock::acquire(dir.path()).expect("recycled pid is not the holder");
    }

    #[test]
    fn data_dir_lock_treats_a_killed_unreaped_holder_as_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        let started = start_time(pid).expect("running child");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(LOCK_FILE), format!("{pid} {started}\n")).expect("write");
        assert!(DataDirLock::acquire(dir.path()).is_err(), "a live holder");
        child.kill().expect("kill");
        // Not reaped yet: a zombie. Wait for the kill to land by watching
        // the state, bounded.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while start_time(pid).is_some() {
            assert!(std::time::Instant::now() < deadline, "child never died");
            std::thread::yield_now();
        }
        let _lock = DataDirLock::acquire(dir.path()).expect("the zombie does not hold it");
        child.wait().expect("reap");
    }
}
