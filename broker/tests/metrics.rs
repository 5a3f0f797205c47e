//! The Prometheus metrics endpoint (`BrokerBuilder::metrics_listen`): the
//! page's counters move with real client traffic, every line is well
//! formed, other paths get 404, and slow or oversized requests are cut off
//! within a bound.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::{batch, TestClient};
use durian_broker::{Broker, BrokerHandle};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{Client, ClientConfig, Target};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    CreateTopicsRequest, FetchRequest, GroupId, JoinGroupRequest, MetadataRequest, ProduceRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on every network wait of these tests.
const WITHIN: Duration = Duration::from_secs(15);

async fn start_with_metrics() -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .metrics_listen("127.0.0.1:0")
        .start()
        .await
        .expect("broker starts")
}

/// Sends `request` raw and reads until the server closes, within [`WITHIN`].
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_to_close(&mut stream).await
}

async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(WITHIN, stream.read_to_end(&mut out))
        .await
        .expect("the metrics server closes the connection in time")
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// Splits a response into its status line, headers (lower-cased names) and body.
fn parse_response(response: &str) -> (String, HashMap<String, String>, String) {
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete head");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').expect("header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    (status, headers, body.to_string())
}

/// Checks the exposition format and returns each sample (name with its
/// labels, as written) and its value.
fn parse_exposition(body: &str) -> HashMap<String, f64> {
    let mut helped = HashSet::new();
    let mut typed = HashSet::new();
    let mut samples = HashMap::new();
    let mut histograms = HashSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has text");
            assert!(!help.is_empty(), "empty HELP for {name}");
            assert!(helped.insert(name.to_string()), "HELP twice for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}"
            );
            if kind == "histogram" {
                histograms.insert(name.to_string());
            }
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert!(typed.insert(name.to_string()), "TYPE twice for {name}");
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let name = series.split('{').next().unwrap();
            // A histogram's samples are named after it with a suffix.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|family| histograms.contains(*family));
            assert!(name.starts_with("durian_broker_"), "unprefixed {name}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad metric name {name}"
            );
            assert!(
                typed.contains(family.unwrap_or(name)),
                "sample {name} before its TYPE"
            );
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                if name == "durian_broker_log_end_offset" {
                    assert!(
                        labels.starts_with("{topic=\"")
                            && labels.contains("\",partition=\"")
                            && labels.ends_with("\"}"),
                        "labels {labels}"
                    );
                } else {
                    assert!(
                        labels.starts_with("{api=\"") && labels.ends_with("\"}"),
                        "labels {labels}"
                    );
                }
                if name.ends_with("_bucket") && family.is_some() {
                    assert!(labels.contains("\",le=\""), "bucket without le: {labels}");
                }
            }
            let value: f64 = value.parse().expect("numeric value");
            assert!(value >= 0.0, "{series} is negative");
            assert!(samples.insert(series.to_string(), value).is_none());
        }
    }
    samples
}

async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let response = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").await;
    let (status, headers, body) = parse_response(&response);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers["content-type"].starts_with("text/plain; version=0.0.4"));
    assert_eq!(headers["content-length"], body.len().to_string());
    parse_exposition(&body)
}

