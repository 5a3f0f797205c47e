"""Fixtures for the interop suite: durian's broker as a child process, and
the third-party clients that talk to it.

Peer policy: a missing peer (kcat, a Python client, the durian binary) fails
the test when DURIAN_REQUIRE_PEERS=1 (CI) and skips it with the install hint
otherwise, so a developer without the peers still gets a clean run.

DURIAN_INTEROP_BOOTSTRAP=HOST:PORT runs the suite against a broker that is
already running (durian's or any other Kafka-protocol broker, to check the
tests themselves); tests that must restart the broker skip in that mode.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import pytest

from durian_broker import DurianBroker, durian_binary

INSTALL_HINT = "run `bash scripts/install-peers.sh` and `source .peers/env`"


def peers_required() -> bool:
    """Whether a missing peer is a failure (CI) rather than a skip."""
    return os.environ.get("DURIAN_REQUIRE_PEERS") == "1"


def peer_missing(what: str, hint: str = INSTALL_HINT) -> None:
    """Fail or skip (see module docs) because `what` is not available."""
    message = f"{what} is not available; {hint}"
    if peers_required():
        pytest.fail(f"DURIAN_REQUIRE_PEERS=1 but {message}", pytrace=False)
    pytest.skip(message)


def require_module(name: str) -> ModuleType:
    """Import a peer client library, or fail/skip per the peer policy."""
    try:
        return importlib.import_module(name)
    except ImportError:
        peer_missing(f"Python module {name!r}")
        raise  # unreachable: peer_missing always raises


def find_kcat() -> str | None:
    """kcat from $DURIAN_KCAT_BIN, else from PATH."""
    configured = os.environ.get("DURIAN_KCAT_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("kcat")


def unique_name(prefix: str) -> str:
    """A topic or group name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- broker ------------------------------------------------------------------

class ExternalBroker:
    """Stands in for DurianBroker when DURIAN_INTEROP_BOOTSTRAP is set."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def restart(self, kill: bool = False) -> str:
        pytest.skip("restarts need a broker this suite started itself")

    def stop(self, kill: bool = False) -> None:
        pytest.skip("stopping needs a broker this suite started itself")

    def start(self) -> str:
        return self.bootstrap

    def output(self) -> str:
        return "(external broker: no output captured)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def broker(request, tmp_path: Path) -> Iterator[DurianBroker | ExternalBroker]:
    """A fresh durian broker on its own data dir; stopped (SIGTERM) afterwards.

    Tests may call `broker.restart()` / `broker.restart(kill=True)` to bring
    it back on the same data dir, then read the new `broker.bootstrap`.
    """
    external = os.environ.get("DURIAN_INTEROP_BOOTSTRAP")
    if external:
        yield ExternalBroker(external)
        return
    binary = durian_binary()
    if not binary.is_file():
        peer_missing(f"the durian binary ({binary})",
                     "build it with `cargo build -p durian-cli --bin durian` "
                     "or point DURIAN_BIN at it")
    instance = DurianBroker(tmp_path / "data", binary=binary)
    instance.start()
    try:
        yield instance
    finally:
        try:
            instance.stop()
        finally:
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                # Shown under "Captured stdout teardown" of the failed test.
                print("---- durian broker output ----")
                print(instance.output())


@pytest.fixture
def bootstrap(broker) -> str:
    """The broker's address as HOST:PORT (for bootstrap.servers)."""
    return broker.bootstrap


# -- clients -----------------------------------------------------------------

@pytest.fixture(scope="session")
def kcat_bin() -> str:
    """Path of the kcat executable."""
    found = find_kcat()
    if not found:
        peer_missing("kcat")
    return found  # type: ignore[return-value]


@pytest.fixture
def create_topic(bootstrap: str) -> Callable[..., str]:
    """Create a topic through confluent-kafka's AdminClient; returns its name.

    Waits until metadata shows a leader for every partition, so the test
    starts on a topic that is ready to take writes.
    """
    ck_admin = require_module("confluent_kafka.admin")

    def create(prefix: str = "t", partitions: int = 1,
               config: dict[str, str] | None = None) -> str:
        # A client per call: none outlives the broker and logs its shutdown.
        admin = ck_admin.AdminClient({"bootstrap.servers": bootstrap})
        name = unique_name(prefix)
        spec = ck_admin.NewTopic(name, num_partitions=partitions,
                                 replication_factor=1, config=config or {})
        futures = admin.create_topics([spec], operation_timeout=30,
                                      request_timeout=30)
        futures[name].result(timeout=60)
        wait_for_leaders(admin, name, partitions)
        return name

    return create


def wait_for_leaders(admin, topic: str, partitions: int,
                     timeout: float = 30.0) -> None:
    """Poll metadata until `topic` has `partitions` partitions with leaders."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic=topic, timeout=10)
        seen = meta.topics.get(topic)
        if (seen is not None and seen.error is None
                and len(seen.partitions) == partitions
                and all(p.leader >= 0 for p in seen.partitions.values())):
            return
        time.sleep(0.2)
    raise AssertionError(
        f"topic {topic} not ready with {partitions} led partitions after "
        f"{timeout}s; last metadata: {seen}")
