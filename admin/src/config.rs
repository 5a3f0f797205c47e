//! Settings of the admin client: the core client's settings plus the
//! admin's own, by typed builder or by Kafka property names.

use std::time::Duration;

use durian_core::config::{PropertyDoc, PropertyParser};
use durian_core::{ClientConfig, Error, Result};

use crate::Admin;

/// The default of `default.api.timeout.ms`.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_millis(60_000);

/// The admin client's own properties (the core's are in
/// `durian_core::config::CLIENT_PROPERTIES`).
pub const ADMIN_PROPERTIES: &[PropertyDoc] = &[PropertyDoc {
    name: "default.api.timeout.ms",
    default: "60000",
    doc: "How long one admin operation may take in total, retries included; \
          items still failing then keep their last error.",
}];

/// Settings of an [`Admin`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    /// Connection, metadata and retry settings of the core client.
    pub client: ClientConfig,
    /// `default.api.timeout.ms`: the time limit of one operation, retries included.
    pub default_api_timeout: Duration,
}

impl AdminConfig {
    /// Reads Kafka properties: `default.api.timeout.ms` and every core
    /// client property. Unknown keys and bad values are [`Error::Config`].
    pub fn from_properties<I, K, V>(properties: I) -> Result<AdminConfig>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut parser = PropertyParser::new(properties)?;
        let timeout = parser.take_millis("default.api.timeout.ms")?;
        let client = ClientConfig::take_from(&mut parser)?;
        parser.finish()?;
        let config = AdminConfig {
            client,
            default_api_timeout: timeout.unwrap_or(DEFAULT_API_TIMEOUT),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks for values that cannot work.
    pub fn validate(&self) -> Result<()> {
        self.client.validate()?;
        if self.default_api_timeout.is_zero() {
            return Err(Error::config(
                "default.api.timeout.ms",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

/// Builds an [`Admin`]; start with [`Admin::builder`].
#[derive(Clone, Debug, Default)]
pub struct AdminBuilder {
    client: Option<ClientConfig>,
    bootstrap_servers: Option<Vec<String>>,
    client_id: Option<String>,
    default_api_timeout: Option<Duration>,
}

impl AdminBuilder {
    /// Uses a complete core client config (bootstrap servers, timeouts, backoffs).
    pub fn client_config(mut self, config: ClientConfig) -> Self {
        self.client = Some(config);
        self
    }

    /// `bootstrap.servers`; overrides the one in [`AdminBuilder::client_config`].
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap_servers = Some(durian_core::config::split_servers(servers));
        self
    }

    /// `client.id`; overrides the one in [`AdminBuilder::client_config`].
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// `default.api.timeout.ms`: the time limit of one operation, retries included.
    pub fn default_api_timeout(mut self, timeout: Duration) -> Self {
        self.default_api_timeout = Some(timeout);
        self
    }

    /// The validated config.
    pub fn config(self) -> Result<AdminConfig> {
        let mut builder = ClientConfig::builder();
        if let Some(client) = self.client {
            builder = builder
                .bootstrap_servers(client.bootstrap_servers.clone())
                .client_id(client.client_id.clone())
                .request_timeout(client.request_timeout)
                .metadata_max_age(client.metadata_max_age)
                .retry_backoff(client.retry_backoff, client.retry_backoff_max)
                .reconnect_backoff(client.reconnect_backoff, client.reconnect_backoff_max)
                .connection_setup_timeout(client.connection_setup_timeout)
                .receive_message_max_bytes(client.receive_message_max_bytes);
        }
        if let Some(servers) = self.bootstrap_servers {
            builder = builder.bootstrap_servers(servers);
        }
        if let Some(id) = self.client_id {
            builder = builder.client_id(id);
        }
        let config = AdminConfig {
            client: builder.build()?,
            default_api_timeout: self.default_api_timeout.unwrap_or(DEFAULT_API_TIMEOUT),
        };
        config.validate()?;
        Ok(config)
    }

    /// An admin client that connects on first use (needs a tokio runtime).
    pub fn build(self) -> Result<Admin> {
        Admin::new(self.config()?)
    }

    /// An admin client that has fetched metadata once.
    pub async fn connect(self) -> Result<Admin> {
        Admin::connect(self.config()?).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn properties_cover_admin_and_client_settings() {
        let config = AdminConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("default.api.timeout.ms", "1234"),
            ("request.timeout.ms", "999"),
        ])
        .unwrap();
        assert_eq!(config.default_api_timeout, Duration::from_millis(1234));
        assert_eq!(config.client.request_timeout, Duration::from_millis(999));
        let defaults = AdminConfig::from_properties([("bootstrap.servers", "h:1")]).unwrap();
        let documented: u64 = ADMIN_PROPERTIES[0].default.parse().unwrap();
        assert_eq!(
            defaults.default_api_timeout,
            Duration::from_millis(documented)
        );
    }

    #[test]
    fn unknown_and_invalid_properties_are_errors() {
        let err = AdminConfig::from_properties([("bootstrap.servers", "h:1"), ("linger.ms", "1")])
            .unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "linger.ms"));
        let err = AdminConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("default.api.timeout.ms", "0"),
        ])
        .unwrap_err();
        assert!(
            matches!(err, Error::Config { property, .. } if property == "default.api.timeout.ms")
        );
    }

    #[test]
    fn builder_overrides_the_given_client_config() {
        let base = ClientConfig::builder()
            .bootstrap_servers(["a:1"])
            .request_timeout(Duration::from_millis(77))
            .build()
            .unwrap();
        let config = AdminBuilder::default()
            .client_config(base)
            .bootstrap_servers(["b:2"])
            .default_api_timeout(Duration::from_secs(3))
            .config()
            .unwrap();
        assert_eq!(config.client.bootstrap_servers, ["b:2"]);
        assert_eq!(config.client.request_timeout, Duration::from_millis(77));
        assert_eq!(config.default_api_timeout, Duration::from_secs(3));
        assert!(AdminBuilder::default().config().is_err());
    }
}
