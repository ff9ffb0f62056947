using System.Buffers;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Handlers;

// ShareFetch v1-2 (KIP-932).
// Behaviour:
// - Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED at the top level); READ on each topic (else
//   TOPIC_AUTHORIZATION_FAILED on its partitions: nothing is acquired from them and their acknowledgements are not
//   applied). A response holding such an error is answered without waiting.
// - Share sessions: epoch 0 opens one with the listed partitions (acknowledgements then are INVALID_REQUEST), later
//   requests carry the session's next epoch and add partitions (Topics) or remove them (ForgottenTopicsData); -1
//   applies the acknowledgements and closes the session, releasing what the member still holds. Full cache:
//   SHARE_SESSION_LIMIT_REACHED (group.share.max.share.sessions).
// - Piggybacked acknowledgements apply first, as ShareAcknowledge does (AcknowledgeErrorCode per partition).
// - Then records are acquired from the session's partitions in order: redeliveries first, then new records, while fewer
//   than share.partition.max.record.locks are in flight; each partition returns the whole stored batches holding them
//   (copied: a partition's acquired offsets need not be contiguous) and AcquiredRecords ranges with their delivery
//   count. Locks last share.record.lock.duration.ms (AcquisitionLockTimeoutMs). share.isolation.level=read_committed
//   stops at the last stable offset and archives aborted and control records.
// - Limits, as Kafka 4.2 applies them: MaxRecords (500 when 0 or less) records in all; ShareAcquireMode (v2)
//   batch_optimized (0, and v1) may exceed it to finish a stored batch, record_limit (1) never does and splits the
//   batch (its stored batch is still sent whole; AcquiredRecords says which records are acquired). A partition's
//   AcquiredRecords ranges close at the first batch boundary at or past BatchSize records (batch_optimized). The
//   stored batches of the whole response stay within MaxBytes, except that its first batch is always returned
//   (KIP-74). Any other ShareAcquireMode is INVALID_REQUEST.
// - With nothing to acquire the request parks like Fetch (max MaxWaitMs, capped at FetchHandler.FetchWaitMsMax) until
//   an append or until a lock expires.
// - v2: IsRenewAck requests only renew locks and acquire nothing.
// - MinBytes: as Kafka's DelayedShareFetch, nothing is acquired until the stored batches from each partition's first
//   available offset to its high watermark add up to MinBytes, or MaxWaitMs runs out (then whatever is there).
public sealed class ShareFetchHandler(BrokerCore broker) : ApiHandler<ShareFetchRequest, ShareFetchResponse>(ApiKey.ShareFetch, 1, 2)
{
    /// <summary>Records one ShareFetch acquires when the request says 0 or less (the Java client's max.poll.records default).</summary>
    public const int MaxRecordsDefault = 500;

    private const sbyte AcquireModeBatchOptimized = 0;
    private const sbyte AcquireModeRecordLimit = 1;

    protected override async ValueTask<HandlerResult<ShareFetchResponse>> HandleAsync(RequestContext context, ShareFetchRequest request, CancellationToken cancellationToken)
    {
        var shares = broker.ShareGroups;
        var groupId = request.GroupId ?? "";
        var memberId = request.MemberId ?? "";
        if (!broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Group, groupId))
        {
            return new ShareFetchResponse { ErrorCode = (short)ErrorCode.GroupAuthorizationFailed };
        }

