using System.Runtime.InteropServices;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;
using Tributary.Storage.Segments;

namespace Tributary.Broker.Handlers;

// Fetch v4-18: returns stored batches byte for byte, bounded by the high watermark, max_bytes and partition_max_bytes.
//
// Behaviour:
// - Authorization: READ on each topic, else TOPIC_AUTHORIZATION_FAILED for its partitions; a follower's fetch
//   (replica_id >= 0) needs CLUSTER_ACTION on the cluster instead, else every partition is TOPIC_AUTHORIZATION_FAILED.
// - The first batch of the response is returned whole even when larger than the bounds (KIP-74).
// - Below min_bytes the fetch parks (FetchWaiter) until an append to one of its partitions or max_wait_ms, capped at
//   FetchWaitMsMax; a parked fetch holds no lock and never delays produce traffic.
// - Deleting a topic wakes the fetches parked on it; they answer UNKNOWN_TOPIC_OR_PARTITION (by id: UNKNOWN_TOPIC_ID).
// - read_committed (isolation_level 1) stops at the last stable offset (the first offset of the earliest open
//   transaction, else the high watermark) and lists the aborted transactions overlapping the returned batches.
//   last_stable_offset is reported at both levels.
// - Fetch sessions (KIP-227, v7+): a FULL request with epoch 0 opens one when the FetchSessionCache has room; an
//   incremental request reads all of its session's partitions, in the session's order, and its response carries only
//   the partitions with records, errors, or a high watermark, last stable offset or log start offset the client has
//   not been told yet.
// - Cluster mode (BrokerCore.Replicas): a follower's fetch (replica_id, v15+ replica_state.replica_id) reports its log
//   end offset to the leader, which may move the high watermark, and reads up to the leader's log end; a consumer's
//   must reach the leader (NOT_LEADER_OR_FOLLOWER). An older current_leader_epoch is FENCED_LEADER_EPOCH, a newer one
//   UNKNOWN_LEADER_EPOCH. A broker that is not a replica of the partition answers NOT_LEADER_OR_FOLLOWER to both and
//   opens no log (BrokerCore.HostsReplica).
// Versions:
// - v13+ names topics by id (UNKNOWN_TOPIC_ID when unknown).
// - v18's per-partition high watermark is a follower's, which a single broker never receives.
// Deviations:
// - The aborted-transaction index is kept in memory per partition and rebuilt from the log on open (Kafka keeps it
//   per segment on disk).
public sealed class FetchHandler(BrokerCore broker) : ApiHandler<FetchRequest, FetchResponse>(ApiKey.Fetch, 4, 18)
{
    /// <summary>Upper bound on how long one fetch may park, whatever max_wait_ms the client asks for.</summary>
    public const int FetchWaitMsMax = 30_000;

    /// <summary>Upper bound on one response's record bytes, whatever max_bytes the client asks for.</summary>
    public const int ResponseBytesMax = 64 * 1024 * 1024;

