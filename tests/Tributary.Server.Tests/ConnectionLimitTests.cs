using System.Net;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// Connections that hold the broker without using it are closed: one silent for connections.max.idle.ms (event 304),
/// one that trickles a request byte by byte for longer than tributary.partial.request.timeout.ms (event 305), and one
/// past max.connections.per.ip from its address (event 316; its overrides give an address its own limit) or past its
/// listener's listener.name.<l>.max.connections (event 332). Clients
/// that use their connection are served throughout.
/// </summary>
public sealed class ConnectionLimitTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AConnectionSilentForTheIdleTimeIsClosedWhileOneInUseStaysOpen()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["connections.max.idle.ms"] = "3000";
        await using var broker = await TributaryBroker.StartAsync(options);
        using var idle = await RawSocket.ConnectAsync(broker.Port);
        await using var busy = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        // The busy client asks something every 100 ms for longer than the idle time: its connection stays open.
        var started = DateTime.UtcNow;
        while (DateTime.UtcNow - started < TimeSpan.FromSeconds(4))
        {
            await ApiVersionsAsync(busy);
            await Task.Delay(100);
        }

        // The silent one has been closed by now (before, it stayed open forever).
        Assert.Equal(0, await RawSocket.ReceiveAsync(idle).WaitAsync(Bound));
        await ApiVersionsAsync(busy);
        Assert.Contains(log.Entries, e => e.EventId == 304 && e.Message.EndsWith("idle for connections.max.idle.ms (3000 ms)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ARequestTrickledByteByByteIsClosedAtThePartialRequestTimeoutThoughEachByteIsWithinTheIdleTime()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["tributary.partial.request.timeout.ms"] = "1000";
        options.Config["connections.max.idle.ms"] = "60000";
        await using var broker = await TributaryBroker.StartAsync(options);
        using var slow = await RawSocket.ConnectAsync(broker.Port);
        var frame = KafkaWireClient.Encode(ApiKey.ApiVersions, 3, 1, "t", new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });

        // Slowloris: one byte every 200 ms never lets the connection go idle, and never finishes the request.
        var closed = RawSocket.ReceiveAsync(slow);
        for (var i = 0; i < frame.Length - 1 && !closed.IsCompleted; i++)
        {
            try
            {
                await slow.SendAsync(frame.AsMemory(i, 1));
            }
            catch (SocketException)
            {
                break; // closed under us
            }

            await Task.WhenAny(closed, Task.Delay(200));
        }

        Assert.Equal(0, await closed.WaitAsync(Bound));
        Assert.Contains(log.Entries, e => e.EventId == 305 && e.Message.Contains("did not arrive whole within tributary.partial.request.timeout.ms (1000 ms)", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Entries, e => e.EventId == 304);
    }

    [Fact]
    public async Task ConnectionsPastTheLimitOfTheirAddressAreRefusedOthersAndOverriddenAddressesAreServed()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["max.connections.per.ip"] = "2";
        options.Config["max.connections.per.ip.overrides"] = "127.0.0.3:3";
        await using var broker = await TributaryBroker.StartAsync(options);

        // 127.0.0.2 holds two connections; its third is closed at once, without an answer.
        using var first = await RawSocket.ConnectAsync(broker.Port, "127.0.0.2");
        using var second = await RawSocket.ConnectAsync(broker.Port, "127.0.0.2");
        await AnsweredAsync(first);
        await AnsweredAsync(second);
        using var third = await RawSocket.ConnectAsync(broker.Port, "127.0.0.2");
        Assert.Equal(0, await RawSocket.ReceiveAsync(third).WaitAsync(Bound));
        Assert.Contains(log.Entries, e => e.EventId == 316 && e.Message.Contains("127.0.0.2", StringComparison.Ordinal));

        // Another address is not held back by it, and an override gives an address its own limit.
        var others = new List<Socket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                others.Add(await RawSocket.ConnectAsync(broker.Port, "127.0.0.3"));
                await AnsweredAsync(others[^1]);
            }

            // Once one of the two closes, 127.0.0.2 may connect again.
            first.Dispose();
            var deadline = DateTime.UtcNow + Bound;
            while (true)
            {
                using var again = await RawSocket.ConnectAsync(broker.Port, "127.0.0.2");
                if (await TryAnsweredAsync(again))
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, "127.0.0.2 was never let in again after one of its connections closed");
                await Task.Delay(50);
            }
        }
        finally
        {
            others.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task AListenerAtItsOwnMaxConnectionsRefusesNewOnesWhileAnotherListenerServes()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["listeners"] = "PLAINTEXT://127.0.0.1:0,LIMITED://127.0.0.2:0";
        options.Config["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,LIMITED:PLAINTEXT";
        options.Config["listener.name.limited.max.connections"] = "2";
        await using var broker = await TributaryBroker.StartAsync(options);
        var limitedPort = broker.Listeners.Single(l => l.Name == "LIMITED").Port;

        // LIMITED holds two connections; its third is closed at once, without an answer.
        using var first = await RawSocket.ConnectAsync(limitedPort, "127.0.0.1", "127.0.0.2");
        using var second = await RawSocket.ConnectAsync(limitedPort, "127.0.0.1", "127.0.0.2");
        await AnsweredAsync(first);
        await AnsweredAsync(second);
        using var third = await RawSocket.ConnectAsync(limitedPort, "127.0.0.1", "127.0.0.2");
        Assert.Equal(0, await RawSocket.ReceiveAsync(third).WaitAsync(Bound));
        Assert.Contains(log.Entries, e => e.EventId == 332 && e.Message.Contains("maximum of 2 connections (listener.name.limited.max.connections)", StringComparison.Ordinal));

        // The other listener has no limit of its own.
        var others = new List<Socket>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                others.Add(await RawSocket.ConnectAsync(broker.Port));
                await AnsweredAsync(others[^1]);
            }
        }
        finally
        {
            others.ForEach(s => s.Dispose());
        }

        // Once one of the two closes, LIMITED takes a connection again.
        first.Dispose();
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            using var again = await RawSocket.ConnectAsync(limitedPort, "127.0.0.1", "127.0.0.2");
            if (await TryAnsweredAsync(again))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "LIMITED never took a connection again after one of its two closed");
            await Task.Delay(50);
        }
    }

    private static async Task AnsweredAsync(Socket socket) => Assert.True(await TryAnsweredAsync(socket), "no answer to ApiVersions");

    private static async Task<bool> TryAnsweredAsync(Socket socket)
    {
        try
        {
            await socket.SendAsync(KafkaWireClient.Encode(ApiKey.ApiVersions, 3, 7, "t", new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }));
            return await RawSocket.ReceiveAsync(socket).WaitAsync(Bound) > 0;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static Task<ApiVersionsResponse> ApiVersionsAsync(KafkaWireClient client) =>
        client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" })
            .WaitAsync(Bound);
}
