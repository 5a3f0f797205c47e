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
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var outMu sync.Mutex

// line prints one fact, never interleaved with another.
func line(words ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(words...)
}

// fail reports what went wrong and exits non-zero, so the test shows it.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "durian-franz: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "delete" {
		deleteTopic(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 8 || os.Args[1] != "roundtrip" {
		fail("usage: durian-franz roundtrip BOOTSTRAP TOPIC PARTITIONS RECORDS GROUP CODEC | delete BOOTSTRAP TOPIC")
	}
	codec, ok := codecs[os.Args[7]]
	if !ok {
		fail("CODEC: %q is none of none, gzip, snappy, lz4, zstd", os.Args[7])
	}
	bootstrap, topic, group := os.Args[2], os.Args[3], os.Args[6]
	partitions, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail("PARTITIONS: %v", err)
	}
	records, err := strconv.Atoi(os.Args[5])
	if err != nil {
		fail("RECORDS: %v", err)
	}
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
		fail("delete topics: %v", err)
	}
	for _, d := range deleted.Sorted() {
		line("deleted", d.Topic, d.Err)
	}
	topics, err := newAdmin(bootstrap).ListTopics(ctx)
	if err != nil {
		fail("list topics: %v", err)
	}
	line("listed-after", topics.Has(topic))
}

// newAdmin is a kadm client over a new kgo client (which the process's exit
// closes).
func newAdmin(bootstrap string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("admin client: %v", err)
	}
	return kadm.NewClient(cl)
}

func createTopic(ctx context.Context, admin *kadm.Client, topic string, partitions int) {
	if _, err := admin.CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		fail("create topic: %v", err)
	}
	line("created", topic)
	_, err := admin.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	line("create-again", err)
	brokers, err := admin.ListBrokers(ctx)
	if err != nil {
		fail("list brokers: %v", err)
	}
	for _, b := range brokers {
		line("broker", b.NodeID, b.Host, b.Port)
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
		fail("producer: %v", err)
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
		fail("produce: %v", err)
	}
	// The results come in the order the records were acknowledged.
	for _, r := range results {
		line("delivered", index[r.Record], r.Record.Partition, r.Record.Offset)
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
		fail("consumer: %v", err)
	}
	read := 0
	for read < records {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("consume: only %d of %d records before the deadline", read, records)
		}
		fetches.EachError(func(t string, p int32, err error) {
			fail("fetch %s-%d: %v", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			header := ""
			if len(r.Headers) == 1 {
				header = r.Headers[0].Key + "=" + string(r.Headers[0].Value)
			}
			line("read", r.Partition, r.Offset, string(r.Key), string(r.Value), header)
			read++
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			fail("commit: %v", err)
		}
	}
	cl.Close()
	line("closed")
}

func inspect(ctx context.Context, admin *kadm.Client, topic, group string) {
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		fail("fetch offsets: %v", err)
	}
	committed.Each(func(o kadm.OffsetResponse) {
		line("committed", o.Partition, o.At, o.Err)
	})
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		fail("list end offsets: %v", err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		line("end", o.Partition, o.Offset, o.Err)
	})
	listed, err := admin.ListGroups(ctx)
	if err != nil {
		fail("list groups: %v", err)
	}
	for _, g := range listed.Sorted() {
		line("group", g.Group, g.ProtocolType, g.State)
	}
	described, err := admin.DescribeGroups(ctx, group)
	if err != nil {
		fail("describe groups: %v", err)
	}
	for _, g := range described.Sorted() {
		line("described", g.Group, g.State, g.ProtocolType, len(g.Members), g.Err)
	}
}
