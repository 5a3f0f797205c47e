//! Connections to brokers.
//!
//! A [`Connection`] is a handle to one socket, driven by the actor in
//! [`actor`], that has completed the ApiVersions handshake and therefore
//! knows which versions of each API the broker speaks. It is generic over
//! the byte stream so tests can run it over `tokio::io::duplex`; in
//! production the stream is a [`Transport`]: TCP with `TCP_NODELAY` (see
//! [`connect_tcp`]), wrapped in TLS for `SSL` and `SASL_SSL`.
//!
//! A `SASL_*` connection authenticates right after ApiVersions
//! ([`Connection::establish_authenticated`]). When the broker limits the
//! session (KIP-368), the connection re-authenticates on the same socket
//! between requests before the session runs out ([`session`]).

pub mod actor;
pub mod frame;
mod session;
pub mod telemetry;
pub mod transport;
pub mod versions;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Request;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub use actor::{ConnectionSettings, Link, RawRequest};
pub use transport::Transport;
pub use versions::{ApiVersionTable, Handshake};

use crate::error::{Error, Result};
use crate::protocol::{decode_body, encode_body};
use crate::security::sasl::{self, SaslConfig};
use session::Session;

/// A broker connection whose API versions are known; cheap to clone.
#[derive(Clone, Debug)]
pub struct Connection {
    link: Link,
    versions: Arc<ApiVersionTable>,
    /// The SASL session, on authenticated connections.
    session: Option<Arc<Session>>,
}

impl Connection {
    /// Starts the actor on `io` and performs the ApiVersions handshake.
    ///
    /// The handshake is bounded by `timeout`; on failure the socket is closed.
    pub async fn establish<IO>(
        io: IO,
        settings: ConnectionSettings,
        timeout: Duration,
    ) -> Result<Self>
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let link = Link::spawn(io, settings);
        match handshake(&link, timeout).await {
            Ok(versions) => Ok(Connection {
                link,
                versions: Arc::new(versions),
                session: None,
            }),
            Err(error) => {
                link.close();
                Err(error)
            }
        }
    }

    /// [`Connection::establish`], then SASL authentication with `sasl`
    /// when given; `timeout` also bounds each request of a later
    /// re-authentication. Authentication failures are typed
    /// ([`Error::SaslAuthentication`], [`Error::UnsupportedSaslMechanism`])
    /// and close the socket.
    pub async fn establish_authenticated<IO>(
        io: IO,
        settings: ConnectionSettings,
        timeout: Duration,
        sasl: Option<Arc<SaslConfig>>,
    ) -> Result<Self>
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let mut connection = Self::establish(io, settings, timeout).await?;
        let Some(sasl) = sasl else {
            return Ok(connection);
        };
        let started = tokio::time::Instant::now();
        match sasl::authenticate(&connection, &sasl, timeout).await {
            Ok(lifetime) => {
                connection.session = Some(Arc::new(Session::new(sasl, timeout, started, lifetime)));
                Ok(connection)
            }
            Err(error) => {
                connection.close();
                Err(error)
            }
        }
    }

    /// When the SASL session will be renewed: at 85% of the lifetime the
    /// broker granted (`None`: not authenticated, or no limit).
    pub fn session_renewal_at(&self) -> Option<tokio::time::Instant> {
        self.session.as_ref().and_then(|s| s.renew_at())
    }

    /// How many times the SASL session has been renewed on this connection.
    pub fn reauthentications(&self) -> u64 {
        self.session.as_ref().map_or(0, |s| s.renewals())
    }

    /// The broker's address.
    pub fn broker(&self) -> &str {
        self.link.broker()
    }

    /// The versions the broker announced.
    pub fn versions(&self) -> &ApiVersionTable {
        &self.versions
    }

    /// Whether `other` is a handle to this same connection (not merely one
    /// to the same broker).
    pub fn is_same(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.versions, &other.versions)
    }

    /// Whether the connection has failed and must be replaced.
    pub fn is_poisoned(&self) -> bool {
        self.link.is_poisoned()
    }

    /// Closes the connection; pending requests fail.
    pub fn close(&self) {
        self.link.close();
    }

    /// Sends `request` at the highest version both sides support.
    pub async fn send<R: Request>(&self, request: &R, timeout: Duration) -> Result<R::Response> {
        let version = self.versions.negotiate_for::<R>()?;
        self.send_with_version(request, version, timeout).await
    }

    /// Sends `request` at an explicit `version`, which the broker must support.
    pub async fn send_with_version<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        self.versions.check::<R>(version)?;
        let _admitted = match &self.session {
            Some(session) => Some(session.admit(self).await?),
            None => None,
        };
        send_unchecked(&self.link, request, version, timeout).await
    }

    /// Sends an already encoded request without version checks; for
    /// requests that get no response (Produce with acks=0) set
    /// `expect_response` to false in `raw`.
    pub async fn send_raw(&self, raw: RawRequest) -> Result<bytes::Bytes> {
        let _admitted = match &self.session {
            Some(session) => Some(session.admit(self).await?),
            None => None,
        };
        self.link.send(raw).await
    }

    /// Sends `request` at `version` past the session gate: for the SASL
    /// exchange itself, which runs while the gate is held.
    pub(crate) async fn send_authentication<R: Request>(
        &self,
        request: &R,
        version: Option<i16>,
        timeout: Duration,
    ) -> Result<R::Response> {
        let version = match version {
            Some(version) => {
                self.versions.check::<R>(version)?;
                version
            }
            None => self.versions.negotiate_for::<R>()?,
        };
        send_unchecked(&self.link, request, version, timeout).await
    }
}

