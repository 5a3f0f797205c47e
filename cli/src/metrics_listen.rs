//! `--metrics-listen HOST:PORT` on the long-running client commands
//! (`consume`, `ship`, `perf`): installs a Prometheus recorder for the
//! `metrics` facade the clients report to (docs/OBSERVABILITY.md) and
//! serves its page with the broker's responder
//! (`durian_broker::serve_metrics_page`).

use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::CliError;

/// How often the recorder's histograms are folded and idle series
/// dropped, so a long run holds bounded memory between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The running metrics page; dropping it stops the server and the upkeep.
#[derive(Debug)]
pub struct MetricsPage {
    address: SocketAddr,
    _stop: oneshot::Sender<()>,
    upkeep: tokio::task::JoinHandle<()>,
}

impl Drop for MetricsPage {
    fn drop(&mut self) {
        self.upkeep.abort();
    }
}

impl MetricsPage {
    /// The address the page is served on (the bound port when 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

/// Binds `address`, installs the process-wide recorder and serves
/// `GET /metrics` there until the returned page is dropped. Prints
/// `metrics on HOST:PORT` on stderr (stdout carries the command's output).
pub async fn start(address: &str) -> Result<MetricsPage, CliError> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| CliError::new(format!("cannot listen for metrics on {address}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::new(format!("metrics listener on {address}: {e}")))?;
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| CliError::new(format!("cannot install the metrics recorder: {e}")))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let kept = handle.clone();
    let upkeep = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP_EVERY);
        loop {
            ticks.tick().await;
            kept.run_upkeep();
        }
    });
    tokio::spawn(durian_broker::serve_metrics_page(
        listener,
        move || handle.render(),
        async move {
            // Sent or dropped: either way the command is ending.
            let _ = stopped.await;
        },
    ));
    eprintln!("metrics on {bound}");
    Ok(MetricsPage {
        address: bound,
        _stop: stop,
        upkeep,
    })
}
