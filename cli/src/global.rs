//! Options every subcommand shares: where the brokers are (`-b`, else
//! `DURIAN_BROKERS`, else `bootstrap.servers` from `-F`, else
//! `127.0.0.1:9092`), a Kafka client properties file (`-F FILE` /
//! `--command-config FILE`:
//! security settings and the like) and any client property
//! (`-X key=value`, repeated), turned into the property list the
//! producer, consumer and admin builders take; and the output format
//! (`-o`/`--output table|json`); `--no-progress` (`--quiet`) turns the
//! progress bars off.

use clap::Args;

use crate::config_file::{self, PropertiesFile};
use crate::table::OutputFormat;

/// Where the brokers are when neither `-b`, `DURIAN_BROKERS` nor the
/// `-F` file says.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

/// The global options.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Bootstrap brokers, `HOST:PORT[,HOST:PORT...]` [default: the
    /// -F file's bootstrap.servers, else 127.0.0.1:9092].
    #[arg(short = 'b', long = "brokers", env = "DURIAN_BROKERS", global = true)]
    pub brokers: Option<String>,
    /// A client properties file (Kafka's `client.properties` format), e.g.
    /// security.protocol, ssl.* and sasl.* settings; `-X` overrides it.
    /// (`--command-config` as Kafka's tools call it, `-F` as kcat does;
    /// not `--config`, which `topic create` uses for topic configs.)
    #[arg(
        short = 'F',
        long = "command-config",
        value_name = "FILE",
        value_parser = config_file::load,
        global = true
    )]
    pub config: Option<PropertiesFile>,
    /// A client property, `key=value` (repeatable), e.g. `-X linger.ms=10`;
    /// passed to the producer, consumer or admin client the command uses.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property, global = true)]
    pub properties: Vec<(String, String)>,
    /// How to print results: `table` (aligned text) or `json` (one JSON
    /// document); goes anywhere on the command line.
    #[arg(long = "output", value_enum, value_name = "FORMAT", global = true)]
    pub output: Option<OutputFormat>,
    /// Short for `--output`, before the subcommand only (`durian -o json
    /// topic list`): after it, `-o` is `acl`'s `--operation`.
    #[arg(short = 'o', value_enum, value_name = "FORMAT")]
    pub output_short: Option<OutputFormat>,
    /// Draw no progress bars (they appear only on a terminal anyway);
    /// goes anywhere on the command line.
    #[arg(long = "no-progress", visible_alias = "quiet", global = true)]
    pub no_progress: bool,
}

impl GlobalOpts {
    /// The output format `--output` or `-o` chose (`--output` wins), else
    /// [`OutputFormat::Table`].
    pub fn output_format(&self) -> OutputFormat {
        self.output.or(self.output_short).unwrap_or_default()
    }

    /// The properties for a client: `bootstrap.servers` (see the module
    /// docs), then the command's own `defaults`, then the `-F` file,
    /// then every `-X` (last one wins, so the user can override anything
    /// the command picked).
    pub fn client_properties(&self, defaults: &[(&str, String)]) -> Vec<(String, String)> {
        let file = self.config.as_ref().map(|f| f.0.as_slice()).unwrap_or(&[]);
        // An explicit -b (or DURIAN_BROKERS) beats the file; the built-in
        // default does not.
        let from_file = file.iter().rev().find(|(k, _)| k == "bootstrap.servers");
        let brokers = match (&self.brokers, from_file) {
            (Some(brokers), _) => brokers.clone(),
            (None, Some((_, brokers))) => brokers.clone(),
            (None, None) => DEFAULT_BROKERS.to_owned(),
        };
        let mut merged: Vec<(String, String)> = vec![("bootstrap.servers".to_owned(), brokers)];
        let pairs = defaults
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .chain(
                file.iter()
                    .filter(|(k, _)| k != "bootstrap.servers")
                    .cloned(),
            )
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
            brokers: Some("a:1".into()),
            config: None,
            output: None,
            output_short: None,
            no_progress: false,
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
    fn config_file_sits_between_defaults_and_x_and_may_name_the_brokers() {
        let file = config_file::parse(
            "bootstrap.servers=f:9\nsecurity.protocol=SSL\nacks=0\nlinger.ms=7\n",
        )
        .expect("parses");
        let mut opts = GlobalOpts {
            brokers: None,
            config: Some(file),
            output: None,
            output_short: None,
            no_progress: false,
            properties: vec![("linger.ms".into(), "1".into())],
        };
        let merged = opts.client_properties(&[("acks", "all".into())]);
        assert_eq!(
            merged,
            vec![
                ("bootstrap.servers".to_owned(), "f:9".to_owned()),
                ("acks".to_owned(), "0".to_owned()),
                ("security.protocol".to_owned(), "SSL".to_owned()),
                ("linger.ms".to_owned(), "1".to_owned()),
            ]
        );
        opts.brokers = Some("b:1".into());
        assert_eq!(opts.client_properties(&[])[0].1, "b:1", "-b beats the file");
        opts.config = None;
        opts.brokers = None;
        assert_eq!(opts.client_properties(&[])[0].1, DEFAULT_BROKERS);
    }

    /// Global flags reach every subcommand, so their names must not clash
    /// with any subcommand's own (clap checks that when it builds them).
    #[test]
    fn global_flags_clash_with_no_subcommand_flag() {
        use clap::CommandFactory;
        crate::Cli::command().debug_assert();
    }

    #[test]
    fn output_is_json_with_either_spelling_and_acl_keeps_its_o() {
        use clap::Parser;
        let parse = |args: &[&str]| crate::Cli::try_parse_from(args).expect("parses");
        let cli = parse(&["durian", "-o", "json", "topic", "list"]);
        assert_eq!(cli.global.output_format(), OutputFormat::Json);
        let cli = parse(&["durian", "topic", "list", "--output", "json"]);
        assert_eq!(cli.global.output_format(), OutputFormat::Json);
        let cli = parse(&["durian", "topic", "list"]);
        assert_eq!(cli.global.output_format(), OutputFormat::Table);
        let cli = parse(&[
            "durian",
            "acl",
            "add",
            "--topic",
            "t",
            "--principal",
            "User:a",
            "-o",
            "read",
        ]);
        assert_eq!(cli.global.output_format(), OutputFormat::Table);
    }

    #[test]
    fn no_progress_and_quiet_turn_bars_off_anywhere_on_the_line() {
        use clap::Parser;
        let parse = |args: &[&str]| crate::Cli::try_parse_from(args).expect("parses");
        assert!(!parse(&["durian", "consume", "t"]).global.no_progress);
        assert!(
            parse(&["durian", "--no-progress", "consume", "t"])
                .global
                .no_progress
        );
        assert!(
            parse(&["durian", "perf", "consume", "t", "--num", "1", "--quiet"])
                .global
                .no_progress
        );
    }

    #[test]
    fn property_parsing_rejects_missing_equals_and_empty_keys() {
        assert_eq!(parse_property("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_property("novalue").is_err());
        assert!(parse_property("=x").is_err());
    }
}
