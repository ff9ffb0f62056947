using Tributary.Protocol;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// Share sessions (KIP-932): one per (group, member), at most <c>group.share.max.share.sessions</c>. Epoch 0 opens a
/// session (replacing the member's previous one, whose records are released), each later request must carry the
/// session's next epoch (INVALID_SHARE_SESSION_EPOCH otherwise, SHARE_SESSION_NOT_FOUND without a session), and -1
/// closes it, releasing every record the member still holds. A member whose group session expires loses its share
/// session too; one that leaves keeps it until it closes it (its last acknowledgements come after the leave), and a
/// full cache drops a session unused for group.share.session.timeout.ms before refusing a new one.
/// </summary>
public sealed partial class ShareGroupCoordinator
{
    /// <summary>Opens the member's session with <paramref name="partitions"/>; SHARE_SESSION_LIMIT_REACHED when the cache is full.</summary>
    internal (ErrorCode Error, IReadOnlyList<(Guid TopicId, int Partition)> Partitions) OpenSession(string groupId, string memberId, IEnumerable<(Guid TopicId, int Partition)> partitions)
    {
        bool replaced;
        ShareSession? evicted = null;
        IReadOnlyList<(Guid, int)> result;
        lock (_lock)
        {
            var key = (groupId, memberId);
            replaced = _sessions.Remove(key);
            if (_sessions.Count >= ShareGroupSettings.BrokerInt(_broker.Config, "group.share.max.share.sessions"))
            {
                // A full cache first drops one session unused for a whole session timeout (its client is gone).
                var idleBeforeMs = NowMs - ShareGroupSettings.BrokerInt(_broker.Config, "group.share.session.timeout.ms");
                var idle = _sessions.Values.Where(s => s.LastUsedMs < idleBeforeMs).MinBy(s => s.LastUsedMs);
                if (idle is null)
                {
                    return (ErrorCode.ShareSessionLimitReached, []);
                }

                _sessions.Remove((idle.GroupId, idle.MemberId));
                evicted = idle;
            }

            var session = new ShareSession(groupId, memberId) { LastUsedMs = NowMs };
            foreach (var (topicId, partition) in partitions)
            {
                session.Add(topicId, partition);
            }

            _sessions[key] = session;
            result = [.. session.Partitions];
        }

        if (replaced)
        {
            ReleaseMember(groupId, memberId);
        }

        if (evicted is not null && ReleaseMember(evicted.GroupId, evicted.MemberId))
        {
            DropIdlePartitions(evicted.GroupId);
        }

        return (ErrorCode.None, result);
    }

    /// <summary>
    /// Checks <paramref name="epoch"/> against the member's session and moves it on, adding and forgetting partitions
    /// (a ShareFetch; ShareAcknowledge passes none). Returns the session's partitions in the order they were added.
    /// </summary>
    internal (ErrorCode Error, IReadOnlyList<(Guid TopicId, int Partition)> Partitions) UseSession(string groupId, string memberId, int epoch,
        IEnumerable<(Guid TopicId, int Partition)> added, IEnumerable<(Guid TopicId, int Partition)> forgotten)
    {
        lock (_lock)
        {
            if (!_sessions.TryGetValue((groupId, memberId), out var session))
            {
                return (ErrorCode.ShareSessionNotFound, []);
            }

            if (epoch != session.NextEpoch)
            {
                return (ErrorCode.InvalidShareSessionEpoch, []);
            }

            session.Advance();
            session.LastUsedMs = NowMs;
            foreach (var (topicId, partition) in added)
            {
                session.Add(topicId, partition);
            }

            foreach (var (topicId, partition) in forgotten)
            {
                session.Forget(topicId, partition);
            }

            return (ErrorCode.None, [.. session.Partitions]);
        }
    }

    /// <summary>Epoch -1: SHARE_SESSION_NOT_FOUND without a session; otherwise it ends once the request's acknowledgements are applied.</summary>
    internal ErrorCode CheckSessionExists(string groupId, string memberId)
    {
        lock (_lock)
        {
            return _sessions.ContainsKey((groupId, memberId)) ? ErrorCode.None : ErrorCode.ShareSessionNotFound;
        }
    }

    /// <summary>Ends the member's session and releases the records it holds.</summary>
    internal void CloseSession(string groupId, string memberId) => CloseMember(groupId, memberId);

    /// <summary>The number of open share sessions.</summary>
    public int SessionCount
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    // False when the released state could not be written.
    private bool ReleaseMember(string groupId, string memberId)
    {
        var partitions = PartitionsOf(groupId);
        var limit = SettingsFor(groupId).DeliveryCountLimit;
        foreach (var partition in partitions)
        {
            partition.ReleaseMember(memberId, limit);
        }

        return Persist(partitions);
    }
}
