//! The credentials in a Java client's `sasl.jaas.config`, so property
//! files written for the Java client work unchanged, e.g.
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
//! ```
//!
//! Only the options durian uses are read: `username` and `password`
//! (PLAIN and SCRAM login modules) and `unsecuredLoginStringClaim_sub`
//! (the OAUTHBEARER module's unsecured token). The login module class is
//! not loaded or checked: the mechanism comes from `sasl.mechanism`.

use crate::error::{Error, Result};

/// What a `sasl.jaas.config` value provides.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JaasLogin {
    /// `username="…"`.
    pub username: Option<String>,
    /// `password="…"`.
    pub password: Option<String>,
    /// `unsecuredLoginStringClaim_sub="…"`, as a `sasl.oauthbearer.config`.
    pub oauthbearer_config: Option<String>,
}

/// Parses `<LoginModule class> <flag> key="value" … ;`.
pub fn parse(raw: &str) -> Result<JaasLogin> {
    let invalid = |why: &str| Error::config("sasl.jaas.config", why.to_owned());
    let body = raw.trim().trim_end_matches(';');
    let mut words = body.splitn(3, char::is_whitespace);
    let _module = words
        .next()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("empty"))?;
    let _flag = words
        .next()
        .ok_or_else(|| invalid("needs `<LoginModule> required key=\"value\" …;`"))?;
    let mut options = words.next().unwrap_or_default().trim();
    let mut login = JaasLogin::default();
    while !options.is_empty() {
        let (key, rest) = options
            .split_once('=')
            .ok_or_else(|| invalid("an option is not key=\"value\""))?;
        let rest = rest.trim_start();
        let (value, rest) = match rest.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| invalid("a quoted value has no closing quote"))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
        };
        match key.trim() {
            "username" => login.username = Some(value.to_owned()),
            "password" => login.password = Some(value.to_owned()),
            "unsecuredLoginStringClaim_sub" => {
                login.oauthbearer_config = Some(format!("principal={value}"));
            }
            _ => {}
        }
        options = rest.trim();
    }
    Ok(login)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_login_module() {
        let login = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="KEY" password="S3 cr=t";"#,
        )
        .unwrap();
        assert_eq!(login.username.as_deref(), Some("KEY"));
        assert_eq!(login.password.as_deref(), Some("S3 cr=t"));
    }

    #[test]
    fn oauthbearer_login_module() {
        let login = parse(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=\"admin\";",
        )
        .unwrap();
        assert_eq!(login.oauthbearer_config.as_deref(), Some("principal=admin"));
        assert!(parse("").is_err());
        assert!(parse("M required username=\"open").is_err());
    }
}
