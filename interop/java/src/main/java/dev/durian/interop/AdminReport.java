package dev.durian.interop;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.SecurityDisabledException;

/**
 * {@code admin-report BOOTSTRAP topics=A,B groups=G,H txns=T users=U broker=ID}:
 * what Kafka's Java Admin reports about the named topics, groups,
 * transactional ids and SCRAM users (and one broker's configs), one fact
 * per line, sorted, so that admin/tests/kafka_vs_java can compare durian's
 * Admin with it line by line.
 *
 * <p>Absent values print as {@code null}. A line's last field may hold
 * spaces (config values, commit metadata); every other field is one word.
 * The report only reads: the test sets the cluster up beforehand.
 */
final class AdminReport {
    private AdminReport() {}

    static void run(String bootstrap, String[] args) throws Exception {
        Map<String, List<String>> named = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            String value = arg.substring(eq + 1);
            named.put(arg.substring(0, eq),
                    value.isEmpty() ? List.of() : List.of(value.split(",")));
        }
        List<String> topics = named.getOrDefault("topics", List.of());
        List<String> groups = named.getOrDefault("groups", List.of());
        List<String> txns = named.getOrDefault("txns", List.of());
        List<String> users = named.getOrDefault("users", List.of());
        List<String> broker = named.getOrDefault("broker", List.of());

