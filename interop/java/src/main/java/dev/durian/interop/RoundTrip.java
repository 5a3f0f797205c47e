package dev.durian.interop;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code roundtrip BOOTSTRAP TOPIC CODEC RECORDS PARTITIONS}: an idempotent
 * KafkaProducer (acks=all) sends RECORDS keyed records with two headers of
 * the same key, compressed with CODEC, into a new topic; an assigned
 * KafkaConsumer reads the topic from the beginning.
 *
 * <p>Prints {@code delivered I PARTITION OFFSET} per send (I is the record's
 * index, which its value encodes), {@code read PARTITION OFFSET KEY VALUE
 * HEADERS} per record read, {@code end PARTITION OFFSET} per partition and
 * {@code producer idempotence=...} as the client configured it.
 */
final class RoundTrip {
    private RoundTrip() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String codec = args[1];
        int records = Integer.parseInt(args[2]);
        int partitions = Integer.parseInt(args[3]);
        Topics.create(bootstrap, topic, partitions, Map.of());
        produce(bootstrap, topic, codec, records);
        consume(bootstrap, topic, records, partitions);
    }

    /** The value of record {@code i}: compressible, and naming its index. */
    static String value(int i) {
        return "v" + i + "-" + "durian-interop-".repeat(4);
    }

    private static void produce(String bootstrap, String topic, String codec, int records)
            throws Exception {
        var props = Out.props(bootstrap,
                "enable.idempotence", "true",
                "acks", "all",
                "compression.type", codec,
                "linger.ms", "5",
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        List<Future<RecordMetadata>> sends = new ArrayList<>(records);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < records; i++) {
                var record = new ProducerRecord<>(topic, "k" + (i % 50), value(i));
                record.headers().add("n", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                record.headers().add("n", "again".getBytes(StandardCharsets.UTF_8));
                sends.add(producer.send(record));
            }
            producer.flush();
            for (int i = 0; i < records; i++) {
                RecordMetadata meta = sends.get(i).get();
                Out.line("delivered", i, meta.partition(), meta.offset());
            }
        }
    }

    private static void consume(String bootstrap, String topic, int records, int partitions) {
        var props = Out.props(bootstrap,
                "enable.auto.commit", "false",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) {
                tps.add(new TopicPartition(topic, p));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            int read = 0;
            long deadline = Out.deadline(60);
            while (read < records && !Out.expired(deadline)) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    Out.line("read", r.partition(), r.offset(), r.key(), r.value(), headers(r));
                    read++;
                }
            }
            for (var end : consumer.endOffsets(tps).entrySet()) {
                Out.line("end", end.getKey().partition(), end.getValue());
            }
        }
    }

    private static String headers(ConsumerRecord<String, String> record) {
        StringBuilder sb = new StringBuilder();
        for (Header h : record.headers()) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(h.key()).append('=').append(new String(h.value(), StandardCharsets.UTF_8));
        }
        return sb.toString();
    }
}
