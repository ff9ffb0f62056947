using Tributary.Protocol;
using Tributary.Protocol.Records;
using BatchBuilder = Tributary.Protocol.Records.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Proves the produce-time producer rules of a partition (duplicates, sequence gaps, epochs), the last stable offset
/// and aborted-transaction index that read_committed needs, and that all of it is rebuilt from the log after a crash.
/// </summary>
public sealed class ProducerStateTests
{
    private const string Topic = "payments";
    private const long ProducerId = 42;

    private static byte[] Batch(long producerId, short epoch, int sequence, int count = 1, bool transactional = false)
    {
        var builder = new BatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = sequence, IsTransactional = transactional };
        for (var i = 0; i < count; i++)
        {
            builder.Add(1_700_000_000_000 + i, null, [(byte)i]);
        }

        return builder.Build();
    }

    private static byte[] Marker(ControlRecordType type, long producerId, short epoch, int coordinatorEpoch = 0) =>
        BatchBuilder.BuildEndTransactionMarker(new EndTransactionMarker(type, coordinatorEpoch), producerId, epoch, 1_700_000_000_000);

    [Fact]
    public void Duplicate_of_a_recent_batch_returns_the_original_offsets_and_is_not_appended()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        var first = log.AppendChecked(Batch(ProducerId, 0, 0, count: 3));
        var second = log.AppendChecked(Batch(ProducerId, 0, 3, count: 2));
        Assert.Equal((ErrorCode.None, false, 0L), (first.Error, first.IsDuplicate, first.Append.FirstOffset));
        Assert.Equal(3, second.Append.FirstOffset);

        var retry = log.AppendChecked(Batch(ProducerId, 0, 0, count: 3));

        Assert.Equal(ErrorCode.None, retry.Error);
        Assert.True(retry.IsDuplicate);
        Assert.Equal((0L, 2L), (retry.Append.FirstOffset, retry.Append.LastOffset));
        Assert.Equal(5, log.LogEndOffset);
    }

    [Fact]
    public void A_batch_cut_off_the_log_is_forgotten_so_its_retry_is_appended_again()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(7, 0, 0, count: 3)).Error);
        Assert.Equal(3, log.AppendChecked(Batch(ProducerId, 0, 0, count: 2)).Append.FirstOffset);

        // A diverged tail cut for replication (no producer snapshot below the cut: the state is replayed).
        Assert.Equal(3, log.TruncateTo(3));

        var retry = log.AppendChecked(Batch(ProducerId, 0, 0, count: 2));
        Assert.Equal((ErrorCode.None, false, 3L), (retry.Error, retry.IsDuplicate, retry.Append.FirstOffset));
        Assert.True(log.AppendChecked(Batch(7, 0, 0, count: 3)).IsDuplicate);
        Assert.Equal(5, log.LogEndOffset);
    }

    [Fact]
    public void A_batch_after_one_the_disk_refused_is_a_storage_error_not_a_sequence_gap_until_a_write_succeeds()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var device = new RefusingDevice(target.Device, path => path.EndsWith(".log", StringComparison.Ordinal));
        using var manager = new LogManager(device, target.DataDirectory, LogConfig.Default, target.Time);
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 0, 0)).Error);

        device.Refuse = true;
        Assert.Throws<IOException>(() => log.AppendChecked(Batch(ProducerId, 0, 1)));
        device.Refuse = false;

        // The next batch, sent before the refused one is retried, would be out of order: it is not stored either.
        Assert.Equal(ErrorCode.KafkaStorageError, log.AppendChecked(Batch(ProducerId, 0, 2)).Error);
        Assert.Equal(1, log.LogEndOffset);

        // Retried in order, both are stored; afterwards a real gap is OUT_OF_ORDER_SEQUENCE_NUMBER again.
        Assert.Equal((ErrorCode.None, 1L), (log.AppendChecked(Batch(ProducerId, 0, 1)).Error, log.LogEndOffset - 1));
        Assert.Equal((ErrorCode.None, 2L), (log.AppendChecked(Batch(ProducerId, 0, 2)).Error, log.LogEndOffset - 1));
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, log.AppendChecked(Batch(ProducerId, 0, 5)).Error);
    }

    [Fact]
    public void Only_the_last_five_batches_are_remembered()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        for (var sequence = 0; sequence < 6; sequence++)
        {
            Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 0, sequence)).Error);
        }

        Assert.True(log.AppendChecked(Batch(ProducerId, 0, 1)).IsDuplicate);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, log.AppendChecked(Batch(ProducerId, 0, 0)).Error);
    }

    [Fact]
    public void Sequence_gap_is_out_of_order_and_nothing_is_appended()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(ProducerId, 0, 0, count: 2));

        var gap = log.AppendChecked(Batch(ProducerId, 0, 5));

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, gap.Error);
        Assert.Equal(2, log.LogEndOffset);
    }

    [Fact]
    public void Stale_epoch_is_rejected_and_a_new_epoch_must_start_at_zero()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 3, 0)).Error);

        Assert.Equal(ErrorCode.InvalidProducerEpoch, log.AppendChecked(Batch(ProducerId, 2, 1)).Error);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, log.AppendChecked(Batch(ProducerId, 4, 7)).Error);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 4, 0)).Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, log.AppendChecked(Batch(ProducerId, 3, 1)).Error);
    }

    [Fact]
    public void Unknown_producer_may_start_at_any_sequence_as_in_current_Kafka()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);

        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 0, 17)).Error);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, log.AppendChecked(Batch(ProducerId, 0, 19)).Error);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 0, 18)).Error);
    }

    [Fact]
    public void Sequence_wraps_after_int_max()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 0, int.MaxValue - 1, count: 2)).Error);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(ProducerId, 0, 0)).Error);
    }

    [Fact]
    public void Open_transaction_holds_the_last_stable_offset_and_an_abort_is_indexed()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(7, 0, 0, count: 2));
        log.AppendChecked(Batch(ProducerId, 0, 0, count: 3, transactional: true));
        log.AppendChecked(Batch(7, 0, 2));

        Assert.Equal(6, log.HighWatermark);
        Assert.Equal(2, log.LastStableOffset);
        var committedRead = log.Read(0, new LogReadOptions(1 << 20) { MaxOffset = log.LastStableOffset });
        Assert.Equal([0L], RecordBatchBuilder.ReadHeaders(committedRead.Records).Select(h => h.BaseOffset));
        Assert.Equal(ErrorCode.InvalidTxnState, log.AppendChecked(Batch(ProducerId, 0, 3)).Error);

        log.Append(Marker(ControlRecordType.Abort, ProducerId, 0));

        Assert.Equal(7, log.LastStableOffset);
        Assert.Equal([new Producers.AbortedTransaction(ProducerId, 2, 6)], log.AbortedTransactions(0, 7));
        Assert.Empty(log.AbortedTransactions(7, 100));
        Assert.Empty(log.AbortedTransactions(0, 2));
    }

    [Fact]
    public void Commit_marker_releases_the_last_stable_offset_without_an_index_entry()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(ProducerId, 0, 0, transactional: true));
        Assert.Equal(0, log.LastStableOffset);

        log.Append(Marker(ControlRecordType.Commit, ProducerId, 0));

        Assert.Equal(2, log.LastStableOffset);
        Assert.Empty(log.AbortedTransactions(0, 10));
        var producer = Assert.Single(log.Producers.ActiveProducers());
        Assert.Equal((ProducerId, (short)0, 0, -1L), (producer.ProducerId, producer.ProducerEpoch, producer.LastSequence, producer.CurrentTransactionFirstOffset));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Producer_state_and_transactions_are_rebuilt_from_the_log_after_a_crash(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(ProducerId, 0, 0, count: 2, transactional: true));
        log.Append(Marker(ControlRecordType.Abort, ProducerId, 0));
        log.AppendChecked(Batch(ProducerId, 1, 0, transactional: true));
        StorageTarget.Crash(manager);

        using var reopened = target.Open();
        var recovered = reopened.GetOrCreate(Topic, 0, LogConfig.Default);

        Assert.Equal(3, recovered.LastStableOffset);
        Assert.Equal([new Producers.AbortedTransaction(ProducerId, 0, 2)], recovered.AbortedTransactions(0, 10));
        Assert.True(recovered.AppendChecked(Batch(ProducerId, 1, 0, transactional: true)).IsDuplicate);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, recovered.AppendChecked(Batch(ProducerId, 0, 2, transactional: true)).Error);
        Assert.Equal(ErrorCode.None, recovered.AppendChecked(Batch(ProducerId, 1, 1, transactional: true)).Error);
    }

    [Fact]
    public void A_marker_from_an_older_coordinator_epoch_is_fenced_and_not_appended()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(ProducerId, 0, 0, transactional: true));
        Assert.Equal(ErrorCode.None, log.AppendChecked(Marker(ControlRecordType.Commit, ProducerId, 0, coordinatorEpoch: 5)).Error);
        log.AppendChecked(Batch(ProducerId, 0, 1, transactional: true));
        var end = log.LogEndOffset;

        var stale = log.AppendChecked(Marker(ControlRecordType.Abort, ProducerId, 0, coordinatorEpoch: 4));

        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, stale.Error);
        Assert.Equal(end, log.LogEndOffset);
        Assert.Equal(2, log.LastStableOffset);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Marker(ControlRecordType.Commit, ProducerId, 0, coordinatorEpoch: 5)).Error);
        Assert.Equal(ErrorCode.None, log.AppendChecked(Marker(ControlRecordType.Commit, ProducerId, 0, coordinatorEpoch: 6)).Error);
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, log.AppendChecked(Marker(ControlRecordType.Commit, ProducerId, 0, coordinatorEpoch: 5)).Error);

        // A producer the partition does not know takes any coordinator epoch; an older producer epoch is refused first.
        Assert.Equal(ErrorCode.None, log.AppendChecked(Marker(ControlRecordType.Commit, 7, 0, coordinatorEpoch: 0)).Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, log.AppendChecked(Marker(ControlRecordType.Commit, ProducerId, -1, coordinatorEpoch: 9)).Error);
    }

    [Theory]
    [InlineData(DeviceKind.Memory, true)]
    [InlineData(DeviceKind.File, true)]
    [InlineData(DeviceKind.File, false)]
    public void The_coordinator_epoch_of_the_last_marker_survives_a_crash_and_a_clean_restart(DeviceKind kind, bool crash)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(ProducerId, 0, 0, transactional: true));
        log.AppendChecked(Marker(ControlRecordType.Commit, ProducerId, 0, coordinatorEpoch: 7));
        if (crash)
        {
            StorageTarget.Crash(manager);
        }
        else
        {
            manager.Dispose();
        }

        using var reopened = target.Open();
        var recovered = reopened.GetOrCreate(Topic, 0, LogConfig.Default);

        Assert.Equal(7, recovered.Producers.ActiveProducers().Single().CoordinatorEpoch);
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, recovered.AppendChecked(Marker(ControlRecordType.Abort, ProducerId, 0, coordinatorEpoch: 6)).Error);
        Assert.Equal(ErrorCode.None, recovered.AppendChecked(Marker(ControlRecordType.Abort, ProducerId, 0, coordinatorEpoch: 7)).Error);
    }
}
