using Tributary.Broker.Groups;
using Tributary.Broker.Handlers;
using Tributary.Broker.Tests.Groups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>
/// WriteTxnMarkers as a partition's leader answers it: a marker from a coordinator epoch older than the producer's
/// last marker on the partition is TRANSACTION_COORDINATOR_FENCED and is not written, so a deposed coordinator cannot
/// end a transaction its successor decided; the producer's next transaction is then still ended by the newer epoch.
/// The same holds for the marker the group coordinator writes into <c>__consumer_offsets</c>, and a coordinator whose
/// own marker is fenced gives the transaction up.
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

    [Fact]
    public async Task A_stale_marker_into_the_offsets_topic_is_fenced_and_leaves_the_offsets_pending()
    {
        using var broker = new TransactionTestBroker();
        var handler = new WriteTxnMarkersHandler(broker.Broker);
        var (_, producerId, epoch) = await broker.InitAsync("offsets");
        var offsetsPartition = broker.Broker.Groups.CoordinatorPartitionFor("g");

        // A coordinator at epoch 2 commits the producer's first offsets; the next ones are pending.
        Assert.Equal(ErrorCode.None, await broker.SendOffsetsAsync("offsets", producerId, epoch, "g", partition: 0, offset: 5));
        Assert.Equal(ErrorCode.None, await WriteAsync(handler, coordinatorEpoch: 2, commit: true, producerId, epoch, OffsetsTopicStore.TopicName, offsetsPartition));
        Assert.Equal(ErrorCode.None, await broker.SendOffsetsAsync("offsets", producerId, epoch, "g", partition: 0, offset: 6));

        // A deposed coordinator's abort would drop them: it is refused, and the current coordinator's commit applies them.
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, await WriteAsync(handler, coordinatorEpoch: 1, commit: false, producerId, epoch, OffsetsTopicStore.TopicName, offsetsPartition));
        Assert.True(broker.Broker.Groups.HasPendingTransactionalOffset("g", TransactionTestBroker.Topic, 0));
        Assert.Equal(ErrorCode.None, await WriteAsync(handler, coordinatorEpoch: 2, commit: true, producerId, epoch, OffsetsTopicStore.TopicName, offsetsPartition));
        Assert.False(broker.Broker.Groups.HasPendingTransactionalOffset("g", TransactionTestBroker.Topic, 0));
        Assert.Equal(6, await CommittedAsync(broker, "g"));
    }

    [Fact]
    public async Task A_coordinator_whose_marker_a_newer_coordinator_fenced_stops_completing_the_transaction()
    {
        using var broker = new TransactionTestBroker();
        var handler = new WriteTxnMarkersHandler(broker.Broker);
        var log = broker.Broker.FindLog(broker.Broker.Metadata.Find(TransactionTestBroker.Topic)!, 0)!;
        var (_, producerId, epoch) = await broker.InitAsync("deposed");
        Assert.Equal(ErrorCode.None, await broker.AddPartitionAsync("deposed", producerId, epoch));
        Assert.Equal((short)ErrorCode.None, (await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, transactional: true), transactionalId: "deposed")).ErrorCode);

        // The transaction's successor coordinator (epoch 1; this single node's markers carry 0) aborted it on the partition.
        Assert.Equal(0, broker.Broker.Transactions.CoordinatorEpochFor("deposed"));
        Assert.Equal(ErrorCode.None, await WriteAsync(handler, coordinatorEpoch: 1, commit: false, producerId, epoch));
        var end = log.LogEndOffset;

        // This coordinator's commit marker is refused: it writes nothing, leaves the transaction prepared and sends the
        // producer on to find its coordinator; the id's next requests are not answered with another round of markers.
        Assert.Equal(ErrorCode.NotCoordinator, await broker.EndAsync("deposed", producerId, epoch, commit: true));
        Assert.Equal(end, log.LogEndOffset);
        Assert.Equal(TransactionState.PrepareCommit, broker.Broker.Transactions.Describe("deposed")!.State);
        Assert.Equal(ErrorCode.NotCoordinator, await broker.EndAsync("deposed", producerId, epoch, commit: true));
        Assert.Equal(ErrorCode.NotCoordinator, (await broker.InitAsync("deposed", producerId, epoch)).Error);
        Assert.Equal(end, log.LogEndOffset);
        Assert.Equal(1, log.Producers.ActiveProducers().Single(p => p.ProducerId == producerId).CoordinatorEpoch);
    }

    private static async Task<long> CommittedAsync(TransactionTestBroker broker, string group)
    {
        var response = await GroupTestBroker.CallAsync(broker.OffsetFetch, new OffsetFetchRequest
        {
            GroupId = group,
            RequireStable = true,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = TransactionTestBroker.Topic, PartitionIndexes = [0] }],
        }, 7);
        var partition = response.Topics.Single().Partitions.Single();
        Assert.Equal((short)ErrorCode.None, partition.ErrorCode);
        return partition.CommittedOffset;
    }

    private static async Task<ErrorCode> WriteAsync(
        WriteTxnMarkersHandler handler, int coordinatorEpoch, bool commit, long producerId = ProducerId, short producerEpoch = 0, string topic = TransactionTestBroker.Topic, int partition = 0)
    {
        var response = await GroupTestBroker.CallAsync(handler, new WriteTxnMarkersRequest
        {
            Markers =
            [
                new WriteTxnMarkersRequest.WritableTxnMarker
                {
                    ProducerId = producerId,
                    ProducerEpoch = producerEpoch,
                    TransactionResult = commit,
                    CoordinatorEpoch = coordinatorEpoch,
                    Topics = [new WriteTxnMarkersRequest.WritableTxnMarkerTopic { Name = topic, PartitionIndexes = [partition] }],
                },
            ],
        }, version: 1);
        return (ErrorCode)response.Markers.Single().Topics.Single().Partitions.Single().ErrorCode;
    }
}
