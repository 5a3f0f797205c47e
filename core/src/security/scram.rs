//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks
//! them (KIP-84): the key derivation and the four messages, shared by the
//! clients' authenticator and the broker's.
//!
//! Only the pieces both sides need live here: no I/O and no state
//! machine. Kafka sends no channel binding (`n,,`, `c=biws`) and may add
//! the `tokenauth=true` extension to the client's first message (KIP-48
//! delegation tokens); unknown extensions are kept and ignored.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// The smallest iteration count Kafka accepts for a SCRAM credential.
pub const MIN_ITERATIONS: u32 = 4096;
/// The largest iteration count Kafka accepts (and durian: a larger one
/// would let a stored credential burn a second of CPU per login).
pub const MAX_ITERATIONS: u32 = 16384;

/// A SCRAM mechanism Kafka supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`.
    Sha256,
    /// `SCRAM-SHA-512`.
    Sha512,
}

impl ScramMechanism {
    /// The mechanism's name on the wire (SaslHandshake, sasl.mechanism).
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism named `name` (case-insensitive), if it is a SCRAM one.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("SCRAM-SHA-256") {
            Some(ScramMechanism::Sha256)
        } else if name.eq_ignore_ascii_case("SCRAM-SHA-512") {
            Some(ScramMechanism::Sha512)
        } else {
            None
        }
    }

    /// The mechanism's number in DescribeUserScramCredentials and
    /// AlterUserScramCredentials (1 and 2; 0 is "unknown").
    pub fn wire_type(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// The mechanism whose wire number is `wire`.
    pub fn from_wire_type(wire: i8) -> Option<Self> {
        match wire {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with the mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramMechanism::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // An HMAC takes a key of any length, so `new_from_slice` cannot fail.
        match self {
            ScramMechanism::Sha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// What a broker stores for one user and mechanism: never the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramCredential {
    /// The salt the client hashes its password with.
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// `H(ClientKey)`: checks the client's proof.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server's answer.
    pub server_key: Vec<u8>,
}

impl ScramCredential {
    /// The credential for `password` (what AlterUserScramCredentials'
    /// caller computes from a salted password, or a broker from a user
    /// file).
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let salted = mechanism.salted_password(password, salt, iterations);
        Self::from_salted_password(mechanism, &salted, salt, iterations)
    }

    /// The credential for an already salted password (the form
    /// AlterUserScramCredentials carries).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            iterations,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
        }
    }

    /// Whether `proof` proves knowledge of the password for `auth_message`
    /// (compared in constant time).
    pub fn verify_proof(
        &self,
        mechanism: ScramMechanism,
        auth_message: &[u8],
        proof: &[u8],
    ) -> bool {
        let signature = mechanism.hmac(&self.stored_key, auth_message);
        if proof.len() != signature.len() {
            return false;
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        constant_time_eq(&mechanism.hash(&client_key), &self.stored_key)
    }

    /// The server's signature of `auth_message` (the `v=` of its final
    /// message).
    pub fn server_signature(&self, mechanism: ScramMechanism, auth_message: &[u8]) -> Vec<u8> {
        mechanism.hmac(&self.server_key, auth_message)
    }
}

/// The client's proof for `auth_message` given its salted password.
pub fn client_proof(
    mechanism: ScramMechanism,
    salted_password: &[u8],
    auth_message: &[u8],
) -> Vec<u8> {
    let client_key = mechanism.hmac(salted_password, b"Client Key");
    let stored_key = mechanism.hash(&client_key);
    let signature = mechanism.hmac(&stored_key, auth_message);
    client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect()
}

/// The server signature a client expects for `auth_message`.
pub fn expected_server_signature(
    mechanism: ScramMechanism,
    salted_password: &[u8],
    auth_message: &[u8],
) -> Vec<u8> {
    let server_key = mechanism.hmac(salted_password, b"Server Key");
    mechanism.hmac(&server_key, auth_message)
}

/// Compares two byte strings without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A malformed SCRAM message.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramError {
    /// The message is not UTF-8.
    #[error("the SCRAM message is not UTF-8")]
    NotUtf8,
    /// A required attribute is missing.
    #[error("the SCRAM message has no `{0}=` attribute")]
    Missing(char),
    /// An attribute's value is malformed.
    #[error("the SCRAM message's `{attribute}=` is malformed: {why}")]
    Malformed {
        /// The attribute.
        attribute: char,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The GS2 header asks for channel binding, which Kafka never uses.
    #[error("the SCRAM client asked for channel binding, which Kafka does not support")]
    ChannelBinding,
    /// The server answered with `e=`.
    #[error("the server refused the SCRAM exchange: {0}")]
    Server(String),
}

/// Escapes a user name for `n=` (`,` → `=2C`, `=` → `=3D`).
pub fn escape_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Undoes [`escape_name`]; `None` for a `=` not followed by `2C`/`3D`.
pub fn unescape_name(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// The `key=value` attributes of a message, in order.
fn attributes(message: &str) -> impl Iterator<Item = (char, &str)> {
    message.split(',').filter_map(|part| {
        let mut chars = part.chars();
        let key = chars.next()?;
        let value = part.get(key.len_utf8()..)?.strip_prefix('=')?;
        Some((key, value))
    })
}

fn attribute(message: &str, key: char) -> Result<&str, ScramError> {
    attributes(message)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .ok_or(ScramError::Missing(key))
}

fn base64_attribute(message: &str, key: char) -> Result<Vec<u8>, ScramError> {
    BASE64
        .decode(attribute(message, key)?)
        .map_err(|_| ScramError::Malformed {
            attribute: key,
            why: "not base64",
        })
}

/// The client's first message: `n,,n=<user>,r=<nonce>[,extensions]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// The user name, unescaped.
    pub user: String,
    /// The client's nonce.
    pub nonce: String,
    /// `tokenauth=true` was sent (a delegation token, not a user).
    pub token_auth: bool,
    /// The message without its GS2 header (`n=…,r=…`): the start of the
    /// auth message.
    pub bare: String,
}

impl ClientFirst {
    /// The first message of a client authenticating as `user` with `nonce`.
    pub fn new(user: &str, nonce: &str) -> Self {
        ClientFirst {
            user: user.to_owned(),
            nonce: nonce.to_owned(),
            token_auth: false,
            bare: format!("n={},r={nonce}", escape_name(user)),
        }
    }

    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        format!("n,,{}", self.bare).into_bytes()
    }

    /// Parses a client's first message (the broker's side).
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ScramError::NotUtf8)?;
        // GS2 header: a channel-binding flag, an optional authzid, then the
        // bare message.
        let mut parts = text.splitn(3, ',');
        let flag = parts.next().unwrap_or_default();
        let _authzid = parts.next().ok_or(ScramError::Missing('n'))?;
        let bare = parts.next().ok_or(ScramError::Missing('n'))?;
        match flag {
            "n" | "y" => {}
            _ => return Err(ScramError::ChannelBinding),
        }
        let user = unescape_name(attribute(bare, 'n')?).ok_or(ScramError::Malformed {
            attribute: 'n',
            why: "a `=` that is neither `=2C` nor `=3D`",
        })?;
        let nonce = attribute(bare, 'r')?;
        if nonce.is_empty() || !nonce.chars().all(|c| c.is_ascii_graphic() && c != ',') {
            return Err(ScramError::Malformed {
                attribute: 'r',
                why: "empty or not printable",
            });
        }
        let token_auth = bare
            .split(',')
            .any(|part| part.eq_ignore_ascii_case("tokenauth=true"));
        Ok(ClientFirst {
            user,
            nonce: nonce.to_owned(),
            token_auth,
            bare: bare.to_owned(),
        })
    }
}

