using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// queued.max.request.bytes: large requests partly received across connections stay within it. A connection whose
/// request finds no room stops reading (event 306) and is neither closed nor answered; it goes on once room is freed,
/// and clients with ordinary requests are served meanwhile. The budget is reported at start (event 317).
/// </summary>
public sealed class QueuedRequestBytesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private const int FrameBytes = 5 * 1024 * 1024;
    private const int SentBytes = 2 * 1024 * 1024;

    [Fact]
    public async Task ConnectionsHoldingLargePartialRequestsBeyondTheBudgetAreHeldBackWhileOthersAreServed()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["queued.max.request.bytes"] = (8 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        options.Config["tributary.partial.request.timeout.ms"] = "120000";
        await using var broker = await TributaryBroker.StartAsync(options);
        Assert.Contains(log.Entries, e => e.EventId == 317 && e.Message.StartsWith("Memory budget: queued.max.request.bytes 8 MiB, tributary.decompression.memory.bytes 256 MiB", StringComparison.Ordinal));

        // Each holder starts a 5 MiB request of an API that does not exist and sends 2 MiB of it. Only one fits in 8 MiB.
        var holders = new List<Socket>();
        var sends = new List<Task>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                holders.Add(await RawSocket.ConnectAsync(broker.Port));
                var start = new byte[SentBytes];
                BinaryPrimitives.WriteInt32BigEndian(start, FrameBytes);
                BinaryPrimitives.WriteInt16BigEndian(start.AsSpan(4), short.MaxValue);
                sends.Add(holders[^1].SendAsync(start, SocketFlags.None));
            }

            // Two of them wait for room; the broker stopped reading them rather than failing.
            await WaitForAsync(() => log.Entries.Count(e => e.EventId == 306) >= 2);
            Assert.Contains(log.Entries, e => e.EventId == 306 && e.Message.Contains($"request of {FrameBytes + 4} bytes", StringComparison.Ordinal));

            // An ordinary client is served meanwhile, and no holder has been closed or answered.
            await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
            {
                var versions = await client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3,
                    new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }).WaitAsync(Bound);
                Assert.Equal(0, versions.ErrorCode);
            }

            Assert.All(holders, h => Assert.False(h.Poll(0, SelectMode.SelectRead), "a holder was closed or answered"));
            Assert.DoesNotContain(log.Entries, e => e.EventId is 301 or 305);

            // Every holder sends the rest: whichever had room first, they go on one at a time as each finishes, and
            // each is read whole and refused for its API.
            var rests = holders.Select(async h =>
            {
                await h.SendAsync(new byte[FrameBytes + 4 - SentBytes], SocketFlags.None);
                return await RawSocket.ReceiveAsync(h);
            }).ToList();
            var received = await Task.WhenAll(rests).WaitAsync(Bound);
            Assert.All(received, r => Assert.Equal(0, r));

            await WaitForAsync(() => log.Entries.Count(e => e.EventId == 301 && e.Message.EndsWith("unknown API key 32767", StringComparison.Ordinal)) >= 3);
        }
        finally
        {
            holders.ForEach(h => h.Dispose());
            await Task.WhenAll(sends.Select(s => s.ContinueWith(_ => { }, TaskScheduler.Default)));
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true in time");
            await Task.Delay(20);
        }
    }

}