        List<String> facts = new ArrayList<>();
        try (Admin admin = Admin.create(Out.props(bootstrap))) {
            cluster(admin, facts);
            List<TopicPartition> partitions = topics(admin, topics, facts);
            configs(admin, topics, broker, facts);
            offsets(admin, partitions, facts);
            groups(admin, groups, facts);
            acls(admin, facts);
            transactions(admin, txns, facts);
            producers(admin, partitions, facts);
            scram(admin, users, facts);
        }
        facts.sort(null);
        for (String fact : facts) {
            Out.line(fact);
        }
    }

    private static String join(Object... words) {
        return java.util.Arrays.stream(words).map(String::valueOf).collect(Collectors.joining(" "));
    }

    private static String opt(Optional<?> value) {
        return value.map(String::valueOf).orElse("null");
    }

    private static String opt(OptionalInt value) {
        return value.isPresent() ? String.valueOf(value.getAsInt()) : "null";
    }

    private static String opt(OptionalLong value) {
        return value.isPresent() ? String.valueOf(value.getAsLong()) : "null";
    }

    /** Kafka's base64 topic id as the usual 8-4-4-4-12 hex form. */
    private static String uuid(Uuid id) {
        return new UUID(id.getMostSignificantBits(), id.getLeastSignificantBits()).toString();
    }

    private static String ids(List<Node> nodes) {
        return nodes.stream().map(n -> String.valueOf(n.id())).collect(Collectors.joining(","));
    }

    private static String partitions(Collection<TopicPartition> partitions) {
        return partitions.stream()
                .map(tp -> tp.topic() + ":" + tp.partition())
                .sorted()
                .collect(Collectors.joining(","));
    }

    private static void cluster(Admin admin, List<String> facts) throws Exception {
        DescribeClusterResult cluster = admin.describeCluster();
        facts.add(join("cluster id", cluster.clusterId().get()));
        Node controller = cluster.controller().get();
        facts.add(join("cluster controller", controller == null ? "null" : controller.id()));
        for (Node node : cluster.nodes().get()) {
            facts.add(join("node", node.id(), node.host(), node.port(), node.rack()));
        }
    }

    private static List<TopicPartition> topics(Admin admin, List<String> topics, List<String> facts)
            throws Exception {
        List<TopicPartition> all = new ArrayList<>();
        if (topics.isEmpty()) {
            return all;
        }
        Map<String, TopicDescription> described = admin.describeTopics(topics).allTopicNames().get();
        for (TopicDescription topic : described.values()) {
            facts.add(join("topic", topic.name(), "id", uuid(topic.topicId()), "internal", topic.isInternal()));
            for (TopicPartitionInfo p : topic.partitions()) {
                facts.add(join("partition", topic.name(), p.partition(),
                        "leader", p.leader() == null ? "null" : p.leader().id(),
                        "replicas", ids(p.replicas()), "isr", ids(p.isr())));
                all.add(new TopicPartition(topic.name(), p.partition()));
            }
        }
        return all;
    }

    private static void configs(Admin admin, List<String> topics, List<String> broker, List<String> facts)
            throws Exception {
        List<ConfigResource> resources = new ArrayList<>();
        for (String topic : topics) {
            resources.add(new ConfigResource(ConfigResource.Type.TOPIC, topic));
        }
        for (String id : broker) {
            resources.add(new ConfigResource(ConfigResource.Type.BROKER, id));
        }
        Map<ConfigResource, Config> described = admin.describeConfigs(resources).all().get();
        for (var resource : described.entrySet()) {
            String kind = resource.getKey().type().name().toLowerCase(java.util.Locale.ROOT);
            for (ConfigEntry entry : resource.getValue().entries()) {
                facts.add(join("config", kind, resource.getKey().name(), entry.name(),
                        "source", entry.source(), "read-only", entry.isReadOnly(),
                        "sensitive", entry.isSensitive(), "value", entry.value()));
            }
        }
    }

    private static void offsets(Admin admin, List<TopicPartition> partitions, List<String> facts)
            throws Exception {
        Map<String, OffsetSpec> specs = Map.of(
                "earliest", OffsetSpec.earliest(),
                "latest", OffsetSpec.latest(),
                "max-timestamp", OffsetSpec.maxTimestamp());
        for (var spec : specs.entrySet()) {
            Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
            partitions.forEach(tp -> wanted.put(tp, spec.getValue()));
            Map<TopicPartition, ListOffsetsResultInfo> found = admin.listOffsets(wanted).all().get();
            for (var e : found.entrySet()) {
                ListOffsetsResultInfo info = e.getValue();
                facts.add(join("offset", e.getKey().topic(), e.getKey().partition(), spec.getKey(),
                        "offset", info.offset(), "timestamp", info.timestamp(),
                        "leader-epoch", opt(info.leaderEpoch())));
            }
        }
    }

    private static void groups(Admin admin, List<String> groups, List<String> facts) throws Exception {
        for (GroupListing listing : admin.listGroups().all().get()) {
            if (groups.contains(listing.groupId())) {
                facts.add(join("group-listed", listing.groupId(), "type", opt(listing.type()),
                        "protocol", listing.protocol(), "state", opt(listing.groupState())));
            }
        }
        if (groups.isEmpty()) {
            return;
        }
        Map<String, ConsumerGroupDescription> described = admin.describeConsumerGroups(groups).all().get();
        for (ConsumerGroupDescription group : described.values()) {
            facts.add(join("group", group.groupId(), "state", group.groupState(), "type", group.type(),
                    "assignor", group.partitionAssignor(), "coordinator", group.coordinator().id(),
                    "simple", group.isSimpleConsumerGroup()));
            for (MemberDescription member : group.members()) {
                facts.add(join("member", group.groupId(), member.consumerId(),
                        "client-id", member.clientId(), "host", member.host(),
                        "instance", opt(member.groupInstanceId()),
                        "assignment", partitions(member.assignment().topicPartitions())));
            }
        }
        for (String group : groups) {
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            for (var e : committed.entrySet()) {
                OffsetAndMetadata o = e.getValue();
                facts.add(join("group-offset", group, e.getKey().topic(), e.getKey().partition(),
                        "offset", o == null ? "null" : o.offset(),
                        "leader-epoch", o == null ? "null" : opt(o.leaderEpoch()),
                        "metadata", o == null ? "null" : o.metadata()));
            }
        }
    }

    private static void acls(Admin admin, List<String> facts) throws Exception {
        try {
            for (AclBinding acl : admin.describeAcls(AclBindingFilter.ANY).values().get()) {
                facts.add(join("acl", acl.pattern().resourceType(), acl.pattern().name(),
                        acl.pattern().patternType(), acl.entry().principal(), acl.entry().host(),
                        acl.entry().operation(), acl.entry().permissionType()));
            }
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof SecurityDisabledException)) {
                throw e;
            }
            facts.add("acls disabled");
        }
    }

    private static void transactions(Admin admin, List<String> txns, List<String> facts) throws Exception {
        for (TransactionListing listing : admin.listTransactions().all().get()) {
            if (txns.contains(listing.transactionalId())) {
                facts.add(join("txn-listed", listing.transactionalId(), "producer", listing.producerId(),
                        "state", listing.state()));
            }
        }
        if (txns.isEmpty()) {
            return;
        }
        Map<String, TransactionDescription> described = admin.describeTransactions(txns).all().get();
        for (var e : described.entrySet()) {
            TransactionDescription t = e.getValue();
            facts.add(join("txn", e.getKey(), "coordinator", t.coordinatorId(), "state", t.state(),
                    "producer", t.producerId(), "epoch", t.producerEpoch(),
                    "timeout", t.transactionTimeoutMs(), "start", opt(t.transactionStartTimeMs()),
                    "partitions", partitions(t.topicPartitions())));
        }
    }

    private static void producers(Admin admin, List<TopicPartition> partitions, List<String> facts)
            throws Exception {
        if (partitions.isEmpty()) {
            return;
        }
        var described = admin.describeProducers(partitions).all().get();
        for (var e : described.entrySet()) {
            for (ProducerState p : e.getValue().activeProducers()) {
                facts.add(join("producer", e.getKey().topic(), e.getKey().partition(),
                        "id", p.producerId(), "epoch", p.producerEpoch(),
                        "last-sequence", p.lastSequence(), "last-timestamp", p.lastTimestamp(),
                        "coordinator-epoch", opt(p.coordinatorEpoch()),
                        "txn-start", opt(p.currentTransactionStartOffset())));
            }
        }
    }

    private static void scram(Admin admin, List<String> users, List<String> facts) throws Exception {
        if (users.isEmpty()) {
            return;
        }
        Map<String, UserScramCredentialsDescription> described =
                admin.describeUserScramCredentials(users).all().get();
        for (UserScramCredentialsDescription user : described.values()) {
            for (ScramCredentialInfo info : user.credentialInfos()) {
                facts.add(join("scram", user.name(), info.mechanism(), info.iterations()));
            }
        }
    }
}