/// The server's first message: `r=<nonce>,s=<salt>,i=<iterations>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFirst {
    /// The client's nonce followed by the server's.
    pub nonce: String,
    /// The credential's salt.
    pub salt: Vec<u8>,
    /// The credential's iteration count.
    pub iterations: u32,
}

impl ServerFirst {
    /// The bytes on the wire (also the middle of the auth message).
    pub fn encode(&self) -> String {
        format!(
            "r={},s={},i={}",
            self.nonce,
            BASE64.encode(&self.salt),
            self.iterations
        )
    }

    /// Parses a server's first message (the client's side); `e=` is
    /// returned as [`ScramError::Server`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ScramError::NotUtf8)?;
        if let Ok(error) = attribute(text, 'e') {
            return Err(ScramError::Server(error.to_owned()));
        }
        let iterations =
            attribute(text, 'i')?
                .parse::<u32>()
                .map_err(|_| ScramError::Malformed {
                    attribute: 'i',
                    why: "not a number",
                })?;
        Ok(ServerFirst {
            nonce: attribute(text, 'r')?.to_owned(),
            salt: base64_attribute(text, 's')?,
            iterations,
        })
    }
}

/// The client's final message: `c=biws,r=<nonce>,p=<proof>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFinal {
    /// The combined nonce.
    pub nonce: String,
    /// The client's proof.
    pub proof: Vec<u8>,
    /// The message up to the proof (`c=…,r=…`): the end of the auth
    /// message.
    pub without_proof: String,
}

impl ClientFinal {
    /// The channel binding Kafka clients send: base64 of `n,,`.
    pub const CHANNEL_BINDING: &'static str = "biws";

    /// The part of the final message the proof signs, for `nonce`.
    pub fn without_proof_for(nonce: &str) -> String {
        format!("c={},r={nonce}", Self::CHANNEL_BINDING)
    }

    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        format!("{},p={}", self.without_proof, BASE64.encode(&self.proof)).into_bytes()
    }

    /// Parses a client's final message (the broker's side).
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ScramError::NotUtf8)?;
        let at = text.rfind(",p=").ok_or(ScramError::Missing('p'))?;
        let without_proof = &text[..at];
        let channel = attribute(without_proof, 'c')?;
        // `biws` is `n,,`; `eSws` is `y,,` (client supports binding, the
        // server did not offer it): both carry no binding data.
        if channel != "biws" && channel != "eSws" {
            return Err(ScramError::ChannelBinding);
        }
        Ok(ClientFinal {
            nonce: attribute(without_proof, 'r')?.to_owned(),
            proof: base64_attribute(&text[at + 1..], 'p')?,
            without_proof: without_proof.to_owned(),
        })
    }
}

