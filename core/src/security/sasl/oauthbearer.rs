//! OAUTHBEARER (KIP-255, RFC 7628): where tokens come from, and the
//! unsecured JWTs of librdkafka's `sasl.oauthbearer.config` for brokers
//! that accept unsigned tokens (Kafka's default OAUTHBEARER validator,
//! meant for development and tests).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use base64::Engine as _;

use crate::error::{Error, Result};

/// A bearer token and the SASL extensions sent with it.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthBearerToken {
    /// The token (a compact JWT for Kafka's validators).
    pub value: String,
    /// SASL extensions (`key=value` pairs sent beside the token, KIP-342).
    pub extensions: Vec<(String, String)>,
}

impl fmt::Debug for OAuthBearerToken {
    /// The token is a credential: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerToken")
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

/// Fetches OAUTHBEARER tokens, e.g. from an OAuth 2 token endpoint.
///
/// Called for every new connection and every re-authentication of one
/// (KIP-368); cache tokens in the provider if the
/// endpoint is slow or rate-limited. An error fails the connection with
/// [`Error::SaslAuthentication`], which is not retried.
#[async_trait::async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A valid token, or why none can be had.
    async fn token(&self) -> std::result::Result<OAuthBearerToken, String>;
}

/// A shared [`TokenProvider`], as a config holds it.
#[derive(Clone, Debug)]
pub struct TokenProviderHandle(pub Arc<dyn TokenProvider>);

/// Compared by identity (the same provider), so configs stay `Eq`.
impl PartialEq for TokenProviderHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TokenProviderHandle {}

/// The initial client response: `n,,\x01auth=Bearer <token>\x01[ext=v\x01]\x01`.
pub(super) fn initial_response(token: &OAuthBearerToken) -> Vec<u8> {
    let mut message = format!("n,,\x01auth=Bearer {}\x01", token.value);
    for (key, value) in &token.extensions {
        message.push_str(&format!("{key}={value}\x01"));
    }
    message.push('\x01');
    message.into_bytes()
}

/// The settings of `sasl.oauthbearer.config`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct UnsecuredJwtConfig {
    principal: String,
    scope: Vec<String>,
    lifetime: Duration,
    extensions: Vec<(String, String)>,
}

impl UnsecuredJwtConfig {
    /// Parses `principal=… [scope=a,b] [lifeSeconds=N] [extension_K=V]…`
    /// (space-separated, librdkafka's format).
    pub(super) fn parse(raw: &str) -> Result<Self> {
        const PROPERTY: &str = "sasl.oauthbearer.config";
        let mut config = UnsecuredJwtConfig {
            principal: String::new(),
            scope: Vec::new(),
            lifetime: Duration::from_secs(3600),
            extensions: Vec::new(),
        };
        for part in raw.split_whitespace() {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Error::config(PROPERTY, format!("`{part}` is not key=value")))?;
            match key {
                "principal" => config.principal = value.to_owned(),
                "scope" => {
                    config.scope = value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "lifeSeconds" => {
                    let seconds = value.parse::<u64>().map_err(|_| {
                        Error::config(PROPERTY, format!("lifeSeconds `{value}` is not a number"))
                    })?;
                    config.lifetime = Duration::from_secs(seconds);
                }
                _ => match key.strip_prefix("extension_") {
                    Some(name) if !name.is_empty() => {
                        config.extensions.push((name.to_owned(), value.to_owned()));
                    }
                    _ => {
                        return Err(Error::config(
                            PROPERTY,
                            format!(
                                "unknown key `{key}` (known: principal, scope, lifeSeconds, \
                                 extension_NAME)"
                            ),
                        ))
                    }
                },
            }
        }
        if config.principal.is_empty() {
            return Err(Error::config(PROPERTY, "needs principal=NAME"));
        }
        Ok(config)
    }

    /// A token issued at `now`.
    pub(super) fn token(&self, now: SystemTime) -> OAuthBearerToken {
        OAuthBearerToken {
            value: unsecured_jwt(&self.principal, &self.scope, now, self.lifetime),
            extensions: self.extensions.clone(),
        }
    }
}

/// An unsigned JWT (`alg: none`) for `principal`, issued at `issued` and
/// valid for `lifetime`: what Kafka's unsecured OAUTHBEARER validator
/// accepts. Never use it against a broker that trusts such tokens in
/// production: anyone can mint one.
pub fn unsecured_jwt(
    principal: &str,
    scope: &[String],
    issued: SystemTime,
    lifetime: Duration,
) -> String {
    let issued_at = issued
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let expires = issued_at.saturating_add(lifetime.as_secs());
    let header = r#"{"alg":"none"}"#;
    let scope = if scope.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = scope.iter().map(|s| json_string(s)).collect();
        format!(r#","scope":[{}]"#, quoted.join(","))
    };
    let claims = format!(
        r#"{{"sub":{},"iat":{issued_at},"exp":{expires}{scope}}}"#,
        json_string(principal)
    );
    format!(
        "{}.{}.",
        BASE64_URL.encode(header),
        BASE64_URL.encode(claims)
    )
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unsecured_config_makes_an_unsigned_jwt() {
        let config =
            UnsecuredJwtConfig::parse("principal=admin scope=a,b lifeSeconds=60 extension_x=1")
                .unwrap();
        let token = config.token(UNIX_EPOCH + Duration::from_secs(1000));
        let parts: Vec<&str> = token.value.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "", "no signature");
        let claims = String::from_utf8(BASE64_URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            r#"{"sub":"admin","iat":1000,"exp":1060,"scope":["a","b"]}"#
        );
        assert_eq!(token.extensions, [("x".to_owned(), "1".to_owned())]);
        let response = initial_response(&token);
        assert!(response.starts_with(b"n,,\x01auth=Bearer "));
        assert!(response.ends_with(b"\x01x=1\x01\x01"));
    }

    #[test]
    fn unsecured_config_needs_a_principal() {
        assert!(UnsecuredJwtConfig::parse("scope=a").is_err());
        assert!(UnsecuredJwtConfig::parse("principal=a bogus=1").is_err());
    }
}
