using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Metadata;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;
using Tributary.Storage.Producers;

namespace Tributary.Broker.Handlers;

// Produce v0-13: appends each partition's one record batch, in two stages (RequestStages): appended, then durable.
//
// Behaviour:
// - Authorization: WRITE on the transactional id, if any (else every partition is
//   TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and WRITE on each topic (else TOPIC_AUTHORIZATION_FAILED).
// - Refused with nothing appended: anything but one whole magic-2 batch, or a control batch (INVALID_RECORD); a bad
//   CRC or records (CORRUPT_MESSAGE); over max.message.bytes (MESSAGE_TOO_LARGE); keyless records for a compacted
//   topic (INVALID_RECORD, one record error each); on a CreateTime topic, records stamped further than
//   message.timestamp.before.max.ms behind or .after.max.ms ahead of the broker's clock (INVALID_TIMESTAMP, one
//   record error each, as Kafka's LogValidator).
// - Stored as sent but for the base offset, the max timestamp (its records' largest, as Kafka's LogValidator),
//   LogAppendTime topics' timestamps and the codec a topic's compression.type names.
// - Idempotent batches are checked against the producer state under the log's append lock; a retry of one of the
//   last five batches answers its first offset. Transactional ones are checked and appended under the transaction
//   coordinator's lock too (KIP-890 part 1), so none lands after its transaction's marker.
// - flush.messages reached: the response waits for the flush; one fsync covers the produces queued behind it.
// Versions: v0-2 answer magic 0/1 with UNSUPPORTED_FOR_MESSAGE_FORMAT (advertised for librdkafka before 2.10, which
//   compresses only if the range includes v0); zstd needs v7; v8 adds error messages; v12 is v11 (transaction
//   version 2 is not finalized); v13 names topics by id.
// - Cluster mode (BrokerCore.Replicas): only the leader appends (else NOT_LEADER_OR_FOLLOWER); acks=all is refused
//   with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, and answered once the ISR has the batch
//   (REQUEST_TIMED_OUT after timeout_ms; NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the minimum).
//   A broker that is not a replica of the partition holds no log for it and opens none (BrokerCore.HostsReplica).
// Deviations: acks 1 and -1 are the same on one broker; never PRODUCER_FENCED (KAFKA-10687); no decompression
//   memory to validate with is REQUEST_TIMED_OUT, which producers retry.
public sealed partial class ProduceHandler(BrokerCore broker, ILogger<ProduceHandler> logger) : TwoPhaseApiHandler<ProduceRequest, ProduceResponse>(ApiKey.Produce, 0, 13)
{
    protected override RequestStages<ProduceResponse> Dispatch(RequestContext context, ProduceRequest request)
    {
        if (request.Acks is not (0 or 1 or -1))
        {
            return new(ErrorResponse(context, request, ErrorCode.InvalidRequiredAcks), null);
        }

        // Kafka checks the transactional id first: without WRITE on it every partition is refused.
        if (request.TransactionalId is { } transactionalId && !broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.TransactionalId, transactionalId))
        {
            return new(request.Acks == 0 ? null : ErrorResponse(context, request, ErrorCode.TransactionalIdAuthorizationFailed), null);
        }