    protected override async ValueTask<HandlerResult<FetchResponse>> HandleAsync(RequestContext context, FetchRequest request, CancellationToken cancellationToken)
    {
        var byId = context.ApiVersion >= 13;
        var sessions = broker.FetchSessions;
        var requested = Targets(request);
        FetchSession? session = null;
        IReadOnlyList<FetchTarget> targets = requested;

        // Below v7 the fields are absent and read as session 0, epoch -1: a FULL request that asks for no session.
        var full = request.SessionEpoch is FetchSession.InitialEpoch or FetchSession.FinalEpoch;
        if (full && request.SessionId != 0)
        {
            sessions.Remove(request.SessionId);
        }
        else if (!full)
        {
            var forgotten = request.ForgottenTopicsData.SelectMany(t => t.Partitions.Select(p => new FetchSessionKey(t.Topic, t.TopicId, p)));
            var (error, updated, sessionTargets) = sessions.Update(request.SessionId, request.SessionEpoch, byId, requested, forgotten);
            if (error != ErrorCode.None)
            {
                return new FetchResponse { ErrorCode = (short)error, SessionId = 0 };
            }

            (session, targets) = (updated, sessionTargets);
        }

        // A follower names itself (v15+ in ReplicaState); consumers send -1.
        var replicaId = context.ApiVersion >= 15 ? request.ReplicaState.ReplicaId : request.ReplicaId;
        var follower = replicaId >= 0;
        var partitions = Resolve(context, targets, byId, follower);
        var buffers = new ReadBuffers();
        using var waiter = new FetchWaiter(broker.Time, Math.Clamp(request.MaxWaitMs, 0, FetchWaitMsMax), context.ResumeOn, context.CloseRequested);
        try
        {
            while (true)
            {
                // A topic deleted while the fetch waited (which wakes it) is unknown now: resolve again.
                if (partitions.Any(static p => p.Log is { IsDisposed: true }))
                {
                    partitions = Resolve(context, targets, byId, follower);
                }

                // An incremental fetch parks on every partition of its session, not only the ones its request listed.
                var logs = partitions.Where(p => p.Log is not null).Select(p => p.Log!).ToList();
                waiter.Arm(logs);
                var (response, read, bytes) = Read(request, partitions, byId, buffers, context.ConnectionId, replicaId, context.Connection.ListenerName);
                var remaining = waiter.Remaining;
                if (bytes >= request.MinBytes || remaining <= TimeSpan.Zero || response.ErrorCode != 0 || logs.Count == 0 || HasPartitionError(response)
                    || context.CloseRequested.IsCancellationRequested)
                {
                    if (session is not null && !sessions.Complete(session, request.SessionEpoch, targets, read, response))
                    {
                        buffers.Release();
                        return new FetchResponse { ErrorCode = (short)ErrorCode.InvalidFetchSessionEpoch, SessionId = session.Id };
                    }

                    response.SessionId = session?.Id
                        ?? (full && request.SessionEpoch == FetchSession.InitialEpoch ? sessions.TryCreate(byId, targets, read) : 0);
                    CountAnswered(partitions, read, response);
                    return new HandlerResult<FetchResponse>(response, Buffers: buffers);
                }

                // This response is dropped; the read after the wait (woken, or max_wait_ms over) makes a new one.
                buffers.Release();
                await waiter.WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            buffers.Release();
            throw;
        }
    }

    // Only the response that is sent counts: a parked fetch's earlier reads are dropped.
    private void CountAnswered(List<RequestedPartition> partitions, List<FetchResponse.PartitionData> read, FetchResponse response)
    {
        broker.RequestErrors.Count(ApiKey.Fetch, response.ErrorCode);
        for (var i = 0; i < read.Count; i++)
        {
            broker.RequestErrors.Count(ApiKey.Fetch, read[i].ErrorCode);
            if (partitions[i].Log is { } log && read[i].Records is { Length: > 0 } records)
            {
                log.Traffic.AddOut(records.Length);
            }
        }
    }

    // A diverging epoch is answered at once too: the follower has to cut its log before it can fetch anything.
    private static bool HasPartitionError(FetchResponse response) =>
        response.Responses.Any(t => t.Partitions.Any(p => p.ErrorCode != 0 || p.DivergingEpoch is { Epoch: >= 0 }));

    private static List<FetchTarget> Targets(FetchRequest request) =>
        [.. request.Topics.SelectMany(t => t.Partitions.Select(p => new FetchTarget(t.Topic, t.TopicId, p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch, p.LastFetchedEpoch)))];

    // A partition of a topic the connection may not READ resolves to no log, marked denied. A follower's fetch needs
    // CLUSTER_ACTION on the cluster instead, for every partition (Kafka's KafkaApis.handleFetchRequest).
    private List<RequestedPartition> Resolve(RequestContext context, IReadOnlyList<FetchTarget> targets, bool byId, bool follower)
    {
        var list = new List<RequestedPartition>(targets.Count);
        TopicInfo? topic = null;
        var clusterDenied = follower && !broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction);
        var denied = false;
        for (var i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            if (i == 0 || t.Topic != targets[i - 1].Topic || t.TopicId != targets[i - 1].TopicId)
            {
                topic = byId ? broker.Metadata.Find(t.TopicId) : broker.Metadata.Find(t.Topic);
                var name = byId ? topic?.Name : t.Topic;
                denied = clusterDenied || (!follower && name is not null && !broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, name));
            }

            list.Add(new RequestedPartition(t, topic, topic is null || denied ? null : broker.FindLog(topic, t.Partition), denied));
        }

