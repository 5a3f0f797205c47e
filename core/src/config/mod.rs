//! Configuration shared by every durian client.
//!
//! [`ClientConfig`] holds the connection-level settings; the producer,
//! consumer and admin configs embed it. Settings can be given through the
//! typed [`ClientConfigBuilder`] or by their Kafka property names through
//! [`ClientConfig::from_properties`], so property files written for other
//! Kafka clients keep working. [`CLIENT_PROPERTIES`] documents each property
//! and is the source for docs/CONFIG.md.

mod properties;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::security::sasl::{SaslMechanism, TokenProvider, TokenProviderHandle};
use crate::security::tls::PemSource;
use crate::security::{Password, SecurityConfig, SecurityProtocol};

pub use properties::{PropertyDoc, PropertyParser};

/// Documentation of every property [`ClientConfig`] accepts.
pub const CLIENT_PROPERTIES: &[PropertyDoc] = &[
    PropertyDoc {
        name: "bootstrap.servers",
        default: "",
        doc: "Comma-separated host:port list used to reach the cluster the first time; \
              every address a name resolves to is tried. Required.",
    },
    PropertyDoc {
        name: "client.id",
        default: "durian",
        doc: "Name sent with every request so brokers can attribute load in logs and quotas.",
    },
    PropertyDoc {
        name: "request.timeout.ms",
        default: "30000",
        doc: "How long to wait for a response before failing the request and closing \
              the connection it was sent on.",
    },
    PropertyDoc {
        name: "metadata.max.age.ms",
        default: "300000",
        doc: "Refresh cluster metadata at least this often, even when nothing failed.",
    },
    PropertyDoc {
        name: "retry.backoff.ms",
        default: "100",
        doc: "First wait before retrying a failed request; also the minimum interval \
              between two metadata refreshes.",
    },
    PropertyDoc {
        name: "retry.backoff.max.ms",
        default: "1000",
        doc: "Upper bound of the exponentially growing, jittered retry wait.",
    },
    PropertyDoc {
        name: "reconnect.backoff.ms",
        default: "50",
        doc: "First wait before reconnecting to a broker after a connection failed.",
    },
    PropertyDoc {
        name: "reconnect.backoff.max.ms",
        default: "1000",
        doc: "Upper bound of the exponentially growing, jittered reconnect wait.",
    },
    PropertyDoc {
        name: "socket.connection.setup.timeout.ms",
        default: "10000",
        doc: "Time allowed for each step of opening a connection: TCP, the TLS handshake, \
              ApiVersions and each SASL request.",
    },
    PropertyDoc {
        name: "receive.message.max.bytes",
        default: "104857600",
        doc: "Largest response frame accepted from a broker; a larger or negative size \
              prefix closes the connection before any memory is reserved.",
    },
    PropertyDoc {
        name: "security.protocol",
        default: "PLAINTEXT",
        doc: "PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL inside TLS); \
              docs/SECURITY.md has recipes.",
    },
    PropertyDoc {
        name: "ssl.ca.location",
        default: "",
        doc: "PEM file of the CA certificates brokers are verified against; when neither \
              it nor ssl.ca.pem is set, the operating system's trust store is used.",
    },
    PropertyDoc {
        name: "ssl.ca.pem",
        default: "",
        doc: "The CA certificates as PEM text, instead of ssl.ca.location (librdkafka's name).",
    },
    PropertyDoc {
        name: "ssl.certificate.location",
        default: "",
        doc: "PEM file of the client's certificate chain, for brokers that require client \
              certificates (mutual TLS, ssl.client.auth=required); needs ssl.key.location.",
    },
    PropertyDoc {
        name: "ssl.certificate.pem",
        default: "",
        doc: "The client's certificate chain as PEM text, instead of ssl.certificate.location.",
    },
    PropertyDoc {
        name: "ssl.key.location",
        default: "",
        doc: "PEM file of the client certificate's private key: PKCS#8, RSA (PKCS#1) or EC \
              (SEC1), unencrypted.",
    },
    PropertyDoc {
        name: "ssl.key.pem",
        default: "",
        doc: "The client's private key as PEM text, instead of ssl.key.location.",
    },
    PropertyDoc {
        name: "ssl.key.password",
        default: "",
        doc: "Accepted for compatibility, but encrypted keys are refused with an error: \
              decrypt the key (openssl pkcs8) and leave this unset.",
    },
    PropertyDoc {
        name: "ssl.endpoint.identification.algorithm",
        default: "https",
        doc: "https: the broker's certificate must name the host (or IP address) dialled; \
              none: skip that name check (chain, dates and trust are still verified).",
    },
    PropertyDoc {
        name: "sasl.mechanism",
        default: "PLAIN",
        doc: "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (librdkafka's \
              sasl.mechanisms is accepted too). GSSAPI and AWS_MSK_IAM are not supported.",
    },
    PropertyDoc {
        name: "sasl.username",
        default: "",
        doc: "User name for PLAIN and SCRAM.",
    },
    PropertyDoc {
        name: "sasl.password",
        default: "",
        doc: "Password for PLAIN and SCRAM.",
    },
    PropertyDoc {
        name: "sasl.jaas.config",
        default: "",
        doc: "The Java client's login line; durian reads its username, password and \
              unsecuredLoginStringClaim_sub options (sasl.username/sasl.password win).",
    },
    PropertyDoc {
        name: "sasl.oauthbearer.config",
        default: "",
        doc: "librdkafka's unsecured JWT for OAUTHBEARER: principal=NAME [scope=a,b] \
              [lifeSeconds=N] [extension_KEY=VALUE]. Only for brokers that accept unsigned \
              tokens; real deployments set a token provider in code.",
    },
];

