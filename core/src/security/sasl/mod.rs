//! SASL authentication of a client connection (KIP-43, KIP-152).
//!
//! After the ApiVersions handshake a `SASL_*` connection sends
//! SaslHandshake v1 naming its mechanism, then one SaslAuthenticate
//! request per client message of that mechanism:
//!
//! | mechanism | client messages |
//! | --- | --- |
//! | PLAIN | `\0user\0password` |
//! | SCRAM-SHA-256/512 | client-first, client-final ([`super::scram`] holds the formats) |
//! | OAUTHBEARER | the token from a [`TokenProvider`] (RFC 7628's initial response) |
//!
//! The broker's last SaslAuthenticate response may carry a session
//! lifetime (KIP-368); [`authenticate`] returns it, and the connection
//! runs the exchange again on the same socket before it runs out (see
//! `connection::session`).
//! GSSAPI (Kerberos) and AWS_MSK_IAM are not implemented.

pub mod jaas;
mod oauthbearer;
mod scram_client;

use std::fmt;
use std::time::Duration;

use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use super::scram::ScramMechanism;
use super::Password;
use crate::connection::Connection;
use crate::error::{Error, KafkaCode, Result};

pub use oauthbearer::{unsecured_jwt, OAuthBearerToken, TokenProvider, TokenProviderHandle};

/// `sasl.mechanism`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN` (the default): user name and password in clear, so only
    /// sensible inside TLS.
    #[default]
    Plain,
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    Scram(ScramMechanism),
    /// `OAUTHBEARER`: a bearer token from a [`TokenProvider`], or an
    /// unsecured JWT built from `sasl.oauthbearer.config`.
    OAuthBearer,
}

