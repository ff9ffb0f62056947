using Tributary.Broker.Groups;
using Tributary.Broker.Tests.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>
/// TxnOffsetCommit as Kafka keeps it: the offsets are a transactional batch of the producer in __consumer_offsets,
/// EndTxn writes the marker there, and a restart resolves them by the markers it finds.
/// </summary>
public sealed class TransactionalOffsetsTests
{
    private const string Group = "g";

    private static async Task<(long ProducerId, short Epoch)> SendOffsetsAsync(TransactionTestBroker broker, string transactionalId, int partition, long offset, string group = Group)
    {
        var (error, producerId, epoch) = await broker.InitAsync(transactionalId);
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(ErrorCode.None, await broker.SendOffsetsAsync(transactionalId, producerId, epoch, group, partition, offset));
        return (producerId, epoch);
    }

    private static async Task<OffsetFetchResponse.OffsetFetchResponsePartition> FetchStableAsync(TransactionTestBroker broker, int partition)
    {
        var response = await GroupTestBroker.CallAsync(broker.OffsetFetch, new OffsetFetchRequest
        {
            GroupId = Group,
            RequireStable = true,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = TransactionTestBroker.Topic, PartitionIndexes = [partition] }],
        }, 7);
        return response.Topics.Single().Partitions.Single();
    }

    private static List<RecordBatchHeader> OffsetsBatches(TransactionTestBroker broker)
    {
        var log = broker.Broker.FindLog(broker.Broker.Metadata.Find(OffsetsTopicStore.TopicName)!, broker.Broker.Groups.CoordinatorPartitionFor(Group))!;
        var batches = new List<RecordBatchHeader>();
        var read = log.Read(log.LogStartOffset, new LogReadOptions(1 << 20));
        for (var remaining = read.Records; !remaining.IsEmpty;)
        {
            var header = RecordBatchHeader.Read(remaining.Span);
            batches.Add(header);
            remaining = remaining[header.TotalSize..];
        }

        return batches;
    }

    [Fact]
    public async Task TxnOffsetCommit_is_a_transactional_batch_and_EndTxn_writes_its_marker_to_consumer_offsets()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await SendOffsetsAsync(broker, "tx", partition: 0, offset: 20);

        var pending = Assert.Single(OffsetsBatches(broker));
        Assert.Equal((true, false, producerId, epoch), (pending.IsTransactional, pending.IsControl, pending.ProducerId, pending.ProducerEpoch));
        Assert.Equal((short)ErrorCode.UnstableOffsetCommit, (await FetchStableAsync(broker, 0)).ErrorCode);
        Assert.Equal([(OffsetsTopicStore.TopicName, broker.Broker.Groups.CoordinatorPartitionFor(Group))], broker.Broker.Transactions.Describe("tx")!.Partitions);

        Assert.Equal(ErrorCode.None, await broker.EndAsync("tx", producerId, epoch, commit: true));

        var marker = OffsetsBatches(broker)[^1];
        Assert.Equal((true, true, producerId), (marker.IsTransactional, marker.IsControl, marker.ProducerId));
        var stable = await FetchStableAsync(broker, 0);
        Assert.Equal(((short)ErrorCode.None, 20L), (stable.ErrorCode, stable.CommittedOffset));
    }

    [Fact]
    public async Task A_plain_commit_after_a_transactional_one_wins_when_the_transaction_commits()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await SendOffsetsAsync(broker, "tx", partition: 0, offset: 50);
        Assert.Equal([ErrorCode.None], broker.Broker.Groups.CommitOffsets(Group, -1, "", null, [new OffsetCommitEntry(TransactionTestBroker.Topic, 0, 55, -1, null)], 8));

        Assert.Equal(ErrorCode.None, await broker.EndAsync("tx", producerId, epoch, commit: true));

        Assert.Equal(55, broker.Broker.Groups.FetchOffsets(Group)[(TransactionTestBroker.Topic, 0)].Offset);
    }

    [Fact]
    public async Task A_restart_resolves_transactional_offsets_by_their_markers_and_keeps_open_ones_pending()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tributary-txn-tests", Guid.NewGuid().ToString("N"));
        var time = new ManualTimeProvider();
        try
        {
            (long ProducerId, short Epoch) open;
            using (var broker = new TransactionTestBroker(time, directory))
            {
                var committed = await SendOffsetsAsync(broker, "committed", partition: 0, offset: 10);
                Assert.Equal(ErrorCode.None, await broker.EndAsync("committed", committed.ProducerId, committed.Epoch, commit: true));
                var aborted = await SendOffsetsAsync(broker, "aborted", partition: 1, offset: 30);
                Assert.Equal(ErrorCode.None, await broker.EndAsync("aborted", aborted.ProducerId, aborted.Epoch, commit: false));

                // Committed after a plain commit of the same partition: the plain one, written later, stays.
                var superseded = await SendOffsetsAsync(broker, "superseded", partition: 0, offset: 5, group: "other");
                broker.Broker.Groups.CommitOffsets("other", -1, "", null, [new OffsetCommitEntry(TransactionTestBroker.Topic, 0, 7, -1, null)], 8);
                Assert.Equal(ErrorCode.None, await broker.EndAsync("superseded", superseded.ProducerId, superseded.Epoch, commit: true));

                open = await SendOffsetsAsync(broker, "open", partition: 0, offset: 40);
            }

            using (var restarted = new TransactionTestBroker(time, directory))
            {
                var offsets = restarted.Broker.Groups.FetchOffsets(Group);
                Assert.Equal(10, offsets[(TransactionTestBroker.Topic, 0)].Offset);
                Assert.False(offsets.ContainsKey((TransactionTestBroker.Topic, 1)));
                Assert.Equal(7, restarted.Broker.Groups.FetchOffsets("other")[(TransactionTestBroker.Topic, 0)].Offset);
                Assert.Equal((short)ErrorCode.UnstableOffsetCommit, (await FetchStableAsync(restarted, 0)).ErrorCode);

                Assert.Equal(ErrorCode.None, await restarted.EndAsync("open", open.ProducerId, open.Epoch, commit: true));
                Assert.Equal(40, restarted.Broker.Groups.FetchOffsets(Group)[(TransactionTestBroker.Topic, 0)].Offset);
            }

            using var again = new TransactionTestBroker(time, directory);
            var stable = await FetchStableAsync(again, 0);
            Assert.Equal(((short)ErrorCode.None, 40L), (stable.ErrorCode, stable.CommittedOffset));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_transaction_aborted_for_its_timeout_leaves_nothing_pending_after_a_restart()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tributary-txn-tests", Guid.NewGuid().ToString("N"));
        var time = new ManualTimeProvider();
        try
        {
            using (var broker = new TransactionTestBroker(time, directory))
            {
                await SendOffsetsAsync(broker, "tx", partition: 1, offset: 12);

                // The transaction timed out: aborted with a marker, so the restart finds nothing pending.
                time.Advance(TimeSpan.FromMilliseconds(TransactionTestBroker.TimeoutMs + 1_000));
                Assert.False(broker.Broker.Groups.HasPendingTransactionalOffset(Group, TransactionTestBroker.Topic, 1));
                Assert.True(OffsetsBatches(broker)[^1].IsControl);
            }

            using var restarted = new TransactionTestBroker(time, directory);
            Assert.Empty(restarted.Broker.Groups.FetchOffsets(Group));
            Assert.False(restarted.Broker.Groups.HasPendingTransactionalOffset(Group, TransactionTestBroker.Topic, 1));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
