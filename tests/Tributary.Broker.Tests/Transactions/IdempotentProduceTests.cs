using Tributary.Broker.Tests.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>Proves what an idempotent producer sees from Produce: retries deduplicated, gaps and stale epochs refused.</summary>
public sealed class IdempotentProduceTests
{
    [Fact]
    public async Task Retried_batch_answers_with_the_original_offset_and_is_stored_once()
    {
        using var broker = new TransactionTestBroker();
        var (_, producerId, epoch) = await broker.InitAsync(null);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, count: 2, value: "a"));
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 2, count: 1, value: "b"));

        var retry = await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 2, count: 1, value: "b"));

        Assert.Equal((short)ErrorCode.None, retry.ErrorCode);
        Assert.Equal(2, retry.BaseOffset);
        Assert.Equal(["a-0", "a-1", "b-0"], await broker.ConsumeAsync(readCommitted: false));
    }

    [Fact]
    public async Task Sequence_gap_is_out_of_order()
    {
        using var broker = new TransactionTestBroker();
        var (_, producerId, epoch) = await broker.InitAsync(null);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0));

        var gap = await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 2));

        Assert.Equal((short)ErrorCode.OutOfOrderSequenceNumber, gap.ErrorCode);
        Assert.Equal(-1, gap.BaseOffset);
        Assert.Single(await broker.ConsumeAsync(readCommitted: false));
    }

    [Fact]
    public async Task Stale_epoch_is_invalid_producer_epoch()
    {
        using var broker = new TransactionTestBroker();
        var (_, producerId, _) = await broker.InitAsync(null);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, 5, 0));

        Assert.Equal((short)ErrorCode.InvalidProducerEpoch, (await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, 4, 1))).ErrorCode);
    }

    [Fact]
    public async Task Control_batches_from_clients_are_refused()
    {
        using var broker = new TransactionTestBroker();
        var marker = Protocol.Records.RecordBatchBuilder.BuildEndTransactionMarker(new(Protocol.Records.ControlRecordType.Commit, 0), 1, 0, 0);
        Assert.Equal((short)ErrorCode.InvalidRecord, (await broker.ProduceAsync(marker)).ErrorCode);
    }

    [Fact]
    public async Task DescribeProducers_reports_the_partition_producer_state()
    {
        using var broker = new TransactionTestBroker();
        var (_, producerId, epoch) = await broker.InitAsync(null);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, count: 3));

        var response = await GroupTestBroker.CallAsync(broker.DescribeProducers, new DescribeProducersRequest
        {
            Topics = [new DescribeProducersRequest.TopicRequest { Name = TransactionTestBroker.Topic, PartitionIndexes = [0, 9] }],
        }, 0);

        var partitions = response.Topics.Single().Partitions;
        var producer = Assert.Single(partitions[0].ActiveProducers);
        Assert.Equal((producerId, (int)epoch, 2, -1L), (producer.ProducerId, producer.ProducerEpoch, producer.LastSequence, producer.CurrentTxnStartOffset));
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, partitions[1].ErrorCode);
    }
}
