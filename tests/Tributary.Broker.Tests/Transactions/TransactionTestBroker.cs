using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Broker.Tests.Groups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests.Transactions;

/// <summary>
/// A <see cref="TestBroker"/> with the producer and transaction handlers, a manual clock and a topic of two
/// partitions. Requests and responses pass through their wire encoding at the version under test
/// (<see cref="GroupTestBroker.CallAsync"/>).
/// </summary>
public sealed class TransactionTestBroker : IDisposable
{
    public const string Topic = "orders";
    public const int TimeoutMs = 60_000;

    private readonly TestBroker _broker;

    public TransactionTestBroker(ManualTimeProvider? time = null, string? directory = null, BrokerConfig? config = null)
    {
        Time = time ?? new ManualTimeProvider();
        _broker = new TestBroker(config ?? new BrokerConfig(), Time, directory);
        _broker.CreateTopic(Topic, 2);
    }

    public ManualTimeProvider Time { get; }

    public BrokerCore Broker => _broker.Core;

    public InitProducerIdHandler InitProducerId => field ??= new(Broker);

    public AddPartitionsToTxnHandler AddPartitions => field ??= new(Broker);

    public AddOffsetsToTxnHandler AddOffsets => field ??= new(Broker);

    public TxnOffsetCommitHandler TxnOffsetCommit => field ??= new(Broker);

    public EndTxnHandler EndTxn => field ??= new(Broker);

    public DescribeTransactionsHandler DescribeTransactions => field ??= new(Broker);

    public ListTransactionsHandler ListTransactions => field ??= new(Broker);

    public DescribeProducersHandler DescribeProducers => field ??= new(Broker);

    public ProduceHandler Produce => field ??= new(Broker, Microsoft.Extensions.Logging.Abstractions.NullLogger<ProduceHandler>.Instance);

    public FetchHandler Fetch => field ??= new(Broker);

    public ListOffsetsHandler ListOffsets => field ??= new(Broker);

    public OffsetFetchHandler OffsetFetch => field ??= new(Broker);

    public async Task<(ErrorCode Error, long ProducerId, short Epoch)> InitAsync(string? transactionalId, long producerId = -1, short epoch = -1, short version = 5, int timeoutMs = TimeoutMs)
    {
        var response = await GroupTestBroker.CallAsync(InitProducerId, new InitProducerIdRequest
        {
            TransactionalId = transactionalId,
            TransactionTimeoutMs = timeoutMs,
            ProducerId = producerId,
            ProducerEpoch = epoch,
        }, version);
        return ((ErrorCode)response.ErrorCode, response.ProducerId, response.ProducerEpoch);
    }

    public async Task<ErrorCode> AddPartitionAsync(string transactionalId, long producerId, short epoch, int partition = 0, short version = 3, string topic = Topic)
    {
        var response = await GroupTestBroker.CallAsync(AddPartitions, new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = transactionalId,
            V3AndBelowProducerId = producerId,
            V3AndBelowProducerEpoch = epoch,
            V3AndBelowTopics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = topic, Partitions = [partition] }],
        }, version);
        return (ErrorCode)response.ResultsByTopicV3AndBelow.Single().ResultsByPartition.Single().PartitionErrorCode;
    }

    /// <summary>AddOffsetsToTxn for the group, then TxnOffsetCommit of one offset (null metadata); the commit's error.</summary>
    public async Task<ErrorCode> SendOffsetsAsync(string transactionalId, long producerId, short epoch, string group, int partition, long offset)
    {
        var add = await GroupTestBroker.CallAsync(AddOffsets, new AddOffsetsToTxnRequest { TransactionalId = transactionalId, ProducerId = producerId, ProducerEpoch = epoch, GroupId = group }, 3);
        Assert.Equal((short)ErrorCode.None, add.ErrorCode);
        var commit = await GroupTestBroker.CallAsync(TxnOffsetCommit, new TxnOffsetCommitRequest
        {
            TransactionalId = transactionalId,
            GroupId = group,
            ProducerId = producerId,
            ProducerEpoch = epoch,
            Topics = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic { Name = Topic, Partitions = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition { PartitionIndex = partition, CommittedOffset = offset, CommittedMetadata = null }] }],
        }, 3);
        return (ErrorCode)commit.Topics.Single().Partitions.Single().ErrorCode;
    }

    public async Task<ErrorCode> EndAsync(string transactionalId, long producerId, short epoch, bool commit, short version = 4) =>
        (ErrorCode)(await GroupTestBroker.CallAsync(EndTxn, new EndTxnRequest { TransactionalId = transactionalId, ProducerId = producerId, ProducerEpoch = epoch, Committed = commit }, version)).ErrorCode;

    public static byte[] Batch(long producerId, short epoch, int sequence, int count = 1, bool transactional = false, string value = "v")
    {
        var builder = new RecordBatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = sequence, IsTransactional = transactional };
        for (var i = 0; i < count; i++)
        {
            builder.Add(1_700_000_000_000, null, System.Text.Encoding.UTF8.GetBytes($"{value}-{i}"));
        }

        return builder.Build();
    }

    public async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(byte[] batch, int partition = 0, string? transactionalId = null)
    {
        var response = await GroupTestBroker.CallAsync(Produce, new ProduceRequest
        {
            TransactionalId = transactionalId,
            Acks = -1,
            TimeoutMs = 1000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = Topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = batch }] }],
        }, 9);
        return response.Responses.Single().PartitionResponses.Single();
    }

    public async Task<FetchResponse.PartitionData> FetchAsync(int partition = 0, long offset = 0, bool readCommitted = true)
    {
        var response = await GroupTestBroker.CallAsync(Fetch, new FetchRequest
        {
            MaxWaitMs = 0,
            MinBytes = 0,
            IsolationLevel = readCommitted ? (sbyte)1 : (sbyte)0,
            Topics = [new FetchRequest.FetchTopic { Topic = Topic, Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = 1 << 20 }] }],
        }, 12);
        return response.Responses.Single().Partitions.Single();
    }

    /// <summary>The values a consumer at this isolation level would see: data records, minus aborted transactions for read_committed.</summary>
    public async Task<List<string>> ConsumeAsync(int partition = 0, bool readCommitted = true)
    {
        var data = await FetchAsync(partition, 0, readCommitted);
        var aborted = (data.AbortedTransactions ?? []).Select(a => (a.ProducerId, a.FirstOffset)).ToList();
        var abortedProducers = new HashSet<long>();
        var values = new List<string>();
        for (var remaining = data.Records ?? ReadOnlyMemory<byte>.Empty; !remaining.IsEmpty;)
        {
            var batch = RecordBatch.Read(remaining);
            remaining = remaining[batch.Header.TotalSize..];
            foreach (var (producerId, _) in aborted.Where(a => a.FirstOffset <= batch.Header.BaseOffset).ToList())
            {
                abortedProducers.Add(producerId);
                aborted.RemoveAll(a => a.ProducerId == producerId && a.FirstOffset <= batch.Header.BaseOffset);
            }

            if (batch.Header.IsControl)
            {
                abortedProducers.Remove(batch.Header.ProducerId);
                continue;
            }

            if (readCommitted && batch.Header.IsTransactional && abortedProducers.Contains(batch.Header.ProducerId))
            {
                continue;
            }

            foreach (var record in batch.Records)
            {
                values.Add(System.Text.Encoding.UTF8.GetString(record.Value!.Value.Span));
            }
        }

        return values;
    }

    public void Dispose() => _broker.Dispose();
}
