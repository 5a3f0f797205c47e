//! durian-cli: the `durian` command, in the spirit of rpk and kcat.
//!
//! Every subcommand lives in its own module with an `Args` struct (clap)
//! and an async `run(args, &GlobalOpts)`; `main.rs` only sets up logging
//! and dispatches. Global options: `-b/--brokers` (else `DURIAN_BROKERS`,
//! else `127.0.0.1:9092`), `-F client.properties` (a Kafka properties
//! file, e.g. security settings) and repeated `-X key=value` client
//! properties; `--output table|json` (`-o` before the subcommand) picks
//! plain-text tables or JSON for every command that prints results;
//! `--no-progress` (`--quiet`) turns off the stderr progress bars.

pub mod acl;
pub mod broker;
pub mod completions;
pub mod config_file;
pub mod consume;
pub mod doctor;
pub mod error;
pub mod global;
pub mod group;
pub mod metrics_listen;
pub mod perf;
pub mod position;
pub mod produce;
pub mod progress;
pub mod ship;
pub mod table;
pub mod topic;
pub mod txn;
pub mod user;

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
    Broker(Box<broker::BrokerArgs>),
    /// Create, list, describe, delete topics and alter their configs.
    Topic(topic::TopicArgs),
    /// List, describe, delete consumer groups and move their offsets.
    Group(group::GroupArgs),
    /// Produce one record per input line.
    Produce(produce::ProduceArgs),
    /// Print records of topics, with or without a consumer group.
    Consume(consume::ConsumeArgs),
    /// Measure produce or consume throughput and latency.
    Perf(perf::PerfArgs),
    /// Follow a growing log file and ship each line to a topic.
    Ship(ship::ShipArgs),
    /// Add, list and remove ACLs.
    Acl(acl::AclArgs),
    /// Manage users' SCRAM credentials.
    User(user::UserArgs),
    /// List, describe, find hanging and abort transactions.
    Txn(txn::TxnArgs),
    /// Check the connection to a cluster step by step, with a hint for what fails.
    Doctor(doctor::DoctorArgs),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> Result<(), CliError> {
        let global = self.global;
        table::set_format(global.output_format());
        progress::set_disabled(global.no_progress);
        match self.command {
            Command::Broker(args) => Ok(broker::run(*args).await?),
            Command::Topic(args) => topic::run(args, &global).await,
            Command::Group(args) => group::run(args, &global).await,
            Command::Produce(args) => produce::run(args, &global).await,
            Command::Consume(args) => consume::run(args, &global).await,
            Command::Perf(args) => perf::run(args, &global).await,
            Command::Ship(args) => ship::run(args, &global).await,
            Command::Acl(args) => acl::run(args, &global).await,
            Command::User(args) => user::run(args, &global).await,
            Command::Txn(args) => txn::run(args, &global).await,
            Command::Doctor(args) => doctor::run(args, &global).await,
            Command::Completions(args) => completions::run(args),
        }
    }
}
