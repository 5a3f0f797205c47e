//! SASL/SCRAM-SHA-256 and -512 (RFC 5802, KIP-84), server side: two
//! rounds against the credentials in the broker's [`ScramStore`].

use durian_core::security::scram::{
    auth_message, encode_server_final, ClientFinal, ClientFirst, ScramCredential, ScramMechanism,
    ServerFirst,
};
use rand::Rng;

use super::Step;
use crate::security::credentials::ScramStore;
use crate::security::Principal;

/// Where one SCRAM exchange stands.
#[derive(Debug)]
pub enum ScramExchange {
    /// Waiting for client-first.
    Start(ScramMechanism),
    /// Server-first sent; waiting for client-final.
    Sent {
        /// The mechanism.
        mechanism: ScramMechanism,
        /// The user's credential.
        credential: ScramCredential,
        /// The user name.
        user: String,
        /// client-first-bare.
        client_first_bare: String,
        /// The server-first message sent.
        server_first: String,
        /// Client nonce + server nonce.
        nonce: String,
    },
    /// Finished (successfully or not); nothing more is accepted.
    Finished,
}

fn failed(mechanism: ScramMechanism) -> Step {
    Step::Failed(format!(
        "Authentication failed during authentication due to invalid credentials with SASL \
         mechanism {}",
        mechanism.name()
    ))
}

impl ScramExchange {
    /// Takes the client's next message.
    pub fn step(&mut self, store: &ScramStore, token: &[u8]) -> Step {
        match std::mem::replace(self, ScramExchange::Finished) {
            ScramExchange::Start(mechanism) => {
                let first = match ClientFirst::parse(token) {
                    Ok(first) => first,
                    Err(e) => {
                        return Step::Failed(format!("Invalid SCRAM client first message: {e}"))
                    }
                };
                if first.token_auth {
                    return Step::Failed(
                        "delegation tokens (tokenauth) are not supported by this broker".into(),
                    );
                }
                let Some(credential) = store.get(&first.user, mechanism) else {
                    return failed(mechanism);
                };
                let server_nonce: String = rand::rng()
                    .sample_iter(rand::distr::Alphanumeric)
                    .take(32)
                    .map(char::from)
                    .collect();
                let nonce = format!("{}{server_nonce}", first.nonce);
                let server_first = ServerFirst {
                    nonce: nonce.clone(),
                    salt: credential.salt.clone(),
                    iterations: credential.iterations,
                }
                .encode();
                let response = server_first.clone().into_bytes();
                *self = ScramExchange::Sent {
                    mechanism,
                    credential,
                    user: first.user,
                    client_first_bare: first.bare,
                    server_first,
                    nonce,
                };
                Step::Continue(response)
            }
            ScramExchange::Sent {
                mechanism,
                credential,
                user,
                client_first_bare,
                server_first,
                nonce,
            } => {
                let Ok(last) = ClientFinal::parse(token) else {
                    return failed(mechanism);
                };
                // Kafka's check is "ends with": librdkafka sends its own
                // nonce again in front of the combined one. The proof is
                // over what the client actually sent, so nothing is lost.
                if !last.nonce.ends_with(&nonce) {
                    return Step::Failed(
                        "Invalid SCRAM client final message: nonce mismatch".into(),
                    );
                }
                let message = auth_message(&client_first_bare, &server_first, &last.without_proof);
                if !credential.verify_proof(mechanism, &message, &last.proof) {
                    return failed(mechanism);
                }
                Step::Done {
                    principal: Principal::user(&user),
                    response: encode_server_final(
                        &credential.server_signature(mechanism, &message),
                    ),
                    lifetime: None,
                }
            }
            ScramExchange::Finished => Step::Failed("SCRAM exchange already finished".into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::security::scram::{client_proof, ClientFinal};

    fn exchange(password: &[u8]) -> Step {
        exchange_with(password, false)
    }

    /// `doubled`: the client sends its nonce again before the combined
    /// one, as librdkafka does.
    fn exchange_with(password: &[u8], doubled: bool) -> Step {
        let dir = tempfile::tempdir().unwrap();
        let store = ScramStore::open(dir.path()).unwrap();
        let mechanism = ScramMechanism::Sha256;
        let cred = ScramCredential::from_password(mechanism, b"pencil", b"salty", 4096);
        store
            .apply(vec![("user".into(), mechanism, Some(cred))])
            .unwrap();
        let mut server = ScramExchange::Start(mechanism);
        let first = ClientFirst::new("user", "clientnonce");
        let Step::Continue(server_first) = server.step(&store, &first.encode()) else {
            panic!("server-first expected");
        };
        let server_first = ServerFirst::parse(&server_first).unwrap();
        let salted =
            mechanism.salted_password(password, &server_first.salt, server_first.iterations);
        let sent_nonce = if doubled {
            format!("clientnonce{}", server_first.nonce)
        } else {
            server_first.nonce.clone()
        };
        let without_proof = ClientFinal::without_proof_for(&sent_nonce);
        let message = auth_message(&first.bare, &server_first.encode(), &without_proof);
        let proof = client_proof(mechanism, &salted, &message);
        let last = ClientFinal {
            nonce: sent_nonce,
            proof,
            without_proof,
        };
        server.step(&store, &last.encode())
    }

    #[test]
    fn right_password_authenticates_wrong_one_fails() {
        assert!(
            matches!(exchange(b"pencil"), Step::Done { principal, .. } if principal == Principal::user("user"))
        );
        assert!(matches!(exchange(b"pen"), Step::Failed(_)));
        assert!(
            matches!(exchange_with(b"pencil", true), Step::Done { .. }),
            "librdkafka's nonce"
        );
    }
}
