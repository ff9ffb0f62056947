using System.Buffers;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Handlers;

// ListOffsets v0-11.
// Behaviour, by timestamp spec:
// - Authorization: DESCRIBE on each topic, else TOPIC_AUTHORIZATION_FAILED.
// - -2 earliest (the log start offset); -1 latest (the high watermark; the last stable offset for read_committed,
//   isolation_level 1); -3 the record with the largest timestamp (v7+).
// - Otherwise the first record whose timestamp is at or after it, answered with that record's offset and timestamp
//   (-1 when none).
// - The tiered-storage specs answer as Kafka does for a topic without remote storage: -4 (v8+, earliest local) is the
//   log start offset, -5 (v9+, latest tiered) and -6 (v11+, earliest pending upload) are offset -1.
// - A spec newer than the request's version is UNSUPPORTED_VERSION, as Kafka's ReplicaManager answers.
// Versions:
// - v0 answers a list (old_style_offsets) holding the one offset found, if any, up to max_num_offsets; Kafka 3.x
//   listed segment base offsets before the timestamp, and one offset is what clients use.
// Deviations from Kafka:
// - A timestamp lookup is not bounded by the last stable offset for read_committed.
public sealed class ListOffsetsHandler(BrokerCore broker) : ApiHandler<ListOffsetsRequest, ListOffsetsResponse>(ApiKey.ListOffsets, 0, 11)
{
    private const long Latest = -1;
    private const long Earliest = -2;
    private const long MaxTimestamp = -3;
    private const long EarliestLocal = -4;
    private const long LatestTiered = -5;
    private const long EarliestPendingUpload = -6;

    /// <summary>Bytes of log one read of a timestamp search takes, and how many reads it makes at most.</summary>
    private const int RecordSearchReadBytes = 1024 * 1024;

    private const int RecordSearchReadsMax = 16;

    protected override ValueTask<HandlerResult<ListOffsetsResponse>> HandleAsync(RequestContext context, ListOffsetsRequest request, CancellationToken cancellationToken)
    {
        var response = new ListOffsetsResponse();
        // Leader epochs exist on the wire from v4; earlier versions must keep the schema default.
        var leaderEpoch = context.ApiVersion >= 4 ? 0 : -1;
        foreach (var t in request.Topics)
        {
            var topicResponse = new ListOffsetsResponse.ListOffsetsTopicResponse { Name = t.Name };
            response.Topics.Add(topicResponse);
            var topic = broker.Metadata.Find(t.Name);
            var denied = !broker.Authorizer.Authorize(context, AclOperation.Describe, AclResourceType.Topic, t.Name);
            foreach (var p in t.Partitions)
            {
                var result = new ListOffsetsResponse.ListOffsetsPartitionResponse { PartitionIndex = p.PartitionIndex, Timestamp = -1, Offset = -1, LeaderEpoch = leaderEpoch };
                topicResponse.Partitions.Add(result);
                if (denied)
                {
                    result.ErrorCode = (short)ErrorCode.TopicAuthorizationFailed;
                    result.LeaderEpoch = -1;
                    continue;
                }
                var log = topic is null ? null : broker.FindLog(topic, p.PartitionIndex);
                if (log is null)
                {
                    result.ErrorCode = (short)(topic is null ? ErrorCode.UnknownTopicOrPartition : broker.MissingLogError(topic, p.PartitionIndex));
                    result.LeaderEpoch = -1;
                    continue;
                }

                // Kafka answers offsets only on the leader (ListOffsets has no current-leader field).
                if (request.ReplicaId < 0 && LeaderRedirect.IsElsewhere(broker, t.Name, p.PartitionIndex, out _))
                {
                    result.ErrorCode = (short)ErrorCode.NotLeaderOrFollower;
                    result.LeaderEpoch = -1;
                    continue;
                }

                if (p.Timestamp < 0 && context.ApiVersion < FirstVersionOf(p.Timestamp))
                {
                    result.ErrorCode = (short)ErrorCode.UnsupportedVersion;
                    continue;
                }

                switch (p.Timestamp)
                {
                    case Earliest or EarliestLocal:
                        result.Offset = log.LogStartOffset;
                        break;
                    case LatestTiered or EarliestPendingUpload:
                        result.LeaderEpoch = -1;
                        break;
                    case Latest:
                        result.Offset = request.IsolationLevel == 1 ? log.LastStableOffset : log.HighWatermark;
                        break;
                    case MaxTimestamp:
                        var (offset, timestamp) = log.MaxTimestamp();
                        result.Offset = offset;
                        result.Timestamp = timestamp;
                        break;
                    case < 0:
                        result.ErrorCode = (short)ErrorCode.InvalidRequest;
                        break;
                    default:
                        if (log.FirstOffsetAtOrAfterTimestamp(p.Timestamp) is { } batchOffset && FindRecord(log, batchOffset, p.Timestamp) is { } found)
                        {
                            (result.Offset, result.Timestamp) = found;
                        }

                        break;
                }
            }
        }

        if (context.ApiVersion == 0)
        {
            // v0 carries a list of offsets instead of one offset and its timestamp.
            foreach (var (asked, answer) in request.Topics.SelectMany(t => t.Partitions).Zip(response.Topics.SelectMany(t => t.Partitions)))
            {
                answer.OldStyleOffsets = answer.Offset >= 0 && asked.MaxNumOffsets > 0 ? [answer.Offset] : [];
                (answer.Offset, answer.Timestamp) = (-1, -1);
            }
        }

        return ValueTask.FromResult<HandlerResult<ListOffsetsResponse>>(response);
    }

