"""Authentication against durian's broker, from third-party clients.

Three secured brokers, each a single listener started by `durian broker`:
SASL_SSL with SCRAM-SHA-512, SASL_PLAINTEXT with PLAIN, and SSL with
required client certificates (mTLS). kcat (librdkafka), confluent-kafka
and Apache Kafka's Java client (its console tools) each produce and
consume through every one of them, and a wrong password must be refused
with an authentication error by each. Certificates are made per test
with the openssl CLI (a missing openssl follows the peer policy).
"""

from __future__ import annotations

import shutil
import subprocess
import time
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
class Pki:
    """A CA, a server certificate for localhost/127.0.0.1 and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_bundle: Path


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr}"


def make_pki(where: Path) -> Pki:
    """Certificates for one test, made with the openssl CLI."""
    if not shutil.which("openssl"):
        peer_missing("the openssl command", "install openssl")
    where.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=durian interop CA", cwd=where)
    for name, subject, ext in [
        ("server", "/CN=localhost",
         "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "/O=Durian Interop/CN=alice", "extendedKeyUsage=clientAuth\n"),
    ]:
        (where / f"{name}.ext").write_text(ext)
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=where)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                 "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                 "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=where)
    bundle = where / "client-bundle.pem"
    bundle.write_text((where / "client.key").read_text()
                      + (where / "client.pem").read_text())
    return Pki(where / "ca.pem", where / "server.pem", where / "server.key",
               where / "client.pem", where / "client.key", bundle)


@dataclass
class Secured:
    """A running secured broker and how each client reaches it."""

    kind: str
    bootstrap: str
    pki: Pki

    def librdkafka(self, password: str | None = None) -> dict[str, str]:
        """librdkafka properties (kcat -X, confluent-kafka)."""
        pw = password or USERS["bob"]
        if self.kind == "sasl_ssl_scram":
            return {"security.protocol": "SASL_SSL",
                    "sasl.mechanisms": "SCRAM-SHA-512",
                    "sasl.username": "bob", "sasl.password": pw,
                    "ssl.ca.location": str(self.pki.ca)}
        if self.kind == "sasl_plaintext_plain":
            return {"security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanisms": "PLAIN",
                    "sasl.username": "bob", "sasl.password": pw}
        return {"security.protocol": "SSL",
                "ssl.ca.location": str(self.pki.ca),
                "ssl.certificate.location": str(self.pki.client_cert),
                "ssl.key.location": str(self.pki.client_key)}

    def java(self, password: str | None = None) -> dict[str, str]:
        """Java client properties."""
        pw = password or USERS["bob"]
        module = {"sasl_ssl_scram": "scram.ScramLoginModule",
                  "sasl_plaintext_plain": "plain.PlainLoginModule"}.get(self.kind)
        props: dict[str, str] = {}
        if module:
            props["sasl.jaas.config"] = (
                f"org.apache.kafka.common.security.{module} required "
                f'username="bob" password="{pw}";')
        if self.kind == "sasl_ssl_scram":
            props.update({"security.protocol": "SASL_SSL",
                          "sasl.mechanism": "SCRAM-SHA-512"})
        elif self.kind == "sasl_plaintext_plain":
            props.update({"security.protocol": "SASL_PLAINTEXT",
                          "sasl.mechanism": "PLAIN"})
        else:
            props.update({"security.protocol": "SSL",
                          "ssl.keystore.type": "PEM",
                          "ssl.keystore.location": str(self.pki.client_bundle)})
        if self.kind != "sasl_plaintext_plain":
            props.update({"ssl.truststore.type": "PEM",
                          "ssl.truststore.location": str(self.pki.ca)})
        return props


KINDS = ["sasl_ssl_scram", "sasl_plaintext_plain", "mtls"]
SASL_KINDS = KINDS[:2]


@pytest.fixture(params=KINDS)
def secured(request, tmp_path: Path) -> Iterator[Secured]:
    """durian's broker with one secured listener of the parameter's kind."""
    binary = durian_binary()
    if not binary.is_file():
        peer_missing(f"the durian binary ({binary})",
                     "build it with `cargo build -p durian-cli --bin durian`")
    pki = make_pki(tmp_path / "pki")
    users = tmp_path / "users.jaas"
    users.write_text("KafkaServer {\n  org.apache.kafka.common.security.plain."
                     "PlainLoginModule required\n"
                     + "".join(f'  user_{u}="{p}"\n' for u, p in USERS.items())
                     + "  ;\n};\n")
    args = {
        "sasl_ssl_scram": ["--ssl-cert", str(pki.server_cert),
                           "--ssl-key", str(pki.server_key),
                           "--sasl-scram-users-file", str(users),
                           "--sasl-enabled-mechanisms", "SCRAM-SHA-512"],
        "sasl_plaintext_plain": ["--sasl-plain-users-file", str(users),
                                 "--sasl-enabled-mechanisms", "PLAIN"],
        "mtls": ["--ssl-cert", str(pki.server_cert),
                 "--ssl-key", str(pki.server_key), "--ssl-ca", str(pki.ca),
                 "--ssl-client-auth", "required"],
    }[request.param]
    # These tests prove authentication: every authenticated user may use
    # every topic (with authentication on, the broker's default is to refuse
    # resources no ACL names).
    args.append("--allow-everyone-if-no-acl")
    broker = DurianBroker(tmp_path / "data", binary=binary, extra_args=args)
    bootstrap = broker.start()
    try:
        yield Secured(request.param, bootstrap, pki)
    finally:
        broker.stop()
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            print("---- durian broker output ----")
            print(broker.output())


def _x(props: dict[str, str]) -> list[str]:
    return [arg for key, value in props.items() for arg in ("-X", f"{key}={value}")]


# -- kcat --------------------------------------------------------------------

def test_kcat_produces_and_consumes(secured: Secured, tmp_path: Path) -> None:
    kcat_bin = find_kcat()
    if not kcat_bin:
        peer_missing("kcat")
    kcat = Kcat(kcat_bin, secured.bootstrap)
    topic = unique_name("sec-kcat")
    lines = tmp_path / "lines.txt"
    lines.write_text("one\ntwo\nthree\n")
    kcat.produce_lines(topic, lines, *_x(secured.librdkafka()))
    records = kcat.consume_all(topic, *_x(secured.librdkafka()))
    assert [r.value for r in records] == ["one", "two", "three"]


@pytest.mark.parametrize("secured", SASL_KINDS, indirect=True)
def test_kcat_wrong_password_is_an_authentication_error(secured: Secured) -> None:
    kcat_bin = find_kcat()
    if not kcat_bin:
        peer_missing("kcat")
    kcat = Kcat(kcat_bin, secured.bootstrap)
    with pytest.raises(KcatError) as refused:
        kcat.run("-L", *_x(secured.librdkafka(password="wrong")),
                 "-m", "10", timeout=60)
    said = str(refused.value)
    assert "SASL authentication error" in said, said
    assert "Authentication failed" in said, said


# -- confluent-kafka -----------------------------------------------------------

def test_confluent_kafka_produces_and_consumes(secured: Secured) -> None:
    ck = require_module("confluent_kafka")
    topic = unique_name("sec-ck")
    producer = ck.Producer({"bootstrap.servers": secured.bootstrap,
                            **secured.librdkafka()})
    for i in range(3):
        producer.produce(topic, value=f"v{i}".encode())
    assert producer.flush(60) == 0, "every record delivered"
    consumer = ck.Consumer({"bootstrap.servers": secured.bootstrap,
                            "group.id": unique_name("sec-group"),
                            "auto.offset.reset": "earliest",
                            **secured.librdkafka()})
    consumer.subscribe([topic])
    got: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < 3 and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got.append(message.value().decode())
    finally:
        consumer.close()
    assert got == ["v0", "v1", "v2"]


@pytest.mark.parametrize("secured", SASL_KINDS, indirect=True)
def test_confluent_kafka_wrong_password_is_an_authentication_error(
        secured: Secured) -> None:
    ck = require_module("confluent_kafka")
    errors: list = []
    producer = ck.Producer({"bootstrap.servers": secured.bootstrap,
                            "error_cb": errors.append,
                            **secured.librdkafka(password="wrong")})
    # librdkafka reports the refusal through error_cb, served by poll().
    deadline = time.monotonic() + 30
    while not errors and time.monotonic() < deadline:
        producer.poll(0.5)
    codes = {e.code() for e in errors}
    assert ck.KafkaError._AUTHENTICATION in codes, errors
    assert any("Authentication failed" in e.str() for e in errors), errors


# -- Java client (Kafka's console tools) ---------------------------------------

def _props_file(path: Path, props: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


def test_java_client_produces_and_consumes(secured: Secured, tmp_path: Path) -> None:
    java = Java()
    topic = unique_name("sec-java")
    config = _props_file(tmp_path / "client.properties", secured.java())
    java.tool("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
              secured.bootstrap, "--topic", topic, "--command-config", str(config),
              stdin="a\nb\nc\n")
    out = java.tool("org.apache.kafka.tools.consumer.ConsoleConsumer",
                    "--bootstrap-server", secured.bootstrap, "--topic", topic,
                    "--from-beginning", "--max-messages", "3",
                    "--timeout-ms", "60000", "--command-config", str(config))
    assert out.split() == ["a", "b", "c"]


@pytest.mark.parametrize("secured", SASL_KINDS, indirect=True)
def test_java_wrong_password_is_an_authentication_error(
        secured: Secured, tmp_path: Path) -> None:
    java = Java()
    config = _props_file(tmp_path / "bad.properties", secured.java(password="wrong"))
    done = subprocess.run(
        [java.java, *JVM_OPTIONS, "-cp", java.classpath,
         "org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
         secured.bootstrap, "--command-config", str(config), "--list"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode != 0, done.stdout
    assert "SaslAuthenticationException" in done.stdout + done.stderr, \
        (done.stdout + done.stderr)[-3000:]


# -- SCRAM credentials managed by Kafka's own tool ----------------------------

def test_kafka_configs_manages_scram_users_that_survive_a_restart(
        tmp_path: Path) -> None:
    """kafka-configs (AlterUserScramCredentials) creates a SCRAM user over
    a PLAIN admin login; kcat then logs in as that user, also after a
    restart (the credentials live in the data dir)."""
    java = Java()
    kcat_bin = find_kcat()
    if not kcat_bin:
        peer_missing("kcat")
    binary = durian_binary()
    if not binary.is_file():
        peer_missing(f"the durian binary ({binary})",
                     "build it with `cargo build -p durian-cli --bin durian`")
    users = tmp_path / "admins.txt"
    users.write_text("admin=admin-secret\n")
    broker = DurianBroker(tmp_path / "data", binary=binary,
                          extra_args=["--sasl-plain-users-file", str(users),
                                      "--super-user", "User:admin"])
    bootstrap = broker.start()
    try:
        admin = _props_file(tmp_path / "admin.properties", {
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain."
                                'PlainLoginModule required username="admin" '
                                'password="admin-secret";'})
        base = ["kafka.admin.ConfigCommand", "--bootstrap-server", bootstrap,
                "--command-config", str(admin), "--entity-type", "users",
                "--entity-name", "carol"]
        java.tool(*base, "--alter", "--add-config",
                  "SCRAM-SHA-256=[iterations=8192,password=carol-secret]")
        # (`--describe` of users also reads client quotas, which durian
        # does not serve; DescribeUserScramCredentials is covered by
        # broker/tests/security_sasl.rs.)

        def login(password: str) -> None:
            Kcat(kcat_bin, broker.bootstrap).run(
                "-L", "-m", "10", "-X", "security.protocol=SASL_PLAINTEXT",
                "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=carol",
                "-X", f"sasl.password={password}", timeout=60)

        login("carol-secret")
        with pytest.raises(KcatError):
            login("wrong")
        broker.restart()
        login("carol-secret")
    finally:
        broker.stop()