impl SaslMechanism {
    /// The mechanism's name in SaslHandshake and in `sasl.mechanism`.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(scram) => scram.name(),
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism named `name` (any case), if durian implements it.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(SaslMechanism::Plain)
        } else if name.eq_ignore_ascii_case("OAUTHBEARER") {
            Some(SaslMechanism::OAuthBearer)
        } else {
            ScramMechanism::from_name(name).map(SaslMechanism::Scram)
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `sasl.*` settings of a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslConfig {
    /// `sasl.mechanism` (or librdkafka's `sasl.mechanisms`).
    pub mechanism: SaslMechanism,
    /// `sasl.username` (or `username="…"` in `sasl.jaas.config`).
    pub username: Option<String>,
    /// `sasl.password` (or `password="…"` in `sasl.jaas.config`).
    pub password: Option<Password>,
    /// `sasl.oauthbearer.config`: librdkafka's unsecured-JWT settings
    /// (`principal=… [scope=…] [lifeSeconds=…] [extension_NAME=…]`), for
    /// brokers that accept unsigned tokens (tests, development).
    pub oauthbearer_config: Option<String>,
    /// Where OAUTHBEARER tokens come from; set with
    /// `ClientConfigBuilder::oauthbearer_token_provider`. Takes precedence
    /// over `oauthbearer_config`.
    pub token_provider: Option<TokenProviderHandle>,
}

impl SaslConfig {
    /// Checks that the mechanism has what it needs.
    pub fn validate(&self) -> Result<()> {
        match self.mechanism {
            SaslMechanism::Plain | SaslMechanism::Scram(_) => {
                if self.username.as_deref().is_none_or(str::is_empty) {
                    return Err(Error::config(
                        "sasl.username",
                        format!(
                            "{} needs a user name (sasl.username, or username=\"…\" in \
                             sasl.jaas.config)",
                            self.mechanism
                        ),
                    ));
                }
                if self.password.is_none() {
                    return Err(Error::config(
                        "sasl.password",
                        format!(
                            "{} needs a password (sasl.password, or password=\"…\" in \
                             sasl.jaas.config)",
                            self.mechanism
                        ),
                    ));
                }
            }
            SaslMechanism::OAuthBearer => {
                if self.token_provider.is_none() {
                    let Some(config) = &self.oauthbearer_config else {
                        return Err(Error::config(
                            "sasl.oauthbearer.config",
                            "OAUTHBEARER needs a token provider (ClientConfigBuilder::\
                             oauthbearer_token_provider) or sasl.oauthbearer.config for an \
                             unsecured JWT",
                        ));
                    };
                    oauthbearer::UnsecuredJwtConfig::parse(config)?;
                }
            }
        }
        Ok(())
    }
}

/// One step of a mechanism's exchange: the next message to send, or done.
enum Step {
    Send(Vec<u8>),
    Done,
}

/// Authenticates `connection` with `config`; returns the session lifetime
/// the broker granted (`None`: unlimited, or a broker older than KIP-368).
pub async fn authenticate(
    connection: &Connection,
    config: &SaslConfig,
    timeout: Duration,
) -> Result<Option<Duration>> {
    let mechanism = config.mechanism;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    // v1: authentication bytes travel in SaslAuthenticate requests (v0's
    // raw frames are only for clients older than Kafka 1.0).
    let response = connection
        .send_authentication(&handshake, Some(1), timeout)
        .await?;
    if response.error_code == KafkaCode::UNSUPPORTED_SASL_MECHANISM.0 {
        return Err(Error::UnsupportedSaslMechanism {
            broker: connection.broker().into(),
            mechanism: mechanism.name(),
            enabled: response.mechanisms.iter().map(|m| m.to_string()).collect(),
        });
    }
    crate::error::KafkaError::check(response.error_code, None)?;

    let mut exchange = Exchange::start(config).await?;
    let mut lifetime = None;
    let mut message = exchange.first(config)?;
    loop {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(message.into());
        let response = connection
            .send_authentication(&request, None, timeout)
            .await?;
        if response.error_code != 0 {
            let reason = response
                .error_message
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            if response.error_code == KafkaCode::SASL_AUTHENTICATION_FAILED.0 {
                return Err(Error::SaslAuthentication {
                    broker: connection.broker().into(),
                    mechanism: mechanism.name(),
                    reason: reason.into(),
                });
            }
            crate::error::KafkaError::check(response.error_code, Some(&reason))?;
        }
        if response.session_lifetime_ms > 0 {
            lifetime = Some(Duration::from_millis(
                u64::try_from(response.session_lifetime_ms).unwrap_or(0),
            ));
        }
        match exchange.next(&response.auth_bytes, connection.broker(), mechanism)? {
            Step::Send(next) => message = next,
            Step::Done => return Ok(lifetime),
        }
    }
}

/// The client side of one mechanism's exchange.
enum Exchange {
    Plain,
    Scram(scram_client::ScramClient),
    OAuthBearer {
        sent_error_ack: bool,
        token: OAuthBearerToken,
    },
}

impl Exchange {
    async fn start(config: &SaslConfig) -> Result<Self> {
        Ok(match config.mechanism {
            SaslMechanism::Plain => Exchange::Plain,
            SaslMechanism::Scram(mechanism) => {
                let (user, password) = credentials(config)?;
                Exchange::Scram(scram_client::ScramClient::new(mechanism, user, password))
            }
            SaslMechanism::OAuthBearer => {
                let token =
                    match (&config.token_provider, &config.oauthbearer_config) {
                        (Some(provider), _) => provider.0.token().await.map_err(|reason| {
                            Error::SaslAuthentication {
                                broker: "(before connecting)".into(),
                                mechanism: "OAUTHBEARER",
                                reason: format!("the token provider failed: {reason}").into(),
                            }
                        })?,
                        (None, Some(raw)) => oauthbearer::UnsecuredJwtConfig::parse(raw)?
                            .token(std::time::SystemTime::now()),
                        (None, None) => {
                            return Err(Error::config(
                                "sasl.oauthbearer.config",
                                "OAUTHBEARER needs a token provider or sasl.oauthbearer.config",
                            ))
                        }
                    };
                Exchange::OAuthBearer {
                    sent_error_ack: false,
                    token,
                }
            }
        })
    }

    fn first(&mut self, config: &SaslConfig) -> Result<Vec<u8>> {
        Ok(match self {
            Exchange::Plain => {
                let (user, password) = credentials(config)?;
                let mut message = Vec::with_capacity(user.len() + password.len() + 2);
                message.push(0);
                message.extend_from_slice(user.as_bytes());
                message.push(0);
                message.extend_from_slice(password.as_bytes());
                message
            }
            Exchange::Scram(client) => client.first_message(),
            Exchange::OAuthBearer { token, .. } => oauthbearer::initial_response(token),
        })
    }

    fn next(&mut self, challenge: &[u8], broker: &str, mechanism: SaslMechanism) -> Result<Step> {
        let failed = |reason: String| Error::SaslAuthentication {
            broker: broker.into(),
            mechanism: mechanism.name(),
            reason: reason.into(),
        };
        match self {
            Exchange::Plain => Ok(Step::Done),
            Exchange::Scram(client) => client.next(challenge).map_err(failed),
            Exchange::OAuthBearer { sent_error_ack, .. } => {
                if challenge.is_empty() {
                    return Ok(Step::Done);
                }
                if *sent_error_ack {
                    return Err(failed(String::from_utf8_lossy(challenge).into_owned()));
                }
                // RFC 7628 §3.2.3: the server's error arrives as a
                // challenge; the client answers with a lone 0x01 and the
                // server then fails the exchange with its error code.
                *sent_error_ack = true;
                Ok(Step::Send(vec![0x01]))
            }
        }
    }
}

fn credentials(config: &SaslConfig) -> Result<(&str, &str)> {
    match (&config.username, &config.password) {
        (Some(user), Some(password)) => Ok((user, password.expose())),
        (None, _) => Err(Error::config("sasl.username", "required by this mechanism")),
        (_, None) => Err(Error::config("sasl.password", "required by this mechanism")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip() {
        for name in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] {
            assert_eq!(SaslMechanism::from_name(name).unwrap().name(), name);
        }
        assert_eq!(SaslMechanism::from_name("GSSAPI"), None);
    }
}
