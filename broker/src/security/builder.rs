//! The security half of the embedding API: the [`BrokerBuilder`] calls
//! that configure listeners, TLS and SASL (docs/SECURITY.md), and what
//! `start()` derives from them (each listener's advertised address, the
//! SCRAM users seeded into the credential store).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use durian_core::security::scram::{ScramCredential, ScramMechanism, MIN_ITERATIONS};

use super::credentials::ScramStore;
use super::listener::{ListenerConfig, ListenerInfo, SecurityProtocol};
use super::sasl::oauthbearer::OAuthBearerValidator;
use super::tls::{ClientAuth, TlsConfig};
use crate::broker::{BrokerBuilder, BrokerError};
use crate::config::BrokerConfig;

impl BrokerBuilder {
    /// Named listeners, replacing the single one of [`BrokerBuilder::listen`]
    /// (see [`crate::parse_listeners`] for Kafka's `listeners` syntax).
    pub fn listeners(mut self, listeners: Vec<ListenerConfig>) -> Self {
        self.config.listeners = listeners;
        self
    }

    /// Adds a listener named after `protocol`, bound to `address`.
    pub fn add_listener(mut self, protocol: SecurityProtocol, address: impl Into<String>) -> Self {
        self.config
            .listeners
            .push(ListenerConfig::new(protocol, address));
        self
    }

    /// Serves TLS with this PEM certificate chain and key (SSL and
    /// SASL_SSL listeners; the default listener becomes SSL or SASL_SSL).
    pub fn tls(mut self, cert_chain: impl Into<PathBuf>, private_key: impl Into<PathBuf>) -> Self {
        let client = self.config.tls.take();
        let mut tls = TlsConfig::new(cert_chain, private_key);
        if let Some(previous) = client {
            tls.client_ca = previous.client_ca;
            tls.client_auth = previous.client_auth;
        }
        self.config.tls = Some(tls);
        self
    }

    /// The whole TLS configuration.
    pub fn tls_config(mut self, tls: TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// Asks TLS clients for certificates signed by the CAs in `ca_pem`
    /// (`ssl.client.auth`); call after [`BrokerBuilder::tls`].
    pub fn ssl_client_auth(mut self, auth: ClientAuth, ca_pem: impl Into<PathBuf>) -> Self {
        let tls = self
            .config
            .tls
            .get_or_insert_with(|| TlsConfig::new(PathBuf::new(), PathBuf::new()));
        tls.client_auth = auth;
        tls.client_ca = Some(ca_pem.into());
        self
    }

    /// Adds a SASL/PLAIN user (the default listener becomes SASL).
    pub fn sasl_plain_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.config
            .sasl
            .plain_users
            .insert(user.into(), password.into());
        self
    }

    /// Adds (or replaces) a SCRAM user, stored salted in the data dir at
    /// start (the default listener becomes SASL).
    pub fn sasl_scram_user(
        mut self,
        mechanism: ScramMechanism,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.config
            .sasl
            .scram_users
            .push((mechanism, user.into(), password.into()));
        self
    }

    /// Validates OAUTHBEARER tokens with `validator`, which enables the
    /// mechanism unless [`BrokerBuilder::sasl_mechanisms`] lists others.
    pub fn sasl_oauthbearer(mut self, validator: Arc<dyn OAuthBearerValidator>) -> Self {
        self.config.sasl.oauthbearer = Some(validator);
        self
    }

    /// `sasl.enabled.mechanisms` (default: PLAIN, SCRAM-SHA-256,
    /// SCRAM-SHA-512, and OAUTHBEARER with a validator).
    pub fn sasl_mechanisms<I, S>(mut self, mechanisms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.sasl.enabled_mechanisms = mechanisms.into_iter().map(Into::into).collect();
        self
    }

    /// `connections.max.reauth.ms`: SASL sessions last this long unless
    /// re-authenticated.
    pub fn connections_max_reauth(mut self, lifetime: std::time::Duration) -> Self {
        self.config.sasl.max_reauth = Some(lifetime);
        self
    }

    /// Time a client has for the TLS handshake and for SASL authentication.
    pub fn handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.sasl.handshake_timeout = timeout;
        self
    }

    /// Lets a listener that does not authenticate clients bind a
    /// non-loopback address (refused by default).
    pub fn allow_insecure_listener(mut self, allow: bool) -> Self {
        self.config.allow_insecure_listener = allow;
        self
    }
}

/// The name, protocol and advertised address of a bound listener.
pub(crate) fn listener_info(
    spec: &ListenerConfig,
    bound: SocketAddr,
) -> Result<ListenerInfo, BrokerError> {
    let (host, port) = match &spec.advertised {
        Some(advertised) => crate::config::split_host_port(advertised).ok_or_else(|| {
            BrokerError::Config(format!(
                "advertised address {advertised:?} of {} is not host:port",
                spec.name
            ))
        })?,
        None if bound.ip().is_unspecified() => ("localhost".to_string(), i32::from(bound.port())),
        None => (bound.ip().to_string(), i32::from(bound.port())),
    };
    Ok(ListenerInfo {
        name: spec.name.clone(),
        protocol: spec.protocol,
        host,
        port,
    })
}

/// Stores the SCRAM users given in the configuration (replacing stored
/// credentials of the same user and mechanism), salted afresh.
pub(crate) fn seed_scram_users(
    store: &ScramStore,
    config: &BrokerConfig,
) -> Result<(), BrokerError> {
    if config.sasl.scram_users.is_empty() {
        return Ok(());
    }
    let changes = config
        .sasl
        .scram_users
        .iter()
        .map(|(mechanism, user, password)| {
            let salt: [u8; 16] = rand::random();
            let credential = ScramCredential::from_password(
                *mechanism,
                password.as_bytes(),
                &salt,
                MIN_ITERATIONS,
            );
            (user.clone(), *mechanism, Some(credential))
        })
        .collect();
    store
        .apply(changes)
        .map_err(|e| BrokerError::Config(e.to_string()))
}
