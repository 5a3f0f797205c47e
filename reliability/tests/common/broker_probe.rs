//! Looking at a `durian broker` process from the outside while it is
//! attacked: a well-behaved client, raw request frames, and the checks
//! that it still serves, never panicked and stayed within its memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::Duration;

use durian_core::{Client, ClientConfig, Target};
use durian_reliability::BrokerProcess;
use kafka_protocol::messages::MetadataRequest;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics anywhere in this test process (a panic inside a spawned
/// client task would otherwise vanish silently), then reports as usual.
pub fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Panics counted since [`count_panics`] was first called.
pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// A client with short timeouts and backoffs, so a broker that stops
/// answering shows up within seconds.
pub fn client_for(bootstrap: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(3))
        .connection_setup_timeout(Duration::from_secs(3))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .build()
        .unwrap();
    Client::new(config).unwrap()
}

/// A request frame: size, header v1 (key, version, correlation id, client
/// id) or v2 (plus an empty tagged-field section), then `body`.
pub fn request(api_key: i16, version: i16, flexible_header: bool, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&api_key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(&7i16.to_be_bytes());
    frame.extend_from_slice(b"hostile");
    if flexible_header {
        frame.push(0);
    }
    frame.extend_from_slice(body);
    let mut out = (frame.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&frame);
    out
}

/// Fails unless the broker process runs and answers Metadata to `client`.
pub async fn assert_serving(client: &Client, broker: &mut BrokerProcess, after: &str) {
    assert!(
        broker.is_running(),
        "broker died after {after}:\n{}",
        broker.log_tail(30)
    );
    client
        .send(Target::Any, MetadataRequest::default())
        .await
        .unwrap_or_else(|e| panic!("broker stopped serving after {after}: {e}"));
}

/// Fails if the broker's log shows a panic.
pub fn assert_no_panic_logged(broker: &BrokerProcess) {
    let log = broker.log_tail(100_000);
    assert!(!log.contains("panicked"), "the broker panicked:\n{log}");
}
