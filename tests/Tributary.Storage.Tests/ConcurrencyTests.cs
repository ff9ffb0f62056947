using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>Several producers and consumers on one partition at once, as connections do.</summary>
public sealed class ConcurrencyTests
{
    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void Concurrent_appenders_and_readers_lose_and_duplicate_nothing(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using var manager = target.Open();
        var log = manager.GetOrCreate("busy", 0, LogConfig.Default with { SegmentBytes = 4096, IndexIntervalBytes = 256 });
        const int appenders = 4;
        const int appendsEach = 150;
        const int readers = 2;
        var appendersDone = 0;
        var readerFailures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var results = new System.Collections.Concurrent.ConcurrentBag<LogAppendResult>();

        var appenderThreads = Enumerable.Range(0, appenders).Select(a => new Thread(() =>
        {
            for (var i = 0; i < appendsEach; i++)
            {
                results.Add(log.Append(Build($"p{a}.{i}", 1 + (i % 3))));
            }

            Interlocked.Increment(ref appendersDone);
        })).ToList();

        // Readers tail the log like consumers: every fetch must continue exactly where the previous one ended.
        var readerThreads = Enumerable.Range(0, readers).Select(_ => new Thread(() =>
        {
            long position = 0;
            for (var fetches = 0; fetches < 1_000_000; fetches++)
            {
                var done = Volatile.Read(ref appendersDone) == appenders;
                var read = log.Read(position, new LogReadOptions(1024));
                if (read.Status != LogReadStatus.Ok)
                {
                    readerFailures.Enqueue($"status {read.Status} at {position}");
                    return;
                }

                foreach (var record in ReadRecords(read.Records).Where(r => r.Offset >= position))
                {
                    if (record.Offset != position)
                    {
                        readerFailures.Enqueue($"expected offset {position}, got {record.Offset}");
                        return;
                    }

                    position++;
                }

                if (done && position == log.HighWatermark)
                {
                    return;
                }
            }

            readerFailures.Enqueue("reader did not reach the end");
        })).ToList();

        foreach (var thread in appenderThreads.Concat(readerThreads))
        {
            thread.Start();
        }

        foreach (var thread in appenderThreads.Concat(readerThreads))
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a thread did not finish");
        }

        Assert.Empty(readerFailures);
        var expectedRecords = appenders * Enumerable.Range(0, appendsEach).Sum(i => 1 + (i % 3));
        Assert.Equal(expectedRecords, log.LogEndOffset);

        // The appends' offset ranges tile [0, end) exactly.
        var ranges = results.OrderBy(r => r.FirstOffset).ToList();
        for (var i = 0; i < ranges.Count; i++)
        {
            Assert.Equal(i == 0 ? 0 : ranges[i - 1].LastOffset + 1, ranges[i].FirstOffset);
        }

        // Every record sent is stored exactly once, in its producer's order.
        var stored = SegmentRollTests.ConsumeAll(log, maxBytes: 8192);
        Assert.Equal(Enumerable.Range(0, expectedRecords).Select(i => (long)i), stored.Select(r => r.Offset));
        var expectedValues = Enumerable.Range(0, appenders)
            .SelectMany(a => Enumerable.Range(0, appendsEach).SelectMany(i => Enumerable.Range(0, 1 + (i % 3)).Select(r => $"p{a}.{i}-{r}")));
        Assert.Equal(expectedValues.Order(), stored.Select(r => r.Value).Order());
        for (var a = 0; a < appenders; a++)
        {
            var prefix = $"p{a}.";
            var mine = stored.Where(r => r.Value.StartsWith(prefix, StringComparison.Ordinal)).Select(r => r.Value).ToList();
            Assert.Equal(expectedValues.Where(v => v.StartsWith(prefix, StringComparison.Ordinal)), mine);
        }
    }

    [Fact]
    public void Readers_racing_retention_get_data_or_out_of_range_never_an_exception()
    {
        using var target = new StorageTarget(DeviceKind.Memory);
        using var manager = target.Open();
        var log = manager.GetOrCreate("churn", 0, LogConfig.Default with { SegmentBytes = 200 });
        var stop = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var reader = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                try
                {
                    var read = log.Read(log.LogStartOffset, new LogReadOptions(500));
                    if (read.Status == LogReadStatus.Ok)
                    {
                        ReadRecords(read.Records);
                    }
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                    return;
                }
            }
        });
        reader.Start();

        for (var i = 0; i < 500; i++)
        {
            log.Append(Build($"r{i}", 2));
            if (i % 5 == 4)
            {
                log.DeleteRecordsBefore(log.HighWatermark - 2);
            }
        }

        Volatile.Write(ref stop, 1);
        Assert.True(reader.Join(TimeSpan.FromSeconds(30)));
        Assert.Empty(failures);
        Assert.Equal(1000, log.LogEndOffset);
    }
}
