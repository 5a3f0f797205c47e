//! `durian perf`: measure produce or consume throughput and latency.
//!
//! ```text
//! durian perf produce TOPIC --num N --size BYTES [--rate R] [--acks 0|1|all] [--compression CODEC]
//! durian perf consume TOPIC --num N [-g GROUP] [--timeout 30s]
//! ```
//!
//! A progress line goes to stderr while the run lasts; the summary
//! (records/s, MB/s, and for produce the send → ack latency p50, p99,
//! p99.9 and max) goes to stdout. The topic must exist. `-X key=value`
//! reaches the producer or consumer, so e.g. `-X linger.ms=20` can be
//! compared with the defaults.

pub mod consume;
pub mod histogram;
pub mod produce;
pub mod progress;
pub mod report;

pub use report::{parse_duration, PerfReport};

use std::time::Duration;

use clap::{Args, Subcommand};
use durian::consumer::Consumer;
use durian::producer::Producer;

use crate::{CliError, GlobalOpts};
use consume::ConsumeRun;
use produce::ProduceRun;

/// Options of `durian perf`.
#[derive(Debug, Args)]
pub struct PerfArgs {
    /// Which side to measure.
    #[command(subcommand)]
    pub mode: PerfMode,
    /// Serve the client's metrics at `http://HOST:PORT/metrics` in the
    /// Prometheus text format while the command runs (port 0 picks a free
    /// one; `metrics on HOST:PORT` is printed on stderr). Not
    /// authenticated.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
}

/// `durian perf produce` or `durian perf consume`.
#[derive(Debug, Subcommand)]
pub enum PerfMode {
    /// Send N records of SIZE bytes and time each from send to acknowledgement.
    Produce(PerfProduceArgs),
    /// Read N records from the beginning of a topic.
    Consume(PerfConsumeArgs),
}

/// Options of `durian perf produce`.
#[derive(Debug, Args)]
pub struct PerfProduceArgs {
    /// Topic to write to; it must exist.
    pub topic: String,
    /// Number of records.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub num: u64,
    /// Bytes of each record's value.
    #[arg(long)]
    pub size: usize,
    /// Records per second (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Acknowledgements to wait for: 0, 1 or all (0 and 1 turn idempotence off).
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all", "-1"])]
    pub acks: String,
    /// Compression codec.
    #[arg(long, default_value = "none", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: String,
}

/// Options of `durian perf consume`.
#[derive(Debug, Args)]
pub struct PerfConsumeArgs {
    /// Topic to read; it must exist.
    pub topic: String,
    /// Number of records to read.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub num: u64,
    /// Read as a member of this consumer group, which resumes from its
    /// committed offsets and commits on exit; without it every partition
    /// is read from the beginning without a group.
    #[arg(short = 'g', long = "group")]
    pub group: Option<String>,
    /// Give up when no record arrives for this long (e.g. 30s, 500ms).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Runs `durian perf`.
pub async fn run(args: PerfArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let _metrics = match &args.metrics_listen {
        Some(address) => Some(crate::metrics_listen::start(address).await?),
        None => None,
    };
    let report = match args.mode {
        PerfMode::Produce(args) => produce(args, global).await?,
        PerfMode::Consume(args) => consume(args, global).await?,
    };
    println!("{report}");
    Ok(())
}

async fn produce(args: PerfProduceArgs, global: &GlobalOpts) -> Result<PerfReport, CliError> {
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(CliError::new(format!(
                "--rate must be a positive number of records per second, got {rate}"
            )));
        }
    }
    let mut defaults = vec![
        ("acks", args.acks.clone()),
        ("compression.type", args.compression.clone()),
    ];
    // Idempotence requires acks=all; asking for fewer acks means the user
    // wants the cheaper path, so turn it off rather than fail the build.
    if args.acks == "0" || args.acks == "1" {
        defaults.push(("enable.idempotence", "false".to_owned()));
    }
    let producer = Producer::from_properties(global.client_properties(&defaults))?;
    let run = ProduceRun {
        topic: args.topic,
        num: args.num,
        size: args.size,
        rate: args.rate,
    };
    produce::run(producer, &run).await
}

async fn consume(args: PerfConsumeArgs, global: &GlobalOpts) -> Result<PerfReport, CliError> {
    let mut defaults = vec![("auto.offset.reset", "earliest".to_owned())];
    if let Some(group) = &args.group {
        defaults.push(("group.id", group.clone()));
    }
    let consumer = Consumer::from_properties(global.client_properties(&defaults))?;
    let run = ConsumeRun {
        topic: args.topic,
        num: args.num,
        group: args.group,
        idle_timeout: args.timeout,
    };
    consume::run(consumer, &run).await
}
