"""Go clients against durian's broker: franz-go (kgo, kadm) and IBM/sarama.

The programs live in interop/go (built into .peers/bin by
scripts/install-peers.sh) and print one fact per line; each test checks
those lines value by value and, where durian's segment files show it, what
the client really sent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import peer_missing, unique_name
from stored_batches import assert_idempotent_batches, assert_stored_codec

REPO = Path(__file__).resolve().parent.parent


def go_program(variable: str, name: str) -> str:
    """$VARIABLE, else .peers/bin/NAME; fail or skip when it is missing."""
    path = os.environ.get(variable) or str(REPO / ".peers" / "bin" / name)
    if not (os.access(path, os.X_OK) or shutil.which(path)):
        peer_missing(f"{name} ({path})")
    return path


def run(binary: str, *args: str, timeout: float = 180.0) -> list[list[str]]:
    """Run a Go program; its output lines split in words. Fails on exit != 0."""
    try:
        done = subprocess.run([binary, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{binary} {' '.join(args)} did not finish within "
                             f"{timeout}s\nstdout: {e.stdout}\nstderr: {e.stderr}") from None
    assert done.returncode == 0, (
        f"{binary} {' '.join(args)} exited with {done.returncode}\n"
        f"stdout: {done.stdout[-4000:]}\nstderr: {done.stderr[-4000:]}")
    return [line.split(" ") for line in done.stdout.splitlines() if line]


def lines_of(output: list[list[str]], word: str) -> list[list[str]]:
    """The lines starting with `word`, without it."""
    return [line[1:] for line in output if line[0] == word]


CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@pytest.mark.parametrize("codec", CODECS)
def test_franz_go_producer_group_consumer_and_admin(broker, codec):
    franz = go_program("DURIAN_FRANZ_BIN", "durian-franz")
    topic, group = unique_name(f"franz-{codec}"), unique_name("franz-g")
    partitions, records = 3, 5_000
    out = run(franz, "roundtrip", broker.bootstrap, topic, str(partitions),
              str(records), group, codec)

    assert lines_of(out, "created") == [[topic]]
    assert " ".join(lines_of(out, "create-again")[0]).startswith("TOPIC_ALREADY_EXISTS")
    host, port = broker.bootstrap.rsplit(":", 1)
    brokers = lines_of(out, "broker")
    assert len(brokers) == 1 and brokers[0][1:] == [host, port], brokers

    # ProduceSync: every record acknowledged; offsets 0..n-1 per partition
    # in send order; one partition per key.
    delivered = {int(i): (int(p), int(o)) for i, p, o in lines_of(out, "delivered")}
    assert sorted(delivered) == list(range(records))
    per_partition: dict[int, list[int]] = defaultdict(list)
    partitions_of_key: dict[int, set[int]] = defaultdict(set)
    for i in range(records):
        partition, offset = delivered[i]
        per_partition[partition].append(offset)
        partitions_of_key[i % 40].add(partition)
    assert len(per_partition) > 1
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition
    assert all(len(ps) == 1 for ps in partitions_of_key.values()), partitions_of_key

    # The group consumer read each record once, with its key, value and header.
    index_at = {po: i for i, po in delivered.items()}
    reads = lines_of(out, "read")
    assert len(reads) == records
    assert len({(r[0], r[1]) for r in reads}) == records, "a record was read twice"
    for partition, offset, key, value, header in reads:
        i = index_at[(int(partition), int(offset))]
        assert (key, value, header) == (f"k{i % 40}", f"franz-{i}", f"i={i}")
    assert lines_of(out, "closed") == [[]]

    # kadm: the commits are the end offsets; the group is listed and, after
    # the member left, Empty.
    ends = {p: len(per_partition.get(p, [])) for p in range(partitions)}
    assert sorted(lines_of(out, "end")) == sorted(
        [str(p), str(n), "<nil>"] for p, n in ends.items())
    assert sorted(lines_of(out, "committed")) == sorted(
        [str(p), str(n), "<nil>"] for p, n in ends.items())
    groups = {g[0]: g[1:] for g in lines_of(out, "group")}
    assert groups.get(group) == ["consumer", "Empty"], groups
    assert lines_of(out, "described") == [[group, "Empty", "consumer", "0", "<nil>"]]

    # What durian stored is what franz-go sent: batches with the codec
    # (durian decompressed each to validate it) from an idempotent producer.
    assert_stored_codec(broker, topic, codec)
    assert_idempotent_batches(broker, topic)

    out = run(franz, "delete", broker.bootstrap, topic)
    assert lines_of(out, "deleted") == [[topic, "<nil>"]]
    assert lines_of(out, "listed-after") == [["false"]]


@pytest.mark.parametrize("kafka_version,codec", [
    ("2.8.0", "none"), *(("4.2.0", codec) for codec in CODECS)])
def test_sarama_weblog_shipper_and_consumer_group(broker, kafka_version, codec):
    """sarama as a log shipper: SyncProducer, WaitForAll, RandomPartitioner.

    Run at sarama's default protocol level (Kafka 2.8), and at 4.2's with
    every codec.
    """
    sarama = go_program("DURIAN_SARAMA_BIN", "durian-sarama")
    topic, group = unique_name(f"sarama-{codec}"), unique_name("sarama-g")
    partitions, records = 3, 1_500
    out = run(sarama, "weblog", broker.bootstrap, kafka_version, topic,
              str(partitions), str(records), group, codec)
    assert lines_of(out, "created") == [[topic]]

    def log_line(i: int) -> str:
        return f"10.0.{i // 250}.{i % 250} GET /page/{i} 200"

    # Each synchronous send was acknowledged at the next offset of the
    # partition the random partitioner picked; all partitions were used.
    delivered = {int(i): (int(p), int(o)) for i, p, o in lines_of(out, "delivered")}
    assert sorted(delivered) == list(range(records))
    per_partition: dict[int, list[int]] = defaultdict(list)
    for i in range(records):
        partition, offset = delivered[i]
        per_partition[partition].append(offset)
    assert sorted(per_partition) == list(range(partitions)), sorted(per_partition)
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition

    # The consumer group member got every partition and read each line once,
    # at the offset it was acknowledged with.
    claims = lines_of(out, "claims")
    assert claims == [[topic, ",".join(str(p) for p in range(partitions))]], claims
    index_at = {po: i for i, po in delivered.items()}
    reads = [(int(r[0]), int(r[1]), " ".join(r[2:])) for r in lines_of(out, "read")]
    assert len(reads) == records
    assert len({(p, o) for p, o, _ in reads}) == records, "a record was read twice"
    for partition, offset, value in reads:
        assert value == log_line(index_at[(partition, offset)]), (partition, offset)
    assert lines_of(out, "closed") == [[]]

    # Close committed the marked offsets: the end of each partition.
    assert sorted(lines_of(out, "committed")) == sorted(
        [str(p), str(len(per_partition[p])), "0"] for p in range(partitions))
    groups = {g[0]: g[1:] for g in lines_of(out, "group")}
    assert groups.get(group) == ["consumer"], groups
    assert lines_of(out, "described") == [[group, "Empty", "consumer", "0", "0"]]

    # durian stored (and decompressed to validate) batches with the codec.
    assert_stored_codec(broker, topic, codec)
    out = run(sarama, "delete", broker.bootstrap, topic)
    assert lines_of(out, "deleted") == [[topic]]

