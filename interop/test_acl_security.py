"""ACL denials from durian's broker, as third-party clients report them.

One `durian broker` with a SASL_PLAINTEXT/PLAIN listener, `--super-user
User:alice` and no ACLs, so bob (authenticated, named by no ACL) is refused
every topic (`allow.everyone.if.no.acl.found` is false once a listener
authenticates). kcat (librdkafka), confluent-kafka and Apache Kafka's Java
client (its console producer) each produce as alice, and as bob get the
authorization error they report as such: librdkafka's "Topic
authorization failed" / TOPIC_AUTHORIZATION_FAILED, Java's
TopicAuthorizationException. Then `durian acl add`, a client of the SASL
listener with alice's credentials (`-F`), grants bob WRITE and bob's kcat
produce goes through.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from conftest import find_kcat, peer_missing, require_module, unique_name
from durian_broker import DurianBroker, durian_binary
from java_runner import JVM_OPTIONS, Java
from kcat_runner import Kcat, KcatError

USERS = {"alice": "alice-secret", "bob": "bob-secret"}


@dataclass
class Guarded:
    """The running broker, a topic alice created, and the durian binary."""

    bootstrap: str
    topic: str
    binary: Path
    tmp: Path

    def librdkafka(self, user: str) -> dict[str, str]:
        """librdkafka properties (kcat -X, confluent-kafka) for `user`."""
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
                "sasl.username": user, "sasl.password": USERS[user]}

    def properties_file(self, user: str, java: bool = False) -> Path:
        """A client.properties for `user`: durian's (librdkafka names) or Java's."""
        if java:
            props = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                     "sasl.jaas.config": "org.apache.kafka.common.security.plain."
                                         f'PlainLoginModule required username="{user}" '
                                         f'password="{USERS[user]}";'}
        else:
            props = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                     "sasl.username": user, "sasl.password": USERS[user]}
        path = self.tmp / f"{user}{'-java' if java else ''}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def durian(self, user: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`durian -b BOOTSTRAP -F <user>.properties ARGS`."""
        return subprocess.run(
            [str(self.binary), "-b", self.bootstrap, "-F",
             str(self.properties_file(user)), *args],
            input=stdin, capture_output=True, text=True, timeout=120,
            env={"NO_COLOR": "1", "RUST_LOG": "warn", "PATH": "/usr/bin:/bin"})


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Guarded]:
    binary = durian_binary()
    if not binary.is_file():
        peer_missing(f"the durian binary ({binary})",
                     "build it with `cargo build -p durian-cli --bin durian`")
    users = tmp_path / "users.txt"
    users.write_text("".join(f"{u}={p}\n" for u, p in USERS.items()))
    broker = DurianBroker(tmp_path / "data", binary=binary, extra_args=[
        "--sasl-plain-users-file", str(users), "--sasl-enabled-mechanisms", "PLAIN",
        "--super-user", "User:alice"])
    bootstrap = broker.start()
    try:
        setup = Guarded(bootstrap, unique_name("acl"), binary, tmp_path)
        created = setup.durian("alice", "topic", "create", setup.topic, "-p", "1")
        assert created.returncode == 0, created.stderr
        yield setup
    finally:
        broker.stop()


def _x(props: dict[str, str]) -> list[str]:
    return [arg for key, value in props.items() for arg in ("-X", f"{key}={value}")]


def test_kcat_is_refused_until_durian_acl_add_grants_write(guarded: Guarded,
                                                           tmp_path: Path) -> None:
    kcat_bin = find_kcat()
    if not kcat_bin:
        peer_missing("kcat")
    kcat = Kcat(kcat_bin, guarded.bootstrap)
    lines = tmp_path / "lines.txt"
    lines.write_text("from-alice\n")
    kcat.produce_lines(guarded.topic, lines, *_x(guarded.librdkafka("alice")))

    lines.write_text("from-bob\n")
    with pytest.raises(KcatError) as refused:
        kcat.run("-P", "-t", guarded.topic, "-l", *_x(guarded.librdkafka("bob")),
                 "-X", "message.timeout.ms=30000", str(lines), timeout=120)
    said = str(refused.value)
    assert "Topic authorization failed" in said, said

    granted = guarded.durian("alice", "acl", "add", "--topic", guarded.topic,
                             "--principal", "User:bob", "-o", "write")
    assert granted.returncode == 0, granted.stderr
    kcat.produce_lines(guarded.topic, lines, *_x(guarded.librdkafka("bob")))
    records = kcat.consume_all(guarded.topic, *_x(guarded.librdkafka("alice")))
    assert [r.value for r in records] == ["from-alice", "from-bob"]


def test_confluent_kafka_reports_topic_authorization_failed(guarded: Guarded) -> None:
    ck = require_module("confluent_kafka")
    outcomes: dict[str, object] = {}

    def produce(user: str) -> None:
        producer = ck.Producer({"bootstrap.servers": guarded.bootstrap,
                                "message.timeout.ms": 30000,
                                **guarded.librdkafka(user)})
        producer.produce(guarded.topic, value=user.encode(),
                         on_delivery=lambda err, _msg: outcomes.__setitem__(user, err))
        assert producer.flush(60) == 0, f"{user}: the delivery report came"

    produce("alice")
    assert outcomes["alice"] is None, outcomes
    produce("bob")
    error = outcomes["bob"]
    assert error is not None, "bob's record was delivered"
    assert error.code() == ck.KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_java_client_reports_topic_authorization_exception(guarded: Guarded) -> None:
    java = Java()

    def console_producer(user: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [java.java, *JVM_OPTIONS, "-cp", java.classpath,
             "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
             guarded.bootstrap, "--topic", guarded.topic, "--command-config",
             str(guarded.properties_file(user, java=True))],
            input=f"{user}\n", capture_output=True, text=True, timeout=120)

    alice = console_producer("alice")
    assert alice.returncode == 0, alice.stderr[-3000:]
    assert "Exception" not in alice.stdout + alice.stderr, alice.stderr[-3000:]
    bob = console_producer("bob")
    said = bob.stdout + bob.stderr
    assert "TopicAuthorizationException" in said, said[-3000:]
