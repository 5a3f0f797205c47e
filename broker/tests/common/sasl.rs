//! The client side of SASL for the broker's tests, over [`TestClient`]:
//! SaslHandshake, SaslAuthenticate, and whole PLAIN and SCRAM exchanges
//! built on `durian_core::security::scram`.

use durian_core::security::scram::{
    auth_message, client_proof, parse_server_final, ClientFinal, ClientFirst, ScramMechanism,
    ServerFirst,
};
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::TestClient;

/// SaslHandshake v1 for `mechanism`.
pub async fn handshake(client: &mut TestClient, mechanism: &str) -> SaslHandshakeResponse {
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into()));
    client.call(&request, 1).await
}

/// SaslAuthenticate v2 carrying `token`.
pub async fn authenticate(client: &mut TestClient, token: &[u8]) -> SaslAuthenticateResponse {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(token.to_vec().into());
    client.call(&request, 2).await
}

/// A whole PLAIN exchange; the final SaslAuthenticate response.
pub async fn plain(
    client: &mut TestClient,
    user: &str,
    password: &str,
) -> SaslAuthenticateResponse {
    let shake = handshake(client, "PLAIN").await;
    assert_eq!(shake.error_code, 0, "PLAIN is enabled");
    authenticate(client, format!("\0{user}\0{password}").as_bytes()).await
}

/// A whole SCRAM exchange: the error code of the failing step (0 when
/// authenticated and the server's signature checked out).
pub async fn scram(
    client: &mut TestClient,
    mechanism: ScramMechanism,
    user: &str,
    password: &str,
) -> i16 {
    let shake = handshake(client, mechanism.name()).await;
    assert_eq!(shake.error_code, 0, "{} is enabled", mechanism.name());
    let first = ClientFirst::new(user, "durian-test-nonce");
    let reply = authenticate(client, &first.encode()).await;
    if reply.error_code != 0 {
        return reply.error_code;
    }
    let server_first = ServerFirst::parse(&reply.auth_bytes).expect("server-first");
    assert!(server_first.nonce.starts_with("durian-test-nonce"));
    let salted = mechanism.salted_password(
        password.as_bytes(),
        &server_first.salt,
        server_first.iterations,
    );
    let without_proof = ClientFinal::without_proof_for(&server_first.nonce);
    let message = auth_message(
        &first.bare,
        std::str::from_utf8(&reply.auth_bytes).expect("UTF-8"),
        &without_proof,
    );
    let last = ClientFinal {
        nonce: server_first.nonce.clone(),
        proof: client_proof(mechanism, &salted, &message),
        without_proof,
    };
    let reply = authenticate(client, &last.encode()).await;
    if reply.error_code != 0 {
        return reply.error_code;
    }
    let signature = parse_server_final(&reply.auth_bytes).expect("server-final");
    let server_key = mechanism.hmac(&salted, b"Server Key");
    assert_eq!(
        signature,
        mechanism.hmac(&server_key, &message),
        "server proves the key"
    );
    0
}
