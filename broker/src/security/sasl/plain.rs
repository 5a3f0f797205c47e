//! SASL/PLAIN (RFC 4616): one message `authzid NUL user NUL password`,
//! checked against the broker's PLAIN users.

use std::collections::BTreeMap;

use durian_core::security::scram::constant_time_eq;

use super::Step;
use crate::security::Principal;

/// Checks one PLAIN token against `users`.
pub fn authenticate(users: &BTreeMap<String, String>, token: &[u8]) -> Step {
    let mut parts = token.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Step::Failed("Invalid SASL/PLAIN request: expected 3 tokens".to_string());
    };
    let (Ok(authzid), Ok(user)) = (std::str::from_utf8(authzid), std::str::from_utf8(user)) else {
        return Step::Failed("Invalid SASL/PLAIN request: names are not UTF-8".to_string());
    };
    if user.is_empty() {
        return Step::Failed("Authentication failed: username not specified".to_string());
    }
    if !authzid.is_empty() && authzid != user {
        return Step::Failed(
            "Authentication failed: Client requested an authorization id that is different \
             from username"
                .to_string(),
        );
    }
    // Compared in constant time; an unknown user compares against a
    // dummy so both paths take about as long.
    let (known, expected) = match users.get(user) {
        Some(p) => (true, p.as_bytes()),
        None => (false, &b"\0unknown user\0"[..]),
    };
    if known && constant_time_eq(expected, password) {
        Step::Done {
            principal: Principal::user(user),
            response: Vec::new(),
            lifetime: None,
        }
    } else {
        Step::Failed("Authentication failed: Invalid username or password".to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_checks_user_and_password() {
        let users = BTreeMap::from([("alice".to_string(), "secret".to_string())]);
        assert!(
            matches!(authenticate(&users, b"\0alice\0secret"), Step::Done { principal, .. } if principal == Principal::user("alice"))
        );
        assert!(matches!(
            authenticate(&users, b"alice\0alice\0secret"),
            Step::Done { .. }
        ));
        for bad in [
            &b"\0alice\0wrong"[..],
            b"\0bob\0secret",
            b"bob\0alice\0secret",
            b"alice",
            b"\0\0x",
            b"\0alice\0secret\0",
        ] {
            assert!(
                matches!(authenticate(&users, bad), Step::Failed(_)),
                "{bad:?}"
            );
        }
    }
}
