using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// Kafka's share coordinator (KIP-932): the durable state of every share partition (group, topic id, partition), kept
/// in <c>__share_group_state</c> as ShareSnapshot records and in memory as the latest snapshot per key. The share
/// partitions' leaders read and write it (InitializeShareGroupState, ReadShareGroupState, WriteShareGroupState,
/// DeleteShareGroupState, ReadShareGroupStateSummary), this broker's own through <see cref="ShareGroupCoordinator"/>.
/// A key's state lives in one partition of the topic (<see cref="PartitionFor"/>, Kafka's hash of
/// "groupId:topicId:partition"). A single node coordinates every partition and loads them at start; in cluster mode
/// this broker coordinates the keys of the partitions it leads (<see cref="CoordinatorLeadership"/>), as the group and
/// transaction coordinators do, and every RPC answers a key of another partition NOT_COORDINATOR in its own entry.
/// Epochs, as Kafka's ShareCoordinatorShard checks them: a read or write from a leader epoch below the stored one is
/// FENCED_LEADER_EPOCH (a deposed data-partition leader), a read from a higher one stores it; a write of a lower state
/// epoch is FENCED_STATE_EPOCH. Every change is appended under <see cref="_lock"/>, so records of a key reach the log in
/// the order of the changes; callers in cluster mode then wait for the ISR (BrokerCore.ReplicateCoordinatorWriteAsync).
/// </summary>
public sealed partial class ShareCoordinator
{
    private readonly BrokerCore _broker;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<SharePartitionKey, ShareSnapshotValue> _states = [];
    private readonly ShareStateTopic _topic;
    private readonly CoordinatorLeadership _leadership;

    public ShareCoordinator(BrokerCore broker)
    {
        _broker = broker;
        _logger = broker.LoggerFactory.CreateLogger<ShareCoordinator>();
        _topic = new ShareStateTopic(broker, _logger);
        _leadership = new CoordinatorLeadership(_lock, Load, Unload, (partition, e) => LogLoadFailed(_logger, e, partition));
        if (!broker.Config.ClusterMode)
        {
            for (var partition = 0; partition < broker.CoordinatorPartitionCount(ShareStateTopic.TopicName); partition++)
            {
                Load(partition);
            }

            _leadership.ActivateAll();
        }
    }

    /// <summary>The partition of __share_group_state that holds the key's state; its leader is the key's share coordinator.</summary>
    public int PartitionFor(SharePartitionKey key) => _topic.PartitionFor(key);

    /// <summary>None while this broker coordinates the key's state; else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS.</summary>
    public ErrorCode CoordinatorErrorFor(SharePartitionKey key) => _leadership.Error(PartitionFor(key));

    /// <summary>None while this broker coordinates the states of the partition of __share_group_state; else its error.</summary>
    public ErrorCode CoordinatorErrorOf(int partition) => _leadership.Error(partition);

    /// <summary>This broker became leader of a partition of __share_group_state: loads its states in the background.</summary>
    public void BecomeCoordinator(int partition) => _leadership.Become(partition);

    /// <summary>This broker no longer leads a partition of __share_group_state: its states are dropped.</summary>
    public void Resign(int partition)
    {
        if (_leadership.Resign(partition))
        {
            LogResigned(_logger, partition);
        }
    }

    /// <summary>
    /// Cluster mode: waits until the ISR of each state partition holding one of <paramref name="keys"/> has everything
    /// appended to it so far (BrokerCore.ReplicateCoordinatorWriteAsync); the error of each key's partition.
    /// </summary>
    public async Task<Func<SharePartitionKey, ErrorCode>> ReplicateAsync(IEnumerable<SharePartitionKey> keys)
    {
        var partitions = keys.Select(PartitionFor).Distinct().ToList();
        var errors = await Task.WhenAll(partitions.Select(p => _broker.ReplicateCoordinatorWriteAsync(ShareStateTopic.TopicName, p))).ConfigureAwait(false);
        var byPartition = partitions.Zip(errors).ToDictionary(e => e.First, e => e.Second);
        return key => byPartition.GetValueOrDefault(PartitionFor(key));
    }

    /// <summary>Every stored state (a single node's share groups load them all at start).</summary>
    internal IReadOnlyList<(SharePartitionKey Key, ShareSnapshotValue State)> All()
    {
        lock (_lock)
        {
            return [.. _states.Select(kv => (kv.Key, kv.Value))];
        }
    }

