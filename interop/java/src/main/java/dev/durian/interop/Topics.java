package dev.durian.interop;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/** Topic creation through the Java Admin, for scenarios that need a fresh topic. */
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
}
