"""Apache Kafka 4.2's Java client and tools against durian's broker.

The reference client: KafkaProducer (idempotent, every codec; transactions with a
read_committed KafkaConsumer),
KafkaConsumer (a classic group of two with commits; a KIP-848 group of two,
and the KIP-848 protocol refused when the broker switches it off),
the Admin client (and the APIs durian does not serve), and Kafka's own
tools (perf, console, topics, ACLs, consumer groups, configs, API
versions, cluster id, delete records, offsets). The client side runs as JVMs
(java_runner.py); each test checks what the program printed, value by value.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from conftest import peer_missing, unique_name
from durian_broker import DurianBroker, durian_binary
from java_runner import Java, lines_of
from stored_batches import assert_idempotent_batches, assert_stored_codec

ROUND_TRIP_RECORDS = 3_000
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@pytest.fixture(scope="module")
def java() -> Java:
    """The JVM launcher; skips (or fails, in CI) without java or the jars."""
    return Java()


def value(i: int) -> str:
    """The value RoundTrip.java gives record i."""
    return f"v{i}-" + "durian-interop-" * 4


@pytest.mark.parametrize("codec", CODECS)
def test_idempotent_producer_round_trip(java, broker, codec):
    topic = unique_name(f"java-{codec}")
    partitions = 3
    out = java.scenario("roundtrip", broker.bootstrap, topic, codec,
                        str(ROUND_TRIP_RECORDS), str(partitions))

    delivered = {int(i): (int(p), int(o))
                 for i, p, o in lines_of(out, "delivered")}
    assert sorted(delivered) == list(range(ROUND_TRIP_RECORDS))
    # Each partition's acknowledged offsets are 0..n-1, in send order.
    by_partition: dict[int, list[int]] = defaultdict(list)
    for i in range(ROUND_TRIP_RECORDS):
        partition, offset = delivered[i]
        by_partition[partition].append(offset)
    assert len(by_partition) > 1, "every key hashed to one partition"
    for partition, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), (
            f"partition {partition}: acknowledged offsets not 0..n-1 in send order")

    # The consumer reads exactly what was acknowledged, field by field.
    index_at = {po: i for i, po in delivered.items()}
    read = lines_of(out, "read")
    assert len(read) == ROUND_TRIP_RECORDS
    seen = set()
    for partition, offset, key, got, headers in read:
        position = (int(partition), int(offset))
        assert position not in seen, f"{position} read twice"
        seen.add(position)
        i = index_at[position]
        assert (key, got, headers) == (f"k{i % 50}", value(i), f"n={i},n=again"), position
    ends = {int(p): int(o) for p, o in lines_of(out, "end")}
    assert ends == {p: len(by_partition.get(p, [])) for p in range(partitions)}

    # What durian stored is what the client sent: the codec, and a
    # producer id with sequences running beside the offsets.
    assert_stored_codec(broker, topic, codec)
    assert_idempotent_batches(broker, topic)


def test_transactions_commit_abort_fence_and_offsets(java, broker):
    """KafkaProducer's transactions against the broker, end to end.

    Transaction A commits, B is flushed then aborted, C is a
    consume-transform-produce step committing a group's offsets in the
    transaction (KIP-447), then a second producer with the same
    transactional id fences the first, whose next transaction must fail,
    and commits D. A read_committed KafkaConsumer finds exactly A, C and D;
    a read_uncommitted one finds B's records too.
    """
    topic = unique_name("java-txn")
    group = unique_name("java-txn-g")
    transactional_id = unique_name("txn-id")
    out = java.scenario("transactional", broker.bootstrap, topic,
                        transactional_id, group)
    steps = {line[0]: "ok" for line in lines_of(out, "ok")}
    steps.update({line[0]: " ".join(line[1:]) for line in lines_of(out, "error")})
    for step in ("init", "commit-a", "abort-b", "commit-c", "fence-init", "commit-d"):
        assert steps.get(step) == "ok", (step, steps)
    fenced = steps.get("fenced-commit", "missing")
    assert fenced != "ok", "the fenced producer committed a transaction"
    assert ("ProducerFenced" in fenced or "InvalidProducerEpoch" in fenced), fenced
    assert lines_of(out, "finished") == [["true"]], out

    committed = sorted(v for (v,) in lines_of(out, "committed"))
    expected = sorted([f"committed-a-{i}" for i in range(10)]
                      + [f"transformed-in-{i}" for i in range(20)]
                      + [f"after-fence-{i}" for i in range(3)])
    assert committed == expected, (
        f"read_committed found {len(committed)} values, expected {len(expected)}: "
        f"extra {sorted(set(committed) - set(expected))[:5]}, "
        f"missing {sorted(set(expected) - set(committed))[:5]}")
    uncommitted = [v for (v,) in lines_of(out, "uncommitted")]
    aborted = sorted(v for v in uncommitted if v.startswith("aborted-b-"))
    assert aborted == sorted(f"aborted-b-{i}" for i in range(10)), uncommitted
    assert sorted(v for v in uncommitted if not v.startswith(("aborted-b-", "zombie"))) == expected
    # The offsets committed inside transaction C: the input's end.
    assert lines_of(out, "group-offset") == [["0", "20"]], out

    # Kafka's kafka-transactions tool sees the finished transaction and
    # its producer (ListTransactions, DescribeTransactions, DescribeProducers).
    listed = transactions_tool(java, broker.bootstrap, "list")
    assert [transactional_id, "CompleteCommit"] in [[row[0], row[3]] for row in listed], listed
    producer_id = next(row[2] for row in listed if row[0] == transactional_id)
    described = transactions_tool(java, broker.bootstrap, "describe",
                                  "--transactional-id", transactional_id)
    assert len(described) == 1 and described[0][1:3] == [transactional_id, producer_id], described
    assert described[0][4] == "CompleteCommit", described
    producers = [row for partition in ("0", "1")
                 for row in transactions_tool(java, broker.bootstrap, "describe-producers",
                                              "--topic", topic, "--partition", partition)]
    assert producer_id in [row[0] for row in producers], producers
    # No transaction is open any more on the topic.
    assert all(row[5] == "None" for row in producers), producers


def transactions_tool(java, bootstrap: str, *args: str) -> list[list[str]]:
    """Rows of Kafka's TransactionsCommand table output, header dropped."""
    out = java.tool("org.apache.kafka.tools.TransactionsCommand",
                    "--bootstrap-server", bootstrap, *args)
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return rows[1:]