        var listed = request.Topics.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p.PartitionIndex))).ToList();
        var hasAcks = request.Topics.Any(t => t.Partitions.Any(p => p.AcknowledgementBatches.Count > 0));
        (ErrorCode Error, IReadOnlyList<(Guid TopicId, int Partition)> Partitions) session = groupId.Length == 0 ? (ErrorCode.InvalidGroupId, [])
            : memberId.Length == 0 ? (ErrorCode.InvalidRequest, [])
            : request.ShareSessionEpoch == 0 ? (hasAcks ? (ErrorCode.InvalidRequest, []) : shares.OpenSession(groupId, memberId, listed))
            : request.ShareSessionEpoch == -1 ? (shares.CheckSessionExists(groupId, memberId), [])
            : shares.UseSession(groupId, memberId, request.ShareSessionEpoch, listed,
                request.ForgottenTopicsData.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p))));
        if (session.Error != ErrorCode.None)
        {
            return new ShareFetchResponse { ErrorCode = (short)session.Error };
        }

        var acquireMode = context.ApiVersion >= 2 ? request.ShareAcquireMode : AcquireModeBatchOptimized;
        if (acquireMode is not (AcquireModeBatchOptimized or AcquireModeRecordLimit))
        {
            return new ShareFetchResponse { ErrorCode = (short)ErrorCode.InvalidRequest };
        }

        var settings = shares.SettingsFor(groupId);
        var unreadable = SharePartitionAcks.Unreadable(broker, context, request.Topics.Select(t => t.TopicId).Concat(session.Partitions.Select(p => p.TopicId)));
        var ackResults = SharePartitionAcks.Apply(broker, groupId, memberId,
            request.Topics.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p.PartitionIndex,
                (IReadOnlyList<AcknowledgementBatch>)[.. p.AcknowledgementBatches.Select(b => new AcknowledgementBatch(b.FirstOffset, b.LastOffset, b.AcknowledgeTypes))]))),
            unreadable,
            renewAllowed: context.ApiVersion >= 2 && request.IsRenewAck);
        if (request.ShareSessionEpoch == -1)
        {
            shares.CloseSession(groupId, memberId);
            return Respond(settings, [], ackResults);
        }

        var maxRecords = request.MaxRecords > 0 ? request.MaxRecords : MaxRecordsDefault;
        using var waiter = new FetchWaiter(broker.Time, Math.Clamp(request.MaxWaitMs, 0, FetchHandler.FetchWaitMsMax), context.ResumeOn, context.CloseRequested);
        while (true)
        {
            var partitions = session.Partitions.Select(Resolve).ToList();
            waiter.Arm(partitions.Where(p => p.Log is not null).Select(p => p.Log!));
            var remainingBefore = waiter.Remaining;
            if (request.MinBytes > 1 && remainingBefore > TimeSpan.Zero && partitions.Count > 0 && !(context.ApiVersion >= 2 && request.IsRenewAck)
                && !partitions.Any(p => p.Topic is null || p.Log is null || unreadable.Contains(p.TopicId))
                && AcquirableBytes(partitions, unreadable, groupId, settings, request.MinBytes) < request.MinBytes)
            {
                // As Kafka's DelayedShareFetch: nothing is acquired (no lock taken) until MinBytes are there or
                // MaxWaitMs ran out; woken by an append or when a lock expires.
                var expiry = partitions.Where(p => p.Topic is not null && p.Log is not null && !unreadable.Contains(p.TopicId))
                    .Select(p => shares.Partition(groupId, p.Topic!, p.Partition, p.Log!, settings).NextLockExpiryMs()).Where(e => e is not null).Min();
                var untilLockExpiry = expiry is { } at ? TimeSpan.FromMilliseconds(Math.Max(1, at - shares.NowMs)) : remainingBefore;
                await waiter.WaitAsync(untilLockExpiry < remainingBefore ? untilLockExpiry : remainingBefore, cancellationToken).ConfigureAwait(false);
                if (!context.CloseRequested.IsCancellationRequested)
                {
                    continue;
                }
            }

            var read = new List<PartitionRead>();
            var acquiredCount = 0;
            var acquiredBytes = 0L;
            long? nextExpiryMs = null;
            foreach (var p in partitions)
            {
                if (p.Topic is null || p.Log is null)
                {
                    read.Add(new PartitionRead(p.TopicId, p.Partition, p.Topic is null ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition, [], ReadOnlyMemory<byte>.Empty));
                    continue;
                }

                if (unreadable.Contains(p.TopicId))
                {
                    read.Add(new PartitionRead(p.TopicId, p.Partition, ErrorCode.TopicAuthorizationFailed, [], ReadOnlyMemory<byte>.Empty));
                    continue;
                }

                var share = shares.Partition(groupId, p.Topic, p.Partition, p.Log, settings);
                List<AcquiredRange> ranges = [];
                if (acquiredCount < maxRecords && !(context.ApiVersion >= 2 && request.IsRenewAck))
                {
                    try
                    {
                        var limits = new AcquireLimits(maxRecords - acquiredCount, request.BatchSize, acquireMode == AcquireModeRecordLimit,
                            Math.Max(0L, (long)request.MaxBytes - acquiredBytes), FirstBatchAlways: acquiredBytes == 0);
                        var acquired = share.Acquire(memberId, limits, p.Log, settings, shares.NowMs);
                        ranges = acquired.Ranges;
                        acquiredCount += acquired.Count;
                        acquiredBytes += acquired.Bytes;
                    }
                    catch (ObjectDisposedException)
                    {
                        // The topic was deleted since it was resolved.
                        read.Add(new PartitionRead(p.TopicId, p.Partition, ErrorCode.UnknownTopicId, [], ReadOnlyMemory<byte>.Empty));
                        continue;
                    }
                }

                read.Add(new PartitionRead(p.TopicId, p.Partition, ErrorCode.None, ranges, ranges.Count == 0 ? ReadOnlyMemory<byte>.Empty : Batches(p.Log, ranges)));
                if (share.NextLockExpiryMs() is { } expiry && (nextExpiryMs is null || expiry < nextExpiryMs))
                {
                    nextExpiryMs = expiry;
                }
            }

            // Expired locks and start offsets moved past archived records are written with the answer.
            shares.Persist(partitions.Where(p => p.Topic is not null && p.Log is not null && !unreadable.Contains(p.TopicId)).Select(p => shares.Partition(groupId, p.Topic!, p.Partition, p.Log!, settings)));
            var remaining = waiter.Remaining;
            if (acquiredCount > 0 || read.Any(r => r.Error == ErrorCode.TopicAuthorizationFailed) || remaining <= TimeSpan.Zero || partitions.Count == 0 || context.CloseRequested.IsCancellationRequested || (context.ApiVersion >= 2 && request.IsRenewAck))
            {
                return Respond(settings, read, ackResults);
            }

            // Woken by an append, or when the earliest lock expires and its records can be delivered again.
            var untilExpiry = nextExpiryMs is { } next ? TimeSpan.FromMilliseconds(Math.Max(1, next - shares.NowMs)) : remaining;
            await waiter.WaitAsync(untilExpiry < remaining ? untilExpiry : remaining, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What the session's readable partitions could acquire now, summed until <paramref name="minBytes"/> is reached.</summary>
    private long AcquirableBytes(List<ResolvedPartition> partitions, IReadOnlySet<Guid> unreadable, string groupId, ShareGroupSettings settings, int minBytes)
    {
        var bytes = 0L;
        foreach (var p in partitions)
        {
            if (p.Topic is null || p.Log is null || unreadable.Contains(p.TopicId))
            {
                continue;
            }

            try
            {
                bytes += broker.ShareGroups.Partition(groupId, p.Topic, p.Partition, p.Log, settings).AcquirableBytes(p.Log, settings, broker.ShareGroups.NowMs, (int)Math.Min(int.MaxValue, minBytes - bytes));
            }
            catch (ObjectDisposedException)
            {
                // The topic was deleted since it was resolved: the acquisition below answers UNKNOWN_TOPIC_ID.
                return minBytes;
            }

            if (bytes >= minBytes)
            {
                break;
            }
        }

        return bytes;
    }

    private ShareFetchResponse Respond(ShareGroupSettings settings, List<PartitionRead> read, Dictionary<(Guid TopicId, int Partition), ErrorCode> ackResults)
    {
        var response = new ShareFetchResponse { AcquisitionLockTimeoutMs = settings.RecordLockDurationMs };
        var entries = read.Where(r => r.Error != ErrorCode.None || r.Ranges.Count > 0 || ackResults.ContainsKey((r.TopicId, r.Partition))).ToList();
        foreach (var (topicId, partition) in ackResults.Keys)
        {
            if (!entries.Any(e => e.TopicId == topicId && e.Partition == partition))
            {
                entries.Add(new PartitionRead(topicId, partition, ErrorCode.None, [], ReadOnlyMemory<byte>.Empty));
            }
        }

        foreach (var byTopic in entries.GroupBy(e => e.TopicId))
        {
            response.Responses.Add(new ShareFetchResponse.ShareFetchableTopicResponse
            {
                TopicId = byTopic.Key,
                Partitions = [.. byTopic.Select(e => new ShareFetchResponse.PartitionData
                {
                    PartitionIndex = e.Partition,
                    ErrorCode = (short)e.Error,
                    AcknowledgeErrorCode = (short)ackResults.GetValueOrDefault((e.TopicId, e.Partition)),
                    CurrentLeader = new ShareFetchResponse.LeaderIdAndEpoch { LeaderId = broker.NodeId, LeaderEpoch = 0 },
                    Records = e.Records,
                    AcquiredRecords = [.. e.Ranges.Select(r => new ShareFetchResponse.AcquiredRecords { FirstOffset = r.FirstOffset, LastOffset = r.LastOffset, DeliveryCount = r.DeliveryCount })],
                })],
            });
        }

        return response;
    }

    private ResolvedPartition Resolve((Guid TopicId, int Partition) p)
    {
        var topic = broker.Metadata.Find(p.TopicId);
        return new ResolvedPartition(p.TopicId, p.Partition, topic, topic is null ? null : broker.FindLog(topic, p.Partition));
    }

    /// <summary>The stored batches that hold the acquired offsets, each once, in offset order.</summary>
    private static ReadOnlyMemory<byte> Batches(PartitionLog log, List<AcquiredRange> ranges)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var written = -1L; // every offset below this is in a batch already copied
        foreach (var range in ranges)
        {
            var offset = Math.Max(range.FirstOffset, written);
            while (offset <= range.LastOffset)
            {
                var read = log.Read(offset, new LogReadOptions(SharePartition.AcquireReadBytesMax));
                if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
                {
                    break;
                }

                var before = offset;
                for (var rest = read.Records; rest.Length >= RecordBatchHeader.Size && offset <= range.LastOffset;)
                {
                    var header = RecordBatchHeader.Read(rest.Span);
                    var size = Math.Min(header.TotalSize, rest.Length);
                    if (header.LastOffset >= offset)
                    {
                        buffer.Write(rest.Span[..size]);
                        offset = written = header.NextOffset;
                    }

                    rest = rest[size..];
                }

                if (offset == before)
                {
                    break;
                }
            }
        }

        return buffer.WrittenMemory;
    }

    protected override ShareFetchResponse? ErrorResponse(RequestContext context, ShareFetchRequest request, ErrorCode error) => new() { ErrorCode = (short)error };

    private sealed record ResolvedPartition(Guid TopicId, int Partition, TopicInfo? Topic, PartitionLog? Log);

    private sealed record PartitionRead(Guid TopicId, int Partition, ErrorCode Error, List<AcquiredRange> Ranges, ReadOnlyMemory<byte> Records);
}
