package dev.durian.interop;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/** Topic creation through the Java Admin, and filling topics, for scenarios that need a fresh topic. */
final class Topics {
    private Topics() {}

    /** Creates {@code topic} with {@code partitions} partitions (replication 1). */
    static void create(String bootstrap, String topic, int partitions, Map<String, String> configs)
            throws Exception {
        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            NewTopic spec = new NewTopic(topic, partitions, (short) 1).configs(configs);
            admin.createTopics(List.of(spec)).all().get();
        }
        Out.line("created", topic, partitions);
    }

    /**
     * Produces values {@code prefix + i} for i in [from, to), i to partition
     * i % partitions, and waits until every one is acknowledged.
     */
    static void produceRoundRobin(String bootstrap, String topic, int partitions, String prefix, int from, int to)
            throws Exception {
        var props = Out.props(bootstrap,
                "acks", "all",
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, i % partitions, null, prefix + i));
            }
            producer.flush();
        }
    }
}
