using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// WriteTxnMarkers v1-2 (broker to broker: a transaction coordinator ends a transaction on the partitions this broker
// leads).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Per partition: the commit or abort marker of the producer's transaction is appended
//   (TransactionCoordinator.WriteMarker); a partition of __consumer_offsets also applies or drops the transaction's
//   offsets. UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER when this broker does not lead it,
//   KAFKA_STORAGE_ERROR when the log refuses the write.
// Deviations from Kafka:
// - The marker is answered once appended on the leader, not after the ISR has it (Kafka appends it with acks=all).
public sealed class WriteTxnMarkersHandler(BrokerCore broker) : ApiHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>(ApiKey.WriteTxnMarkers, 1, 1)
{
    protected override ValueTask<HandlerResult<WriteTxnMarkersResponse>> HandleAsync(RequestContext context, WriteTxnMarkersRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ValueTask.FromResult<HandlerResult<WriteTxnMarkersResponse>>(ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!);
        }

        var response = new WriteTxnMarkersResponse();
        foreach (var marker in request.Markers)
        {
            response.Markers.Add(new WriteTxnMarkersResponse.WritableTxnMarkerResult
            {
                ProducerId = marker.ProducerId,
                Topics = [.. marker.Topics.Select(t => new WriteTxnMarkersResponse.WritableTxnMarkerTopicResult
                {
                    Name = t.Name,
                    Partitions = [.. t.PartitionIndexes.Select(p => new WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult
                    {
                        PartitionIndex = p,
                        ErrorCode = (short)broker.Transactions.WriteMarker(t.Name, p, marker.ProducerId, marker.ProducerEpoch, marker.TransactionResult),
                    })],
                })],
            });
        }

        return ValueTask.FromResult<HandlerResult<WriteTxnMarkersResponse>>(response);
    }

    protected override WriteTxnMarkersResponse? ErrorResponse(RequestContext context, WriteTxnMarkersRequest request, ErrorCode error) => new()
    {
        Markers = [.. request.Markers.Select(m => new WriteTxnMarkersResponse.WritableTxnMarkerResult
        {
            ProducerId = m.ProducerId,
            Topics = [.. m.Topics.Select(t => new WriteTxnMarkersResponse.WritableTxnMarkerTopicResult
            {
                Name = t.Name,
                Partitions = [.. t.PartitionIndexes.Select(p => new WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult { PartitionIndex = p, ErrorCode = (short)error })],
            })],
        })],
    };
}
