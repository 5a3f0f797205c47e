//! Kafka-style `key=value` properties, consumed key by key.
//!
//! A [`PropertyParser`] holds the properties a user supplied. Each config
//! layer takes the keys it knows (a producer config first, then the
//! [`ClientConfig`](super::ClientConfig) it embeds) and [`PropertyParser::finish`]
//! reports whatever nobody took, so a misspelt key is an error instead of
//! being silently ignored.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Name, default and meaning of one configuration property, for docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropertyDoc {
    /// The Kafka property name, e.g. `request.timeout.ms`.
    pub name: &'static str,
    /// The default, as it would be written in a properties file (empty when required).
    pub default: &'static str,
    /// What the property controls.
    pub doc: &'static str,
}

/// Properties not yet consumed by any config layer.
#[derive(Clone, Debug, Default)]
pub struct PropertyParser {
    remaining: BTreeMap<String, String>,
}

impl PropertyParser {
    /// Collects properties; a key given twice is an error, since the two
    /// values may disagree and neither can be assumed to be the intended one.
    pub fn new<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut remaining = BTreeMap::new();
        for (key, value) in properties {
            let key = key.into().trim().to_owned();
            let value = value.into().trim().to_owned();
            if remaining.insert(key.clone(), value).is_some() {
                return Err(Error::config(key, "given more than once"));
            }
        }
        Ok(PropertyParser { remaining })
    }

    /// Removes and returns the raw value of `name`.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.remaining.remove(name)
    }

    /// Removes `name` and parses it with `FromStr`; a parse failure is an
    /// [`Error::Config`] naming the property and the expected form.
    pub fn take_parsed<T: FromStr>(&mut self, name: &str, expected: &str) -> Result<Option<T>> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) => raw
                .parse()
                .map(Some)
                .map_err(|_| Error::config(name, format!("`{raw}` is not {expected}"))),
        }
    }

    /// Removes a millisecond duration property (a non-negative integer).
    pub fn take_millis(&mut self, name: &str) -> Result<Option<Duration>> {
        Ok(self
            .take_parsed::<u64>(name, "a non-negative number of milliseconds")?
            .map(Duration::from_millis))
    }

    /// Removes a boolean property (`true` or `false`, any case).
    pub fn take_bool(&mut self, name: &str) -> Result<Option<bool>> {
        match self.take(name) {
            None => Ok(None),
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(Error::config(name, format!("`{raw}` is not true or false"))),
            },
        }
    }

    /// Removes a comma-separated list; empty items are dropped.
    pub fn take_list(&mut self, name: &str) -> Option<Vec<String>> {
        self.take(name).map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// Keys nobody has consumed yet.
    pub fn remaining(&self) -> impl Iterator<Item = (&str, &str)> {
        self.remaining
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Fails with [`Error::Config`] on the first property nobody consumed.
    pub fn finish(self) -> Result<()> {
        match self.remaining.into_keys().next() {
            None => Ok(()),
            Some(key) => Err(Error::config(
                key,
                "unknown property (misspelt, or not supported by durian)",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = PropertyParser::new([("a", "1"), ("a", "2")]).unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "a"));
    }

    #[test]
    fn unconsumed_keys_are_reported() {
        let mut parser = PropertyParser::new([("known", "1"), ("typo.key", "2")]).unwrap();
        assert_eq!(parser.take("known").as_deref(), Some("1"));
        let err = parser.finish().unwrap_err();
        assert!(matches!(err, Error::Config { property, .. } if property == "typo.key"));
    }

    #[test]
    fn typed_takers_name_the_property_on_failure() {
        let mut parser =
            PropertyParser::new([("t.ms", "-5"), ("flag", "yes"), ("list", "a, ,b")]).unwrap();
        let err = parser.take_millis("t.ms").unwrap_err();
        assert!(matches!(&err, Error::Config { property, .. } if property == "t.ms"));
        let err = parser.take_bool("flag").unwrap_err();
        assert!(matches!(&err, Error::Config { property, .. } if property == "flag"));
        assert_eq!(parser.take_list("list"), Some(vec!["a".into(), "b".into()]));
        parser.finish().unwrap();
    }
}
