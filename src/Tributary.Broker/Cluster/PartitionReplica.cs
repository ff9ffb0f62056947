using Tributary.Protocol;
using Tributary.Storage;

namespace Tributary.Broker.Cluster;

/// <summary>
/// This broker's replica of one partition in a cluster (Kafka's Partition): its role at the current leader epoch and,
/// as leader, each follower's progress, the high watermark (the smallest log end offset of the ISR) and the acks=all
/// produces waiting for it. Role changes, follower appends and ISR changes are serialized by one lock, so a batch of a
/// deposed leader's fetcher never lands after the role changed.
/// </summary>
internal sealed class PartitionReplica
{
    private readonly Lock _lock = new();
    private readonly int _localId;
    private readonly Dictionary<int, FollowerProgress> _followers = [];
    private readonly List<Waiter> _waiters = [];
    private PartitionState? _state;
    private bool _alterInFlight;

    public PartitionReplica(PartitionLog log, int localId)
    {
        Log = log;
        _localId = localId;
        OnAppended = _ => UpdateHighWatermark();
    }

    public PartitionLog Log { get; }

    /// <summary>Subscribed to the log's Appended event while leading: a leader alone in its ISR moves its high watermark at once.</summary>
    public Action<PartitionLog> OnAppended { get; }

    public PartitionState? State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    public bool IsLeader
    {
        get
        {
            lock (_lock)
            {
                return _state?.Leader == _localId;
            }
        }
    }

    /// <summary>
    /// Takes a new state from the control plane. A state older than the one held (a lower leader epoch, or the same
    /// epoch with a lower partition epoch) is ignored. A new leader epoch makes this replica leader (the epoch starts at
    /// the log end) or follower (acks=all waiters fail with NOT_LEADER_OR_FOLLOWER). Returns whether the role or the
    /// epoch changed.
    /// </summary>
    public bool Apply(PartitionState state, long nowMs)
    {
        List<Waiter>? failed = null;
        bool changed;
        lock (_lock)
        {
            var old = _state;
            if (old is not null && (state.LeaderEpoch < old.LeaderEpoch || (state.LeaderEpoch == old.LeaderEpoch && state.PartitionEpoch < old.PartitionEpoch)))
            {
                return false;
            }

            changed = old is null || old.LeaderEpoch != state.LeaderEpoch || old.Leader != state.Leader;
            _state = state;
            if (state.Leader == _localId)
            {
                if (changed)
                {
                    Log.BecomeLeader(state.LeaderEpoch);
                    _followers.Clear();
                }

                // Kafka resets a follower's caught-up time when leadership starts, so the new leader does not drop
                // followers for the time before it led.
                foreach (var id in state.Replicas.Where(id => id != _localId && !_followers.ContainsKey(id)))
                {
                    _followers[id] = new FollowerProgress(nowMs);
                }

                foreach (var gone in _followers.Keys.Where(id => !state.Replicas.Contains(id)).ToList())
                {
                    _followers.Remove(gone);
                }
            }
            else if (changed)
            {
                Log.BecomeFollower();
                _followers.Clear();
                failed = [.. _waiters];
                _waiters.Clear();
            }
        }

        Complete(failed, ErrorCode.NotLeaderOrFollower);
        UpdateHighWatermark();
        return changed;
    }

    /// <summary>Stops leading or following: the partition left this broker. Waiters fail.</summary>
    public void Stop()
    {
        List<Waiter> failed;
        lock (_lock)
        {
            _state = null;
            failed = [.. _waiters];
            _waiters.Clear();
        }

        Complete(failed, ErrorCode.NotLeaderOrFollower);
    }

    /// <summary>
    /// A request's current_leader_epoch against ours (KIP-320): older is FENCED_LEADER_EPOCH, newer (the control plane
    /// has not told us yet) UNKNOWN_LEADER_EPOCH; -1 (not sent) passes. With <paramref name="leaderOnly"/>, a follower
    /// answers NOT_LEADER_OR_FOLLOWER.
    /// </summary>
    public ErrorCode CheckEpoch(int currentLeaderEpoch, bool leaderOnly)
    {
        lock (_lock)
        {
            if (_state is not { } state)
            {
                return ErrorCode.NotLeaderOrFollower;
            }

            if (currentLeaderEpoch >= 0 && currentLeaderEpoch < state.LeaderEpoch)
            {
                return ErrorCode.FencedLeaderEpoch;
            }

            if (currentLeaderEpoch > state.LeaderEpoch)
            {
                return ErrorCode.UnknownLeaderEpoch;
            }

            return leaderOnly && state.Leader != _localId ? ErrorCode.NotLeaderOrFollower : ErrorCode.None;
        }
    }

