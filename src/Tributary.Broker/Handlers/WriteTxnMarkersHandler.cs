using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// WriteTxnMarkers v1-2 (broker to broker: a transaction coordinator ends a transaction on the partitions this broker
// leads).
// Behaviour:
// - Authorization: CLUSTER_ACTION on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
// - Per partition: the commit or abort marker of the producer's transaction is appended and answered once the ISR
//   has it, as Kafka appends markers with acks=all (TransactionCoordinator.WriteMarkerAsync); a partition of
//   __consumer_offsets also applies or drops the transaction's offsets. UNKNOWN_TOPIC_OR_PARTITION,
//   NOT_LEADER_OR_FOLLOWER when this broker does not lead it, NOT_ENOUGH_REPLICAS(_AFTER_APPEND) below the topic's
//   min.insync.replicas, REQUEST_TIMED_OUT when the ISR did not take it in time, KAFKA_STORAGE_ERROR when the log
//   refuses the write. TRANSACTION_COORDINATOR_FENCED when the marker's coordinator epoch is below the one of the
//   producer's last marker on the partition (a deposed coordinator's), INVALID_PRODUCER_EPOCH when its producer epoch
//   is below the partition's, as Kafka's partition leaders check them.
public sealed class WriteTxnMarkersHandler(BrokerCore broker) : ApiHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>(ApiKey.WriteTxnMarkers, 1, 1)
{
    protected override async ValueTask<HandlerResult<WriteTxnMarkersResponse>> HandleAsync(RequestContext context, WriteTxnMarkersRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.ClusterAction))
        {
            return ErrorResponse(context, request, ErrorCode.ClusterAuthorizationFailed)!;
        }

        // Every marker is appended first, then the ISR waits run together: one slow partition delays the answer once.
        var response = new WriteTxnMarkersResponse();
        var writes = new List<(WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult Result, Task<ErrorCode> Written)>();
        foreach (var marker in request.Markers)
        {
            var markerResult = new WriteTxnMarkersResponse.WritableTxnMarkerResult { ProducerId = marker.ProducerId };
            foreach (var t in marker.Topics)
            {
                var topicResult = new WriteTxnMarkersResponse.WritableTxnMarkerTopicResult { Name = t.Name };
                foreach (var p in t.PartitionIndexes)
                {
                    var partitionResult = new WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult { PartitionIndex = p };
                    topicResult.Partitions.Add(partitionResult);
                    writes.Add((partitionResult, broker.Transactions.WriteMarkerAsync(t.Name, p, marker.ProducerId, marker.ProducerEpoch, marker.TransactionResult, marker.CoordinatorEpoch)));
                }

                markerResult.Topics.Add(topicResult);
            }

            response.Markers.Add(markerResult);
        }

        foreach (var (result, written) in writes)
        {
            result.ErrorCode = (short)await written.ConfigureAwait(false);
        }

        return response;
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