async fn send_unchecked<R: Request>(
    link: &Link,
    request: &R,
    version: i16,
    timeout: Duration,
) -> Result<R::Response> {
    let api = versions::api_key_of::<R>()?;
    let body = encode_body(api, request, version)?;
    let response = link
        .send(RawRequest {
            api,
            version,
            body,
            body_tail: Vec::new(),
            expect_response: true,
            timeout,
        })
        .await?;
    decode_body(api, response, version)
}

async fn handshake(link: &Link, timeout: Duration) -> Result<ApiVersionTable> {
    let request = versions::api_versions_request();
    let mut version = versions::PREFERRED_API_VERSIONS_VERSION;
    // Each retry lowers the version, so this ends after at most four rounds.
    loop {
        let body = encode_body(ApiKey::ApiVersions, &request, version)?;
        let response = link
            .send(RawRequest {
                api: ApiKey::ApiVersions,
                version,
                body,
                body_tail: Vec::new(),
                expect_response: true,
                timeout,
            })
            .await?;
        match versions::parse_api_versions(response, version)? {
            Handshake::Done(table) => return Ok(table),
            Handshake::Retry(lower) => {
                tracing::debug!(
                    broker = link.broker(),
                    version = lower,
                    "ApiVersions downgrade"
                );
                version = lower;
            }
        }
    }
}

/// Opens a TCP connection to `address` (`host:port`), trying every address
/// the name resolves to, each within `timeout`, with `TCP_NODELAY` set.
pub async fn connect_tcp(address: &str, timeout: Duration) -> Result<TcpStream> {
    let resolved: Vec<_> = tokio::time::timeout(timeout, tokio::net::lookup_host(address))
        .await
        .map_err(|_| Error::Timeout {
            operation: format!("resolving {address}"),
            timeout,
        })?
        .map_err(|e| Error::Resolve {
            address: address.to_owned(),
            reason: e.to_string(),
        })?
        .collect();
    let mut last_error = Error::Resolve {
        address: address.to_owned(),
        reason: "the name resolved to no address".to_owned(),
    };
    for socket_address in resolved {
        match tokio::time::timeout(timeout, TcpStream::connect(socket_address)).await {
            Ok(Ok(stream)) => {
                stream
                    .set_nodelay(true)
                    .map_err(|e| Error::io(address, e))?;
                return Ok(stream);
            }
            Ok(Err(error)) => {
                last_error = Error::io(format!("{address} ({socket_address})"), error)
            }
            Err(_) => {
                last_error = Error::Timeout {
                    operation: format!("connecting to {address} ({socket_address})"),
                    timeout,
                }
            }
        }
    }
    Err(last_error)
}
