using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

/// <summary>
/// The broker's incremental fetch sessions (KIP-227), at most <see cref="Slots"/> of them
/// (max.incremental.fetch.session.cache.slots; 0: no sessions, every fetch is answered in full).
/// <para>
/// Request handling follows Kafka's FetchManager: a FULL request (epoch 0 or -1) closes the session it names; with
/// epoch 0 its response opens a new one when there is room, answering its id (epoch 1 next). An incremental request
/// names a session and its next epoch (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH otherwise), lists the
/// partitions added or changed and forgets others; a session made by Fetch v13+ serves only v13+ requests and the
/// other way round (FETCH_SESSION_TOPIC_ID_ERROR). A request that leaves its session empty closes it.
/// </para>
/// <para>
/// Eviction is Kafka's (FetchSessionCache.tryEvict) without the privileged class, as no follower fetches here: when
/// the cache is full, the least recently used session goes if unused for <see cref="EvictionMs"/>; else the session
/// with the fewest partitions among those older than <see cref="EvictionMs"/> gives way to a new one with more
/// partitions; else the new request gets no session. Finding the victim scans the sessions: it runs only when a
/// FULL request meets a full cache.
/// </para>
/// </summary>
public sealed class FetchSessionCache(int slots, TimeProvider time)
{
    /// <summary>Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: a session this young is never evicted for a newer one.</summary>
    public const long EvictionMs = 120_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, FetchSession> _sessions = [];

    public int Slots { get; } = slots;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public bool Contains(int sessionId)
    {
        lock (_lock)
        {
            return _sessions.ContainsKey(sessionId);
        }
    }

    /// <summary>Closes a session (a FULL request naming it); false when there is none of that id.</summary>
    public bool Remove(int sessionId)
    {
        lock (_lock)
        {
            return _sessions.Remove(sessionId);
        }
    }

    /// <summary>
    /// Applies an incremental request to its session: the error to answer with, or the session (its epoch advanced)
    /// and the partitions to read, all of the session's in its order. When the request leaves the session empty the
    /// session is closed and the request's own partitions are read without one (Session null).
    /// </summary>
    public (ErrorCode Error, FetchSession? Session, IReadOnlyList<FetchTarget> Targets) Update(
        int sessionId, int epoch, bool usesTopicIds, IReadOnlyList<FetchTarget> changed, IEnumerable<FetchSessionKey> forgotten)
    {
        lock (_lock)
        {
            if (!_sessions.TryGetValue(sessionId, out var session))
            {
                return (ErrorCode.FetchSessionIdNotFound, null, []);
            }

            if (session.Epoch != epoch)
            {
                return (ErrorCode.InvalidFetchSessionEpoch, null, []);
            }

            if (session.UsesTopicIds != usesTopicIds)
            {
                return (ErrorCode.FetchSessionTopicIdError, null, []);
            }

            foreach (var target in changed)
            {
                session.Set(target);
            }

            foreach (var key in forgotten)
            {
                session.Forget(key);
            }

            if (session.PartitionCount == 0)
            {
                _sessions.Remove(sessionId);
                return (ErrorCode.None, null, changed);
            }

            session.LastUsedMs = NowMs;
            session.Epoch = FetchSession.NextEpoch(session.Epoch);
            return (ErrorCode.None, session, [.. session.Partitions.Select(static p => p.Target)]);
        }
    }

    /// <summary>
    /// Opens a session for a FULL request with epoch 0 once its response is made: its partitions are
    /// <paramref name="targets"/>, remembered as <paramref name="sent"/> (the response's entry for each, in the same
    /// order) told the client. Returns the session id, or 0 when the cache has no room.
    /// </summary>
    public int TryCreate(bool usesTopicIds, IReadOnlyList<FetchTarget> targets, IReadOnlyList<FetchResponse.PartitionData> sent)
    {
        lock (_lock)
        {
            var now = NowMs;
            if (!MakeRoom(targets.Count, now))
            {
                return 0;
            }

            int id;
            do
            {
                id = Random.Shared.Next(1, int.MaxValue);
            }
            while (_sessions.ContainsKey(id));

            var session = new FetchSession(id, usesTopicIds, now);
            for (var i = 0; i < targets.Count; i++)
            {
                Remember(session.Set(targets[i]), sent[i]);
            }

            _sessions.Add(id, session);
            return id;
        }
    }

    /// <summary>
    /// Makes an incremental response of <paramref name="response"/>, which holds an entry for each of
    /// <paramref name="targets"/> (<paramref name="read"/>, same order): drops the entries with nothing new for the
    /// client (no records, and high watermark, last stable offset and log start offset as last sent, no error) and
    /// empty topics. False when another request used the session meanwhile (its epoch moved on): the caller answers
    /// INVALID_FETCH_SESSION_EPOCH.
    /// </summary>
    public bool Complete(FetchSession session, int requestEpoch, IReadOnlyList<FetchTarget> targets, IReadOnlyList<FetchResponse.PartitionData> read, FetchResponse response)
    {
        lock (_lock)
        {
            if (session.Epoch != FetchSession.NextEpoch(requestEpoch))
            {
                return false;
            }

            var dropped = new HashSet<FetchResponse.PartitionData>(ReferenceEqualityComparer.Instance);
            for (var i = 0; i < targets.Count; i++)
            {
                if (session.Find(targets[i].Key) is not { } partition || !Remember(partition, read[i]))
                {
                    dropped.Add(read[i]);
                }
                else if (read[i].Records is { Length: > 0 })
                {
                    session.MoveToEnd(partition.Key);
                }
            }

            foreach (var topic in response.Responses)
            {
                topic.Partitions.RemoveAll(dropped.Contains);
            }

            response.Responses.RemoveAll(static t => t.Partitions.Count == 0);
            return true;
        }
    }

    // Kafka's CachedPartition.maybeUpdateResponseData: whether the client must hear of the partition, remembering what
    // it is told. After an error the next response carries the partition again.
    private static bool Remember(FetchSessionPartition partition, FetchResponse.PartitionData data)
    {
        var changed = data.Records is { Length: > 0 } || data.ErrorCode != 0 || data.HighWatermark != partition.HighWatermark
            || data.LastStableOffset != partition.LastStableOffset || data.LogStartOffset != partition.LogStartOffset;
        partition.HighWatermark = data.ErrorCode != 0 ? -1 : data.HighWatermark;
        partition.LastStableOffset = data.LastStableOffset;
        partition.LogStartOffset = data.LogStartOffset;
        return changed;
    }

    private bool MakeRoom(int partitionCount, long nowMs)
    {
        if (_sessions.Count < Slots)
        {
            return true;
        }

        FetchSession? leastRecentlyUsed = null;
        FetchSession? smallestOld = null;
        foreach (var session in _sessions.Values)
        {
            if (leastRecentlyUsed is null || session.LastUsedMs < leastRecentlyUsed.LastUsedMs)
            {
                leastRecentlyUsed = session;
            }

            if (nowMs - session.CreatedMs > EvictionMs && (smallestOld is null
                || (session.PartitionCount, session.Id).CompareTo((smallestOld.PartitionCount, smallestOld.Id)) < 0))
            {
                smallestOld = session;
            }
        }

        var victim = leastRecentlyUsed is not null && nowMs - leastRecentlyUsed.LastUsedMs > EvictionMs ? leastRecentlyUsed
            : smallestOld is not null && partitionCount > smallestOld.PartitionCount ? smallestOld
            : null;
        return victim is not null && _sessions.Remove(victim.Id);
    }
}