/// Parses the server's final message: the signature from `v=`, or the
/// refusal in `e=` as [`ScramError::Server`].
pub fn parse_server_final(bytes: &[u8]) -> Result<Vec<u8>, ScramError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ScramError::NotUtf8)?;
    if let Ok(error) = attribute(text, 'e') {
        return Err(ScramError::Server(error.to_owned()));
    }
    base64_attribute(text, 'v')
}

/// The server's final message carrying `signature`.
pub fn encode_server_final(signature: &[u8]) -> Vec<u8> {
    format!("v={}", BASE64.encode(signature)).into_bytes()
}

/// The auth message both sides sign: client-first-bare, server-first and
/// client-final-without-proof, comma-joined.
pub fn auth_message(
    client_first_bare: &str,
    server_first: &str,
    client_final_without_proof: &str,
) -> Vec<u8> {
    format!("{client_first_bare},{server_first},{client_final_without_proof}").into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example exchange, end to end.
    #[test]
    fn rfc7677_example() {
        let mechanism = ScramMechanism::Sha256;
        let first = ClientFirst::new("user", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.encode(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = ServerFirst::parse(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        )
        .unwrap();
        let salted =
            mechanism.salted_password(b"pencil", &server_first.salt, server_first.iterations);
        let without_proof = ClientFinal::without_proof_for(&server_first.nonce);
        let auth = auth_message(&first.bare, &server_first.encode(), &without_proof);
        let final_message = ClientFinal {
            nonce: server_first.nonce.clone(),
            proof: client_proof(mechanism, &salted, &auth),
            without_proof,
        };
        assert_eq!(
            String::from_utf8(final_message.encode()).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let signature =
            parse_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
        assert_eq!(
            signature,
            expected_server_signature(mechanism, &salted, &auth)
        );

        // The broker's side of the same exchange.
        let credential =
            ScramCredential::from_password(mechanism, b"pencil", &server_first.salt, 4096);
        let parsed = ClientFinal::parse(&final_message.encode()).unwrap();
        assert!(credential.verify_proof(mechanism, &auth, &parsed.proof));
        assert_eq!(credential.server_signature(mechanism, &auth), signature);
        let wrong = ScramCredential::from_password(mechanism, b"pen", &server_first.salt, 4096);
        assert!(!wrong.verify_proof(mechanism, &auth, &parsed.proof));
    }

    #[test]
    fn names_escape_both_ways() {
        assert_eq!(escape_name("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(unescape_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(unescape_name("a=4"), None);
        assert_eq!(unescape_name("a=41"), None);
    }

    #[test]
    fn client_first_parses_kafka_extensions_and_refuses_binding() {
        let first = ClientFirst::parse(b"n,,n=alice,r=abc,tokenauth=true").unwrap();
        assert_eq!(
            (first.user.as_str(), first.nonce.as_str()),
            ("alice", "abc")
        );
        assert!(first.token_auth);
        assert_eq!(first.bare, "n=alice,r=abc,tokenauth=true");
        assert_eq!(
            ClientFirst::parse(b"p=tls-unique,,n=alice,r=abc"),
            Err(ScramError::ChannelBinding)
        );
        assert_eq!(
            ClientFirst::parse(b"n,,n=alice"),
            Err(ScramError::Missing('r'))
        );
        assert_eq!(ClientFirst::parse(&[0xff, 0xfe]), Err(ScramError::NotUtf8));
        assert!(ClientFirst::parse(b"").is_err());
    }

    #[test]
    fn server_errors_are_reported() {
        assert_eq!(
            parse_server_final(b"e=invalid-proof"),
            Err(ScramError::Server("invalid-proof".into()))
        );
        assert_eq!(
            ServerFirst::parse(b"e=unknown-user"),
            Err(ScramError::Server("unknown-user".into()))
        );
        assert!(matches!(
            ServerFirst::parse(b"r=x,s=!!,i=4096"),
            Err(ScramError::Malformed { attribute: 's', .. })
        ));
    }

    #[test]
    fn sha512_credentials_verify() {
        let mechanism = ScramMechanism::Sha512;
        let credential =
            ScramCredential::from_password(mechanism, b"secret", b"salt", MIN_ITERATIONS);
        let salted = mechanism.salted_password(b"secret", b"salt", MIN_ITERATIONS);
        assert_eq!(
            credential,
            ScramCredential::from_salted_password(mechanism, &salted, b"salt", MIN_ITERATIONS)
        );
        let auth = auth_message("n=u,r=a", "r=ab,s=c2FsdA==,i=4096", "c=biws,r=ab");
        let proof = client_proof(mechanism, &salted, &auth);
        assert!(credential.verify_proof(mechanism, &auth, &proof));
        assert!(!credential.verify_proof(mechanism, &auth, &proof[1..]));
    }
}
