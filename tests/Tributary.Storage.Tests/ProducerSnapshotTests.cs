using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;
using Tributary.Storage.Producers;
using BatchBuilder = Tributary.Protocol.Records.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// Proves the files that spare a partition a read from its start when it opens: producer-state snapshots and the
/// per-segment aborted-transaction index, both byte for byte in Kafka's formats, and the recovery-point checkpoint
/// that bounds what a start after a crash scans.
/// </summary>
public sealed class ProducerSnapshotTests
{
    private const string Topic = "payments";

    internal static byte[] Batch(long producerId, short epoch, int sequence, int count = 1, bool transactional = false, long timestamp = 1_700_000_000_000)
    {
        var builder = new BatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = sequence, IsTransactional = transactional };
        for (var i = 0; i < count; i++)
        {
            builder.Add(timestamp + i, null, [(byte)i, (byte)sequence]);
        }

        return builder.Build();
    }

    internal static byte[] Marker(ControlRecordType type, long producerId, short epoch, int coordinatorEpoch = 0) =>
        BatchBuilder.BuildEndTransactionMarker(new EndTransactionMarker(type, coordinatorEpoch), producerId, epoch, 1_700_000_000_000);

    [Fact]
    public void An_abort_writes_one_34_byte_entry_in_Kafkas_format_to_its_segments_txnindex()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(5, 0, 0, count: 2, transactional: true)); // 0-1
        log.AppendChecked(Batch(6, 0, 0, transactional: true)); // 2, still open after 5's abort
        log.Append(Marker(ControlRecordType.Abort, 5, 0)); // 3
        log.Append(Marker(ControlRecordType.Commit, 6, 0)); // 4

        var bytes = target.ReadFile(target.SegmentFile(Topic, 0, 0, ".txnindex"));

        Assert.Equal(34, bytes.Length);
        Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(bytes)); // version
        Assert.Equal(5, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(2))); // producer id
        Assert.Equal(0, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(10))); // first offset
        Assert.Equal(3, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(18))); // last offset: the marker
        Assert.Equal(2, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(26))); // LSO: producer 6's open transaction
    }

    [Fact]
    public void A_clean_close_writes_a_snapshot_in_Kafkas_format_at_the_log_end()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(9, 2, 0, count: 3, timestamp: 1_700_000_000_500)); // 0-2
        log.AppendChecked(Batch(9, 2, 3, count: 2, timestamp: 1_700_000_000_600)); // 3-4
        log.AppendChecked(Batch(11, 0, 0, transactional: true)); // 5, open at the close
        manager.Dispose();

        var bytes = target.ReadFile(target.SegmentFile(Topic, 0, 6, ".snapshot"));

        Assert.Equal(1, BinaryPrimitives.ReadInt16BigEndian(bytes));
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(2)), Crc32C.Compute(bytes.AsSpan(6)));
        Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(6)));
        Assert.Equal(10 + (2 * 46), bytes.Length);
        var entries = Enumerable.Range(0, 2).Select(i => bytes.AsSpan(10 + (i * 46), 46).ToArray()).OrderBy(e => BinaryPrimitives.ReadInt64BigEndian(e)).ToList();
        var first = entries[0];
        Assert.Equal(9, BinaryPrimitives.ReadInt64BigEndian(first));
        Assert.Equal(2, BinaryPrimitives.ReadInt16BigEndian(first.AsSpan(8))); // epoch
        Assert.Equal(4, BinaryPrimitives.ReadInt32BigEndian(first.AsSpan(10))); // last sequence
        Assert.Equal(4, BinaryPrimitives.ReadInt64BigEndian(first.AsSpan(14))); // last offset
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(first.AsSpan(22))); // offset delta of the last batch
        Assert.Equal(1_700_000_000_601, BinaryPrimitives.ReadInt64BigEndian(first.AsSpan(26))); // timestamp
        Assert.Equal(-1, BinaryPrimitives.ReadInt64BigEndian(first.AsSpan(38))); // no open transaction
        Assert.Equal(5, BinaryPrimitives.ReadInt64BigEndian(entries[1].AsSpan(38)));
    }

    [Fact]
    public void A_start_takes_the_producer_state_from_the_snapshot_not_from_the_log()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var manager = target.Open();
        manager.GetOrCreate(Topic, 0, LogConfig.Default).AppendChecked(Batch(9, 0, 0, count: 2));
        manager.Dispose();

        // A producer the log never saw: only the snapshot can have brought it.
        var snapshot = ProducerSnapshot.Serialize([new ProducerSnapshotEntry(77, 4, 10, 1, 0, 1_700_000_000_000, 3, -1)]);
        target.WriteFile(target.SegmentFile(Topic, 0, 2, ".snapshot"), snapshot);
        using var reopened = target.Open();
        var log = reopened.GetOrCreate(Topic, 0, LogConfig.Default);

        var producer = Assert.Single(log.Producers.ActiveProducers());
        Assert.Equal((77L, (short)4, 10, 3), (producer.ProducerId, producer.ProducerEpoch, producer.LastSequence, producer.CoordinatorEpoch));
        Assert.Equal(ErrorCode.None, log.AppendChecked(Batch(77, 4, 11)).Error);
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_damaged_snapshot_is_logged_and_the_state_rebuilt_from_the_log(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(9, 1, 0, count: 2));
        log.AppendChecked(Batch(12, 0, 0, transactional: true));
        manager.Dispose();
        var path = target.SegmentFile(Topic, 0, 3, ".snapshot");
        var bytes = target.ReadFile(path);
        bytes[^3] ^= 0x40;
        target.WriteFile(path, bytes);

        var logs = new CapturingLoggerFactory();
        using var reopened = new LogManager(target.Device, target.DataDirectory, null, target.Time, logs);
        var recovered = reopened.GetOrCreate(Topic, 0, LogConfig.Default);

        Assert.Contains(logs.Messages, m => m.EventId == 3040);
        Assert.True(recovered.AppendChecked(Batch(9, 1, 0, count: 2)).IsDuplicate);
        Assert.Equal(2, recovered.LastStableOffset);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, recovered.AppendChecked(Batch(9, 1, 5)).Error);
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Aborted_transactions_come_back_from_each_segments_txnindex_and_go_with_their_segment(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var config = LogConfig.Default with { SegmentBytes = 400 };
        var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 0, config);
        var expected = new List<AbortedTransaction>();
        for (short epoch = 0; epoch < 6; epoch++)
        {
            var first = log.AppendChecked(Batch(5, epoch, 0, count: 4, transactional: true)).Append.FirstOffset;
            log.AppendChecked(Batch(5, epoch, 4, count: 4, transactional: true));
            var marker = log.Append(Marker(epoch % 2 == 0 ? ControlRecordType.Abort : ControlRecordType.Commit, 5, epoch)).FirstOffset;
            if (epoch % 2 == 0)
            {
                expected.Add(new AbortedTransaction(5, first, marker));
            }
        }

        Assert.True(log.SegmentCount > 3);
        Assert.Equal(expected, log.AbortedTransactions(0, log.HighWatermark));
        manager.Dispose();

        var reopened = target.Open(config);
        var again = reopened.GetOrCreate(Topic, 0, config);
        Assert.Equal(expected, again.AbortedTransactions(0, again.HighWatermark));
        Assert.Equal(expected[1..], again.AbortedTransactions(expected[1].FirstOffset, again.HighWatermark));

        // Deleting records past the first abort deletes the segments that held it, and their index files.
        again.DeleteRecordsBefore(expected[1].FirstOffset);
        Assert.Equal(expected[1..], again.AbortedTransactions(again.LogStartOffset, again.HighWatermark));
        var txnIndexes = target.Device.ListFiles(target.PartitionDirectory(Topic, 0)).Where(f => f.EndsWith(".txnindex", StringComparison.Ordinal)).ToList();
        Assert.Equal(expected.Count - 1, txnIndexes.Count);
        reopened.Dispose();
    }

    [Fact]
    public void A_start_after_a_crash_scans_only_the_segments_from_the_recovery_point_on()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var config = LogConfig.Default with { SegmentBytes = 300 };
        var manager = target.Open(config);
        var log = manager.GetOrCreate(Topic, 0, config);
        for (var i = 0; i < 40; i++)
        {
            log.AppendChecked(Batch(9, 0, i));
        }

        manager.CheckpointRecoveryPoints();
        var recoveryPoint = log.RecoveryPoint;
        Assert.Equal(log.SegmentBaseOffsets[^1], recoveryPoint);
        log.AppendChecked(Batch(9, 0, 40));
        var segmentsFromRecoveryPoint = log.SegmentBaseOffsets.Count(b => b >= recoveryPoint);
        StorageTarget.Crash(manager);
        var checkpoint = System.Text.Encoding.ASCII.GetString(target.ReadFile(Path.Combine(target.DataDirectory, "recovery-point-offset-checkpoint")));
        Assert.Equal($"0\n1\n{Topic} 0 {recoveryPoint}\n", checkpoint);

        var logs = new CapturingLoggerFactory();
        var reopened = new LogManager(target.Device, target.DataDirectory, config, target.Time, logs);
        Assert.False(reopened.LoadedAfterCleanShutdown);
        Assert.Equal(41, reopened.GetOrCreate(Topic, 0, config).LogEndOffset);

        // Earlier segments are not scanned: only those from the recovery point on, but for the tail, log a rebuild.
        Assert.Equal(segmentsFromRecoveryPoint - 1, logs.Messages.Count(m => m.EventId == 3003));
        StorageTarget.Crash(reopened);

        // Without a checkpoint every segment is scanned, as in Kafka.
        target.Device.DeleteFile(Path.Combine(target.DataDirectory, "recovery-point-offset-checkpoint"));
        var all = new CapturingLoggerFactory();
        using var scanned = new LogManager(target.Device, target.DataDirectory, config, target.Time, all);
        Assert.Equal(log.SegmentCount - 1, all.Messages.Count(m => m.EventId == 3003));
        Assert.True(scanned.GetOrCreate(Topic, 0, config).AppendChecked(Batch(9, 0, 40)).IsDuplicate);
    }

    /// <summary>
    /// A partition nobody wrote since its last flush is not scanned after a crash, its last segment included (Kafka
    /// would scan the segment the recovery point falls in): 200 batches, yet the start reads fewer than one per batch;
    /// without the checkpoint every batch is read and checked.
    /// </summary>
    [Fact]
    public void A_partition_untouched_since_its_last_flush_is_not_scanned_after_a_crash()
    {
        var device = new RecordingDevice();
        var manager = new LogManager(device, "/data");
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        for (var i = 0; i < 200; i++)
        {
            log.AppendChecked(Batch(9, 0, i));
        }

        manager.Dispose();
        var idle = new LogManager(device, "/data");
        Assert.True(idle.LoadedAfterCleanShutdown);
        StorageTarget.Crash(idle);

        var readsBefore = device.ReadAts;
        var crashed = new LogManager(device, "/data");
        Assert.False(crashed.LoadedAfterCleanShutdown);
        Assert.True(crashed.GetOrCreate(Topic, 0, LogConfig.Default).AppendChecked(Batch(9, 0, 199)).IsDuplicate);
        Assert.InRange(device.ReadAts - readsBefore, 0, 199);
        StorageTarget.Crash(crashed);

        device.DeleteFile("/data/recovery-point-offset-checkpoint");
        readsBefore = device.ReadAts;
        var scanned = new LogManager(device, "/data");
        Assert.InRange(device.ReadAts - readsBefore, 200, int.MaxValue);
        Assert.Equal(200, scanned.GetOrCreate(Topic, 0, LogConfig.Default).LogEndOffset);
        StorageTarget.Crash(scanned);
    }

    [Fact]
    public void A_torn_txnindex_and_a_torn_snapshot_left_by_a_crash_are_repaired_on_open()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var manager = target.Open();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.AppendChecked(Batch(5, 0, 0, count: 2, transactional: true));
        log.Append(Marker(ControlRecordType.Abort, 5, 0));
        log.AppendChecked(Batch(5, 1, 0, count: 2, transactional: true));
        log.Append(Marker(ControlRecordType.Abort, 5, 1));
        manager.Dispose();

        // A crash while writing: the second entry torn, the snapshot cut short under its final name, a temp file left.
        target.TruncateFile(target.SegmentFile(Topic, 0, 0, ".txnindex"), 34 + 20);
        target.TruncateFile(target.SegmentFile(Topic, 0, 6, ".snapshot"), 30);
        target.WriteFile(target.SegmentFile(Topic, 0, 6, ".snapshot.tmp"), [1, 2, 3]);
        target.Device.DeleteFile(Path.Combine(target.DataDirectory, LogManager.CleanShutdownFileName));

        using var reopened = target.Open();
        var recovered = reopened.GetOrCreate(Topic, 0, LogConfig.Default);

        Assert.Equal([new AbortedTransaction(5, 0, 2), new AbortedTransaction(5, 3, 5)], recovered.AbortedTransactions(0, 6));
        Assert.Equal(6, recovered.LastStableOffset);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, recovered.AppendChecked(Batch(5, 0, 2, transactional: true)).Error);
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    /// <summary>
    /// Power loss or kill -9 at a random point of a random workload (idempotent and transactional producers, small segments so
    /// the log rolls and snapshots often, checkpoints and clean restarts in between): the log that opens from snapshots,
    /// transaction indexes and the recovery point has exactly the state a full rebuild of the same surviving log gives.
    /// </summary>
    [Fact]
    public void After_a_crash_the_state_from_snapshots_equals_a_full_rebuild_of_what_survived()
    {
        for (var seed = 0; seed < 60; seed++)
        {
            var random = new Random(seed);
            var device = new MemoryLogDevice();
            var time = new ManualTimeProvider();
            var config = LogConfig.Default with { SegmentBytes = 500, FlushIntervalMessages = random.Next(2) == 0 ? long.MaxValue : 7 };
            var manager = new LogManager(device, "/data", config, time);
            var log = manager.GetOrCreate(Topic, 0, config);
            var producers = new Dictionary<long, (short Epoch, int Sequence, bool InTransaction)>();
            var steps = random.Next(20, 120);
            for (var step = 0; step < steps; step++)
            {
                time.Advance(TimeSpan.FromMilliseconds(10));
                var producerId = (long)random.Next(1, 7);
                var transactional = producerId > 3;
                var (epoch, sequence, inTransaction) = producers.GetValueOrDefault(producerId);
                switch (random.Next(12))
                {
                    case < 7:
                        var count = random.Next(1, 4);
                        var appended = log.AppendChecked(Batch(producerId, epoch, sequence, count, transactional, 1_700_000_000_000 + step));
                        Assert.Equal(ErrorCode.None, appended.Error);
                        producers[producerId] = (epoch, sequence + count, inTransaction || transactional);
                        break;
                    case < 9 when inTransaction:
                        log.Append(Marker(random.Next(2) == 0 ? ControlRecordType.Abort : ControlRecordType.Commit, producerId, epoch, step));
                        producers[producerId] = random.Next(3) == 0 ? ((short)(epoch + 1), 0, false) : (epoch, sequence, false);
                        break;
                    case 9:
                        manager.CheckpointRecoveryPoints();
                        break;
                    case 10 when random.Next(4) == 0:
                        manager.Dispose();
                        manager = new LogManager(device, "/data", config, time);
                        log = manager.GetOrCreate(Topic, 0, config);
                        break;
                    default:
                        break;
                }
            }

            // Half the runs lose power (unflushed bytes gone), half are killed (the page cache survives).
            StorageTarget.Crash(manager);
            if (random.Next(2) == 0)
            {
                device.DiscardUnflushed();
            }

            var reopened = new LogManager(device, "/data", config, time);
            var actual = Describe(reopened.GetOrCreate(Topic, 0, config));
            StorageTarget.Crash(reopened);

            // The reference: no snapshots, no transaction indexes, no recovery point: everything scanned and replayed.
            foreach (var name in device.ListFiles("/data/payments-0"))
            {
                if (name.EndsWith(".snapshot", StringComparison.Ordinal) || name.EndsWith(".txnindex", StringComparison.Ordinal))
                {
                    device.DeleteFile(Path.Combine("/data/payments-0", name));
                }
            }

            device.DeleteFile("/data/recovery-point-offset-checkpoint");
            using var rebuilt = new LogManager(device, "/data", config, time);
            Assert.Equal(Describe(rebuilt.GetOrCreate(Topic, 0, config)), actual);
        }
    }

    private static string Describe(PartitionLog log)
    {
        var producers = log.Producers.ActiveProducers().OrderBy(p => p.ProducerId)
            .Select(p => $"{p.ProducerId}:{p.ProducerEpoch}:{p.LastSequence}:{p.CurrentTransactionFirstOffset}:{p.CoordinatorEpoch}:{p.LastTimestampMs}");
        var aborted = log.AbortedTransactions(0, log.HighWatermark).Select(a => $"{a.ProducerId}:{a.FirstOffset}-{a.LastOffset}");
        return $"end {log.LogEndOffset} lso {log.LastStableOffset} producers [{string.Join(' ', producers)}] aborted [{string.Join(' ', aborted)}]";
    }
}
