//! A snapshot of what a consumer holds, for monitoring and for the
//! bounded-memory test.

/// What a consumer has buffered and in flight, from [`Consumer::metrics`].
///
/// [`Consumer::metrics`]: crate::Consumer::metrics
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records fetched and not yet returned by `poll`.
    pub buffered_records: usize,
    /// Key, value and header bytes of those records (decompressed).
    pub buffered_bytes: usize,
    /// Fetch requests awaiting their response (at most one per broker).
    pub fetches_in_flight: usize,
    /// Fetch requests sent since the consumer was created.
    pub fetch_requests: u64,
    /// Their encoded body bytes (without the request header and frame
    /// length), at the version each was sent: what fetch sessions save.
    pub fetch_request_bytes: u64,
}
