//! `durian doctor`: checks the way to a cluster one step at a time and
//! says, for the first thing that is wrong, what to do about it.
//!
//! For every bootstrap address: resolve the name, open TCP, the TLS
//! handshake (when `security.protocol` asks for it), ApiVersions (does the
//! broker speak what durian needs) and SASL (when configured); then, from
//! the first address that got that far, Metadata, and whether every broker
//! it advertises can be reached from here, the usual reason a cluster
//! whose bootstrap address works still fails. `--write-test TOPIC` ends
//! with a produce and consume round trip. Each step is printed as it runs;
//! a step that needs an earlier one is skipped once that one failed.
//!
//! The steps use durian-core's own connection code (TCP, TLS, ApiVersions,
//! SASL, requests), so what they see is what every durian client sees.

mod steps;
mod write_test;

use std::time::Duration;

use clap::Args;
use durian::core::config::PropertyParser;
use durian::core::security::SecurityContext;
use durian::core::ClientConfig;

use crate::perf::parse_duration;
use crate::table::print_stdout;
use crate::{CliError, GlobalOpts};

/// Options of `durian doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also produce one record to TOPIC (which must exist) and read it back.
    #[arg(long = "write-test", value_name = "TOPIC")]
    pub write_test: Option<String>,
    /// How long each network step may take, e.g. `5s`, `500ms`.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Prints the outcome of each step as it comes and counts the failures.
#[derive(Debug, Default)]
pub struct Checks {
    ran: usize,
    failed: usize,
}

impl Checks {
    /// A step that passed.
    pub fn ok(&mut self, step: &str, detail: &str) -> Result<(), CliError> {
        self.ran += 1;
        print_stdout(&format!("[ ok ] {step}: {detail}\n"))
    }

    /// A step that failed, with what to do.
    pub fn fail(&mut self, step: &str, detail: &str, hint: &str) -> Result<(), CliError> {
        self.ran += 1;
        self.failed += 1;
        print_stdout(&format!("[FAIL] {step}: {detail}\n       hint: {hint}\n"))
    }

    /// A step that could not run because an earlier one failed.
    pub fn skip(&mut self, step: &str, reason: &str) -> Result<(), CliError> {
        print_stdout(&format!("[skip] {step}: {reason}\n"))
    }

    /// Whether every step that ran passed.
    pub fn all_ok(&self) -> bool {
        self.failed == 0
    }
}

/// Runs `durian doctor`; fails (exit 1) when any step failed.
pub async fn run(args: DoctorArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let mut checks = Checks::default();
    let properties = global.client_properties(&[]);
    let Some((config, security)) = settings(&mut checks, properties.clone())? else {
        return finish(&checks);
    };
    let timeout = args.timeout;
    let mut first_ready = None;
    for address in &config.bootstrap_servers {
        let ready = steps::bootstrap(&mut checks, &config, &security, address, timeout).await?;
        if first_ready.is_none() {
            first_ready = ready;
        }
    }
    match first_ready {
        Some(connection) => {
            let brokers = steps::metadata(&mut checks, &connection, timeout).await?;
            connection.close();
            if let Some(brokers) = brokers {
                steps::advertised(&mut checks, &config, &security, &brokers, timeout).await?;
            }
        }
        None => checks.skip("metadata", "no bootstrap broker could be reached")?,
    }
    if let Some(topic) = &args.write_test {
        if checks.all_ok() {
            write_test::run(&mut checks, properties, topic, timeout).await?;
        } else {
            checks.skip("write test", "an earlier step failed")?;
        }
    }
    finish(&checks)
}

/// The client settings doctor needs, from `-b`, `-F` and `-X`; keys of the
/// producer or consumer (say from a shared `-F` file) are ignored here.
fn settings(
    checks: &mut Checks,
    properties: Vec<(String, String)>,
) -> Result<Option<(ClientConfig, SecurityContext)>, CliError> {
    let step = "client settings";
    let config = PropertyParser::new(properties)
        .and_then(|mut parser| ClientConfig::take_from(&mut parser))
        .and_then(|config| config.validate().map(|()| config));
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            checks.fail(
                step,
                &e.to_string(),
                "fix the property it names in -F or -X (docs/CONFIG.md)",
            )?;
            return Ok(None);
        }
    };
    match SecurityContext::new(&config.security) {
        Ok(security) => {
            let detail = format!(
                "bootstrap {}, security.protocol {}",
                config.bootstrap_servers.join(","),
                security.protocol().name()
            );
            checks.ok(step, &detail)?;
            Ok(Some((config, security)))
        }
        Err(e) => {
            checks.fail(
                step,
                &e.to_string(),
                "the ssl.* files must exist, be readable and hold PEM certificates and keys",
            )?;
            Ok(None)
        }
    }
}

fn finish(checks: &Checks) -> Result<(), CliError> {
    if checks.all_ok() {
        print_stdout(&format!("all {} checks passed\n", checks.ran))
    } else {
        Err(CliError::new(format!(
            "{} of {} checks failed (see the hints above)",
            checks.failed, checks.ran
        )))
    }
}
