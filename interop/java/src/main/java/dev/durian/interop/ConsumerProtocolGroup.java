package dev.durian.interop;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

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

        Member a = new Member("A", bootstrap, topic, group);
        Member b = new Member("B", bootstrap, topic, group);
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

    /** Produces values {@code prefix + i} for i in [0, count), i to partition i % partitions. */
    private static void produce(String bootstrap, String topic, int partitions, String prefix, int count)
            throws Exception {
        var props = Out.props(bootstrap,
                "acks", "all",
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, i % partitions, null, prefix + i));
            }
            producer.flush();
        }
        Out.line("produced", prefix, count);
    }

    /** One group member polling on its own thread until told to finish. */
    private static final class Member implements ConsumerRebalanceListener {
        private final String name;
        private final KafkaConsumer<String, String> consumer;
        private final String topic;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicBoolean failed = new AtomicBoolean();
        final Set<Integer> assignment = ConcurrentHashMap.newKeySet();
        private final Thread thread;

        Member(String name, String bootstrap, String topic, String group) {
            this.name = name;
            this.topic = topic;
            this.consumer = new KafkaConsumer<>(Out.props(bootstrap,
                    "group.id", group,
                    "client.id", "member-" + name,
                    "group.protocol", "consumer",
                    "auto.offset.reset", "earliest",
                    "enable.auto.commit", "false",
                    "max.poll.records", "100",
                    "key.deserializer", StringDeserializer.class.getName(),
                    "value.deserializer", StringDeserializer.class.getName()));
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
                        SEEN.add(r.value());
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
            // Commit what was read before another member takes these over.
            if (!partitions.isEmpty()) {
                consumer.commitSync();
            }
            for (TopicPartition tp : partitions) {
                assignment.remove(tp.partition());
            }
            report();
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
                    assignment.stream().sorted().map(String::valueOf).toList()));
        }
    }
}
