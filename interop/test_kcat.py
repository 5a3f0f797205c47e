"""kcat (kcat 1.7.1 / librdkafka 2.0.2 from Debian) against durian's broker.

Proves: Metadata as librdkafka reads it; Produce and Fetch of 100k messages,
uncompressed, with each codec librdkafka offers, and with the idempotent
producer (InitProducerId + sequence numbers); and the classic group protocol
(FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetFetch/Commit,
LeaveGroup) with two balanced consumers sharing a topic.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from conftest import unique_name
from kcat_runner import Kcat, Record, start_group_member, wait_until
from stored_batches import assert_idempotent_batches, assert_stored_codec

LINES = 100_000
PARTITIONS = 3


@pytest.fixture
def kcat(kcat_bin: str, bootstrap: str) -> Kcat:
    return Kcat(kcat_bin, bootstrap)


def write_lines(path: Path, count: int, tag: str) -> list[str]:
    """A file of `count` distinct lines; the number in each gives its order."""
    # Repetitive text as real logs have, so the codecs have something to do.
    lines = [f"{tag}-{i:07d} GET /fruit/durian/{i % 97} 200 {i * 7919 % 100003}"
             for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def assert_complete_and_ordered(records: list[Record], lines: list[str],
                                partitions: int) -> None:
    """Every line exactly once; per partition offsets 0..n-1 and input order."""
    values = [r.value for r in records]
    assert len(values) == len(lines), (
        f"read {len(values)} records, produced {len(lines)}")
    assert sorted(values) == lines, "records read back differ from lines produced"

    by_partition: dict[int, list[Record]] = defaultdict(list)
    for record in records:
        by_partition[record.partition].append(record)
    assert set(by_partition) <= set(range(partitions))
    # librdkafka's sticky partitioner moves to a random partition every 10 ms;
    # producing 100k lines takes many such windows.
    assert len(by_partition) > 1, (
        f"all {len(lines)} lines landed in one partition of {partitions}")
    for partition, recs in by_partition.items():
        offsets = [r.offset for r in recs]
        assert offsets == list(range(len(recs))), (
            f"partition {partition}: offsets are not contiguous from 0 "
            f"(first gaps near {first_gap(offsets)})")
        # One producer, so each partition holds its lines in file order.
        numbers = [int(r.value.split("-")[1].split(" ")[0]) for r in recs]
        assert numbers == sorted(numbers), (
            f"partition {partition}: lines out of produce order")


def first_gap(offsets: list[int]) -> int | None:
    for expected, got in enumerate(offsets):
        if expected != got:
            return expected
    return None


def test_metadata_lists_broker_and_topics(kcat: Kcat, create_topic, bootstrap):
    topic = create_topic("meta", partitions=PARTITIONS)
    meta = kcat.metadata()

    brokers = meta["brokers"]
    assert len(brokers) == 1, f"expected one broker, got {brokers}"
    broker_id = brokers[0]["id"]
    assert brokers[0]["name"].split("/")[0] == bootstrap, (
        f"advertised {brokers[0]['name']}, bootstrap was {bootstrap}")

    topics = {t["topic"]: t for t in meta["topics"]}
    assert topic in topics, f"{topic} missing from {sorted(topics)}"
    listed = topics[topic]
    assert "error" not in listed, listed
    partitions = sorted(listed["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in partitions] == list(range(PARTITIONS))
    for p in partitions:
        assert p["leader"] == broker_id, p
        assert [r["id"] for r in p["replicas"]] == [broker_id], p
        assert [r["id"] for r in p["isrs"]] == [broker_id], p


@pytest.mark.parametrize("options", [
    pytest.param([], id="plain"),
    pytest.param(["-z", "gzip"], id="gzip"),
    pytest.param(["-z", "snappy"], id="snappy"),
    pytest.param(["-z", "lz4"], id="lz4"),
    pytest.param(["-z", "zstd"], id="zstd"),
    pytest.param(["-X", "enable.idempotence=true"], id="idempotent"),
])
def test_produce_and_consume_100k_lines(kcat: Kcat, broker, create_topic,
                                         tmp_path: Path, options: list[str]):
    topic = create_topic("lines", partitions=PARTITIONS)
    path = tmp_path / "lines.txt"
    lines = write_lines(path, LINES, "line")

    kcat.produce_lines(topic, path, *options)
    records = kcat.consume_all(topic)

    assert_complete_and_ordered(records, lines, PARTITIONS)
    if "enable.idempotence=true" in options:
        assert_idempotent_batches(broker, topic)

    # librdkafka before 2.x enables gzip, snappy and lz4 only if the
    # broker's ApiVersions includes Produce v0 (as Kafka 3.x does); else it
    # quietly sends such batches uncompressed. The codec on disk tells.
    codec = options[1] if "-z" in options else "none"
    assert_stored_codec(broker, topic, codec)


def test_group_of_two_splits_partitions(kcat: Kcat, create_topic,
                                        tmp_path: Path):
    partitions = 4
    topic = create_topic("group", partitions=partitions)
    group = unique_name("kcat-group")
    members = [start_group_member(kcat, group, topic, name)
               for name in ("a", "b")]
    try:
        # Both members must own their share before anything is produced:
        # then no record is read before a rebalance moves its partition.
        def split() -> bool:
            owned = [m.snapshot()[1] for m in members]
            return (all(owned) and not (owned[0] & owned[1])
                    and owned[0] | owned[1] == set(range(partitions)))

        assert wait_until(split, timeout=90), (
            "the two kcat -G consumers never split the partitions between them:\n"
            + "\n".join(f"[{m.name}] assigned={m.snapshot()[1]}\n{m.stderr_text()}"
                        for m in members))
        assigned = [m.snapshot()[1] for m in members]

        # An explicit partition per quarter of the lines: kcat's sticky
        # partitioner could put a fast burst of unkeyed lines in one partition.
        count = 20_000
        lines = write_lines(tmp_path / "group.txt", count, "grp")
        share = count // partitions
        for partition in range(partitions):
            path = tmp_path / f"group-{partition}.txt"
            path.write_text("\n".join(
                lines[partition * share:(partition + 1) * share]) + "\n")
            kcat.produce_lines(topic, path, "-p", str(partition))

        def all_read() -> bool:
            return sum(m.snapshot()[0] for m in members) >= count

        assert wait_until(all_read, timeout=120), (
            f"members read {[m.snapshot()[0] for m in members]} of {count}:\n"
            + "\n".join(f"[{m.name}] {m.stderr_text()}" for m in members))
    finally:
        for member in members:
            member.stop()

    for member, owned in zip(members, assigned, strict=True):
        seen = {r.partition for r in member.records}
        assert seen == owned, (
            f"member {member.name} read partitions {seen}, owns {owned}")
    values = sorted(r.value for m in members for r in m.records)
    assert values == lines, (
        f"the group read {len(values)} records ({len(set(values))} distinct) "
        f"for {count} produced")
