//! `security.protocol` and the security settings of a client, read from
//! Kafka/librdkafka property names, and the per-client [`SecurityContext`]
//! the connection layer builds from them.

use std::fmt;
use std::sync::Arc;

use super::sasl::{jaas, SaslConfig, SaslMechanism};
use super::tls::{PemSource, TlsConfig, TlsConnector};
use crate::config::PropertyParser;
use crate::error::{Error, Result};

/// `security.protocol`: how connections to brokers are protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// No encryption, no authentication (the default).
    #[default]
    Plaintext,
    /// TLS, optionally with a client certificate (mutual TLS).
    Ssl,
    /// SASL authentication over an unencrypted connection.
    SaslPlaintext,
    /// SASL authentication inside TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The property value (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol named `name`, in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether connections are wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL after ApiVersions.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret (password, key password) that `Debug` never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Every security setting of a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// The `ssl.*` settings, used when the protocol is `SSL` or `SASL_SSL`.
    pub tls: TlsConfig,
    /// The `sasl.*` settings, used when the protocol is `SASL_*`.
    pub sasl: SaslConfig,
}

impl SecurityConfig {
    /// Consumes the security properties from `parser`.
    pub fn take_from(parser: &mut PropertyParser) -> Result<Self> {
        let mut config = SecurityConfig::default();
        if let Some(raw) = parser.take("security.protocol") {
            config.protocol = SecurityProtocol::from_name(&raw).ok_or_else(|| {
                Error::config(
                    "security.protocol",
                    format!("`{raw}` is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
                )
            })?;
        }
        config.tls.ca = take_pem(parser, "ssl.ca.location", "ssl.ca.pem")?;
        config.tls.certificate =
            take_pem(parser, "ssl.certificate.location", "ssl.certificate.pem")?;
        config.tls.key = take_pem(parser, "ssl.key.location", "ssl.key.pem")?;
        config.tls.key_password = parser.take("ssl.key.password").map(Password::new);
        if let Some(raw) = parser.take("ssl.endpoint.identification.algorithm") {
            config.tls.verify_hostname = match raw.to_ascii_lowercase().as_str() {
                "https" => true,
                "none" | "" => false,
                _ => {
                    return Err(Error::config(
                        "ssl.endpoint.identification.algorithm",
                        format!("`{raw}` is not https or none"),
                    ))
                }
            };
        }
        // `sasl.mechanism` is the Java client's name, `sasl.mechanisms`
        // librdkafka's; both are accepted, one at a time.
        let mechanism = match (
            parser.take("sasl.mechanism"),
            parser.take("sasl.mechanisms"),
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "sasl.mechanisms",
                    "give sasl.mechanism or sasl.mechanisms, not both",
                ))
            }
            (Some(name), None) => Some(("sasl.mechanism", name)),
            (None, Some(name)) => Some(("sasl.mechanisms", name)),
            (None, None) => None,
        };
        if let Some((property, name)) = mechanism {
            config.sasl.mechanism = SaslMechanism::from_name(&name).ok_or_else(|| {
                Error::config(
                    property,
                    format!(
                        "`{name}` is not supported: durian speaks PLAIN, SCRAM-SHA-256, \
                         SCRAM-SHA-512 and OAUTHBEARER (GSSAPI and AWS_MSK_IAM are not \
                         implemented)"
                    ),
                )
            })?;
        }
        config.sasl.username = parser.take("sasl.username");
        config.sasl.password = parser.take("sasl.password").map(Password::new);
        config.sasl.oauthbearer_config = parser.take("sasl.oauthbearer.config");
        if let Some(jaas_config) = parser.take("sasl.jaas.config") {
            let login = jaas::parse(&jaas_config)?;
            if config.sasl.username.is_none() {
                config.sasl.username = login.username;
            }
            if config.sasl.password.is_none() {
                config.sasl.password = login.password.map(Password::new);
            }
            if config.sasl.oauthbearer_config.is_none() {
                config.sasl.oauthbearer_config = login.oauthbearer_config;
            }
        }
        Ok(config)
    }

    /// Checks that the settings the protocol needs are there.
    pub fn validate(&self) -> Result<()> {
        if self.protocol.uses_tls() {
            self.tls.validate()?;
        }
        if self.protocol.uses_sasl() {
            self.sasl.validate()?;
        }
        Ok(())
    }
}

