//! The network steps of `durian doctor`, each on durian-core's own
//! connection code: resolve, TCP, TLS, ApiVersions, SASL, Metadata and the
//! advertised addresses.

use std::collections::BTreeSet;
use std::time::Duration;

use durian::core::connection::{self, Connection, ConnectionSettings, Transport};
use durian::core::metadata::{metadata_request, BrokerInfo};
use durian::core::security::{sasl, SecurityContext};
use durian::core::{ClientConfig, Error};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FindCoordinatorRequest, HeartbeatRequest, InitProducerIdRequest,
    JoinGroupRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest,
    ProduceRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::Request;

use super::Checks;
use crate::CliError;

/// What to do when TCP to `address` fails.
const TCP_HINT: &str = "nothing accepts connections there: is the broker running, is the port \
     right (-b / bootstrap.servers), does a firewall drop the packets?";

/// Resolve, TCP, TLS, ApiVersions and SASL for one bootstrap `address`;
/// the connection when all passed.
pub async fn bootstrap(
    checks: &mut Checks,
    config: &ClientConfig,
    security: &SecurityContext,
    address: &str,
    timeout: Duration,
) -> Result<Option<Connection>, CliError> {
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host(address)).await;
    let step = format!("resolve {address}");
    match resolved {
        Ok(Ok(addresses)) => {
            let list: Vec<String> = addresses.map(|a| a.to_string()).collect();
            checks.ok(&step, &list.join(", "))?;
        }
        Ok(Err(e)) => {
            let hint = "check the host name in -b / bootstrap.servers (typo? DNS? /etc/hosts?)";
            checks.fail(&step, &e.to_string(), hint)?;
            return Ok(None);
        }
        Err(_) => {
            let detail = format!("no answer within {timeout:?}");
            checks.fail(&step, &detail, "the name server does not answer: check DNS")?;
            return Ok(None);
        }
    }
    let step = format!("tcp connect {address}");
    let stream = match connection::connect_tcp(address, timeout).await {
        Ok(stream) => {
            checks.ok(&step, "connected")?;
            stream
        }
        Err(e) => {
            checks.fail(&step, &e.to_string(), TCP_HINT)?;
            return Ok(None);
        }
    };
    let transport = match security.tls() {
        None => Transport::Plain(stream),
        Some(tls) => {
            let step = format!("tls handshake {address}");
            let handshake = tokio::time::timeout(timeout, tls.connect(address, stream)).await;
            match handshake {
                Ok(Ok(stream)) => {
                    checks.ok(&step, "certificate accepted")?;
                    Transport::Tls(Box::new(stream))
                }
                Ok(Err(e)) => {
                    checks.fail(&step, &e.to_string(), &tls_hint(&e))?;
                    return Ok(None);
                }
                Err(_) => {
                    let detail = format!("no answer within {timeout:?}");
                    let hint =
                        "the listener may not speak TLS: check security.protocol and the port";
                    checks.fail(&step, &detail, hint)?;
                    return Ok(None);
                }
            }
        }
    };
    let step = format!("api versions {address}");
    let connection =
        match Connection::establish(transport, settings(config, address), timeout).await {
            Ok(connection) => connection,
            Err(e) => {
                let hint = if security.tls().is_some() {
                    "the handshake worked but no Kafka answer came: is this a Kafka listener?"
                } else {
                    "no Kafka answer: is this a Kafka port, and does the listener want TLS \
                 (then set security.protocol=SSL or SASL_SSL with -F or -X)?"
                };
                checks.fail(&step, &e.to_string(), hint)?;
                return Ok(None);
            }
        };
    let missing = missing_apis(&connection);
    if missing.is_empty() {
        checks.ok(&step, &versions_summary(&connection))?;
    } else {
        let detail = format!(
            "the broker lacks versions durian needs of {}",
            missing.join(", ")
        );
        let hint = "durian needs a Kafka 2.1 or newer broker (or a Kafka-compatible one with \
                    these APIs)";
        checks.fail(&step, &detail, hint)?;
        connection.close();
        return Ok(None);
    }
    if let Some(sasl_config) = security.sasl() {
        let step = format!("sasl {} {address}", sasl_config.mechanism.name());
        match sasl::authenticate(&connection, sasl_config, timeout).await {
            Ok(_) => checks.ok(&step, "authenticated")?,
            Err(e) => {
                let hint = "check sasl.mechanism, sasl.username and sasl.password (or \
                            sasl.jaas.config), and that the user exists on the cluster";
                checks.fail(&step, &e.to_string(), hint)?;
                connection.close();
                return Ok(None);
            }
        }
    }
    Ok(Some(connection))
}

