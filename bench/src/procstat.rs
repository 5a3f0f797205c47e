//! CPU time and memory of another process (the broker), from /proc.

use std::time::Duration;

/// A snapshot of one process's CPU time and memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSnapshot {
    /// utime + stime.
    pub cpu: Duration,
    /// Resident set size now, KiB.
    pub rss_kib: u64,
    /// Peak resident set size (VmHWM), KiB.
    pub hwm_kib: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; `None` when the
/// process is gone or the files do not parse.
pub fn snapshot(pid: u32) -> Option<ProcSnapshot> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSnapshot {
        cpu: cpu_from_stat(&stat, clock_ticks_per_sec())?,
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
        hwm_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
    })
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// utime and stime are fields 14 and 15; the command name (field 2) may hold
/// spaces, so counting starts after its closing parenthesis.
fn cpu_from_stat(stat: &str, ticks_per_sec: u64) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_secs_f64(ticks as f64 / ticks_per_sec as f64))
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_past_a_name_with_spaces() {
        let stat = "42 (my broker) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1000 0 0";
        assert_eq!(cpu_from_stat(stat, 100), Some(Duration::from_secs(3)));
    }

    #[test]
    fn own_process_is_readable() {
        let snap = snapshot(std::process::id()).expect("own /proc entry");
        assert!(snap.rss_kib > 0 && snap.hwm_kib >= snap.rss_kib);
    }
}
