using Tributary.Storage.Devices;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>When the log fsyncs: the flush.messages / flush.ms policy and group commit.</summary>
public sealed class FlushPolicyTests
{
    [Fact]
    public void The_default_policy_leaves_flushing_to_the_page_cache()
    {
        var device = new MemoryLogDevice();
        using var manager = new LogManager(device, "/data", LogConfig.Default, new ManualTimeProvider());
        var log = manager.GetOrCreate("t", 0, LogConfig.Default);
        var flushesAfterCreate = device.FlushCount;

        for (var i = 0; i < 100; i++)
        {
            log.Append(Build("x", 1));
        }

        manager.FlushIfDue();
        Assert.Equal(flushesAfterCreate, device.FlushCount);
    }

    [Fact]
    public void Flush_messages_fsyncs_once_that_many_messages_are_unflushed()
    {
        var device = new MemoryLogDevice();
        using var manager = new LogManager(device, "/data", LogConfig.Default, new ManualTimeProvider());
        var log = manager.GetOrCreate("t", 0, LogConfig.Default with { FlushIntervalMessages = 5 });
        var flushes = device.FlushCount;

        log.Append(Build("a", 3));
        Assert.Equal(flushes, device.FlushCount);

        log.Append(Build("b", 2));
        Assert.True(device.FlushCount > flushes);
    }

    [Fact]
    public void Flush_ms_is_applied_by_flush_if_due_only_when_there_is_something_to_flush()
    {
        var device = new MemoryLogDevice();
        var time = new ManualTimeProvider();
        using var manager = new LogManager(device, "/data", LogConfig.Default, time);
        var log = manager.GetOrCreate("t", 0, LogConfig.Default with { FlushIntervalMs = 1000 });
        log.Append(Build("a", 1));
        var flushes = device.FlushCount;

        time.Advance(TimeSpan.FromMilliseconds(999));
        manager.FlushIfDue();
        Assert.Equal(flushes, device.FlushCount);

        time.Advance(TimeSpan.FromMilliseconds(1));
        manager.FlushIfDue();
        var afterFlush = device.FlushCount;
        Assert.True(afterFlush > flushes);

        time.Advance(TimeSpan.FromSeconds(10));
        manager.FlushIfDue();
        Assert.Equal(afterFlush, device.FlushCount);
    }

    [Fact]
    public void Concurrent_appenders_with_fsync_before_ack_share_flushes()
    {
        var device = new SlowFlushDevice(new MemoryLogDevice(), TimeSpan.FromMilliseconds(2));
        using var manager = new LogManager(device, "/data", LogConfig.Default, new ManualTimeProvider());
        var log = manager.GetOrCreate("t", 0, LogConfig.Default with { FlushIntervalMessages = 1 });
        const int appenders = 8;
        const int appendsEach = 25;
        var flushesBefore = device.LogFlushCount;

        using var startTogether = new Barrier(appenders);
        var threads = Enumerable.Range(0, appenders).Select(a => new Thread(() =>
        {
            startTogether.SignalAndWait();
            for (var i = 0; i < appendsEach; i++)
            {
                log.Append(Build($"{a}-{i}", 1));
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60))));

        var logFlushes = device.LogFlushCount - flushesBefore;
        Assert.Equal(appenders * appendsEach, log.LogEndOffset);
        Assert.True(logFlushes > 0);

        // Every append was covered by a flush, yet appenders waiting together were served by one fsync.
        Assert.True(logFlushes < appenders * appendsEach, $"{logFlushes} flushes for {appenders * appendsEach} appends");
    }

    [Fact]
    public async Task Deferred_flushes_of_appends_made_while_a_flush_runs_are_covered_by_the_next_one()
    {
        using var disk = new ManualResetEventSlim(false);
        var device = new SlowFlushDevice(new MemoryLogDevice(), TimeSpan.Zero, disk);
        using var manager = new LogManager(device, "/data", LogConfig.Default, new ManualTimeProvider());
        var log = manager.GetOrCreate("t", 0, LogConfig.Default with { FlushIntervalMessages = 1 });
        var flushesBefore = device.LogFlushCount;

        // Twenty appends, each asking for its flush, while the disk holds the first fsync.
        var flushes = new List<Task>();
        for (var i = 0; i < 20; i++)
        {
            var appended = log.Append(Build($"r{i}", 1), deferFlush: true);
            Assert.True(log.FlushDue(appended.LastOffset));
            flushes.Add(log.FlushAppendedAsync(appended.LastOffset));
        }

        Assert.All(flushes, f => Assert.False(f.IsCompleted)); // nothing is acknowledged before the disk has it
        disk.Set();
        await Task.WhenAll(flushes).WaitAsync(TimeSpan.FromSeconds(30));

        // The first fsync, then one for everything that queued behind it (two, or one if the first already saw all).
        var logFlushes = device.LogFlushCount - flushesBefore;
        Assert.InRange(logFlushes, 1, 2);
        Assert.False(log.FlushDue(log.LogEndOffset - 1));
    }

    /// <summary>Wraps a device so that flushing a .log file takes real time, as an fsync does (or waits for <paramref name="disk"/>).</summary>
    private sealed class SlowFlushDevice(ILogDevice inner, TimeSpan flushDuration, ManualResetEventSlim? disk = null) : DelegatingDevice(inner)
    {
        private readonly TimeSpan _flushDuration = flushDuration;
        private readonly ManualResetEventSlim? _disk = disk;
        private long _logFlushCount;

        public long LogFlushCount => Interlocked.Read(ref _logFlushCount);

        public override ILogFile OpenFile(string path)
        {
            var file = base.OpenFile(path);
            return path.EndsWith(".log", StringComparison.Ordinal) ? new SlowFlushFile(file, this) : file;
        }

        private sealed class SlowFlushFile(ILogFile inner, SlowFlushDevice device) : DelegatingFile(inner)
        {
            public override void Flush()
            {
                // A real blocking wait stands in for the disk; this is the device, not domain code.
                device._disk?.Wait();
                Thread.Sleep(device._flushDuration);
                Interlocked.Increment(ref device._logFlushCount);
                base.Flush();
            }
        }
    }
}
