//! One adapter per client library, each running the same three scenarios
//! inside a worker process: produce, consume, and end-to-end latency.
//!
//! Settings are equal across clients: acks=all, idempotence where the
//! client has it (durian, rdkafka; rskafka has none), linger 5 ms, batch
//! size 16 KiB, no compression unless the scenario asks for lz4. The
//! Java peer (Kafka's perf tools) gets the same settings as properties.
//! With `--defaults` the producers keep their own defaults instead (the
//! "At each client's defaults" scenario); `rdkafka_file` is the
//! whole-process rdkafka program of the file scenario.

pub mod durian;
pub mod java;
pub mod rdkafka;
pub mod rdkafka_file;
pub mod rskafka;

use std::fmt;
use std::time::Duration;

use std::path::PathBuf;

use clap::ValueEnum;

use crate::measure::Measurement;
use crate::security::{self, Security};

/// Producer linger used by every client.
pub const LINGER: Duration = Duration::from_millis(5);
/// Producer batch size (bytes, uncompressed) used by every client.
pub const BATCH_SIZE: usize = 16 * 1024;
/// How many distinct values the senders cycle through.
pub const VALUE_POOL: usize = 1024;
/// How long the latency consumer waits for the last records once sending
/// stops; a record still missing then fails the run.
pub const LATENCY_DRAIN: Duration = Duration::from_secs(10);

/// How long the latency scenario waits for its consumer to see the warm-up
/// record of every partition.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// The client library under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ClientKind {
    /// durian's producer and consumer.
    Durian,
    /// rust-rdkafka over the bundled librdkafka.
    Rdkafka,
    /// rskafka, a pure-Rust partition-level client.
    Rskafka,
    /// Apache Kafka's Java producer and consumer, through the perf tools
    /// of the kafka-tools jar (ProducerPerformance, ConsumerPerformance).
    Java,
}

impl ClientKind {
    /// Whether the client has the paced end-to-end latency scenario
    /// (Kafka's perf tools have none).
    pub fn has_latency_scenario(self) -> bool {
        self != ClientKind::Java
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientKind::Durian => "durian",
            ClientKind::Rdkafka => "rdkafka",
            ClientKind::Rskafka => "rskafka",
            ClientKind::Java => "java",
        })
    }
}

/// What a worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Produce `records` values of `value_size` bytes as fast as possible.
    Produce,
    /// Read `records` records from the beginning of a filled topic.
    Consume,
    /// Produce at a fixed rate and measure send-to-receive delay.
    Latency,
}

/// Everything a worker needs to run one scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerSpec {
    /// Client library.
    #[arg(long, value_enum)]
    pub client: ClientKind,
    /// Scenario.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Bootstrap address.
    #[arg(long)]
    pub bootstrap: String,
    /// Topic (already created, `partitions` partitions).
    #[arg(long)]
    pub topic: String,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Records to produce or consume.
    #[arg(long)]
    pub records: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Compress batches with lz4.
    #[arg(long)]
    pub lz4: bool,
    /// Latency scenario: records per second.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// Latency scenario: how long to send.
    #[arg(long, default_value_t = 30)]
    pub duration_secs: u64,
    /// The broker listener's protocol.
    #[arg(long, value_enum, default_value_t = Security::Plaintext)]
    pub security: Security,
    /// CA certificate (PEM) of a TLS listener.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Produce: leave the producer at its library's defaults (only the
    /// bootstrap address and the listener's security settings are set;
    /// rskafka, which has no defaults for them, keeps its usual settings).
    #[arg(long)]
    pub defaults: bool,
}

impl WorkerSpec {
    /// The arguments that rebuild this spec in a child process.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--client".into(),
            self.client.to_string(),
            "--scenario".into(),
            format!("{:?}", self.scenario).to_lowercase(),
            "--bootstrap".into(),
            self.bootstrap.clone(),
            "--topic".into(),
            self.topic.clone(),
            "--partitions".into(),
            self.partitions.to_string(),
            "--records".into(),
            self.records.to_string(),
            "--value-size".into(),
            self.value_size.to_string(),
            "--rate".into(),
            self.rate.to_string(),
            "--duration-secs".into(),
            self.duration_secs.to_string(),
        ];
        if self.lz4 {
            args.push("--lz4".into());
        }
        if self.defaults {
            args.push("--defaults".into());
        }
        args.push("--security".into());
        args.push(self.security.arg().into());
        if let Some(ca) = &self.ca_file {
            args.push("--ca-file".into());
            args.push(ca.display().to_string());
        }
        args
    }

    /// Connection properties beyond `bootstrap.servers` (the listener's
    /// protocol, SASL credentials, CA), the same for every client.
    pub fn security_properties(&self) -> Vec<(String, String)> {
        security::client_properties(self.security, self.ca_file.as_deref())
    }
}

/// Errors of a worker, as text: they end up in the orchestrator's log.
pub type WorkerResult = Result<Measurement, String>;

/// Runs the scenario of `spec` with its client.
pub async fn run(spec: &WorkerSpec) -> WorkerResult {
    match (spec.client, spec.scenario) {
        (ClientKind::Durian, Scenario::Produce) => durian::produce(spec).await,
        (ClientKind::Durian, Scenario::Consume) => durian::consume(spec).await,
        (ClientKind::Durian, Scenario::Latency) => durian::latency(spec).await,
        (ClientKind::Rdkafka, Scenario::Produce) => rdkafka::produce(spec).await,
        (ClientKind::Rdkafka, Scenario::Consume) => rdkafka::consume(spec).await,
        (ClientKind::Rdkafka, Scenario::Latency) => rdkafka::latency(spec).await,
        (ClientKind::Rskafka, Scenario::Produce) => rskafka::produce(spec).await,
        (ClientKind::Rskafka, Scenario::Consume) => rskafka::consume(spec).await,
        (ClientKind::Rskafka, Scenario::Latency) => rskafka::latency(spec).await,
        (ClientKind::Java, Scenario::Produce) => java::produce(spec).await,
        (ClientKind::Java, Scenario::Consume) => java::consume(spec).await,
        (ClientKind::Java, Scenario::Latency) => {
            Err("Kafka's perf tools have no paced end-to-end latency scenario".to_owned())
        }
    }
}

/// Extra properties from the environment variable `name`
/// (`key=value,key=value`), for tuning experiments; empty by default.
/// `DURIAN_BENCH_CONSUMER_PROPS` goes to every durian consumer,
/// `DURIAN_BENCH_PRODUCER_PROPS` to durian's producer of the defaults
/// scenario, `RDKAFKA_BENCH_CONSUMER_PROPS` to every rdkafka consumer.
pub(crate) fn extra_properties(name: &str) -> Vec<(String, String)> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}
