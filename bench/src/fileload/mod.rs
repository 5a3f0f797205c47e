//! The whole-process file → topic scenario (issue 18): a file of N lines
//! of 100 B is written once per run, then each tool ships it to a fresh
//! topic as a whole process, measured from outside (wall time, user+sys
//! CPU and peak RSS from `wait4`, optionally system calls under
//! `strace -c -f`), and the topic must hold exactly N records afterwards.
//!
//! The tools: durian's release CLI, `durian produce TOPIC -f FILE` (exits
//! once every line is acknowledged) and `durian ship` (a long-running
//! agent: timed until the topic's end offsets sum to N, then stopped with
//! SIGTERM), against the peer, a small rdkafka program
//! (`clients::rdkafka_file`, run as `durian-bench rdkafka-file`).

pub mod process;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::brokers::BrokerUnderTest;
use crate::clients::VALUE_POOL;
use crate::payload;
use crate::topics::{self, EndOffsets};
use process::Running;

/// Bytes of each line's value (the newline comes on top).
pub const LINE_BYTES: usize = 100;
/// How often the ship run asks for the topic's end offsets.
const SHIP_POLL: Duration = Duration::from_millis(20);

/// The durian CLI the bench runs when neither `--durian-bin` nor
/// `DURIAN_BENCH_CLI` names one: the main workspace's release build.
pub const DEFAULT_DURIAN_BIN: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/durian");

/// A whole process that ships the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileTool {
    /// `durian produce TOPIC -f FILE`.
    DurianProduce,
    /// `durian ship --file FILE --topic TOPIC`.
    DurianShip,
    /// The rdkafka program (ThreadedProducer, librdkafka's defaults).
    Rdkafka,
}

impl FileTool {
    /// Every tool, in column order.
    pub const ALL: [FileTool; 3] = [
        FileTool::DurianProduce,
        FileTool::DurianShip,
        FileTool::Rdkafka,
    ];
}

impl fmt::Display for FileTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileTool::DurianProduce => "durian produce -f",
            FileTool::DurianShip => "durian ship",
            FileTool::Rdkafka => "rdkafka program",
        })
    }
}

/// A figure of one whole-process run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileMetric {
    /// Lines per second over the wall time.
    Rate,
    /// Wall time from spawn to exit (ship: to the last line on the broker).
    Wall,
    /// User + system CPU of the whole process.
    Cpu,
    /// Peak RSS of the process.
    PeakRss,
    /// System calls of all its threads (`--strace`, a separate run).
    Syscalls,
}

impl FileMetric {
    /// Every row, in table order.
    pub const ALL: [FileMetric; 5] = [
        FileMetric::Rate,
        FileMetric::Wall,
        FileMetric::Cpu,
        FileMetric::PeakRss,
        FileMetric::Syscalls,
    ];

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            FileMetric::Rate => "file → topic: lines/s (whole process)",
            FileMetric::Wall => "wall time s",
            FileMetric::Cpu => "process CPU s (user+sys)",
            FileMetric::PeakRss => "process peak RSS MB",
            FileMetric::Syscalls => "system calls (strace -c -f, separate run)",
        }
    }
}

/// Figures of one run, per row and tool.
pub type FileFigures = BTreeMap<(FileMetric, FileTool), f64>;

/// What the scenario needs besides the broker.
#[derive(Debug, Clone)]
pub struct FileSetup {
    /// Lines in the file.
    pub lines: u64,
    /// Partitions of each topic.
    pub partitions: i32,
    /// The durian CLI; `None` leaves its two columns out.
    pub durian_bin: Option<PathBuf>,
    /// Also count system calls, in one more run of each tool under strace.
    pub strace: bool,
    /// Include `durian ship`.
    pub ship: bool,
}