    /// <summary>
    /// Replaces the states of the keys (null: deleted) as one batch per state partition, as this broker's own share
    /// partitions write them. Throws IOException when a log cannot be written; the keys of that partition (and of those
    /// not reached) then keep their earlier states in memory, as in the log.
    /// </summary>
    internal void Put(IReadOnlyList<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        lock (_lock)
        {
            foreach (var partition in states.GroupBy(s => PartitionFor(s.Key)))
            {
                List<(SharePartitionKey Key, ShareSnapshotValue? Value)> batch = [.. partition];
                _topic.Write(batch);
                foreach (var (key, value) in batch)
                {
                    if (value is null)
                    {
                        _states.Remove(key);
                    }
                    else
                    {
                        _states[key] = value;
                    }
                }
            }
        }
    }

    /// <summary>
    /// ReadShareGroupState: the state of a key and, from a newer leader epoch, that epoch stored (fencing the previous
    /// leader). A key without state answers start offset -1 (uninitialized), as Kafka's.
    /// </summary>
    public (ErrorCode Error, ShareSnapshotValue? State) Read(SharePartitionKey key, int leaderEpoch)
    {
        lock (_lock)
        {
            if (CoordinatorErrorFor(key) is var notHere and not ErrorCode.None)
            {
                return (notHere, null);
            }

            if (!_states.TryGetValue(key, out var state))
            {
                return (ErrorCode.None, null);
            }

            if (leaderEpoch < state.LeaderEpoch)
            {
                return (ErrorCode.FencedLeaderEpoch, null);
            }

            if (leaderEpoch > state.LeaderEpoch)
            {
                var updated = Copy(state);
                updated.LeaderEpoch = leaderEpoch;
                if (!TryStore(key, updated))
                {
                    return (ErrorCode.CoordinatorNotAvailable, null);
                }

                state = updated;
            }

            return (ErrorCode.None, Copy(state));
        }
    }

    /// <summary>ReadShareGroupStateSummary: the state of a key without storing anything; null when it has none.</summary>
    public (ErrorCode Error, ShareSnapshotValue? State) Summary(SharePartitionKey key, int leaderEpoch)
    {
        lock (_lock)
        {
            return CoordinatorErrorFor(key) is var notHere and not ErrorCode.None ? (notHere, null)
                : !_states.TryGetValue(key, out var state) ? (ErrorCode.None, null)
                : leaderEpoch >= 0 && leaderEpoch < state.LeaderEpoch ? (ErrorCode.FencedLeaderEpoch, null)
                : (ErrorCode.None, Copy(state));
        }
    }

    /// <summary>
    /// WriteShareGroupState: the batches replace the state of the offsets they cover and the start offset moves
    /// forward (Kafka's ShareUpdate semantics); a higher state epoch starts the state afresh (the share partition was
    /// reset, as AlterShareGroupOffsets does).
    /// </summary>
    public ErrorCode Write(SharePartitionKey key, int stateEpoch, int leaderEpoch, long startOffset, IReadOnlyList<ShareSnapshotValue.StateBatch> batches)
    {
        lock (_lock)
        {
            if (CoordinatorErrorFor(key) is var notHere and not ErrorCode.None)
            {
                return notHere;
            }

            var exists = _states.TryGetValue(key, out var current);
            if (exists && leaderEpoch < current!.LeaderEpoch)
            {
                return ErrorCode.FencedLeaderEpoch;
            }

            if (exists && stateEpoch < current!.StateEpoch)
            {
                return ErrorCode.FencedStateEpoch;
            }

            var nowMs = _broker.NowMs;
            var updated = exists && stateEpoch == current!.StateEpoch
                ? Copy(current)
                : new ShareSnapshotValue { StateEpoch = stateEpoch, StartOffset = startOffset, CreateTimestamp = nowMs };
            updated.LeaderEpoch = Math.Max(updated.LeaderEpoch, leaderEpoch);
            updated.SnapshotEpoch++;
            updated.WriteTimestamp = nowMs;
            ShareStateTopic.Merge(updated, startOffset, batches);
            updated.DeliveryCompleteCount = updated.StateBatches
                .Where(b => b.DeliveryState is (sbyte)RecordState.Acknowledged or (sbyte)RecordState.Archived)
                .Sum(b => (int)(b.LastOffset - b.FirstOffset + 1));
            return TryStore(key, updated) ? ErrorCode.None : ErrorCode.CoordinatorNotAvailable;
        }
    }