    /// <summary>
    /// A follower's fetch at <paramref name="fetchOffset"/> (its log end offset), whose last batch has leader epoch
    /// <paramref name="lastFetchedEpoch"/>, reached the leader. If that position is not on this log (Kafka's diverging
    /// epoch check: this log's end of that epoch is lower, or it does not know the epoch), the follower's log has a tail
    /// this one lacks: nothing is counted, and the answer names this log's end of the largest epoch at or below it, where
    /// the follower cuts. Otherwise its progress is updated, the high watermark may move, and the follower, not in the
    /// ISR, joins it once it has caught up (at least the high watermark and the current epoch's start offset).
    /// </summary>
    public (ErrorCode Error, bool JoinIsr, (int Epoch, long EndOffset)? Diverging) OnFollowerFetch(
        int replicaId, int currentLeaderEpoch, long fetchOffset, int lastFetchedEpoch, long nowMs)
    {
        var error = CheckEpoch(currentLeaderEpoch, leaderOnly: true);
        if (error != ErrorCode.None)
        {
            return (error, false, null);
        }

        bool join;
        lock (_lock)
        {
            if (!_followers.TryGetValue(replicaId, out var progress))
            {
                return (ErrorCode.NotLeaderOrFollower, false, null);
            }

            if (Diverging(fetchOffset, lastFetchedEpoch) is { } diverging)
            {
                return (ErrorCode.None, false, diverging);
            }

            progress.OnFetch(fetchOffset, Log.LogEndOffset, nowMs);
            var epochStart = Log.LeaderEpochs.Entries is [.., var latest] ? latest.StartOffset : 0;
            join = !_state!.Isr.Contains(replicaId) && fetchOffset >= Log.HighWatermark && fetchOffset >= epochStart;
        }

        UpdateHighWatermark();
        return (ErrorCode.None, join, null);
    }

    // Kafka's validateFetchOffsetAndMaybeGetDivergingEpoch. A follower without epochs (-1: an empty log, or a fetch
    // before v12) and a leader without any are not compared; the fetch offset is then trusted as before.
    private (int Epoch, long EndOffset)? Diverging(long fetchOffset, int lastFetchedEpoch)
    {
        if (lastFetchedEpoch < 0)
        {
            return null;
        }

        var (epoch, endOffset) = Log.LeaderEpochs.EndOffsetFor(lastFetchedEpoch, Log.LogEndOffset);
        if (epoch == LeaderEpochCache.UndefinedEpoch || endOffset < 0)
        {
            return null;
        }

        return epoch < lastFetchedEpoch || endOffset < fetchOffset ? (epoch, endOffset) : null;
    }

    /// <summary>The followers in the ISR that have not caught up for longer than <paramref name="lagMsMax"/>.</summary>
    public int[] LaggingInSyncFollowers(long nowMs, long lagMsMax)
    {
        lock (_lock)
        {
            if (_state is not { } state || state.Leader != _localId)
            {
                return [];
            }

            return [.. state.Isr.Where(id => id != _localId && _followers.TryGetValue(id, out var p) && nowMs - p.LastCaughtUpMs > lagMsMax)];
        }
    }

    /// <summary>An ISR change may start (one at a time per partition); returns the state to change, or null.</summary>
    public PartitionState? TryBeginIsrChange()
    {
        lock (_lock)
        {
            if (_alterInFlight || _state is not { } state || state.Leader != _localId)
            {
                return null;
            }

            _alterInFlight = true;
            return state;
        }
    }

    /// <summary>
    /// The ISR change started from <paramref name="sent"/> ended. When written and no newer state arrived meanwhile, the
    /// new ISR applies now (the control plane's next state confirms it); the high watermark may move (a shrink).
    /// </summary>
    public void EndIsrChange(PartitionState sent, int[] newIsr, bool written)
    {
        lock (_lock)
        {
            _alterInFlight = false;
            if (written && _state is { } state && state.LeaderEpoch == sent.LeaderEpoch && state.PartitionEpoch == sent.PartitionEpoch)
            {
                _state = state with { Isr = newIsr, PartitionEpoch = state.PartitionEpoch + 1 };
            }
        }

        UpdateHighWatermark();
    }

