using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Tests.Faults;

/// <summary>
/// The faults <see cref="FaultInjectionTests"/> found, each as the smallest sequence that shows it: a disk that refuses
/// one write must cost the request that made it, never an acknowledged record, a start, or a transaction for good.
/// </summary>
public sealed class DiskFaultRegressionTests : IDisposable
{
    private const string TransactionalId = "tx";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-disk-fault-tests", Guid.NewGuid().ToString("N"));
    private readonly FaultInjectingDevice _device = new(new MemoryLogDevice(), new Random(0));
    private TestBroker _broker;

    public DiskFaultRegressionTests()
    {
        Directory.CreateDirectory(_directory);
        _broker = TestBroker.OnDevice(_directory, _device);
    }

    public void Dispose()
    {
        _device.Refuses = null;
        _broker.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string PartitionDirectory(string topic, int partition) => Path.Combine(Path.GetFullPath(_broker.Core.Config.LogDir), $"{topic}-{partition}");

    private void Restart()
    {
        _broker.Dispose();
        _broker = TestBroker.OnDevice(_directory, _device);
    }

    private async Task<(ErrorCode Error, long ProducerId, short Epoch)> InitProducerIdAsync(string? transactionalId)
    {
        var response = await _broker.SendAsync(new InitProducerIdHandler(_broker.Core), new InitProducerIdRequest { TransactionalId = transactionalId, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, 5);
        return ((ErrorCode)response.ErrorCode, response.ProducerId, response.ProducerEpoch);
    }

    private async Task<(ErrorCode Error, long BaseOffset)> ProduceAsync(string topic, byte[] batch, string? transactionalId = null)
    {
        var request = new ProduceRequest
        {
            TransactionalId = transactionalId,
            Acks = -1,
            TimeoutMs = 1000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
        };
        var result = Assert.Single(Assert.Single((await _broker.SendAsync(new ProduceHandler(_broker.Core, NullLogger<ProduceHandler>.Instance), request, 9)).Responses).PartitionResponses);
        return ((ErrorCode)result.ErrorCode, result.BaseOffset);
    }

    /// <summary>The partition's values as a consumer at that isolation level reads them from offset 0, with the high watermark and last stable offset.</summary>
    private async Task<(List<string> Values, long HighWatermark, long LastStable)> ReadAsync(string topic, bool readCommitted = false)
    {
        var request = new FetchRequest
        {
            MaxWaitMs = 0,
            MinBytes = 0,
            MaxBytes = 1 << 20,
            IsolationLevel = readCommitted ? (sbyte)1 : (sbyte)0,
            Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }] }],
        };
        var data = Assert.Single(Assert.Single((await _broker.SendAsync(new FetchHandler(_broker.Core), request, 12)).Responses).Partitions);
        Assert.Equal((short)ErrorCode.None, data.ErrorCode);
        var aborted = (data.AbortedTransactions ?? []).Select(a => a.ProducerId).ToHashSet();
        var values = new List<string>();
        for (var remaining = data.Records ?? ReadOnlyMemory<byte>.Empty; !remaining.IsEmpty;)
        {
            var batch = RecordBatch.Read(remaining);
            remaining = remaining[batch.Header.TotalSize..];
            if (!batch.Header.IsControl && !(batch.Header.IsTransactional && aborted.Contains(batch.Header.ProducerId)))
            {
                foreach (var record in batch.Records)
                {
                    values.Add(System.Text.Encoding.UTF8.GetString(record.Value!.Value.Span));
                }
            }
        }

        return (values, data.HighWatermark, data.LastStableOffset);
    }

    private async Task<ErrorCode> EndTxnAsync(long producerId, short epoch, bool commit) =>
        (ErrorCode)(await _broker.SendAsync(new EndTxnHandler(_broker.Core), new EndTxnRequest { TransactionalId = TransactionalId, ProducerId = producerId, ProducerEpoch = epoch, Committed = commit }, 4)).ErrorCode;

    /// <summary>A transaction of <paramref name="values"/> in orders-0, produced and not yet ended.</summary>
    private async Task<(long ProducerId, short Epoch)> OpenTransactionAsync(params string[] values)
    {
        var (error, producerId, epoch) = await InitProducerIdAsync(TransactionalId);
        Assert.Equal(ErrorCode.None, error);
        var add = await _broker.SendAsync(new AddPartitionsToTxnHandler(_broker.Core), new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = TransactionalId,
            V3AndBelowProducerId = producerId,
            V3AndBelowProducerEpoch = epoch,
            V3AndBelowTopics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = "orders", Partitions = [0] }],
        }, 3);
        Assert.Equal((short)ErrorCode.None, Assert.Single(Assert.Single(add.ResultsByTopicV3AndBelow).ResultsByPartition).PartitionErrorCode);
        var builder = new RecordBatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = 0, IsTransactional = true };
        foreach (var value in values)
        {
            builder.Add(1_000, null, System.Text.Encoding.UTF8.GetBytes(value));
        }

        Assert.Equal(ErrorCode.None, (await ProduceAsync("orders", builder.Build(), TransactionalId)).Error);
        return (producerId, epoch);
    }

    private static bool IsLogFileOf(string path, string partition) =>
        path.Contains($"/{partition}/", StringComparison.Ordinal) && path.EndsWith(".log", StringComparison.Ordinal);

    [Fact]
    public async Task InitProducerId_answers_coordinator_not_available_while_the_producer_id_block_cannot_be_recorded()
    {
        _device.Refuses = (_, path) => path.EndsWith("producer-id-block.checkpoint.tmp", StringComparison.Ordinal);

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, (await InitProducerIdAsync(null)).Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, (await InitProducerIdAsync(TransactionalId)).Error);

        _device.Refuses = null;
        Assert.Equal((ErrorCode.None, 0L, (short)0), await InitProducerIdAsync(null));
        Assert.Equal(ErrorCode.None, (await InitProducerIdAsync(TransactionalId)).Error);
    }

    [Fact]
    public async Task A_topic_created_again_after_its_files_could_not_be_removed_starts_empty()
    {
        _broker.CreateTopic("orders", 1);
        Assert.Equal(ErrorCode.None, (await ProduceAsync("orders", TestBroker.Batch("old"))).Error);
        // Neither renamed for a delayed deletion nor removed at once.
        _device.Refuses = (operation, path) => operation == "rmdir" || (operation == "rename" && path.EndsWith(Tributary.Storage.LogManager.DeleteDirectorySuffix, StringComparison.Ordinal));
        Assert.Equal((short)ErrorCode.None, Assert.Single((await _broker.SendAsync(new DeleteTopicsHandler(_broker.Core), new DeleteTopicsRequest { TopicNames = ["orders"] }, 5)).Responses).ErrorCode);
        Assert.True(_device.DirectoryExists(PartitionDirectory("orders", 0)));
        _device.Refuses = null;

        _broker.CreateTopic("orders", 1);

        var (values, highWatermark, _) = await ReadAsync("orders");
        Assert.Empty(values);
        Assert.Equal(0, highWatermark);
    }

    [Fact]
    public void Files_of_a_deleted_topic_left_on_the_disk_are_removed_at_the_next_start()
    {
        _broker.CreateTopic("orders", 2);
        _device.Refuses = (operation, _) => operation == "rmdir";
        Assert.True(_broker.Core.DeleteTopic("orders"));
        _device.Refuses = null;

        Restart();

        Assert.False(_device.DirectoryExists(PartitionDirectory("orders", 0)));
        Assert.False(_device.DirectoryExists(PartitionDirectory("orders", 1)));
    }

    [Fact]
    public async Task A_segment_roll_refused_part_way_loses_no_record_acknowledged_after_it()
    {
        var topic = _broker.CreateTopic("orders", 1, new Dictionary<string, string> { ["segment.bytes"] = "1024" });
        var value = new string('x', 400);
        Assert.Equal((ErrorCode.None, 0L), await ProduceAsync("orders", TestBroker.Batch(value)));
        Assert.Equal((ErrorCode.None, 1L), await ProduceAsync("orders", TestBroker.Batch(value)));

        // The third batch rolls: the new segment's time index cannot be created.
        _device.Refuses = (operation, path) => operation == "open" && path.EndsWith("00000000000000000002.timeindex", StringComparison.Ordinal);
        Assert.Equal(ErrorCode.KafkaStorageError, (await ProduceAsync("orders", TestBroker.Batch(value))).Error);
        _device.Refuses = null;

        // Larger segments now: the next batch goes on in the first segment, at the offset the roll would have started.
        _broker.Core.UpdateTopicConfigs(topic, new Dictionary<string, string> { ["segment.bytes"] = "1048576" });
        Assert.Equal((ErrorCode.None, 2L), await ProduceAsync("orders", TestBroker.Batch("after")));

        Restart();

        var (values, highWatermark, _) = await ReadAsync("orders");
        Assert.Equal(3, highWatermark);
        Assert.Equal("after", values[^1]);
    }

    [Fact]
    public async Task A_start_that_fails_part_way_lets_go_of_the_data_directory()
    {
        Assert.Equal(ErrorCode.None, (await InitProducerIdAsync(null)).Error);
        _broker.Dispose();

        // The logs are open by the time the transaction coordinator reads its producer id checkpoint.
        _device.Refuses = (operation, path) => operation == "open" && path.EndsWith("producer-id-block.checkpoint", StringComparison.Ordinal);
        Assert.Throws<IOException>(() => TestBroker.OnDevice(_directory, _device));
        _device.Refuses = null;

        _broker = TestBroker.OnDevice(_directory, _device);
        Assert.Equal(ErrorCode.None, (await InitProducerIdAsync(null)).Error);
    }

    [Fact]
    public async Task A_commit_whose_marker_was_refused_is_completed_by_the_retry_of_EndTxn()
    {
        _broker.CreateTopic("orders", 1);
        var (producerId, epoch) = await OpenTransactionAsync("a", "b");
        _device.Refuses = (operation, path) => operation == "append" && IsLogFileOf(path, "orders-0");

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, await EndTxnAsync(producerId, epoch, commit: true));
        Assert.Equal(ErrorCode.ConcurrentTransactions, await EndTxnAsync(producerId, epoch, commit: true));
        var (_, highWatermark, lastStable) = await ReadAsync("orders", readCommitted: true);
        Assert.Equal((2, 0), (highWatermark, lastStable));

        _device.Refuses = null;
        Assert.Equal(ErrorCode.None, await EndTxnAsync(producerId, epoch, commit: true));
        var (values, _, lastStableAfter) = await ReadAsync("orders", readCommitted: true);
        Assert.Equal(["a", "b"], values);
        Assert.Equal(3, lastStableAfter);
    }

    [Fact]
    public async Task A_commit_whose_prepare_was_refused_leaves_the_transaction_open_to_abort()
    {
        _broker.CreateTopic("orders", 1);
        var (producerId, epoch) = await OpenTransactionAsync("a");
        _device.Refuses = (operation, path) => operation == "append" && IsLogFileOf(path, $"__transaction_state-{_broker.Core.Transactions.CoordinatorPartitionFor(TransactionalId)}");

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, await EndTxnAsync(producerId, epoch, commit: true));

        _device.Refuses = null;
        Assert.Equal(ErrorCode.None, await EndTxnAsync(producerId, epoch, commit: false));
        var (values, _, lastStable) = await ReadAsync("orders", readCommitted: true);
        Assert.Empty(values);
        Assert.Equal(2, lastStable);
    }

    [Fact]
    public async Task A_prepared_commit_is_not_completed_while_a_partition_of_it_is_offline()
    {
        _broker.CreateTopic("orders", 1);
        var (producerId, epoch) = await OpenTransactionAsync("a");
        _device.Refuses = (operation, path) => operation == "append" && IsLogFileOf(path, "orders-0");
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, await EndTxnAsync(producerId, epoch, commit: true));

        // At this start orders-0 cannot be opened: the commit found prepared cannot write its marker there.
        _device.Refuses = (operation, path) => operation == "open" && path.Contains("/orders-0/", StringComparison.Ordinal);
        Restart();
        _device.Refuses = null;
        Restart();

        var (values, _, lastStable) = await ReadAsync("orders", readCommitted: true);
        Assert.Equal(["a"], values);
        Assert.Equal(2, lastStable);
    }
}
