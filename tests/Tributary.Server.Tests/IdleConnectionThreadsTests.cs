using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// Resource test of issue #29's idle connections: 2,000 clients that connect, ask ApiVersions once and then say nothing
/// cost the broker no thread each (their sockets wait in the poller), while another client produces and fetches, and
/// the idle ones are answered again when they speak. Runs alone: it counts the process's threads.
/// </summary>
[Collection(nameof(IdleConnectionThreadsTests))]
[CollectionDefinition(nameof(IdleConnectionThreadsTests), DisableParallelization = true)]
public sealed class IdleConnectionThreadsTests
{
    private const int IdleConnections = 2_000;

    /// <summary>Threads allowed above the count before the idle clients came: far fewer than the connections.</summary>
    private const int ThreadsAboveBaselineMax = 64;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TwoThousandIdleConnectionsHoldABoundedNumberOfThreadsWhileAClientIsServed()
    {
        var options = new TributaryBrokerOptions();
        options.Config["max.connections"] = "3000";
        options.Topics["served"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, "served", 0, "before")).Responses[0].PartitionResponses[0].ErrorCode);
        var baseline = Threads();

        var idle = new List<Socket>(IdleConnections);
        try
        {
            // Blocking client sockets: the test itself adds no threads or runtime socket engines while counting.
            await Task.Factory.StartNew(() =>
            {
                for (var i = 0; i < IdleConnections; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    idle.Add(socket);
                    socket.Connect(new IPEndPoint(IPAddress.Loopback, broker.Port));
                    AskApiVersions(socket, i);
                }
            }, TaskCreationOptions.LongRunning).WaitAsync(Bound);

            // Once they have parked, the count no longer depends on how many there are.
            var deadline = DateTime.UtcNow + Bound;
            int threads;
            while ((threads = Threads()) > baseline + ThreadsAboveBaselineMax && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.True(threads <= baseline + ThreadsAboveBaselineMax,
                $"{threads} threads with {IdleConnections} idle connections open (before them: {baseline})");

            // The broker serves a client meanwhile, and idle clients that speak again are answered.
            Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, "served", 0, "during")).Responses[0].PartitionResponses[0].ErrorCode);
            Assert.Equal(["before", "during"], await WireRoundTrip.FetchValuesAsync(client, "served", 0, 0));
            await Task.Factory.StartNew(() =>
            {
                for (var i = 0; i < IdleConnections; i += 100)
                {
                    AskApiVersions(idle[i], IdleConnections + i);
                }
            }, TaskCreationOptions.LongRunning).WaitAsync(Bound);
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    /// <summary>Sends ApiVersions and reads its whole answer, checking the correlation id.</summary>
    private static void AskApiVersions(Socket socket, int correlationId)
    {
        socket.ReceiveTimeout = (int)Bound.TotalMilliseconds;
        socket.Send(KafkaWireClient.Encode(ApiKey.ApiVersions, 3, correlationId, "idle", new ApiVersionsRequest { ClientSoftwareName = "idle", ClientSoftwareVersion = "1" }));
        var header = new byte[8];
        ReceiveExactly(socket, header);
        Assert.Equal(correlationId, BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4)));
        ReceiveExactly(socket, new byte[BinaryPrimitives.ReadInt32BigEndian(header) - 4]);
    }

    private static void ReceiveExactly(Socket socket, byte[] buffer)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var received = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            Assert.True(received > 0, "the broker closed an idle connection");
            read += received;
        }
    }

    private static int Threads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }
}
