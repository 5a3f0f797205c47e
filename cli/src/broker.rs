//! `durian broker`: runs a broker in the foreground.
//!
//! Contract with scripts and interop tests: once the listener is bound,
//! exactly one line `listening on HOST:PORT` goes to stdout (with the real
//! port when `--listen` used port 0); all logging goes to stderr.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use durian_broker::{Broker, BrokerError, FlushPolicy, Principal};

/// Options of `durian broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: String,
    /// host:port announced to clients (default: the bound address).
    #[arg(long)]
    pub advertised_listener: Option<String>,
    /// Where topics, logs and group offsets live (default: a temporary
    /// directory deleted on exit).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// This broker's node id.
    #[arg(long, default_value_t = 0)]
    pub node_id: i32,
    /// Partitions of auto-created topics.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Do not create unknown topics on first use.
    #[arg(long)]
    pub no_auto_create: bool,
    /// When appends reach the disk.
    #[arg(long, value_enum, default_value_t = Fsync::Never)]
    pub fsync: Fsync,
    /// A principal allowed everything whatever the ACLs say
    /// (`super.users`; repeatable), e.g. `User:admin`.
    #[arg(long = "super-user", value_name = "PRINCIPAL", value_parser = Principal::parse)]
    pub super_users: Vec<Principal>,
    /// Refuse resources no ACL names (`allow.everyone.if.no.acl.found=false`).
    /// Until listeners authenticate every client is `User:ANONYMOUS`.
    #[arg(long)]
    pub deny_if_no_acl: bool,
}

/// The `--fsync` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fsync {
    /// fsync every append before acknowledging it.
    Always,
    /// Leave appends in the page cache (Kafka's default).
    Never,
}

/// Runs the broker until Ctrl-C or SIGTERM, then shuts it down cleanly.
pub async fn run(args: BrokerArgs) -> Result<(), BrokerError> {
    // Installed before the address is announced: whoever reads the
    // `listening on` line may send SIGTERM right away.
    let stop = StopSignal::install();
    let mut builder = Broker::builder()
        .listen(args.listen)
        .node_id(args.node_id)
        .default_partitions(args.partitions)
        .auto_create_topics(!args.no_auto_create)
        .super_users(args.super_users)
        .allow_everyone_if_no_acl_found(!args.deny_if_no_acl)
        .fsync(match args.fsync {
            Fsync::Always => FlushPolicy::Always,
            Fsync::Never => FlushPolicy::PageCache,
        });
    builder = match args.data_dir {
        Some(dir) => builder.data_dir(dir),
        None => builder.temporary(),
    };
    if let Some(advertised) = args.advertised_listener {
        builder = builder.advertised_listener(advertised);
    }
    let broker = builder.start().await?;
    if broker.is_temporary() {
        tracing::warn!(data_dir = %broker.data_dir().display(),
            "no --data-dir given: using a temporary directory, deleted on exit");
    }
    let mut stdout = std::io::stdout().lock();
    // A closed stdout must not stop the broker; the address is also logged.
    let _ = writeln!(stdout, "listening on {}", broker.local_addr());
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(bootstrap = %broker.bootstrap(), "broker ready");
    stop.wait().await;
    tracing::info!("stop signal received; shutting down");
    broker.shutdown().await
}

/// Ctrl-C (SIGINT) or SIGTERM, listened for from the moment it is installed.
struct StopSignal {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignal {
    fn install() -> StopSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .map_err(|e| tracing::warn!(error = %e, "cannot install signal handlers; falling back to Ctrl-C only"))
                .ok();
            StopSignal { signals }
        }
        #[cfg(not(unix))]
        StopSignal {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut terminate, mut interrupt)) = self.signals {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
