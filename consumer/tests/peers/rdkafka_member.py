"""A librdkafka (confluent-kafka) group member for durian's interop tests.

Usage: rdkafka_member.py BOOTSTRAP GROUP TOPIC STRATEGY

Joins GROUP, consumes TOPIC and prints one JSON object per line:
{"assigned": [...]}, {"revoked": [...]}, {"lost": [...]},
{"record": [partition, offset, value]} or {"error": "..."}.
It stops, closing the consumer (which leaves the group), when its standard
input is closed.
"""

import json
import sys
import threading

from confluent_kafka import Consumer


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    bootstrap, group, topic, strategy = sys.argv[1:5]
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": strategy,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500,
        }
    )
    stop = threading.Event()

    def wait_for_eof():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    consumer.subscribe(
        [topic],
        on_assign=lambda _, parts: emit(assigned=[p.partition for p in parts]),
        on_revoke=lambda _, parts: emit(revoked=[p.partition for p in parts]),
        on_lost=lambda _, parts: emit(lost=[p.partition for p in parts]),
    )
    while not stop.is_set():
        message = consumer.poll(0.1)
        if message is None:
            continue
        if message.error():
            emit(error=str(message.error()))
            continue
        emit(record=[message.partition(), message.offset(), message.value().decode()])
    consumer.close()


if __name__ == "__main__":
    main()
