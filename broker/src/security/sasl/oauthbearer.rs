//! SASL/OAUTHBEARER (RFC 7628, KIP-255), server side: the client's one
//! message carries a bearer token; a [`OAuthBearerValidator`] decides who
//! it names and until when it is valid.
//!
//! [`UnsecuredJwtValidator`] accepts Kafka's unsecured JWTs (`alg: none`),
//! for tests and development only: anyone can mint them. Production use
//! needs a validator that checks signatures against the issuer's keys.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::Step;
use crate::security::Principal;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedToken {
    /// The principal name (`User:<name>`).
    pub principal_name: String,
    /// When the token stops being valid; bounds the session lifetime.
    pub expires_at: Option<SystemTime>,
}

/// Decides whether a bearer token is valid and whom it names.
pub trait OAuthBearerValidator: Send + Sync + std::fmt::Debug {
    /// Validates `token` (the compact JWS or opaque token after `Bearer `).
    fn validate(&self, token: &str) -> Result<ValidatedToken, String>;
}

/// Kafka's unsecured JWT validator: `alg` must be `none`, the principal
/// claim (default `sub`) names the user and `exp` must lie in the future.
/// Insecure by design: for tests only.
#[derive(Debug, Clone)]
pub struct UnsecuredJwtValidator {
    /// The claim naming the principal.
    pub principal_claim: String,
}

impl Default for UnsecuredJwtValidator {
    fn default() -> Self {
        UnsecuredJwtValidator {
            principal_claim: "sub".to_string(),
        }
    }
}

fn decode_part(part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("token part is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("token part is not JSON: {e}"))
}

impl OAuthBearerValidator for UnsecuredJwtValidator {
    fn validate(&self, token: &str) -> Result<ValidatedToken, String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT (header.payload.signature)".to_string());
        };
        if !signature.is_empty() {
            return Err("an unsecured JWT has an empty signature".to_string());
        }
        let header = decode_part(header)?;
        if header.get("alg").and_then(Value::as_str) != Some("none") {
            return Err("unsecured JWT must have alg \"none\"".to_string());
        }
        let claims = decode_part(payload)?;
        let name = claims
            .get(&self.principal_claim)
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| format!("no `{}` claim", self.principal_claim))?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or("no `exp` claim")?;
        let expires_at = UNIX_EPOCH + Duration::from_secs_f64(exp.max(0.0));
        if expires_at <= SystemTime::now() {
            return Err("the token has expired".to_string());
        }
        Ok(ValidatedToken {
            principal_name: name.to_string(),
            expires_at: Some(expires_at),
        })
    }
}

/// Checks the client's initial response `n,[a=authzid],^Aauth=Bearer <token>^A^A`.
pub fn authenticate(validator: &dyn OAuthBearerValidator, message: &[u8]) -> Step {
    let Ok(text) = std::str::from_utf8(message) else {
        return Step::Failed("OAUTHBEARER message is not UTF-8".to_string());
    };
    let mut fields = text.split('\u{1}');
    let gs2 = fields.next().unwrap_or_default();
    if !gs2.starts_with("n,") {
        return Step::Failed("OAUTHBEARER: invalid GS2 header".to_string());
    }
    let authzid = gs2.trim_start_matches("n,").trim_end_matches(',');
    let token = fields
        .filter_map(|kv| kv.strip_prefix("auth="))
        .find_map(|auth| {
            let (scheme, token) = auth.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(token) = token else {
        return Step::Failed("OAUTHBEARER: no `auth=Bearer <token>`".to_string());
    };
    match validator.validate(token) {
        Ok(valid) => {
            if let Some(authzid) = authzid.strip_prefix("a=") {
                if authzid != valid.principal_name {
                    return Step::Failed(
                        "OAUTHBEARER: authorization id differs from the token's principal"
                            .to_string(),
                    );
                }
            }
            let lifetime = valid
                .expires_at
                .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
            Step::Done {
                principal: Principal::user(&valid.principal_name),
                response: Vec::new(),
                lifetime,
            }
        }
        Err(why) => Step::Failed(format!("OAUTHBEARER token refused: {why}")),
    }
}

/// An unsecured JWT for `subject` valid for `lifetime` (for tests).
pub fn unsecured_jwt(subject: &str, lifetime: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let claims = serde_json::json!({
        "sub": subject,
        "iat": now.as_secs(),
        "exp": (now + lifetime).as_secs_f64(),
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(token: &str) -> Vec<u8> {
        format!("n,,\u{1}auth=Bearer {token}\u{1}\u{1}").into_bytes()
    }

    #[test]
    fn unsecured_jwts_are_validated() {
        let validator = UnsecuredJwtValidator::default();
        let good = unsecured_jwt("alice", Duration::from_secs(60));
        match authenticate(&validator, &message(&good)) {
            Step::Done {
                principal,
                lifetime,
                ..
            } => {
                assert_eq!(principal, Principal::user("alice"));
                assert!(lifetime.unwrap() <= Duration::from_secs(60));
            }
            other => panic!("{other:?}"),
        }
        let expired = unsecured_jwt("alice", Duration::ZERO);
        assert!(matches!(
            authenticate(&validator, &message(&expired)),
            Step::Failed(_)
        ));
        assert!(matches!(
            authenticate(&validator, &message("a.b.c")),
            Step::Failed(_)
        ));
        assert!(matches!(
            authenticate(&validator, b"garbage"),
            Step::Failed(_)
        ));
    }
}
