"""The `durian` command against durian's broker, checked by other clients.

Proves: topics made by `durian topic create` are seen by librdkafka (kcat
-L) with the right partition count and leaders, and disappear after
`durian topic delete`; a group whose members are confluent-kafka
consumers that commit is described by `durian group describe` with the
members, their partitions, and the committed offsets, end offsets and lag
that confluent-kafka itself reports.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from conftest import peer_missing, require_module, unique_name
from durian_broker import durian_binary
from kcat_runner import Kcat

ck = require_module("confluent_kafka")


def durian(bootstrap: str, *args: str, timeout: float = 60.0) -> str:
    """Run `durian -b BOOTSTRAP ARGS...`; return stdout, fail on non-zero exit."""
    binary = durian_binary()
    if not binary.is_file():
        peer_missing(f"the durian binary ({binary})",
                     "build it with `cargo build -p durian-cli --bin durian` "
                     "or point DURIAN_BIN at it")
    env = {**os.environ, "NO_COLOR": "1", "RUST_LOG": "warn"}
    done = subprocess.run([str(binary), "-b", bootstrap, *args],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 0, (
        f"durian {' '.join(args)} exited with {done.returncode}:\n"
        f"stdout: {done.stdout}\nstderr: {done.stderr}")
    return done.stdout


def offset_rows(describe: str, topic: str) -> dict[int, tuple[int, int, int]]:
    """{partition: (committed, end, lag)} from `durian group describe`."""
    rows = {}
    for line in describe.splitlines():
        cells = line.split()
        if len(cells) == 6 and cells[0] == topic:
            rows[int(cells[1])] = (int(cells[2]), int(cells[3]), int(cells[4]))
    return rows


def test_topics_created_by_durian_appear_in_kcat_metadata(bootstrap, kcat_bin):
    kcat = Kcat(kcat_bin, bootstrap)
    topics = {unique_name("cli"): count for count in (1, 3, 7)}
    for topic, count in topics.items():
        durian(bootstrap, "topic", "create", topic, "-p", str(count))

    listed = {t["topic"]: t for t in kcat.metadata()["topics"]}
    for topic, count in topics.items():
        assert topic in listed, f"{topic} missing from kcat -L: {sorted(listed)}"
        partitions = listed[topic]["partitions"]
        assert sorted(p["partition"] for p in partitions) == list(range(count))
        assert all(p["leader"] >= 0 for p in partitions), partitions

    gone = next(iter(topics))
    durian(bootstrap, "topic", "delete", gone)
    assert gone not in {t["topic"] for t in kcat.metadata()["topics"]}


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(topic, value=f"p{partition}-{i}", partition=partition)
    assert producer.flush(60) == 0, "records left undelivered"


def test_confluent_group_is_described_with_its_offsets_and_lag(bootstrap,
                                                               create_topic):
    partitions = 4
    topic = create_topic("cli-group", partitions=partitions)
    per_partition = {p: 10 + 5 * p for p in range(partitions)}
    produce(bootstrap, topic, per_partition)
    group = unique_name("ck-described")
    consumers = [ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                              "enable.auto.commit": False,
                              "auto.offset.reset": "earliest",
                              "session.timeout.ms": 10_000})
                 for _ in range(2)]
    try:
        for consumer in consumers:
            consumer.subscribe([topic])
        deadline = time.monotonic() + 90
        owned: list[set[int]] = [set(), set()]
        while time.monotonic() < deadline:
            for consumer in consumers:
                consumer.poll(0.2)
            owned = [{tp.partition for tp in c.assignment()} for c in consumers]
            if (all(owned) and not owned[0] & owned[1]
                    and owned[0] | owned[1] == set(range(partitions))):
                break
        else:
            pytest.fail(f"group never split the partitions: {owned}")

        # Each member commits its own partitions, leaving partition p with
        # a lag of p + 1 (the records read while joining do not matter).
        for consumer, mine in zip(consumers, owned):
            consumer.commit(offsets=[
                ck.TopicPartition(topic, p, per_partition[p] - (p + 1))
                for p in sorted(mine)], asynchronous=False)

        tps = [ck.TopicPartition(topic, p) for p in range(partitions)]
        committed = {tp.partition: tp.offset
                     for tp in consumers[0].committed(tps, timeout=10)}
        ends = {p: consumers[0].get_watermark_offsets(
                    ck.TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
        expected = {p: (committed[p], ends[p], ends[p] - committed[p])
                    for p in range(partitions)}
        assert {p: lag for p, (_, _, lag) in expected.items()} == {
            p: p + 1 for p in range(partitions)}

        described = durian(bootstrap, "group", "describe", group)
        assert offset_rows(described, topic) == expected, described
        assert "\nmembers      2\n" in described, described
        assert "\nstate        Stable\n" in described, described
        member_lines = [l for l in described.splitlines() if f"{topic}:" in l]
        assert len(member_lines) == 2, described
        shown = set()
        for line in member_lines:
            cell = next(c for c in line.split() if c.startswith(f"{topic}:"))
            shown |= {int(p) for p in cell.split(":", 1)[1].split(",")}
        assert shown == set(range(partitions)), described
    finally:
        for consumer in consumers:
            consumer.close()

    after = durian(bootstrap, "group", "describe", group)
    assert offset_rows(after, topic) == expected, after
    assert "\nmembers      0\n" in after, after
    listed = durian(bootstrap, "group", "list")
    assert any(line.split()[:2] == [group, "Empty"]
               for line in listed.splitlines()), listed