#[tokio::test]
async fn counters_move_with_client_requests() {
    let broker = start_with_metrics().await;
    let metrics = broker.metrics_addr().expect("metrics are served");
    let config = ClientConfig::builder()
        .bootstrap_servers([broker.bootstrap()])
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    let created = client
        .send(
            Target::Any,
            CreateTopicsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![CreatableTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("metered")))
                    .with_num_partitions(3)
                    .with_replication_factor(1)]),
        )
        .await
        .unwrap();
    assert_eq!(created.topics[0].error_code, 0);
    const METADATA_CALLS: usize = 5;
    for _ in 0..METADATA_CALLS {
        client
            .send(Target::Any, MetadataRequest::default())
            .await
            .unwrap();
    }

    let samples = scrape(metrics).await;
    // Client::connect fetched metadata once more than we asked.
    assert!(samples["durian_broker_requests_total{api=\"Metadata\"}"] > METADATA_CALLS as f64);
    assert!(samples["durian_broker_requests_total{api=\"CreateTopics\"}"] >= 1.0);
    assert!(samples["durian_broker_requests_total{api=\"ApiVersions\"}"] >= 1.0);
    assert_eq!(
        samples["durian_broker_requests_total{api=\"DeleteTopics\"}"],
        0.0
    );
    assert_eq!(samples["durian_broker_topics"], 1.0);
    assert_eq!(samples["durian_broker_partitions"], 3.0);
    for partition in 0..3 {
        let end =
            format!("durian_broker_log_end_offset{{topic=\"metered\",partition=\"{partition}\"}}");
        assert_eq!(samples[&end], 0.0, "nothing produced yet");
    }
    assert_eq!(samples["durian_broker_log_end_offsets_omitted"], 0.0);
    assert_eq!(samples["durian_broker_log_size_bytes"], 0.0);
    assert!(samples["durian_broker_connections"] >= 1.0);
    for gauge in [
        "request_bytes_held",
        "response_bytes_held",
        "uptime_seconds",
    ] {
        assert!(
            samples.contains_key(&format!("durian_broker_{gauge}")),
            "{gauge}"
        );
    }

    // Histograms: the queue time is recorded before the handler runs, so
    // every Metadata counted has one; the latency after the response is
    // written, so the last answer may still be on its way when scraping.
    let metadata_requests = samples["durian_broker_requests_total{api=\"Metadata\"}"];
    assert_eq!(
        samples["durian_broker_request_queue_seconds_count{api=\"Metadata\"}"],
        metadata_requests
    );
    let latency_count = samples["durian_broker_request_latency_seconds_count{api=\"Metadata\"}"];
    assert!(latency_count >= METADATA_CALLS as f64, "{latency_count}");
    for family in ["request_latency_seconds", "request_queue_seconds"] {
        let buckets: Vec<f64> = ["0.0005", "0.001", "0.01", "0.1", "1", "10", "+Inf"]
            .iter()
            .map(|le| {
                samples[&format!("durian_broker_{family}_bucket{{api=\"Metadata\",le=\"{le}\"}}")]
            })
            .collect();
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "{family}: {buckets:?}"
        );
        assert_eq!(
            buckets.last().copied(),
            Some(samples[&format!("durian_broker_{family}_count{{api=\"Metadata\"}}")])
        );
        assert!(samples[&format!("durian_broker_{family}_sum{{api=\"Metadata\"}}")] >= 0.0);
    }
    assert!(
        !samples.contains_key("durian_broker_request_latency_seconds_count{api=\"DeleteTopics\"}"),
        "APIs without requests have no histogram lines"
    );

    // Three records appended to partition 1 move its log end offset and
    // the bytes on disk.
    let mut writer = BatchWriter::builder().build();
    for n in 0..3 {
        writer
            .try_append(
                1_700_000_000_000 + n,
                None,
                Some(b"metered value"),
                NO_HEADERS,
            )
            .unwrap();
    }
    client.add_topics(["metered"]);
    client.refresh_metadata("test: leaders").await.unwrap();
    let leader = client.partition_leader("metered", 1).unwrap().node_id;
    let produced = client
        .send(
            Target::Broker(leader),
            ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(10_000)
                .with_topic_data(vec![TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("metered")))
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(1)
                        .with_records(Some(writer.finish().unwrap()))])]),
        )
        .await
        .unwrap();
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    let logs = scrape(metrics).await;
    assert_eq!(
        logs["durian_broker_log_end_offset{topic=\"metered\",partition=\"1\"}"],
        3.0
    );
    assert_eq!(
        logs["durian_broker_log_end_offset{topic=\"metered\",partition=\"0\"}"],
        0.0
    );
    assert!(logs["durian_broker_log_size_bytes"] > 0.0);

    // The counters keep moving: one more Metadata shows on the next scrape.
    let before = samples["durian_broker_requests_total{api=\"Metadata\"}"];
    client
        .send(Target::Any, MetadataRequest::default())
        .await
        .unwrap();
    let again = scrape(metrics).await;
    let after = again["durian_broker_requests_total{api=\"Metadata\"}"];
    assert!(after > before, "{after} after {before}");
    let queued = "durian_broker_request_queue_seconds_count{api=\"Metadata\"}";
    assert!(again[queued] > samples[queued], "queue histogram moves");

    // Shutdown releases the metrics port.
    broker.shutdown().await.unwrap();
    assert!(TcpStream::connect(metrics).await.is_err());
}

