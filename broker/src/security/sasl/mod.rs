//! SASL on SASL_PLAINTEXT and SASL_SSL listeners: SaslHandshake v0–1 and
//! SaslAuthenticate v0–2, with PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER.
//!
//! ```text
//!  ApiVersions* ─► SaslHandshake(mechanism) ─► SaslAuthenticate(token)… ─► any request
//!                       v0: the tokens follow as raw length-prefixed frames
//! ```
//!
//! Each connection holds one [`SaslSession`]. Until it has authenticated
//! only ApiVersions, SaslHandshake and SaslAuthenticate are served; any
//! other request closes the connection, as Kafka does. With
//! `connections.max.reauth.ms` the SaslAuthenticate response carries the
//! session lifetime; a request other than a re-authentication after it
//! ran out closes the connection (KIP-368). A re-authentication must use
//! the same mechanism and end as the same principal.

pub mod oauthbearer;
pub mod plain;
pub mod scram;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use durian_core::security::scram::ScramMechanism;
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use self::oauthbearer::OAuthBearerValidator;
use self::scram::ScramExchange;
use super::credentials::ScramStore;
use super::Principal;

/// Default time a client has to complete SASL authentication after connecting.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `PLAIN`.
pub const PLAIN: &str = "PLAIN";
/// `OAUTHBEARER`.
pub const OAUTHBEARER: &str = "OAUTHBEARER";

/// SASL settings of the broker (shared by all SASL listeners).
#[derive(Clone)]
pub struct SaslConfig {
    /// `sasl.enabled.mechanisms`; empty enables PLAIN and both SCRAMs,
    /// plus OAUTHBEARER when a validator is set.
    pub enabled_mechanisms: Vec<String>,
    /// PLAIN users and their passwords.
    pub plain_users: BTreeMap<String, String>,
    /// SCRAM users created (or replaced) in the credential store at start.
    pub scram_users: Vec<(ScramMechanism, String, String)>,
    /// Validates OAUTHBEARER tokens.
    pub oauthbearer: Option<Arc<dyn OAuthBearerValidator>>,
    /// Time a connection has to finish authenticating (durian limit).
    pub handshake_timeout: Duration,
    /// `connections.max.reauth.ms`: sessions end after this long unless
    /// the client re-authenticates; `None` (Kafka's 0): never.
    pub max_reauth: Option<Duration>,
}

impl Default for SaslConfig {
    fn default() -> Self {
        SaslConfig {
            enabled_mechanisms: Vec::new(),
            plain_users: BTreeMap::new(),
            scram_users: Vec::new(),
            oauthbearer: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_reauth: None,
        }
    }
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords never reach logs.
        f.debug_struct("SaslConfig")
            .field("enabled_mechanisms", &self.mechanisms())
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field(
                "scram_users",
                &self
                    .scram_users
                    .iter()
                    .map(|(m, u, _)| (m.name(), u))
                    .collect::<Vec<_>>(),
            )
            .field("oauthbearer", &self.oauthbearer)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_reauth", &self.max_reauth)
            .finish()
    }
}

impl SaslConfig {
    /// The mechanisms clients may pick.
    pub fn mechanisms(&self) -> Vec<String> {
        if !self.enabled_mechanisms.is_empty() {
            return self.enabled_mechanisms.clone();
        }
        let mut out = vec![
            PLAIN.to_string(),
            ScramMechanism::Sha256.name().to_string(),
            ScramMechanism::Sha512.name().to_string(),
        ];
        if self.oauthbearer.is_some() {
            out.push(OAUTHBEARER.to_string());
        }
        out
    }

    /// Refuses mechanisms durian cannot serve and OAUTHBEARER without a validator.
    pub fn validate(&self) -> Result<(), String> {
        for name in self.mechanisms() {
            match name.as_str() {
                PLAIN => {}
                OAUTHBEARER if self.oauthbearer.is_none() => {
                    return Err("OAUTHBEARER is enabled but no token validator is set".into())
                }
                OAUTHBEARER => {}
                other if ScramMechanism::from_name(other).is_some() => {}
                other => {
                    return Err(format!(
                        "SASL mechanism `{other}` is not supported \
                         (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
                    ))
                }
            }
        }
        Ok(())
    }
}

/// What every SASL connection of a broker shares.
#[derive(Debug)]
pub struct SaslServer {
    /// The settings.
    pub config: SaslConfig,
    /// SCRAM credentials.
    pub store: Arc<ScramStore>,
}

/// A mechanism's progress on one connection.
#[derive(Debug)]
enum Exchange {
    Plain,
    Scram(ScramExchange),
    OAuthBearer,
}

/// The result of one step of a mechanism.
#[derive(Debug)]
pub enum Step {
    /// Send this challenge; more client messages follow.
    Continue(Vec<u8>),
    /// Authenticated as `principal`; send `response`.
    Done {
        /// Who the client is.
        principal: Principal,
        /// The final server message.
        response: Vec<u8>,
        /// How long the credential stays valid (OAUTHBEARER tokens).
        lifetime: Option<Duration>,
    },
    /// Refused, with the reason told to the client.
    Failed(String),
}

/// What the connection does after a SASL request.
#[derive(Debug)]
pub enum Next {
    /// Keep serving.
    Continue,
    /// Send the response, then close (authentication failed).
    Close(String),
}

/// One connection's SASL state.
#[derive(Debug)]
pub struct SaslSession {
    server: Arc<SaslServer>,
    mechanism: Option<(String, Exchange)>,
    /// The tokens follow as raw frames (SaslHandshake v0).
    raw: bool,
    principal: Option<Principal>,
    /// The mechanism the session authenticated with (re-authentication must reuse it).
    authenticated_with: Option<String>,
    expires: Option<Instant>,
}

