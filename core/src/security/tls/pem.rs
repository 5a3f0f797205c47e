//! Reading PEM trust anchors, certificate chains and private keys, with
//! errors that name the property pointing at the bad material.

use std::path::PathBuf;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use crate::error::{Error, Result};

/// PEM material: a file to read, or the PEM text itself (librdkafka's
/// `ssl.ca.pem`, `ssl.certificate.pem`, `ssl.key.pem`).
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A file holding PEM sections.
    File(PathBuf),
    /// PEM text.
    Inline(String),
}

impl std::fmt::Debug for PemSource {
    /// Inline PEM may be a private key: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemSource::File(path) => f.debug_tuple("File").field(path).finish(),
            PemSource::Inline(_) => f.write_str("Inline(..)"),
        }
    }
}

impl PemSource {
    /// The PEM bytes; `property` names the setting in the error.
    fn read(&self, property: &str) -> Result<Vec<u8>> {
        match self {
            PemSource::Inline(text) => Ok(text.as_bytes().to_vec()),
            PemSource::File(path) => std::fs::read(path).map_err(|e| {
                Error::config(property, format!("cannot read {}: {e}", path.display()))
            }),
        }
    }

    /// The property an error about this source names: the inline variant
    /// of `location_property` (`ssl.ca.location` → `ssl.ca.pem`) for text.
    fn property(&self, location_property: &str) -> String {
        match self {
            PemSource::File(_) => location_property.to_owned(),
            PemSource::Inline(_) => location_property.replace(".location", ".pem"),
        }
    }
}

/// Every certificate in `source`; at least one.
pub(super) fn certificates(
    source: &PemSource,
    location_property: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let property = source.property(location_property);
    let bytes = source.read(&property)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config(&property, format!("malformed PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(Error::config(
            &property,
            "holds no `-----BEGIN CERTIFICATE-----` section",
        ));
    }
    Ok(certificates)
}

/// The trust anchors: the CA certificates of `ca`, or the operating
/// system's store when `ca` is `None`.
pub(super) fn root_store(ca: Option<&PemSource>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(ca) => {
            let property = ca.property("ssl.ca.location");
            for certificate in certificates(ca, "ssl.ca.location")? {
                roots.add(certificate).map_err(|e| {
                    Error::config(&property, format!("not a usable CA certificate: {e}"))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                let errors: Vec<String> = native.errors.iter().map(ToString::to_string).collect();
                return Err(Error::config(
                    "ssl.ca.location",
                    format!(
                        "not set, and the operating system's trust store holds no usable CA \
                         certificate ({}); point ssl.ca.location at the brokers' CA",
                        if errors.is_empty() {
                            "it is empty".to_owned()
                        } else {
                            errors.join("; ")
                        }
                    ),
                ));
            }
        }
    }
    Ok(roots)
}

/// The one private key in `source`. Encrypted keys are refused: rustls
/// cannot decrypt them, and `has_password` only changes the advice.
pub(super) fn private_key(
    source: &PemSource,
    has_password: bool,
) -> Result<PrivateKeyDer<'static>> {
    let property = source.property("ssl.key.location");
    let bytes = source.read(&property)?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        let advice = if has_password {
            "ssl.key.password is set, but durian cannot decrypt keys (rustls has no PEM \
             decryption)"
        } else {
            "durian cannot decrypt keys"
        };
        return Err(Error::config(
            property,
            format!(
                "the private key is encrypted; {advice}: decrypt it first, e.g. \
                 `openssl pkcs8 -in key.pem -out plain-key.pem` (prompts for the password), \
                 and drop ssl.key.password"
            ),
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        Error::config(
            property,
            format!("no PKCS#8, RSA (PKCS#1) or EC (SEC1) private key found: {e}"),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn section(label: &str, der: &[u8]) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    }

    fn property_of(error: Error) -> String {
        match error {
            Error::Config { property, reason } => format!("{property}: {reason}"),
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn pkcs8_pkcs1_and_sec1_keys_are_recognised() {
        let key = rcgen::KeyPair::generate().unwrap();
        let pkcs8 = PemSource::Inline(key.serialize_pem());
        assert!(matches!(
            private_key(&pkcs8, false).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        // The section label decides the format; the content is checked
        // later, when rustls loads the key.
        let rsa = PemSource::Inline(section("RSA PRIVATE KEY", b"\x30\x00"));
        assert!(matches!(
            private_key(&rsa, false).unwrap(),
            PrivateKeyDer::Pkcs1(_)
        ));
        let ec = PemSource::Inline(section("EC PRIVATE KEY", b"\x30\x00"));
        assert!(matches!(
            private_key(&ec, false).unwrap(),
            PrivateKeyDer::Sec1(_)
        ));
    }

    #[test]
    fn encrypted_keys_are_refused_with_advice() {
        let encrypted = PemSource::Inline(section("ENCRYPTED PRIVATE KEY", b"\x30\x00"));
        let text = property_of(private_key(&encrypted, true).unwrap_err());
        assert!(text.starts_with("ssl.key.pem: "), "{text}");
        assert!(
            text.contains("encrypted") && text.contains("ssl.key.password"),
            "{text}"
        );
        let legacy = PemSource::Inline(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
                .to_owned(),
        );
        assert!(property_of(private_key(&legacy, false).unwrap_err()).contains("encrypted"));
    }

    #[test]
    fn unreadable_or_empty_material_names_its_property() {
        let missing = PemSource::File("/nonexistent/durian/ca.pem".into());
        let text = property_of(root_store(Some(&missing)).unwrap_err());
        assert!(text.starts_with("ssl.ca.location: cannot read"), "{text}");
        let empty = PemSource::Inline("no pem here".into());
        let text = property_of(certificates(&empty, "ssl.certificate.location").unwrap_err());
        assert!(text.starts_with("ssl.certificate.pem: "), "{text}");
        let text = property_of(private_key(&empty, false).unwrap_err());
        assert!(text.starts_with("ssl.key.pem: no PKCS#8"), "{text}");
    }
}
