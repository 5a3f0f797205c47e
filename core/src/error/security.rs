//! TLS failures by kind, each with the setting that fixes it.

use std::fmt;
use std::io;

use rustls::{AlertDescription, CertificateError};

/// Why TLS with a broker failed, in the terms of the property to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The broker's certificate is not signed by a trusted CA.
    UntrustedCertificate,
    /// The broker's certificate does not name the host that was dialled.
    HostnameMismatch,
    /// The broker's certificate has expired.
    CertificateExpired,
    /// The broker's certificate is not valid yet.
    CertificateNotYetValid,
    /// The broker rejected (or required and did not get) the client's
    /// certificate.
    ClientCertificateRejected,
    /// Any other handshake or record-layer failure.
    Handshake,
}

impl TlsFailure {
    /// Which property to change, said for people reading logs.
    pub fn hint(self) -> &'static str {
        match self {
            TlsFailure::UntrustedCertificate => {
                "set ssl.ca.location (or ssl.ca.pem) to the CA that signed the brokers' \
                 certificates"
            }
            TlsFailure::HostnameMismatch => {
                "connect with a host name the certificate lists, or set \
                 ssl.endpoint.identification.algorithm=none to skip the name check"
            }
            TlsFailure::CertificateExpired | TlsFailure::CertificateNotYetValid => {
                "the broker's certificate must be renewed (or the clock fixed); no client \
                 setting can accept it"
            }
            TlsFailure::ClientCertificateRejected => {
                "set ssl.certificate.location and ssl.key.location to a certificate the \
                 broker trusts (its ssl.client.auth asks for one)"
            }
            TlsFailure::Handshake => {
                "check that the listener speaks TLS (security.protocol SSL or SASL_SSL) and \
                 the ssl.* settings"
            }
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFailure::UntrustedCertificate => "the broker's certificate is not trusted",
            TlsFailure::HostnameMismatch => "the broker's certificate is for another host",
            TlsFailure::CertificateExpired => "the broker's certificate has expired",
            TlsFailure::CertificateNotYetValid => "the broker's certificate is not valid yet",
            TlsFailure::ClientCertificateRejected => "the broker rejected the client certificate",
            TlsFailure::Handshake => "the TLS handshake failed",
        })
    }
}

/// The TLS failure an I/O error carries, if it carries one.
pub(super) fn tls_failure(error: &io::Error) -> Option<(TlsFailure, String)> {
    let rustls_error = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    let failure = match rustls_error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnknownRevocationStatus => TlsFailure::UntrustedCertificate,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::HostnameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::CertificateExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::CertificateNotYetValid
            }
            _ => TlsFailure::Handshake,
        },
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied,
        ) => TlsFailure::ClientCertificateRejected,
        _ => TlsFailure::Handshake,
    };
    Some((failure, rustls_error.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn rustls_errors_inside_io_errors_become_tls_errors() {
        let io_error = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let error = Error::io("b:9093", io_error);
        assert!(
            matches!(
                &error,
                Error::Tls {
                    failure: TlsFailure::UntrustedCertificate,
                    ..
                }
            ),
            "{error}"
        );
        assert!(!error.is_retriable());
        assert!(error.is_auth_failure());
        assert!(error.to_string().contains("ssl.ca.location"), "{error}");
        let plain = Error::io("b:9093", io::Error::other("reset"));
        assert!(matches!(plain, Error::Connection { .. }));
    }
}
