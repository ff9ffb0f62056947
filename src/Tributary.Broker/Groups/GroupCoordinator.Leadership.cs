using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

// Cluster mode: this broker coordinates the groups of the partitions of __consumer_offsets it leads (BrokerCore.
// CoordinatorsFollow tells it, partition by partition). Becoming a partition's leader loads its groups and offsets from
// that partition's log, as a start does (CoordinatorLeadership); losing it drops them. A single node coordinates every
// partition and loads them in the constructor. Share-group membership lives in the same log and follows the same
// leadership: each load pass hands its records to the share-group coordinator (FollowShareGroups), and resigning a
// partition drops that partition's share groups there too.
public sealed partial class GroupCoordinator
{
    private readonly Lock _leadershipLock = new();
    private readonly CoordinatorLeadership _leadership;
    private Dictionary<string, ShareGroupRecords.Loaded>? _shareGroupsAtStart;
    private Action<Dictionary<string, ShareGroupRecords.Loaded>>? _loadShareGroups;
    private Action<int>? _unloadShareGroups;

    private CoordinatorLeadership CreateLeadership() => new(_leadershipLock,
        partition =>
        {
            Dictionary<string, ShareGroupRecords.Loaded> shareGroups;
            lock (_groupsLock)
            {
                shareGroups = Load(partition);
            }

            // Outside _groupsLock: the share-group coordinator takes its own lock, then calls back into this one.
            _loadShareGroups?.Invoke(shareGroups);
            LogBecameCoordinator(_logger, partition);
        },
        Unload,
        (partition, e) => LogLoadFailed(_logger, e, partition));

    /// <summary>
    /// The share-group coordinator's membership follows this coordinator: <paramref name="load"/> gets the share groups
    /// of each load pass (at once with those read at a single node's start), <paramref name="unload"/> runs on resigning
    /// a partition. Both run under the leadership gate, so they never overlap.
    /// </summary>
    internal void FollowShareGroups(Action<Dictionary<string, ShareGroupRecords.Loaded>> load, Action<int> unload)
    {
        lock (_leadershipLock)
        {
            _loadShareGroups = load;
            _unloadShareGroups = unload;
            if (_shareGroupsAtStart is { } atStart)
            {
                _shareGroupsAtStart = null;
                load(atStart);
            }
        }
    }

    /// <summary>The partition of __consumer_offsets that holds the group, whose leader coordinates it.</summary>
    public int CoordinatorPartitionFor(string groupId) => _store.PartitionFor(groupId);

    /// <summary>None while this broker coordinates the group; else the error its requests answer with.</summary>
    public ErrorCode CoordinatorErrorFor(string groupId) => _leadership.Error(_store.PartitionFor(groupId));

    /// <summary>None while this broker coordinates the groups of the partition; else the error their requests answer with.</summary>
    public ErrorCode CoordinatorErrorOf(int partition) => _leadership.Error(partition);

    /// <summary>Whether this broker coordinates (or loads) the groups of at least one partition.</summary>
    public bool CoordinatesAny => _leadership.Any;

    /// <summary>Whether an offsets partition this broker leads is still loading, so a listing of its groups would miss some.</summary>
    public bool LoadingAny => _leadership.AnyLoading;

    /// <summary>This broker became leader of an offsets partition: loads its groups and offsets in the background.</summary>
    public void BecomeCoordinator(int partition) => _leadership.Become(partition);

    /// <summary>This broker no longer leads an offsets partition: its groups are dropped (members re-find the coordinator).</summary>
    public void Resign(int partition)
    {
        if (_leadership.Resign(partition))
        {
            LogResigned(_logger, partition);
        }
    }

    private void Unload(int partition)
    {
        bool InPartition(string groupId) => _store.PartitionFor(groupId) == partition;
        DisposeConsumerGroups(InPartition);
        ClassicGroup[] groups;
        lock (_groupsLock)
        {
            groups = [.. _groups.Values.Where(g => InPartition(g.GroupId))];
            foreach (var group in groups)
            {
                _groups.Remove(group.GroupId);
            }

            foreach (var groupId in _consumerGroups.Keys.Where(InPartition).ToList())
            {
                _consumerGroups.Remove(groupId);
            }
        }

        foreach (var group in groups)
        {
            lock (group.Lock)
            {
                group.MarkDead();
            }
        }

        UnloadPendingTransactionalOffsets(partition);
        _unloadShareGroups?.Invoke(partition);
    }

    [LoggerMessage(EventId = 1542, Level = LogLevel.Information, Message = "This broker leads __consumer_offsets-{Partition} and coordinates its groups")]
    private static partial void LogBecameCoordinator(ILogger logger, int partition);

    [LoggerMessage(EventId = 1543, Level = LogLevel.Information, Message = "This broker no longer leads __consumer_offsets-{Partition}; its groups were unloaded")]
    private static partial void LogResigned(ILogger logger, int partition);

    [LoggerMessage(EventId = 1544, Level = LogLevel.Error, Message = "Loading the groups of __consumer_offsets-{Partition} failed")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, int partition);
}
