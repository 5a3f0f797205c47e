"""kafka-python 3.0 (a pure-Python client) against durian's broker.

Proves a second, independent protocol implementation works: gzip batches
with acks=all, a group consumer with auto-commit, and KafkaAdminClient's
group listing, description and committed-offset lookup.
"""

from __future__ import annotations

import time

from conftest import require_module, unique_name

kafka = require_module("kafka")
kafka_admin = require_module("kafka.admin")

RECORDS = 10_000


def test_producer_gzip_then_group_consumer_with_auto_commit(bootstrap,
                                                             create_topic):
    partitions = 3
    topic = create_topic("kp", partitions=partitions)
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap,
                                   compression_type="gzip", acks="all",
                                   linger_ms=5)
    try:
        futures = [producer.send(topic, key=f"k{i % 100}".encode(),
                                 value=f"value-{i}".encode())
                   for i in range(RECORDS)]
        producer.flush(timeout=120)
        metas = [f.get(timeout=60) for f in futures]
    finally:
        producer.close(timeout=30)
    assert {m.topic for m in metas} == {topic}
    assert len({(m.partition, m.offset) for m in metas}) == RECORDS

    group = unique_name("kp-group")
    consumer = kafka.KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group,
        auto_offset_reset="earliest", enable_auto_commit=True,
        auto_commit_interval_ms=500, consumer_timeout_ms=20_000)
    admin = kafka_admin.KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        values = []
        for message in consumer:
            values.append(message.value.decode())
            if len(values) == RECORDS:
                break
        assert sorted(values) == sorted(f"value-{i}" for i in range(RECORDS)), (
            f"read {len(values)} records ({len(set(values))} distinct)")

        # While the consumer is a member: the group is listed and Stable.
        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert group in listed, sorted(listed)
        assert listed[group]["protocol_type"] == "consumer", listed[group]
        described = admin.describe_groups([group])[group]
        assert described["error"] is None, described
        assert described["group_state"] == "Stable", described
        assert len(described["members"]) == 1, described["members"]
    finally:
        # close() makes a last auto-commit of everything read.
        consumer.close()

    probe = kafka.KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        end = {tp.partition: offset for tp, offset in probe.end_offsets(
            [kafka.TopicPartition(topic, p) for p in range(partitions)]).items()}
        assert sum(end.values()) == RECORDS, end
        committed = wait_for_committed(admin, group, topic, end)
        assert committed == end
    finally:
        probe.close()
        admin.close()


def wait_for_committed(admin, group: str, topic: str,
                       expected: dict[int, int],
                       timeout: float = 15.0) -> dict[int, int]:
    """The group's committed offsets for `topic`, once they reach `expected`."""
    deadline = time.monotonic() + timeout
    while True:
        offsets = admin.list_group_offsets(group)[group]
        committed = {tp.partition: meta.offset
                     for tp, meta in offsets.items() if tp.topic == topic}
        if committed == expected or time.monotonic() > deadline:
            return committed
        time.sleep(0.2)