fn take_pem(
    parser: &mut PropertyParser,
    location: &str,
    inline: &str,
) -> Result<Option<PemSource>> {
    match (parser.take(location), parser.take(inline)) {
        (Some(_), Some(_)) => Err(Error::config(
            inline,
            format!("give {location} or {inline}, not both"),
        )),
        (Some(path), None) => Ok(Some(PemSource::File(path.into()))),
        (None, Some(pem)) => Ok(Some(PemSource::Inline(pem))),
        (None, None) => Ok(None),
    }
}

/// What the connection layer needs to secure each connection of a client:
/// the TLS configuration built once (files read, keys parsed) and the SASL
/// settings.
#[derive(Clone, Debug, Default)]
pub struct SecurityContext {
    protocol: SecurityProtocol,
    tls: Option<TlsConnector>,
    sasl: Option<Arc<SaslConfig>>,
}

impl SecurityContext {
    /// Builds the context of `config`; reads the PEM files it names.
    pub fn new(config: &SecurityConfig) -> Result<Self> {
        config.validate()?;
        let tls = if config.protocol.uses_tls() {
            Some(TlsConnector::new(&config.tls)?)
        } else {
            None
        };
        let sasl = config
            .protocol
            .uses_sasl()
            .then(|| Arc::new(config.sasl.clone()));
        Ok(SecurityContext {
            protocol: config.protocol,
            tls,
            sasl,
        })
    }

    /// `security.protocol`.
    pub fn protocol(&self) -> SecurityProtocol {
        self.protocol
    }

    /// The TLS connector, when the protocol uses TLS.
    pub fn tls(&self) -> Option<&TlsConnector> {
        self.tls.as_ref()
    }

    /// The SASL settings, when the protocol uses SASL.
    pub fn sasl(&self) -> Option<&Arc<SaslConfig>> {
        self.sasl.as_ref()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<SecurityConfig> {
        let mut parser = PropertyParser::new(pairs.iter().copied())?;
        let config = SecurityConfig::take_from(&mut parser)?;
        parser.finish()?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn protocols_parse_in_any_case() {
        for name in ["plaintext", "SSL", "Sasl_Plaintext", "SASL_SSL"] {
            let protocol = SecurityProtocol::from_name(name).unwrap();
            assert!(protocol.name().eq_ignore_ascii_case(name));
        }
        let err = parse(&[("security.protocol", "TLS")]).unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "security.protocol"));
    }

    #[test]
    fn sasl_needs_credentials() {
        let err = parse(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
        ])
        .unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "sasl.username"));
        let config = parse(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "secret"),
        ])
        .unwrap();
        assert_eq!(config.sasl.username.as_deref(), Some("alice"));
        assert!(
            !format!("{config:?}").contains("secret"),
            "Debug hides passwords"
        );
    }

    #[test]
    fn unsupported_mechanisms_name_what_is_supported() {
        let err = parse(&[("sasl.mechanism", "GSSAPI")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("sasl.mechanism") && text.contains("SCRAM-SHA-512"),
            "{text}"
        );
    }

    #[test]
    fn the_context_reads_the_files_and_names_a_bad_one() {
        let config = parse(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nonexistent/durian-ca.pem"),
        ])
        .unwrap();
        let err = SecurityContext::new(&config).unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "ssl.ca.location"));
        // Without TLS the files are not even looked at.
        let plain = parse(&[("ssl.ca.location", "/nonexistent/durian-ca.pem")]).unwrap();
        assert!(SecurityContext::new(&plain).unwrap().tls().is_none());
    }

    #[test]
    fn pem_location_and_inline_exclude_each_other() {
        let err = parse(&[("ssl.ca.location", "/a"), ("ssl.ca.pem", "x")]).unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "ssl.ca.pem"));
        let config = parse(&[("ssl.endpoint.identification.algorithm", "none")]).unwrap();
        assert!(!config.tls.verify_hostname);
    }
}