/// Connection-level settings of a durian client.
///
/// Build one with [`ClientConfig::builder`] or [`ClientConfig::from_properties`];
/// both validate. The defaults are those listed in [`CLIENT_PROPERTIES`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` entries.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`.
    pub client_id: String,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// `reconnect.backoff.ms`.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`.
    pub reconnect_backoff_max: Duration,
    /// `socket.connection.setup.timeout.ms`.
    pub connection_setup_timeout: Duration,
    /// `receive.message.max.bytes`.
    pub receive_message_max_bytes: usize,
    /// `security.protocol` and the `ssl.*` and `sasl.*` settings.
    pub security: SecurityConfig,
}

impl Default for ClientConfig {
    /// Defaults with no bootstrap servers (which [`ClientConfig::validate`] rejects).
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: Vec::new(),
            client_id: "durian".to_owned(),
            request_timeout: Duration::from_millis(30_000),
            metadata_max_age: Duration::from_millis(300_000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1_000),
            connection_setup_timeout: Duration::from_millis(10_000),
            receive_message_max_bytes: 104_857_600,
            security: SecurityConfig::default(),
        }
    }
}

impl ClientConfig {
    /// Starts a typed builder.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = durian_core::ClientConfig::builder()
    ///     .bootstrap_servers(["localhost:9092"])
    ///     .request_timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.client_id, "durian");
    /// ```
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder {
            config: ClientConfig::default(),
        }
    }

    /// Builds a config from Kafka property names; unknown keys and invalid
    /// values are [`Error::Config`] errors naming the property.
    ///
    /// ```
    /// let config = durian_core::ClientConfig::from_properties([
    ///     ("bootstrap.servers", "a:9092,b:9092"),
    ///     ("client.id", "shipper"),
    /// ]).unwrap();
    /// assert_eq!(config.bootstrap_servers.len(), 2);
    /// ```
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut parser = PropertyParser::new(properties)?;
        let config = Self::take_from(&mut parser)?;
        parser.finish()?;
        Ok(config)
    }

    /// Consumes the properties this config knows from `parser` and leaves
    /// the rest, for configs that embed a `ClientConfig` and add keys of their own.
    pub fn take_from(parser: &mut PropertyParser) -> Result<Self> {
        let mut config = ClientConfig::default();
        if let Some(servers) = parser.take_list("bootstrap.servers") {
            config.bootstrap_servers = servers;
        }
        if let Some(client_id) = parser.take("client.id") {
            config.client_id = client_id;
        }
        let millis: [(&str, &mut Duration); 7] = [
            ("request.timeout.ms", &mut config.request_timeout),
            ("metadata.max.age.ms", &mut config.metadata_max_age),
            ("retry.backoff.ms", &mut config.retry_backoff),
            ("retry.backoff.max.ms", &mut config.retry_backoff_max),
            ("reconnect.backoff.ms", &mut config.reconnect_backoff),
            (
                "reconnect.backoff.max.ms",
                &mut config.reconnect_backoff_max,
            ),
            (
                "socket.connection.setup.timeout.ms",
                &mut config.connection_setup_timeout,
            ),
        ];
        for (name, slot) in millis {
            if let Some(value) = parser.take_millis(name)? {
                *slot = value;
            }
        }
        if let Some(max) =
            parser.take_parsed::<usize>("receive.message.max.bytes", "a byte count")?
        {
            config.receive_message_max_bytes = max;
        }
        config.security = SecurityConfig::take_from(parser)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings for values that cannot work.
    pub fn validate(&self) -> Result<()> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::config(
                "bootstrap.servers",
                "required: give at least one host:port",
            ));
        }
        for server in &self.bootstrap_servers {
            validate_host_port(server)?;
        }
        let positive = [
            ("request.timeout.ms", self.request_timeout),
            ("metadata.max.age.ms", self.metadata_max_age),
            (
                "socket.connection.setup.timeout.ms",
                self.connection_setup_timeout,
            ),
        ];
        for (name, value) in positive {
            if value.is_zero() {
                return Err(Error::config(name, "must be greater than 0"));
            }
        }
        if self.retry_backoff_max < self.retry_backoff {
            return Err(Error::config(
                "retry.backoff.max.ms",
                "must be at least retry.backoff.ms",
            ));
        }
        if self.reconnect_backoff_max < self.reconnect_backoff {
            return Err(Error::config(
                "reconnect.backoff.max.ms",
                "must be at least reconnect.backoff.ms",
            ));
        }
        // A response frame must at least hold a header; anything above i32
        // cannot be announced by the 4-byte size prefix anyway.
        if self.receive_message_max_bytes < 1024
            || self.receive_message_max_bytes > i32::MAX as usize
        {
            return Err(Error::config(
                "receive.message.max.bytes",
                format!("must be between 1024 and {}", i32::MAX),
            ));
        }
        self.security.validate()
    }
}

