using Tributary.Broker.Handlers;
using Tributary.Broker.Tests.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>
/// WriteTxnMarkers as a partition's leader answers it: a marker from a coordinator epoch older than the producer's
/// last marker on the partition is TRANSACTION_COORDINATOR_FENCED and is not written, so a deposed coordinator cannot
/// end a transaction its successor decided; the producer's next transaction is then still ended by the newer epoch.
/// </summary>
public sealed class WriteTxnMarkersHandlerTests
{
    private const long ProducerId = 9000;

    [Fact]
    public async Task A_marker_from_an_older_coordinator_epoch_is_fenced_and_not_written()
    {
        using var broker = new TransactionTestBroker();
        var handler = new WriteTxnMarkersHandler(broker.Broker);
        var log = broker.Broker.FindLog(broker.Broker.Metadata.Find(TransactionTestBroker.Topic)!, 0)!;

        Assert.Equal(ErrorCode.None, await WriteAsync(handler, coordinatorEpoch: 4, commit: true));
        var end = log.LogEndOffset;

        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, await WriteAsync(handler, coordinatorEpoch: 3, commit: false));
        Assert.Equal(end, log.LogEndOffset);
        Assert.Equal(4, log.Producers.ActiveProducers().Single().CoordinatorEpoch);

        Assert.Equal(ErrorCode.None, await WriteAsync(handler, coordinatorEpoch: 4, commit: true));
        Assert.Equal(ErrorCode.None, await WriteAsync(handler, coordinatorEpoch: 5, commit: false));
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, await WriteAsync(handler, coordinatorEpoch: 4, commit: true));
        Assert.Equal(5, log.Producers.ActiveProducers().Single().CoordinatorEpoch);
    }

    private static async Task<ErrorCode> WriteAsync(WriteTxnMarkersHandler handler, int coordinatorEpoch, bool commit)
    {
        var response = await GroupTestBroker.CallAsync(handler, new WriteTxnMarkersRequest
        {
            Markers =
            [
                new WriteTxnMarkersRequest.WritableTxnMarker
                {
                    ProducerId = ProducerId,
                    ProducerEpoch = 0,
                    TransactionResult = commit,
                    CoordinatorEpoch = coordinatorEpoch,
                    Topics = [new WriteTxnMarkersRequest.WritableTxnMarkerTopic { Name = TransactionTestBroker.Topic, PartitionIndexes = [0] }],
                },
            ],
        }, version: 1);
        return (ErrorCode)response.Markers.Single().Topics.Single().Partitions.Single().ErrorCode;
    }
}