    /// <summary>
    /// The first record at or after <paramref name="fromOffset"/> whose timestamp is at least
    /// <paramref name="timestampMs"/>, with that timestamp, as Kafka answers: the log finds the first batch whose max
    /// timestamp reaches it, and this walks the records from there (a LogAppendTime batch's records all carry its max
    /// timestamp). Bounded by the high watermark and <see cref="RecordSearchReadsMax"/> reads.
    /// </summary>
    private static (long Offset, long Timestamp)? FindRecord(PartitionLog log, long fromOffset, long timestampMs)
    {
        ArrayBufferWriter<byte>? scratch = null;
        var offset = fromOffset;
        for (var reads = 0; reads < RecordSearchReadsMax; reads++)
        {
            var read = log.Read(offset, new LogReadOptions(RecordSearchReadBytes));
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                return null;
            }

            for (var remaining = read.Records; !remaining.IsEmpty;)
            {
                var batch = RecordBatch.Read(remaining);
                var header = batch.Header;
                remaining = remaining[header.TotalSize..];
                offset = header.NextOffset;
                if (header.IsControl || header.LastOffset < fromOffset || header.MaxTimestamp < timestampMs)
                {
                    continue;
                }

                if (header.IsLogAppendTime)
                {
                    return (Math.Max(header.BaseOffset, fromOffset), header.MaxTimestamp);
                }

                var records = header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch ??= new(), RecordBatchValidator.DecompressedBytesMaxDefault);
                foreach (var record in records)
                {
                    var (recordOffset, recordTimestamp) = (header.BaseOffset + record.OffsetDelta, header.BaseTimestamp + record.TimestampDelta);
                    if (recordOffset >= fromOffset && recordTimestamp >= timestampMs)
                    {
                        return (recordOffset, recordTimestamp);
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The first request version that may carry a negative timestamp spec (Kafka's per-spec minimums).</summary>
    private static short FirstVersionOf(long spec) => spec switch
    {
        MaxTimestamp => 7,
        EarliestLocal => 8,
        LatestTiered => 9,
        EarliestPendingUpload => 11,
        _ => 0,
    };

    protected override ListOffsetsResponse? ErrorResponse(RequestContext context, ListOffsetsRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new ListOffsetsResponse.ListOffsetsTopicResponse
        {
            Name = t.Name,
            Partitions = [.. t.Partitions.Select(p => new ListOffsetsResponse.ListOffsetsPartitionResponse { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error, Timestamp = -1, Offset = -1 })],
        })],
    };
}