/// Bootstrap server entries as given to a builder, each of which may itself
/// be a comma-separated list (`"a:9092,b:9092"`, as `bootstrap.servers` is
/// written in properties files): split, trimmed, empty entries dropped.
pub fn split_servers<I, S>(servers: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    servers
        .into_iter()
        .flat_map(|entry| {
            let entry: String = entry.into();
            entry
                .split(',')
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn validate_host_port(server: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Error::config(
            "bootstrap.servers",
            format!("`{server}` {reason}; expected host:port"),
        )
    };
    let (host, port) = server
        .rsplit_once(':')
        .ok_or_else(|| invalid("has no port"))?;
    if host.is_empty() {
        return Err(invalid("has no host"));
    }
    if host.contains(|c: char| c == ',' || c.is_whitespace()) {
        return Err(invalid(
            "is not one host (separate servers with commas, one entry each)",
        ));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(invalid("has an invalid port")),
    }
}

/// Typed builder for [`ClientConfig`]; every setter mirrors one property.
#[derive(Clone, Debug)]
pub struct ClientConfigBuilder {
    config: ClientConfig,
}

impl ClientConfigBuilder {
    /// `bootstrap.servers`.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.bootstrap_servers = split_servers(servers);
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.config.client_id = client_id.into();
        self
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.config.metadata_max_age = age;
        self
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.retry_backoff = initial;
        self.config.retry_backoff_max = max;
        self
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.reconnect_backoff = initial;
        self.config.reconnect_backoff_max = max;
        self
    }

    /// `socket.connection.setup.timeout.ms`.
    pub fn connection_setup_timeout(mut self, timeout: Duration) -> Self {
        self.config.connection_setup_timeout = timeout;
        self
    }

    /// `receive.message.max.bytes`.
    pub fn receive_message_max_bytes(mut self, max: usize) -> Self {
        self.config.receive_message_max_bytes = max;
        self
    }

    /// `security.protocol`.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.config.security.protocol = protocol;
        self
    }

    /// `ssl.ca.location`: a PEM file of CA certificates.
    pub fn ssl_ca_location(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.security.tls.ca = Some(PemSource::File(path.into()));
        self
    }

    /// `ssl.ca.pem`: CA certificates as PEM text.
    pub fn ssl_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.config.security.tls.ca = Some(PemSource::Inline(pem.into()));
        self
    }

    /// `ssl.certificate.location` and `ssl.key.location`: the client's
    /// certificate chain and key, for mutual TLS.
    pub fn ssl_client_certificate(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.config.security.tls.certificate = Some(PemSource::File(certificate.into()));
        self.config.security.tls.key = Some(PemSource::File(key.into()));
        self
    }

    /// `ssl.certificate.pem` and `ssl.key.pem`: the client's certificate
    /// chain and key as PEM text.
    pub fn ssl_client_certificate_pem(
        mut self,
        certificate: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        self.config.security.tls.certificate = Some(PemSource::Inline(certificate.into()));
        self.config.security.tls.key = Some(PemSource::Inline(key.into()));
        self
    }

    /// `ssl.endpoint.identification.algorithm`: `true` for `https` (the
    /// default), `false` for `none`.
    pub fn ssl_verify_hostname(mut self, verify: bool) -> Self {
        self.config.security.tls.verify_hostname = verify;
        self
    }

    /// `sasl.mechanism`.
    pub fn sasl_mechanism(mut self, mechanism: SaslMechanism) -> Self {
        self.config.security.sasl.mechanism = mechanism;
        self
    }

    /// `sasl.username` and `sasl.password`.
    pub fn sasl_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.config.security.sasl.username = Some(username.into());
        self.config.security.sasl.password = Some(Password::new(password));
        self
    }

    /// `sasl.oauthbearer.config`: an unsecured JWT (see [`CLIENT_PROPERTIES`]).
    pub fn sasl_oauthbearer_config(mut self, config: impl Into<String>) -> Self {
        self.config.security.sasl.oauthbearer_config = Some(config.into());
        self
    }

    /// Where OAUTHBEARER tokens come from (no property: code only).
    pub fn oauthbearer_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.config.security.sasl.token_provider = Some(TokenProviderHandle(provider));
        self
    }

    /// Replaces every security setting at once.
    pub fn security(mut self, security: SecurityConfig) -> Self {
        self.config.security = security;
        self
    }

    /// Validates and returns the config.
    pub fn build(self) -> Result<ClientConfig> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn property_of(err: Error) -> String {
        match err {
            Error::Config { property, .. } => property,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn every_documented_property_parses() {
        let values = [
            ("bootstrap.servers", "h1:1,h2:2"),
            ("client.id", "me"),
            ("request.timeout.ms", "1001"),
            ("metadata.max.age.ms", "1002"),
            ("retry.backoff.ms", "3"),
            ("retry.backoff.max.ms", "1004"),
            ("reconnect.backoff.ms", "5"),
            ("reconnect.backoff.max.ms", "1006"),
            ("socket.connection.setup.timeout.ms", "1007"),
            ("receive.message.max.bytes", "4096"),
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", "/etc/ca.pem"),
            ("ssl.certificate.location", "/etc/client.pem"),
            ("ssl.key.location", "/etc/client.key"),
            ("ssl.key.password", "pw"),
            ("ssl.endpoint.identification.algorithm", "none"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
            ("sasl.jaas.config", "M required username=\"bob\";"),
            ("sasl.oauthbearer.config", "principal=alice"),
        ];
        // The inline PEM variants exclude their `.location` twins.
        let alternatives = ["ssl.ca.pem", "ssl.certificate.pem", "ssl.key.pem"];
        assert_eq!(values.len() + alternatives.len(), CLIENT_PROPERTIES.len());
        for doc in CLIENT_PROPERTIES {
            assert!(
                values.iter().any(|(name, _)| *name == doc.name)
                    || alternatives.contains(&doc.name),
                "{}",
                doc.name
            );
        }
        let config = ClientConfig::from_properties(values).unwrap();
        assert_eq!(config.bootstrap_servers, ["h1:1", "h2:2"]);
        assert_eq!(config.client_id, "me");
        assert_eq!(config.request_timeout, Duration::from_millis(1001));
        assert_eq!(config.metadata_max_age, Duration::from_millis(1002));
        assert_eq!(config.retry_backoff, Duration::from_millis(3));
        assert_eq!(config.retry_backoff_max, Duration::from_millis(1004));
        assert_eq!(config.reconnect_backoff, Duration::from_millis(5));
        assert_eq!(config.reconnect_backoff_max, Duration::from_millis(1006));
        assert_eq!(config.connection_setup_timeout, Duration::from_millis(1007));
        assert_eq!(config.receive_message_max_bytes, 4096);
        let security = &config.security;
        assert_eq!(security.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(security.tls.ca, Some(PemSource::File("/etc/ca.pem".into())));
        assert!(security.tls.certificate.is_some() && security.tls.key.is_some());
        assert!(!security.tls.verify_hostname);
        assert_eq!(
            security.sasl.mechanism,
            SaslMechanism::Scram(crate::security::scram::ScramMechanism::Sha512)
        );
        assert_eq!(
            security.sasl.username.as_deref(),
            Some("alice"),
            "explicit wins"
        );
        assert_eq!(security.sasl.password, Some(Password::new("alice-secret")));
        assert_eq!(
            security.sasl.oauthbearer_config.as_deref(),
            Some("principal=alice")
        );
        let inline = ClientConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("ssl.ca.pem", "PEM"),
            ("ssl.certificate.pem", "CERT"),
            ("ssl.key.pem", "KEY"),
        ])
        .unwrap();
        assert_eq!(
            inline.security.tls.ca,
            Some(PemSource::Inline("PEM".into()))
        );
        assert_eq!(
            inline.security.tls.key,
            Some(PemSource::Inline("KEY".into()))
        );
    }

    #[test]
    fn documented_defaults_match_the_code() {
        let config = ClientConfig::from_properties([("bootstrap.servers", "h:1")]).unwrap();
        let mut parsed = Vec::new();
        for doc in CLIENT_PROPERTIES.iter().filter(|d| !d.default.is_empty()) {
            let one = ClientConfig::from_properties([
                ("bootstrap.servers", "h:1"),
                (doc.name, doc.default),
            ])
            .unwrap();
            parsed.push((doc.name, one == config));
        }
        assert!(parsed.iter().all(|(_, same)| *same), "{parsed:?}");
    }

    #[test]
    fn bad_values_name_the_property() {
        let cases = [
            ("request.timeout.ms", "soon"),
            ("request.timeout.ms", "0"),
            ("metadata.max.age.ms", "-1"),
            ("retry.backoff.max.ms", "1"),
            ("reconnect.backoff.max.ms", "10"),
            ("receive.message.max.bytes", "12"),
            ("receive.message.max.bytes", "many"),
            ("socket.connection.setup.timeout.ms", "1.5"),
        ];
        for (name, value) in cases {
            let err = ClientConfig::from_properties([("bootstrap.servers", "h:1"), (name, value)])
                .unwrap_err();
            assert_eq!(property_of(err), name, "value {value}");
        }
    }

    #[test]
    fn bootstrap_servers_are_required_and_checked() {
        let missing = ClientConfig::from_properties([("client.id", "x")]).unwrap_err();
        assert_eq!(property_of(missing), "bootstrap.servers");
        for bad in ["nohost", ":9092", "h:0", "h:99999", "h:port", "a b:1"] {
            let err = ClientConfig::from_properties([("bootstrap.servers", bad)]).unwrap_err();
            assert_eq!(property_of(err), "bootstrap.servers", "{bad}");
        }
    }

    #[test]
    fn builder_splits_comma_separated_entries() {
        let config = ClientConfig::builder()
            .bootstrap_servers(["a:1, b:2", "c:3", ""])
            .build()
            .unwrap();
        assert_eq!(config.bootstrap_servers, ["a:1", "b:2", "c:3"]);
        let mut unsplit = ClientConfig::builder()
            .bootstrap_servers(["a:1"])
            .build()
            .unwrap();
        unsplit.bootstrap_servers = vec!["a:1,b:2".into()];
        let err = unsplit.validate().unwrap_err();
        assert_eq!(property_of(err), "bootstrap.servers");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = ClientConfig::from_properties([("bootstrap.servers", "h:1"), ("linger.ms", "5")])
            .unwrap_err();
        assert_eq!(property_of(err), "linger.ms");
    }

    #[test]
    fn embedding_configs_take_their_own_keys_first() {
        let mut parser =
            PropertyParser::new([("bootstrap.servers", "h:1"), ("linger.ms", "5")]).unwrap();
        let linger = parser.take_millis("linger.ms").unwrap();
        let client = ClientConfig::take_from(&mut parser).unwrap();
        parser.finish().unwrap();
        assert_eq!(linger, Some(Duration::from_millis(5)));
        assert_eq!(client.bootstrap_servers, ["h:1"]);
    }

    #[test]
    fn builder_validates() {
        assert!(ClientConfig::builder().build().is_err());
        let config = ClientConfig::builder()
            .bootstrap_servers(["[::1]:9092"])
            .reconnect_backoff(Duration::from_millis(1), Duration::from_millis(2))
            .build()
            .unwrap();
        assert_eq!(config.reconnect_backoff_max, Duration::from_millis(2));
    }
}
