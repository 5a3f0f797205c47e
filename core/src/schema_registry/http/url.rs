//! The registry's base URL, split once at construction, and the paths of
//! the REST calls built on it.

use super::super::SchemaRegistryError;

/// `http://` or `https://`, host, port and an optional path prefix (a
/// registry behind a reverse proxy at `https://host/registry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BaseUrl {
    /// Whether calls go over TLS.
    pub tls: bool,
    /// The host as written (a DNS name, an IPv4 address or a bracketed IPv6 one).
    pub host: String,
    /// The port (default 80 for http, 443 for https).
    pub port: u16,
    /// The path prefix without its trailing `/` (empty for none).
    pub prefix: String,
}

impl BaseUrl {
    /// Parses `http[s]://host[:port][/prefix]`; user info, queries and
    /// fragments are refused (credentials go to `basic_auth`).
    pub fn parse(url: &str) -> Result<BaseUrl, SchemaRegistryError> {
        let invalid =
            |why: &str| SchemaRegistryError::Config(format!("registry URL `{url}`: {why}"));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid("must start with http:// or https://"));
        };
        if rest
            .chars()
            .any(|c| c.is_ascii_control() || c.is_whitespace())
        {
            // They would end up raw in the request line and the Host header.
            return Err(invalid("no spaces or control characters"));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(invalid(
                "no user info, query or fragment (use basic_auth for credentials)",
            ));
        }
        let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let (host, port) = split_port(authority).ok_or_else(|| invalid("bad port"))?;
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let prefix = prefix.trim_end_matches('/');
        Ok(BaseUrl {
            tls,
            host: host.to_string(),
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            },
        })
    }

    /// `host:port`, as TCP and the TLS server name want it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        if self.port == if self.tls { 443 } else { 80 } {
            self.host.clone()
        } else {
            self.address()
        }
    }

    /// The request target of `segments` under the prefix, each segment
    /// percent-encoded (subjects may hold any character).
    pub fn path(&self, segments: &[&str]) -> String {
        let mut path = self.prefix.clone();
        for segment in segments {
            path.push('/');
            encode_segment(segment, &mut path);
        }
        path
    }
}

/// Splits `host[:port]`, brackets kept on an IPv6 host; `None` when the
/// port is not a number.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_start = if authority.starts_with('[') {
        authority.find(']').map(|end| end + 1)?
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, port) = authority.split_at(port_start);
    match port.strip_prefix(':') {
        None if port.is_empty() => Some((host, None)),
        None => None,
        Some(port) => port.parse().ok().map(|p| (host, Some(p))),
    }
}

/// Appends `segment` with everything but RFC 3986's unreserved characters
/// percent-encoded.
fn encode_segment(segment: &str, out: &mut String) {
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_host_port_and_prefix() {
        let plain = BaseUrl::parse("http://registry:8081").unwrap();
        assert_eq!(
            (plain.tls, plain.address(), plain.prefix.as_str()),
            (false, "registry:8081".to_string(), "")
        );
        assert_eq!(plain.host_header(), "registry:8081");
        let proxied = BaseUrl::parse("https://example.com/sr/").unwrap();
        assert_eq!(
            (proxied.tls, proxied.address(), proxied.prefix.as_str()),
            (true, "example.com:443".to_string(), "/sr")
        );
        assert_eq!(proxied.host_header(), "example.com");
        assert_eq!(
            BaseUrl::parse("http://[::1]:9").unwrap().address(),
            "[::1]:9"
        );
        for bad in [
            "registry:8081",
            "ftp://x",
            "http://",
            "http://x:port",
            "http://u:p@x",
            "http://x/?q",
            "http://r:8081/p x\r\nX-Evil: 1",
            "http://r\n:8081",
        ] {
            assert!(
                matches!(BaseUrl::parse(bad), Err(SchemaRegistryError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        let url = BaseUrl::parse("http://r/base").unwrap();
        assert_eq!(
            url.path(&["subjects", "my topic/value", "versions"]),
            "/base/subjects/my%20topic%2Fvalue/versions"
        );
        assert_eq!(url.path(&["schemas", "ids", "7"]), "/base/schemas/ids/7");
    }
}
