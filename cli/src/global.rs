//! Options every subcommand shares: where the brokers are (`-b`, else
//! `DURIAN_BROKERS`, else `127.0.0.1:9092`) and any client property
//! (`-X key=value`, repeated), turned into the property list the
//! producer, consumer and admin builders take.

use clap::Args;

/// The global options.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Bootstrap brokers, `HOST:PORT[,HOST:PORT...]`.
    #[arg(
        short = 'b',
        long = "brokers",
        env = "DURIAN_BROKERS",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub brokers: String,
    /// A client property, `key=value` (repeatable), e.g. `-X linger.ms=10`;
    /// passed to the producer, consumer or admin client the command uses.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property, global = true)]
    pub properties: Vec<(String, String)>,
}

impl GlobalOpts {
    /// The properties for a client: `bootstrap.servers` from `-b`, then
    /// the command's own `defaults`, then every `-X` (last one wins, so
    /// the user can override anything the command picked).
    pub fn client_properties(&self, defaults: &[(&str, String)]) -> Vec<(String, String)> {
        let mut merged: Vec<(String, String)> =
            vec![("bootstrap.servers".to_owned(), self.brokers.clone())];
        let pairs = defaults
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .chain(self.properties.iter().cloned());
        for (key, value) in pairs {
            match merged.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => merged.push((key, value)),
            }
        }
        merged
    }
}

/// Parses `key=value`; the value may itself contain `=`.
pub fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_properties_override_earlier_ones() {
        let opts = GlobalOpts {
            brokers: "a:1".into(),
            properties: vec![
                ("acks".into(), "1".into()),
                ("bootstrap.servers".into(), "b:2".into()),
            ],
        };
        let merged = opts.client_properties(&[("acks", "all".into()), ("linger.ms", "5".into())]);
        assert_eq!(
            merged,
            vec![
                ("bootstrap.servers".to_owned(), "b:2".to_owned()),
                ("acks".to_owned(), "1".to_owned()),
                ("linger.ms".to_owned(), "5".to_owned()),
            ]
        );
    }

    #[test]
    fn property_parsing_rejects_missing_equals_and_empty_keys() {
        assert_eq!(parse_property("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_property("novalue").is_err());
        assert!(parse_property("=x").is_err());
    }
}
