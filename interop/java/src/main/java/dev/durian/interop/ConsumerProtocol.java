package dev.durian.interop;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * {@code consumer-protocol BOOTSTRAP TOPIC GROUP}: a KafkaConsumer with
 * {@code group.protocol=consumer} (KIP-848) subscribes to a new topic and
 * polls for up to 20 s.
 *
 * <p>Prints {@code error DESCRIPTION} for the first exception poll throws, or
 * {@code no-error ASSIGNMENT} if polling went on without one.
 */
final class ConsumerProtocol {
    private ConsumerProtocol() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String group = args[1];
        Topics.create(bootstrap, topic, 1, Map.of());
        var props = Out.props(bootstrap,
                "group.id", group,
                "group.protocol", "consumer",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(topic));
            long deadline = Out.deadline(20);
            while (!Out.expired(deadline)) {
                try {
                    consumer.poll(Duration.ofMillis(500));
                } catch (Exception e) {
                    Out.line("error", Out.describe(e));
                    return;
                }
            }
            Out.line("no-error", consumer.assignment());
        }
    }
}
