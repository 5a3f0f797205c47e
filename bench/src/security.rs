//! The SASL_SSL listener of `--security sasl-ssl`: a throw-away CA and broker
//! certificate made at run time, one SCRAM-SHA-512 user, and the client
//! properties every client (durian's and librdkafka's) is given to reach it.
//!
//! Both clients take the same librdkafka-style property names, so one list
//! configures both and the comparison stays like for like.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// SCRAM user the broker is seeded with and the clients log in as.
pub const USER: &str = "bench";
/// Its password (the broker lives in a temp dir for one run only).
pub const PASSWORD: &str = "bench-secret";
/// SCRAM mechanism of the run.
pub const MECHANISM: &str = "SCRAM-SHA-512";

/// File names inside the TLS directory.
pub const CA_FILE: &str = "ca.pem";
/// The broker's certificate (PEM).
pub const CERT_FILE: &str = "broker.pem";
/// The broker's private key (PEM, PKCS#8).
pub const KEY_FILE: &str = "broker-key.pem";

/// How clients reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Security {
    /// Plain TCP, no authentication (the default run).
    #[default]
    Plaintext,
    /// TLS plus SASL/SCRAM-SHA-512 on durian's broker.
    SaslSsl,
}

impl Security {
    /// Kafka's name of the listener's protocol, for report rows.
    pub fn listener_name(self) -> &'static str {
        match self {
            Security::Plaintext => "PLAINTEXT",
            Security::SaslSsl => "SASL_SSL",
        }
    }

    /// The value clap parses back.
    pub fn arg(self) -> &'static str {
        match self {
            Security::Plaintext => "plaintext",
            Security::SaslSsl => "sasl-ssl",
        }
    }
}

/// Client properties for `security` (empty for plaintext); `ca_file` is the
/// CA certificate the broker's certificate chains to.
pub fn client_properties(security: Security, ca_file: Option<&Path>) -> Vec<(String, String)> {
    match security {
        Security::Plaintext => Vec::new(),
        Security::SaslSsl => {
            let mut props = vec![
                ("security.protocol".to_owned(), "SASL_SSL".to_owned()),
                ("sasl.mechanism".to_owned(), MECHANISM.to_owned()),
                ("sasl.username".to_owned(), USER.to_owned()),
                ("sasl.password".to_owned(), PASSWORD.to_owned()),
            ];
            if let Some(ca) = ca_file {
                props.push(("ssl.ca.location".to_owned(), ca.display().to_string()));
            }
            props
        }
    }
}

/// Writes a CA and a broker certificate for 127.0.0.1 and localhost into
/// `dir` ([`CA_FILE`], [`CERT_FILE`], [`KEY_FILE`]); returns the CA's path.
pub fn write_tls_files(dir: &Path) -> Result<PathBuf, String> {
    let fail = |what: &str, e: rcgen::Error| format!("making the {what}: {e}");
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA parameters", e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "durian-bench CA");
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", e))?;
    let ca = ca_params
        .self_signed(&ca_key)
        .map_err(|e| fail("CA certificate", e))?;

    // Both names, so the host-name check passes whichever one is dialled.
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| fail("broker certificate parameters", e))?;
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "durian-bench broker");
    let leaf_key = KeyPair::generate().map_err(|e| fail("broker key", e))?;
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .map_err(|e| fail("broker certificate", e))?;

    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok::<PathBuf, String>(path)
    };
    let ca_path = write(CA_FILE, ca.pem())?;
    write(CERT_FILE, leaf.pem())?;
    write(KEY_FILE, leaf_key.serialize_pem())?;
    Ok(ca_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_adds_no_properties() {
        assert!(client_properties(Security::Plaintext, None).is_empty());
    }

    #[test]
    fn sasl_ssl_properties_name_protocol_mechanism_and_ca() {
        let props = client_properties(Security::SaslSsl, Some(Path::new("/tmp/ca.pem")));
        let get = |k: &str| {
            props
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get("sasl.username"), Some(USER));
        assert_eq!(get("ssl.ca.location"), Some("/tmp/ca.pem"));
    }

    #[test]
    fn tls_files_are_written_as_pem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = write_tls_files(dir.path()).expect("certificates");
        for name in [CA_FILE, CERT_FILE, KEY_FILE] {
            let text = std::fs::read_to_string(dir.path().join(name)).expect("read back");
            assert!(text.starts_with("-----BEGIN "), "{name} is not PEM");
        }
        assert_eq!(ca, dir.path().join(CA_FILE));
    }
}
