// Command durian-franz drives franz-go (kgo and kadm) against a Kafka broker
// for durian's interop suite (interop/test_go.py), printing one fact per
// line for the test to check:
//
//	durian-franz roundtrip BOOTSTRAP TOPIC PARTITIONS RECORDS GROUP CODEC
//	durian-franz delete BOOTSTRAP TOPIC
//
// roundtrip: kadm creates the topic (and is refused a second time); an
// idempotent kgo producer (acks=all, batches compressed with CODEC: none,
// gzip, snappy, lz4 or zstd) sends RECORDS keyed records with
// a header; a kgo group consumer reads them, committing after every poll,
// and leaves; kadm then reads the group's commits and the end offsets, and
// lists and describes the group. delete: kadm deletes the topic, and a new
// client lists the topics. (Two commands, so the test can read what durian
// stored in between.)
package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"durian.dev/interop/internal/cmdline"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const prog = cmdline.Program("durian-franz")

func main() {
	args, run := prog.Command("roundtrip",
		[]string{"BOOTSTRAP", "TOPIC", "PARTITIONS", "RECORDS", "GROUP", "CODEC"}, deleteTopic)
	if !run {
		return
	}
	codec, ok := codecs[args.Get("CODEC")]
	if !ok {
		prog.Fail("CODEC: %q is none of none, gzip, snappy, lz4, zstd", args.Get("CODEC"))
	}
	bootstrap, topic, group := args.Get("BOOTSTRAP"), args.Get("TOPIC"), args.Get("GROUP")
	partitions := args.Int("PARTITIONS")
	records := args.Int("RECORDS")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin := newAdmin(bootstrap)

	createTopic(ctx, admin, topic, partitions)
	produce(ctx, bootstrap, topic, records, codec)
	consume(ctx, bootstrap, topic, group, records)
	inspect(ctx, admin, topic, group)
}

// deleteTopic deletes the topic, then asks a new client whether it is still
// listed. A new one, because kadm answers ListTopics from its client's
// metadata cache (up to MetadataMinAge, 5 s, old), which would predate the
// deletion.
func deleteTopic(bootstrap, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deleted, err := newAdmin(bootstrap).DeleteTopics(ctx, topic)
	if err != nil {
		prog.Fail("delete topics: %v", err)
	}
	for _, d := range deleted.Sorted() {
		cmdline.Line("deleted", d.Topic, d.Err)
	}
	topics, err := newAdmin(bootstrap).ListTopics(ctx)
	if err != nil {
		prog.Fail("list topics: %v", err)
	}
	cmdline.Line("listed-after", topics.Has(topic))
}

// newAdmin is a kadm client over a new kgo client (which the process's exit
// closes).
func newAdmin(bootstrap string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		prog.Fail("admin client: %v", err)
	}
	return kadm.NewClient(cl)
}

func createTopic(ctx context.Context, admin *kadm.Client, topic string, partitions int) {
	if _, err := admin.CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		prog.Fail("create topic: %v", err)
	}
	cmdline.Line("created", topic)
	_, err := admin.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	cmdline.Line("create-again", err)
	brokers, err := admin.ListBrokers(ctx)
	if err != nil {
		prog.Fail("list brokers: %v", err)
	}
	for _, b := range brokers {
		cmdline.Line("broker", b.NodeID, b.Host, b.Port)
	}
}

// codecs are the batch compressions by their Kafka names.
var codecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// produce sends the records with kgo's defaults for durability (idempotent,
// acks=all) in batches compressed with codec.
func produce(ctx context.Context, bootstrap, topic string, records int, codec kgo.CompressionCodec) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		prog.Fail("producer: %v", err)
	}
	defer cl.Close()
	batch := make([]*kgo.Record, records)
	index := make(map[*kgo.Record]int, records)
	for i := range batch {
		batch[i] = &kgo.Record{
			Topic:   topic,
			Key:     []byte(fmt.Sprintf("k%d", i%40)),
			Value:   []byte(fmt.Sprintf("franz-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
		}
		index[batch[i]] = i
	}
	results := cl.ProduceSync(ctx, batch...)
	if err := results.FirstErr(); err != nil {
		prog.Fail("produce: %v", err)
	}
	// The results come in the order the records were acknowledged.
	for _, r := range results {
		cmdline.Line("delivered", index[r.Record], r.Record.Partition, r.Record.Offset)
	}
}

// consume reads every record as a group member, committing after each poll,
// then leaves the group by closing the client.
func consume(ctx context.Context, bootstrap, topic, group string, records int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		prog.Fail("consumer: %v", err)
	}
	read := 0
	for read < records {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			prog.Fail("consume: only %d of %d records before the deadline", read, records)
		}
		fetches.EachError(func(t string, p int32, err error) {
			prog.Fail("fetch %s-%d: %v", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			header := ""
			if len(r.Headers) == 1 {
				header = r.Headers[0].Key + "=" + string(r.Headers[0].Value)
			}
			cmdline.Line("read", r.Partition, r.Offset, string(r.Key), string(r.Value), header)
			read++
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			prog.Fail("commit: %v", err)
		}
	}
	cl.Close()
	cmdline.Line("closed")
}

func inspect(ctx context.Context, admin *kadm.Client, topic, group string) {
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		prog.Fail("fetch offsets: %v", err)
	}
	committed.Each(func(o kadm.OffsetResponse) {
		cmdline.Line("committed", o.Partition, o.At, o.Err)
	})
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		prog.Fail("list end offsets: %v", err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		cmdline.Line("end", o.Partition, o.Offset, o.Err)
	})
	listed, err := admin.ListGroups(ctx)
	if err != nil {
		prog.Fail("list groups: %v", err)
	}
	for _, g := range listed.Sorted() {
		cmdline.Line("group", g.Group, g.ProtocolType, g.State)
	}
	described, err := admin.DescribeGroups(ctx, group)
	if err != nil {
		prog.Fail("describe groups: %v", err)
	}
	for _, g := range described.Sorted() {
		cmdline.Line("described", g.Group, g.State, g.ProtocolType, len(g.Members), g.Err)
	}
}