        var response = new ProduceResponse();
        var byId = context.ApiVersion >= 13;
        List<Task>? flushes = null;
        foreach (var topicData in request.TopicData)
        {
            var topicResponse = new ProduceResponse.TopicProduceResponse { Name = topicData.Name, TopicId = topicData.TopicId };
            response.Responses.Add(topicResponse);
            var topic = byId ? broker.Metadata.Find(topicData.TopicId) : broker.Metadata.Find(topicData.Name);
            var name = byId ? topic?.Name : topicData.Name;
            var denied = name is not null && !broker.Authorizer.Authorize(context, AclOperation.Write, AclResourceType.Topic, name);
            foreach (var partitionData in topicData.PartitionData)
            {
                var result = new ProduceResponse.PartitionProduceResponse { Index = partitionData.Index, BaseOffset = -1, LogAppendTimeMs = -1, LogStartOffset = -1 };
                topicResponse.PartitionResponses.Add(result);
                if (denied)
                {
                    result.ErrorCode = (short)ErrorCode.TopicAuthorizationFailed;
                    continue;
                }
                if (topic is null)
                {
                    result.ErrorCode = (short)(byId ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition);
                    continue;
                }

                // Before the log: a broker that is not a replica of the partition has none, and answers where the leader is.
                if (LeaderRedirect.IsElsewhere(broker, topic.Name, partitionData.Index, out var leader))
                {
                    result.ErrorCode = (short)ErrorCode.NotLeaderOrFollower;
                    result.CurrentLeader = new() { LeaderId = leader.Leader, LeaderEpoch = leader.LeaderEpoch };
                    if (LeaderRedirect.EndpointOf(broker, leader.Leader, context.Connection.ListenerName) is var (b, e) && !response.NodeEndpoints.Any(n => n.NodeId == b.NodeId))
                    {
                        response.NodeEndpoints.Add(new ProduceResponse.NodeEndpoint { NodeId = b.NodeId, Host = e.Host, Port = e.Port, Rack = b.Rack });
                    }

                    continue;
                }

                var log = broker.FindLog(topic, partitionData.Index);
                if (log is null)
                {
                    result.ErrorCode = (short)broker.MissingLogError(topic, partitionData.Index);
                    continue;
                }

                if (broker.Replicas is { } replicas)
                {
                    // Cluster mode: only the leader appends, and acks=all needs min.insync.replicas in the ISR first.
                    var minInsyncReplicas = broker.SettingsFor(topic).MinInsyncReplicas;
                    var refused = replicas.CheckProduce(topic.Name, partitionData.Index, request.Acks, minInsyncReplicas);
                    if (refused != ErrorCode.None)
                    {
                        result.ErrorCode = (short)refused;
                        continue;
                    }

                    if (ProducePartition(context, topic, log, partitionData.Records ?? ReadOnlyMemory<byte>.Empty, result, out var lastOffset) is { } replicatedFlush)
                    {
                        (flushes ??= []).Add(replicatedFlush);
                    }

                    if (request.Acks == -1 && result.ErrorCode == 0 && result.BaseOffset >= 0)
                    {
                        (flushes ??= []).Add(ReplicatedAsync(replicas, topic.Name, result, lastOffset, minInsyncReplicas, request.TimeoutMs));
                    }

                    continue;
                }

                if (ProducePartition(context, topic, log, partitionData.Records ?? ReadOnlyMemory<byte>.Empty, result, out _) is { } flush)
                {
                    (flushes ??= []).Add(flush);
                }
            }
        }

        foreach (var topicResponse in response.Responses)
        {
            foreach (var partitionResponse in topicResponse.PartitionResponses)
            {
                broker.RequestErrors.Count(ApiKey.Produce, partitionResponse.ErrorCode);
            }
        }

