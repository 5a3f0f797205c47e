//! SCRAM credentials: DescribeUserScramCredentials and
//! AlterUserScramCredentials (KIP-554).
//!
//! The client never sends a password: it draws a random salt, computes
//! `Hi(password, salt, iterations)` with the mechanism's PBKDF2
//! (`ScramMechanism::salted_password`) and sends the salt, the iteration
//! count and that salted password; the broker derives and keeps the
//! stored and server keys.

use bytes::Bytes;
use durian_core::security::scram::{ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};
use durian_core::{Error, Result, Target};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::routing::{check, send_versioned};
use crate::types::ItemResults;
use crate::Admin;

/// Bytes of salt drawn for each new credential.
const SALT_BYTES: usize = 32;

/// One SCRAM credential of a user: its mechanism and iteration count (the
/// broker never reveals more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScramCredentialInfo {
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations.
    pub iterations: u32,
}

/// A change to a user's SCRAM credentials.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserScramCredentialAlteration {
    /// Sets (or replaces) the user's credential for `mechanism`.
    Upsert {
        /// The user name (without `User:`).
        user: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations, 4096..=16384 as Kafka accepts.
        iterations: u32,
        /// The password; only its salted form leaves the client.
        password: String,
        /// The salt; `None` draws 32 random bytes.
        salt: Option<Vec<u8>>,
    },
    /// Removes the user's credential for `mechanism`.
    Delete {
        /// The user name.
        user: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        mechanism: ScramMechanism,
    },
}

impl std::fmt::Debug for UserScramCredentialAlteration {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserScramCredentialAlteration::Upsert {
                user,
                mechanism,
                iterations,
                ..
            } => f
                .debug_struct("Upsert")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .finish_non_exhaustive(),
            UserScramCredentialAlteration::Delete { user, mechanism } => f
                .debug_struct("Delete")
                .field("user", user)
                .field("mechanism", mechanism)
                .finish(),
        }
    }
}

impl UserScramCredentialAlteration {
    /// Sets `user`'s `mechanism` credential to `password` with a random salt.
    pub fn upsert(
        user: impl Into<String>,
        mechanism: ScramMechanism,
        iterations: u32,
        password: impl Into<String>,
    ) -> Self {
        UserScramCredentialAlteration::Upsert {
            user: user.into(),
            mechanism,
            iterations,
            password: password.into(),
            salt: None,
        }
    }

    /// Removes `user`'s `mechanism` credential.
    pub fn delete(user: impl Into<String>, mechanism: ScramMechanism) -> Self {
        UserScramCredentialAlteration::Delete {
            user: user.into(),
            mechanism,
        }
    }

    /// The user the change is for.
    pub fn user(&self) -> &str {
        match self {
            UserScramCredentialAlteration::Upsert { user, .. }
            | UserScramCredentialAlteration::Delete { user, .. } => user,
        }
    }
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

/// The request for `alterations`; an iteration count outside Kafka's
/// bounds is refused here, before anything is sent or hashed.
pub(crate) fn alter_request(
    alterations: &[UserScramCredentialAlteration],
) -> Result<AlterUserScramCredentialsRequest> {
    let mut deletions = Vec::new();
    let mut upsertions = Vec::new();
    for alteration in alterations {
        match alteration {
            UserScramCredentialAlteration::Delete { user, mechanism } => deletions.push(
                ScramCredentialDeletion::default()
                    .with_name(text(user))
                    .with_mechanism(mechanism.wire_type()),
            ),
            UserScramCredentialAlteration::Upsert {
                user,
                mechanism,
                iterations,
                password,
                salt,
            } => {
                if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(iterations) {
                    return Err(Error::Config {
                        property: "iterations".to_string(),
                        reason: format!(
                            "{iterations} for {user}: SCRAM iterations must be \
                             {MIN_ITERATIONS}..={MAX_ITERATIONS}"
                        ),
                    });
                }
                let salt = salt.clone().unwrap_or_else(|| {
                    let bytes: [u8; SALT_BYTES] = rand::random();
                    bytes.to_vec()
                });
                let salted = mechanism.salted_password(password.as_bytes(), &salt, *iterations);
                upsertions.push(
                    ScramCredentialUpsertion::default()
                        .with_name(text(user))
                        .with_mechanism(mechanism.wire_type())
                        .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                        .with_salt(Bytes::from(salt))
                        .with_salted_password(Bytes::from(salted)),
                );
            }
        }
    }
    Ok(AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions))
}

