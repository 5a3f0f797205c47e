"""What durian's broker stored, read back from its segment files.

durian keeps record batches as clients sent them (only the base offset and
leader epoch are rewritten), so the batch headers on disk show what a client
really did: which codec it used, whether it produced idempotently. Without
this, a client that quietly falls back to uncompressed or non-idempotent
batches would still pass a round-trip test.

Only brokers the suite started itself have a known data dir; for an external
broker (DURIAN_INTEROP_BOOTSTRAP) these checks do nothing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredBatch:
    """The header of one record batch (format v2) in a segment file."""

    base_offset: int
    codec: int  # attributes & 7: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
    producer_id: int
    base_sequence: int
    records: int


def stored_batches(broker, topic: str) -> dict[int, list[StoredBatch]] | None:
    """Batch headers of each partition's first segment, or None if unknown.

    Reads Kafka's on-disk layout (baseOffset i64, batchLength i32, ...,
    producerId at byte 43) to check what a client actually sent.
    """
    data_dir = getattr(broker, "data_dir", None)
    if data_dir is None:
        return None
    result: dict[int, list[StoredBatch]] = {}
    for directory in data_dir.rglob(f"{topic}-*"):
        segment = directory / f"{0:020d}.log"
        if not segment.is_file():
            continue
        data = segment.read_bytes()
        batches, pos = [], 0
        while pos + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            (attributes,) = struct.unpack_from(">h", data, pos + 21)
            pid, _epoch, seq, count = struct.unpack_from(">qhii", data, pos + 43)
            batches.append(StoredBatch(base, attributes & 7, pid, seq, count))
            pos += 12 + max(length, 49)
        result[int(directory.name.rsplit("-", 1)[1])] = batches
    return result


CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def assert_stored_codec(broker, topic: str, codec: str) -> None:
    """The topic's records are stored compressed with `codec`.

    durian keeps batches as clients sent them, so this shows the client's
    compression reached the broker. librdkafka sends a batch uncompressed
    when compressing it would not make it smaller (a lone short record), so
    uncompressed batches are allowed beside `codec`, but at least 90% of the
    records must sit in batches compressed with `codec`.
    """
    stored = stored_batches(broker, topic)
    if stored is None:
        return
    assert stored, f"no segments found for {topic}"
    batches = [b for per_partition in stored.values() for b in per_partition]
    names = {v: k for k, v in CODECS.items()}
    found = sorted(names.get(b.codec, str(b.codec)) for b in batches)
    allowed = {CODECS[codec], CODECS["none"]}
    assert {b.codec for b in batches} <= allowed, (
        f"expected {codec} batches on disk, found {sorted(set(found))}")
    total = sum(b.records for b in batches)
    compressed = sum(b.records for b in batches if b.codec == CODECS[codec])
    assert total > 0, f"no records stored for {topic}"
    assert compressed * 10 >= total * 9, (
        f"only {compressed} of {total} records stored as {codec}; "
        f"batch codecs on disk: {sorted(set(found))}")


def assert_idempotent_batches(broker, topic: str) -> None:
    """Every stored batch carries a producer id and gap-free sequences."""
    stored = stored_batches(broker, topic)
    if stored is None:
        return
    assert stored, f"no segments found for {topic}"
    for partition, batches in stored.items():
        for batch in batches:
            assert batch.producer_id >= 0, (
                f"partition {partition}: batch at {batch.base_offset} has no "
                "producer id: the client did not produce idempotently")
            # One producer from a fresh topic: sequence numbers run from 0
            # alongside the offsets.
            assert batch.base_sequence == batch.base_offset, (partition, batch)