        var durable = flushes is null ? null : flushes.Count == 1 ? flushes[0] : Task.WhenAll(flushes);
        return new(request.Acks == 0 ? null : response, durable);
    }

    /// <summary>
    /// Validates one partition's records, appends them and fills in <paramref name="result"/>; returns the flush the
    /// append owes (flush.messages reached), if any. <paramref name="lastOffset"/> is the batch's last offset (-1 when
    /// nothing was appended), which acks=all waits for in a cluster.
    /// </summary>
    private Task? ProducePartition(RequestContext context, TopicInfo topic, PartitionLog log, ReadOnlyMemory<byte> records, ProduceResponse.PartitionProduceResponse result, out long lastOffset)
    {
        lastOffset = -1;
        var partition = result.Index;
        var settings = broker.SettingsFor(topic);
        var maxMessageBytes = settings.MaxMessageBytes;
        if (records.Length > maxMessageBytes)
        {
            result.ErrorCode = (short)ErrorCode.MessageTooLarge;
            result.ErrorMessage = $"batch of {records.Length} bytes exceeds max.message.bytes {maxMessageBytes}";
            return null;
        }

        // The one walk over the records: CRC, record framing, max timestamp and (compacted topics) keys.
        var validation = RecordBatchValidator.Validate(records, RecordBatchValidator.DecompressedBytesMaxDefault, broker.DecompressionScratch, requireKeys: settings.Compact);
        if (validation.Error == RecordBatchError.ScratchMemoryUnavailable)
        {
            // The batch may be valid; the broker is short of scratch memory for now. REQUEST_TIMED_OUT is
            // retriable, so producers send it again (CORRUPT_MESSAGE would be wrong, UNKNOWN_SERVER_ERROR final).
            LogRejected(context.ToString(), topic.Name, partition, validation.Reason ?? "no scratch memory");
            result.ErrorCode = (short)ErrorCode.RequestTimedOut;
            result.ErrorMessage = context.ApiVersion >= 8 ? validation.Reason : null;
            return null;
        }

        if (!validation.IsValid || validation.BatchCount != 1)
        {
            var (code, reason) = validation.IsValid
                ? (ErrorCode.InvalidRecord, $"expected exactly one record batch, got {validation.BatchCount}")
                : (validation.Error == RecordBatchError.UnsupportedMagic ? ErrorCode.UnsupportedForMessageFormat : ErrorCode.CorruptMessage, validation.Reason);
            LogRejected(context.ToString(), topic.Name, partition, reason ?? code.ToString());
            result.ErrorCode = (short)code;
            result.ErrorMessage = context.ApiVersion >= 8 ? reason : null;
            return null;
        }

        var header = validation.Batches[0];
        if (header.Compression == CompressionType.Zstd && context.ApiVersion < 7)
        {
            // Zstd needs Produce v7 (KIP-110), so older clients are never handed data they cannot read.
            result.ErrorCode = (short)ErrorCode.UnsupportedCompressionType;
            return null;
        }

        if (header.IsControl)
        {
            result.ErrorCode = (short)ErrorCode.InvalidRecord;
            result.ErrorMessage = context.ApiVersion >= 8 ? "clients may not write control batches" : null;
            return null;
        }

        if (validation.KeylessRecords.Count > 0)
        {
            var reason = $"Compacted topic cannot accept message without key in topic partition {topic.Name}-{partition}";
            RejectRecords(context, result, ErrorCode.InvalidRecord, [.. validation.KeylessRecords.Select(i => ((int)i, reason))], topic.Name, partition);
            return null;
        }

        if (!settings.LogAppendTime && header.RecordCount > 0
            && OutOfRangeTimestamps(records, header, validation.MaxRecordTimestamps[0], settings) is { Count: > 0 } outOfRange)
        {
            RejectRecords(context, result, ErrorCode.InvalidTimestamp, outOfRange, topic.Name, partition);
            return null;
        }

        var logAppendTime = settings.LogAppendTime ? broker.NowMs : (long?)null;

        // The records are a slice of this connection's private copy of the request frame, which lives until this
        // handler returns; the log rewrites the base offset in place and copies the bytes into the segment before
        // Append returns, so no per-batch copy is made here.
        var batch = MemoryMarshal.AsMemory(records);

        // LogAppendTime topics get the broker's time in the log instead.
        var maxTimestamp = logAppendTime is null && header.RecordCount > 0 ? validation.MaxRecordTimestamps[0] : header.MaxTimestamp;
        (batch, header) = Rewrite(batch, header, settings.Compression, maxTimestamp);
        try
        {
            var outcome = AppendToPartition(log, batch, header, topic.Name, partition, logAppendTime);
            if (outcome.Error != ErrorCode.None)
            {
                LogRejected(context.ToString(), topic.Name, partition, outcome.ErrorMessage ?? outcome.Error.ToString());
                result.ErrorCode = (short)outcome.Error;
                result.ErrorMessage = context.ApiVersion >= 8 ? outcome.ErrorMessage : null;
                return null;
            }

            log.Traffic.AddIn(records.Length, header.RecordCount);
            result.BaseOffset = outcome.Append.FirstOffset;
            result.LogAppendTimeMs = outcome.Append.LogAppendTimeMs;
            result.LogStartOffset = outcome.Append.LogStartOffset;
            lastOffset = outcome.Append.LastOffset;
            return log.FlushDue(outcome.Append.LastOffset) ? FlushAsync(log, outcome.Append.LastOffset, result, topic.Name) : null;
        }
        catch (IOException e)
        {
            LogStorageError(e, topic.Name, partition);
            result.ErrorCode = (short)ErrorCode.KafkaStorageError;
            return null;
        }
        catch (NotLeaderException)
        {
            // Cluster mode: leadership moved between the check and the append.
            result.ErrorCode = (short)ErrorCode.NotLeaderOrFollower;
            return null;
        }
    }

    /// <summary>
    /// An acks=all produce's second stage in a cluster: done when the ISR has the batch (the high watermark passed its
    /// last offset <paramref name="lastOffset"/>); a timeout (the request's timeout_ms), a shrunk ISR or lost leadership
    /// becomes the partition's error code.
    /// </summary>
    private static async Task ReplicatedAsync(Cluster.ReplicaManager replicas, string topic, ProduceResponse.PartitionProduceResponse result, long lastOffset, int minInsyncReplicas, int timeoutMs)
    {
        var error = await replicas.WaitForReplicationAsync(topic, result.Index, lastOffset, minInsyncReplicas, timeoutMs).ConfigureAwait(false);
        if (error != ErrorCode.None)
        {
            result.ErrorCode = (short)error;
            result.BaseOffset = -1;
        }
    }

    /// <summary>
    /// The batch as it is stored: with <paramref name="maxTimestamp"/> (as Kafka's LogValidator: a CreateTime batch's
    /// max timestamp is its records' largest, whatever the producer wrote; sarama leaves -1, and timestamp lookups need
    /// it), and recompressed when the topic's compression.type names another codec than the producer's. The CRC is
    /// computed once, only if a rewrite happened.
    /// </summary>
    private static (Memory<byte> Batch, RecordBatchHeader Header) Rewrite(Memory<byte> batch, RecordBatchHeader header, CompressionType? topicCompression, long maxTimestamp)
    {
        var recompressTo = topicCompression is { } compression && compression != header.Compression ? compression : (CompressionType?)null;
        if (maxTimestamp == header.MaxTimestamp && recompressTo is null)
        {
            return (batch, header);
        }

        if (recompressTo is { } target)
        {
            // Recompress copies the header and computes the new CRC, which covers the max timestamp written here.
            BinaryPrimitives.WriteInt64BigEndian(batch.Span[RecordBatchHeader.MaxTimestampOffset..], maxTimestamp);
            batch = RecordBatch.Recompress(batch.Span, target, RecordBatchValidator.DecompressedBytesMaxDefault);
        }
        else
        {
            RecordBatchHeader.WriteMaxTimestamp(batch.Span, maxTimestamp);
        }

        return (batch, RecordBatchHeader.Read(batch.Span));
    }

    /// <summary>
    /// Appends one validated batch to its partition: a plain batch as it is; an idempotent one after the producer-state
    /// check, under the log's append lock (a retry answers with its first offset, unappended); a transactional one also
    /// under the transaction coordinator's lock, once the coordinator agrees it belongs to an ongoing transaction.
    /// </summary>
    private ProducerAppendResult AppendToPartition(PartitionLog log, Memory<byte> batch, RecordBatchHeader header, string topic, int partition, long? logAppendTimeMs)
    {
        if (header.ProducerId < 0)
        {
            return new ProducerAppendResult(ErrorCode.None, null, false, log.Append(batch, header, logAppendTimeMs, deferFlush: true));
        }

        if (!header.IsTransactional)
        {
            return log.AppendChecked(batch, header, logAppendTimeMs, deferFlush: true);
        }

        return broker.Transactions.AppendTransactional(header.ProducerId, header.ProducerEpoch, topic, partition, error => error == ErrorCode.None
            ? log.AppendChecked(batch, header, logAppendTimeMs, deferFlush: true)
            : ProducerAppendResult.Failed(error, $"transactional producer {header.ProducerId} epoch {header.ProducerEpoch} may not write to {topic}-{partition}: {error}"));
    }

    /// <summary>The flush one partition's append owes; never throws (a failure becomes the partition's error code).</summary>
    private async Task FlushAsync(PartitionLog log, long lastOffset, ProduceResponse.PartitionProduceResponse result, string topic)
    {
        try
        {
            await log.FlushAppendedAsync(lastOffset).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            LogStorageError(e, topic, result.Index);
            result.ErrorCode = (short)ErrorCode.KafkaStorageError;
            result.BaseOffset = -1;
        }
    }

    /// <summary>Kafka's answer to keyless records for a compacted topic: INVALID_RECORD with one record error each.</summary>
    /// <summary>
    /// The records of a CreateTime batch whose timestamps lie outside [now − message.timestamp.before.max.ms,
    /// now + message.timestamp.after.max.ms], with Kafka's message; records without a timestamp (-1) pass. The records
    /// are walked (decompressed if need be) only when a bound is set that the batch's max timestamp cannot clear.
    /// </summary>
    private List<(int Index, string Message)>? OutOfRangeTimestamps(ReadOnlyMemory<byte> records, RecordBatchHeader header, long maxTimestamp, TopicSettings settings)
    {
        var nowMs = broker.NowMs;
        var lowerMs = nowMs - settings.MessageTimestampBeforeMaxMs;
        var upperMs = settings.MessageTimestampAfterMaxMs > long.MaxValue - nowMs ? long.MaxValue : nowMs + settings.MessageTimestampAfterMaxMs;
        if (settings.MessageTimestampBeforeMaxMs == long.MaxValue && maxTimestamp <= upperMs)
        {
            return null;
        }

        var batch = RecordBatch.Read(records);
        var scratch = new ArrayBufferWriter<byte>();
        var all = header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, RecordBatchValidator.DecompressedBytesMaxDefault);
        List<(int, string)>? outOfRange = null;
        foreach (var record in all)
        {
            var timestamp = header.BaseTimestamp + record.TimestampDelta;
            if (timestamp != -1 && (timestamp < lowerMs || timestamp > upperMs))
            {
                (outOfRange ??= []).Add((record.OffsetDelta, $"Timestamp {timestamp} of message with offset {header.BaseOffset + record.OffsetDelta} is out of range. " +
                    $"The timestamp should be within [{lowerMs}, {upperMs}]"));
            }
        }

        return outOfRange;
    }

    // Kafka's per-record refusal: one record error each (v8+), and a message that shows the first three.
    private void RejectRecords(RequestContext context, ProduceResponse.PartitionProduceResponse result, ErrorCode error, IReadOnlyList<(int Index, string Message)> records, string topic, int partition)
    {
        var message = $"One or more records have been rejected due to {records.Count} record errors in total, and only showing the first three errors at most: "
            + $"[{string.Join(", ", records.Take(3).Select(r => $"RecordError(batchIndex={r.Index}, message='{r.Message}')"))}]";
        LogRejected(context.ToString(), topic, partition, message);
        result.ErrorCode = (short)error;
        if (context.ApiVersion >= 8)
        {
            result.ErrorMessage = message;
            result.RecordErrors = [.. records.Select(r => new ProduceResponse.BatchIndexAndErrorMessage { BatchIndex = r.Index, BatchIndexErrorMessage = r.Message })];
        }
    }

    protected override ProduceResponse? ErrorResponse(RequestContext context, ProduceRequest request, ErrorCode error) => new()
    {
        Responses = [.. request.TopicData.Select(t => new ProduceResponse.TopicProduceResponse
        {
            Name = t.Name,
            TopicId = t.TopicId,
            PartitionResponses = [.. t.PartitionData.Select(p => new ProduceResponse.PartitionProduceResponse { Index = p.Index, ErrorCode = (short)error, BaseOffset = -1, LogAppendTimeMs = -1, LogStartOffset = -1 })],
        })],
    };

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "Rejected produce {Request} to {Topic}-{Partition}: {Reason}")]
    private partial void LogRejected(string request, string topic, int partition, string reason);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Storage error appending to {Topic}-{Partition}")]
    private partial void LogStorageError(Exception exception, string topic, int partition);
}