        return list;
    }

    /// <summary>
    /// Reads each partition into a response that groups consecutive partitions of one topic; also returns each
    /// partition's entry in the order of <paramref name="partitions"/>, and the record bytes read.
    /// </summary>
    private (FetchResponse Response, List<FetchResponse.PartitionData> Read, long Bytes) Read(
        FetchRequest request, List<RequestedPartition> partitions, bool byId, ReadBuffers buffers, string reader, int replicaId, string listener)
    {
        var replicas = broker.Replicas;
        var response = new FetchResponse();
        var entries = new List<FetchResponse.PartitionData>(partitions.Count);
        var budget = Math.Clamp(request.MaxBytes, 0, ResponseBytesMax);
        long total = 0;
        FetchResponse.FetchableTopicResponse? current = null;
        foreach (var r in partitions)
        {
            var target = r.Target;
            if (current is null || current.Topic != (byId ? "" : target.Topic) || current.TopicId != (byId ? target.TopicId : Guid.Empty))
            {
                current = new FetchResponse.FetchableTopicResponse { Topic = byId ? "" : target.Topic, TopicId = byId ? target.TopicId : Guid.Empty };
                response.Responses.Add(current);
            }

            var data = new FetchResponse.PartitionData
            {
                PartitionIndex = target.Partition,
                HighWatermark = -1,
                LastStableOffset = -1,
                LogStartOffset = -1,
                AbortedTransactions = request.IsolationLevel == 1 ? [] : null,
                PreferredReadReplica = -1,
                Records = ReadOnlyMemory<byte>.Empty,
            };
            current.Partitions.Add(data);
            entries.Add(data);
            if (r.Log is null && (r.Denied || r.Topic is null))
            {
                data.ErrorCode = (short)(r.Denied ? ErrorCode.TopicAuthorizationFailed : byId ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition);
                continue;
            }

            // Consumers read from the leader (a broker that is not a replica of the partition has no log, and says where
            // the leader is all the same); a follower's fetch (replica id >= 0) is the data plane's to answer.
            if (Math.Max(request.ReplicaId, request.ReplicaState.ReplicaId) < 0 && LeaderRedirect.IsElsewhere(broker, r.Topic!.Name, target.Partition, out var leader))
            {
                data.ErrorCode = (short)ErrorCode.NotLeaderOrFollower;
                data.CurrentLeader = new() { LeaderId = leader.Leader, LeaderEpoch = leader.LeaderEpoch };
                if (LeaderRedirect.EndpointOf(broker, leader.Leader, listener) is var (b, e) && !response.NodeEndpoints.Any(n => n.NodeId == b.NodeId))
                {
                    response.NodeEndpoints.Add(new FetchResponse.NodeEndpoint { NodeId = b.NodeId, Host = e.Host, Port = e.Port, Rack = b.Rack });
                }

                continue;
            }

            if (r.Log is null)
            {
                data.ErrorCode = (short)broker.MissingLogError(r.Topic!, target.Partition);
                continue;
            }

            var follower = false;
            if (replicas is not null)
            {
                var (refused, diverging) = replicas.OnFetch(r.Log.Topic, target.Partition, replicaId, target.CurrentLeaderEpoch, target.FetchOffset, target.LastFetchedEpoch);
                if (refused != ErrorCode.None)
                {
                    data.ErrorCode = (short)refused;
                    continue;
                }

                if (diverging is var (epoch, endOffset))
                {
                    // The follower's log has a tail this one lacks: it cuts there and fetches again (no records).
                    data.DivergingEpoch = new FetchResponse.EpochEndOffset { Epoch = epoch, EndOffset = endOffset };
                    data.HighWatermark = r.Log.HighWatermark;
                    data.LogStartOffset = r.Log.LogStartOffset;
                    continue;
                }

                follower = replicaId >= 0;
            }

            var maxBytes = (int)Math.Min(Math.Max(0, target.PartitionMaxBytes), Math.Max(0, budget - total));

            // Read before the data: the last stable offset only grows, so data bounded by it is stable.
            var lastStableOffset = r.Log.LastStableOffset;
            var readCommitted = request.IsolationLevel == 1;
            LogReadResult read;
            try
            {
                read = r.Log.Read(target.FetchOffset, new LogReadOptions(maxBytes) { MinOneBatch = total == 0, UpToLogEnd = follower, MaxOffset = readCommitted ? lastStableOffset : long.MaxValue, Buffers = buffers, Reader = reader });
            }
            catch (ObjectDisposedException)
            {
                // The topic was deleted since it was resolved.
                data.ErrorCode = (short)(byId ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition);
                continue;
            }

            data.HighWatermark = read.HighWatermark;
            data.LastStableOffset = lastStableOffset;
            data.LogStartOffset = read.LogStartOffset;
            if (read.Status == LogReadStatus.OffsetOutOfRange)
            {
                data.ErrorCode = (short)ErrorCode.OffsetOutOfRange;
                continue;
            }

            if (readCommitted && !read.Records.IsEmpty)
            {
                data.AbortedTransactions = [.. r.Log.AbortedTransactions(target.FetchOffset, EndOffset(read.Records))
                    .Select(a => new FetchResponse.AbortedTransaction { ProducerId = a.ProducerId, FirstOffset = a.FirstOffset })];
            }

            data.Records = read.Records;
            total += read.Records.Length;
        }

        return (response, entries, total);
    }

    /// <summary>The offset after the last batch of the stored bytes (headers only are read).</summary>
    private static long EndOffset(ReadOnlyMemory<byte> records)
    {
        if (MemoryMarshal.TryGetMemoryManager<byte, SegmentRecords>(records, out var stored, out var start, out var length) && start == 0 && length == stored.Length)
        {
            return stored.NextOffset; // still in the file: its reader walked the headers already
        }

        long end = 0;
        for (var remaining = records; remaining.Length >= RecordBatchHeader.Size;)
        {
            var header = RecordBatchHeader.Read(remaining.Span);
            end = header.NextOffset;
            remaining = remaining[Math.Min(header.TotalSize, remaining.Length)..];
        }

        return end;
    }

    protected override FetchResponse? ErrorResponse(RequestContext context, FetchRequest request, ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        Responses = [.. request.Topics.Select(t => new FetchResponse.FetchableTopicResponse
        {
            Topic = t.Topic,
            TopicId = t.TopicId,
            Partitions = [.. t.Partitions.Select(p => new FetchResponse.PartitionData { PartitionIndex = p.Partition, ErrorCode = (short)error, HighWatermark = -1, LastStableOffset = -1, LogStartOffset = -1, Records = ReadOnlyMemory<byte>.Empty })],
        })],
    };

    private sealed record RequestedPartition(FetchTarget Target, TopicInfo? Topic, PartitionLog? Log, bool Denied);
}
