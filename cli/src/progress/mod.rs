//! Progress bars on stderr (indicatif) for the long-running commands:
//! `produce -f`, `consume -n`, `perf`, `ship` and `group seek`.
//!
//! A bar is drawn only when stderr is a terminal and neither
//! `--no-progress` nor `--quiet` was given ([`should_show`]); everywhere
//! else (a pipe, a test, a CI log) the commands get a hidden bar, whose
//! updates cost an atomic add and draw nothing, so they need no branch of
//! their own. Redraws are limited to [`REFRESH_HZ`] a second by the draw
//! target, so bumping a bar once per record stays cheap. The choice is
//! made once per process ([`set_disabled`], from the global flag), the way
//! the output format is (`table::set_format`).

use std::io::IsTerminal;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};

/// How many times a second a bar may be redrawn at most.
pub const REFRESH_HZ: u8 = 4;

/// Whether `--no-progress`/`--quiet` was given; unset means not.
static DISABLED: OnceLock<bool> = OnceLock::new();

/// Records the `--no-progress`/`--quiet` flag for this process.
pub fn set_disabled(disabled: bool) {
    // A second call (a test running two commands in one process) keeps the
    // first choice, as `table::set_format` does.
    let _ = DISABLED.set(disabled);
}

/// The decision itself: a bar only when not turned off and stderr is a
/// terminal, so pipes, tests and CI logs never get escape codes.
pub fn should_show(disabled: bool, stderr_is_terminal: bool) -> bool {
    !disabled && stderr_is_terminal
}

/// Whether this process draws progress bars (see [`should_show`]).
pub fn enabled() -> bool {
    should_show(disabled(), std::io::stderr().is_terminal())
}

/// Whether `--no-progress`/`--quiet` was given in this process.
pub fn disabled() -> bool {
    DISABLED.get().copied().unwrap_or(false)
}

/// A bar towards `total`, drawn with `style` when [`enabled`], else hidden.
pub fn bar(total: u64, style: ProgressStyle) -> ProgressBar {
    build(Some(total), style)
}

/// A spinner (no known total) drawn with `style` when [`enabled`], else
/// hidden. It keeps turning on its own between updates.
pub fn spinner(style: ProgressStyle) -> ProgressBar {
    let spinner = build(None, style);
    if !spinner.is_hidden() {
        spinner.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    spinner
}

/// The style of `template`; a template indicatif rejects (a bug of ours,
/// not the user's) falls back to its default bar rather than failing the
/// command.
/// Every style also knows `{rate}`: the position per second as a whole
/// number (indicatif's own `{per_sec}` prints four decimals).
pub fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                // Nowhere to report a failed write into the bar's buffer.
                let _ = write!(out, "{:.0}/s", state.per_sec());
            },
        )
}

fn build(total: Option<u64>, style: ProgressStyle) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(REFRESH_HZ))
        .with_style(style)
        // Dropped on an error path too: the bar must not stay under the
        // error message.
        .with_finish(ProgressFinish::AndClear)
}

/// `produce -f`: bytes of the file read, with records/s (`{records}`,
/// a key the command adds). The templates are gathered here so one test
/// checks that they all parse.
pub const PRODUCE_TEMPLATE: &str =
    "{spinner} {bytes}/{total_bytes} [{wide_bar}] {percent}% {records} ({elapsed})";
/// `consume -n`: records of N.
pub const CONSUME_TEMPLATE: &str = "{spinner} {pos}/{len} records [{wide_bar}] {rate} ({elapsed})";
/// `perf`: records of `--num` with MB/s.
pub const PERF_TEMPLATE: &str = "{msg} {pos}/{len} records [{wide_bar}] {rates} ({elapsed})";
/// `ship`: records shipped and the current file offset, no total.
pub const SHIP_TEMPLATE: &str = "{spinner} {msg} ({elapsed})";
/// `group seek`: partitions done of total.
pub const SEEK_TEMPLATE: &str = "{spinner} {pos}/{len} partitions [{wide_bar}] ({elapsed})";

/// Every template above.
pub const TEMPLATES: [&str; 5] = [
    PRODUCE_TEMPLATE,
    CONSUME_TEMPLATE,
    PERF_TEMPLATE,
    SHIP_TEMPLATE,
    SEEK_TEMPLATE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_on_a_terminal_and_only_when_not_turned_off() {
        assert!(should_show(false, true));
        assert!(!should_show(false, false), "never in a pipe");
        assert!(!should_show(true, true), "--no-progress wins on a terminal");
        assert!(!should_show(true, false));
    }

    #[test]
    fn every_template_of_the_commands_parses() {
        for template in crate::progress::TEMPLATES {
            assert!(
                ProgressStyle::with_template(template).is_ok(),
                "{template:?} does not parse"
            );
        }
    }
}
