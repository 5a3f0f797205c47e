"""Reads a whole topic with librdkafka (confluent-kafka) for durian's producer interop tests.

Usage: read_all.py BOOTSTRAP TOPIC PARTITIONS

Assigns every partition from the beginning, reads up to the end offsets
taken at start, and prints one tab-separated line per record:
partition, offset, key, value, timestamp type, timestamp, headers.
Keys and values are hex ("-" when null); headers are "keyhex:valuehex"
pairs joined by commas, in record order. Exits non-zero on any error.
"""

import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def hex_or_dash(data):
    if data is None:
        return "-"
    if isinstance(data, str):
        data = data.encode()
    return data.hex()


def main():
    bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "durian-read-all",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    ends = {}
    for partition in range(partitions):
        _, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=20
        )
        ends[partition] = high
    consumer.assign(
        [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
    )
    # Next offset to see per partition; done when it reaches the end offset.
    reached = {p: 0 for p in range(partitions)}
    deadline = time.monotonic() + 60
    while any(reached[p] < ends[p] for p in ends):
        if time.monotonic() > deadline:
            sys.exit(f"timed out: read {reached}, ends {ends}")
        for message in consumer.consume(num_messages=500, timeout=0.5):
            if message.error():
                sys.exit(f"consume error: {message.error()}")
            headers = ",".join(
                f"{hex_or_dash(k)}:{hex_or_dash(v)}" for k, v in (message.headers() or [])
            )
            kind, timestamp = message.timestamp()
            print(
                "\t".join(
                    [
                        str(message.partition()),
                        str(message.offset()),
                        hex_or_dash(message.key()),
                        hex_or_dash(message.value()),
                        str(kind),
                        str(timestamp),
                        headers,
                    ]
                )
            )
            reached[message.partition()] = max(
                reached[message.partition()], message.offset() + 1
            )
    consumer.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
