package dev.durian.interop;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * One member of a consumer group for the group programs ({@link GroupOfTwo},
 * {@link ConsumerProtocolGroup}): polls on its own thread until told to
 * finish, adds every value read to a set the program shares among its
 * members, and commits synchronously after every poll and when partitions
 * are revoked.
 *
 * <p>Prints {@code read MEMBER PARTITION OFFSET VALUE}, {@code assigned
 * MEMBER P,P,...} when partitions are assigned (and revoked too, with
 * {@code reportRevocations}), {@code error MEMBER WHAT} and {@code closed
 * MEMBER}.
 */
final class GroupMember implements ConsumerRebalanceListener {
    private final String name;
    private final KafkaConsumer<String, String> consumer;
    private final String topic;
    private final Set<String> seen;
    private final boolean reportRevocations;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicBoolean failed = new AtomicBoolean();
    final Set<Integer> assignment = ConcurrentHashMap.newKeySet();
    private final Thread thread;

    /**
     * A member {@code name} of {@code group} reading {@code topic}; {@code
     * protocol} holds the consumer settings that pick the group protocol
     * (and assignor), as key-value pairs.
     */
    GroupMember(String name, String bootstrap, String topic, String group, Set<String> seen,
            boolean reportRevocations, String... protocol) {
        this.name = name;
        this.topic = topic;
        this.seen = seen;
        this.reportRevocations = reportRevocations;
        var props = Out.props(bootstrap,
                "group.id", group,
                "client.id", "member-" + name,
                "auto.offset.reset", "earliest",
                "enable.auto.commit", "false",
                "max.poll.records", "100",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName());
        props.putAll(Out.props(bootstrap, protocol));
        this.consumer = new KafkaConsumer<>(props);
        this.thread = new Thread(this::loop, "member-" + name);
    }

    void start() {
        thread.start();
    }

    int owns() {
        return assignment.size();
    }

    boolean failed() {
        return failed.get();
    }

    /** Stops polling, closes (leaving the group) and waits for the thread. */
    void finish() throws InterruptedException {
        stop.set(true);
        thread.join(60_000);
        if (thread.isAlive()) {
            throw new IllegalStateException("member " + name + " did not close within 60 s");
        }
    }

    private void loop() {
        try (consumer) {
            consumer.subscribe(List.of(topic), this);
            while (!stop.get()) {
                var batch = consumer.poll(Duration.ofMillis(100));
                for (ConsumerRecord<String, String> r : batch) {
                    Out.line("read", name, r.partition(), r.offset(), r.value());
                    seen.add(r.value());
                }
                if (!batch.isEmpty()) {
                    consumer.commitSync();
                }
            }
        } catch (Exception e) {
            failed.set(true);
            Out.line("error", name, Out.describe(e));
            return;
        }
        Out.line("closed", name);
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        // Commit what was read before another member takes these over,
        // so a rebalance re-reads nothing.
        if (!partitions.isEmpty()) {
            consumer.commitSync();
        }
        for (TopicPartition tp : partitions) {
            assignment.remove(tp.partition());
        }
        if (reportRevocations) {
            report();
        }
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            assignment.add(tp.partition());
        }
        report();
    }

    private void report() {
        Out.line("assigned", name, String.join(",",
                new TreeSet<>(assignment).stream().map(String::valueOf).toList()));
    }
}
