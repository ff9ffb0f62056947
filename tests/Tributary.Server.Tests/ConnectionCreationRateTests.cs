using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// max.connection.creation.rate (KIP-612): connections past the rate are not refused; the listener waits before it
/// accepts more (event 331), and every client is served once accepted.
/// </summary>
public sealed class ConnectionCreationRateTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ConnectionsPastTheRateAreAcceptedLaterAndAllServed()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["max.connection.creation.rate"] = "2";
        await using var broker = await TributaryBroker.StartAsync(options);

        // The first window counts as 10 s: 20 connections are within 2 per second, the 21st is past it.
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 23; i++)
            {
                sockets.Add(await RawSocket.ConnectAsync(broker.Port));
            }

            foreach (var socket in sockets)
            {
                await socket.SendAsync(KafkaWireClient.Encode(ApiKey.ApiVersions, 3, 1, "t", new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }));
            }

            foreach (var socket in sockets)
            {
                Assert.True(await RawSocket.ReceiveAsync(socket).WaitAsync(Bound) > 0, "a connection past the rate was closed instead of accepted later");
            }
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }

        Assert.Contains(log.Entries, e => e.EventId == 331 && e.Message.Contains("max.connection.creation.rate (2 per second)", StringComparison.Ordinal));
    }
}
