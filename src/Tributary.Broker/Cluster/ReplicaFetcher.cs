using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Cluster;

/// <summary>
/// Kafka's replica fetcher thread for one leader (num.replica.fetchers = 1): a loop that, for the partitions this
/// broker follows on that leader, first truncates each to the leader's end of its latest epoch (OffsetsForLeaderEpoch,
/// KIP-101/279), then fetches from its log end offset with this broker's replica id and the current leader epoch and
/// appends the leader's batches as they are. Errors back off (replica.fetch.backoff.ms) per partition, a lost
/// connection for the whole loop; a partition whose role or epoch changed is skipped, and the loop ends when stopped.
/// </summary>
internal sealed partial class ReplicaFetcher : IAsyncDisposable
{
    private readonly int _leaderId;
    private readonly BrokerCore _broker;
    private readonly IClusterControl _control;
    private readonly ReplicaLinkFactory _connect;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Topic, int Partition), FetchState> _partitions = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Task _loop;

    public ReplicaFetcher(int leaderId, BrokerCore broker, IClusterControl control, ReplicaLinkFactory connect, ILogger logger)
    {
        _leaderId = leaderId;
        _broker = broker;
        _control = control;
        _connect = connect;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public int LeaderId => _leaderId;

    /// <summary>Starts following <paramref name="replica"/> at <paramref name="leaderEpoch"/>: truncation first, then fetches.</summary>
    public void Add(PartitionReplica replica, int leaderEpoch)
    {
        lock (_lock)
        {
            _partitions[(replica.Log.Topic, replica.Log.Partition)] = new FetchState(replica, leaderEpoch);
        }

        _wake.Release();
    }

    public void Remove(string topic, int partition)
    {
        lock (_lock)
        {
            _partitions.Remove((topic, partition));
        }
    }

    public bool IsEmpty
    {
        get
        {
            lock (_lock)
            {
                return _partitions.Count == 0;
            }
        }
    }

    private async Task RunAsync()
    {
        var cancellationToken = _stopping.Token;
        IReplicaLink? link = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                FetchState[] partitions;
                lock (_lock)
                {
                    partitions = [.. _partitions.Values];
                }

                var nowMs = _broker.NowMs;
                var ready = partitions.Where(p => p.NotBeforeMs <= nowMs).ToArray();
                if (ready.Length == 0)
                {
                    var waitMs = partitions.Length == 0 ? Timeout.Infinite : (int)Math.Clamp(partitions.Min(p => p.NotBeforeMs) - nowMs, 1, int.MaxValue);
                    await _wake.WaitAsync(waitMs, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    link ??= await ConnectAsync(cancellationToken).ConfigureAwait(false);
                    if (link is null)
                    {
                        await BackOffAsync(cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    var truncating = ready.Where(p => !p.Truncated).ToArray();
                    if (truncating.Length > 0)
                    {
                        await TruncateAsync(link, truncating, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    await FetchAsync(link, ready, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OperationCanceledException)
                {
                    LogFetchFailed(e, _leaderId);
                    if (link is not null)
                    {
                        await DisposeQuietlyAsync(link).ConfigureAwait(false);
                        link = null;
                    }

                    await BackOffAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (link is not null)
            {
                await DisposeQuietlyAsync(link).ConfigureAwait(false);
            }
        }
    }

    private async Task<IReplicaLink?> ConnectAsync(CancellationToken cancellationToken)
    {
        if (!_control.TryGetBroker(_leaderId, out var leader))
        {
            LogLeaderUnknown(_leaderId);
            return null;
        }

        return await _connect(leader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// KIP-279: asks the leader where this replica's latest epoch ended there. If the leader knows that epoch, the log
    /// is cut at the smaller of that end and its own; if it answers an older epoch, the log is cut at the end of that
    /// epoch here (or the leader's end, if smaller) and the next round asks again with the epoch now latest.
    /// </summary>
    private async Task TruncateAsync(IReplicaLink link, FetchState[] partitions, CancellationToken cancellationToken)
    {
        var request = new OffsetForLeaderEpochRequest { ReplicaId = _control.LocalNodeId };
        foreach (var byTopic in partitions.GroupBy(p => p.Replica.Log.Topic))
        {
            request.Topics.Add(new OffsetForLeaderEpochRequest.OffsetForLeaderTopic
            {
                Topic = byTopic.Key,
                Partitions = [.. byTopic.Select(p => new OffsetForLeaderEpochRequest.OffsetForLeaderPartition
                {
                    Partition = p.Replica.Log.Partition,
                    CurrentLeaderEpoch = p.LeaderEpoch,
                    LeaderEpoch = p.Replica.Log.LeaderEpochs.LatestEpoch,
                })],
            });
        }

        var asked = partitions.ToDictionary(p => (p.Replica.Log.Topic, p.Replica.Log.Partition), p => p.Replica.Log.LeaderEpochs.LatestEpoch);
        var response = await link.OffsetsForLeaderEpochAsync(request, cancellationToken).ConfigureAwait(false);
        var byKey = partitions.ToDictionary(p => (p.Replica.Log.Topic, p.Replica.Log.Partition));
        foreach (var topic in response.Topics)
        {
            foreach (var result in topic.Partitions)
            {
                if (!byKey.TryGetValue((topic.Topic, result.Partition), out var state) || !IsCurrent(state))
                {
                    continue;
                }

                var log = state.Replica.Log;
                if (result.ErrorCode != 0)
                {
                    LogPartitionError(log.Topic, log.Partition, _leaderId, ((ErrorCode)result.ErrorCode).ToString());
                    state.NotBeforeMs = _broker.NowMs + _broker.Config.ReplicaFetchBackoffMs;
                    continue;
                }

                if (asked[(log.Topic, log.Partition)] == LeaderEpochCache.UndefinedEpoch || result.LeaderEpoch == LeaderEpochCache.UndefinedEpoch)
                {
                    // Nothing of ours to compare (an empty log, or one without epochs): fetch from the log end.
                    state.Truncated = true;
                    continue;
                }

                if (CutWhereDiverged(state, result.LeaderEpoch, result.EndOffset) is { } complete)
                {
                    // Done when the leader knew our latest epoch; else ask again with the epoch that is latest now.
                    state.Truncated = complete || log.LeaderEpochs.LatestEpoch == LeaderEpochCache.UndefinedEpoch;
                }
            }
        }
    }

    /// <summary>
    /// Kafka's getOffsetTruncationState: the leader's log has <paramref name="leaderEpoch"/> (the largest epoch it
    /// knows at or below the one asked about) ending at <paramref name="leaderEndOffset"/>. If this log has that epoch,
    /// it is cut at the smaller of the two ends of it (what follows here is in later epochs the leader never had) and the
    /// logs agree; if not, it is cut at the end of its largest epoch below, and the caller asks again. Returns whether
    /// the logs now agree, or null when the role changed meanwhile (nothing cut).
    /// </summary>
    private static bool? CutWhereDiverged(FetchState state, int leaderEpoch, long leaderEndOffset)
    {
        var log = state.Replica.Log;
        var (localEpoch, localEnd) = log.LeaderEpochs.EndOffsetFor(leaderEpoch, log.LogEndOffset);
        var agree = localEpoch == leaderEpoch;
        var cutAt = agree ? Math.Min(Math.Min(leaderEndOffset, localEnd), log.LogEndOffset) : Math.Min(localEnd, log.LogEndOffset);
        if (cutAt >= 0 && !state.Replica.TruncateAsFollower(state.LeaderEpoch, cutAt))
        {
            return null;
        }

        return agree;
    }

    private async Task FetchAsync(IReplicaLink link, FetchState[] partitions, CancellationToken cancellationToken)
    {
        var config = _broker.Config;
        var request = new FetchRequest
        {
            ReplicaId = _control.LocalNodeId,
            ReplicaState = new FetchRequest.ReplicaStateData { ReplicaId = _control.LocalNodeId, ReplicaEpoch = -1 },
            MaxWaitMs = config.ReplicaFetchWaitMaxMs,
            MinBytes = 1,
            MaxBytes = config.ReplicaFetchResponseMaxBytes,
        };
        foreach (var byTopic in partitions.GroupBy(p => p.Replica.Log.Topic))
        {
            request.Topics.Add(new FetchRequest.FetchTopic
            {
                Topic = byTopic.Key,
                TopicId = byTopic.First().Replica.State?.TopicId ?? Guid.Empty,
                Partitions = [.. byTopic.Select(p => new FetchRequest.FetchPartition
                {
                    Partition = p.Replica.Log.Partition,
                    CurrentLeaderEpoch = p.LeaderEpoch,
                    FetchOffset = p.Replica.Log.LogEndOffset,
                    LastFetchedEpoch = p.Replica.Log.LeaderEpochs.LatestEpoch,
                    LogStartOffset = p.Replica.Log.LogStartOffset,
                    PartitionMaxBytes = config.ReplicaFetchMaxBytes,
                })],
            });
        }

        var response = await link.FetchAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.ErrorCode != 0)
        {
            throw new IOException($"fetch from broker {_leaderId} failed: {(ErrorCode)response.ErrorCode}");
        }

        var byKey = partitions.ToDictionary(p => (p.Replica.Log.Topic, p.Replica.Log.Partition));
        foreach (var topic in response.Responses)
        {
            foreach (var data in topic.Partitions)
            {
                if (!byKey.TryGetValue((topic.Topic, data.PartitionIndex), out var state) || !IsCurrent(state))
                {
                    continue;
                }

                var log = state.Replica.Log;
                switch ((ErrorCode)data.ErrorCode)
                {
                    case ErrorCode.None when data.DivergingEpoch is { Epoch: >= 0 } diverging:
                        // The leader's log lacks our tail (Fetch v12's diverging epoch): cut it; the next fetch,
                        // with our new last epoch, is checked again.
                        LogDivergingEpoch(log.Topic, log.Partition, _leaderId, diverging.Epoch, diverging.EndOffset, log.LogEndOffset);
                        CutWhereDiverged(state, diverging.Epoch, diverging.EndOffset);
                        break;
                    case ErrorCode.None:
                        Append(state, data);
                        break;
                    case ErrorCode.OffsetOutOfRange:
                        // Our log end is past the leader's: compare epochs again, which cuts the tail.
                        state.Truncated = false;
                        state.NotBeforeMs = _broker.NowMs + config.ReplicaFetchBackoffMs;
                        break;
                    default:
                        // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER: the control plane will tell
                        // us the new state; until then this partition waits.
                        LogPartitionError(log.Topic, log.Partition, _leaderId, ((ErrorCode)data.ErrorCode).ToString());
                        state.NotBeforeMs = _broker.NowMs + config.ReplicaFetchBackoffMs;
                        break;
                }
            }
        }
    }

    /// <summary>
    /// Appends one partition's fetched batches. A disk that fails the write (ENOSPC, EIO: an <see cref="IOException"/>)
    /// fails this partition only: the log has cut the partial write, so the same offsets are fetched again after
    /// replica.fetch.backoff.ms, while the other partitions and the connection go on. Meanwhile the log end stands
    /// still and the leader's lag rule (replica.lag.time.max.ms) takes this replica out of the ISR; once writes succeed
    /// again it catches up and the leader takes it back. One warning per episode, not per fetch.
    /// </summary>
    private void Append(FetchState state, FetchResponse.PartitionData data)
    {
        var log = state.Replica.Log;
        try
        {
            var records = WholeBatches(data.Records ?? ReadOnlyMemory<byte>.Empty);
            if (!records.IsEmpty && RecordBatchHeader.Read(records.Span).BaseOffset is var first && first < log.LogEndOffset)
            {
                // The leader's batch holding our log end starts below it: our tail diverged from the leader's within
                // one epoch (written by a leader that lost its log). The leader's log wins.
                LogDiverged(log.Topic, log.Partition, log.LogEndOffset, first);
                state.Replica.TruncateAsFollower(state.LeaderEpoch, first);
                return;
            }

            state.Replica.AppendFromLeader(_leaderId, state.LeaderEpoch, MemoryMarshal.AsMemory(records), data.HighWatermark);
        }
        catch (IOException e)
        {
            if (!state.AppendFailing)
            {
                state.AppendFailing = true;
                LogAppendFailed(e, log.Topic, log.Partition, _leaderId, log.LogEndOffset);
            }

            state.NotBeforeMs = _broker.NowMs + _broker.Config.ReplicaFetchBackoffMs;
            return;
        }

        if (state.AppendFailing)
        {
            state.AppendFailing = false;
            LogAppendResumed(log.Topic, log.Partition, log.LogEndOffset);
        }
    }

    /// <summary>The whole batches at the start of <paramref name="records"/>; a fetch response may end in a partial one.</summary>
    private static ReadOnlyMemory<byte> WholeBatches(ReadOnlyMemory<byte> records)
    {
        var length = 0;
        while (records.Length - length >= RecordBatchHeader.Size)
        {
            var size = RecordBatchHeader.Read(records.Span[length..]).TotalSize;
            if (size > records.Length - length)
            {
                break;
            }

            length += size;
        }

        return records[..length];
    }

    private bool IsCurrent(FetchState state)
    {
        lock (_lock)
        {
            return _partitions.TryGetValue((state.Replica.Log.Topic, state.Replica.Log.Partition), out var current) && current == state;
        }
    }

    private Task BackOffAsync(CancellationToken cancellationToken) =>
        Task.Delay(TimeSpan.FromMilliseconds(_broker.Config.ReplicaFetchBackoffMs), _broker.Time, cancellationToken);

    private async Task DisposeQuietlyAsync(IReplicaLink link)
    {
        try
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            LogFetchFailed(e, _leaderId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
        _wake.Dispose();
    }

    /// <summary>One followed partition in this loop; replaced (not changed) when the epoch changes.</summary>
    private sealed class FetchState(PartitionReplica replica, int leaderEpoch)
    {
        public PartitionReplica Replica { get; } = replica;

        public int LeaderEpoch { get; } = leaderEpoch;

        /// <summary>False until the log was compared with the leader's epochs (and cut where it diverged).</summary>
        public bool Truncated { get; set; }

        public long NotBeforeMs { get; set; }

        /// <summary>The last append failed on the disk (an episode logged once, until an append succeeds).</summary>
        public bool AppendFailing { get; set; }
    }

    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "Replica fetch from broker {LeaderId} failed; backing off")]
    private partial void LogFetchFailed(Exception exception, int leaderId);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Warning, Message = "Broker {LeaderId}, leader of partitions this broker follows, is not registered")]
    private partial void LogLeaderUnknown(int leaderId);

    [LoggerMessage(EventId = 1506, Level = LogLevel.Information, Message = "{Topic}-{Partition}: our log diverged from leader {LeaderId}'s, whose epoch {Epoch} ends at {EndOffset} (our log end {LogEnd}); cutting our tail")]
    private partial void LogDivergingEpoch(string topic, int partition, int leaderId, int epoch, long endOffset, long logEnd);

    [LoggerMessage(EventId = 1505, Level = LogLevel.Warning, Message = "{Topic}-{Partition}: the leader's batch at our log end {LogEnd} starts at {BaseOffset}; truncating to it")]
    private partial void LogDiverged(string topic, int partition, long logEnd, long baseOffset);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Information, Message = "Replica fetch of {Topic}-{Partition} from broker {LeaderId}: {Error}")]
    private partial void LogPartitionError(string topic, int partition, int leaderId, string error);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Warning, Message = "Replica of {Topic}-{Partition} cannot append what it fetched from broker {LeaderId} (disk full or failing); it stays at offset {LogEndOffset} and retries")]
    private partial void LogAppendFailed(Exception exception, string topic, int partition, int leaderId, long logEndOffset);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Information, Message = "Replica of {Topic}-{Partition} appends again, from offset {LogEndOffset}")]
    private partial void LogAppendResumed(string topic, int partition, long logEndOffset);
}
