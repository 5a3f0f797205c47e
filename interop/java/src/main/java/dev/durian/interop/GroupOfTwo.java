package dev.durian.interop;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;

/**
 * {@code group BOOTSTRAP TOPIC GROUP PARTITIONS RECORDS EXTRA ASSIGNOR MODE}:
 * two KafkaConsumers (one thread each, classic protocol, ASSIGNOR {@code
 * range} or {@code cooperative-sticky}) subscribe as one group. MODE {@code
 * together}: once both own partitions and together own all of them, RECORDS
 * records ({@code g0..}) are produced round-robin over the partitions. MODE
 * {@code late}: the first member starts alone, owns every partition and
 * reads the first half of the records; only then does the second join (a
 * rebalance while the first holds uncommitted-free positions), and the
 * second half is produced once both own partitions. Each member commits
 * synchronously after every poll and when partitions are revoked. When
 * every value has been seen, both close (LeaveGroup). Then EXTRA more
 * records ({@code x0..}) are produced and a third member of the same group
 * reads from the commits.
 *
 * <p>Prints {@code assigned MEMBER P,P,...}, {@code read MEMBER PARTITION
 * OFFSET VALUE}, {@code closed MEMBER}, {@code committed PARTITION OFFSET}
 * (after the first round, through Admin) and {@code end PARTITION OFFSET}.
 */
final class GroupOfTwo {
    private GroupOfTwo() {}

    /** Values seen by any member, so the main thread knows when to stop. */
    private static final Set<String> SEEN = ConcurrentHashMap.newKeySet();

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String group = args[1];
        int partitions = Integer.parseInt(args[2]);
        int records = Integer.parseInt(args[3]);
        int extra = Integer.parseInt(args[4]);
        String assignor = switch (args[5]) {
            case "range" -> RangeAssignor.class.getName();
            case "cooperative-sticky" -> CooperativeStickyAssignor.class.getName();
            default -> throw new IllegalArgumentException("ASSIGNOR: " + args[5]);
        };
        boolean late = switch (args[6]) {
            case "together" -> false;
            case "late" -> true;
            default -> throw new IllegalArgumentException("MODE: " + args[6]);
        };
        Topics.create(bootstrap, topic, partitions, Map.of());

        GroupMember a = member("A", bootstrap, topic, group, assignor);
        GroupMember b = member("B", bootstrap, topic, group, assignor);
        a.start();
        int first = 0;
        if (late) {
            if (!Out.await(60, () -> a.failed() || a.owns() == partitions) || a.failed()) {
                throw new IllegalStateException("the first member never owned every partition: " + a.assignment);
            }
            first = records / 2;
            produce(bootstrap, topic, partitions, "g", 0, first);
            int half = first;
            if (!Out.await(60, () -> SEEN.size() >= half || a.failed()) || a.failed()) {
                throw new IllegalStateException("the first member read " + SEEN.size() + " of " + half);
            }
        }
        b.start();
        boolean split = Out.await(60, () -> a.failed() || b.failed()
                || (a.owns() > 0 && b.owns() > 0 && a.owns() + b.owns() == partitions));
        if (!split || a.failed() || b.failed()) {
            throw new IllegalStateException("the group never split the partitions: A owns "
                    + a.assignment + ", B owns " + b.assignment);
        }
        produce(bootstrap, topic, partitions, "g", first, records);
        Out.await(60, () -> SEEN.size() >= records || a.failed() || b.failed());
        a.finish();
        b.finish();

        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (var e : committed.entrySet()) {
                Out.line("committed", e.getKey().partition(), e.getValue().offset());
            }
        }

        produce(bootstrap, topic, partitions, "x", 0, extra);
        SEEN.clear();
        GroupMember c = member("C", bootstrap, topic, group, assignor);
        c.start();
        Out.await(60, () -> SEEN.size() >= extra || c.failed());
        c.finish();
    }

    /** A classic-protocol member under {@code assignor} (a class name). */
    private static GroupMember member(String name, String bootstrap, String topic, String group, String assignor) {
        return new GroupMember(name, bootstrap, topic, group, SEEN, false,
                "group.protocol", "classic",
                "partition.assignment.strategy", assignor);
    }

    /** Produces values {@code prefix + i} for i in [from, to), i to partition i % partitions. */
    private static void produce(String bootstrap, String topic, int partitions, String prefix, int from, int to)
            throws Exception {
        Topics.produceRoundRobin(bootstrap, topic, partitions, prefix, from, to);
        Out.line("produced", prefix, from, to);
    }
}
