//! durian-cli: the `durian` command, in the spirit of rpk and kcat.
//!
//! Every subcommand lives in its own module with an `Args` struct (clap)
//! and an async `run(args, &GlobalOpts)`; `main.rs` only sets up logging
//! and dispatches. Global options: `-b/--brokers` (else `DURIAN_BROKERS`,
//! else `127.0.0.1:9092`) and repeated `-X key=value` client properties.

pub mod broker_command;
pub mod consume_command;
pub mod error;
pub mod global;
pub mod group_command;
pub mod perf_command;
pub mod position;
pub mod produce_command;
pub mod ship_command;
pub mod table;
pub mod topic_command;

use clap::{Parser, Subcommand};

pub use error::CliError;
pub use global::GlobalOpts;

/// The `durian` command line.
#[derive(Debug, Parser)]
#[command(
    name = "durian",
    version,
    about = "durian: a pure-Rust Kafka SDK and broker"
)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Kafka-protocol broker in the foreground until Ctrl-C or SIGTERM.
    Broker(broker_command::BrokerArgs),
    /// Create, list, describe, delete topics and alter their configs.
    Topic(topic_command::TopicArgs),
    /// List, describe, delete consumer groups and move their offsets.
    Group(group_command::GroupArgs),
    /// Produce one record per input line.
    Produce(produce_command::ProduceArgs),
    /// Print records of topics, with or without a consumer group.
    Consume(consume_command::ConsumeArgs),
    /// Measure produce or consume throughput and latency.
    Perf(perf_command::PerfArgs),
    /// Follow a growing log file and ship each line to a topic.
    Ship(ship_command::ShipArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> Result<(), CliError> {
        let global = self.global;
        match self.command {
            Command::Broker(args) => Ok(broker_command::run(args).await?),
            Command::Topic(args) => topic_command::run(args, &global).await,
            Command::Group(args) => group_command::run(args, &global).await,
            Command::Produce(args) => produce_command::run(args, &global).await,
            Command::Consume(args) => consume_command::run(args, &global).await,
            Command::Perf(args) => perf_command::run(args, &global).await,
            Command::Ship(args) => ship_command::run(args, &global).await,
        }
    }
}
