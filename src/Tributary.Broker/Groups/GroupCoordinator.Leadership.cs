using Microsoft.Extensions.Logging;
using Tributary.Broker.InternalTopics;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

// Cluster mode: this broker coordinates groups only while it leads __consumer_offsets (BrokerCore.CoordinatorsFollow
// tells it). Becoming leader loads the groups and offsets from the log, as a start does (CoordinatorLeadership);
// losing leadership drops them. A single node always coordinates and loads in the constructor. Share-group membership
// lives in the same log and follows the same leadership: the load pass hands its records to the share-group
// coordinator (FollowShareGroups), and resigning drops them there too.
public sealed partial class GroupCoordinator
{
    private readonly Lock _leadershipLock = new();
    private readonly CoordinatorLeadership _leadership;
    private Dictionary<string, ShareGroupRecords.Loaded>? _shareGroupsAtStart;
    private Action<Dictionary<string, ShareGroupRecords.Loaded>>? _loadShareGroups;
    private Action? _unloadShareGroups;

    private CoordinatorLeadership CreateLeadership() => new(_leadershipLock,
        () =>
        {
            Dictionary<string, ShareGroupRecords.Loaded> shareGroups;
            lock (_groupsLock)
            {
                shareGroups = Load();
            }

            // Outside _groupsLock: the share-group coordinator takes its own lock, then calls back into this one.
            _loadShareGroups?.Invoke(shareGroups);
            LogBecameCoordinator(_logger);
        },
        Unload,
        e => LogLoadFailed(_logger, e));

    /// <summary>
    /// The share-group coordinator's membership follows this coordinator: <paramref name="load"/> gets the share groups
    /// of each load pass (at once with those read at a single node's start), <paramref name="unload"/> runs on resigning.
    /// Both run under the leadership gate, so they never overlap.
    /// </summary>
    internal void FollowShareGroups(Action<Dictionary<string, ShareGroupRecords.Loaded>> load, Action unload)
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

    /// <summary>None while this broker coordinates groups; else the error group requests answer with.</summary>
    public ErrorCode CoordinatorError => _leadership.Error;

    /// <summary>This broker became leader of the offsets partition: loads its groups and offsets in the background.</summary>
    public void BecomeCoordinator() => _leadership.Become();

    /// <summary>This broker no longer leads the offsets partition: its groups are dropped (members re-find the coordinator).</summary>
    public void Resign()
    {
        if (_leadership.Resign())
        {
            LogResigned(_logger);
        }
    }

    private void Unload()
    {
        DisposeConsumerGroups();
        ClassicGroup[] groups;
        lock (_groupsLock)
        {
            groups = [.. _groups.Values];
            _groups.Clear();
            _consumerGroups.Clear();
        }

        foreach (var group in groups)
        {
            lock (group.Lock)
            {
                group.MarkDead();
            }
        }

        lock (_pendingLock)
        {
            _pendingTransactionalOffsets.Clear();
        }

        _unloadShareGroups?.Invoke();
    }

    [LoggerMessage(EventId = 1542, Level = LogLevel.Information, Message = "This broker leads __consumer_offsets and coordinates its groups")]
    private static partial void LogBecameCoordinator(ILogger logger);

    [LoggerMessage(EventId = 1543, Level = LogLevel.Information, Message = "This broker no longer leads __consumer_offsets; its groups were unloaded")]
    private static partial void LogResigned(ILogger logger);

    [LoggerMessage(EventId = 1544, Level = LogLevel.Error, Message = "Loading the groups of __consumer_offsets failed")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception);
}
