"""confluent-kafka (Python, librdkafka 2.16) against durian's broker.

Proves: the idempotent producer with zstd batches and keyed partitioning;
a two-member consumer group with manual commits reading each record once and
committing exactly the end offsets; and AdminClient topic, config and group
operations.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from conftest import require_module, unique_name, wait_for_leaders
from stored_batches import assert_idempotent_batches, assert_stored_codec

ck = require_module("confluent_kafka")
ck_admin = require_module("confluent_kafka.admin")

RECORDS = 50_000
KEYS = 1_000


def produce_keyed(bootstrap: str, topic: str, count: int, **config) -> dict:
    """Produce `count` keyed records; return {(key, seq): (partition, offset)}.

    Fails on the first delivery error, naming it.
    """
    delivered: dict[tuple[str, int], tuple[int, int]] = {}
    errors: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            errors.append(f"{msg.key()!r}: {err}")
            return
        key, seq = msg.value().decode().split(":", 2)[:2]
        delivered[(key, int(seq))] = (msg.partition(), msg.offset())

    producer = ck.Producer({"bootstrap.servers": bootstrap,
                            "linger.ms": 5, **config})
    for i in range(count):
        key = f"key-{i % KEYS:04d}"
        value = f"{key}:{i}:{'durian ' * 8}"
        while True:
            try:
                producer.produce(topic, key=key, value=value,
                                 on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(120)
    assert remaining == 0, f"{remaining} records still undelivered after 120 s"
    assert not errors, f"{len(errors)} delivery errors, first: {errors[:3]}"
    assert len(delivered) == count
    return delivered


def test_idempotent_producer_zstd_keyed(broker, bootstrap, create_topic):
    topic = create_topic("idem", partitions=6)
    delivered = produce_keyed(bootstrap, topic, RECORDS,
                              **{"enable.idempotence": True,
                                 "compression.type": "zstd", "acks": "all"})

    by_partition: dict[int, list[int]] = defaultdict(list)
    partition_of_key: dict[str, set[int]] = defaultdict(set)
    for (key, _seq), (partition, offset) in delivered.items():
        by_partition[partition].append(offset)
        partition_of_key[key].add(partition)
    for partition, offsets in by_partition.items():
        assert sorted(offsets) == list(range(len(offsets))), (
            f"partition {partition}: delivered offsets not 0..{len(offsets) - 1}")
    assert len(by_partition) > 1, "every key hashed to one partition"
    split = {k: p for k, p in partition_of_key.items() if len(p) != 1}
    assert not split, f"keys spread over several partitions: {list(split)[:5]}"
    # Per key, later sends got later offsets (order kept per partition).
    offsets_of_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (key, seq), (_partition, offset) in delivered.items():
        offsets_of_key[key].append((seq, offset))
    for key, pairs in offsets_of_key.items():
        offsets = [offset for _seq, offset in sorted(pairs)]
        assert offsets == sorted(offsets), f"{key}: offsets out of send order"

    watermarks = end_offsets(bootstrap, topic, 6)
    assert sum(watermarks.values()) == RECORDS
    for partition, high in watermarks.items():
        assert high == len(by_partition.get(partition, [])), partition
    assert_idempotent_batches(broker, topic)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_round_trip(broker, bootstrap, create_topic, codec):
    count = 20_000
    topic = create_topic(f"codec-{codec}", partitions=2)
    delivered = produce_keyed(bootstrap, topic, count,
                              **{"compression.type": codec, "acks": "all"})

    consumer = ck.Consumer({"bootstrap.servers": bootstrap,
                            "group.id": unique_name("codec-reader"),
                            "enable.auto.commit": False})
    read: dict[tuple[int, int], tuple[str, int]] = {}
    try:
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING)
                         for p in range(2)])
        deadline = time.monotonic() + 60
        while len(read) < count and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                key, seq = msg.value().decode().split(":", 2)[:2]
                read[(msg.partition(), msg.offset())] = (key, int(seq))
    finally:
        consumer.close()
    assert len(read) == count, f"read {len(read)} of {count}"
    assert {v: k for k, v in read.items()} == delivered

    assert_stored_codec(broker, topic, codec)


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """High watermark of each partition (ListOffsets latest)."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap,
                            "group.id": unique_name("watermarks")})
    try:
        return {p: consumer.get_watermark_offsets(
                    ck.TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        consumer.close()


def group_consumer(bootstrap: str, group: str) -> "ck.Consumer":
    return ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                        "enable.auto.commit": False,
                        "auto.offset.reset": "earliest",
                        "session.timeout.ms": 10_000})


