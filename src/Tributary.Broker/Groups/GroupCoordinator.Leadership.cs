using Microsoft.Extensions.Logging;
using Tributary.Protocol;

namespace Tributary.Broker.Groups;

// Cluster mode: this broker coordinates groups only while it leads __consumer_offsets (BrokerCore.CoordinatorsFollow
// tells it). Becoming leader loads the groups and offsets from the log, as a start does, on a background task
// (COORDINATOR_LOAD_IN_PROGRESS meanwhile); losing leadership drops them (NOT_COORDINATOR). A single node always
// coordinates and loads in the constructor.
public sealed partial class GroupCoordinator
{
    private readonly Lock _leadershipLock = new();
    private volatile CoordinatorState _state;
    private long _leadershipGeneration;

    /// <summary>None while this broker coordinates groups; else the error group requests answer with.</summary>
    public ErrorCode CoordinatorError => _state switch
    {
        CoordinatorState.Active => ErrorCode.None,
        CoordinatorState.Loading => ErrorCode.CoordinatorLoadInProgress,
        _ => ErrorCode.NotCoordinator,
    };

    /// <summary>This broker became leader of the offsets partition: loads its groups and offsets in the background.</summary>
    public void BecomeCoordinator()
    {
        long generation;
        lock (_leadershipLock)
        {
            if (_state != CoordinatorState.NotCoordinator)
            {
                return;
            }

            _state = CoordinatorState.Loading;
            generation = ++_leadershipGeneration;
        }

        _ = Task.Run(() => LoadAsLeader(generation));
    }

    /// <summary>This broker no longer leads the offsets partition: its groups are dropped (members re-find the coordinator).</summary>
    public void Resign()
    {
        lock (_leadershipLock)
        {
            if (_state == CoordinatorState.NotCoordinator)
            {
                return;
            }

            _state = CoordinatorState.NotCoordinator;
            _leadershipGeneration++;
            Unload();
        }

        LogResigned(_logger);
    }

    private void LoadAsLeader(long generation)
    {
        lock (_leadershipLock)
        {
            if (generation != _leadershipGeneration)
            {
                return;
            }

            try
            {
                lock (_groupsLock)
                {
                    Load();
                }

                _state = CoordinatorState.Active;
                LogBecameCoordinator(_logger);
            }
            catch (Exception e) when (BrokerCore.IsStorageFailure(e))
            {
                // What was loaded goes; requests keep answering COORDINATOR_LOAD_IN_PROGRESS until the role changes.
                LogLoadFailed(_logger, e);
                Unload();
            }
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
    }

    private enum CoordinatorState
    {
        NotCoordinator,
        Loading,
        Active,
    }

    [LoggerMessage(EventId = 1542, Level = LogLevel.Information, Message = "This broker leads __consumer_offsets and coordinates its groups")]
    private static partial void LogBecameCoordinator(ILogger logger);

    [LoggerMessage(EventId = 1543, Level = LogLevel.Information, Message = "This broker no longer leads __consumer_offsets; its groups were unloaded")]
    private static partial void LogResigned(ILogger logger);

    [LoggerMessage(EventId = 1544, Level = LogLevel.Error, Message = "Loading the groups of __consumer_offsets failed")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception);
}
