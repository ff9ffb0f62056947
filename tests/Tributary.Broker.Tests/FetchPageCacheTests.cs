using Tributary.Broker.Handlers;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.TestSupport;

namespace Tributary.Broker.Tests;

/// <summary>
/// With tributary.log.cache.drop.after.read, the segment pages a fetching connection has read past leave the page
/// cache once written out, and the pages it has still to read stay; with it off, both stay. Counted with cachestat(2).
/// </summary>
public sealed class FetchPageCacheTests : IDisposable
{
    private const int MiB = 1024 * 1024;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-fetch-cache-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Pages_a_fetching_connection_has_passed_leave_the_cache_once_written_out_and_the_rest_stay(bool dropAfterRead)
    {
        using var broker = TestBroker.OnDisk(_directory, $"tributary.log.cache.drop.after.read={(dropAfterRead ? "true" : "false")}");
        var topic = broker.CreateTopic("tail");
        var log = broker.Core.FindLog(topic, 0)!;
        var fetch = new FetchHandler(broker.Core);
        AppendMiB(log, 4);

        // The connection reads the first 4 MiB, then, after 2 MiB more, fetches from where it stopped.
        Assert.Equal(4 * MiB, await FetchBytesAsync(broker, fetch, 0) / MiB * MiB);
        var passed = log.LogEndOffset;
        AppendMiB(log, 2);
        Assert.True(await FetchBytesAsync(broker, fetch, passed) >= 2 * MiB);

        // Appends after the write-out lag hand the first 6 MiB for write-out, and the drop follows the reader.
        Thread.Sleep(2_000 + 200); // the device's write-out lag, 2 s
        AppendMiB(log, 2);
        var segment = Path.Combine(_directory, "tail-0", "00000000000000000000.log");
        var passedPages = 4 * MiB / PageCache.PageBytes;
        if (dropAfterRead)
        {
            Assert.True(
                SpinWait.SpinUntil(() => PageCache.Stat(segment, 0, 4 * MiB).Cached < 64, TimeSpan.FromSeconds(30)),
                $"{PageCache.Stat(segment, 0, 4 * MiB).Cached} of {passedPages} pages the connection read past still cached");
        }
        else
        {
            Thread.Sleep(500); // the write-out thread's turn, which drops nothing here
            Assert.True(PageCache.Stat(segment, 0, 4 * MiB).Cached >= passedPages - 64, "without the drop the pages stay cached");
        }

        var ahead = PageCache.Stat(segment, 4 * MiB + 64 * 1024, 2 * MiB - 64 * 1024).Cached;
        Assert.True(ahead >= (2 * MiB - 64 * 1024) / PageCache.PageBytes - 64, $"the pages from where the connection reads on stay cached ({ahead})");
    }

    private static void AppendMiB(Storage.PartitionLog log, int mib)
    {
        var value = new byte[64 * 1024];
        for (var batch = 0; batch < mib * 2; batch++)
        {
            var builder = new RecordBatchBuilder();
            for (var i = 0; i < 8; i++)
            {
                Random.Shared.NextBytes(value);
                builder.Add(1_700_000_000_000, null, value);
            }

            log.Append(builder.Build());
        }
    }

    private static async Task<long> FetchBytesAsync(TestBroker broker, FetchHandler fetch, long offset)
    {
        var response = await broker.SendAsync(fetch, new FetchRequest
        {
            MaxWaitMs = 0,
            MaxBytes = 64 * MiB,
            Topics = [new FetchRequest.FetchTopic
            {
                Topic = "tail",
                Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = offset, PartitionMaxBytes = 64 * MiB }],
            }],
        }, 12);
        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal(0, partition.ErrorCode);
        return partition.Records?.Length ?? 0;
    }
}
