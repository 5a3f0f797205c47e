//! `durian produce` and `durian consume` as processes against the
//! embedded broker: round trips with keys, headers, tabs and unicode,
//! every --format placeholder, start positions, exit rules, a closed
//! stdout, records printed as a live topic receives them, and the errors
//! a user meets first. The round trip is the
//! scenario of tests/cli_scenarios/mod.rs, which tests/kafka_cli.rs runs
//! against Apache Kafka as well.

#![allow(clippy::unwrap_used)]

mod cli_scenarios;
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cli_scenarios::now_ms;
use common::{closed_port, command, consume_all, create_topic, durian, start_broker};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_headers_tabs_and_unicode_survive_the_round_trip() {
    let broker = start_broker().await;
    cli_scenarios::keys_headers_tabs_and_unicode_round_trip(&broker.bootstrap()).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_input_explicit_partition_codec_and_acks_keep_line_order() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "ordered", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let lines: Vec<String> = (0..500).map(|i| format!("line {i:03}")).collect();
    // CRLF endings and no newline after the last line.
    std::fs::write(&file, lines.join("\r\n")).unwrap();
    let file = file.to_str().unwrap();
    for (codec, acks) in [("zstd", "1"), ("gzip", "all")] {
        durian(
            &bootstrap,
            &[
                "produce",
                "ordered",
                "-f",
                file,
                "-p",
                "1",
                "--compression",
                codec,
                "--acks",
                acks,
            ],
            b"",
        )
        .await
        .assert_ok();
    }
    let printed = consume_all(&bootstrap, "ordered", "%p %v\\n").await;
    let expected: Vec<String> = lines
        .iter()
        .chain(&lines)
        .map(|line| format!("1 {line}"))
        .collect();
    assert_eq!(printed, expected);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_offset_timestamp_and_end_and_the_count_limit() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "positions", 1).await;
    durian(
        &bootstrap,
        &["produce", "positions"],
        b"a0\na1\na2\na3\na4\n",
    )
    .await
    .assert_ok();
    // Not waiting for anything to happen: the wall clock itself must move
    // on, so that `between` lies strictly after the first records'
    // millisecond timestamps and before the next ones'.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    durian(&bootstrap, &["produce", "positions"], b"b5\nb6\n")
        .await
        .assert_ok();

    let consume = |extra: &'static [&'static str]| {
        let bootstrap = bootstrap.clone();
        async move {
            let mut args = vec!["consume", "positions"];
            args.extend_from_slice(extra);
            let run = durian(&bootstrap, &args, b"").await;
            run.assert_ok();
            run.text()
        }
    };
    assert_eq!(
        consume(&["--from", "3", "--exit-at-end"]).await,
        "a3\na4\nb5\nb6\n"
    );
    assert_eq!(
        consume(&["--from", "beginning", "-n", "2"]).await,
        "a0\na1\n"
    );
    assert_eq!(consume(&["--from", "end", "--exit-idle", "1s"]).await, "");
    let from_time = format!("@{between}");
    let run = durian(
        &bootstrap,
        &[
            "consume",
            "positions",
            "--from",
            &from_time,
            "--exit-at-end",
            "--format",
            "%o:%v\\n",
        ],
        b"",
    )
    .await;
    assert_eq!(run.assert_ok().text(), "5:b5\n6:b6\n");
    // With a group, --from is applied in the rebalance listener, and only
    // to partitions the group has not committed: the second run resumes
    // where the first one's commit left off.
    let grouped = |from: String, extra: &'static [&'static str]| {
        let bootstrap = bootstrap.clone();
        async move {
            let mut args = vec!["consume", "positions", "-g", "positions-group", "--from"];
            args.push(&from);
            args.extend_from_slice(extra);
            let run = durian(&bootstrap, &args, b"").await;
            run.assert_ok();
            run.text()
        }
    };
    assert_eq!(grouped(from_time.clone(), &["-n", "1"]).await, "b5\n");
    assert_eq!(grouped("0".to_owned(), &["--exit-at-end"]).await, "b6\n");
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_consume_cleanly() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "piped", 1).await;
    durian(&bootstrap, &["produce", "piped"], b"first\nsecond\n")
        .await
        .assert_ok();
    let mut child = command(&bootstrap, &["consume", "piped"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).await.unwrap();
    assert_eq!(line, "first\n");
    // Like `| head -1`: the reader goes away while no new record arrives,
    // so no write fails; the command notices the closed pipe by itself.
    drop(stdout);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("consume kept running with a closed stdout")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_a_live_topic_are_printed_as_they_arrive() {
    // Without a group, output is gathered over several polls; a record
    // must still be written as soon as nothing more is at hand, not when
    // the buffer fills or the command ends (it never ends here).
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "live", 1).await;
    let mut child = command(&bootstrap, &["consume", "live"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for value in ["one", "two"] {
        durian(
            &bootstrap,
            &["produce", "live"],
            format!("{value}\n").as_bytes(),
        )
        .await
        .assert_ok();
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(20), stdout.read_line(&mut line))
            .await
            .unwrap_or_else(|_| panic!("`{value}` was not printed within 20 s"))
            .unwrap();
        assert_eq!(line, format!("{value}\n"));
    }
    child.kill().await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topics_bad_properties_and_bad_formats_fail_with_a_reason() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    durian(&bootstrap, &["produce", "missing"], b"x\n")
        .await
        .assert_failed_with("durian topic create missing");
    durian(&bootstrap, &["consume", "missing", "--exit-at-end"], b"")
        .await
        .assert_failed_with("durian topic create missing");
    durian(
        &bootstrap,
        &["produce", "missing", "-X", "linger.msec=5"],
        b"x\n",
    )
    .await
    .assert_failed_with("linger.msec");
    durian(&bootstrap, &["consume", "missing", "-X", "nonsense"], b"")
        .await
        .assert_failed_with("KEY=VALUE");
    durian(&bootstrap, &["consume", "missing", "--format", "%q"], b"")
        .await
        .assert_failed_with("%q");
    create_topic(&bootstrap, "small", 2).await;
    durian(&bootstrap, &["produce", "small", "-p", "2"], b"x\n")
        .await
        .assert_failed_with("partition 2 does not exist");
    // A line over max.request.size fails alone; the others are written.
    let mut input = b"ok 1\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 2000));
    input.extend_from_slice(b"\nok 2\n");
    durian(
        &bootstrap,
        &["produce", "small", "-p", "0", "-X", "max.request.size=1000"],
        &input,
    )
    .await
    .assert_failed_with("line 2 was not written");
    assert_eq!(
        consume_all(&bootstrap, "small", "%v\\n").await,
        ["ok 1", "ok 2"]
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_fails_within_the_admin_timeout() {
    let nowhere = closed_port();
    let started = Instant::now();
    durian(&nowhere, &["produce", "t"], b"x\n")
        .await
        .assert_failed_with("check -b");
    // The CLI's lookups give up after 15 s by default.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    durian(
        &nowhere,
        &["topic", "list", "-X", "default.api.timeout.ms=2000"],
        b"",
    )
    .await
    .assert_failed_with("cannot list topics");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// Runs `durian` with piped output and without `NO_COLOR`, so only the
/// "is stderr a terminal" decision keeps escape codes out, and fails the
/// test if any output carries one (a progress bar, a coloured log line).
async fn piped_without_escapes(bootstrap: &str, args: &[&str]) {
    let mut command = command(bootstrap, args);
    command.env_remove("NO_COLOR").env("RUST_LOG", "info");
    let run = common::finish(command.spawn().unwrap(), args).await;
    run.assert_ok();
    for (name, text) in [("stdout", run.text()), ("stderr", run.stderr.clone())] {
        assert!(
            !text.contains('\x1b') && !text.contains('\r'),
            "durian {args:?} wrote escape codes to a piped {name}: {text:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_commands_draw_no_progress_bars() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "bars", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let lines: Vec<String> = (0..2_000).map(|i| format!("line {i}")).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_str().unwrap();
    piped_without_escapes(&bootstrap, &["produce", "bars", "-f", file]).await;
    piped_without_escapes(&bootstrap, &["consume", "bars", "-n", "2000"]).await;
    piped_without_escapes(
        &bootstrap,
        &["perf", "produce", "bars", "--num", "500", "--size", "100"],
    )
    .await;
    piped_without_escapes(&bootstrap, &["perf", "consume", "bars", "--num", "500"]).await;
    piped_without_escapes(
        &bootstrap,
        &["group", "seek", "idle", "--topic", "bars", "--to", "end"],
    )
    .await;
    // The flags turning bars off are accepted anywhere on the line.
    piped_without_escapes(&bootstrap, &["--quiet", "consume", "bars", "-n", "10"]).await;
    piped_without_escapes(
        &bootstrap,
        &["consume", "bars", "-n", "10", "--no-progress"],
    )
    .await;
    broker.shutdown().await.unwrap();
}

/// Runs `durian ARGS` on a pseudo-terminal (util-linux's `script`, part of
/// every Debian system) with colours off, so escape codes in what the
/// terminal showed can only come from a progress bar.
async fn on_a_terminal(bootstrap: &str, args: &[&str]) -> String {
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let line = [env!("CARGO_BIN_EXE_durian"), "-b", bootstrap]
        .into_iter()
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = tokio::process::Command::new("script");
    common::quiet_and_piped(command.args(["-qec", &line, "/dev/null"]));
    let run = common::finish(command.spawn().expect("run `script`"), args).await;
    run.assert_ok();
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// The other half of `piped_commands_draw_no_progress_bars`: on a terminal
/// the bar is drawn, and `--no-progress` / `--quiet` still turn it off, so
/// the decision itself is under test, not only indicatif's own terminal
/// check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_progress_bars_unless_they_are_turned_off() {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "tty", 1).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let lines: Vec<String> = (0..2_000).map(|i| format!("line {i}")).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_str().unwrap();

    let shown = on_a_terminal(&bootstrap, &["produce", "tty", "-f", file]).await;
    assert!(
        shown.contains('\x1b'),
        "no progress bar drawn on a terminal: {shown:?}"
    );
    for off in [["--no-progress", "produce"], ["--quiet", "produce"]] {
        let args = [off[0], off[1], "tty", "-f", file];
        let shown = on_a_terminal(&bootstrap, &args).await;
        assert!(
            !shown.contains('\x1b'),
            "durian {args:?} drew on the terminal: {shown:?}"
        );
    }
    broker.shutdown().await.unwrap();
}
