//! `durian broker` as a process: the stdout contract and clean SIGTERM shutdown.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn prints_its_address_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args(["broker", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let port: u16 = address.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_ne!(port, 0, "the real port is printed");
    std::net::TcpStream::connect(address).expect("the broker accepts connections");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "broker did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "only one line goes to stdout, got more: {rest:?}"
    );
    assert!(
        data.path().join("meta/clean_shutdown").exists(),
        "clean shutdown marker written"
    );
}

#[test]
fn refuses_an_unauthenticated_listener_beyond_loopback_and_says_why() {
    let data = tempfile::tempdir().unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args(["broker", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success(), "must not start");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--allow-insecure-listener") && said.contains("unauthenticated"),
        "{said}"
    );
    assert!(refused.stdout.is_empty(), "no `listening on` line");
}

#[test]
fn named_listeners_print_one_line_each() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args([
            "broker",
            "--listeners",
            "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
            "--listener-security-protocol-map",
            "INTERNAL:PLAINTEXT",
            "--data-dir",
        ])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line.trim_end().to_string());
    }
    let _ = child.kill();
    let _ = child.wait();
    let primary = lines[0].strip_prefix("listening on ").unwrap();
    assert_eq!(lines[1], format!("listener PLAINTEXT://{primary}"));
    assert!(
        lines[2].starts_with("listener INTERNAL://127.0.0.1:"),
        "{lines:?}"
    );
}

/// Starts `durian broker` with `extra` arguments; returns the child and its address.
fn start_broker(data: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args(["broker", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, address)
}

#[test]
fn settings_by_kafka_name_from_a_file_and_set_reach_the_broker() {
    use std::io::Read;

    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("server.properties");
    // The file allows 5 connections per address; --set wins with 1.
    std::fs::write(
        &file,
        "# limits\nmax.connections.per.ip=5\nlog.retention.hours=48\n",
    )
    .unwrap();
    let store = data.path().join("store");
    let file_arg = file.to_str().unwrap();
    let (mut child, address) = start_broker(
        &store,
        &[
            "--config",
            file_arg,
            "--set",
            "max.connections.per.ip=1",
            // Settings of the coordinators are taken as well.
            "--set",
            "group.min.session.timeout.ms=1000",
            "--set",
            "transaction.max.timeout.ms=60000",
        ],
    );
    let _first = std::net::TcpStream::connect(&address).unwrap();
    let mut second = std::net::TcpStream::connect(&address).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // Over the limit: the broker closes the connection at once (end of
    // stream), where a connection within it would wait for a request.
    let mut byte = [0u8; 1];
    let read = second.read(&mut byte);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the second connection from one address must be closed, got {read:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_unknown_or_bad_setting_stops_the_start_and_names_it() {
    let data = tempfile::tempdir().unwrap();
    for (setting, named) in [
        ("max.conections=10", "max.conections"),
        ("max.connections=none", "max.connections"),
        ("transaction.max.timeout.ms=0", "transaction.max.timeout.ms"),
        (
            "group.min.session.timeout.ms=soon",
            "group.min.session.timeout.ms",
        ),
    ] {
        let refused = Command::new(env!("CARGO_BIN_EXE_durian"))
            .args([
                "broker",
                "--listen",
                "127.0.0.1:0",
                "--set",
                setting,
                "--data-dir",
            ])
            .arg(data.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{setting}: must not start");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(named), "{setting}: {said}");
        assert!(
            refused.stdout.is_empty(),
            "{setting}: no `listening on` line"
        );
    }
}

#[test]
fn metrics_listen_prints_its_address_and_serves_the_page() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args(["broker", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line.trim_end().to_string());
    }
    assert!(lines[0].starts_with("listening on "), "{lines:?}");
    let metrics = lines[1]
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("no metrics line: {lines:?}"));
    let mut stream = std::net::TcpStream::connect(metrics).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    let read = stream.read_to_string(&mut page);
    let _ = child.kill();
    let _ = child.wait();
    read.unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("\ndurian_broker_uptime_seconds "), "{page}");
}
