package dev.durian.interop;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code admin-more BOOTSTRAP TOPIC GROUP}: the rest of the Admin surface a
 * tool reaches for, and what the client says about the APIs durian does not
 * serve.
 *
 * <pre>
 * partitions N                       createPartitions to 3, then describeTopics
 * group-offsets P=O,...              after alterConsumerGroupOffsets, then after deleteConsumerGroupOffsets
 * group-listed BOOLEAN               listGroups after deleteConsumerGroups
 * offset-for-time OFFSET TIMESTAMP   KafkaConsumer.offsetsForTimes
 * unsupported NAME DESCRIPTION       each API durian does not serve (or "served NAME" if it answered)
 * </pre>
 */
final class AdminMore {
    private AdminMore() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String group = args[1];
        Topics.create(bootstrap, topic, 2, Map.of());
        var props = Out.props(bootstrap,
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < 20; i++) {
                long timestamp = AdminTour.BASE_TIMESTAMP + 1000L * i;
                producer.send(new ProducerRecord<>(topic, i % 2, timestamp, "k", "r" + i)).get();
            }
        }
        var tp0 = new TopicPartition(topic, 0);
        var tp1 = new TopicPartition(topic, 1);
        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get();
            Out.line("partitions",
                    admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size());

            admin.alterConsumerGroupOffsets(group, Map.of(tp0, new OffsetAndMetadata(3), tp1, new OffsetAndMetadata(4)))
                    .all().get();
            printGroupOffsets(admin, group);
            admin.deleteConsumerGroupOffsets(group, Set.of(tp0)).all().get();
            printGroupOffsets(admin, group);
            admin.deleteConsumerGroups(List.of(group)).all().get();
            boolean listed = admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group));
            Out.line("group-listed", listed);

            var consumerProps = Out.props(bootstrap,
                    "key.deserializer", StringDeserializer.class.getName(),
                    "value.deserializer", StringDeserializer.class.getName());
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps)) {
                var found = consumer.offsetsForTimes(Map.of(tp0, AdminTour.BASE_TIMESTAMP + 4500)).get(tp0);
                Out.line("offset-for-time", found.offset(), found.timestamp());
            }

            Map<String, Callable<Object>> unserved = new LinkedHashMap<>();
            unserved.put("describeLogDirs", () -> admin.describeLogDirs(List.of(0)).allDescriptions().get());
            unserved.put("describeProducers", () -> admin.describeProducers(List.of(tp0)).all().get());
            unserved.put("listTransactions", () -> admin.listTransactions().all().get());
            unserved.put("describeAcls", () -> admin.describeAcls(AclBindingFilter.ANY).values().get());
            unserved.put("describeClientQuotas",
                    () -> admin.describeClientQuotas(ClientQuotaFilter.all()).entities().get());
            unserved.put("describeUserScramCredentials", () -> admin.describeUserScramCredentials().all().get());
            unserved.put("electLeaders", () -> admin.electLeaders(ElectionType.PREFERRED, Set.of(tp0)).partitions().get());
            unserved.put("describeMetadataQuorum", () -> admin.describeMetadataQuorum().quorumInfo().get());
            for (var call : unserved.entrySet()) {
                try {
                    call.getValue().call();
                    Out.line("served", call.getKey());
                } catch (ExecutionException e) {
                    Out.line("unsupported", call.getKey(), Out.describe(e.getCause()));
                }
            }
        }
    }

    private static void printGroupOffsets(Admin admin, String group) throws Exception {
        var offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        Out.line("group-offsets", String.join(",", offsets.entrySet().stream()
                .map(e -> e.getKey().partition() + "=" + e.getValue().offset()).sorted().toList()));
    }
}
