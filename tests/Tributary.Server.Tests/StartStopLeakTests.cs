using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// 200 start/serve/stop cycles, each stopping with a fetch parked by a client that has closed, leave nothing behind: thread count, open file descriptors (files and sockets)
/// and managed memory return to where they started, and the last port can be bound again.
/// </summary>
[Collection(nameof(StartStopLeakTests))]
[CollectionDefinition(nameof(StartStopLeakTests), DisableParallelization = true)]
public sealed class StartStopLeakTests
{
    private const int Cycles = 200;
    private const int WarmUpCycles = 20;

    /// <summary>Growth tolerated after warm-up: far below one per cycle, which is what a leak would show.</summary>
    private const int SlackMax = 24;

    [Fact]
    public async Task TwoHundredStartStopCyclesLeakNoThreadsHandlesOrMemory()
    {
        // Warm up: the first brokers load assemblies and grow pools (thread pool, socket engines) that are
        // meant to stay. A leak is what keeps growing with the cycle count after that.
        for (var i = 0; i < WarmUpCycles; i++)
        {
            await CycleAsync(inMemory: i % 2 == 0);
        }

        Settle();
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;
        var descriptorsBefore = OpenDescriptors();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        var lastPort = 0;
        for (var i = 0; i < Cycles; i++)
        {
            lastPort = await CycleAsync(inMemory: i % 2 == 0);
        }

        Settle();
        var threadsAfter = Process.GetCurrentProcess().Threads.Count;
        var descriptorsAfter = OpenDescriptors();
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);

        Assert.True(threadsAfter <= threadsBefore + SlackMax, $"threads {threadsBefore} -> {threadsAfter} after {Cycles} cycles");
        Assert.True(descriptorsAfter <= descriptorsBefore + SlackMax, $"open descriptors {descriptorsBefore} -> {descriptorsAfter} after {Cycles} cycles");
        Assert.True(memoryAfter <= memoryBefore + (32L << 20), $"managed memory {memoryBefore} -> {memoryAfter} bytes after {Cycles} cycles");
        using var probe = new TcpListener(IPAddress.Loopback, lastPort);
        probe.Start();
    }

    private static async Task<int> CycleAsync(bool inMemory)
    {
        var options = new TributaryBrokerOptions { InMemory = inMemory };
        options.Topics["cycle"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        await WireRoundTrip.ProduceAsync(client, "cycle", 0, "x");

        // A second connection leaves a fetch parked at the tail when it closes, and the broker stops with it: its
        // resumption, posted to a connection thread that has ended, must still run and leave nothing behind.
        await using (var tail = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await tail.SendOnlyAsync(Protocol.ApiKey.Fetch, 12, WireRoundTrip.Fetch("cycle", 0, 1, maxWaitMs: 30_000));
        }

        return broker.Port;
    }

    private static void Settle()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(200);
        }
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;
}
