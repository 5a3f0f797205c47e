//! Named listeners, as Kafka configures them: `listeners`,
//! `advertised.listeners` and `listener.security.protocol.map`.
//!
//! ```text
//!  listeners=PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9094
//!  advertised.listeners=SASL_SSL://kafka.example.com:9094
//!  listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT   (extra names)
//! ```
//!
//! A listener name is its protocol unless the map says otherwise, as in
//! Kafka. Metadata tells each client the advertised address of the
//! listener it connected on.

use std::fmt;
use std::str::FromStr;

/// How a listener secures its connections (Kafka's `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// No TLS, no authentication.
    Plaintext,
    /// TLS; authenticated only with client certificates.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The protocol's Kafka name (`SASL_SSL`).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections run over TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = ListenerError;

    fn from_str(text: &str) -> Result<Self, ListenerError> {
        match text.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(ListenerError(format!(
                "unknown security protocol `{text}` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)"
            ))),
        }
    }
}

/// One listener: a name, its protocol, where it binds and what it tells clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// The listener name (`SASL_SSL`, `INTERNAL`); upper case.
    pub name: String,
    /// Its security protocol.
    pub protocol: SecurityProtocol,
    /// `host:port` to bind (port 0 picks a free one).
    pub bind: String,
    /// `host:port` announced to clients of this listener; `None`
    /// announces the bound address.
    pub advertised: Option<String>,
}

impl ListenerConfig {
    /// A listener named after `protocol`, bound to `bind`.
    pub fn new(protocol: SecurityProtocol, bind: impl Into<String>) -> Self {
        ListenerConfig {
            name: protocol.name().to_string(),
            protocol,
            bind: bind.into(),
            advertised: None,
        }
    }
}

/// A bound listener as requests see it: its name, protocol and the
/// address it advertises (what Metadata tells its clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// The listener name.
    pub name: String,
    /// Its security protocol.
    pub protocol: SecurityProtocol,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// A listener setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ListenerError(pub String);

/// Parses `NAME://host:port` entries, comma-separated (an empty host
/// binds every interface, as in Kafka).
fn parse_entries(text: &str, setting: &str) -> Result<Vec<(String, String)>, ListenerError> {
    let mut out = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, address) = entry.split_once("://").ok_or_else(|| {
            ListenerError(format!(
                "{setting}: `{entry}` is not NAME://host:port (e.g. PLAINTEXT://127.0.0.1:9092)"
            ))
        })?;
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty() || out.iter().any(|(n, _)| *n == name) {
            return Err(ListenerError(format!(
                "{setting}: listener name `{name}` is empty or repeated"
            )));
        }
        let address = if address.starts_with(':') {
            format!("0.0.0.0{address}")
        } else {
            address.to_string()
        };
        if crate::config::split_host_port(&address).is_none() {
            return Err(ListenerError(format!(
                "{setting}: `{address}` of {name} is not host:port"
            )));
        }
        out.push((name, address));
    }
    Ok(out)
}

/// Parses `listener.security.protocol.map` (`NAME:PROTOCOL,...`).
pub fn parse_protocol_map(text: &str) -> Result<Vec<(String, SecurityProtocol)>, ListenerError> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (name, protocol) = entry.split_once(':').ok_or_else(|| {
                ListenerError(format!(
                    "listener.security.protocol.map: `{entry}` is not NAME:PROTOCOL"
                ))
            })?;
            Ok((name.trim().to_ascii_uppercase(), protocol.trim().parse()?))
        })
        .collect()
}

/// Builds the listeners from Kafka's three settings. A name missing from
/// the map must itself be a protocol name; every advertised name must be
/// a listener.
pub fn parse_listeners(
    listeners: &str,
    advertised: Option<&str>,
    protocol_map: Option<&str>,
) -> Result<Vec<ListenerConfig>, ListenerError> {
    let map = parse_protocol_map(protocol_map.unwrap_or(""))?;
    let mut out = Vec::new();
    for (name, bind) in parse_entries(listeners, "listeners")? {
        let protocol = match map.iter().find(|(n, _)| *n == name) {
            Some((_, protocol)) => *protocol,
            None => name.parse().map_err(|_| {
                ListenerError(format!(
                    "listener `{name}` is not a security protocol and \
                     listener.security.protocol.map does not name it"
                ))
            })?,
        };
        out.push(ListenerConfig {
            name,
            protocol,
            bind,
            advertised: None,
        });
    }
    if out.is_empty() {
        return Err(ListenerError("listeners: no listener given".to_string()));
    }
    for (name, address) in parse_entries(advertised.unwrap_or(""), "advertised.listeners")? {
        let listener = out.iter_mut().find(|l| l.name == name).ok_or_else(|| {
            ListenerError(format!(
                "advertised.listeners names `{name}`, which is not in listeners"
            ))
        })?;
        listener.advertised = Some(address);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_listener_settings() {
        let listeners = parse_listeners(
            "PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9094, internal://:9095",
            Some("SASL_SSL://kafka.example.com:19094"),
            Some("INTERNAL:SASL_PLAINTEXT"),
        )
        .unwrap();
        assert_eq!(listeners.len(), 3);
        assert_eq!(listeners[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(listeners[1].protocol, SecurityProtocol::SaslSsl);
        assert_eq!(
            listeners[1].advertised.as_deref(),
            Some("kafka.example.com:19094")
        );
        assert_eq!(listeners[2].name, "INTERNAL");
        assert_eq!(listeners[2].protocol, SecurityProtocol::SaslPlaintext);
        assert_eq!(listeners[2].bind, "0.0.0.0:9095");
    }

    #[test]
    fn refuses_unusable_listener_settings() {
        for (listeners, advertised, map) in [
            ("CUSTOM://127.0.0.1:1", None, None),
            ("PLAINTEXT://127.0.0.1", None, None),
            ("PLAINTEXT://a:1,PLAINTEXT://b:2", None, None),
            ("PLAINTEXT://a:1", Some("SSL://b:2"), None),
            ("X://a:1", None, Some("X:TLS")),
            ("", None, None),
        ] {
            assert!(
                parse_listeners(listeners, advertised, map).is_err(),
                "{listeners} {advertised:?} {map:?}"
            );
        }
    }
}
