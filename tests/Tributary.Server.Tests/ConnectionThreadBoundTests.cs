using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// Threads are bounded by tributary.connection.threads.max, not by connections: 2,000 loopback connections that each
/// send a request at once, then stay open and silent, never raise the process's thread count by more than that limit
/// and the thread pool's own growth, and another client still produces and fetches among them. Runs alone: other
/// tests' brokers would move the thread count.
/// </summary>
[Collection(nameof(ConnectionThreadBoundTests))]
[CollectionDefinition(nameof(ConnectionThreadBoundTests), DisableParallelization = true)]
public sealed class ConnectionThreadBoundTests
{
    private const int IdleConnections = 2_000;
    private const int ConnectionThreadsMax = 4;

    /// <summary>Threads the thread pool may add under the burst (it grows slowly when busy); far below one per connection.</summary>
    private const int ThreadPoolGrowthMax = 64;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TwoThousandIdleConnectionsHoldABoundedNumberOfThreadsWhileAnotherClientIsServed()
    {
        var options = new TributaryBrokerOptions { InMemory = true };
        options.Topics["busy"] = 1;
        options.Config["max.connections"] = "2100";
        options.Config["tributary.connection.threads.max"] = ConnectionThreadsMax.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var broker = await TributaryBroker.StartAsync(options);
        var threadsBefore = ThreadCount();
        var threadsPeak = threadsBefore;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                threadsPeak = Math.Max(threadsPeak, ThreadCount());
                await Task.Delay(5);
            }
        });

        var frame = KafkaWireClient.Encode(ApiKey.ApiVersions, 3, 1, "idle", new ApiVersionsRequest { ClientSoftwareName = "idle", ClientSoftwareVersion = "1" });
        var idle = new List<Socket>(IdleConnections);
        try
        {
            // Every connection sends its request before any answer is read, so many are busy at once.
            for (var i = 0; i < IdleConnections; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(socket);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, broker.Port)).WaitAsync(Bound);
                await socket.SendAsync(frame, SocketFlags.None).WaitAsync(Bound);
            }

            foreach (var socket in idle)
            {
                await ReadFrameAsync(socket).WaitAsync(Bound);
            }

            // All silent now; their threads, if any, end after the idle time, while another client is served.
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
            Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, "busy", 0, "among idle ones")).Responses[0].PartitionResponses[0].ErrorCode);
            Assert.Equal(["among idle ones"], await WireRoundTrip.FetchValuesAsync(client, "busy", 0, 0));

            sampling.Cancel();
            await sampler;
            Assert.True(threadsPeak <= threadsBefore + ConnectionThreadsMax + ThreadPoolGrowthMax,
                $"threads {threadsBefore} -> peak {threadsPeak} with {IdleConnections} connections");
            Assert.True(ThreadCount() <= threadsBefore + ConnectionThreadsMax + ThreadPoolGrowthMax);
        }
        finally
        {
            sampling.Cancel();
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }
    }

    private static int ThreadCount()
    {
        if (OperatingSystem.IsLinux())
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    return int.Parse(line.AsSpan("Threads:".Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    /// <summary>Reads one size-prefixed frame.</summary>
    private static async Task ReadFrameAsync(Socket socket)
    {
        var size = new byte[4];
        await ReceiveExactlyAsync(socket, size);
        await ReceiveExactlyAsync(socket, new byte[System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(size)]);
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        for (var received = 0; received < buffer.Length;)
        {
            var count = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None);
            Assert.True(count > 0, "the connection ended before its answer");
            received += count;
        }
    }
}