    /// <summary>InitializeShareGroupState: the key starts at <paramref name="startOffset"/> with nothing in flight.</summary>
    public ErrorCode Initialize(SharePartitionKey key, int stateEpoch, long startOffset)
    {
        lock (_lock)
        {
            if (CoordinatorErrorFor(key) is var notHere and not ErrorCode.None)
            {
                return notHere;
            }

            if (_states.TryGetValue(key, out var current) && stateEpoch < current.StateEpoch)
            {
                return ErrorCode.FencedStateEpoch;
            }

            var nowMs = _broker.NowMs;
            var state = new ShareSnapshotValue
            {
                SnapshotEpoch = (current?.SnapshotEpoch ?? 0) + 1,
                StateEpoch = stateEpoch,
                LeaderEpoch = current?.LeaderEpoch ?? -1,
                StartOffset = startOffset,
                DeliveryCompleteCount = 0,
                CreateTimestamp = nowMs,
                WriteTimestamp = nowMs,
            };
            return TryStore(key, state) ? ErrorCode.None : ErrorCode.CoordinatorNotAvailable;
        }
    }

    /// <summary>DeleteShareGroupState: the key's state is tombstoned.</summary>
    public ErrorCode Delete(SharePartitionKey key)
    {
        // Checked and written under _lock, which a resignation takes too: a partition that moved away is never written.
        lock (_lock)
        {
            if (CoordinatorErrorFor(key) is var notHere and not ErrorCode.None)
            {
                return notHere;
            }

            try
            {
                _topic.Write([(key, null)]);
                _states.Remove(key);
                return ErrorCode.None;
            }
            catch (IOException e)
            {
                LogWriteFailed(_logger, e);
                return ErrorCode.CoordinatorNotAvailable;
            }
        }
    }

    // Caller holds _lock.
    private bool TryStore(SharePartitionKey key, ShareSnapshotValue state)
    {
        try
        {
            _topic.Write([(key, state)]);
            _states[key] = state;
            return true;
        }
        catch (IOException e)
        {
            LogWriteFailed(_logger, e);
            return false;
        }
    }

    // Load and Unload run under _lock (CoordinatorLeadership's gate, or the constructor's single thread).
    private void Load(int partition)
    {
        Unload(partition);
        var loaded = _topic.Load(partition);
        foreach (var (key, state) in loaded)
        {
            _states[key] = state;
        }

        if (_broker.Config.ClusterMode)
        {
            LogBecameCoordinator(_logger, partition, loaded.Count);
        }
    }

    private void Unload(int partition)
    {
        foreach (var key in _states.Keys.Where(k => PartitionFor(k) == partition).ToList())
        {
            _states.Remove(key);
        }
    }

    private static ShareSnapshotValue Copy(ShareSnapshotValue state) => new()
    {
        SnapshotEpoch = state.SnapshotEpoch,
        StateEpoch = state.StateEpoch,
        LeaderEpoch = state.LeaderEpoch,
        StartOffset = state.StartOffset,
        DeliveryCompleteCount = state.DeliveryCompleteCount,
        CreateTimestamp = state.CreateTimestamp,
        WriteTimestamp = state.WriteTimestamp,
        StateBatches = [.. state.StateBatches.Select(b => new ShareSnapshotValue.StateBatch { FirstOffset = b.FirstOffset, LastOffset = b.LastOffset, DeliveryState = b.DeliveryState, DeliveryCount = b.DeliveryCount })],
    };

    [LoggerMessage(EventId = 650, Level = LogLevel.Information, Message = "This broker leads __share_group_state-{Partition} and coordinates the state of its {SharePartitions} share partitions")]
    private static partial void LogBecameCoordinator(ILogger logger, int partition, int sharePartitions);

    [LoggerMessage(EventId = 651, Level = LogLevel.Information, Message = "This broker no longer leads __share_group_state-{Partition}; its share states were unloaded")]
    private static partial void LogResigned(ILogger logger, int partition);

    [LoggerMessage(EventId = 652, Level = LogLevel.Error, Message = "Loading the share states of __share_group_state-{Partition} failed")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, int partition);

    [LoggerMessage(EventId = 653, Level = LogLevel.Error, Message = "Could not write __share_group_state")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception);
}
