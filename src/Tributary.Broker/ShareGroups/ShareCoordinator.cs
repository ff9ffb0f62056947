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
/// A single node always coordinates and loads at start; in cluster mode this broker coordinates while it leads the
/// topic's partition (<see cref="CoordinatorLeadership"/>), as the group and transaction coordinators do.
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
        // One partition (share.coordinator.state.topic.num.partitions is not implemented): partition 0 holds every key.
        _leadership = new CoordinatorLeadership(_lock, _ => Load(), _ => _states.Clear(), (_, e) => LogLoadFailed(_logger, e));
        if (!broker.Config.ClusterMode)
        {
            Load();
            _leadership.ActivateAll();
        }
    }

    /// <summary>None while this broker coordinates share state; else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS.</summary>
    public ErrorCode CoordinatorError => _leadership.Error(0);

    /// <summary>This broker became leader of __share_group_state: loads the states in the background.</summary>
    public void BecomeCoordinator() => _leadership.Become(0);

    /// <summary>This broker no longer leads __share_group_state: the states are dropped.</summary>
    public void Resign()
    {
        if (_leadership.Resign(0))
        {
            LogResigned(_logger);
        }
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
    /// Replaces the states of the keys (null: deleted) as one batch, as this broker's own share partitions write them.
    /// Throws IOException when the log cannot be written; the memory then keeps the earlier states.
    /// </summary>
    internal void Put(IReadOnlyList<(SharePartitionKey Key, ShareSnapshotValue? Value)> states)
    {
        lock (_lock)
        {
            _topic.Write(states);
            foreach (var (key, value) in states)
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

    /// <summary>
    /// ReadShareGroupState: the state of a key and, from a newer leader epoch, that epoch stored (fencing the previous
    /// leader). A key without state answers start offset -1 (uninitialized), as Kafka's.
    /// </summary>
    public (ErrorCode Error, ShareSnapshotValue? State) Read(SharePartitionKey key, int leaderEpoch)
    {
        lock (_lock)
        {
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
            return !_states.TryGetValue(key, out var state) ? (ErrorCode.None, null)
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
        try
        {
            Put([(key, null)]);
            return ErrorCode.None;
        }
        catch (IOException e)
        {
            LogWriteFailed(_logger, e);
            return ErrorCode.CoordinatorNotAvailable;
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

    // Runs under _lock (CoordinatorLeadership's gate, or the constructor's single thread).
    private void Load()
    {
        _states.Clear();
        foreach (var (key, state) in _topic.Load())
        {
            _states[key] = state;
        }

        if (_broker.Config.ClusterMode)
        {
            LogBecameCoordinator(_logger, _states.Count);
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

    [LoggerMessage(EventId = 650, Level = LogLevel.Information, Message = "This broker leads __share_group_state and coordinates the state of {Partitions} share partitions")]
    private static partial void LogBecameCoordinator(ILogger logger, int partitions);

    [LoggerMessage(EventId = 651, Level = LogLevel.Information, Message = "This broker no longer leads __share_group_state; its share states were unloaded")]
    private static partial void LogResigned(ILogger logger);

    [LoggerMessage(EventId = 652, Level = LogLevel.Error, Message = "Loading the share states of __share_group_state failed")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 653, Level = LogLevel.Error, Message = "Could not write __share_group_state")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception);
}
