//! One agent per checkpoint: an exclusive lock file next to it.
//!
//! Two agents resuming from one checkpoint would both ship every line, so
//! the shipper holds `CHECKPOINT.lock` while it runs. The file is created
//! with `create_new` (O_EXCL: exactly one creator wins, also on NFSv3 and
//! later) and holds the owner's pid, host and start time:
//!
//! ```text
//! pid=4711
//! host=web-3
//! since=1764979200.123456789
//! ```
//!
//! It is removed when the shipper stops, or when its `run` future is
//! dropped. A process killed with SIGKILL leaves it behind; the next agent
//! takes it over when the holder is *provably* gone: same host, and no
//! `/proc/PID` (Linux). Everywhere else (another host, no procfs, a file
//! it cannot read) it refuses and names the file, for an operator to
//! remove. Not `flock`: `File::try_lock` needs Rust 1.89 (the workspace
//! supports 1.87) and the workspace has no unsafe code for `libc::flock`.
//!
//! Limits: a pid reused by an unrelated process makes a stale lock look
//! held (a refusal, never a second agent); two agents taking over the same
//! stale lock at the same instant can both win (each checks after writing
//! that the file holds its own token, which narrows but does not close
//! that window).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::ShipError;

/// Held while a shipper runs; removes the lock file when dropped.
#[derive(Debug)]
pub(crate) struct CheckpointLock {
    path: PathBuf,
    /// What this holder wrote into the file.
    token: String,
}

/// How many times a stale lock is taken over before giving up (another
/// agent keeps winning the race for it).
const ATTEMPTS: usize = 3;

impl CheckpointLock {
    /// Takes the lock of `checkpoint`, or says who holds it. Blocking.
    pub(crate) fn acquire(checkpoint: &Path) -> Result<CheckpointLock, ShipError> {
        let path = lock_path(checkpoint);
        let io_error = |source| ShipError::CheckpointIo {
            path: path.clone(),
            source,
        };
        let token = own_token();
        let mut holder = String::from("unknown holder");
        for _ in 0..ATTEMPTS {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(token.as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(io_error)?;
                    // Another agent may have removed our file as stale
                    // between our create and now, and written its own.
                    match std::fs::read_to_string(&path) {
                        Ok(text) if text == token => return Ok(CheckpointLock { path, token }),
                        Ok(text) => {
                            holder = describe(&text);
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_error(e)),
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = match std::fs::read_to_string(&path) {
                        Ok(text) => text,
                        // Released in the meantime: try again.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io_error(e)),
                    };
                    holder = describe(&text);
                    if !holder_is_gone(&text) {
                        break;
                    }
                    tracing::warn!(lock = %path.display(), %holder,
                        "taking over the lock of an agent that is no longer running");
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_error(e)),
                    }
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        Err(ShipError::CheckpointLocked {
            path: checkpoint.to_path_buf(),
            lock: path,
            holder,
        })
    }
}

impl Drop for CheckpointLock {
    fn drop(&mut self) {
        // Only our own file: after a takeover it may belong to another agent.
        if std::fs::read_to_string(&self.path).is_ok_and(|text| text == self.token) {
            if let Err(error) = std::fs::remove_file(&self.path) {
                tracing::warn!(lock = %self.path.display(), %error, "could not remove the lock file");
            }
        }
    }
}

/// `CHECKPOINT.lock`.
pub(crate) fn lock_path(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

fn own_token() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "pid={}\nhost={}\nsince={}.{:09}\n",
        std::process::id(),
        host_name(),
        since.as_secs(),
        since.subsec_nanos()
    )
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The holder as the error shows it.
fn describe(text: &str) -> String {
    match (field(text, "pid"), field(text, "host")) {
        (Some(pid), Some(host)) => format!("pid {pid} on host {host}"),
        _ => {
            "a holder that has not written its pid (starting, or crashed while starting)".to_owned()
        }
    }
}

/// Whether the lock's holder is provably no longer running.
fn holder_is_gone(text: &str) -> bool {
    let (Some(pid), Some(host)) = (field(text, "pid"), field(text, "host")) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != host_name() || pid == std::process::id() {
        return false;
    }
    // Without procfs nothing proves the process is gone.
    Path::new("/proc/self").exists() && !Path::new("/proc").join(pid.to_string()).exists()
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn locked(result: Result<CheckpointLock, ShipError>) -> String {
        match result {
            Err(ShipError::CheckpointLocked { holder, .. }) => holder,
            other => panic!("expected CheckpointLocked, got {other:?}"),
        }
    }

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("a.log.durian-ship");
        let first = CheckpointLock::acquire(&checkpoint).unwrap();
        let lock = lock_path(&checkpoint);
        assert!(std::fs::read_to_string(&lock)
            .unwrap()
            .contains(&format!("pid={}\n", std::process::id())));
        let holder = locked(CheckpointLock::acquire(&checkpoint));
        assert!(holder.contains(&std::process::id().to_string()), "{holder}");
        drop(first);
        assert!(!lock.exists());
        let _again = CheckpointLock::acquire(&checkpoint).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lock_left_by_a_dead_process_on_this_host_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("c");
        // Above Linux's largest pid (2^22): no such process.
        let dead = format!("pid=4194305\nhost={}\nsince=1.0\n", host_name());
        std::fs::write(lock_path(&checkpoint), &dead).unwrap();
        let lock = CheckpointLock::acquire(&checkpoint).unwrap();
        assert_eq!(
            std::fs::read_to_string(lock_path(&checkpoint)).unwrap(),
            lock.token
        );
    }

    #[test]
    fn locks_nobody_can_prove_stale_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("c");
        for (text, expected) in [
            (
                "pid=4194305\nhost=some-other-host\nsince=1.0\n",
                "host some-other-host",
            ),
            ("", "has not written its pid"),
        ] {
            std::fs::write(lock_path(&checkpoint), text).unwrap();
            let holder = locked(CheckpointLock::acquire(&checkpoint));
            assert!(holder.contains(expected), "{holder}");
            assert_eq!(
                std::fs::read_to_string(lock_path(&checkpoint)).unwrap(),
                text
            );
        }
    }

    #[test]
    fn dropping_a_lock_does_not_remove_another_holders_file() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("c");
        let lock = CheckpointLock::acquire(&checkpoint).unwrap();
        std::fs::write(lock_path(&checkpoint), "pid=1\nhost=elsewhere\n").unwrap();
        drop(lock);
        assert!(lock_path(&checkpoint).exists());
    }
}
