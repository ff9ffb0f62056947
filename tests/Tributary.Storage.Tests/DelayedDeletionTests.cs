using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Storage.Segments;
using Tributary.TestSupport;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// file.delete.delay.ms: what leaves a log is renamed (.deleted, -delete) at once, readers that found it read on, the
/// files go after the delay, and a start removes what a crash left without ever loading it.
/// </summary>
public sealed class DelayedDeletionTests
{
    private const string Topic = "clicks";
    private const long DelayMs = 60_000;

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Retention_renames_segments_deleted_and_removes_them_once_the_delay_is_over(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var batch = Build("x", 2);
        var log = manager.GetOrCreate(Topic, 0, Config(segmentBytes: batch.Length * 2) with { RetentionBytes = batch.Length * 5 });
        for (var i = 0; i < 10; i++)
        {
            log.Append(batch.ToArray()); // segments of 2 batches: bases 0, 4, 8, 12, 16
        }

        Assert.Equal(2, manager.RunRetention());

        Assert.Equal([8L, 12L, 16L], log.SegmentBaseOffsets);
        foreach (var baseOffset in new[] { 0L, 4L })
        {
            Assert.False(target.Device.FileExists(target.SegmentFile(Topic, 0, baseOffset, ".log")));
            Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 0, baseOffset, ".log.deleted")));
            Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 0, baseOffset, ".index.deleted")));
            Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 0, baseOffset, ".timeindex.deleted")));
        }

        Assert.Equal(2, manager.PendingDeletionCount);
        Assert.Equal(LogReadStatus.OffsetOutOfRange, log.Read(7, new LogReadOptions(1000)).Status);

        target.Time.Advance(TimeSpan.FromMilliseconds(DelayMs - 1));
        Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 0, 0, ".log.deleted")));

        target.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, manager.PendingDeletionCount);
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), name => name.EndsWith(".deleted", StringComparison.Ordinal));
        Assert.Equal(8, ReadHeaders(log.Read(8, new LogReadOptions(1000)).Records)[0].BaseOffset);
    }

    [Fact]
    public void A_fetch_that_found_a_segment_before_retention_removed_it_reads_it_whole_during_the_delay()
    {
        using var target = new StorageTarget(DeviceKind.File);
        using var manager = target.Open();
        var batch = Build(Enumerable.Range(0, 40).Select(i => Value($"{i:D4}{new string('v', 1000)}")).ToArray());
        Assert.True(batch.Length >= LogSegment.DeferredBatchBytesMin);
        var log = manager.GetOrCreate(Topic, 0, Config(segmentBytes: batch.Length) with { RetentionBytes = batch.Length });
        log.Append(batch.ToArray());
        log.Append(batch.ToArray());
        var plain = log.Read(0, new LogReadOptions(1 << 20)).Records.ToArray();
        var buffers = new ReadBuffers();

        // The fetch has found the records of segment 0 and left them in its file, to be sent later.
        var read = log.Read(0, new LogReadOptions(batch.Length) { Buffers = buffers });
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, SegmentRecords>(read.Records, out var stored));

        Assert.Equal(1, manager.RunRetention());
        Assert.True(target.Device.FileExists(target.SegmentFile(Topic, 0, 0, ".log.deleted")));

        var copied = new byte[stored.Length];
        stored.CopyTo(0, copied);
        Assert.Equal(plain.AsSpan(0, batch.Length).ToArray(), copied);
        Assert.True(stored.TryGetFile(out var handle, out var position));
        Assert.Equal(copied.Length, RandomAccess.Read(handle, copied, position));

        // Once the delay is over, the segment is closed and its files are gone: a later copy fails and is retried.
        target.Time.Advance(TimeSpan.FromMilliseconds(DelayMs));
        Assert.False(target.Device.FileExists(target.SegmentFile(Topic, 0, 0, ".log.deleted")));
        Assert.Throws<IOException>(() => stored.CopyTo(0, new byte[100]));
        buffers.Release();
    }

    [Fact]
    public void Without_a_delay_segments_go_at_once_and_a_fetch_reading_them_fails()
    {
        using var target = new StorageTarget(DeviceKind.File);
        using var manager = target.Open();
        var batch = Build(Enumerable.Range(0, 40).Select(i => Value(new string('w', 1000))).ToArray());
        var log = manager.GetOrCreate(Topic, 0, Config(segmentBytes: batch.Length) with { RetentionBytes = batch.Length, FileDeleteDelayMs = 0 });
        log.Append(batch.ToArray());
        log.Append(batch.ToArray());
        var read = log.Read(0, new LogReadOptions(batch.Length) { Buffers = new ReadBuffers() });
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, SegmentRecords>(read.Records, out var stored));

        Assert.Equal(1, manager.RunRetention());

        Assert.Equal(0, manager.PendingDeletionCount);
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), name => name.StartsWith($"{0:D20}", StringComparison.Ordinal));
        Assert.Throws<IOException>(() => stored.CopyTo(0, new byte[100]));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Truncation_and_delete_records_rename_the_segments_they_drop(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var batch = Build("t", 2);
        var log = manager.GetOrCreate(Topic, 0, Config(segmentBytes: batch.Length));
        for (var i = 0; i < 4; i++)
        {
            log.Append(batch.ToArray()); // bases 0, 2, 4, 6
        }

        // Truncation drops segments 4 and 6; DeleteRecords then drops segment 0, below the new log start offset.
        Assert.Equal(4, log.TruncateTo(4));
        Assert.Equal(4, log.DeleteRecordsBefore(4));

        Assert.Equal([2L], log.SegmentBaseOffsets);
        var files = target.Device.ListFiles(target.PartitionDirectory(Topic, 0));
        foreach (var baseOffset in new[] { 0L, 4L, 6L })
        {
            Assert.Contains($"{baseOffset:D20}.log.deleted", files);
            Assert.DoesNotContain($"{baseOffset:D20}.log", files);
        }

        target.Time.Advance(TimeSpan.FromMilliseconds(DelayMs));
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), name => name.EndsWith(".deleted", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_deleted_partition_waits_under_a_delete_name_and_one_created_again_meanwhile_is_new_and_stays(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var old = manager.GetOrCreate(Topic, 0, Config(segmentBytes: 1 << 20));
        old.Append(Build("old", 3));

        Assert.True(manager.Delete(Topic, 0));

        var waiting = Assert.Single(target.Device.ListDirectories(target.DataDirectory));
        Assert.Matches($"^{Topic}-0\\.[0-9a-f]{{32}}-delete$", waiting);
        Assert.True(target.Device.FileExists(Path.Combine(target.DataDirectory, waiting, $"{0:D20}.log")));

        var created = manager.GetOrCreate(Topic, 0, Config(segmentBytes: 1 << 20));
        Assert.Equal(0, created.LogEndOffset);
        created.Append(Build("new", 2));
        Assert.Equal(2, target.Device.ListDirectories(target.DataDirectory).Count);

        target.Time.Advance(TimeSpan.FromMilliseconds(DelayMs));

        Assert.Equal([$"{Topic}-0"], target.Device.ListDirectories(target.DataDirectory));
        Assert.Equal(["new-0", "new-1"], ReadRecords(created.Read(0, new LogReadOptions(1000)).Records).Select(r => r.Value));
    }

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_start_after_a_crash_removes_deleted_files_and_delete_directories_without_loading_them(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        var batch = Build("s", 2);
        var manager = target.Open(Config(segmentBytes: batch.Length));
        var log = manager.GetOrCreate(Topic, 0, Config(segmentBytes: batch.Length) with { RetentionBytes = batch.Length * 2 });
        for (var i = 0; i < 4; i++)
        {
            log.Append(batch.ToArray());
        }

        Assert.Equal(2, manager.RunRetention());
        manager.GetOrCreate(Topic, 1, Config(segmentBytes: batch.Length)).Append(batch.ToArray());
        Assert.True(manager.Delete(Topic, 1));
        Assert.Equal(3, manager.PendingDeletionCount);
        StorageTarget.Crash(manager);

        using var reopened = target.Open(Config(segmentBytes: batch.Length));

        Assert.Equal([$"{Topic}-0"], target.Device.ListDirectories(target.DataDirectory));
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), name => name.EndsWith(".deleted", StringComparison.Ordinal));
        Assert.True(reopened.TryGet(Topic, 0, out var loaded));
        Assert.False(reopened.TryGet(Topic, 1, out _));
        Assert.Equal([4L, 6L], loaded.SegmentBaseOffsets);
        Assert.Equal((4L, 8L), (loaded.LogStartOffset, loaded.LogEndOffset));
    }

    [Fact]
    public void A_start_removes_a_deleted_segment_that_shares_its_base_offset_with_a_live_one()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        var manager = target.Open();
        manager.GetOrCreate(Topic, 0, LogConfig.Default).Append(Build("live", 2));
        StorageTarget.Crash(manager);

        // What a cleaner swap leaves when the process dies after the old segment was renamed: a .deleted segment
        // under the live segment's base offset, with other records.
        target.WriteFile(target.SegmentFile(Topic, 0, 0, ".log.deleted"), Concat(Build("stale", 5)));

        using var reopened = target.Open();

        Assert.True(reopened.TryGet(Topic, 0, out var log));
        Assert.Equal(["live-0", "live-1"], ReadRecords(log.Read(0, new LogReadOptions(1000)).Records).Select(r => r.Value));
        Assert.False(target.Device.FileExists(target.SegmentFile(Topic, 0, 0, ".log.deleted")));
    }

    [Fact]
    public void A_clean_close_removes_what_waits()
    {
        using var target = new StorageTarget(DeviceKind.File);
        var batch = Build("c", 2);
        using (var manager = target.Open())
        {
            var log = manager.GetOrCreate(Topic, 0, Config(segmentBytes: batch.Length) with { RetentionBytes = batch.Length });
            log.Append(batch.ToArray());
            log.Append(batch.ToArray());
            Assert.Equal(1, manager.RunRetention());
            manager.GetOrCreate(Topic, 1, LogConfig.Default);
            Assert.True(manager.Delete(Topic, 1));
        }

        Assert.Equal([$"{Topic}-0"], target.Device.ListDirectories(target.DataDirectory));
        Assert.DoesNotContain(target.Device.ListFiles(target.PartitionDirectory(Topic, 0)), name => name.EndsWith(".deleted", StringComparison.Ordinal));
    }

    [Fact]
    public void Past_the_limit_the_deletion_due_first_runs_at_once()
    {
        var time = new ManualTimeProvider();
        var ran = new List<int>();
        using var deletions = new PendingDeletions(time, NullLogger.Instance);
        for (var i = 0; i < PendingDeletions.EntriesMax; i++)
        {
            var id = i;
            deletions.Schedule($"entry {id}", DelayMs + i, () => ran.Add(id));
        }

        Assert.Empty(ran);
        deletions.Schedule("one more", DelayMs, () => ran.Add(-1));

        Assert.Equal([0], ran);
        Assert.Equal(PendingDeletions.EntriesMax, deletions.Count);
        time.Advance(TimeSpan.FromMilliseconds(DelayMs));
        Assert.Equal([0, -1], ran);
    }

    [Fact]
    public void Delete_directory_names_fit_a_file_name_and_never_parse_as_a_partition()
    {
        var topic = new string('t', LogManager.TopicNameLengthMax);

        var name = LogManager.DeleteDirectoryName(topic, 12345);

        Assert.Equal(255, name.Length);
        Assert.True(LogManager.IsDeleteDirectoryName(name));
        Assert.False(LogManager.TryParsePartitionDirectory(name, out _, out _));
        Assert.False(LogManager.IsDeleteDirectoryName($"{Topic}-0"));
        Assert.False(LogManager.IsDeleteDirectoryName("my-delete"));
    }

    private static LogConfig Config(int segmentBytes) =>
        LogConfig.Default with { SegmentBytes = segmentBytes, RetentionMs = -1, FileDeleteDelayMs = DelayMs };
}