def test_group_of_two_manual_commit_reads_each_record_once(bootstrap,
                                                           create_topic):
    partitions = 6
    count = 30_000
    topic = create_topic("cgroup", partitions=partitions)
    group = unique_name("ck-group")
    consumers = [group_consumer(bootstrap, group) for _ in range(2)]
    try:
        for consumer in consumers:
            consumer.subscribe([topic])

        # Poll both until they share the partitions; nothing is produced yet,
        # so no record can be read twice because of this first rebalance.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for consumer in consumers:
                assert not consumer.consume(num_messages=10, timeout=0.2)
            owned = [{tp.partition for tp in c.assignment()} for c in consumers]
            if (all(owned) and not owned[0] & owned[1]
                    and owned[0] | owned[1] == set(range(partitions))):
                break
        else:
            pytest.fail(f"group never split the partitions: {owned}")

        produce_keyed(bootstrap, topic, count, **{"acks": "all"})

        seen: dict[tuple[int, int], int] = {}
        per_member = [0, 0]
        deadline = time.monotonic() + 120
        while len(seen) < count and time.monotonic() < deadline:
            for index, consumer in enumerate(consumers):
                batch = consumer.consume(num_messages=1000, timeout=0.2)
                for msg in batch:
                    assert msg.error() is None, msg.error()
                    where = (msg.partition(), msg.offset())
                    assert where not in seen, f"read {where} twice"
                    seen[where] = index
                    per_member[index] += 1
                if batch:
                    consumer.commit(asynchronous=False)
        assert len(seen) == count, f"read {len(seen)} of {count}"
        assert all(per_member), f"records per member: {per_member}"

        highs = end_offsets(bootstrap, topic, partitions)
        assert sum(highs.values()) == count
        committed = consumers[0].committed(
            [ck.TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        assert {tp.partition: tp.offset for tp in committed} == highs
    finally:
        for consumer in consumers:
            consumer.close()


def test_admin_topics_configs_and_groups(bootstrap, create_topic):
    admin = ck_admin.AdminClient({"bootstrap.servers": bootstrap})
    name = unique_name("admin")
    futures = admin.create_topics(
        [ck_admin.NewTopic(name, num_partitions=3, replication_factor=1,
                           config={"retention.ms": "3600000"})],
        operation_timeout=30)
    futures[name].result(timeout=60)
    wait_for_leaders(admin, name, 3)

    # Creating it again must be refused with TOPIC_ALREADY_EXISTS.
    again = admin.create_topics([ck_admin.NewTopic(name, 1, 1)])
    with pytest.raises(ck.KafkaException) as refused:
        again[name].result(timeout=30)
    assert refused.value.args[0].code() == ck.KafkaError.TOPIC_ALREADY_EXISTS

    resource = ck_admin.ConfigResource(ck_admin.ResourceType.TOPIC, name)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert configs["retention.ms"].value == "3600000", configs["retention.ms"]
    assert "cleanup.policy" in configs, sorted(configs)

    # A group that committed an offset is listed.
    group = unique_name("admin-group")
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[ck.TopicPartition(name, 0, 0)],
                        asynchronous=False)
    finally:
        consumer.close()
    listed = admin.list_consumer_groups().result(timeout=30)
    assert group in {g.group_id for g in listed.valid}, listed.valid
    assert not listed.errors, listed.errors

    deleted = admin.delete_topics([name], operation_timeout=30)
    deleted[name].result(timeout=60)
    deadline = time.monotonic() + 30
    while name in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{name} still listed after delete"
        time.sleep(0.2)
