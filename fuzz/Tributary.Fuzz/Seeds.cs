using System.Text;
using Tributary.Broker.Groups;
using Tributary.Broker.Metadata;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;

namespace Tributary.Fuzz;

/// <summary>
/// Writes the seed corpus of every target (committed under fuzz/corpus/): request frames captured from kcat and
/// kafkajs (tests/Tributary.Protocol.Tests/Golden), the record batches they produced, and records and snapshots
/// written by the broker's own encoders, so the fuzzer starts from what real clients and brokers write.
/// </summary>
public static class Seeds
{
    public static void Write(string goldenDirectory, string corpusDirectory)
    {
        var golden = Directory.GetFiles(goldenDirectory, "*.bin").Order(StringComparer.Ordinal)
            .Select(path => (Name: Path.GetFileNameWithoutExtension(path), Frame: File.ReadAllBytes(path))).ToList();

        var frames = Target(corpusDirectory, "frame");
        foreach (var (name, frame) in golden)
        {
            Save(frames, name, RequestFrames.Prefixed([frame]));
        }

        // Whole sessions, in the order each client sent them, and an administrator's.
        foreach (var client in new[] { "kcat", "kafkajs" })
        {
            Save(frames, $"{client}-session", RequestFrames.Prefixed(golden.Where(g => g.Name.StartsWith(client + "-", StringComparison.Ordinal)).Select(g => g.Frame)));
        }

        Save(frames, "admin-session", RequestFrames.Prefixed(
        [
            RequestFrames.Encode(ApiKey.CreateTopics, 7, new CreateTopicsRequest
            {
                Topics = [new CreateTopicsRequest.CreatableTopic { Name = "seed", NumPartitions = 2, ReplicationFactor = 1, Configs = [new CreateTopicsRequest.CreatableTopicConfig { Name = "retention.ms", Value = "60000" }] }],
            }),
            RequestFrames.Encode(ApiKey.Produce, 9, new ProduceRequest
            {
                Acks = -1,
                TimeoutMs = 1000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = "seed", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 1, Records = Batch(CompressionType.Gzip) }] }],
            }, 2),
            RequestFrames.Encode(ApiKey.Metadata, 12, new MetadataRequest { Topics = null }, 3),
            RequestFrames.Encode(ApiKey.DescribeConfigs, 4, new DescribeConfigsRequest
            {
                Resources = [new DescribeConfigsRequest.DescribeConfigsResource { ResourceType = 2, ResourceName = "seed", ConfigurationKeys = null }],
                IncludeSynonyms = true,
            }, 4),
        ]));

        var batches = Target(corpusDirectory, "batch");
        foreach (var (name, frame) in golden.Where(g => g.Name.Contains("-00-", StringComparison.Ordinal)))
        {
            var reader = new KafkaReader(frame);
            var header = RequestHeader.Read(ref reader, 1);
            var produce = ProduceRequest.Read(ref reader, header.RequestApiVersion);
            var records = produce.TopicData.SelectMany(t => t.PartitionData).Select(p => p.Records).First(r => r is { Length: > 0 })!.Value;
            Save(batches, name, [0x00, .. records.Span]);
        }

        foreach (var codec in Enum.GetValues<CompressionType>())
        {
            Save(batches, $"built-{codec}".ToLowerInvariant(), [0x03, .. Batch(codec)]);
            if (codec != CompressionType.None)
            {
                var compressed = new System.Buffers.ArrayBufferWriter<byte>();
                CompressionCodec.Compress(codec, Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("tributary ", 64))), compressed);
                Save(batches, $"raw-{codec}".ToLowerInvariant(), [(byte)(0x04 | (((int)codec - 1) << 3)), .. compressed.WrittenSpan]);
            }
        }

        var marker = new RecordBatchBuilder { IsControl = true, IsTransactional = true, ProducerId = 7, ProducerEpoch = 0 };
        var commit = new EndTransactionMarker(ControlRecordType.Commit, 0);
        marker.Add(1_000, commit.EncodeKey(), commit.EncodeValue());
        Save(batches, "control-commit", [0x03, .. marker.Build()]);

        var topicId = Guid.Parse("6f1d8a3e-58b2-4c0e-9d57-0a8f3b1c2d4e");
        var internals = Target(corpusDirectory, "internal");
        Save(internals, "offsets", [0x00, .. InternalTopicsTarget.Join(
        [
            (OffsetsTopicFormat.OffsetKey("group-1", "orders", 0), OffsetsTopicFormat.OffsetValue(new CommittedOffset(42, 3, "meta", 1_000))),
            (OffsetsTopicFormat.OffsetKey("group-1", "orders", 1), null),
            (OffsetsTopicFormat.GroupKey("group-1"), OffsetsTopicFormat.GroupValue(new OffsetsTopicFormat.GroupSnapshot("consumer", 2, "range", "member-1", 1_000,
                [new OffsetsTopicFormat.MemberSnapshot("member-1", null, "client-1", "/127.0.0.1", 30_000, 10_000, [0, 1, 2], [3, 4])]))),
            .. OffsetsTopicFormat.ConsumerGroupRecords("group-2", new OffsetsTopicFormat.ConsumerGroupSnapshot(3, 3, "uniform", [(topicId, 2)]), _ => "orders"),
            (OffsetsTopicFormat.ConsumerMemberKey("group-2", "member-2"), OffsetsTopicFormat.ConsumerMemberValue(new OffsetsTopicFormat.ConsumerMemberMetadata(
                null, null, "client-2", "/127.0.0.1", 30_000, ["orders"], "uniform"))),
            (OffsetsTopicFormat.ConsumerAssignmentKey("group-2", "member-2"), OffsetsTopicFormat.ConsumerAssignmentValue(new OffsetsTopicFormat.ConsumerMemberAssignment(
                3, 2, false, [(topicId, [0])], [(topicId, [1])]))),
            (OffsetsTopicFormat.ConsumerTargetKey("group-2", "member-2"), OffsetsTopicFormat.ConsumerTargetValue([(topicId, [0, 1])])),
        ])]);

        var transaction = new TransactionMetadata("tx-1") { ProducerId = 7, ProducerEpoch = 1, TimeoutMs = 60_000, State = TransactionState.PrepareCommit, StartTimeMs = 1_000, LastUpdateMs = 2_000 };
        transaction.Partitions.Add(("orders", 0));
        transaction.Groups.Add("group-1");
        Save(internals, "transactions", [0x01, .. InternalTopicsTarget.Join(
        [
            (TransactionStateFormat.Key("tx-1"), TransactionStateFormat.Value(transaction)),
            (TransactionStateFormat.Key("tx-2"), null),
        ])]);

        var device = new MemoryLogDevice();
        var directory = Path.Combine(Path.GetTempPath(), "tributary-fuzz-seed");
        var store = new MetadataStore(directory, device);
        store.Create("orders", 3, new Dictionary<string, string> { ["cleanup.policy"] = "compact", ["segment.bytes"] = "1048576" });
        store.Create("events", 1, new Dictionary<string, string>());
        Save(Target(corpusDirectory, "metadata"), "snapshot", device.ReadAllBytes(Path.Combine(directory, MetadataStore.FileName)));
    }

    /// <summary>A batch of three records (keys, a header, a null value) compressed with <paramref name="codec"/>.</summary>
    private static byte[] Batch(CompressionType codec)
    {
        var builder = new RecordBatchBuilder { Compression = codec };
        builder.Add(1_000, "k1"u8.ToArray(), "v1"u8.ToArray(), [("trace", "t1"u8.ToArray())]);
        builder.Add(1_001, "k2"u8.ToArray(), null);
        builder.Add(1_002, null, Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("value ", 20))));
        return builder.Build();
    }

    private static string Target(string corpusDirectory, string target)
    {
        var directory = Path.Combine(corpusDirectory, target);
        Directory.CreateDirectory(directory);
        return directory;
    }

    private static void Save(string directory, string name, byte[] bytes) => File.WriteAllBytes(Path.Combine(directory, name + ".bin"), bytes);
}
