//! What `durian produce` reports: a tally of acknowledged and failed
//! records, turned into the one summary line on stderr and, if anything
//! failed, the error naming the first failed line.

use std::io::Write;
use std::time::Duration;

use crate::CliError;

/// What became of the records.
#[derive(Debug, Default)]
pub struct Tally {
    /// Records acknowledged by the broker.
    pub acknowledged: u64,
    /// Records that failed (in `send`, in delivery, or too long).
    pub failed: u64,
    /// The first failure: input line number and reason.
    pub first_failure: Option<(u64, String)>,
}

impl Tally {
    /// Counts a failure of input line `line`.
    pub fn fail(&mut self, line: u64, reason: String) {
        self.failed += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some((line, reason));
        }
    }
}

/// Prints the summary line; an error if any record failed.
pub fn report(
    topic: &str,
    tally: &Tally,
    read: u64,
    elapsed: Duration,
    stopped: Option<String>,
) -> Result<(), CliError> {
    let seconds = elapsed.as_secs_f64();
    let summary = if tally.failed == 0 && stopped.is_none() {
        format!("produced {read} records to `{topic}` in {seconds:.2} s")
    } else {
        format!(
            "produced {} of {read} records read to `{topic}` in {seconds:.2} s; {} failed",
            tally.acknowledged, tally.failed
        )
    };
    let _ = writeln!(std::io::stderr(), "{summary}");
    if let Some(reason) = stopped {
        return Err(CliError::new(format!(
            "stopped reading after line {read}: {reason}"
        )));
    }
    match &tally.first_failure {
        None => Ok(()),
        Some((line, reason)) => Err(CliError::new(format!(
            "line {line} was not written: {reason}{}",
            if tally.failed > 1 {
                format!(" (and {} more failed)", tally.failed - 1)
            } else {
                String::new()
            }
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_failure_is_reported_with_the_count() {
        let mut tally = Tally::default();
        tally.fail(3, "too big".into());
        tally.fail(9, "later".into());
        let error = report("t", &tally, 10, Duration::from_millis(5), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 3 was not written: too big (and 1 more failed)"
        );
        assert!(report("t", &Tally::default(), 10, Duration::ZERO, None).is_ok());
    }
}
