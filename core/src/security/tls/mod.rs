//! TLS for broker connections: rustls with the *ring* crypto provider.
//!
//! [`TlsConfig`] holds the `ssl.*` properties; [`TlsConnector::new`] reads
//! the PEM material they point at once per client and builds the rustls
//! configuration every connection of that client shares. Hostname
//! verification follows `ssl.endpoint.identification.algorithm`: `https`
//! (the default) checks the broker's certificate against the host name or
//! IP address in its `host:port`; `none` still checks the chain, validity
//! dates and trust anchor, only not the name (see [`verify`]).
//!
//! ring rather than aws-lc-rs (rustls' default): aws-lc-rs builds C and
//! assembly with cmake, which durian's build machines do not have.

mod pem;
mod verify;

use std::io;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::{Error, Result};

pub use pem::PemSource;

/// The `ssl.*` settings of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `ssl.ca.location` / `ssl.ca.pem`: the CA certificates brokers are
    /// checked against; `None` uses the operating system's trust store.
    pub ca: Option<PemSource>,
    /// `ssl.certificate.location` / `ssl.certificate.pem`: the client's
    /// certificate chain for mutual TLS.
    pub certificate: Option<PemSource>,
    /// `ssl.key.location` / `ssl.key.pem`: the private key of
    /// [`TlsConfig::certificate`] (PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted).
    pub key: Option<PemSource>,
    /// `ssl.key.password`: accepted so property files from other clients
    /// load, but an encrypted key is refused with an error saying so.
    pub key_password: Option<super::Password>,
    /// `ssl.endpoint.identification.algorithm`: `true` for `https` (check
    /// the broker's host name), `false` for `none`.
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca: None,
            certificate: None,
            key: None,
            key_password: None,
            verify_hostname: true,
        }
    }
}

impl TlsConfig {
    /// Checks the settings that can be checked without reading files.
    pub fn validate(&self) -> Result<()> {
        match (&self.certificate, &self.key) {
            (Some(_), None) => Err(Error::config(
                "ssl.key.location",
                "ssl.certificate.location is set but no private key: give both for mutual TLS",
            )),
            (None, Some(_)) => Err(Error::config(
                "ssl.certificate.location",
                "ssl.key.location is set but no certificate: give both for mutual TLS",
            )),
            _ => Ok(()),
        }
    }
}

/// A built TLS client configuration, shared by every connection of a client.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Reads the trust anchors, certificate and key `config` names and
    /// builds the rustls configuration. Errors name the property to fix.
    pub fn new(config: &TlsConfig) -> Result<Self> {
        config.validate()?;
        // rustls 0.23.48 deprecates the ring provider because it lacks the
        // post-quantum key exchange aws-lc-rs offers; ring is kept for the
        // build reasons in the module docs.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(pem::root_store(config.ca.as_ref())?);
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config("security.protocol", format!("TLS setup failed: {e}")))?;
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| Error::config("ssl.ca.location", format!("unusable trust store: {e}")))?;
        let builder = if config.verify_hostname {
            builder.with_webpki_verifier(webpki)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verify::IgnoreHostname::new(webpki)))
        };
        let client = match (&config.certificate, &config.key) {
            (Some(certificate), Some(key)) => {
                let chain = pem::certificates(certificate, "ssl.certificate.location")?;
                let key = pem::private_key(key, config.key_password.is_some())?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::config(
                        "ssl.key.location",
                        format!("the key does not fit ssl.certificate.location: {e}"),
                    )
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(client)),
        })
    }

    /// Runs the TLS handshake over `stream` with the broker at `address`
    /// (`host:port`; the host is the name the certificate must carry).
    /// Certificate problems come back as [`Error::Tls`].
    pub async fn connect(&self, address: &str, stream: TcpStream) -> Result<TlsStream<TcpStream>> {
        let name = server_name(address)?;
        self.inner
            .connect(name, stream)
            .await
            .map_err(|e: io::Error| Error::io(address, e))
    }
}

/// The host part of `host:port` as rustls wants it: an IP address (with or
/// without brackets) or a DNS name.
fn server_name(address: &str) -> Result<ServerName<'static>> {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| {
        Error::config(
            "bootstrap.servers",
            format!("`{host}` is neither a DNS name nor an IP address usable for TLS"),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn server_names_of_hosts_and_addresses() {
        assert!(matches!(
            server_name("broker.example:9093").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("127.0.0.1:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn half_a_key_pair_is_refused() {
        let config = TlsConfig {
            certificate: Some(PemSource::Inline("x".into())),
            ..TlsConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "ssl.key.location"));
    }
}
