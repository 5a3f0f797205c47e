//! `durian-bench`: durian's clients against rdkafka, rskafka and (with
//! `--kafka`) Apache Kafka's Java clients, on durian's broker and Apache
//! Kafka's; and durian's broker against Tansu, in one run. See
//! docs/PERFORMANCE.md.
//!
//! The orchestrator (the default command) starts the broker and one worker
//! process per client and scenario (`durian-bench worker ...`), so each
//! client's CPU time and peak memory are its own. The whole-process file →
//! topic scenario (`fileload`) runs the durian CLI and the rdkafka program
//! (`durian-bench rdkafka-file ...`) as processes measured from outside.

mod alloc_count;
mod apache_kafka;
mod baseline;
mod brokers;
mod clients;
mod fileload;
mod machine;
mod measure;
mod metrics;
mod orchestrate;
mod pacing;
mod payload;
mod procstat;
mod report;
mod security;
mod topics;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::clients::ClientKind;
use crate::orchestrate::{Plan, Scale};

#[global_allocator]
static ALLOCATOR: alloc_count::CountingAllocator = alloc_count::CountingAllocator;

/// durian against rdkafka, rskafka and Apache Kafka.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Use this broker (e.g. a Tansu you started) instead of starting durian's.
    #[arg(long)]
    brokers: Option<String>,
    /// Smaller counts and a 5 s latency run: under 3 minutes.
    #[arg(long)]
    quick: bool,
    /// Repeat the whole run K times and report medians.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Clients to run (default: durian, rdkafka, rskafka; and java with `--kafka`).
    #[arg(long, value_enum, value_delimiter = ',')]
    clients: Vec<ClientKind>,
    /// Skip durian's broker vs Tansu.
    #[arg(long)]
    skip_tansu: bool,
    /// Count heap allocations per record in the workers.
    #[arg(long)]
    count_allocs: bool,
    /// Write the tables into this markdown file (between the bench markers).
    #[arg(long)]
    write: Option<PathBuf>,
    /// The listener clients use: `sasl-ssl` starts durian's broker with a
    /// SASL_SSL listener (run-time certificate, SCRAM-SHA-512 user) and
    /// runs every client over it; Tansu sits it out.
    #[arg(long, value_enum, default_value_t = security::Security::Plaintext)]
    security: security::Security,
    /// Also run every client against Apache Kafka's broker (one KRaft node
    /// from `.peers/kafka/libs`), and add Kafka's Java perf tools as a client.
    #[arg(long)]
    kafka: bool,
    /// Skip the whole-process file → topic scenario.
    #[arg(long)]
    skip_file: bool,
    /// Only the whole-process file → topic scenario: no library clients,
    /// no broker comparison (its table is the only one printed).
    #[arg(long, conflicts_with = "skip_file")]
    file_only: bool,
    /// Run only "at each client's defaults" (and the file → topic
    /// scenario unless `--skip-file`): the quick loop for tuning a default.
    #[arg(long)]
    defaults_only: bool,
    /// Run only the 10 KB produce scenario (with the loopback baseline),
    /// no file, defaults, consume, latency or Tansu parts: the quick loop
    /// for large-record work (issue 18). Implies `--skip-file`.
    #[arg(long, conflicts_with_all = ["defaults_only", "file_only"])]
    large_only: bool,
    /// Leave `durian ship` out of the file → topic scenario.
    #[arg(long)]
    skip_ship: bool,
    /// Measure each client's library produce runs without the unmeasured
    /// warm-up run before them (see docs/PERFORMANCE.md, "Warm memory").
    #[arg(long)]
    no_warm_up: bool,
    /// The durian CLI (release build) for the file → topic scenario
    /// [default: `DURIAN_BENCH_CLI`, else ../target/release/durian
    /// relative to bench/].
    #[arg(long)]
    durian_bin: Option<PathBuf>,
    /// Count the system calls of each file → topic tool, in one more run
    /// of it under `strace -c -f` (needs strace).
    #[arg(long)]
    strace: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Internal: run one scenario with one client and print a RESULT line.
    Worker {
        #[command(flatten)]
        spec: clients::WorkerSpec,
        /// Count heap allocations.
        #[arg(long)]
        count_allocs: bool,
    },
    /// Internal: the file → topic scenario's rdkafka program (read lines,
    /// send each with a ThreadedProducer, flush).
    RdkafkaFile {
        /// Bootstrap address.
        #[arg(long)]
        bootstrap: String,
        /// Topic (already created).
        #[arg(long)]
        topic: String,
        /// The file whose lines to send.
        #[arg(long)]
        file: PathBuf,
    },
    /// Internal: run durian's broker until killed; prints its address.
    ServeBroker {
        /// Data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Serve SASL_SSL with the certificate and key in this directory.
        #[arg(long)]
        sasl_ssl_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::RdkafkaFile {
        bootstrap,
        topic,
        file,
    }) = &cli.command
    {
        // Before the runtime exists: the process is the program alone.
        return match clients::rdkafka_file::run(bootstrap, topic, file) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("durian-bench rdkafka-file: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Some(Command::Worker { spec, count_allocs }) => {
                alloc_count::set_enabled(count_allocs);
                let m = clients::run(&spec).await?;
                println!("{}", m.to_line());
                Ok(())
            }
            Some(Command::ServeBroker {
                data_dir,
                sasl_ssl_dir,
            }) => brokers::serve(data_dir, sasl_ssl_dir).await,
            Some(Command::RdkafkaFile { .. }) => {
                Err("rdkafka-file runs without a runtime".to_owned())
            }
            None => orchestrate_all(cli.run).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("durian-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn orchestrate_all(args: RunArgs) -> Result<(), String> {
    let sasl_ssl = args.security == security::Security::SaslSsl;
    if sasl_ssl && args.brokers.is_some() {
        return Err("--security sasl-ssl runs against durian's own broker; drop --brokers".into());
    }
    if args.kafka && (sasl_ssl || args.brokers.is_some()) {
        return Err("--kafka runs over plaintext against brokers the bench starts; drop --security and --brokers".into());
    }
    let mut clients = if args.clients.is_empty() {
        let mut all = vec![ClientKind::Durian, ClientKind::Rdkafka, ClientKind::Rskafka];
        if args.kafka {
            all.push(ClientKind::Java);
        }
        all
    } else {
        metrics::client_columns(&args.clients)
    };
    if clients.contains(&ClientKind::Java) {
        let why_not = if sasl_ssl {
            Some("the bench gives it no SASL_SSL settings".to_owned())
        } else {
            apache_kafka::find().err()
        };
        if let Some(why) = why_not {
            eprintln!("java client skipped: {why}");
            clients.retain(|c| *c != ClientKind::Java);
        }
    }
    let scale = if args.quick {
        Scale::QUICK
    } else {
        Scale::FULL
    };
    let file = if args.large_only {
        None
    } else {
        file_setup(&args, scale)
    };
    if args.file_only {
        clients.clear();
    }
    let plan = Plan {
        clients: clients.clone(),
        scale,
        brokers: args.brokers.clone(),
        // Tansu is compared over plaintext only.
        skip_tansu: args.skip_tansu || sasl_ssl || args.file_only || args.large_only,
        security: args.security,
        kafka: args.kafka,
        count_allocs: args.count_allocs,
        partitions: 6,
        file: file.clone(),
        defaults_only: args.defaults_only,
        large_only: args.large_only,
        warm_up: !args.no_warm_up,
    };
    let machine = machine::describe();
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for run in 1..=args.runs.max(1) {
        runs.push(orchestrate::run_once(&plan, run).await?);
    }
    let s = plan.scale;
    let mut section = format!(
        "Measured by `durian-bench{}{}{}{}` on {} ({} run{}, medians; ratios are medians of per-run ratios; took {:.0} s):\n\n{machine}\n",
        if args.quick { " --quick" } else { "" },
        if args.runs > 1 { format!(" --runs {}", args.runs) } else { String::new() },
        if sasl_ssl { " --security sasl-ssl" } else { "" },
        if args.kafka { " --kafka" } else { "" },
        args.brokers.as_deref().map_or(
            if sasl_ssl {
                "durian's broker with one SASL_SSL listener (TLS with a certificate made at run time, SCRAM-SHA-512; child process, temp dir, page-cache durability)".to_owned()
            } else {
                "durian's broker (child process, temp dir, page-cache durability)".to_owned()
            },
            |b| format!("the broker at {b}"),
        ),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
    );
    section.push_str(&format!(
        "Load: {} × 100 B records (and again with lz4), {} × {} B records, consume {} × 100 B from the beginning, latency at {} records/s for {} s; 6 partitions, acks=all, linger 5 ms, batch 16 KiB.\n\n",
        s.small_records, s.large_records, s.large_size, s.small_records, s.latency_rate, s.latency_secs
    ));
    if let Some(table) = report::defaults_table(&runs, &clients) {
        section.push_str(&format!(
            "At each client's defaults (what a user who sets only the bootstrap address gets): {} × 100 B records produced from memory; durian `Producer::builder()` defaults (acks=all, idempotence on, linger 5 ms, batch.size 1,000,000), rdkafka with only `bootstrap.servers` set (librdkafka 2.12: acks=all, idempotence off, linger 5 ms, batch.size 1 MB, batch.num.messages 10,000), rskafka as in the table below (it has no defaults for them); peak RSS is this one worker's:\n\n",
            s.small_records
        ));
        section.push_str(&table);
        section.push('\n');
    }
    if let Some(table) = report::file_table(&runs) {
        if let Some(setup) = &file {
            section.push_str(&format!(
                "Whole process, file → topic: a file of {} lines × {} B written once per run, each tool run as its own process against a fresh 6-partition topic, which must then hold exactly {} records (end offsets). Wall time is spawn to exit (`durian ship`, which runs until stopped: spawn until the end offsets sum to the line count, polled every 20 ms, then SIGTERM); CPU and peak RSS are the process's own, from `wait4`. `durian produce TOPIC -f FILE` and `durian ship --file FILE --topic TOPIC` are the release CLI at its defaults (acks=all, idempotence; `produce` at the producer's batch.size 1,000,000, `ship` at its own 256 KiB, keying every line with its source, adding one header naming the line and sending it to one partition); the rdkafka program reads lines with a `BufReader`, sends each with a `ThreadedProducer` (sleeping 200 µs when librdkafka's queue is full) and flushes, at librdkafka 2.12's defaults but `bootstrap.servers`, `acks=all`, `enable.idempotence=true`{}:\n\n",
                setup.lines,
                fileload::LINE_BYTES,
                setup.lines,
                if setup.strace { "; system calls from one more run of each under `strace -c -f`" } else { "" },
            ));
        }
        section.push_str(&table);
        section.push('\n');
    }
    if !clients.is_empty() {
        section.push_str(&report::loopback_line(&runs));
        section.push('\n');
        section.push_str(&report::client_table(
            &runs,
            &clients,
            args.count_allocs,
            sasl_ssl.then_some(args.security.listener_name()),
        ));
    }
    if let Some(table) = report::peer_table(&runs, &clients) {
        section.push_str("\nThe same clients and scenarios against Apache Kafka's broker (one KRaft node, broker and controller in one JVM, -Xmx1g, temp dir, page-cache durability), started after durian's broker was stopped; rows name the broker:\n\n");
        section.push_str(&table);
    }
    if let Some(table) = report::broker_table(&runs) {
        section.push_str("\nBrokers under the same load (durian's producer, then its consumer), fresh broker each:\n\n");
        section.push_str(&table);
    }
    println!("{section}");
    if let Some(path) = args.write {
        machine::write_section(&path, &section)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The file → topic scenario's setup, or `None` when it is skipped or
/// cannot run (over SASL_SSL the CLI would need the listener's settings).
fn file_setup(args: &RunArgs, scale: Scale) -> Option<fileload::FileSetup> {
    if args.skip_file {
        return None;
    }
    if args.security != security::Security::Plaintext {
        eprintln!("file → topic scenario skipped: it runs over plaintext only");
        return None;
    }
    let durian_bin = args
        .durian_bin
        .clone()
        .or_else(|| std::env::var_os("DURIAN_BENCH_CLI").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(fileload::DEFAULT_DURIAN_BIN));
    let durian_bin = if durian_bin.is_file() {
        Some(durian_bin)
    } else {
        eprintln!(
            "durian CLI not found at {} (cargo build --release -p durian-cli --bin durian, or --durian-bin): its file → topic columns are skipped",
            durian_bin.display()
        );
        None
    };
    let strace = args.strace && fileload::process::strace_available();
    if args.strace && !strace {
        eprintln!("strace not found: no system call counts");
    }
    Some(fileload::FileSetup {
        lines: scale.small_records,
        partitions: 6,
        durian_bin,
        strace,
        ship: !args.skip_ship,
    })
}