/// One result per user named in the response.
pub(crate) fn parse_alter(response: &AlterUserScramCredentialsResponse) -> ItemResults<String, ()> {
    response
        .results
        .iter()
        .map(|r| {
            (
                r.user.to_string(),
                check(r.error_code, r.error_message.as_ref()),
            )
        })
        .collect()
}

/// Per user, its credentials (an unknown mechanism number is a protocol error).
pub(crate) fn parse_describe(
    response: &DescribeUserScramCredentialsResponse,
) -> Result<ItemResults<String, Vec<ScramCredentialInfo>>> {
    check(response.error_code, response.error_message.as_ref())?;
    Ok(response
        .results
        .iter()
        .map(|r| {
            let infos = check(r.error_code, r.error_message.as_ref()).and_then(|()| {
                r.credential_infos
                    .iter()
                    .map(|info| {
                        let mechanism =
                            ScramMechanism::from_wire_type(info.mechanism).ok_or_else(|| {
                                Error::Protocol(format!(
                                    "unknown SCRAM mechanism {} for {}",
                                    info.mechanism, &*r.user
                                ))
                            })?;
                        Ok(ScramCredentialInfo {
                            mechanism,
                            iterations: u32::try_from(info.iterations).unwrap_or(0),
                        })
                    })
                    .collect()
            });
            (r.user.to_string(), infos)
        })
        .collect())
}

impl Admin {
    /// The SCRAM credentials of `users` (`None`: every user that has
    /// some); per user, its mechanisms and iteration counts. A user
    /// without credentials gets RESOURCE_NOT_FOUND.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_user_scram_credentials"))]
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[&str]>,
    ) -> Result<ItemResults<String, Vec<ScramCredentialInfo>>> {
        self.retrying(|| async {
            let request =
                DescribeUserScramCredentialsRequest::default().with_users(users.map(|names| {
                    names
                        .iter()
                        .map(|n| UserName::default().with_name(text(n)))
                        .collect()
                }));
            let (_, response) = send_versioned(&self.client, &Target::Any, |_| Ok(request)).await?;
            parse_describe(&response)
        })
        .await
    }

    /// Sets and removes SCRAM credentials; one result per user. Needs
    /// ALTER on the cluster.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "alter_user_scram_credentials"))]
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: &[UserScramCredentialAlteration],
    ) -> Result<ItemResults<String, ()>> {
        if alterations.is_empty() {
            return Ok(ItemResults::new());
        }
        // Salted once: a retry sends the same salt and salted password.
        let request = alter_request(alterations)?;
        self.retrying(|| async {
            let (_, response) =
                send_versioned(&self.client, &Target::Any, |_| Ok(request.clone())).await?;
            Ok(parse_alter(&response))
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn upserts_carry_the_salted_password_never_the_password() {
        let request = alter_request(&[
            UserScramCredentialAlteration::Upsert {
                user: "alice".to_string(),
                mechanism: ScramMechanism::Sha256,
                iterations: 4096,
                password: "secret".to_string(),
                salt: Some(b"salt".to_vec()),
            },
            UserScramCredentialAlteration::delete("bob", ScramMechanism::Sha512),
        ])
        .unwrap();
        let upsert = &request.upsertions[0];
        assert_eq!(upsert.mechanism, 1);
        assert_eq!(upsert.iterations, 4096);
        assert_eq!(&upsert.salt[..], b"salt");
        assert_eq!(
            upsert.salted_password.to_vec(),
            ScramMechanism::Sha256.salted_password(b"secret", b"salt", 4096)
        );
        assert_eq!(request.deletions[0].mechanism, 2);
        let random = alter_request(&[UserScramCredentialAlteration::upsert(
            "alice",
            ScramMechanism::Sha512,
            4096,
            "secret",
        )])
        .unwrap();
        assert_eq!(random.upsertions[0].salt.len(), SALT_BYTES);
        let debug = format!(
            "{:?}",
            UserScramCredentialAlteration::upsert("a", ScramMechanism::Sha256, 4096, "hunter2")
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn iterations_outside_kafkas_bounds_are_refused_before_sending() {
        let low = UserScramCredentialAlteration::upsert("a", ScramMechanism::Sha256, 10, "p");
        assert!(matches!(alter_request(&[low]), Err(Error::Config { .. })));
    }
}
