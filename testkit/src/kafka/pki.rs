//! Throw-away certificates for TLS tests, made with rcgen at test time:
//! a CA, server certificates for `localhost`/`127.0.0.1` (valid, expired,
//! or for another host), a client certificate for mutual TLS, and a
//! second, unrelated CA. Each is written as PEM files into a directory so
//! both a broker (Kafka's `ssl.keystore.type=PEM`) and a client can load it.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// A certificate and its key, as PEM text and as files.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The file holding the certificate.
    pub cert_file: PathBuf,
    /// The file holding the private key.
    pub key_file: PathBuf,
    /// The file holding the key then the certificate: what Kafka's
    /// `ssl.keystore.type=PEM` with `ssl.keystore.location` reads.
    pub keystore_file: PathBuf,
}

/// Everything a TLS test needs; see the module docs.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA that signed every certificate below but `other_ca`.
    pub ca: Issued,
    /// A server certificate for `localhost` and `127.0.0.1`.
    pub server: Issued,
    /// A server certificate for `localhost`/`127.0.0.1` that expired in 2021.
    pub expired_server: Issued,
    /// A server certificate for `wrong.example.invalid` only.
    pub wrong_host_server: Issued,
    /// A client certificate (CN `durian-client`) for mutual TLS.
    pub client: Issued,
    /// An unrelated CA: trusting it instead of `ca` must fail.
    pub other_ca: Issued,
}

impl TestPki {
    /// Makes the certificates and writes them into `dir`.
    pub fn generate(dir: &Path) -> TestPki {
        fs::create_dir_all(dir).expect("create the certificate directory");
        let (ca_cert, ca_key) = authority("durian test CA");
        let (other_cert, other_key) = authority("unrelated test CA");
        let local = ["localhost", "127.0.0.1"];
        let server = leaf(
            &ca_cert,
            &ca_key,
            &local,
            ExtendedKeyUsagePurpose::ServerAuth,
            false,
        );
        let expired = leaf(
            &ca_cert,
            &ca_key,
            &local,
            ExtendedKeyUsagePurpose::ServerAuth,
            true,
        );
        let wrong = leaf(
            &ca_cert,
            &ca_key,
            &["wrong.example.invalid"],
            ExtendedKeyUsagePurpose::ServerAuth,
            false,
        );
        let client = leaf(
            &ca_cert,
            &ca_key,
            &["durian-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
            false,
        );
        TestPki {
            ca: write(dir, "ca", &ca_cert, &ca_key),
            server: write(dir, "server", &server.0, &server.1),
            expired_server: write(dir, "expired-server", &expired.0, &expired.1),
            wrong_host_server: write(dir, "wrong-host-server", &wrong.0, &wrong.1),
            client: write(dir, "client", &client.0, &client.1),
            other_ca: write(dir, "other-ca", &other_cert, &other_key),
        }
    }
}

fn authority(name: &str) -> (Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2019, 1, 1);
    params.not_after = date_time_ymd(2099, 1, 1);
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-sign the CA");
    (cert, key)
}

fn leaf(
    ca: &Certificate,
    ca_key: &KeyPair,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> (Certificate, KeyPair) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("leaf parameters");
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    } else {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
    }
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, ca, ca_key).expect("sign the leaf");
    (cert, key)
}

fn write(dir: &Path, name: &str, cert: &Certificate, key: &KeyPair) -> Issued {
    let cert_pem = cert.pem();
    let key_pem = key.serialize_pem();
    let cert_file = dir.join(format!("{name}.crt"));
    let key_file = dir.join(format!("{name}.key"));
    let keystore_file = dir.join(format!("{name}-keystore.pem"));
    fs::write(&cert_file, &cert_pem).expect("write certificate");
    fs::write(&key_file, &key_pem).expect("write key");
    fs::write(&keystore_file, format!("{key_pem}{cert_pem}")).expect("write keystore");
    Issued {
        cert_pem,
        key_pem,
        cert_file,
        key_file,
        keystore_file,
    }
}
