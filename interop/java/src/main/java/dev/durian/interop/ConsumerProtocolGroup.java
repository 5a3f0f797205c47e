package dev.durian.interop;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;

/**
 * {@code consumer-group BOOTSTRAP TOPIC GROUP PARTITIONS RECORDS EXTRA}: two
 * KafkaConsumers with {@code group.protocol=consumer} (KIP-848: the broker
 * assigns, members reconcile through ConsumerGroupHeartbeat) subscribe as
 * one group. A starts alone and owns every partition; B joins and the
 * partitions split. RECORDS values ({@code g0..}) are produced round-robin
 * and read; each member commits after every poll and when partitions are
 * revoked. The group is described through Admin. Then A closes (leaves the
 * group), B takes every partition over, and EXTRA more values ({@code x0..})
 * are produced for B to read. Finally B closes.
 *
 * <p>Prints {@code assigned MEMBER P,P,...} at every change, {@code read
 * MEMBER PARTITION OFFSET VALUE}, {@code described STATE TYPE MEMBERS},
 * {@code closed MEMBER}, {@code takeover P,P,...} and {@code committed
 * PARTITION OFFSET} (through Admin, at the end).
 */
final class ConsumerProtocolGroup {
    private ConsumerProtocolGroup() {}

    /** Values seen by any member, so the main thread knows when to go on. */
    private static final Set<String> SEEN = ConcurrentHashMap.newKeySet();

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String group = args[1];
        int partitions = Integer.parseInt(args[2]);
        int records = Integer.parseInt(args[3]);
        int extra = Integer.parseInt(args[4]);
        Topics.create(bootstrap, topic, partitions, Map.of());

        GroupMember a = member("A", bootstrap, topic, group);
        GroupMember b = member("B", bootstrap, topic, group);
        a.start();
        if (!Out.await(60, () -> a.failed() || a.owns() == partitions) || a.failed()) {
            throw new IllegalStateException("the first member never owned every partition: " + a.assignment);
        }
        b.start();
        boolean split = Out.await(60, () -> a.failed() || b.failed()
                || (a.owns() > 0 && b.owns() > 0 && a.owns() + b.owns() == partitions));
        if (!split || a.failed() || b.failed()) {
            throw new IllegalStateException("the group never split the partitions: A owns "
                    + a.assignment + ", B owns " + b.assignment);
        }
        produce(bootstrap, topic, partitions, "g", records);
        Out.await(60, () -> SEEN.size() >= records || a.failed() || b.failed());

        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            var description = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            Out.line("described", description.groupState(), description.type(), description.members().size());
        } catch (Exception e) {
            Out.line("describe-error", Out.describe(e));
        }

        a.finish();
        if (!Out.await(60, () -> b.failed() || b.owns() == partitions) || b.failed()) {
            throw new IllegalStateException("B never took over every partition: " + b.assignment);
        }
        Out.line("takeover", String.join(",", b.assignment.stream().sorted().map(String::valueOf).toList()));
        produce(bootstrap, topic, partitions, "x", extra);
        Out.await(60, () -> SEEN.size() >= records + extra || b.failed());
        b.finish();

        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (var e : committed.entrySet()) {
                Out.line("committed", e.getKey().partition(), e.getValue().offset());
            }
        }
    }

    /** A member speaking the consumer protocol, reporting revocations too. */
    private static GroupMember member(String name, String bootstrap, String topic, String group) {
        return new GroupMember(name, bootstrap, topic, group, SEEN, true, "group.protocol", "consumer");
    }

    /** Produces values {@code prefix + i} for i in [0, count), i to partition i % partitions. */
    private static void produce(String bootstrap, String topic, int partitions, String prefix, int count)
            throws Exception {
        Topics.produceRoundRobin(bootstrap, topic, partitions, prefix, 0, count);
        Out.line("produced", prefix, count);
    }
}
