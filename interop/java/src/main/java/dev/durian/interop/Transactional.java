package dev.durian.interop;

import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code transactional BOOTSTRAP TOPIC TRANSACTIONAL_ID}: a KafkaProducer
 * with {@code transactional.id} goes through initTransactions,
 * beginTransaction, one send and commitTransaction.
 *
 * <p>Prints {@code ok STEP} for each step that succeeded and
 * {@code error STEP DESCRIPTION} (the exception and its causes) for the first
 * that failed, then stops. Timeouts are short so a broker that never answers
 * shows up as a timeout within seconds instead of the client's minute.
 */
final class Transactional {
    private Transactional() {}

    /** One step of the transaction, which may throw. */
    private interface Step {
        void run() throws Exception;
    }

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String transactionalId = args[1];
        Topics.create(bootstrap, topic, 1, Map.of());
        var props = Out.props(bootstrap,
                "transactional.id", transactionalId,
                "max.block.ms", "15000",
                "delivery.timeout.ms", "15000",
                "request.timeout.ms", "10000",
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            boolean ok = step("init", producer::initTransactions)
                    && step("begin", producer::beginTransaction)
                    && step("send", () -> producer.send(new ProducerRecord<>(topic, "k", "in-a-transaction")).get())
                    && step("commit", producer::commitTransaction);
            Out.line("finished", ok);
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