    /// <summary>
    /// Waits until the high watermark passes <paramref name="lastOffset"/>, the batch's last offset (the ISR has all of
    /// it, as Kafka's requiredOffset = last offset + 1; a follower whose log ends inside the batch does not count): NONE, or
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below <paramref name="minInsyncReplicas"/> meanwhile,
    /// NOT_LEADER_OR_FOLLOWER when leadership moved, REQUEST_TIMED_OUT after <paramref name="timeout"/>.
    /// </summary>
    public async Task<ErrorCode> WaitForReplicationAsync(long lastOffset, int minInsyncReplicas, TimeSpan timeout, TimeProvider time)
    {
        var waiter = new Waiter(lastOffset, minInsyncReplicas);
        lock (_lock)
        {
            if (_state is not { } state || state.Leader != _localId)
            {
                return ErrorCode.NotLeaderOrFollower;
            }

            if (Log.HighWatermark > lastOffset)
            {
                return state.Isr.Length < minInsyncReplicas ? ErrorCode.NotEnoughReplicasAfterAppend : ErrorCode.None;
            }

            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Done.Task.WaitAsync(timeout, time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                _waiters.Remove(waiter);
            }

            return ErrorCode.RequestTimedOut;
        }
    }

    /// <summary>As leader: the high watermark becomes the smallest log end offset of the ISR; waiters it passed complete.</summary>
    public void UpdateHighWatermark()
    {
        List<Waiter>? done = null;
        int isrCount;
        lock (_lock)
        {
            if (_state is not { } state || state.Leader != _localId)
            {
                return;
            }

            var highWatermark = Log.LogEndOffset;
            foreach (var id in state.Isr)
            {
                if (id != _localId)
                {
                    // A follower not heard from in this epoch holds the high watermark where it is.
                    var end = _followers.TryGetValue(id, out var p) && p.LogEndOffset >= 0 ? p.LogEndOffset : Log.HighWatermark;
                    highWatermark = Math.Min(highWatermark, end);
                }
            }

            Log.AdvanceHighWatermark(highWatermark);
            var reached = Log.HighWatermark;
            isrCount = state.Isr.Length;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].LastOffset < reached)
                {
                    (done ??= []).Add(_waiters[i]);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (done is not null)
        {
            foreach (var waiter in done)
            {
                waiter.Done.TrySetResult(isrCount < waiter.MinInsyncReplicas ? ErrorCode.NotEnoughReplicasAfterAppend : ErrorCode.None);
            }
        }
    }

    /// <summary>
    /// As follower of <paramref name="leaderId"/> at <paramref name="leaderEpoch"/>: appends the leader's batches and
    /// takes its high watermark. False (nothing appended) when the role or epoch changed since the fetch was sent.
    /// </summary>
    public bool AppendFromLeader(int leaderId, int leaderEpoch, Memory<byte> batches, long leaderHighWatermark)
    {
        lock (_lock)
        {
            if (_state is not { } state || state.Leader != leaderId || state.LeaderEpoch != leaderEpoch || leaderId == _localId)
            {
                return false;
            }

            if (!batches.IsEmpty)
            {
                Log.AppendReplicated(batches);
            }

            Log.AdvanceHighWatermark(Math.Min(leaderHighWatermark, Log.LogEndOffset));
            return true;
        }
    }

    /// <summary>As follower at <paramref name="leaderEpoch"/>: cuts the log (a diverged tail); false when the role changed.</summary>
    public bool TruncateAsFollower(int leaderEpoch, long offset)
    {
        lock (_lock)
        {
            if (_state is not { } state || state.Leader == _localId || state.LeaderEpoch != leaderEpoch)
            {
                return false;
            }

            Log.TruncateTo(offset);
            return true;
        }
    }

    private static void Complete(List<Waiter>? waiters, ErrorCode error)
    {
        foreach (var waiter in waiters ?? [])
        {
            waiter.Done.TrySetResult(error);
        }
    }

    private sealed class Waiter(long lastOffset, int minInsyncReplicas)
    {
        public long LastOffset { get; } = lastOffset;

        public int MinInsyncReplicas { get; } = minInsyncReplicas;

        public TaskCompletionSource<ErrorCode> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
