//! The subject of an X.509 certificate as an RFC 2253 string
//! (`CN=alice,O=Example,C=US`), the form Kafka's default principal
//! builder gives an SSL client (`X500Principal.getName()`).
//!
//! Only the DER needed to reach the subject is walked: Certificate →
//! TBSCertificate → (version, serial, signature, issuer, validity,
//! subject). Anything unexpected is an error, never a panic.

/// A certificate whose subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the certificate subject: {0}")]
pub struct DnError(&'static str);

/// One DER element: its tag and contents; `rest` follows it.
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    rest: &'a [u8],
}

fn element(input: &[u8]) -> Result<Element<'_>, DnError> {
    let (&tag, after_tag) = input.split_first().ok_or(DnError("truncated"))?;
    let (&first, mut after_len) = after_tag.split_first().ok_or(DnError("truncated"))?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || after_len.len() < octets {
            return Err(DnError("bad length"));
        }
        let mut length = 0usize;
        for &b in &after_len[..octets] {
            length = (length << 8) | usize::from(b);
        }
        after_len = &after_len[octets..];
        length
    };
    if after_len.len() < length {
        return Err(DnError("truncated"));
    }
    Ok(Element {
        tag,
        content: &after_len[..length],
        rest: &after_len[length..],
    })
}

fn expect(input: &[u8], tag: u8) -> Result<Element<'_>, DnError> {
    let e = element(input)?;
    if e.tag != tag {
        return Err(DnError("unexpected element"));
    }
    Ok(e)
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The subject of the DER certificate `der`, RFC 2253 formatted.
pub fn subject_dn(der: &[u8]) -> Result<String, DnError> {
    let certificate = expect(der, SEQUENCE)?;
    let tbs = expect(certificate.content, SEQUENCE)?;
    let mut fields = tbs.content;
    // [0] EXPLICIT version is optional.
    if fields.first() == Some(&0xa0) {
        fields = element(fields)?.rest;
    }
    for _ in 0..4 {
        // serial, signature, issuer, validity
        fields = element(fields)?.rest;
    }
    let subject = expect(fields, SEQUENCE)?;
    format_name(subject.content)
}

/// RDNs are printed last first, as RFC 2253 asks; the attributes of a
/// multi-valued RDN are joined with `+`.
fn format_name(mut rdns: &[u8]) -> Result<String, DnError> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let set = expect(rdns, SET)?;
        rdns = set.rest;
        let mut attributes = Vec::new();
        let mut items = set.content;
        while !items.is_empty() {
            let pair = expect(items, SEQUENCE)?;
            items = pair.rest;
            let oid = expect(pair.content, OID)?;
            let value = element(oid.rest)?;
            attributes.push(format_attribute(oid.content, value.tag, value.content));
        }
        parts.push(attributes.join("+"));
    }
    parts.reverse();
    Ok(parts.join(","))
}

fn format_attribute(oid: &[u8], tag: u8, value: &[u8]) -> String {
    let keyword = match oid {
        [0x55, 0x04, 0x03] => Some("CN"),
        [0x55, 0x04, 0x06] => Some("C"),
        [0x55, 0x04, 0x07] => Some("L"),
        [0x55, 0x04, 0x08] => Some("ST"),
        [0x55, 0x04, 0x09] => Some("STREET"),
        [0x55, 0x04, 0x0a] => Some("O"),
        [0x55, 0x04, 0x0b] => Some("OU"),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => Some("DC"),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => Some("UID"),
        _ => None,
    };
    // String types: UTF8String, PrintableString, IA5String, TeletexString.
    let text = match tag {
        0x0c | 0x13 | 0x16 | 0x14 => std::str::from_utf8(value).ok(),
        _ => None,
    };
    match (keyword, text) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape(text)),
        (keyword, _) => {
            // Unknown attribute types (or non-string values) print as the
            // dotted OID and the hex of the whole DER value, as RFC 2253 says.
            let name = keyword.map_or_else(|| dotted(oid), str::to_string);
            let mut hex = format!("#{tag:02x}");
            let mut length = Vec::new();
            encode_length(value.len(), &mut length);
            for b in length.iter().chain(value) {
                hex.push_str(&format!("{b:02x}"));
            }
            format!("{name}={hex}")
        }
    }
}

fn encode_length(length: usize, out: &mut Vec<u8>) {
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value = 0u64;
    for (i, &b) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() && i < oid.len() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// RFC 2253 escaping: `,+"\<>;` anywhere, `#` or a space at the start,
/// a space at the end.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CountryName, "US");
        name.push(rcgen::DnType::OrganizationName, "Example, Inc");
        name.push(rcgen::DnType::CommonName, "alice");
        params.distinguished_name = name;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_dn(cert.der()).unwrap(),
            "CN=alice,O=Example\\, Inc,C=US"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x02, 0x30, 0x05],
        ] {
            assert!(subject_dn(bytes).is_err());
        }
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
    }
}
