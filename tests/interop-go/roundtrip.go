// Sarama (Debian's golang-github-shopify-sarama-dev 1.22) against Tributary: a producer with sarama's defaults
// (its record batches leave the max timestamp at -1), ListOffsets by timestamp, DescribeConfigs, and a consumer
// group that reads every message and commits. Built offline by the interop test (GOPATH=/usr/share/gocode,
// GO111MODULE=off). Prints one JSON line of what it saw; exits non-zero on any error.
//
// Usage: roundtrip <bootstrap> <topic> <group> <count> [protocol version, default 2.0.0]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type result struct {
	Produced        int    `json:"produced"`
	FirstTimestamp  int64  `json:"firstTimestampMs"`
	OffsetForTime   int64  `json:"offsetForTime"`
	CleanupPolicy   string `json:"cleanupPolicy"`
	ConfigEntries   int    `json:"configEntries"`
	Read            int    `json:"read"`
	CommittedOffset int64  `json:"committedOffset"`
}

func main() {
	if len(os.Args) != 5 && len(os.Args) != 6 {
		fail(fmt.Errorf("usage: roundtrip <bootstrap> <topic> <group> <count> [version]"))
	}
	brokers := []string{os.Args[1]}
	topic, group := os.Args[2], os.Args[3]
	count, err := strconv.Atoi(os.Args[4])
	check(err)

	// Sarama's defaults, but for the protocol version: its default (0.8.2) predates record batches, which Kafka 4
	// refuses as Tributary does; 0.11.0 is the oldest whose Produce sends them.
	config := sarama.NewConfig()
	config.Version = sarama.V2_0_0_0
	if len(os.Args) == 6 {
		config.Version, err = sarama.ParseKafkaVersion(os.Args[5])
		check(err)
	}
	config.Producer.Return.Successes = true
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	out := result{}

	admin, err := sarama.NewClusterAdmin(brokers, config)
	check(err)
	check(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false))

	// One send of all messages, so they share one batch: one second apart, ListOffsets must find the record.
	producer, err := sarama.NewSyncProducer(brokers, config)
	check(err)
	first := time.Now().Add(-time.Hour).Truncate(time.Second)
	messages := make([]*sarama.ProducerMessage, count)
	for i := range messages {
		messages[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder("m" + strconv.Itoa(i)), Timestamp: first.Add(time.Duration(i) * time.Second)}
	}
	check(producer.SendMessages(messages))
	check(producer.Close())
	out.Produced = count
	out.FirstTimestamp = first.UnixNano() / int64(time.Millisecond)

	client, err := sarama.NewClient(brokers, config)
	check(err)
	defer client.Close()
	target := first.Add(10*time.Second + 500*time.Millisecond)
	out.OffsetForTime, err = client.GetOffset(topic, 0, target.UnixNano()/int64(time.Millisecond))
	check(err)

	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	check(err)
	out.ConfigEntries = len(entries)
	for _, entry := range entries {
		if entry.Name == "cleanup.policy" {
			out.CleanupPolicy = entry.Value
		}
	}
	check(admin.Close())

	consumers, err := sarama.NewConsumerGroupFromClient(group, client)
	check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	handler := &reader{want: count, done: cancel}
	check(consumers.Consume(ctx, []string{topic}, handler))
	check(consumers.Close())
	out.Read = handler.read

	offsets, err := sarama.NewOffsetManagerFromClient(group, client)
	check(err)
	partition, err := offsets.ManagePartition(topic, 0)
	check(err)
	out.CommittedOffset, _ = partition.NextOffset()
	check(partition.Close())
	check(offsets.Close())

	line, err := json.Marshal(out)
	check(err)
	fmt.Println(string(line))
}

// reader marks every message and ends the session once it has read the wanted count; the session's end commits.
type reader struct {
	mu   sync.Mutex
	want int
	read int
	done context.CancelFunc
}

func (r *reader) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (r *reader) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (r *reader) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for message := range claim.Messages() {
		session.MarkMessage(message, "")
		r.mu.Lock()
		r.read++
		finished := r.read >= r.want
		r.mu.Unlock()
		if finished {
			r.done()
			return nil
		}
	}
	return nil
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "roundtrip:", err)
	os.Exit(1)
}
