"""Durability of durian's broker as clients see it across restarts.

Proves: records acknowledged with acks=all survive SIGKILL of the broker
(recovery from the segment files), and committed group offsets survive a
clean restart (the offsets log is reloaded).
"""

from __future__ import annotations

import time

from conftest import require_module, unique_name, wait_for_leaders

ck = require_module("confluent_kafka")
ck_admin = require_module("confluent_kafka.admin")

RECORDS = 10_000


def read_partitions(bootstrap: str, topic: str, partitions: int,
                    expected: int, timeout: float = 60.0) -> dict:
    """Read every partition from offset 0 (no group); {(p, offset): value}."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap,
                            "group.id": unique_name("reader"),
                            "enable.auto.commit": False})
    seen: dict[tuple[int, int], bytes] = {}
    try:
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING)
                         for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while len(seen) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                seen[(msg.partition(), msg.offset())] = msg.value()
    finally:
        consumer.close()
    return seen


def wait_for_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = ck_admin.AdminClient({"bootstrap.servers": bootstrap})
    wait_for_leaders(admin, topic, partitions)


def test_acked_records_survive_sigkill(broker, create_topic):
    partitions = 3
    topic = create_topic("durable", partitions=partitions)
    acked: dict[tuple[int, int], bytes] = {}
    errors: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is None:
            acked[(msg.partition(), msg.offset())] = msg.value()
        else:
            errors.append(str(err))

    producer = ck.Producer({"bootstrap.servers": broker.bootstrap,
                            "acks": "all", "linger.ms": 5})
    for i in range(RECORDS):
        producer.produce(topic, key=str(i % 37), value=f"durable-{i}",
                         on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not errors, errors[:3]
    assert len(acked) == RECORDS

    broker.restart(kill=True)
    wait_for_topic(broker.bootstrap, topic, partitions)

    found = read_partitions(broker.bootstrap, topic, partitions, RECORDS)
    missing = set(acked) - set(found)
    assert not missing, (
        f"{len(missing)} acknowledged records lost after SIGKILL, e.g. "
        f"{sorted(missing)[:5]}")
    assert found == acked, "records after restart differ from those acknowledged"


def test_committed_offsets_survive_clean_restart(broker, create_topic):
    partitions = 2
    topic = create_topic("offsets", partitions=partitions)
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap,
                            "acks": "all"})
    for i in range(100):
        producer.produce(topic, value=f"o-{i}", partition=i % partitions)
    assert producer.flush(30) == 0

    group = unique_name("durable-group")
    wanted = {0: 17, 1: 42}
    committer = ck.Consumer({"bootstrap.servers": broker.bootstrap,
                             "group.id": group, "enable.auto.commit": False})
    try:
        committer.commit(offsets=[ck.TopicPartition(topic, p, o)
                                  for p, o in wanted.items()],
                         asynchronous=False)
    finally:
        committer.close()

    broker.restart()
    wait_for_topic(broker.bootstrap, topic, partitions)

    resumer = ck.Consumer({"bootstrap.servers": broker.bootstrap,
                           "group.id": group, "enable.auto.commit": False,
                           "auto.offset.reset": "earliest"})
    try:
        committed = resumer.committed(
            [ck.TopicPartition(topic, p) for p in range(partitions)], timeout=20)
        assert {tp.partition: tp.offset for tp in committed} == wanted

        # A member of the group resumes exactly where the commits point.
        resumer.subscribe([topic])
        first: dict[int, int] = {}
        deadline = time.monotonic() + 60
        while len(first) < partitions and time.monotonic() < deadline:
            for msg in resumer.consume(num_messages=100, timeout=0.5):
                assert msg.error() is None, msg.error()
                first.setdefault(msg.partition(), msg.offset())
        assert first == wanted
    finally:
        resumer.close()
