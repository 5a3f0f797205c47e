//! Requests whose fields depend on the negotiated version.
//!
//! kafka-protocol refuses to encode a request that sets a field the chosen
//! version lacks (OffsetFetch's v8+ group list, LeaveGroup's v3+ member
//! list), so those requests are built after the version is known.

use durian_core::{Client, Error, SendOptions, Target, TrafficClass};
use kafka_protocol::protocol::Request;

/// Negotiates the version of `R` with `target`, builds the request for it
/// and sends it.
pub(crate) async fn send_versioned<R, F>(
    client: &Client,
    target: Target,
    class: TrafficClass,
    build: F,
) -> Result<R::Response, Error>
where
    R: Request,
    F: FnOnce(i16) -> R,
{
    let version = match client.connection_for(&target, class).await {
        Ok(connection) => connection.versions().negotiate_for::<R>()?,
        Err(error) => {
            client.report_error(&target, &error);
            return Err(error);
        }
    };
    let options = SendOptions {
        version: Some(version),
        class: Some(class),
        ..SendOptions::default()
    };
    client.send_with(target, build(version), options).await
}
