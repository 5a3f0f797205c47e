"""Produces keyed records with librdkafka's murmur2_random partitioner.

Usage: produce_keys.py BOOTSTRAP TOPIC COUNT

Sends COUNT records whose keys are the non-empty hex strings read one per
line from standard input, and prints "keyhex<TAB>partition" for each
delivery report. Exits non-zero if any delivery fails.
"""

import sys

from confluent_kafka import Producer


def main():
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    keys = [bytes.fromhex(line.strip()) for line in sys.stdin if line.strip()]
    if len(keys) != count:
        sys.exit(f"expected {count} keys, got {len(keys)}")
    producer = Producer(
        {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5}
    )
    failures = []

    def report(error, message):
        if error is not None:
            failures.append(str(error))
        else:
            print(f"{message.key().hex()}\t{message.partition()}")

    for key in keys:
        producer.produce(topic, key=key, value=b"v", on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        sys.exit(f"{remaining} undelivered, failures: {failures[:5]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
