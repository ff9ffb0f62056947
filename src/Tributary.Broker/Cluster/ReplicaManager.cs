using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Tributary.Protocol;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The data plane of a cluster (Kafka's ReplicaManager): told by the control plane which partitions this broker leads
/// or follows at which leader epoch (<see cref="IReplicaRoleSink"/>), it runs one <see cref="ReplicaFetcher"/> per
/// leader for the partitions it follows, and for those it leads tracks the followers' fetches, moves the high
/// watermark to the smallest log end offset of the ISR, holds acks=all produces until the ISR has them, and asks the
/// control plane (<see cref="IClusterControl.AlterIsrAsync"/>) to drop a follower that has not caught up for
/// replica.lag.time.max.ms and to take it back once it has. A broker without a cluster has none
/// (<see cref="BrokerCore.Replicas"/> is null) and none of this runs. Topics local to each broker
/// (<see cref="BrokerCore.IsLocalOnly"/>: internal ones) are not replicated and pass every check as on a single node.
/// </summary>
public sealed partial class ReplicaManager : IReplicaRoleSink, IAsyncDisposable
{
    private readonly BrokerCore _broker;
    private readonly IClusterControl _control;
    private readonly ReplicaLinkFactory _connect;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(string Topic, int Partition), PartitionReplica> _partitions = new();
    private readonly Lock _fetchersLock = new();
    private readonly Dictionary<int, ReplicaFetcher> _fetchers = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _isrCheck;

    public ReplicaManager(BrokerCore broker, IClusterControl control, ReplicaLinkFactory connect)
    {
        _broker = broker;
        _control = control;
        _connect = connect;
        _logger = broker.LoggerFactory.CreateLogger<ReplicaManager>();

        // Kafka checks for lagging followers every replica.lag.time.max.ms / 2.
        var period = TimeSpan.FromMilliseconds(Math.Max(1, broker.Config.ReplicaLagTimeMaxMs / 2));
        _isrCheck = broker.Time.CreateTimer(_ => ShrinkIsrs(), null, period, period);
    }

    public int LocalNodeId => _control.LocalNodeId;

    /// <inheritdoc/>
    public async Task ApplyAsync(PartitionState state, CancellationToken cancellationToken)
    {
        var key = (state.Topic, state.Partition);
        var topic = _broker.Metadata.Find(state.Topic);
        var log = topic is null ? null : _broker.FindLog(topic, state.Partition);
        if (log is null)
        {
            LogNoLog(state.Topic, state.Partition);
            return;
        }

        var replica = _partitions.GetOrAdd(key, _ => NewReplica(log));
        if (replica.Log != log)
        {
            // The topic was deleted and created again: the old log is gone.
            await RemoveAsync(state.Topic, state.Partition, cancellationToken).ConfigureAwait(false);
            replica = _partitions.GetOrAdd(key, _ => NewReplica(log));
        }

        if (!replica.Apply(state, _broker.NowMs))
        {
            return;
        }

        LogRole(state.Topic, state.Partition, state.Leader == LocalNodeId ? "leader" : $"follower of {state.Leader}", state.LeaderEpoch);
        await StopFetchingAsync(state.Topic, state.Partition, exceptLeader: state.Leader).ConfigureAwait(false);
        if (state.Leader != LocalNodeId && state.Leader >= 0)
        {
            lock (_fetchersLock)
            {
                // Stopped (DisposeAsync cancels before it takes the fetchers): no new fetch loop.
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                if (!_fetchers.TryGetValue(state.Leader, out var fetcher))
                {
                    fetcher = new ReplicaFetcher(state.Leader, _broker, _control, _connect, _broker.LoggerFactory.CreateLogger<ReplicaFetcher>());
                    _fetchers[state.Leader] = fetcher;
                }

                fetcher.Add(replica, state.LeaderEpoch);
            }
        }
    }

    /// <inheritdoc/>
    public async Task RemoveAsync(string topic, int partition, CancellationToken cancellationToken)
    {
        await StopFetchingAsync(topic, partition, exceptLeader: -1).ConfigureAwait(false);
        if (_partitions.TryRemove((topic, partition), out var replica))
        {
            replica.Log.Appended -= replica.OnAppended;
            replica.Stop();
        }
    }

    private PartitionReplica NewReplica(Storage.PartitionLog log)
    {
        var replica = new PartitionReplica(log, LocalNodeId);
        log.Appended += replica.OnAppended;
        return replica;
    }

    /// <summary>Takes the partition out of every fetch loop but <paramref name="exceptLeader"/>'s; loops left empty end.</summary>
    private async Task StopFetchingAsync(string topic, int partition, int exceptLeader)
    {
        List<ReplicaFetcher> idle = [];
        lock (_fetchersLock)
        {
            foreach (var (leaderId, fetcher) in _fetchers.ToList())
            {
                if (leaderId == exceptLeader)
                {
                    continue;
                }

                fetcher.Remove(topic, partition);
                if (fetcher.IsEmpty)
                {
                    _fetchers.Remove(leaderId);
                    idle.Add(fetcher);
                }
            }
        }

        foreach (var fetcher in idle)
        {
            await fetcher.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A produce to a replicated partition, before anything is appended: NOT_LEADER_OR_FOLLOWER unless this broker leads
    /// it; with acks=all, NOT_ENOUGH_REPLICAS when the ISR is smaller than <paramref name="minInsyncReplicas"/>.
    /// </summary>
    public ErrorCode CheckProduce(string topic, int partition, short acks, int minInsyncReplicas)
    {
        if (BrokerCore.IsLocalOnly(topic))
        {
            return ErrorCode.None;
        }

        if (!_partitions.TryGetValue((topic, partition), out var replica) || replica.State is not { } state || state.Leader != LocalNodeId)
        {
            return ErrorCode.NotLeaderOrFollower;
        }

        return acks == -1 && state.Isr.Length < minInsyncReplicas ? ErrorCode.NotEnoughReplicas : ErrorCode.None;
    }

    /// <summary>An acks=all produce's wait for its ISR (<see cref="PartitionReplica.WaitForReplicationAsync"/>).</summary>
    public Task<ErrorCode> WaitForReplicationAsync(string topic, int partition, long lastOffset, int minInsyncReplicas, int timeoutMs) =>
        BrokerCore.IsLocalOnly(topic) ? Task.FromResult(ErrorCode.None)
        : _partitions.TryGetValue((topic, partition), out var replica)
            ? replica.WaitForReplicationAsync(lastOffset, minInsyncReplicas, TimeSpan.FromMilliseconds(Math.Max(0, timeoutMs)), _broker.Time)
            : Task.FromResult(ErrorCode.NotLeaderOrFollower);

    /// <summary>
    /// A fetch for one partition, before it is read. A follower's (<paramref name="replicaId"/> ≥ 0) reports its log end
    /// offset and the epoch of its last batch: unless its log diverged from this one (then <c>Diverging</c> says where
    /// it must cut, and nothing is read), that may move the high watermark and bring it back into the ISR; a
    /// consumer's must reach the leader. Either way current_leader_epoch is checked (FENCED_LEADER_EPOCH,
    /// UNKNOWN_LEADER_EPOCH).
    /// </summary>
    public (ErrorCode Error, (int Epoch, long EndOffset)? Diverging) OnFetch(string topic, int partition, int replicaId, int currentLeaderEpoch, long fetchOffset, int lastFetchedEpoch)
    {
        if (BrokerCore.IsLocalOnly(topic))
        {
            return (ErrorCode.None, null);
        }

        if (!_partitions.TryGetValue((topic, partition), out var replica))
        {
            return (ErrorCode.NotLeaderOrFollower, null);
        }

        if (replicaId < 0)
        {
            return (replica.CheckEpoch(currentLeaderEpoch, leaderOnly: true), null);
        }

        var (error, join, diverging) = replica.OnFollowerFetch(replicaId, currentLeaderEpoch, fetchOffset, lastFetchedEpoch, _broker.NowMs);
        if (join)
        {
            _ = ChangeIsrAsync(replica, isr => [.. isr.Append(replicaId).Distinct().Order()]);
        }

        return (error, diverging);
    }

    /// <summary>OffsetsForLeaderEpoch's check: the leader answers, at the epoch the requester believes current.</summary>
    public ErrorCode CheckLeaderEpoch(string topic, int partition, int currentLeaderEpoch) =>
        BrokerCore.IsLocalOnly(topic) ? ErrorCode.None
        : _partitions.TryGetValue((topic, partition), out var replica)
            ? replica.CheckEpoch(currentLeaderEpoch, leaderOnly: true)
            : ErrorCode.NotLeaderOrFollower;

    /// <summary>The state this broker holds for a partition (tests, DescribeLogDirs later); null when not replicated here.</summary>
    public PartitionState? StateOf(string topic, int partition) =>
        _partitions.TryGetValue((topic, partition), out var replica) ? replica.State : null;

    private void ShrinkIsrs()
    {
        var nowMs = _broker.NowMs;
        var lagMsMax = _broker.Config.ReplicaLagTimeMaxMs;
        foreach (var replica in _partitions.Values)
        {
            var lagging = replica.LaggingInSyncFollowers(nowMs, lagMsMax);
            if (lagging.Length > 0)
            {
                _ = ChangeIsrAsync(replica, isr => [.. isr.Except(lagging)]);
            }
        }
    }

    /// <summary>One ISR change at a time per partition, through the control plane's compare-and-swap; never throws.</summary>
    private async Task ChangeIsrAsync(PartitionReplica replica, Func<int[], int[]> change)
    {
        if (replica.TryBeginIsrChange() is not { } current)
        {
            return;
        }

        var newIsr = change(current.Isr);
        var written = false;
        try
        {
            if (!newIsr.SequenceEqual(current.Isr))
            {
                LogIsrChange(current.Topic, current.Partition, string.Join(',', current.Isr), string.Join(',', newIsr));
                written = await _control.AlterIsrAsync(current, newIsr, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogIsrChangeFailed(e, current.Topic, current.Partition);
        }
        finally
        {
            replica.EndIsrChange(current, newIsr, written);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _isrCheck.DisposeAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        List<ReplicaFetcher> fetchers;
        lock (_fetchersLock)
        {
            fetchers = [.. _fetchers.Values];
            _fetchers.Clear();
        }

        foreach (var fetcher in fetchers)
        {
            await fetcher.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var replica in _partitions.Values)
        {
            replica.Log.Appended -= replica.OnAppended;
            replica.Stop();
        }

        _partitions.Clear();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1510, Level = LogLevel.Warning, Message = "Partition {Topic}-{Partition} is assigned to this broker but has no log here; its state is ignored")]
    private partial void LogNoLog(string topic, int partition);

    [LoggerMessage(EventId = 1511, Level = LogLevel.Information, Message = "Partition {Topic}-{Partition}: this broker is {Role} at leader epoch {LeaderEpoch}")]
    private partial void LogRole(string topic, int partition, string role, int leaderEpoch);

    [LoggerMessage(EventId = 1512, Level = LogLevel.Information, Message = "Partition {Topic}-{Partition}: ISR [{Isr}] -> [{NewIsr}]")]
    private partial void LogIsrChange(string topic, int partition, string isr, string newIsr);

    [LoggerMessage(EventId = 1513, Level = LogLevel.Warning, Message = "Partition {Topic}-{Partition}: the ISR change failed; the next check tries again")]
    private partial void LogIsrChangeFailed(Exception exception, string topic, int partition);
}
