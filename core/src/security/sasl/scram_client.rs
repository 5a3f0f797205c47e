//! The client's half of a SCRAM exchange, on the message formats and key
//! derivation of [`crate::security::scram`].

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::RngCore;

use super::Step;
use crate::security::scram::{
    self, auth_message, client_proof, constant_time_eq, expected_server_signature, ClientFinal,
    ClientFirst, ScramMechanism, ServerFirst,
};

enum State {
    /// The first message is not sent yet.
    Start,
    /// Waiting for server-first.
    SentFirst(ClientFirst),
    /// Waiting for server-final, which must carry this signature.
    SentFinal(Vec<u8>),
    Done,
}

/// One SCRAM exchange as a client.
pub(super) struct ScramClient {
    mechanism: ScramMechanism,
    user: String,
    password: String,
    state: State,
}

impl ScramClient {
    pub(super) fn new(mechanism: ScramMechanism, user: &str, password: &str) -> Self {
        ScramClient {
            mechanism,
            user: user.to_owned(),
            password: password.to_owned(),
            state: State::Start,
        }
    }

    /// client-first, with a fresh random nonce.
    pub(super) fn first_message(&mut self) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let first = ClientFirst::new(&self.user, &BASE64.encode(nonce));
        let bytes = first.encode();
        self.state = State::SentFirst(first);
        bytes
    }

    /// Handles the server's message; errors are the reason to report.
    pub(super) fn next(&mut self, challenge: &[u8]) -> Result<Step, String> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start | State::Done => Err("the broker sent a SCRAM message out of turn".into()),
            State::SentFirst(first) => {
                let server_first = ServerFirst::parse(challenge).map_err(|e| e.to_string())?;
                if !server_first.nonce.starts_with(&first.nonce)
                    || server_first.nonce.len() == first.nonce.len()
                {
                    return Err("the broker's nonce does not extend the client's".into());
                }
                if server_first.iterations < scram::MIN_ITERATIONS {
                    return Err(format!(
                        "the broker asked for {} iterations, fewer than SCRAM's minimum {}",
                        server_first.iterations,
                        scram::MIN_ITERATIONS
                    ));
                }
                let salted = self.mechanism.salted_password(
                    self.password.as_bytes(),
                    &server_first.salt,
                    server_first.iterations,
                );
                let without_proof = ClientFinal::without_proof_for(&server_first.nonce);
                let server_first_text = String::from_utf8_lossy(challenge);
                let message = auth_message(&first.bare, &server_first_text, &without_proof);
                let proof = client_proof(self.mechanism, &salted, &message);
                let signature = expected_server_signature(self.mechanism, &salted, &message);
                let client_final = ClientFinal {
                    nonce: server_first.nonce,
                    proof,
                    without_proof,
                };
                self.state = State::SentFinal(signature);
                Ok(Step::Send(client_final.encode()))
            }
            State::SentFinal(expected) => {
                let signature = scram::parse_server_final(challenge).map_err(|e| e.to_string())?;
                if constant_time_eq(&signature, &expected) {
                    Ok(Step::Done)
                } else {
                    // The broker does not know the password: it may be an
                    // impostor, so nothing more is sent to it.
                    Err("the broker's SCRAM signature is wrong (is it the real broker?)".into())
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::security::scram::{encode_server_final, ScramCredential};

    /// A whole exchange against the broker-side pieces of `scram`.
    #[test]
    fn exchange_with_the_server_side_of_scram() {
        for mechanism in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
            let credential =
                ScramCredential::from_password(mechanism, b"alice-secret", b"salt-1234", 4096);
            let mut client = ScramClient::new(mechanism, "alice", "alice-secret");
            let first = ClientFirst::parse(&client.first_message()).unwrap();
            let server_first = ServerFirst {
                nonce: format!("{}server", first.nonce),
                salt: b"salt-1234".to_vec(),
                iterations: 4096,
            }
            .encode();
            let Step::Send(final_bytes) = client.next(server_first.as_bytes()).unwrap() else {
                panic!("expected client-final");
            };
            let client_final = ClientFinal::parse(&final_bytes).unwrap();
            let message = auth_message(&first.bare, &server_first, &client_final.without_proof);
            assert!(credential.verify_proof(mechanism, &message, &client_final.proof));
            let server_final =
                encode_server_final(&credential.server_signature(mechanism, &message));
            assert!(matches!(client.next(&server_final).unwrap(), Step::Done));
        }
    }

    #[test]
    fn a_wrong_server_signature_fails() {
        let mut client = ScramClient::new(ScramMechanism::Sha256, "u", "p");
        let first = ClientFirst::parse(&client.first_message()).unwrap();
        let server_first = format!("r={}x,s=c2FsdA==,i=4096", first.nonce);
        client.next(server_first.as_bytes()).unwrap();
        assert!(client.next(&encode_server_final(b"nope")).is_err());
    }
}
