//! TLS for SSL and SASL_SSL listeners: rustls with the ring provider,
//! certificates and keys from PEM files, optional client certificates
//! (mTLS, Kafka's `ssl.client.auth`).
//!
//! A client that presents a certificate the CA vouches for gets the
//! principal `User:<subject DN>` (RFC 2253, e.g. `User:CN=alice,O=Example`),
//! like Kafka's default principal builder.

mod dn;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

pub use dn::{subject_dn, DnError};

use super::Principal;

/// Whether an SSL listener asks clients for certificates (`ssl.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Clients are not asked (Kafka's default).
    #[default]
    None,
    /// Clients may present a certificate; without one they are anonymous.
    Requested,
    /// Clients must present a certificate the CA signed.
    Required,
}

impl FromStr for ClientAuth {
    type Err = TlsError;

    fn from_str(text: &str) -> Result<Self, TlsError> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "requested" => Ok(ClientAuth::Requested),
            "required" => Ok(ClientAuth::Required),
            _ => Err(TlsError(format!(
                "ssl.client.auth `{text}`: expected none, requested or required"
            ))),
        }
    }
}

/// Where a TLS listener finds its certificate, key and client CA.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file with the server certificate chain, leaf first.
    pub cert_chain: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub private_key: PathBuf,
    /// PEM file with the CAs client certificates must chain to (needed
    /// unless `client_auth` is `None`).
    pub client_ca: Option<PathBuf>,
    /// Whether clients are asked for certificates.
    pub client_auth: ClientAuth,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_chain", &self.cert_chain)
            .field("private_key", &self.private_key)
            .field("client_ca", &self.client_ca)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

impl TlsConfig {
    /// Server certificate chain and key; clients are not asked for certificates.
    pub fn new(cert_chain: impl Into<PathBuf>, private_key: impl Into<PathBuf>) -> Self {
        TlsConfig {
            cert_chain: cert_chain.into(),
            private_key: private_key.into(),
            client_ca: None,
            client_auth: ClientAuth::None,
        }
    }
}

/// A TLS setting that cannot be used (unreadable file, bad PEM, a key
/// that does not match).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(pub String);

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "{}: no CERTIFICATE in the PEM file",
            path.display()
        )));
    }
    Ok(certs)
}

/// Builds the acceptor of a TLS listener from `config`.
pub fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let chain = read_certs(&config.cert_chain)?;
    let key = PrivateKeyDer::from_pem_file(&config.private_key)
        .map_err(|e| TlsError(format!("{}: {e}", config.private_key.display())))?;
    // ring's provider (no aws-lc C build); its post-quantum key exchange
    // is not needed by Kafka clients.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?;
    let builder = match config.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let ca = config.client_ca.as_ref().ok_or_else(|| {
                TlsError(
                    "ssl.client.auth is requested/required but no client CA file is set"
                        .to_string(),
                )
            })?;
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError(format!("{}: {e}", ca.display())))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if config.client_auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| TlsError(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let server = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError(format!("certificate and key do not fit: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The principal of a TLS connection: `User:<subject DN>` of the client
/// certificate (verified by rustls), or `User:ANONYMOUS` without one.
pub fn peer_principal(connection: &rustls::ServerConnection) -> Result<Principal, DnError> {
    match connection.peer_certificates().and_then(|c| c.first()) {
        Some(leaf) => Ok(Principal::user(&subject_dn(leaf)?)),
        None => Ok(Principal::anonymous()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};

    /// A TLS handshake over an in-memory pipe with a client certificate
    /// for `CN=alice,O=Durian`: the server sees `User:CN=alice,O=Durian`.
    #[tokio::test]
    async fn a_client_certificate_becomes_the_subject_dn_principal() {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        // A fresh name: the default one already holds a CN.
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(DnType::OrganizationName, "Durian");
        subject.push(DnType::CommonName, "alice");
        client_params.distinguished_name = subject;
        let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let config = TlsConfig {
            cert_chain: write("server.pem", server.pem()),
            private_key: write("server.key", server_key.serialize_pem()),
            client_ca: Some(write("ca.pem", ca.pem())),
            client_auth: ClientAuth::Required,
        };
        let acceptor = acceptor(&config).unwrap();

        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![client.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client_key.serialize_der())),
            )
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
        let (client_end, server_end) = tokio::io::duplex(64 * 1024);
        let name = ServerName::try_from("localhost").unwrap();
        let (server_side, client_side) = tokio::join!(
            acceptor.accept(server_end),
            connector.connect(name, client_end)
        );
        let _client = client_side.unwrap();
        let server_side = server_side.unwrap();
        assert_eq!(
            peer_principal(server_side.get_ref().1).unwrap().to_string(),
            "User:CN=alice,O=Durian"
        );
    }
}
