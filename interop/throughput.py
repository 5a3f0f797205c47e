#!/usr/bin/env python3
"""A first throughput figure for durian's broker, measured with confluent-kafka.

Not a test: it asserts nothing about speed. It produces N records of a fixed
size (acks=all), then fetches them back with a group-less consumer, and
prints records/s and MB/s for each direction.

    .peers/venv/bin/python interop/throughput.py                # starts target/debug/durian
    DURIAN_BIN=target/release/durian .peers/venv/bin/python interop/throughput.py
    .peers/venv/bin/python interop/throughput.py --bootstrap 127.0.0.1:9092

The client runs in the same machine as the broker, so on 2 cores the figures
include the client's own CPU time; they compare runs, not absolute limits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from durian_broker import DurianBroker, durian_binary  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=100, help="value bytes")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--compression", default="none",
                        help="compression.type for the producer")
    parser.add_argument("--bootstrap",
                        help="use this broker instead of starting durian")
    return parser.parse_args()


def create_topic(bootstrap: str, partitions: int) -> str:
    name = f"throughput-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(60)
    # Produce only once every partition has a leader in metadata.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if topic and topic.error is None and len(topic.partitions) == partitions:
            return name
        time.sleep(0.1)
    raise SystemExit(f"topic {name} never became ready")


def produce(bootstrap: str, topic: str, records: int, size: int,
            compression: str) -> float:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "linger.ms": 5, "batch.size": 1_000_000,
                         "compression.type": compression})
    value = os.urandom(size // 2).hex().encode()[:size].ljust(size, b"x")
    failures = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            failures.append(err)

    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(300) != 0 or failures:
        raise SystemExit(f"produce failed: {failures[:3]}")
    return time.perf_counter() - started


def fetch(bootstrap: str, topic: str, partitions: int, records: int) -> float:
    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "group.id": "throughput", "enable.auto.commit": False,
                         "fetch.max.bytes": 52_428_800})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                     for p in range(partitions)])
    seen = 0
    started = time.perf_counter()
    deadline = time.monotonic() + 300
    while seen < records:
        if time.monotonic() > deadline:
            raise SystemExit(f"fetched only {seen} of {records} records")
        for msg in consumer.consume(num_messages=10_000, timeout=1.0):
            if msg.error() is not None:
                raise SystemExit(f"fetch failed: {msg.error()}")
            seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def report(what: str, records: int, size: int, seconds: float) -> None:
    rate = records / seconds
    print(f"{what:8} {records} records of {size} B in {seconds:.2f} s: "
          f"{rate:,.0f} records/s, {rate * size / 1e6:.1f} MB/s")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="durian-throughput-") as data:
        broker = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            broker = DurianBroker(Path(data), binary=durian_binary())
            bootstrap = broker.start()
            print(f"broker: {broker.binary} at {bootstrap}")
        try:
            topic = create_topic(bootstrap, args.partitions)
            print(f"topic {topic}: {args.partitions} partitions, "
                  f"compression {args.compression}")
            took = produce(bootstrap, topic, args.records, args.size,
                           args.compression)
            report("produce", args.records, args.size, took)
            took = fetch(bootstrap, topic, args.partitions, args.records)
            report("fetch", args.records, args.size, took)
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
