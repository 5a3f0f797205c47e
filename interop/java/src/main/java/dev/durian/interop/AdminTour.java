package dev.durian.interop;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code admin BOOTSTRAP TOPIC GROUP}: the Java Admin client's topic, config,
 * offset and group operations, in order, each printing what it got:
 *
 * <pre>
 * created TOPIC                           createTopics (3 partitions, retention.ms=3600000)
 * create-again DESCRIPTION                the same createTopics again
 * cluster ID / controller ID / node ID HOST PORT    describeCluster
 * partition P leader L replicas R isr I   describeTopics
 * produced N                              10 records into partition 0, timestamps BASE+1000*i
 * offsets P earliest E latest L           listOffsets
 * by-timestamp OFFSET / max-timestamp OFFSET TIMESTAMP
 * config NAME VALUE SOURCE                describeConfigs (topic), after each change too
 * broker-configs COUNT                    describeConfigs (broker NODE)
 * group ID TYPE PROTOCOL STATE            listGroups (consumer groups), while a member holds the group
 * described ID STATE ASSIGNOR MEMBERS     describeConsumerGroups
 * member CLIENT_ID PARTITIONS
 * group-offset P OFFSET                   listConsumerGroupOffsets
 * low-watermark P OFFSET                  deleteRecords before offset 4 of partition 0
 * deleted TOPIC / listed-after BOOLEAN    deleteTopics, then listTopics
 * </pre>
 */
final class AdminTour {
    private AdminTour() {}

    static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = args[0];
        String group = args[1];
        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            topics(admin, topic);
            cluster(admin);
            describe(admin, topic);
            produce(bootstrap, topic);
            offsets(admin, topic);
            configs(admin, topic);
            groups(admin, bootstrap, topic, group);
            deleteRecords(admin, topic);
            admin.deleteTopics(List.of(topic)).all().get();
            Out.line("deleted", topic);
            Out.line("listed-after", admin.listTopics().names().get().contains(topic));
        }
    }

    private static void topics(Admin admin, String topic) throws Exception {
        NewTopic spec = new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "3600000"));
        admin.createTopics(List.of(spec)).all().get();
        Out.line("created", topic);
        try {
            admin.createTopics(List.of(spec)).all().get();
            Out.line("create-again ok");
        } catch (ExecutionException e) {
            Out.line("create-again", Out.describe(e.getCause()));
        }
    }

    private static void cluster(Admin admin) throws Exception {
        var cluster = admin.describeCluster();
        Out.line("cluster", cluster.clusterId().get());
        Out.line("controller", cluster.controller().get().id());
        for (Node node : cluster.nodes().get()) {
            Out.line("node", node.id(), node.host(), node.port());
        }
    }

    private static void describe(Admin admin, String topic) throws Exception {
        TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        for (TopicPartitionInfo p : description.partitions()) {
            Out.line("partition", p.partition(), "leader", p.leader().id(),
                    "replicas", ids(p.replicas()), "isr", ids(p.isr()));
        }
    }

    private static String ids(List<Node> nodes) {
        return String.join(",", nodes.stream().map(n -> Integer.toString(n.id())).toList());
    }

    private static void produce(String bootstrap, String topic) throws Exception {
        var props = Out.props(bootstrap,
                "acks", "all",
                "key.serializer", StringSerializer.class.getName(),
                "value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, 0, BASE_TIMESTAMP + 1000L * i, "k", "r" + i)).get();
            }
        }
        Out.line("produced", 10);
    }

    private static void offsets(Admin admin, String topic) throws Exception {
        for (int p = 0; p < 3; p++) {
            var tp = new TopicPartition(topic, p);
            long earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset();
            long latest = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset();
            Out.line("offsets", p, "earliest", earliest, "latest", latest);
        }
        var tp0 = new TopicPartition(topic, 0);
        var byTime = admin.listOffsets(Map.of(tp0, OffsetSpec.forTimestamp(BASE_TIMESTAMP + 3500)))
                .partitionResult(tp0).get();
        Out.line("by-timestamp", byTime.offset());
        var max = admin.listOffsets(Map.of(tp0, OffsetSpec.maxTimestamp())).partitionResult(tp0).get();
        Out.line("max-timestamp", max.offset(), max.timestamp());
    }

    private static void configs(Admin admin, String topic) throws Exception {
        var resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        printConfigs(admin, resource);
        var set = new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(set))).all().get();
        Out.line("altered", "set");
        printConfigs(admin, resource);
        var delete = new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(delete))).all().get();
        Out.line("altered", "delete");
        printConfigs(admin, resource);
        var node = admin.describeCluster().nodes().get().iterator().next();
        var broker = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(node.id()));
        Config brokerConfig = admin.describeConfigs(List.of(broker)).all().get().get(broker);
        Out.line("broker-configs", brokerConfig.entries().size());
    }

    private static void printConfigs(Admin admin, ConfigResource resource) throws Exception {
        Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        for (String name : List.of("retention.ms", "cleanup.policy")) {
            ConfigEntry entry = config.get(name);
            if (entry == null) {
                Out.line("config", name, "<absent>");
            } else {
                Out.line("config", name, entry.value(), entry.source());
            }
        }
    }

    private static void groups(Admin admin, String bootstrap, String topic, String group) throws Exception {
        var props = Out.props(bootstrap,
                "group.id", group,
                "client.id", "tour-member",
                "group.protocol", "classic",
                "enable.auto.commit", "false",
                "auto.offset.reset", "earliest",
                "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(topic));
            long deadline = Out.deadline(60);
            while (consumer.assignment().size() < 3 && !Out.expired(deadline)) {
                consumer.poll(Duration.ofMillis(100));
            }
            consumer.commitSync(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(5)));
            var listed = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get();
            for (var g : listed) {
                Out.line("group", g.groupId(), g.type().map(Object::toString).orElse("-"), g.protocol(),
                        g.groupState().map(Object::toString).orElse("-"));
            }
            var described = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            Out.line("described", described.groupId(), described.groupState(), described.partitionAssignor(),
                    described.members().size());
            for (MemberDescription m : described.members()) {
                Out.line("member", m.clientId(), String.join(",", m.assignment().topicPartitions().stream()
                        .map(tp -> Integer.toString(tp.partition())).sorted().toList()));
            }
            var offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (var e : offsets.entrySet()) {
                Out.line("group-offset", e.getKey().partition(), e.getValue().offset());
            }
        }
    }

    private static void deleteRecords(Admin admin, String topic) throws Exception {
        var tp0 = new TopicPartition(topic, 0);
        var result = admin.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(4)));
        Out.line("low-watermark", 0, result.lowWatermarks().get(tp0).get().lowWatermark());
        long earliest = admin.listOffsets(Map.of(tp0, OffsetSpec.earliest())).partitionResult(tp0).get().offset();
        Out.line("earliest-after", 0, earliest);
    }
}
