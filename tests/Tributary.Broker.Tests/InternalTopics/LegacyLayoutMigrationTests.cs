using Tributary.Broker.Config;
using Tributary.Broker.Groups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Tests.InternalTopics;

/// <summary>
/// Broker tier, on disk: a data directory whose internal topics hold Tributary's former record layout (written with
/// <see cref="LegacyLayoutWriter"/>, the encoder of that release) opens with the same groups, offsets and transactions,
/// is rewritten in Kafka's format once, and loads the same again; a directory left by a rewrite cut short at any
/// step opens to the same state.
/// </summary>
public sealed class LegacyLayoutMigrationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-migration-").FullName;
    private readonly ManualTimeProvider _time = new();
    private Guid _topicId;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_directory_in_the_old_layout_opens_to_the_same_state_and_is_rewritten_in_Kafkas_format_once()
    {
        var (offsetsEnd, transactionsEnd) = WriteOldDirectory();

        using (var broker = Open())
        {
            AssertState(broker);
            var offsets = Log(broker, OffsetsTopicStore.TopicName);
            Assert.Equal(offsetsEnd, offsets.LogStartOffset);
            var records = ReadAll(offsets);
            Assert.All(records, r => Assert.NotNull(OffsetsTopicFormat.Decode(r.Key, r.Value)));
            Assert.Contains(records, r => OffsetsTopicFormat.Decode(r.Key, r.Value) is OffsetsTopicFormat.OffsetEntry { Group: "classic", Partition: 0 });

            var transactions = Log(broker, TransactionStateStore.TopicName);
            Assert.Equal(transactionsEnd, transactions.LogStartOffset);
            // The transaction's offsets, kept in its own record by the old release, are now its transactional batch in
            // __consumer_offsets, and its record lists that partition as Kafka's does.
            var ongoing = ReadAll(transactions).Select(r => TransactionStateFormat.Decode(r.Key, r.Value)!.Value).Last(t => t.TransactionalId == "tx-ongoing").State!;
            Assert.Equal(["classic"], ongoing.Groups);
            Assert.Empty(ongoing.LegacyPendingOffsets);
            var pending = Assert.Single(ReadAllBatches(offsets), b => b.IsTransactional);
            Assert.Equal((7L, (short)1), (pending.ProducerId, pending.ProducerEpoch));
        }

        Assert.Equal($"{offsetsEnd}\n", File.ReadAllText(Path.Combine(_directory, "__consumer_offsets.kafka-format")));
        long rewrittenEnd;
        using (var broker = Open())
        {
            AssertState(broker);
            var offsets = Log(broker, OffsetsTopicStore.TopicName);
            rewrittenEnd = offsets.LogEndOffset;
            Assert.Equal(offsetsEnd, offsets.LogStartOffset);
        }

        // A third start finds nothing left to rewrite: the log neither grows nor moves its start.
        using (var broker = Open())
        {
            Assert.Equal((offsetsEnd, rewrittenEnd), (Log(broker, OffsetsTopicStore.TopicName).LogStartOffset, Log(broker, OffsetsTopicStore.TopicName).LogEndOffset));
        }
    }

    // A crash during the rewrite: after the marker was stored, with none, some or all of the live state appended, and
    // before the old records were deleted.
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void A_rewrite_cut_short_after_the_marker_opens_to_the_same_state(int kafkaRecordsAppended)
    {
        var (offsetsEnd, _) = WriteOldDirectory((log, end) =>
        {
            File.WriteAllText(Path.Combine(_directory, "__consumer_offsets.kafka-format"), $"{end}\n");
            var kafka = new List<(byte[] Key, byte[]? Value)>
            {
                (OffsetsTopicFormat.OffsetKey("classic", "orders", 0), OffsetsTopicFormat.OffsetValue(new CommittedOffset(42, 3, "m", 1_000))),
                (OffsetsTopicFormat.ConsumerGroupKey("kip848"), OffsetsTopicFormat.ConsumerGroupValue(new OffsetsTopicFormat.ConsumerGroupMetadata(3, "uniform"))),
                (OffsetsTopicFormat.GroupKey("classic"), OffsetsTopicFormat.GroupValue(new OffsetsTopicFormat.GroupSnapshot("consumer", 2, "range", "member-1", 1_000,
                    [new OffsetsTopicFormat.MemberSnapshot("member-1", "static-1", "client-1", "/127.0.0.1", 30_000, 10_000, [0, 1, 2], [3, 4])]))),
            };
            Append(log, [.. kafka.Take(kafkaRecordsAppended)]);
        });

        using (var broker = Open())
        {
            AssertState(broker);
            // The rewrite ran again: everything below the log end it found (old records and the partial state) is gone.
            Assert.Equal(offsetsEnd + kafkaRecordsAppended, Log(broker, OffsetsTopicStore.TopicName).LogStartOffset);
        }

        using (var broker = Open())
        {
            AssertState(broker);
        }
    }

    // The disk refuses the log start offset checkpoint, so the old records cannot be deleted: the broker carries on
    // with the state it loaded and the next start finishes the rewrite.
    [Fact]
    public void A_rewrite_that_cannot_delete_the_old_records_is_finished_at_the_next_start()
    {
        var (offsetsEnd, _) = WriteOldDirectory();
        var device = new FaultyDevice(FileLogDevice.Instance) { Refuses = path => path.Contains("log-start-offset.checkpoint", StringComparison.Ordinal) };
        using (var broker = new TestBroker(new BrokerConfig(), _time, _directory, device))
        {
            AssertState(broker);
        }

        using (var broker = Open())
        {
            AssertState(broker);
            var log = Log(broker, OffsetsTopicStore.TopicName);
            Assert.True(log.LogStartOffset > offsetsEnd, $"log start {log.LogStartOffset} is not above the old records' end {offsetsEnd}");
            Assert.All(ReadAll(log), r => Assert.NotNull(OffsetsTopicFormat.Decode(r.Key, r.Value)));
        }
    }

    [Fact]
    public void A_new_directory_stores_the_marker_before_its_first_record()
    {
        using (var broker = Open())
        {
            broker.CreateTopic("orders");
            Assert.Equal([ErrorCode.None], broker.Core.Groups.CommitOffsets("g", -1, "", null, [new OffsetCommitEntry("orders", 0, 9, -1, "x")], apiVersion: 9));
        }

        Assert.Equal("0\n", File.ReadAllText(Path.Combine(_directory, "__consumer_offsets.kafka-format")));
        using (var broker = Open())
        {
            Assert.Equal(9, broker.Core.Groups.FetchOffsets("g")[("orders", 0)].Offset);
            Assert.Equal(0, Log(broker, OffsetsTopicStore.TopicName).LogStartOffset);
        }
    }

    /// <summary>
    /// Writes both internal topics as the former release did (on a broker whose coordinators found nothing to load, so
    /// nothing reads them before the next start), then hands the offsets log and its end to <paramref name="after"/>;
    /// returns the logs' end offsets after the old records.
    /// </summary>
    private (long Offsets, long Transactions) WriteOldDirectory(Action<PartitionLog, long>? after = null)
    {
        // The old release created its internal topics with one partition; later starts (with the default count) keep it.
        using var broker = new TestBroker(new BrokerConfig { OffsetsTopicNumPartitions = 1, TransactionStateLogNumPartitions = 1 }, _time, _directory);
        _topicId = broker.CreateTopic("orders", 3).Id;
        var offsets = broker.Core.OpenInternalLog(OffsetsTopicStore.TopicName, 0).Log;
        Append(offsets,
        [
            (LegacyLayoutWriter.OffsetKey("classic", "orders", 0), LegacyLayoutWriter.OffsetValue(new CommittedOffset(41, 3, "m", 900))),
            (LegacyLayoutWriter.OffsetKey("classic", "orders", 0), LegacyLayoutWriter.OffsetValue(new CommittedOffset(42, 3, "m", 1_000))),
            (LegacyLayoutWriter.OffsetKey("classic", "orders", 1), LegacyLayoutWriter.OffsetValue(new CommittedOffset(7, -1, "", 1_000))),
            (LegacyLayoutWriter.OffsetKey("classic", "orders", 1), null),
            (LegacyLayoutWriter.GroupKey("classic"), LegacyLayoutWriter.GroupValue(new OffsetsTopicFormat.GroupSnapshot("consumer", 2, "range", "member-1", 1_000,
                [new OffsetsTopicFormat.MemberSnapshot("member-1", "static-1", "client-1", "/127.0.0.1", 30_000, 10_000, [0, 1, 2], [3, 4])]))),
            (LegacyLayoutWriter.ConsumerGroupKey("kip848"), LegacyLayoutWriter.ConsumerGroupValue(new OffsetsTopicFormat.ConsumerGroupSnapshot(3, 3, "uniform", [(_topicId, 3)]))),
            (LegacyLayoutWriter.ConsumerMemberKey("kip848", "member-2"), LegacyLayoutWriter.ConsumerMemberValue(
                new OffsetsTopicFormat.ConsumerMemberMetadata(null, "rack-a", "client-2", "/127.0.0.1", 30_000, ["orders"], "uniform"),
                new OffsetsTopicFormat.ConsumerMemberAssignment(3, 2, false, [(_topicId, [0, 1])], [(_topicId, [2])]))),
            (LegacyLayoutWriter.ConsumerTargetKey("kip848", "member-2"), LegacyLayoutWriter.ConsumerTargetValue([(_topicId, [0, 1])])),
            (LegacyLayoutWriter.ConsumerGroupKey("deleted"), LegacyLayoutWriter.ConsumerGroupValue(new OffsetsTopicFormat.ConsumerGroupSnapshot(1, 1, "range", []))),
            (LegacyLayoutWriter.ConsumerGroupKey("deleted"), null),
        ]);

        var ongoing = new TransactionMetadata("tx-ongoing") { ProducerId = 7, ProducerEpoch = 1, TimeoutMs = 60_000, State = TransactionState.Ongoing, StartTimeMs = 1_000, LastUpdateMs = 2_000 };
        ongoing.Partitions.Add(("orders", 0));
        ongoing.Groups.Add("classic");
        ongoing.LegacyPendingOffsets[("classic", "orders", 1)] = new OffsetCommitEntry("orders", 1, 11, -1, null);
        var done = new TransactionMetadata("tx-done") { ProducerId = 8, ProducerEpoch = 4, TimeoutMs = 30_000, State = TransactionState.CompleteCommit, LastUpdateMs = 3_000 };
        var transactions = broker.Core.OpenInternalLog(TransactionStateStore.TopicName, 0).Log;
        Append(transactions,
        [
            (LegacyLayoutWriter.TransactionKey("tx-ongoing"), LegacyLayoutWriter.TransactionValue(ongoing)),
            (LegacyLayoutWriter.TransactionKey("tx-done"), LegacyLayoutWriter.TransactionValue(done)),
        ]);
        var ends = (offsets.LogEndOffset, transactions.LogEndOffset);
        after?.Invoke(offsets, ends.Item1);
        return ends;
    }

    private void AssertState(TestBroker broker)
    {
        var offsets = broker.Core.Groups.FetchOffsets("classic");
        Assert.Equal(new CommittedOffset(42, 3, "m", 1_000), offsets[("orders", 0)]);
        Assert.False(offsets.ContainsKey(("orders", 1)));

        var classic = broker.Core.Groups.DescribeGroup("classic");
        Assert.Equal((GroupState.Stable, "consumer", "range"), (classic.State, classic.ProtocolType, classic.ProtocolName));
        var member = Assert.Single(classic.Members);
        Assert.Equal(("member-1", "static-1", "client-1"), (member.MemberId, member.GroupInstanceId, member.ClientId));
        Assert.Equal([3, 4], member.Assignment);

        var kip848 = broker.Core.Groups.DescribeConsumerGroup("kip848")!;
        Assert.Equal((3, 3, "uniform"), (kip848.GroupEpoch, kip848.AssignmentEpoch, kip848.AssignorName));
        var m = Assert.Single(kip848.Members);
        Assert.Equal(("member-2", "rack-a", 3, "client-2"), (m.MemberId, m.RackId, m.MemberEpoch, m.ClientId));
        Assert.Equal(["orders"], m.SubscribedTopicNames);
        Assert.Equal([0, 1], Assert.Single(m.Assignment).Partitions);
        Assert.Equal([0, 1], Assert.Single(m.TargetAssignment).Partitions);
        Assert.Null(broker.Core.Groups.DescribeConsumerGroup("deleted"));

        var ongoing = broker.Core.Transactions.Describe("tx-ongoing")!;
        Assert.Equal((7L, (short)1, TransactionState.Ongoing, 1_000L), (ongoing.ProducerId, ongoing.ProducerEpoch, ongoing.State, ongoing.StartTimeMs));
        Assert.Equal([(OffsetsTopicStore.TopicName, 0), ("orders", 0)], ongoing.Partitions);
        Assert.True(broker.Core.Groups.HasPendingTransactionalOffset("classic", "orders", 1));
        Assert.Equal((8L, (short)4, TransactionState.CompleteCommit), broker.Core.Transactions.Describe("tx-done") is { } d ? (d.ProducerId, d.ProducerEpoch, d.State) : default);
    }

    /// <summary>A broker on the test's directory and clock (which never moves, so no session or transaction times out).</summary>
    private TestBroker Open() => new(new BrokerConfig(), _time, _directory);

    private static PartitionLog Log(TestBroker broker, string name) => broker.Core.FindLog(broker.Topic(name), 0)!;

    private static void Append(PartitionLog log, IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        var builder = new RecordBatchBuilder();
        foreach (var (key, value) in records)
        {
            builder.Add(0, key, value);
        }

        log.Append(builder.Build());
    }

    private static List<(byte[] Key, byte[]? Value)> ReadAll(PartitionLog log)
    {
        var records = new List<(byte[] Key, byte[]? Value)>();
        var read = log.Read(log.LogStartOffset, new LogReadOptions(1 << 20));
        for (var remaining = read.Records; !remaining.IsEmpty;)
        {
            var batch = RecordBatch.Read(remaining);
            remaining = remaining[batch.Header.TotalSize..];
            foreach (var record in batch.Records)
            {
                records.Add((record.Key!.Value.ToArray(), record.Value?.ToArray()));
            }
        }

        return records;
    }

    private static List<RecordBatchHeader> ReadAllBatches(PartitionLog log)
    {
        var batches = new List<RecordBatchHeader>();
        var read = log.Read(log.LogStartOffset, new LogReadOptions(1 << 20));
        for (var remaining = read.Records; !remaining.IsEmpty;)
        {
            var batch = RecordBatch.Read(remaining);
            remaining = remaining[batch.Header.TotalSize..];
            batches.Add(batch.Header);
        }

        return batches;
    }
}
