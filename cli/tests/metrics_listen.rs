//! `durian consume --metrics-listen`: the command prints where its page
//! is, and a scrape finds the consumer's and the client's metrics
//! (docs/OBSERVABILITY.md) in the Prometheus text format.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{command, create_topic, durian, start_broker};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Bound on every wait of this test.
const WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_serves_its_metrics() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "t", 1).await;
    let lines: String = (0..5).map(|i| format!("line-{i}\n")).collect();
    durian(&bootstrap, &["produce", "t"], lines.as_bytes())
        .await
        .assert_ok();

    let mut child = command(
        &bootstrap,
        &["consume", "t", "-g", "g", "--metrics-listen", "127.0.0.1:0"],
    )
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(WITHIN, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(address) = line.strip_prefix("metrics on ") {
                return address.to_owned();
            }
        }
        panic!("stderr ended without a `metrics on` line");
    })
    .await
    .expect("the metrics address is printed in time");
    // Every record printed means every record was fetched (and counted).
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    for i in 0..5 {
        let line = tokio::time::timeout(WITHIN, stdout.next_line())
            .await
            .expect("records are printed in time")
            .unwrap();
        assert_eq!(line.as_deref(), Some(format!("line-{i}").as_str()));
    }

    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    tokio::time::timeout(WITHIN, stream.read_to_string(&mut page))
        .await
        .expect("the page is served in time")
        .unwrap();
    child.kill().await.unwrap();

    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    let sample = |prefix: &str| {
        page.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {page}"))
            .to_owned()
    };
    let fetched = sample("durian_consumer_records_fetched{");
    assert!(fetched.contains("topic=\"t\""), "{fetched}");
    assert!(fetched.contains("client_id=\""), "{fetched}");
    assert!(fetched.ends_with(" 5"), "{fetched}");
    let lag = sample("durian_consumer_lag{");
    assert!(lag.contains("partition=\"0\""), "{lag}");
    assert!(lag.ends_with(" 0"), "{lag}");
    assert!(sample("durian_consumer_rebalances{").contains("group=\"g\""));
    assert!(
        page.lines()
            .any(|l| l.starts_with("durian_client_request_latency_seconds")
                && l.contains("api=\"Fetch\"")),
        "no Fetch latency in {page}"
    );
    broker.shutdown().await.unwrap();
}