@pytest.mark.parametrize("assignor,mode", [
    ("range", "together"), ("range", "late"), ("cooperative-sticky", "late")])
def test_group_of_two_reads_each_record_once(java, broker, assignor, mode):
    """A classic group of two; with "late", the second member joins while
    the first is reading (an eager or, with cooperative-sticky, an
    incremental rebalance: two JoinGroup rounds)."""
    topic, group = unique_name("java-group"), unique_name("java-g")
    partitions, records, extra = 4, 4_000, 200
    out = java.scenario("group", broker.bootstrap, topic, group,
                        str(partitions), str(records), str(extra),
                        assignor, mode)
    assert not lines_of(out, "error"), lines_of(out, "error")

    # The last assignment each member printed: disjoint halves of the topic.
    owned = {}
    for member, assigned in lines_of(out, "assigned"):
        owned[member] = {int(p) for p in assigned.split(",") if p}
    assert set(owned) == {"A", "B", "C"}, owned
    assert owned["A"] and owned["B"], owned
    assert owned["A"].isdisjoint(owned["B"]), owned
    assert owned["A"] | owned["B"] == set(range(partitions)), owned
    assert owned["C"] == set(range(partitions)), owned

    reads = lines_of(out, "read")
    first = [r for r in reads if r[0] in ("A", "B")]
    values = [r[3] for r in first]
    assert len(values) == len(set(values)), "a record was read twice"
    assert sorted(values) == sorted(f"g{i}" for i in range(records))
    per_partition = records // partitions
    for member, partition, offset, got in first:
        i = int(got[1:])
        assert (int(partition), int(offset)) == (i % partitions, i // partitions), got
        if mode == "together" or member == "B":
            # Nobody else ever owned these partitions' records.
            assert int(partition) in owned[member], (member, partition)
    if mode == "late":
        # The first member alone owned everything and read the first half.
        assert lines_of(out, "assigned")[0] == ["A", ",".join(map(str, range(partitions)))]
        read_by_a = {got for member, _p, _o, got in first if member == "A"}
        assert {f"g{i}" for i in range(records // 2)} <= read_by_a
    assert {r[0] for r in first} == {"A", "B"}, "one member read nothing"
    assert [line for line in lines_of(out, "closed") if line[0] != "C"] == [["A"], ["B"]]

    # After the clean closes, the group's commits are the end offsets...
    committed = {int(p): int(o) for p, o in lines_of(out, "committed")}
    assert committed == {p: per_partition for p in range(partitions)}

    # ...and a new member resumes from them: the new records, once each.
    second = [r for r in reads if r[0] == "C"]
    assert sorted(r[3] for r in second) == sorted(f"x{i}" for i in range(extra))
    for _member, partition, offset, got in second:
        i = int(got[1:])
        assert (int(partition), int(offset)) == (
            i % partitions, per_partition + i // partitions), got
    assert ["C"] in lines_of(out, "closed")


@pytest.fixture
def classic_only_broker(tmp_path):
    """A durian broker started with group.coordinator.rebalance.protocols=classic."""
    binary = durian_binary()
    if not binary.is_file():
        peer_missing(f"the durian binary ({binary})",
                     "build it with `cargo build -p durian-cli --bin durian`")
    instance = DurianBroker(tmp_path / "data", binary=binary, extra_args=[
        "--set", "group.coordinator.rebalance.protocols=classic"])
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def test_consumer_protocol_group_of_two_shares_reads_and_hands_over(java, broker):
    """KafkaConsumer with group.protocol=consumer (KIP-848): two members split
    the partitions (broker-side assignment, revocation before assignment),
    each record is read exactly once, commits land, and when A leaves, B
    takes every partition over and reads on from the commits."""
    topic, group = unique_name("java-848"), unique_name("java-848-g")
    partitions, records, extra = 4, 400, 40
    out = java.scenario("consumer-group", broker.bootstrap, topic, group,
                        str(partitions), str(records), str(extra), timeout=240)
    assert not lines_of(out, "error"), out
    assigned = lines_of(out, "assigned")
    # A first owned everything alone; later both held a share at once.
    assert ["A", "0,1,2,3"] in assigned, assigned
    assert any(m == "B" and p for m, *rest in assigned for p in rest), assigned
    reads = lines_of(out, "read")
    first = [r for r in reads if r[3].startswith("g")]
    # Exactly once: every value read one time, by one of the two members.
    assert sorted(r[3] for r in first) == sorted(f"g{i}" for i in range(records))
    assert {r[0] for r in first} == {"A", "B"}, "both members read"
    for _member, partition, offset, got in first:
        i = int(got[1:])
        assert (int(partition), int(offset)) == (i % partitions, i // partitions), got
    described = lines_of(out, "described")
    assert described == [["Stable", "Consumer", "2"]], out
    assert ["A"] in lines_of(out, "closed")
    assert lines_of(out, "takeover") == [["0,1,2,3"]]
    # B reads on from the commits: only the new values, each once.
    second = [r for r in reads if r[3].startswith("x")]
    assert sorted(r[3] for r in second) == sorted(f"x{i}" for i in range(extra))
    assert {r[0] for r in second} == {"B"}
    per_partition = records // partitions
    for _member, partition, offset, got in second:
        i = int(got[1:])
        assert (int(partition), int(offset)) == (
            i % partitions, per_partition + i // partitions), got
    committed = {int(p): int(o) for p, o in lines_of(out, "committed")}
    assert committed == {p: per_partition + extra // partitions
                         for p in range(partitions)}, committed


def test_consumer_group_protocol_is_refused_clearly(java, classic_only_broker):
    """With the consumer protocol switched off, the client says so."""
    broker = classic_only_broker
    out = java.scenario("consumer-protocol", broker.bootstrap,
                        unique_name("java-848"), unique_name("java-848-g"))
    errors = [" ".join(line) for line in lines_of(out, "error")]
    assert len(errors) == 1, out
    assert "UnsupportedVersionException" in errors[0], errors[0]
    assert "does not support the new CONSUMER group protocol" in errors[0], errors[0]
    assert "group.protocol=classic" in errors[0], errors[0]


def test_admin_client(java, broker):
    topic, group = unique_name("java-admin"), unique_name("java-admin-g")
    out = java.scenario("admin", broker.bootstrap, topic, group)
    one = {}
    for line in out:
        one.setdefault(line[0], line[1:])

    assert one["created"] == [topic]
    assert "TopicExistsException" in " ".join(one["create-again"]), one["create-again"]
    assert one["cluster"][0], "empty cluster id"
    host, port = broker.bootstrap.rsplit(":", 1)
    nodes = lines_of(out, "node")
    assert len(nodes) == 1 and nodes[0][1:] == [host, port], nodes
    node = nodes[0][0]
    assert one["controller"] == [node]
    assert lines_of(out, "partition") == [
        [str(p), "leader", node, "replicas", node, "isr", node] for p in range(3)]

    assert lines_of(out, "offsets") == [
        ["0", "earliest", "0", "latest", "10"],
        ["1", "earliest", "0", "latest", "0"],
        ["2", "earliest", "0", "latest", "0"]]
    # Record i carries timestamp BASE + 1000 i: the first at or after
    # BASE + 3500 is record 4; the largest is record 9's.
    assert one["by-timestamp"] == ["4"]
    assert one["max-timestamp"] == ["9", str(1_700_000_000_000 + 9_000)]

    # describeConfigs after create, incrementalAlterConfigs SET, then DELETE.
    assert lines_of(out, "config") == [
        ["retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG"],
        ["cleanup.policy", "delete", "DEFAULT_CONFIG"],
        ["retention.ms", "7200000", "DYNAMIC_TOPIC_CONFIG"],
        ["cleanup.policy", "delete", "DEFAULT_CONFIG"],
        ["retention.ms", "604800000", "DEFAULT_CONFIG"],
        ["cleanup.policy", "delete", "DEFAULT_CONFIG"]]
    assert int(one["broker-configs"][0]) > 0

    groups = {line[0]: line[1:] for line in lines_of(out, "group")}
    assert groups.get(group) == ["Classic", "consumer", "Stable"], groups
    assert one["described"] == [group, "Stable", "range", "1"]
    assert lines_of(out, "member") == [["tour-member", "0,1,2"]]
    assert lines_of(out, "group-offset") == [["0", "5"]]

    assert one["low-watermark"] == ["0", "4"]
    assert one["earliest-after"] == ["0", "4"]
    assert one["deleted"] == [topic]
    assert one["listed-after"] == ["false"]


UNSERVED_ADMIN_CALLS = {
    "describeLogDirs": "DESCRIBE_LOG_DIRS",
    "describeClientQuotas": "DESCRIBE_CLIENT_QUOTAS",
    "electLeaders": "ELECT_LEADERS",
    "describeMetadataQuorum": "DESCRIBE_QUORUM",
}


def test_admin_client_more_and_what_durian_does_not_serve(java, broker):
    topic, group = unique_name("java-admin2"), unique_name("java-admin2-g")
    out = java.scenario("admin-more", broker.bootstrap, topic, group)
    assert lines_of(out, "partitions") == [["3"]]
    # alterConsumerGroupOffsets, then deleteConsumerGroupOffsets of partition 0.
    assert lines_of(out, "group-offsets") == [["0=3,1=4"], ["1=4"]]
    assert lines_of(out, "group-listed") == [["false"]]
    # Partition 0 holds records 0, 2, 4, ... stamped BASE + 1000 i: the first
    # at or after BASE + 4500 is record 6, at offset 3.
    assert lines_of(out, "offset-for-time") == [["3", str(1_700_000_000_000 + 6_000)]]
    # describeProducers, listTransactions (the transaction coordinator),
    # describeAcls and describeUserScramCredentials (durian's authorizer
    # and SCRAM store) are served; the APIs durian does not serve: the
    # client says which, clearly.
    assert lines_of(out, "served") == [
        ["describeProducers"], ["listTransactions"], ["describeAcls"],
        ["describeUserScramCredentials"]], lines_of(out, "served")
    unsupported = {line[0]: " ".join(line[1:]) for line in lines_of(out, "unsupported")}
    assert set(unsupported) == set(UNSERVED_ADMIN_CALLS)
    for call, api in UNSERVED_ADMIN_CALLS.items():
        assert unsupported[call] == (
            "org.apache.kafka.common.errors.UnsupportedVersionException: "
            f"The node does not support {api}"), (call, unsupported[call])


# -- Kafka's own tools ----------------------------------------------------------

TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"


def topic_partitions(described: str) -> list[dict[str, str]]:
    """The partition lines of `kafka-topics --describe`, as field dicts."""
    rows = []
    for line in described.splitlines():
        fields = dict(re.findall(r"(\w+): (\S+)", line))
        if "Partition" in fields:
            rows.append(fields)
    return rows


def end_offsets(java, bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset, as GetOffsetShell (`--time -1`) prints it."""
    out = java.tool(GET_OFFSETS, "--bootstrap-server", bootstrap,
                    "--topic", topic, "--time", "-1")
    ends = {}
    for line in out.splitlines():
        name, partition, offset = line.rsplit(":", 2)
        assert name == topic, line
        ends[int(partition)] = int(offset)
    return ends


def test_kafka_topics_command(java, broker):
    bootstrap, topic = broker.bootstrap, unique_name("tool-topic")
    base = [TOPIC_COMMAND, "--bootstrap-server", bootstrap]
    out = java.tool(*base, "--create", "--topic", topic, "--partitions", "3",
                    "--replication-factor", "1", "--config", "retention.ms=1000000")
    assert out.strip() == f"Created topic {topic}."
    assert topic in java.tool(*base, "--list").split()

    described = java.tool(*base, "--describe", "--topic", topic)
    assert "PartitionCount: 3" in described and "Configs: retention.ms=1000000" in described, described
    rows = topic_partitions(described)
    assert [r["Partition"] for r in rows] == ["0", "1", "2"], described
    assert all(r["Leader"] == r["Replicas"] == r["Isr"] for r in rows), described

    java.tool(*base, "--alter", "--topic", topic, "--partitions", "5")
    described = java.tool(*base, "--describe", "--topic", topic)
    assert [r["Partition"] for r in topic_partitions(described)] == ["0", "1", "2", "3", "4"], described

    java.tool(*base, "--delete", "--topic", topic)
    assert topic not in java.tool(*base, "--list").split()


ACL_COMMAND = "org.apache.kafka.tools.AclCommand"


def test_kafka_acls_command(java, broker):
    bootstrap, topic = broker.bootstrap, unique_name("acl-topic")
    base = [ACL_COMMAND, "--bootstrap-server", bootstrap]
    pattern = f"ResourcePattern(resourceType=TOPIC, name={topic}, patternType=PREFIXED)"
    read = "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"
    describe = "(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)"
    out = java.tool(*base, "--add", "--allow-principal", "User:alice", "--operation", "Read",
                    "--operation", "Describe", "--topic", topic,
                    "--resource-pattern-type", "prefixed")
    assert pattern in out and read in out and describe in out, out

    listed = java.tool(*base, "--list", "--topic", topic, "--resource-pattern-type", "prefixed")
    assert pattern in listed and read in listed and describe in listed, listed
    # MATCH: the PREFIXED pattern applies to a topic named with the prefix.
    matched = java.tool(*base, "--list", "--topic", topic + "-x", "--resource-pattern-type", "match")
    assert pattern in matched and read in matched, matched

    java.tool(*base, "--remove", "--force", "--allow-principal", "User:alice", "--operation",
              "Read", "--topic", topic, "--resource-pattern-type", "prefixed")
    listed = java.tool(*base, "--list", "--topic", topic, "--resource-pattern-type", "prefixed")
    assert read not in listed and describe in listed, listed
    java.tool(*base, "--remove", "--force", "--topic", topic, "--resource-pattern-type", "prefixed")
    assert describe not in java.tool(*base, "--list"), "every ACL of the topic removed"


def test_perf_tools(java, broker):
    bootstrap, topic = broker.bootstrap, unique_name("tool-perf")
    records = 20_000
    java.tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--create",
              "--topic", topic, "--partitions", "3", "--replication-factor", "1")
    out = java.tool("org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                    "--num-records", str(records), "--record-size", "100",
                    "--throughput", "-1", "--command-property",
                    f"bootstrap.servers={bootstrap}", "acks=all")
    summary = out.strip().splitlines()[-1]
    assert summary.startswith(f"{records} records sent,"), out
    ends = end_offsets(java, bootstrap, topic)
    assert sorted(ends) == [0, 1, 2] and sum(ends.values()) == records, ends

    out = java.tool("org.apache.kafka.tools.ConsumerPerformance",
                    "--bootstrap-server", bootstrap, "--topic", topic,
                    "--num-records", str(records), "--timeout", "30000")
    header, row = out.strip().splitlines()[-2:]
    stats = dict(zip([h.strip() for h in header.split(",")],
                     [v.strip() for v in row.split(",")]))
    assert stats["data.consumed.in.nMsg"] == str(records), out
    # 100-byte records: exactly records * 100 bytes of values.
    assert float(stats["data.consumed.in.MB"]) == pytest.approx(
        records * 100 / (1024 * 1024), abs=0.0001), out


def test_console_tools_and_consumer_groups_command(java, broker):
    bootstrap = broker.bootstrap
    topic, group = unique_name("tool-console"), unique_name("tool-g")
    partitions, lines = 3, 60
    java.tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--create",
              "--topic", topic, "--partitions", str(partitions),
              "--replication-factor", "1")
    sent = [f"key-{i % 6}:line-{i}" for i in range(lines)]
    java.tool("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
              bootstrap, "--topic", topic, "--reader-property", "parse.key=true",
              "--reader-property", "key.separator=:", "--command-property",
              "acks=all", stdin="\n".join(sent) + "\n")

    out = java.tool("org.apache.kafka.tools.consumer.ConsoleConsumer",
                    "--bootstrap-server", bootstrap, "--topic", topic,
                    "--group", group, "--from-beginning",
                    "--max-messages", str(lines), "--timeout-ms", "30000",
                    "--formatter-property", "print.key=true",
                    "--formatter-property", "print.partition=true",
                    "--formatter-property", "print.offset=true")
    got = [line.split("\t") for line in out.splitlines()]
    assert sorted(f"{k}:{v}" for _p, _o, k, v in got) == sorted(sent), out
    partition_of_key: dict[str, set[str]] = defaultdict(set)
    offsets: dict[str, list[int]] = defaultdict(list)
    for p, o, key, _value in got:
        partition_of_key[key].add(p)
        offsets[p].append(int(o.removeprefix("Offset:")))
    assert all(len(ps) == 1 for ps in partition_of_key.values()), partition_of_key
    for p, seen in offsets.items():
        assert seen == list(range(len(seen))), (p, seen)
    ends = end_offsets(java, bootstrap, topic)
    assert sum(ends.values()) == lines, ends

    base = [GROUP_COMMAND, "--bootstrap-server", bootstrap]
    assert group in java.tool(*base, "--list").split()

    def describe() -> dict[int, tuple[int, int, int]]:
        """{partition: (current offset, log-end offset, lag)} of the group."""
        rows = {}
        for line in java.tool(*base, "--describe", "--group", group).splitlines():
            words = line.split()
            if len(words) >= 6 and words[0] == group and words[1] == topic:
                rows[int(words[2])] = (int(words[3]), int(words[4]), int(words[5]))
        return rows

    # The console consumer committed what it read when it closed.
    assert describe() == {p: (ends[p], ends[p], 0) for p in range(partitions)}
    reset = java.tool(*base, "--reset-offsets", "--group", group, "--topic",
                      topic, "--to-earliest", "--execute")
    assert sorted(line.split()[2:4] for line in reset.splitlines()
                  if line.startswith(group)) == [[str(p), "0"] for p in range(partitions)], reset
    assert describe() == {p: (0, ends[p], ends[p]) for p in range(partitions)}
    deleted = java.tool(*base, "--delete", "--group", group)
    assert f"Deletion of requested consumer groups ('{group}') was successful." in deleted
    assert group not in java.tool(*base, "--list").split()


CONFIG_COMMAND = "kafka.admin.ConfigCommand"


def config_lines(java, bootstrap: str, topic: str, *extra: str) -> list[str]:
    """The config lines of `kafka-configs --describe` for a topic."""
    out = java.tool(CONFIG_COMMAND, "--bootstrap-server", bootstrap,
                    "--describe", "--entity-type", "topics",
                    "--entity-name", topic, *extra)
    return [line.strip() for line in out.splitlines() if line.startswith("  ")]


def alter_topic_config(java, bootstrap: str, topic: str, *change: str) -> None:
    out = java.tool(CONFIG_COMMAND, "--bootstrap-server", bootstrap, "--alter",
                    "--entity-type", "topics", "--entity-name", topic, *change)
    assert out.strip() == f"Completed updating config for topic {topic}.", out


def test_configs_api_versions_cluster_id_and_delete_records_tools(java, broker, tmp_path):
    bootstrap, topic = broker.bootstrap, unique_name("tool-config")
    java.tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--create",
              "--topic", topic, "--partitions", "1", "--replication-factor", "1")

    # kafka-configs: no dynamic config, one added, then deleted; --all
    # shows the defaults.
    assert config_lines(java, bootstrap, topic) == []
    alter_topic_config(java, bootstrap, topic, "--add-config", "retention.ms=5000000")
    lines = config_lines(java, bootstrap, topic)
    assert len(lines) == 1 and lines[0].startswith("retention.ms=5000000 sensitive=false"), lines
    alter_topic_config(java, bootstrap, topic, "--delete-config", "retention.ms")
    assert config_lines(java, bootstrap, topic) == []
    every = config_lines(java, bootstrap, topic, "--all")
    # A default lists the broker setting it comes from, as Kafka prints it.
    assert ("cleanup.policy=delete sensitive=false "
            "synonyms={DEFAULT_CONFIG:log.cleanup.policy=delete}") in every, every
    assert any(line.startswith("retention.ms=604800000 ") for line in every), every

    # kafka-broker-api-versions: what the Java client can use.
    out = java.tool("org.apache.kafka.tools.BrokerApiVersionsCommand",
                    "--bootstrap-server", bootstrap)
    apis = dict(re.findall(r"^\t(\w+)\(\d+\): (.*?),?$", out, re.M))
    for api in ("Produce", "Fetch", "ListOffsets", "Metadata", "OffsetCommit",
                "OffsetFetch", "FindCoordinator", "JoinGroup", "Heartbeat",
                "LeaveGroup", "SyncGroup", "ApiVersions", "InitProducerId",
                "CreateTopics", "DeleteTopics", "DeleteRecords",
                "DescribeConfigs", "IncrementalAlterConfigs", "DescribeCluster",
                "DescribeAcls", "CreateAcls", "DeleteAcls", "AddPartitionsToTxn",
                "AddOffsetsToTxn", "EndTxn", "TxnOffsetCommit", "WriteTxnMarkers",
                "DescribeProducers", "DescribeTransactions", "ListTransactions",
                "ConsumerGroupHeartbeat", "ConsumerGroupDescribe"):
        assert "[usable: " in apis.get(api, ""), (api, apis.get(api))
    for api in ("DescribeLogDirs",):
        assert apis.get(api) == "UNSUPPORTED", (api, apis.get(api))

    # kafka-cluster cluster-id.
    out = java.tool("org.apache.kafka.tools.ClusterTool", "cluster-id",
                    "--bootstrap-server", bootstrap)
    assert re.fullmatch(r"Cluster ID: \S+", out.strip()), out

    # kafka-delete-records after ten console-produced lines.
    java.tool("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
              bootstrap, "--topic", topic,
              stdin="".join(f"line-{i}\n" for i in range(10)))
    offsets_file = tmp_path / "delete-records.json"
    offsets_file.write_text(
        '{"partitions":[{"topic":"%s","partition":0,"offset":5}],"version":1}' % topic)
    out = java.tool("org.apache.kafka.tools.DeleteRecordsCommand",
                    "--bootstrap-server", bootstrap,
                    "--offset-json-file", str(offsets_file))
    assert f"partition: {topic}-0\tlow_watermark: 5" in out, out
    earliest = java.tool(GET_OFFSETS, "--bootstrap-server", bootstrap,
                         "--topic", topic, "--time", "-2")
    assert earliest.strip() == f"{topic}:0:5", earliest


def test_configs_command_shows_synonyms(java, broker):
    bootstrap, topic = broker.bootstrap, unique_name("tool-synonyms")
    java.tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--create",
              "--topic", topic, "--partitions", "1", "--replication-factor", "1")
    alter_topic_config(java, bootstrap, topic, "--add-config", "retention.ms=5000000")
    lines = config_lines(java, bootstrap, topic)
    # Kafka lists the value's sources, most specific first: the topic's own
    # override, then the broker settings it would fall back to.
    assert lines and lines[0].startswith(
        "retention.ms=5000000 sensitive=false "
        "synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000000"), lines
