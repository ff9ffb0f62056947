using System.Net;
using System.Net.Sockets;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// connection_creation_rate of ip quota entities (KIP-612): the bucket of each address, and a broker with real sockets
/// that holds and then closes connections over an address's rate (event 333) while other addresses are served.
/// </summary>
public sealed class IpConnectionCreationRateTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Each_address_has_its_own_bucket_of_one_second_and_a_changed_rate_starts_a_new_one()
    {
        var rates = new Dictionary<IPAddress, int> { [IPAddress.Parse("10.0.0.1")] = 3, [IPAddress.Parse("10.0.0.2")] = 3 };
        var limiter = new IpConnectionCreationRates(a => rates.TryGetValue(a, out var r) ? r : null);
        var first = IPAddress.Parse("10.0.0.1");

        Assert.All(Enumerable.Range(0, 3), _ => Assert.Equal(0, limiter.RecordAndGetThrottleTimeMs(first).ThrottleMs));
        var throttled = limiter.RecordAndGetThrottleTimeMs(first);
        Assert.True(throttled.ThrottleMs > 0);
        Assert.True(throttled.First);
        Assert.Equal(3, throttled.Rate);
        Assert.False(limiter.RecordAndGetThrottleTimeMs(first).First);

        // Another address, and the same one as an IPv4-mapped IPv6 address, are measured apart from / as the first.
        Assert.Equal(0, limiter.RecordAndGetThrottleTimeMs(IPAddress.Parse("10.0.0.2")).ThrottleMs);
        Assert.True(limiter.RecordAndGetThrottleTimeMs(IPAddress.Parse("::ffff:10.0.0.1")).ThrottleMs > 0);

        // A new rate applies to the next connection with a full bucket; no rate means unlimited and nothing tracked.
        rates[first] = 10;
        Assert.Equal(0, limiter.RecordAndGetThrottleTimeMs(first).ThrottleMs);
        rates.Remove(first);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(0, limiter.RecordAndGetThrottleTimeMs(first).ThrottleMs));
        Assert.Equal(1, limiter.AddressesTracked);
    }

    [Fact]
    public void The_number_of_addresses_measured_is_bounded()
    {
        var limiter = new IpConnectionCreationRates(_ => 1);
        for (var i = 0; i <= IpConnectionCreationRates.AddressesTrackedMax; i++)
        {
            limiter.RecordAndGetThrottleTimeMs(new IPAddress(0x0A000000u + (uint)i));
        }

        Assert.Equal(IpConnectionCreationRates.AddressesTrackedMax, limiter.AddressesTracked);
    }

    [Fact]
    public async Task Connections_over_an_addresss_rate_are_closed_other_addresses_are_served_and_it_recovers()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { LoggerFactory = loggerFactory });
        // One admin connection, made before the quota exists, changes it both times.
        await using var admin = await KafkaWireClient.ConnectAsync($"127.0.0.1:{broker.Port}");
        await AlterAsync(admin, "127.0.0.1", 5, remove: false);

        // A burst of 20 from 127.0.0.1: the bucket holds 5, so the 20th (and most before it) is held, then closed.
        var served = await BurstAsync(broker.Port, "127.0.0.1", 20);
        Assert.True(served[..5].All(s => s), "a connection within the burst of 5 was not served");
        Assert.False(served[19], "the 20th connection of the burst was served over the rate of 5 per second");
        Assert.Contains(log.Entries, e => e.EventId == 333 && e.Message.Contains("127.0.0.1", StringComparison.Ordinal)
            && e.Message.Contains("(5 per second)", StringComparison.Ordinal));

        // Another address is not affected while 127.0.0.1 is throttled.
        Assert.All(await BurstAsync(broker.Port, "127.0.0.2", 10), Assert.True);

        // Once tokens are back, 127.0.0.1 is served again (bounded retries: each attempt waits for a token).
        var recovered = false;
        for (var attempt = 0; attempt < 50 && !recovered; attempt++)
        {
            await Task.Delay(200);
            recovered = (await BurstAsync(broker.Port, "127.0.0.1", 1))[0];
        }

        Assert.True(recovered, "127.0.0.1 was never served again after its burst");

        // Removing the quota applies to the next connection without a restart.
        await AlterAsync(admin, "127.0.0.1", 5, remove: true);
        Assert.All(await BurstAsync(broker.Port, "127.0.0.1", 20), Assert.True);
    }

    private static async Task AlterAsync(KafkaWireClient admin, string ip, double rate, bool remove)
    {
        var response = await admin.SendAsync<AlterClientQuotasRequest, AlterClientQuotasResponse>(ApiKey.AlterClientQuotas, 1, new AlterClientQuotasRequest
        {
            Entries =
            [
                new AlterClientQuotasRequest.EntryData
                {
                    Entity = [new AlterClientQuotasRequest.EntityData { EntityType = ClientQuotaEntity.IpType, EntityName = ip }],
                    Ops = [new AlterClientQuotasRequest.OpData { Key = ClientQuotaKeys.ConnectionCreationRate, Value = rate, Remove = remove }],
                },
            ],
        });
        Assert.Equal((short)ErrorCode.None, response.Entries.Single().ErrorCode);
    }

    /// <summary>Opens <paramref name="count"/> connections from <paramref name="from"/> at once; for each, whether it answered ApiVersions.</summary>
    private static async Task<bool[]> BurstAsync(int port, string from, int count)
    {
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                sockets.Add(await RawSocket.ConnectAsync(port, from));
            }

            var request = KafkaWireClient.Encode(ApiKey.ApiVersions, 3, 1, "t", new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });
            foreach (var socket in sockets)
            {
                try
                {
                    await socket.SendAsync(request);
                }
                catch (SocketException)
                {
                    // Already closed by the broker: the receive below says so.
                }
            }

            var served = new bool[count];
            for (var i = 0; i < count; i++)
            {
                served[i] = await RawSocket.ReceiveAsync(sockets[i]).WaitAsync(Bound) > 0;
            }

            return served;
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }
}
