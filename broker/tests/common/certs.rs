//! Test certificates, generated per test with rcgen: a CA, a server
//! certificate for localhost/127.0.0.1 and client certificates, written
//! as PEM files, plus TLS client connections that trust the CA.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A CA with a server certificate; files live as long as the value.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    /// Server certificate chain (PEM file).
    pub server_cert: PathBuf,
    /// Server key (PEM file, PKCS#8).
    pub server_key: PathBuf,
    /// The CA certificate (PEM file), for `ssl_client_auth`.
    pub ca_file: PathBuf,
}

/// A client certificate and key.
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TestPki {
    /// A fresh CA and a server certificate for localhost and 127.0.0.1.
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "durian test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA cert");
        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = params
            .signed_by(&server_key, &ca, &ca_key)
            .expect("server cert");
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write PEM");
            path
        };
        let server_cert = write("server.pem", server.pem());
        let server_key = write("server.key", server_key.serialize_pem());
        let ca_file = write("ca.pem", ca.pem());
        TestPki {
            dir,
            ca,
            ca_key,
            server_cert,
            server_key,
            ca_file,
        }
    }

    /// A client certificate with subject `CN=<cn>,O=Durian Tests`, signed by the CA.
    pub fn client(&self, cn: &str) -> ClientIdentity {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(DnType::OrganizationName, "Durian Tests");
        subject.push(DnType::CommonName, cn);
        params.distinguished_name = subject;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("client cert");
        ClientIdentity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// The directory holding the PEM files.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Connects with TLS to `addr`, trusting the CA, presenting `identity` if given.
    pub async fn connect(
        &self,
        addr: std::net::SocketAddr,
        identity: Option<&ClientIdentity>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca.der().clone())
            .expect("CA is a valid root");
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
        let config = match identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .expect("client cert"),
            None => builder.with_no_client_auth(),
        };
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }
}
