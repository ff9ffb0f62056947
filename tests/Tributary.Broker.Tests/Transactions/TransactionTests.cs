using Tributary.Broker.Tests.Groups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>
/// Proves the transaction protocol end to end through the handlers: what read_committed consumers see after commit,
/// abort and while a transaction is open; fencing; TxnOffsetCommit; timeouts; and recovery after a restart.
/// </summary>
public sealed class TransactionTests
{
    private const string TxId = "payments-tx";

    private static async Task<(long ProducerId, short Epoch)> BeginAsync(TransactionTestBroker broker, string transactionalId = TxId, int partition = 0)
    {
        var (error, producerId, epoch) = await broker.InitAsync(transactionalId);
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(ErrorCode.None, await broker.AddPartitionAsync(transactionalId, producerId, epoch, partition));
        return (producerId, epoch);
    }

    [Fact]
    public async Task Nothing_uncommitted_is_visible_to_read_committed_until_commit()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker);
        Assert.Equal((short)ErrorCode.None, (await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, count: 2, transactional: true, value: "t"), transactionalId: TxId)).ErrorCode);

        var open = await broker.FetchAsync();
        Assert.Equal(0, open.LastStableOffset);
        Assert.Equal(2, open.HighWatermark);
        Assert.Empty(await broker.ConsumeAsync());
        Assert.Equal(["t-0", "t-1"], await broker.ConsumeAsync(readCommitted: false));

        Assert.Equal(ErrorCode.None, await broker.EndAsync(TxId, producerId, epoch, commit: true));

        var committed = await broker.FetchAsync();
        Assert.Equal(3, committed.LastStableOffset);
        Assert.Equal(["t-0", "t-1"], await broker.ConsumeAsync());
        Assert.Equal(ErrorCode.None, await broker.EndAsync(TxId, producerId, epoch, commit: true));
        Assert.Equal(ErrorCode.InvalidTxnState, await broker.EndAsync(TxId, producerId, epoch, commit: false));
    }

    [Fact]
    public async Task Aborted_data_is_listed_for_read_committed_and_skipped()
    {
        using var broker = new TransactionTestBroker();
        var (idempotentId, _) = (await broker.InitAsync(null)) is var i ? (i.ProducerId, i.Epoch) : default;
        var (producerId, epoch) = await BeginAsync(broker);
        await broker.ProduceAsync(TransactionTestBroker.Batch(idempotentId, 0, 0, value: "plain"));
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, count: 2, transactional: true, value: "aborted"), transactionalId: TxId);

        Assert.Equal(ErrorCode.None, await broker.EndAsync(TxId, producerId, epoch, commit: false));

        var data = await broker.FetchAsync();
        var aborted = Assert.Single(data.AbortedTransactions!);
        Assert.Equal((producerId, 1L), (aborted.ProducerId, aborted.FirstOffset));
        Assert.Equal(4, data.LastStableOffset);
        Assert.Equal(["plain-0"], await broker.ConsumeAsync());
    }

    [Fact]
    public async Task ListOffsets_latest_is_the_last_stable_offset_for_read_committed()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, count: 3, transactional: true), transactionalId: TxId);

        async Task<long> LatestAsync(sbyte isolation) => (await GroupTestBroker.CallAsync(broker.ListOffsets, new ListOffsetsRequest
        {
            ReplicaId = -1,
            IsolationLevel = isolation,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = TransactionTestBroker.Topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1 }] }],
        }, 7)).Topics.Single().Partitions.Single().Offset;

        Assert.Equal(0, await LatestAsync(1));
        Assert.Equal(3, await LatestAsync(0));
    }

    [Fact]
    public async Task Unknown_transactional_id_and_transaction_less_EndTxn_are_refused()
    {
        using var broker = new TransactionTestBroker();
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, await broker.AddPartitionAsync("nobody", 1, 0));
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, await broker.EndAsync("nobody", 1, 0, commit: true));

        var (_, producerId, epoch) = await broker.InitAsync(TxId);
        Assert.Equal(ErrorCode.InvalidTxnState, await broker.EndAsync(TxId, producerId, epoch, commit: true));
        Assert.Equal(ErrorCode.InvalidTxnState, await broker.EndAsync(TxId, producerId, epoch, commit: false));
    }

    [Fact]
    public async Task Produce_to_a_partition_not_in_the_transaction_is_refused()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker, partition: 0);

        var response = await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, transactional: true), partition: 1, transactionalId: TxId);

        Assert.Equal((short)ErrorCode.InvalidTxnState, response.ErrorCode);
        Assert.Equal(0, broker.Broker.FindLog(broker.Broker.Metadata.Find(TransactionTestBroker.Topic)!, 1)!.LogEndOffset);
    }

    [Fact]
    public async Task A_second_producer_with_the_same_transactional_id_fences_the_first_and_aborts_its_transaction()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, oldEpoch) = await BeginAsync(broker);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, oldEpoch, 0, transactional: true, value: "zombie"), transactionalId: TxId);

        var (_, sameId, newEpoch) = await broker.InitAsync(TxId);

        Assert.Equal(producerId, sameId);
        Assert.True(newEpoch > oldEpoch);
        Assert.Empty(await broker.ConsumeAsync());
        Assert.Equal(2, (await broker.FetchAsync()).LastStableOffset);
        Assert.Equal(ErrorCode.ProducerFenced, await broker.AddPartitionAsync(TxId, producerId, oldEpoch));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, await broker.AddPartitionAsync(TxId, producerId, oldEpoch, version: 1));
        Assert.Equal(ErrorCode.ProducerFenced, await broker.EndAsync(TxId, producerId, oldEpoch, commit: true));
        Assert.Equal((short)ErrorCode.InvalidProducerEpoch, (await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, oldEpoch, 1, transactional: true), transactionalId: TxId)).ErrorCode);

        // The new producer works normally.
        Assert.Equal(ErrorCode.None, await broker.AddPartitionAsync(TxId, producerId, newEpoch));
        Assert.Equal((short)ErrorCode.None, (await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, newEpoch, 0, transactional: true, value: "new"), transactionalId: TxId)).ErrorCode);
        Assert.Equal(ErrorCode.None, await broker.EndAsync(TxId, producerId, newEpoch, commit: true));
        Assert.Equal(["new-0"], await broker.ConsumeAsync());
    }

    [Fact]
    public async Task Transactional_offsets_reach_the_group_only_when_the_transaction_commits()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker);
        Assert.Equal(ErrorCode.None, await broker.SendOffsetsAsync(TxId, producerId, epoch, "g", 0, 10));
        Assert.Empty(broker.Broker.Groups.FetchOffsets("g"));
        Assert.Equal(ErrorCode.None, await broker.EndAsync(TxId, producerId, epoch, commit: false));
        Assert.Empty(broker.Broker.Groups.FetchOffsets("g"));

        Assert.Equal(ErrorCode.None, await broker.SendOffsetsAsync(TxId, producerId, epoch, "g", 0, 20));
        Assert.Equal(ErrorCode.None, await broker.EndAsync(TxId, producerId, epoch, commit: true));
        var committed = broker.Broker.Groups.FetchOffsets("g")[(TransactionTestBroker.Topic, 0)];
        Assert.Equal((20L, ""), (committed.Offset, committed.Metadata));
    }

    [Fact]
    public async Task TxnOffsetCommit_without_AddOffsetsToTxn_is_invalid_txn_state()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker);
        var response = await GroupTestBroker.CallAsync(broker.TxnOffsetCommit, new TxnOffsetCommitRequest
        {
            TransactionalId = TxId,
            GroupId = "g",
            ProducerId = producerId,
            ProducerEpoch = epoch,
            Topics = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic { Name = TransactionTestBroker.Topic, Partitions = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = 1 }] }],
        }, 3);
        Assert.Equal((short)ErrorCode.InvalidTxnState, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Expired_transaction_is_aborted_by_the_timer_and_its_producer_fenced()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker);
        await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, transactional: true, value: "late"), transactionalId: TxId);

        broker.Time.Advance(TimeSpan.FromMilliseconds(TransactionTestBroker.TimeoutMs + 10_000));

        Assert.Equal(TransactionState.CompleteAbort, broker.Broker.Transactions.Describe(TxId)!.State);
        Assert.Equal(2, (await broker.FetchAsync()).LastStableOffset);
        Assert.Empty(await broker.ConsumeAsync());
        Assert.Equal(ErrorCode.ProducerFenced, await broker.EndAsync(TxId, producerId, epoch, commit: true));
    }

    [Fact]
    public async Task Open_transaction_survives_a_restart_and_is_aborted_after_its_timeout()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tributary-txn-tests", Guid.NewGuid().ToString("N"));
        var time = new ManualTimeProvider();
        try
        {
            long producerId;
            using (var broker = new TransactionTestBroker(time, directory))
            {
                (producerId, var epoch) = await BeginAsync(broker);
                await broker.ProduceAsync(TransactionTestBroker.Batch(producerId, epoch, 0, transactional: true), transactionalId: TxId);
            }

            using var restarted = new TransactionTestBroker(time, directory);
            Assert.Equal(TransactionState.Ongoing, restarted.Broker.Transactions.Describe(TxId)!.State);
            Assert.Equal(0, (await restarted.FetchAsync()).LastStableOffset);

            time.Advance(TimeSpan.FromMilliseconds(TransactionTestBroker.TimeoutMs + 10_000));

            Assert.Equal(TransactionState.CompleteAbort, restarted.Broker.Transactions.Describe(TxId)!.State);
            Assert.Equal(2, (await restarted.FetchAsync()).LastStableOffset);
            Assert.Empty(await restarted.ConsumeAsync());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task DescribeTransactions_and_ListTransactions_report_state_and_partitions()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker, partition: 1);
        await broker.InitAsync("idle");

        var described = await GroupTestBroker.CallAsync(broker.DescribeTransactions, new DescribeTransactionsRequest { TransactionalIds = [TxId, "missing"] }, 0);
        var state = described.TransactionStates[0];
        Assert.Equal(("Ongoing", producerId, epoch, TransactionTestBroker.TimeoutMs), (state.TransactionState, state.ProducerId, state.ProducerEpoch, state.TransactionTimeoutMs));
        Assert.Equal([1], state.Topics.Single(t => t.Topic == TransactionTestBroker.Topic).Partitions);
        Assert.Equal((short)ErrorCode.TransactionalIdNotFound, described.TransactionStates[1].ErrorCode);

        var listed = await GroupTestBroker.CallAsync(broker.ListTransactions, new ListTransactionsRequest { StateFilters = ["Ongoing", "Bogus"] }, 1);
        Assert.Equal([TxId], listed.TransactionStates.Select(t => t.TransactionalId));
        Assert.Equal(["Bogus"], listed.UnknownStateFilters);
        var all = await GroupTestBroker.CallAsync(broker.ListTransactions, new ListTransactionsRequest(), 0);
        Assert.Equal(2, all.TransactionStates.Count);
    }

    [Fact]
    public async Task Batched_AddPartitionsToTxn_v4_verifies_without_adding()
    {
        using var broker = new TransactionTestBroker();
        var (producerId, epoch) = await BeginAsync(broker, partition: 0);
        var response = await GroupTestBroker.CallAsync(broker.AddPartitions, new AddPartitionsToTxnRequest
        {
            Transactions = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction
            {
                TransactionalId = TxId,
                ProducerId = producerId,
                ProducerEpoch = epoch,
                VerifyOnly = true,
                Topics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = TransactionTestBroker.Topic, Partitions = [0, 1] }],
            }],
        }, 5);

        var results = response.ResultsByTransaction.Single().TopicResults.Single().ResultsByPartition;
        Assert.Equal([(short)ErrorCode.None, (short)ErrorCode.InvalidTxnState], results.Select(r => r.PartitionErrorCode));
        Assert.DoesNotContain((TransactionTestBroker.Topic, 1), broker.Broker.Transactions.Describe(TxId)!.Partitions);
    }
}
