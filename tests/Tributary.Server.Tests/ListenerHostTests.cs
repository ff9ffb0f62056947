using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>A listener may name its host by name: <c>listeners=PLAINTEXT://localhost:9092</c> starts and serves.</summary>
public sealed class ListenerHostTests
{
    [Fact]
    public async Task ABrokerListeningOnLocalhostByNameStartsAndServes()
    {
        // Before, a host name reached IPAddress.Parse at start-up and the broker crashed with a FormatException.
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Host = "localhost" });
        Assert.StartsWith("localhost:", broker.BootstrapServers, StringComparison.Ordinal);

        await using var client = await KafkaWireClient.ConnectAsync("127.0.0.1:" + broker.Port.ToString(CultureInfo.InvariantCulture));
        var metadata = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = null })
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(("localhost", broker.Port), (metadata.Brokers[0].Host, metadata.Brokers[0].Port));
    }

    [Fact]
    public async Task AListenerHostNameThatDoesNotResolveIsAnIOExceptionNamingIt()
    {
        // .invalid never resolves (RFC 6761); the CLI reports an IOException as "Not started: …", no stack trace.
        var error = await Assert.ThrowsAsync<IOException>(() => TributaryBroker.StartAsync(new TributaryBrokerOptions { Host = "no-such-host.invalid" }));
        Assert.Contains("no-such-host.invalid", error.Message, StringComparison.Ordinal);
    }
}
