"""Produces keyed records with each of librdkafka's partitioners.

Usage: partition_keys.py BOOTSTRAP TOPIC PARTITIONER...

Reads one key per line from standard input: hex bytes, "=" for the empty
key or "-" for a null key. For every PARTITIONER (a librdkafka
`partitioner` value) it sends one record per key to TOPIC with a producer
configured with that partitioner, and prints
"partitioner<TAB>line<TAB>partition" for each delivery report. Exits
non-zero if any delivery fails.
"""

import sys

from confluent_kafka import Producer


def parse(line):
    if line == "-":
        return None
    if line == "=":
        return b""
    return bytes.fromhex(line)


def main():
    bootstrap, topic, partitioners = sys.argv[1], sys.argv[2], sys.argv[3:]
    lines = [line.strip() for line in sys.stdin if line.strip()]
    for partitioner in partitioners:
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "partitioner": partitioner,
                "linger.ms": 5,
            }
        )
        failures = []

        def report(error, message, line):
            if error is not None:
                failures.append(str(error))
            else:
                print(f"{partitioner}\t{line}\t{message.partition()}")

        for line in lines:
            producer.produce(
                topic,
                key=parse(line),
                value=b"v",
                on_delivery=lambda e, m, line=line: report(e, m, line),
            )
            producer.poll(0)
        remaining = producer.flush(30)
        if remaining or failures:
            sys.exit(f"{partitioner}: {remaining} undelivered, failures: {failures[:5]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