/// Writes `lines` lines of [`LINE_BYTES`] log-like bytes each to `path`.
pub fn write_file(path: &Path, lines: u64) -> Result<(), String> {
    let values = payload::values(LINE_BYTES, VALUE_POOL);
    let file =
        std::fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    for i in 0..lines {
        let value = &values[i as usize % values.len()];
        out.write_all(value)
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    out.flush()
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Every tool once (and once more under strace with `setup.strace`),
/// each on a fresh topic; tools rotate by one per run like the clients.
pub async fn run(setup: &FileSetup, broker: &BrokerUnderTest, run: usize) -> FileFigures {
    let mut figures = FileFigures::new();
    let dir = match tempfile::Builder::new()
        .prefix("durian-bench-file")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("  file scenario FAILED: temp dir: {e}");
            return figures;
        }
    };
    let file = dir.path().join("lines.log");
    if let Err(e) = write_file(&file, setup.lines) {
        eprintln!("  file scenario FAILED: {e}");
        return figures;
    }
    let mut tools: Vec<FileTool> = FileTool::ALL
        .into_iter()
        .filter(|t| match t {
            FileTool::DurianProduce => setup.durian_bin.is_some(),
            FileTool::DurianShip => setup.durian_bin.is_some() && setup.ship,
            FileTool::Rdkafka => true,
        })
        .collect();
    let shift = run.saturating_sub(1) % tools.len().max(1);
    tools.rotate_left(shift);
    for tool in tools {
        let ctx = OneRun {
            setup,
            broker,
            run,
            dir: dir.path(),
            file: &file,
            tool,
        };
        match ctx.measure(false).await {
            Ok(m) => {
                let secs = m.wall.as_secs_f64();
                eprintln!(
                    "  {tool:<18} {:>10.0} lines/s  wall {secs:.2}s  cpu {:.2}s  rss {} MB",
                    setup.lines as f64 / secs,
                    m.cpu.as_secs_f64(),
                    m.max_rss_kib / 1024
                );
                figures.insert((FileMetric::Rate, tool), setup.lines as f64 / secs);
                figures.insert((FileMetric::Wall, tool), secs);
                figures.insert((FileMetric::Cpu, tool), m.cpu.as_secs_f64());
                figures.insert((FileMetric::PeakRss, tool), m.max_rss_kib as f64 / 1024.0);
            }
            Err(e) => {
                eprintln!("  {tool} FAILED: {e}");
                continue;
            }
        }
        if setup.strace {
            match ctx.measure(true).await {
                Ok(m) => {
                    if let Some(calls) = m.syscalls {
                        eprintln!("  {tool:<18} {calls} system calls (strace)");
                        figures.insert((FileMetric::Syscalls, tool), calls as f64);
                    }
                }
                Err(e) => eprintln!("  {tool} under strace FAILED: {e}"),
            }
        }
    }
    figures
}

/// One measured process.
struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    syscalls: Option<u64>,
}

/// One tool's run on a fresh topic.
struct OneRun<'a> {
    setup: &'a FileSetup,
    broker: &'a BrokerUnderTest,
    run: usize,
    dir: &'a Path,
    file: &'a Path,
    tool: FileTool,
}