#[tokio::test]
async fn other_paths_and_methods_are_refused() {
    let broker = start_with_metrics().await;
    let metrics = broker.metrics_addr().unwrap();
    let (status, _, _) = parse_response(&exchange(metrics, b"GET / HTTP/1.1\r\n\r\n").await);
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _, _) =
        parse_response(&exchange(metrics, b"POST /metrics HTTP/1.1\r\n\r\n").await);
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _, _) = parse_response(&exchange(metrics, b"garbage\r\n\r\n").await);
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let broker = start_with_metrics().await;
    let metrics = broker.metrics_addr().unwrap();
    // A request line that never ends, one byte over the documented 8 KiB
    // head limit: the server reads all of it before refusing, so nothing
    // is left unread and its answer is not lost to a reset.
    let mut request = b"GET /".to_vec();
    request.resize(8 * 1024 + 1, b'a');
    let response = exchange(metrics, &request).await;
    assert!(
        response.starts_with("HTTP/1.1 431 "),
        "unexpected answer {response}"
    );
    // The endpoint still serves scrapes.
    assert!(scrape(metrics)
        .await
        .contains_key("durian_broker_uptime_seconds"));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_client_is_cut_off() {
    let broker = start_with_metrics().await;
    let metrics = broker.metrics_addr().unwrap();
    let mut stream = TcpStream::connect(metrics).await.unwrap();
    // Half a request line and then nothing: the head timeout closes it.
    stream.write_all(b"GET /metr").await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(
        answer.is_empty(),
        "no answer to an unfinished request: {answer}"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_are_off_unless_asked_for() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    assert!(broker.metrics_addr().is_none());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_closed_for_an_unknown_api_is_counted_as_refused() {
    let broker = start_with_metrics().await;
    let metrics = broker.metrics_addr().unwrap();
    assert_eq!(
        scrape(metrics).await["durian_broker_requests_refused_total"],
        0.0
    );
    // A header of API key 9999 (no such API): the broker closes the
    // connection, counting the refusal first.
    let mut body = Vec::new();
    body.extend_from_slice(&9999i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&7i32.to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let mut kafka = TcpStream::connect(broker.local_addr()).await.unwrap();
    kafka.write_all(&frame).await.unwrap();
    read_to_close(&mut kafka).await;
    assert_eq!(
        scrape(metrics).await["durian_broker_requests_refused_total"],
        1.0
    );
    broker.shutdown().await.unwrap();
}

/// The `durian_broker_response_errors_total` sample of `api` and `code`,
/// zero when the page has no line for it.
fn response_errors(samples: &HashMap<String, f64>, api: &str, code: &str) -> f64 {
    let series = format!("durian_broker_response_errors_total{{api=\"{api}\",code=\"{code}\"}}");
    samples.get(&series).copied().unwrap_or(0.0)
}

/// The `durian_broker_response_errors_total` lines of `api`.
fn error_lines(samples: &HashMap<String, f64>, api: &str) -> usize {
    let prefix = format!("durian_broker_response_errors_total{{api=\"{api}\",");
    samples.keys().filter(|k| k.starts_with(&prefix)).count()
}

fn text(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

fn produce_to(topic: &'static str, partitions: &[i32]) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(text(topic)))
            .with_partition_data(
                partitions
                    .iter()
                    .map(|&p| {
                        PartitionProduceData::default()
                            .with_index(p)
                            .with_records(Some(batch(&["counted"])))
                    })
                    .collect(),
            )])
}

#[tokio::test]
async fn error_codes_inside_responses_are_counted_per_api_and_code() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .metrics_listen("127.0.0.1:0")
        .auto_create_topics(false)
        .start()
        .await
        .expect("broker starts");
    let metrics = broker.metrics_addr().unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let created = client
        .call(
            &CreateTopicsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![CreatableTopic::default()
                    .with_name(TopicName(text("counted")))
                    .with_num_partitions(1)
                    .with_replication_factor(1)]),
            5,
        )
        .await;
    assert_eq!(created.topics[0].error_code, 0);

    // A Produce without errors adds no line.
    let ok = client.call(&produce_to("counted", &[0]), 9).await;
    assert_eq!(ok.responses[0].partition_responses[0].error_code, 0);
    let before = scrape(metrics).await;
    assert!(
        !before
            .keys()
            .any(|k| k.starts_with("durian_broker_response_errors_total")),
        "no errors yet: {before:?}"
    );

    // Two partitions of a topic that does not exist: two occurrences.
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    let missing = client.call(&produce_to("missing", &[0, 1]), 9).await;
    let codes: Vec<i16> = missing.responses[0]
        .partition_responses
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes, [unknown, unknown]);

    // A fetch far past the log end.
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_session_epoch(-1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(text("counted")))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(1_000)
                .with_partition_max_bytes(1 << 20)])]);
    let fetched = client.call(&fetch, 12).await;
    assert_eq!(
        fetched.responses[0].partitions[0].error_code,
        ResponseError::OffsetOutOfRange.code()
    );

    // A JoinGroup by a member the group never had.
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(text("counted-group")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(text("ghost"))
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default().with_name(text("range"))
        ]);
    let joined = client.call(&join, 5).await;
    assert_eq!(joined.error_code, ResponseError::UnknownMemberId.code());

    let after = scrape(metrics).await;
    assert_eq!(
        response_errors(&after, "Produce", "UNKNOWN_TOPIC_OR_PARTITION"),
        2.0
    );
    assert_eq!(error_lines(&after, "Produce"), 1, "{after:?}");
    assert_eq!(response_errors(&after, "Fetch", "OFFSET_OUT_OF_RANGE"), 1.0);
    assert_eq!(error_lines(&after, "Fetch"), 1, "{after:?}");
    assert_eq!(
        response_errors(&after, "JoinGroup", "UNKNOWN_MEMBER_ID"),
        1.0
    );
    assert_eq!(error_lines(&after, "JoinGroup"), 1, "{after:?}");
    assert_eq!(error_lines(&after, "CreateTopics"), 0, "{after:?}");

    // The counters keep counting.
    client.call(&produce_to("missing", &[2]), 9).await;
    let again = scrape(metrics).await;
    assert_eq!(
        response_errors(&again, "Produce", "UNKNOWN_TOPIC_OR_PARTITION"),
        3.0
    );
    broker.shutdown().await.unwrap();
}

/// SaslHandshake and SaslAuthenticate are answered by the SASL gate, not
/// by the handlers; their error codes count all the same.
#[tokio::test]
async fn sasl_failures_are_counted_too() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .metrics_listen("127.0.0.1:0")
        .sasl_plain_user("alice", "alice-secret")
        .start()
        .await
        .expect("broker starts");
    let metrics = broker.metrics_addr().unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let refused = common::sasl::handshake(&mut client, "GSSAPI").await;
    assert_eq!(refused.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    let mut client = TestClient::connect(broker.local_addr()).await;
    let failed = common::sasl::plain(&mut client, "alice", "wrong").await;
    assert_eq!(failed.error_code, 58, "SASL_AUTHENTICATION_FAILED");
    let samples = scrape(metrics).await;
    assert_eq!(
        response_errors(&samples, "SaslHandshake", "UNSUPPORTED_SASL_MECHANISM"),
        1.0
    );
    assert_eq!(
        response_errors(&samples, "SaslAuthenticate", "SASL_AUTHENTICATION_FAILED"),
        1.0
    );
    broker.shutdown().await.unwrap();
}
