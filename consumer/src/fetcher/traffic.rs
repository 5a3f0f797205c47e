//! Sending one Fetch and counting what fetches cost on the wire.
//!
//! The request is sent at the version the connection negotiated, and its
//! encoded body size at that version is added to the fetcher's counters
//! (reported by `Consumer::metrics`), so the savings of fetch sessions can
//! be measured from the client side.

use std::sync::atomic::{AtomicU64, Ordering};

use durian_core::{Client, Error as CoreError, SendOptions, Target, TrafficClass};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::protocol::Encodable;

/// Fetch requests sent and their encoded body bytes.
#[derive(Debug, Default)]
pub(crate) struct FetchTraffic {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl FetchTraffic {
    /// (requests, body bytes) so far.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    fn count(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Sends `request` to `node` as [`Client::send_with`] would, counting it.
pub(super) async fn send_fetch(
    client: &Client,
    node: i32,
    request: FetchRequest,
    options: SendOptions,
    traffic: &FetchTraffic,
) -> Result<FetchResponse, CoreError> {
    let target = Target::Broker(node);
    let timeout = options.timeout.unwrap_or(client.config().request_timeout);
    let result = async {
        let connection = client
            .connection_for(&target, options.class.unwrap_or(TrafficClass::Fetch))
            .await?;
        let version = connection.versions().negotiate_for::<FetchRequest>()?;
        // A size that cannot be computed would fail the send just after;
        // it is then not counted.
        if let Ok(size) = request.compute_size(version) {
            traffic.count(size);
        }
        connection
            .send_with_version(&request, version, timeout)
            .await
    }
    .await;
    if let Err(error) = &result {
        client.report_error(&target, error);
    }
    result
}
