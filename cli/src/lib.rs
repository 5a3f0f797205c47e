//! durian-cli: the `durian` command.
//!
//! Only `durian broker` exists so far; produce, consume, topic, group and
//! perf subcommands are later work.

pub mod broker_command;

use clap::{Parser, Subcommand};

/// The `durian` command line.
#[derive(Debug, Parser)]
#[command(
    name = "durian",
    version,
    about = "durian: a pure-Rust Kafka SDK and broker"
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Kafka-protocol broker in the foreground until Ctrl-C or SIGTERM.
    Broker(broker_command::BrokerArgs),
}