/// Metadata from `connection`: the brokers the cluster advertises.
pub async fn metadata(
    checks: &mut Checks,
    connection: &Connection,
    timeout: Duration,
) -> Result<Option<Vec<BrokerInfo>>, CliError> {
    let step = format!("metadata from {}", connection.broker());
    let request = metadata_request(&BTreeSet::new());
    match connection.send(&request, timeout).await {
        Ok(response) => {
            let brokers: Vec<BrokerInfo> = response
                .brokers
                .iter()
                .map(|b| BrokerInfo {
                    node_id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                })
                .collect();
            if brokers.is_empty() {
                let hint = "the cluster has no live broker registered: check the brokers' logs";
                checks.fail(&step, "the answer names no broker", hint)?;
                return Ok(None);
            }
            let cluster = response
                .cluster_id
                .as_ref()
                .map_or_else(|| "-".to_owned(), |id| id.to_string());
            let list: Vec<String> = brokers
                .iter()
                .map(|b| format!("{} at {}", b.node_id, b.address()))
                .collect();
            let detail = format!(
                "cluster {cluster}, controller {}, brokers: {}",
                response.controller_id.0,
                list.join(", ")
            );
            checks.ok(&step, &detail)?;
            Ok(Some(brokers))
        }
        Err(e) => {
            let hint = if e.is_auth_failure() {
                "the cluster refused the request: check the principal's ACLs"
            } else {
                "the broker accepted the connection but did not answer Metadata: check its logs"
            };
            checks.fail(&step, &e.to_string(), hint)?;
            Ok(None)
        }
    }
}

/// Connects (TCP, TLS, ApiVersions) to every advertised broker address.
pub async fn advertised(
    checks: &mut Checks,
    config: &ClientConfig,
    security: &SecurityContext,
    brokers: &[BrokerInfo],
    timeout: Duration,
) -> Result<(), CliError> {
    for broker in brokers {
        let address = broker.address();
        let step = format!("advertised broker {} {address}", broker.node_id);
        let reached = match Transport::connect(&address, security, timeout).await {
            Ok(transport) => Connection::establish(transport, settings(config, &address), timeout)
                .await
                .map(|c| c.close()),
            Err(e) => Err(e),
        };
        match reached {
            Ok(()) => checks.ok(&step, "reachable")?,
            Err(e) => {
                let hint = format!(
                    "the bootstrap address answers, but the broker tells clients to use \
                     {address}, which cannot be reached from here: set the broker's \
                     advertised.listeners (`durian broker --advertised-listener`) to an \
                     address clients can reach"
                );
                checks.fail(&step, &e.to_string(), &hint)?;
            }
        }
    }
    Ok(())
}

fn settings(config: &ClientConfig, address: &str) -> ConnectionSettings {
    ConnectionSettings {
        broker: address.to_owned(),
        client_id: Some(config.client_id.clone()),
        max_frame_bytes: config.receive_message_max_bytes,
    }
}

/// What to do about a failed TLS handshake.
fn tls_hint(error: &Error) -> String {
    match error {
        Error::Tls { failure, .. } => failure.hint().to_owned(),
        _ => "check the ssl.* settings and that the listener speaks TLS".to_owned(),
    }
}

/// The APIs every durian client uses, by name, that the broker has no
/// common version of.
fn missing_apis(connection: &Connection) -> Vec<&'static str> {
    let checks: [(&str, bool); 11] = [
        ("Metadata", supports::<MetadataRequest>(connection)),
        ("Produce", supports::<ProduceRequest>(connection)),
        ("Fetch", supports::<FetchRequest>(connection)),
        ("ListOffsets", supports::<ListOffsetsRequest>(connection)),
        (
            "FindCoordinator",
            supports::<FindCoordinatorRequest>(connection),
        ),
        ("JoinGroup", supports::<JoinGroupRequest>(connection)),
        ("SyncGroup", supports::<SyncGroupRequest>(connection)),
        ("Heartbeat", supports::<HeartbeatRequest>(connection)),
        ("OffsetCommit", supports::<OffsetCommitRequest>(connection)),
        ("OffsetFetch", supports::<OffsetFetchRequest>(connection)),
        (
            "InitProducerId",
            supports::<InitProducerIdRequest>(connection),
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect()
}

fn supports<R: Request>(connection: &Connection) -> bool {
    connection.versions().negotiate_for::<R>().is_ok()
}

/// `N APIs; Metadata v0-12 (uses 12), ...` for the three busiest APIs.
fn versions_summary(connection: &Connection) -> String {
    let versions = connection.versions();
    let mut parts = vec![format!("the broker speaks {} APIs", versions.len())];
    for (name, api, used) in [
        (
            "Metadata",
            ApiKey::Metadata,
            versions.negotiate_for::<MetadataRequest>(),
        ),
        (
            "Produce",
            ApiKey::Produce,
            versions.negotiate_for::<ProduceRequest>(),
        ),
        (
            "Fetch",
            ApiKey::Fetch,
            versions.negotiate_for::<FetchRequest>(),
        ),
    ] {
        if let (Some(range), Ok(used)) = (versions.broker_range(api), used) {
            parts.push(format!(
                "{name} v{}-{} (durian uses v{used})",
                range.min, range.max
            ));
        }
    }
    parts.join("; ")
}
