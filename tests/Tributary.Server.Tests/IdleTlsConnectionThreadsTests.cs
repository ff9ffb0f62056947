using System.Diagnostics;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Tls;

namespace Tributary.Server.Tests;

/// <summary>
/// Idle TLS connections park as plaintext ones do: 300 clients that complete a handshake, ask ApiVersions once and
/// then say nothing cost no thread each, and are answered again when they speak. Runs with the other thread-counting
/// test, alone.
/// </summary>
[Collection(nameof(IdleConnectionThreadsTests))]
public sealed class IdleTlsConnectionThreadsTests
{
    private const int IdleConnections = 300;
    private const int ThreadsAboveBaselineMax = 64;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task IdleTlsConnectionsHoldABoundedNumberOfThreadsAndAreServedWhenTheySpeak()
    {
        var authority = TestCertificates.Authority("Idle TLS CA");
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { TlsCertificate = TestCertificates.Server(authority) });
        var tls = new System.Net.Security.SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = (_, _, _, _) => true };
        await using (var first = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, tls))
        {
            await ApiVersionsAsync(first);
        }

        var baseline = Threads();
        var idle = new List<KafkaWireClient>(IdleConnections);
        try
        {
            for (var i = 0; i < IdleConnections; i++)
            {
                idle.Add(await KafkaWireClient.ConnectAsync(broker.BootstrapServers, tls));
                await ApiVersionsAsync(idle[^1]);
            }

            var deadline = DateTime.UtcNow + Bound;
            int threads;
            while ((threads = Threads()) > baseline + ThreadsAboveBaselineMax && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.True(threads <= baseline + ThreadsAboveBaselineMax, $"{threads} threads with {IdleConnections} idle TLS connections open (before them: {baseline})");
            for (var i = 0; i < IdleConnections; i += 30)
            {
                await ApiVersionsAsync(idle[i]);
            }
        }
        finally
        {
            foreach (var client in idle)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task ApiVersionsAsync(KafkaWireClient client) =>
        Assert.Equal(0, (await client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3,
            new ApiVersionsRequest { ClientSoftwareName = "idle", ClientSoftwareVersion = "1" }).WaitAsync(Bound)).ErrorCode);

    private static int Threads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }
}
