"""One-shot librdkafka (confluent-kafka) jobs for durian's consumer interop tests.

Usage:
  rdkafka_tools.py produce BOOTSTRAP TOPIC CODEC COUNT PARTITIONS
      Produces COUNT records (idempotent, compression.type=CODEC), record i
      to partition i % PARTITIONS, key "k<i>" (none when i % 7 == 0), value
      "<CODEC>-<i>", headers n=<i>, n=again, nil=<null>, timestamp
      1700000000000 + i. Prints {"produced": COUNT} once all are delivered.
  rdkafka_tools.py committed BOOTSTRAP GROUP TOPIC PARTITIONS
      Prints {"committed": [[partition, offset, metadata], ...]} as
      Consumer.committed() returns them (offset -1001 when none), without
      joining the group.
"""

import json
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def produce(bootstrap, topic, codec, count, partitions):
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "compression.type": codec,
            "linger.ms": 5,
        }
    )
    failures = []

    def delivered(error, _message):
        if error is not None:
            failures.append(str(error))

    for i in range(count):
        producer.produce(
            topic,
            partition=i % partitions,
            key=None if i % 7 == 0 else f"k{i}".encode(),
            value=f"{codec}-{i}".encode(),
            headers=[("n", str(i).encode()), ("n", b"again"), ("nil", None)],
            timestamp=1_700_000_000_000 + i,
            on_delivery=delivered,
        )
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise KafkaException(f"{remaining} undelivered, failures: {failures[:5]}")
    print(json.dumps({"produced": count}), flush=True)


def committed(bootstrap, group, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    wanted = [TopicPartition(topic, p) for p in range(partitions)]
    answer = consumer.committed(wanted, timeout=30)
    consumer.close()
    print(
        json.dumps(
            {"committed": [[tp.partition, tp.offset, tp.metadata] for tp in answer]}
        ),
        flush=True,
    )


def main():
    job, bootstrap = sys.argv[1:3]
    if job == "produce":
        topic, codec, count, partitions = sys.argv[3:7]
        produce(bootstrap, topic, codec, int(count), int(partitions))
    elif job == "committed":
        group, topic, partitions = sys.argv[3:6]
        committed(bootstrap, group, topic, int(partitions))
    else:
        raise SystemExit(f"unknown job {job}")


if __name__ == "__main__":
    main()
