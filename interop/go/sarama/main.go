// Command durian-sarama drives IBM/sarama against a Kafka broker the way a
// web-log shipper does, for durian's interop suite (interop/test_go.py),
// printing one fact per line for the test to check:
//
//	durian-sarama weblog BOOTSTRAP KAFKA_VERSION TOPIC PARTITIONS RECORDS GROUP CODEC
//	durian-sarama delete BOOTSTRAP TOPIC
//
// KAFKA_VERSION is sarama's Config.Version (which request versions it
// uses). The ClusterAdmin creates the topic; a SyncProducer with
// RequiredAcks=WaitForAll, the RandomPartitioner and CODEC (none, gzip,
// snappy, lz4 or zstd) sends RECORDS log lines one at a time; a ConsumerGroup member reads them, marking each, and
// closes (committing); the ClusterAdmin then reads the group's commits and
// lists and describes the group. delete: the ClusterAdmin deletes the topic
// (apart, so the test can read what durian stored in between).
package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"durian.dev/interop/internal/cmdline"
	"github.com/IBM/sarama"
)

const prog = cmdline.Program("durian-sarama")

func main() {
	args, run := prog.Command("weblog",
		[]string{"BOOTSTRAP", "KAFKA_VERSION", "TOPIC", "PARTITIONS", "RECORDS", "GROUP", "CODEC"}, deleteTopic)
	if !run {
		return
	}
	var codec sarama.CompressionCodec
	if err := codec.UnmarshalText([]byte(args.Get("CODEC"))); err != nil {
		prog.Fail("CODEC: %v", err)
	}
	bootstrap, topic, group := args.Get("BOOTSTRAP"), args.Get("TOPIC"), args.Get("GROUP")
	version, err := sarama.ParseKafkaVersion(args.Get("KAFKA_VERSION"))
	if err != nil {
		prog.Fail("KAFKA_VERSION: %v", err)
	}
	partitions := args.Int("PARTITIONS")
	records := args.Int("RECORDS")
	config := sarama.NewConfig()
	config.Version = version
	config.ClientID = "durian-weblog"
	brokers := []string{bootstrap}

	admin, err := sarama.NewClusterAdmin(brokers, config)
	if err != nil {
		prog.Fail("cluster admin: %v", err)
	}
	defer admin.Close()
	detail := &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1}
	if err := admin.CreateTopic(topic, detail, false); err != nil {
		prog.Fail("create topic: %v", err)
	}
	cmdline.Line("created", topic)

	ship(brokers, config, topic, records, codec)
	consume(brokers, config, topic, group, records)
	inspect(admin, topic, group, partitions)
}

// logLine is the value of record i: an access-log line.
func logLine(i int) string {
	return fmt.Sprintf("10.0.%d.%d GET /page/%d 200", i/250, i%250, i)
}

// ship sends each line synchronously, as a log shipper does, with
// WaitForAll, the RandomPartitioner and the codec.
func ship(brokers []string, base *sarama.Config, topic string, records int, codec sarama.CompressionCodec) {
	config := *base
	config.Producer.Compression = codec
	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Partitioner = sarama.NewRandomPartitioner
	config.Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducer(brokers, &config)
	if err != nil {
		prog.Fail("sync producer: %v", err)
	}
	for i := 0; i < records; i++ {
		partition, offset, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic: topic,
			Value: sarama.StringEncoder(logLine(i)),
		})
		if err != nil {
			prog.Fail("send %d: %v", i, err)
		}
		cmdline.Line("delivered", i, partition, offset)
	}
	if err := producer.Close(); err != nil {
		prog.Fail("close producer: %v", err)
	}
}

// handler prints and marks every message it is given, and cancels the
// consumption once `want` messages have been seen.
type handler struct {
	seen   atomic.Int64
	want   int64
	cancel context.CancelFunc
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	for topic, partitions := range s.Claims() {
		sorted := slices.Sorted(slices.Values(partitions))
		words := make([]string, len(sorted))
		for i, p := range sorted {
			words[i] = strconv.Itoa(int(p))
		}
		cmdline.Line("claims", topic, strings.Join(words, ","))
	}
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		cmdline.Line("read", msg.Partition, msg.Offset, string(msg.Value))
		s.MarkMessage(msg, "")
		if h.seen.Add(1) >= h.want {
			h.cancel()
		}
	}
	return nil
}

func consume(brokers []string, base *sarama.Config, topic, group string, records int) {
	config := *base
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	consumerGroup, err := sarama.NewConsumerGroup(brokers, group, &config)
	if err != nil {
		prog.Fail("consumer group: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	deadline := time.AfterFunc(90*time.Second, cancel)
	h := &handler{want: int64(records), cancel: cancel}
	for ctx.Err() == nil {
		err := consumerGroup.Consume(ctx, []string{topic}, h)
		if err != nil && !errors.Is(err, context.Canceled) {
			prog.Fail("consume: %v", err)
		}
	}
	deadline.Stop()
	if got := h.seen.Load(); got < h.want {
		prog.Fail("consume: only %d of %d records before the deadline", got, h.want)
	}
	// Close commits the marked offsets and leaves the group.
	if err := consumerGroup.Close(); err != nil {
		prog.Fail("close consumer group: %v", err)
	}
	cmdline.Line("closed")
}

func inspect(admin sarama.ClusterAdmin, topic, group string, partitions int) {
	all := make([]int32, partitions)
	for p := range all {
		all[p] = int32(p)
	}
	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: all})
	if err != nil {
		prog.Fail("list consumer group offsets: %v", err)
	}
	for _, p := range all {
		block := offsets.GetBlock(topic, p)
		if block == nil {
			prog.Fail("no committed offset for partition %d", p)
		}
		cmdline.Line("committed", p, block.Offset, int16(block.Err))
	}
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		prog.Fail("list consumer groups: %v", err)
	}
	for name, protocolType := range groups {
		cmdline.Line("group", name, protocolType)
	}
	described, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		prog.Fail("describe consumer groups: %v", err)
	}
	for _, g := range described {
		cmdline.Line("described", g.GroupId, g.State, g.ProtocolType, len(g.Members), int16(g.Err))
	}
}

// deleteTopic deletes the topic with sarama's default configuration.
func deleteTopic(bootstrap, topic string) {
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, sarama.NewConfig())
	if err != nil {
		prog.Fail("cluster admin: %v", err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic(topic); err != nil {
		prog.Fail("delete topic: %v", err)
	}
	cmdline.Line("deleted", topic)
}