impl OneRun<'_> {
    async fn measure(&self, strace: bool) -> Result<Measured, String> {
        let tag = match self.tool {
            FileTool::DurianProduce => "produce",
            FileTool::DurianShip => "ship",
            FileTool::Rdkafka => "rdkafka",
        };
        let name = format!("{tag}{}", if strace { "-strace" } else { "" });
        let topic = format!("bench-r{}-file-{name}", self.run);
        topics::create(self.broker, &topic, self.setup.partitions).await?;
        let outcome = self.measure_on(&topic, &name, strace).await;
        topics::delete(self.broker, &topic).await;
        outcome
    }

    async fn measure_on(&self, topic: &str, name: &str, strace: bool) -> Result<Measured, String> {
        let ends = EndOffsets::new(self.broker, topic, self.setup.partitions)?;
        let (program, args) = self.command(topic, name)?;
        let stderr = self.dir.join(format!("{name}.stderr"));
        let strace_out = strace.then(|| self.dir.join(format!("{name}.strace")));
        crate::orchestrate::settle_disk().await;
        let what = self.tool.to_string();
        let running = Running::spawn(&what, &program, &args, &stderr, strace_out.as_deref())?;
        let (wall, exited) = if self.tool == FileTool::DurianShip {
            // The agent never exits on its own: the clock stops when the
            // broker holds every line, then it is asked to stop.
            let shipped = wait_for_records(&running, &ends, self.setup.lines).await;
            let wall = running.elapsed();
            running.signal_group(libc::SIGTERM);
            let (_, exited) = running.wait().await?;
            shipped?;
            (wall, exited)
        } else {
            running.wait().await?
        };
        let held = ends.sum().await?;
        if held != self.setup.lines as i64 {
            return Err(format!(
                "{what}: the topic holds {held} records, expected {}",
                self.setup.lines
            ));
        }
        let syscalls = match &strace_out {
            Some(out) => {
                let summary = std::fs::read_to_string(out)
                    .map_err(|e| format!("{what}: reading {}: {e}", out.display()))?;
                Some(
                    process::strace_total_calls(&summary)
                        .ok_or_else(|| format!("{what}: no total row in {}", out.display()))?,
                )
            }
            None => None,
        };
        Ok(Measured {
            wall,
            cpu: exited.cpu,
            max_rss_kib: exited.max_rss_kib,
            syscalls,
        })
    }

    /// The program and arguments of this tool.
    fn command(&self, topic: &str, name: &str) -> Result<(PathBuf, Vec<String>), String> {
        let file = self.file.display().to_string();
        let bootstrap = self.broker.bootstrap.clone();
        let durian = || {
            self.setup
                .durian_bin
                .clone()
                .ok_or_else(|| "no durian binary".to_owned())
        };
        Ok(match self.tool {
            FileTool::DurianProduce => (
                durian()?,
                vec![
                    "-b".into(),
                    bootstrap,
                    "produce".into(),
                    topic.into(),
                    "-f".into(),
                    file,
                ],
            ),
            FileTool::DurianShip => (
                durian()?,
                vec![
                    "-b".into(),
                    bootstrap,
                    "ship".into(),
                    "--file".into(),
                    file,
                    "--topic".into(),
                    topic.into(),
                    // A fresh checkpoint each run: an old one would resume
                    // at the end of the file.
                    "--checkpoint".into(),
                    self.dir
                        .join(format!("{name}.checkpoint"))
                        .display()
                        .to_string(),
                ],
            ),
            FileTool::Rdkafka => (
                std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?,
                vec![
                    "rdkafka-file".into(),
                    "--bootstrap".into(),
                    bootstrap,
                    "--topic".into(),
                    topic.into(),
                    "--file".into(),
                    file,
                ],
            ),
        })
    }
}

/// Polls the topic's end offsets until they sum to `lines`; an error when
/// they pass it, the process exits first, or [`process::PROCESS_TIMEOUT`] passes.
async fn wait_for_records(running: &Running, ends: &EndOffsets, lines: u64) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + process::PROCESS_TIMEOUT;
    loop {
        let held = ends.sum().await?;
        if held == lines as i64 {
            return Ok(());
        }
        if held > lines as i64 {
            return Err(format!(
                "the topic holds {held} records, more than the {lines} lines"
            ));
        }
        if running.has_exited() {
            return Err(format!("exited after {held} of {lines} lines"));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{held} of {lines} lines after {:?}",
                process::PROCESS_TIMEOUT
            ));
        }
        tokio::time::sleep(SHIP_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_the_lines_asked_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        write_file(&path, 2500).expect("write");
        let text = std::fs::read(&path).expect("read");
        assert_eq!(text.len(), 2500 * (LINE_BYTES + 1));
        assert_eq!(text.iter().filter(|b| **b == b'\n').count(), 2500);
    }
}