impl SaslSession {
    /// A fresh, unauthenticated session.
    pub fn new(server: Arc<SaslServer>) -> Self {
        SaslSession {
            server,
            mechanism: None,
            raw: false,
            principal: None,
            authenticated_with: None,
            expires: None,
        }
    }

    /// The authenticated principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the next frame is a raw SASL token (after SaslHandshake v0).
    pub fn expects_raw_token(&self) -> bool {
        self.raw && self.mechanism.is_some()
    }

    /// Whether the session ran out (connections.max.reauth.ms) at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }

    /// The deadline a connection has to authenticate by, from `start`.
    pub fn handshake_deadline(&self, start: Instant) -> Instant {
        start + self.server.config.handshake_timeout
    }

    /// Answers SaslHandshake.
    pub fn handshake(
        &mut self,
        request: SaslHandshakeRequest,
        version: i16,
    ) -> (SaslHandshakeResponse, Next) {
        let enabled = self.server.config.mechanisms();
        let listed = enabled
            .iter()
            .map(|m| StrBytes::from_string(m.clone()))
            .collect();
        let response = SaslHandshakeResponse::default().with_mechanisms(listed);
        let wanted = request.mechanism.to_string();
        if self.mechanism.is_some() {
            return (
                response.with_error_code(ResponseError::IllegalSaslState.code()),
                Next::Close("SaslHandshake in the middle of a SASL exchange".into()),
            );
        }
        if let Some(previous) = &self.authenticated_with {
            if version == 0 || *previous != wanted {
                return (
                    response.with_error_code(ResponseError::IllegalSaslState.code()),
                    Next::Close(format!(
                        "re-authentication must use SaslHandshake v1+ and the same mechanism \
                         ({previous})"
                    )),
                );
            }
        }
        if !enabled.contains(&wanted) {
            return (
                response.with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
                Next::Close(format!("unsupported SASL mechanism `{wanted}`")),
            );
        }
        let exchange = match ScramMechanism::from_name(&wanted) {
            Some(m) => Exchange::Scram(ScramExchange::Start(m)),
            None if wanted == OAUTHBEARER => Exchange::OAuthBearer,
            None => Exchange::Plain,
        };
        self.mechanism = Some((wanted, exchange));
        self.raw = version == 0;
        (response, Next::Continue)
    }

    /// Feeds one client token to the mechanism chosen by the handshake.
    fn step(&mut self, token: &[u8]) -> (Result<Vec<u8>, String>, Option<Duration>, Next) {
        let Some((name, mut exchange)) = self.mechanism.take() else {
            let why = "SaslAuthenticate before SaslHandshake".to_string();
            return (Err(why.clone()), None, Next::Close(why));
        };
        let server = self.server.clone();
        let step = match &mut exchange {
            Exchange::Plain => plain::authenticate(&server.config.plain_users, token),
            Exchange::Scram(scram) => scram.step(&server.store, token),
            Exchange::OAuthBearer => match &server.config.oauthbearer {
                Some(validator) => oauthbearer::authenticate(validator.as_ref(), token),
                None => Step::Failed("OAUTHBEARER has no validator".into()),
            },
        };
        match step {
            Step::Continue(challenge) => {
                self.mechanism = Some((name, exchange));
                (Ok(challenge), None, Next::Continue)
            }
            Step::Done {
                principal,
                response,
                lifetime,
            } => {
                if let Some(previous) = &self.principal {
                    if *previous != principal {
                        let why = format!(
                            "re-authentication as {principal} on a connection of {previous}"
                        );
                        return (Err(why.clone()), None, Next::Close(why));
                    }
                }
                let session = self
                    .server
                    .config
                    .max_reauth
                    .map(|max| lifetime.map_or(max, |l| l.min(max)));
                self.expires = session.map(|s| Instant::now() + s);
                tracing::debug!(%principal, mechanism = %name, "SASL authentication succeeded");
                self.principal = Some(principal);
                self.authenticated_with = Some(name);
                self.raw = false;
                (Ok(response), session, Next::Continue)
            }
            Step::Failed(why) => (
                Err(why.clone()),
                None,
                Next::Close(format!("SASL authentication failed ({name}): {why}")),
            ),
        }
    }

    /// Answers SaslAuthenticate.
    pub fn authenticate(
        &mut self,
        request: SaslAuthenticateRequest,
        version: i16,
    ) -> (SaslAuthenticateResponse, Next) {
        if self.raw {
            return (
                SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::IllegalSaslState.code()),
                Next::Close("SaslAuthenticate after a v0 SaslHandshake".into()),
            );
        }
        let code = if self.mechanism.is_none() {
            ResponseError::IllegalSaslState.code()
        } else {
            ResponseError::SaslAuthenticationFailed.code()
        };
        let (result, session, next) = self.step(&request.auth_bytes);
        // v0 has no session lifetime field: such clients cannot learn it,
        // and the broker still ends the session on time.
        let reported = session.filter(|_| version >= 1);
        let response = match result {
            Ok(bytes) => SaslAuthenticateResponse::default()
                .with_auth_bytes(bytes.into())
                .with_session_lifetime_ms(
                    reported.map_or(0, |s| i64::try_from(s.as_millis()).unwrap_or(i64::MAX)),
                ),
            Err(why) => SaslAuthenticateResponse::default()
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_string(why))),
        };
        (response, next)
    }

    /// Takes a raw token (after SaslHandshake v0); `Err` closes the
    /// connection without an answer, as Kafka does.
    pub fn raw_token(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
        match self.step(token) {
            (Ok(bytes), _, _) => Ok(bytes),
            (Err(_), _, Next::Close(why)) => Err(why),
            (Err(why), _, Next::Continue) => Err(why),
        }
    }
}
