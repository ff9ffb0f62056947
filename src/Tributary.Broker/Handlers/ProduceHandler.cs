using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage.Producers;

namespace Tributary.Broker.Handlers;

// Produce v0-13, storing magic 2 record batches only. v12 is v11 (KIP-890: a client may send it inside a transaction
// only with transaction version 2, which this broker does not finalize, so its transactions still use
// AddPartitionsToTxn); v13 names topics by id (UNKNOWN_TOPIC_ID for an unknown one). v0-2 are advertised because librdkafka before 2.10
// decides whether it may compress with gzip, snappy or lz4 by checking that the broker's Produce range
// overlaps v0; those versions carry the old message formats (magic 0/1), which are answered per partition
// with UNSUPPORTED_FOR_MESSAGE_FORMAT and never stored. Clients that can send magic 2 use v3+.
// Per partition: the records must be exactly one whole v2 batch (Kafka's rule for v3+, else INVALID_RECORD),
// CRC-valid with parseable records (else CORRUPT_MESSAGE, nothing appended), no larger than the topic's
// max.message.bytes (else MESSAGE_TOO_LARGE). For a topic whose cleanup.policy includes compact, records without a
// key make the batch INVALID_RECORD with one record error each (batch index and reason, v8+), nothing appended. The batch is copied out of the request frame and appended
// verbatim; only its base offset (and for LogAppendTime topics, the timestamps and CRC) are rewritten.
// A topic's compression.type other than "producer" stores batches with that codec, recompressing those sent with another;
// zstd batches need Produce v7+ (else UNSUPPORTED_COMPRESSION_TYPE). acks 1 and -1 are the same on one broker; acks 0 sends no response. Control batches from clients are INVALID_RECORD.
// Idempotent batches (producer id >= 0) are checked against the partition's producer state under its append lock
// (ProducerStateManager): a retry of one of the producer's last five batches answers NONE with the original base
// offset and is not appended; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER, a stale epoch INVALID_PRODUCER_EPOCH
// (Produce never answers PRODUCER_FENCED, KAFKA-10687), an unknown producer may start at any sequence (Kafka's rule
// since 2.5). Transactional batches must also belong to the producer's ongoing transaction with that epoch and a
// partition added by AddPartitionsToTxn (else INVALID_TXN_STATE / INVALID_PRODUCER_EPOCH /
// INVALID_PRODUCER_ID_MAPPING, KIP-890 part 1); the check and the append run under the transaction coordinator's lock
// so no batch lands after its transaction's marker.
// With flush.messages (log.flush.interval.messages) reached, the batches are appended at once and the response waits
// for their flush (RequestContext.Durable), which runs off the connection's thread: the connection reads and appends
// the next pipelined produce meanwhile, and one fsync covers all that queued behind the running one (group commit,
// PartitionLog.FlushAppendedAsync). A failed flush answers KAFKA_STORAGE_ERROR for its partition.
public sealed partial class ProduceHandler(BrokerCore broker, ILogger<ProduceHandler> logger) : ApiHandler<ProduceRequest, ProduceResponse>(ApiKey.Produce, 0, 13)
{
    protected override ValueTask<ProduceResponse?> HandleAsync(RequestContext context, ProduceRequest request, CancellationToken cancellationToken)
    {
        if (request.Acks is not (0 or 1 or -1))
        {
            return ValueTask.FromResult(ErrorResponse(context, request, ErrorCode.InvalidRequiredAcks));
        }

        var response = new ProduceResponse();
        var byId = context.ApiVersion >= 13;
        List<Task>? flushes = null;
        foreach (var topicData in request.TopicData)
        {
            var topicResponse = new ProduceResponse.TopicProduceResponse { Name = topicData.Name, TopicId = topicData.TopicId };
            response.Responses.Add(topicResponse);
            var topic = byId ? broker.Metadata.Find(topicData.TopicId) : broker.Metadata.Find(topicData.Name);
            foreach (var partitionData in topicData.PartitionData)
            {
                var result = new ProduceResponse.PartitionProduceResponse { Index = partitionData.Index, BaseOffset = -1, LogAppendTimeMs = -1, LogStartOffset = -1 };
                topicResponse.PartitionResponses.Add(result);
                var log = topic is null ? null : broker.FindLog(topic, partitionData.Index);
                if (topic is null || log is null)
                {
                    result.ErrorCode = (short)(topic is null ? (byId ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition)
                        : broker.IsUnavailable(topic, partitionData.Index) ? ErrorCode.KafkaStorageError : ErrorCode.UnknownTopicOrPartition);
                    continue;
                }

                var records = partitionData.Records ?? ReadOnlyMemory<byte>.Empty;
                var settings = broker.SettingsFor(topic);
                var maxMessageBytes = settings.MaxMessageBytes;
                if (records.Length > maxMessageBytes)
                {
                    result.ErrorCode = (short)ErrorCode.MessageTooLarge;
                    result.ErrorMessage = $"batch of {records.Length} bytes exceeds max.message.bytes {maxMessageBytes}";
                    continue;
                }

                var validation = RecordBatchValidator.Validate(records, RecordBatchValidator.DecompressedBytesMaxDefault, broker.DecompressionScratch, requireKeys: settings.Compact);
                if (validation.Error == RecordBatchError.ScratchMemoryUnavailable)
                {
                    // The batch may be valid; the broker is short of scratch memory for now. REQUEST_TIMED_OUT is
                    // retriable, so producers send it again (CORRUPT_MESSAGE would be wrong, UNKNOWN_SERVER_ERROR final).
                    LogRejected(context.ToString(), topic.Name, partitionData.Index, validation.Reason ?? "no scratch memory");
                    result.ErrorCode = (short)ErrorCode.RequestTimedOut;
                    result.ErrorMessage = context.ApiVersion >= 8 ? validation.Reason : null;
                    continue;
                }

                if (!validation.IsValid || validation.BatchCount != 1)
                {
                    var (code, reason) = validation.IsValid
                        ? (ErrorCode.InvalidRecord, $"expected exactly one record batch, got {validation.BatchCount}")
                        : (validation.Error == RecordBatchError.UnsupportedMagic ? ErrorCode.UnsupportedForMessageFormat : ErrorCode.CorruptMessage, validation.Reason);
                    LogRejected(context.ToString(), topic.Name, partitionData.Index, reason ?? code.ToString());
                    result.ErrorCode = (short)code;
                    result.ErrorMessage = context.ApiVersion >= 8 ? reason : null;
                    continue;
                }

                var header = RecordBatchHeader.Read(records.Span);
                if (header.Compression == CompressionType.Zstd && context.ApiVersion < 7)
                {
                    // Zstd needs Produce v7 (KIP-110), so older clients are never handed data they cannot read.
                    result.ErrorCode = (short)ErrorCode.UnsupportedCompressionType;
                    continue;
                }

                if (header.IsControl)
                {
                    result.ErrorCode = (short)ErrorCode.InvalidRecord;
                    result.ErrorMessage = context.ApiVersion >= 8 ? "clients may not write control batches" : null;
                    continue;
                }

                if (validation.KeylessRecords.Count > 0)
                {
                    RejectKeyless(context, result, validation.KeylessRecords, topic.Name, partitionData.Index);
                    continue;
                }

                var logAppendTime = settings.LogAppendTime ? broker.NowMs : (long?)null;

                // The records are a slice of this connection's private copy of the request frame, which lives until
                // this handler returns; the log rewrites the base offset in place and copies the bytes into the
                // segment before Append returns, so no per-batch copy is made here.
                var batch = MemoryMarshal.AsMemory(records);

                // As Kafka's LogValidator: a CreateTime batch's max timestamp is its records' largest, whatever the
                // producer wrote (sarama leaves -1), so timestamp lookups find it.
                if (logAppendTime is null && header.RecordCount > 0 && validation.MaxRecordTimestamps[0] != header.MaxTimestamp)
                {
                    RecordBatchHeader.WriteMaxTimestamp(batch.Span, validation.MaxRecordTimestamps[0]);
                }

                // A topic whose compression.type names a codec stores its batches with it, recompressed when the
                // producer used another, as Kafka does; "producer" keeps the producer's.
                if (settings.Compression is { } compression && compression != header.Compression)
                {
                    batch = RecordBatch.Recompress(batch.Span, compression, RecordBatchValidator.DecompressedBytesMaxDefault);
                }

                try
                {
                    var outcome = header.ProducerId < 0 ? new ProducerAppendResult(ErrorCode.None, null, false, log.Append(batch, logAppendTime, deferFlush: true))
                        : !header.IsTransactional ? log.AppendChecked(batch, logAppendTime, deferFlush: true)
                        : broker.Transactions.AppendTransactional(header.ProducerId, header.ProducerEpoch, topic.Name, partitionData.Index, error => error == ErrorCode.None
                            ? log.AppendChecked(batch, logAppendTime, deferFlush: true)
                            : ProducerAppendResult.Failed(error, $"transactional producer {header.ProducerId} epoch {header.ProducerEpoch} may not write to {topic.Name}-{partitionData.Index}: {error}"));
                    if (outcome.Error != ErrorCode.None)
                    {
                        LogRejected(context.ToString(), topic.Name, partitionData.Index, outcome.ErrorMessage ?? outcome.Error.ToString());
                        result.ErrorCode = (short)outcome.Error;
                        result.ErrorMessage = context.ApiVersion >= 8 ? outcome.ErrorMessage : null;
                        continue;
                    }

                    result.BaseOffset = outcome.Append.FirstOffset;
                    result.LogAppendTimeMs = outcome.Append.LogAppendTimeMs;
                    result.LogStartOffset = outcome.Append.LogStartOffset;
                    if (log.FlushDue(outcome.Append.LastOffset))
                    {
                        (flushes ??= []).Add(FlushAsync(log, outcome.Append.LastOffset, result, topic.Name));
                    }
                }
                catch (IOException e)
                {
                    LogStorageError(e, topic.Name, partitionData.Index);
                    result.ErrorCode = (short)ErrorCode.KafkaStorageError;
                }
            }
        }

        if (flushes is not null)
        {
            context.Durable = flushes.Count == 1 ? flushes[0] : Task.WhenAll(flushes);
        }

        return ValueTask.FromResult(request.Acks == 0 ? null : response);
    }

    /// <summary>The flush one partition's append owes; never throws (a failure becomes the partition's error code).</summary>
    private async Task FlushAsync(Storage.PartitionLog log, long lastOffset, ProduceResponse.PartitionProduceResponse result, string topic)
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
    private void RejectKeyless(RequestContext context, ProduceResponse.PartitionProduceResponse result, IReadOnlyList<long> keyless, string topic, int partition)
    {
        var reason = $"Compacted topic cannot accept message without key in topic partition {topic}-{partition}";
        var message = $"One or more records have been rejected due to {keyless.Count} record errors in total, and only showing the first three errors at most: "
            + $"[{string.Join(", ", keyless.Take(3).Select(i => $"RecordError(batchIndex={i}, message='{reason}')"))}]";
        LogRejected(context.ToString(), topic, partition, message);
        result.ErrorCode = (short)ErrorCode.InvalidRecord;
        if (context.ApiVersion >= 8)
        {
            result.ErrorMessage = message;
            result.RecordErrors = [.. keyless.Select(i => new ProduceResponse.BatchIndexAndErrorMessage { BatchIndex = (int)i, BatchIndexErrorMessage = reason })];
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
