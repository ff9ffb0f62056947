using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DeleteRecords v0-2.
// Behaviour:
// - Authorization: DELETE on each topic, else TOPIC_AUTHORIZATION_FAILED.
// - Moves each partition's log start offset (low watermark) up to the given offset, -1 meaning the high watermark,
//   and answers with the new low watermark.
// - Offsets above the high watermark or negative (other than -1) get OFFSET_OUT_OF_RANGE; an offset below the current
//   low watermark changes nothing, as in Kafka.
// - Unknown topics and partitions get UNKNOWN_TOPIC_OR_PARTITION, storage failures KAFKA_STORAGE_ERROR.
// - A topic whose cleanup.policy lacks delete (compact only) gets POLICY_VIOLATION before the offset is checked, as
//   in Kafka's Partition.deleteRecordsOnLeader; compact,delete is allowed.
// - The new log start offset is durable when the response is sent, so timeout_ms is ignored.
public sealed partial class DeleteRecordsHandler(BrokerCore broker) : ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse>(ApiKey.DeleteRecords, 0, 2)
{
    private readonly ILogger _logger = broker.LoggerFactory.CreateLogger<DeleteRecordsHandler>();

    private const long HighWatermarkOffset = -1;
    private const long LowWatermarkUnknown = -1;

    protected override ValueTask<HandlerResult<DeleteRecordsResponse>> HandleAsync(RequestContext context, DeleteRecordsRequest request, CancellationToken cancellationToken)
    {
        var response = new DeleteRecordsResponse();
        foreach (var t in request.Topics)
        {
            var topicResult = new DeleteRecordsResponse.DeleteRecordsTopicResult { Name = t.Name };
            response.Topics.Add(topicResult);
            var topic = broker.Metadata.Find(t.Name);
            var denied = !broker.Authorizer.Authorize(context, AclOperation.Delete, AclResourceType.Topic, t.Name);
            foreach (var p in t.Partitions)
            {
                var result = new DeleteRecordsResponse.DeleteRecordsPartitionResult { PartitionIndex = p.PartitionIndex, LowWatermark = LowWatermarkUnknown };
                topicResult.Partitions.Add(result);
                if (denied)
                {
                    result.ErrorCode = (short)ErrorCode.TopicAuthorizationFailed;
                    continue;
                }
                var log = topic is null ? null : broker.FindLog(topic, p.PartitionIndex);
                if (log is null)
                {
                    result.ErrorCode = (short)(topic is null ? ErrorCode.UnknownTopicOrPartition : broker.MissingLogError(topic, p.PartitionIndex));
                    continue;
                }

                if (!broker.LogConfigFor(topic!).Delete)
                {
                    result.ErrorCode = (short)ErrorCode.PolicyViolation;
                    continue;
                }

                // The high watermark only grows, so an offset checked against it here is still valid in DeleteRecordsBefore.
                if (p.Offset != HighWatermarkOffset && (p.Offset < 0 || p.Offset > log.HighWatermark))
                {
                    result.ErrorCode = (short)ErrorCode.OffsetOutOfRange;
                    continue;
                }

                try
                {
                    result.LowWatermark = log.DeleteRecordsBefore(p.Offset);
                }
                catch (ObjectDisposedException)
                {
                    // The topic was deleted since it was looked up.
                    result.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                }
                catch (IOException e)
                {
                    LogStorageError(e, t.Name, p.PartitionIndex);
                    result.ErrorCode = (short)ErrorCode.KafkaStorageError;
                }
            }
        }

        return ValueTask.FromResult<HandlerResult<DeleteRecordsResponse>>(response);
    }

    protected override DeleteRecordsResponse? ErrorResponse(RequestContext context, DeleteRecordsRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new DeleteRecordsResponse.DeleteRecordsTopicResult
        {
            Name = t.Name,
            Partitions = [.. t.Partitions.Select(p => new DeleteRecordsResponse.DeleteRecordsPartitionResult { PartitionIndex = p.PartitionIndex, ErrorCode = (short)error, LowWatermark = LowWatermarkUnknown })],
        })],
    };

    [LoggerMessage(EventId = 210, Level = LogLevel.Error, Message = "Storage error deleting records of {Topic}-{Partition}")]
    private partial void LogStorageError(Exception exception, string topic, int partition);
}
