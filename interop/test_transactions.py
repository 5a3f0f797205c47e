"""Transactions from librdkafka's side: confluent-kafka's transactional
producer and read_committed consumer, and kcat reading with
isolation.level=read_committed, against the broker under test.

Each test writes committed and aborted transactions (and leaves one open
while it reads) and checks, value by value, that read_committed readers
find exactly the committed records, stop before the open transaction, and
that read_uncommitted readers find everything.
"""

from __future__ import annotations

import time

from conftest import require_module, unique_name
from kcat_runner import Kcat

ck = require_module("confluent_kafka")

TIMEOUT = 30.0


def transactional_producer(bootstrap: str, transactional_id: str):
    """A confluent-kafka producer with `transactional_id`, initialised."""
    producer = ck.Producer({"bootstrap.servers": bootstrap,
                            "transactional.id": transactional_id,
                            "transaction.timeout.ms": 60_000,
                            "linger.ms": 5})
    producer.init_transactions(TIMEOUT)
    return producer


def write_transaction(producer, topic: str, prefix: str, count: int,
                      commit: bool) -> None:
    """One transaction of `count` records `prefix-i`, committed or aborted
    (after a flush, so the aborted records are really in the log)."""
    producer.begin_transaction()
    for i in range(count):
        producer.produce(topic, key=f"k{i}", value=f"{prefix}-{i}")
    assert producer.flush(TIMEOUT) == 0, "records still undelivered"
    if commit:
        producer.commit_transaction(TIMEOUT)
    else:
        producer.abort_transaction(TIMEOUT)


def read_all(bootstrap: str, topic: str, partitions: int,
             isolation: str) -> list[str]:
    """Every value an `isolation` consumer finds, reading each partition
    from the start up to its end (the last stable offset under
    read_committed)."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap,
                            "group.id": unique_name("txn-reader"),
                            "isolation.level": isolation,
                            "enable.auto.commit": False,
                            "enable.partition.eof": True,
                            "auto.offset.reset": "earliest"})
    try:
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING)
                         for p in range(partitions)])
        values: list[str] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + 60
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, (
                f"{isolation}: reached the end of {sorted(at_end)} only, "
                f"{len(values)} values read")
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == ck.KafkaError._PARTITION_EOF, message.error()
                at_end.add(message.partition())
                continue
            values.append(message.value().decode())
        return values
    finally:
        consumer.close()


def test_confluent_kafka_transactions(bootstrap, create_topic):
    topic = create_topic("ck-txn", partitions=3)
    producer = transactional_producer(bootstrap, unique_name("ck-txn-id"))
    write_transaction(producer, topic, "committed", 30, commit=True)
    write_transaction(producer, topic, "aborted", 30, commit=False)
    write_transaction(producer, topic, "later", 10, commit=True)
    # A transaction left open while the readers run: read_committed must
    # stop before it, read_uncommitted must see it.
    open_producer = transactional_producer(bootstrap, unique_name("ck-open-id"))
    open_producer.begin_transaction()
    for i in range(5):
        open_producer.produce(topic, key=f"k{i}", value=f"open-{i}")
    assert open_producer.flush(TIMEOUT) == 0

    committed = read_all(bootstrap, topic, 3, "read_committed")
    expected = sorted([f"committed-{i}" for i in range(30)]
                      + [f"later-{i}" for i in range(10)])
    assert sorted(committed) == expected, (
        f"extra {sorted(set(committed) - set(expected))[:5]}, "
        f"missing {sorted(set(expected) - set(committed))[:5]}")
    uncommitted = read_all(bootstrap, topic, 3, "read_uncommitted")
    assert sorted(uncommitted) == sorted(
        expected + [f"aborted-{i}" for i in range(30)]
        + [f"open-{i}" for i in range(5)])

    # Once the open transaction commits, read_committed finds it too.
    open_producer.commit_transaction(TIMEOUT)
    committed = read_all(bootstrap, topic, 3, "read_committed")
    assert sorted(committed) == sorted(expected + [f"open-{i}" for i in range(5)])


def group_offset(bootstrap: str, group: str, topic: str) -> int:
    """`group`'s committed offset of `topic` partition 0 as an AdminClient
    reads it without require_stable (negative when none)."""
    ck_admin = require_module("confluent_kafka.admin")
    admin = ck_admin.AdminClient({"bootstrap.servers": bootstrap})
    request = ck.ConsumerGroupTopicPartitions(group, [ck.TopicPartition(topic, 0)])
    futures = admin.list_consumer_group_offsets([request], require_stable=False)
    result = futures[group].result(timeout=TIMEOUT)
    return result.topic_partitions[0].offset


def test_confluent_kafka_send_offsets_to_transaction(bootstrap, create_topic):
    """consume-transform-produce: offsets committed in the transaction
    become the group's committed offsets on commit, not before."""
    source = create_topic("ck-src", partitions=1)
    sink = create_topic("ck-sink", partitions=1)
    group = unique_name("ck-eos")
    plain = ck.Producer({"bootstrap.servers": bootstrap})
    for i in range(20):
        plain.produce(source, value=f"in-{i}")
    assert plain.flush(TIMEOUT) == 0

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "isolation.level": "read_committed",
                            "enable.auto.commit": False,
                            "auto.offset.reset": "earliest"})
    producer = transactional_producer(bootstrap, unique_name("ck-eos-id"))
    try:
        consumer.subscribe([source])
        read = []
        deadline = time.monotonic() + 60
        while len(read) < 20:
            assert time.monotonic() < deadline, f"read {len(read)} of 20"
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                read.append(message)
        producer.begin_transaction()
        for message in read:
            producer.produce(sink, value=b"t-" + message.value())
        last = read[-1]
        offsets = [ck.TopicPartition(source, last.partition(), last.offset() + 1)]
        producer.send_offsets_to_transaction(
            offsets, consumer.consumer_group_metadata(), TIMEOUT)
        # Pending in the transaction: not the group's offset yet. (A
        # require_stable OffsetFetch, as consumer.committed() sends, waits
        # for the transaction instead; the admin asks without it.)
        assert group_offset(bootstrap, group, source) < 0
        producer.commit_transaction(TIMEOUT)
        after = consumer.committed([ck.TopicPartition(source, 0)], timeout=TIMEOUT)
        assert after[0].offset == 20, after
        assert group_offset(bootstrap, group, source) == 20
    finally:
        consumer.close()
    assert sorted(read_all(bootstrap, sink, 1, "read_committed")) == sorted(
        f"t-in-{i}" for i in range(20))


def test_kcat_read_committed_skips_aborted(bootstrap, create_topic, kcat_bin):
    topic = create_topic("kcat-txn", partitions=2)
    producer = transactional_producer(bootstrap, unique_name("kcat-txn-id"))
    write_transaction(producer, topic, "kept", 20, commit=True)
    write_transaction(producer, topic, "dropped", 20, commit=False)
    write_transaction(producer, topic, "kept-too", 5, commit=True)
    kcat = Kcat(kcat_bin, bootstrap)
    committed = [r.value for r in kcat.consume_all(
        topic, "-X", "isolation.level=read_committed")]
    assert sorted(committed) == sorted([f"kept-{i}" for i in range(20)]
                                       + [f"kept-too-{i}" for i in range(5)])
    everything = [r.value for r in kcat.consume_all(
        topic, "-X", "isolation.level=read_uncommitted")]
    assert len(everything) == 45, len(everything)
