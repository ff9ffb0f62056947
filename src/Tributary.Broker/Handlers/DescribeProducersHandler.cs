using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeProducers v0 (KIP-664).
// Behaviour:
// - Authorization: READ on each topic, else TOPIC_AUTHORIZATION_FAILED.
// - The producers a partition tracks (ProducerStateManager): id, epoch, last sequence, last timestamp, coordinator
//   epoch of the last marker, and the first offset of the open transaction (-1 when none).
// - Unknown topics or partitions get UNKNOWN_TOPIC_OR_PARTITION.
public sealed class DescribeProducersHandler(BrokerCore broker) : ApiHandler<DescribeProducersRequest, DescribeProducersResponse>(ApiKey.DescribeProducers, 0, 0)
{
    protected override ValueTask<HandlerResult<DescribeProducersResponse>> HandleAsync(RequestContext context, DescribeProducersRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeProducersResponse();
        foreach (var t in request.Topics)
        {
            var topicResponse = new DescribeProducersResponse.TopicResponse { Name = t.Name };
            response.Topics.Add(topicResponse);
            var topic = broker.Metadata.Find(t.Name);
            var denied = !broker.Authorizer.Authorize(context, AclOperation.Read, AclResourceType.Topic, t.Name);
            foreach (var index in t.PartitionIndexes)
            {
                var partition = new DescribeProducersResponse.PartitionResponse { PartitionIndex = index };
                topicResponse.Partitions.Add(partition);
                if (denied)
                {
                    partition.ErrorCode = (short)ErrorCode.TopicAuthorizationFailed;
                    continue;
                }

                if (topic is null || broker.FindLog(topic, index) is not { } log)
                {
                    partition.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                    continue;
                }

                partition.ActiveProducers = [.. log.Producers.ActiveProducers().Select(p => new DescribeProducersResponse.ProducerState
                {
                    ProducerId = p.ProducerId,
                    ProducerEpoch = p.ProducerEpoch,
                    LastSequence = p.LastSequence,
                    LastTimestamp = p.LastTimestampMs,
                    CoordinatorEpoch = p.CoordinatorEpoch,
                    CurrentTxnStartOffset = p.CurrentTransactionFirstOffset,
                })];
            }
        }

        return ValueTask.FromResult<HandlerResult<DescribeProducersResponse>>(response);
    }

    protected override DescribeProducersResponse? ErrorResponse(RequestContext context, DescribeProducersRequest request, ErrorCode error) => new()
    {
        Topics = [.. request.Topics.Select(t => new DescribeProducersResponse.TopicResponse
        {
            Name = t.Name,
            Partitions = [.. t.PartitionIndexes.Select(p => new DescribeProducersResponse.PartitionResponse { PartitionIndex = p, ErrorCode = (short)error })],
        })],
    };
}
