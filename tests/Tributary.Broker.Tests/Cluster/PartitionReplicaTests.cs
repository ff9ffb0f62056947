using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Tests.Cluster;

/// <summary>
/// The leader's side of replication for one partition: what a follower's fetch counts for, and when an acks=all
/// produce is acknowledged. A follower's fetch offset is only counted where its log agrees with the leader's.
/// </summary>
public sealed class PartitionReplicaTests : IDisposable
{
    private const string Topic = "replicated";
    private static readonly TimeSpan WaitMax = TimeSpan.FromSeconds(30);
    private readonly LogManager _logs = LogManager.InMemory();
    private readonly PartitionLog _log;
    private readonly PartitionReplica _replica;
    private readonly Guid _topicId = Guid.NewGuid();

    public PartitionReplicaTests()
    {
        _log = _logs.GetOrCreate(Topic, 0, LogConfig.Default);
        _replica = new PartitionReplica(_log, localId: 1);
        _log.Appended += _replica.OnAppended;
    }

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task An_acks_all_batch_waits_until_every_in_sync_follower_has_its_last_offset()
    {
        Lead(epoch: 0);
        var append = _log.Append(Batch(10));
        Assert.Equal((0L, 9L), (append.FirstOffset, append.LastOffset));
        var acknowledged = _replica.WaitForReplicationAsync(append.LastOffset, minInsyncReplicas: 2, WaitMax, TimeProvider.System);

        // A follower whose log ends inside the batch has only part of it.
        Assert.Equal((ErrorCode.None, false, null), _replica.OnFollowerFetch(2, 0, fetchOffset: 5, lastFetchedEpoch: 0, nowMs: 0));
        Assert.Equal(5, _log.HighWatermark);
        Assert.False(acknowledged.IsCompleted);

        _replica.OnFollowerFetch(2, 0, fetchOffset: 10, lastFetchedEpoch: 0, nowMs: 0);
        Assert.Equal(ErrorCode.None, await acknowledged.WaitAsync(WaitMax));
        Assert.Equal(10, _log.HighWatermark);
    }

    [Fact]
    public async Task A_follower_with_a_tail_in_an_epoch_the_leader_lacks_is_not_counted_and_is_told_where_to_cut()
    {
        // The leader's log: epoch 0 for offsets 0-4 (it followed there), then it leads epoch 2 from offset 5.
        Lead(epoch: 0);
        _log.Append(Batch(5));
        Lead(epoch: 2);
        var append = _log.Append(Batch(2));
        var acknowledged = _replica.WaitForReplicationAsync(append.LastOffset, minInsyncReplicas: 2, WaitMax, TimeProvider.System);

        // The follower led epoch 1 from offset 3 and wrote there what this log never had: its fetch at 7 would pass the
        // batch, but its offsets 3-6 are not this log's. Kafka's answer: epoch 0 ends at 5 here.
        var (error, join, diverging) = _replica.OnFollowerFetch(2, 2, fetchOffset: 7, lastFetchedEpoch: 1, nowMs: 0);
        Assert.Equal((ErrorCode.None, false, (0, 5L)), (error, join, diverging));
        Assert.Equal(0, _log.HighWatermark);
        Assert.False(acknowledged.IsCompleted);

        // A follower in epoch 0 past where epoch 0 ended here diverged too.
        Assert.Equal((0, 5L), _replica.OnFollowerFetch(2, 2, fetchOffset: 6, lastFetchedEpoch: 0, nowMs: 0).Diverging);

        // Cut at 5 and fetched again, it is counted.
        Assert.Null(_replica.OnFollowerFetch(2, 2, fetchOffset: 5, lastFetchedEpoch: 0, nowMs: 0).Diverging);
        Assert.Equal(5, _log.HighWatermark);
        Assert.Null(_replica.OnFollowerFetch(2, 2, fetchOffset: 7, lastFetchedEpoch: 2, nowMs: 0).Diverging);
        Assert.Equal(7, _log.HighWatermark);
        Assert.Equal(ErrorCode.None, await acknowledged.WaitAsync(WaitMax));
    }

    private void Lead(int epoch) =>
        _replica.Apply(new PartitionState(Topic, _topicId, 0, [1, 2], 1, epoch, [1, 2], epoch), nowMs: 0);

    private static byte[] Batch(int records)
    {
        var builder = new RecordBatchBuilder();
        for (var i = 0; i < records; i++)
        {
            builder.Add(1_700_000_000_000 + i, null, [(byte)i]);
        }

        return builder.Build();
    }
}
