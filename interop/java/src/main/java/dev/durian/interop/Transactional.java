package dev.durian.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code transactional BOOTSTRAP TOPIC TRANSACTIONAL_ID GROUP}: the Java
 * client's transactions end to end.
 *
 * <ol>
 *   <li>{@code commit-a}: ten records committed;</li>
 *   <li>{@code abort-b}: ten records written (flushed) and aborted;</li>
 *   <li>{@code commit-c}: consume-transform-produce: a read_committed group
 *       member of GROUP reads {@code TOPIC-in}, writes each value transformed
 *       and commits its offsets in the transaction
 *       ({@code sendOffsetsToTransaction} with the consumer's group
 *       metadata, KIP-447);</li>
 *   <li>{@code fence-init}: a second producer with the same transactional
 *       id fences the first, whose next transaction ({@code fenced-commit})
 *       must fail;</li>
 *   <li>{@code commit-d}: the new producer commits three records.</li>
 * </ol>
 *
 * <p>Prints {@code ok STEP} or {@code error STEP DESCRIPTION} per step, then
 * what a read_committed reader ({@code committed VALUE}) and a
 * read_uncommitted reader ({@code uncommitted VALUE}) find in TOPIC, the
 * group's committed offsets ({@code group-offset PARTITION OFFSET}) and
 * {@code finished true|false}. Timeouts are short so a broker that never
 * answers shows up within seconds.
 */
final class Transactional {
    private Transactional() {}

    /** Records of the input topic the transform step reads. */
    private static final int INPUT_RECORDS = 20;

    /** One step of the scenario, which may throw. */
    private interface Step {
        void run() throws Exception;
    }

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String transactionalId = args[1];
        String group = args[2];
        String input = topic + "-in";
        Topics.create(bootstrap, topic, 2, Map.of());
        Topics.create(bootstrap, input, 1, Map.of());
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(producerProps(bootstrap, null))) {
            for (int i = 0; i < INPUT_RECORDS; i++) {
                plain.send(new ProducerRecord<>(input, "k" + i, "in-" + i)).get();
            }
        }

        boolean ok;
        try (KafkaProducer<String, String> first = new KafkaProducer<>(producerProps(bootstrap, transactionalId))) {
            ok = step("init", first::initTransactions)
                    && step("commit-a", () -> {
                        first.beginTransaction();
                        sendAll(first, topic, "committed-a-", 10);
                        first.commitTransaction();
                    })
                    && step("abort-b", () -> {
                        first.beginTransaction();
                        sendAll(first, topic, "aborted-b-", 10);
                        first.flush();
                        first.abortTransaction();
                    })
                    && step("commit-c", () -> transform(bootstrap, first, input, topic, group));
            if (ok) {
                try (KafkaProducer<String, String> second =
                        new KafkaProducer<>(producerProps(bootstrap, transactionalId))) {
                    ok = step("fence-init", second::initTransactions);
                    // The zombie's transaction must fail: either at the send
                    // or at the commit, with the fencing error.
                    boolean zombieCommitted = step("fenced-commit", () -> {
                        first.beginTransaction();
                        first.send(new ProducerRecord<>(topic, "z", "zombie")).get();
                        first.commitTransaction();
                    });
                    ok = ok && !zombieCommitted
                            && step("commit-d", () -> {
                                second.beginTransaction();
                                sendAll(second, topic, "after-fence-", 3);
                                second.commitTransaction();
                            });
                }
            }
        }
        read(bootstrap, topic, "read_committed", "committed");
        read(bootstrap, topic, "read_uncommitted", "uncommitted");
        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (var entry : offsets.entrySet()) {
                Out.line("group-offset", entry.getKey().partition(), entry.getValue().offset());
            }
        }
        Out.line("finished", ok);
    }

    private static java.util.Properties producerProps(String bootstrap, String transactionalId) {
        var props = Out.props(bootstrap,
                "max.block.ms", "15000",
                "delivery.timeout.ms", "15000",
                "request.timeout.ms", "10000",
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        if (transactionalId != null) {
            props.put("transactional.id", transactionalId);
        }
        return props;
    }

    private static void sendAll(KafkaProducer<String, String> producer, String topic,
            String prefix, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            producer.send(new ProducerRecord<>(topic, "k" + i, prefix + i)).get();
        }
    }

    /** Reads every input record as a member of `group` and writes it transformed, in one transaction. */
    private static void transform(String bootstrap, KafkaProducer<String, String> producer,
            String input, String output, String group) throws Exception {
        var props = Out.props(bootstrap,
                "group.id", group,
                "isolation.level", "read_committed",
                "enable.auto.commit", "false",
                "auto.offset.reset", "earliest",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(input));
            List<ConsumerRecord<String, String>> read = new ArrayList<>();
            long deadline = Out.deadline(60);
            while (read.size() < INPUT_RECORDS) {
                if (Out.expired(deadline)) {
                    throw new IllegalStateException("read " + read.size() + " of " + INPUT_RECORDS + " input records in 60 s");
                }
                consumer.poll(Duration.ofMillis(200)).forEach(read::add);
            }
            producer.beginTransaction();
            Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
            for (ConsumerRecord<String, String> record : read) {
                producer.send(new ProducerRecord<>(output, record.key(), "transformed-" + record.value()));
                next.put(new TopicPartition(record.topic(), record.partition()),
                        new OffsetAndMetadata(record.offset() + 1));
            }
            producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
            producer.commitTransaction();
        }
    }

    /** Prints every value of `topic` an `isolation` reader finds, as `word VALUE`. */
    private static void read(String bootstrap, String topic, String isolation, String word) {
        var props = Out.props(bootstrap,
                "isolation.level", isolation,
                "enable.auto.commit", "false",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            Collection<TopicPartition> partitions = new ArrayList<>();
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            // Under read_committed the end offsets are the last stable offsets.
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = Out.deadline(60);
            while (!partitions.stream().allMatch(p -> consumer.position(p) >= ends.get(p))) {
                if (Out.expired(deadline)) {
                    Out.line("error", "read-" + word, "did not reach the end offsets " + ends + " in 60 s");
                    return;
                }
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    Out.line(word, record.value());
                }
            }
        }
    }

    private static boolean step(String name, Step step) {
        try {
            step.run();
            Out.line("ok", name);
            return true;
        } catch (Exception e) {
            Out.line("error", name, Out.describe(e));
            return false;
        }
    }
}
