using System.Diagnostics;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// The embeddable broker as a .NET test would use it: start on a free port, produce and fetch over a real
/// socket, restart with on-disk storage, inject faults by API key, and dispose without leaking.
/// </summary>
public sealed class EmbeddedBrokerTests
{
    [Fact]
    public async Task StartsOnAFreePortWithTopicsAndServesProduceAndFetch()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["orders"] = 3;
        await using var broker = await TributaryBroker.StartAsync(options);

        Assert.NotEqual(0, broker.Port);
        Assert.Equal($"127.0.0.1:{broker.Port}", broker.BootstrapServers);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var produced = await WireRoundTrip.ProduceAsync(client, "orders", 2, "first order");
        Assert.Equal(0, produced.Responses[0].PartitionResponses[0].ErrorCode);
        Assert.Equal(["first order"], await WireRoundTrip.FetchValuesAsync(client, "orders", 2, 0));
    }

    [Fact]
    public async Task AGroupFormsAtOnceAndDescribeGroupsShowsTheMembersPeerAddress()
    {
        await using var broker = await TributaryBroker.StartAsync();
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        // The embedded broker starts with group.initial.rebalance.delay.ms=0 (the CLI keeps Kafka's 3 s): a test's first
        // JoinGroup is answered at once, not 3 s later.
        Assert.Equal(0, broker.Config.GroupInitialRebalanceDelayMs);
        var joined = await client.SendAsync<JoinGroupRequest, JoinGroupResponse>(ApiKey.JoinGroup, 3, new JoinGroupRequest
        {
            GroupId = "peers",
            SessionTimeoutMs = 10_000,
            RebalanceTimeoutMs = 10_000,
            ProtocolType = "consumer",
            Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = [0, 1] }],
        });
        Assert.Equal(0, joined.ErrorCode);

        var described = await client.SendAsync<DescribeGroupsRequest, DescribeGroupsResponse>(ApiKey.DescribeGroups, 5, new DescribeGroupsRequest { Groups = ["peers"] });
        var member = Assert.Single(described.Groups.Single().Members);
        Assert.Equal((joined.MemberId, "/127.0.0.1"), (member.MemberId, member.ClientHost));
    }

    [Fact]
    public async Task RestartKeepsOnDiskDataAndThePort()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false });
        await broker.CreateTopicAsync("events", 1);
        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await WireRoundTrip.ProduceAsync(client, "events", 0, "before restart");
        }

        var port = broker.Port;
        await broker.RestartAsync();

        Assert.Equal(port, broker.Port);
        await using var again = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        Assert.Equal(["before restart"], await WireRoundTrip.FetchValuesAsync(again, "events", 0, 0));
    }

    [Fact]
    public async Task ASecondBrokerOnTheSameDataDirectoryFailsToStartAndTheFirstKeepsServing()
    {
        await using var first = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false });
        await first.CreateTopicAsync("owned", 1);
        var directory = first.Config.LogDir;

        var refused = await Assert.ThrowsAsync<Tributary.Storage.DataDirectoryInUseException>(async () =>
            await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = directory, KeepDataDirectory = true }));
        Assert.Contains(directory, refused.Message);

        await using (var client = await KafkaWireClient.ConnectAsync(first.BootstrapServers))
        {
            Assert.Equal(0, (await WireRoundTrip.ProduceAsync(client, "owned", 0, "still mine")).Responses[0].PartitionResponses[0].ErrorCode);
        }

        // Once the first has stopped, the lock is free: a broker on the same directory starts and reads its data.
        await first.StopAsync();
        await using var second = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = directory, KeepDataDirectory = true });
        await using var again = await KafkaWireClient.ConnectAsync(second.BootstrapServers);
        Assert.Equal(["still mine"], await WireRoundTrip.FetchValuesAsync(again, "owned", 0, 0));
    }

    [Fact]
    public async Task TemporaryDataDirectoryIsDeletedOnDispose()
    {
        string directory;
        await using (var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false }))
        {
            directory = broker.Config.LogDir;
            Assert.True(Directory.Exists(directory));
        }

        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task InterceptAnswersWithAnErrorCodeForMatchingRequests()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["payments"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        broker.Intercept(ApiKey.Produce, _ => new InterceptDecision(Error: ErrorCode.NotLeaderOrFollower));
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        var failed = await WireRoundTrip.ProduceAsync(client, "payments", 0, "lost?");

        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, failed.Responses[0].PartitionResponses[0].ErrorCode);
        broker.ClearIntercepts();
        var ok = await WireRoundTrip.ProduceAsync(client, "payments", 0, "kept");
        Assert.Equal(0, ok.Responses[0].PartitionResponses[0].ErrorCode);
        Assert.Equal(["kept"], await WireRoundTrip.FetchValuesAsync(client, "payments", 0, 0));
    }

    [Fact]
    public async Task InterceptCanDropTheConnection()
    {
        await using var broker = await TributaryBroker.StartAsync();
        broker.Intercept(ApiKey.Metadata, _ => new InterceptDecision(DropConnection: true));
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        await Assert.ThrowsAnyAsync<IOException>(() => client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = null }));
    }

    [Fact]
    public async Task InterceptCanDelayARequest()
    {
        await using var broker = await TributaryBroker.StartAsync();
        var seen = 0;
        broker.Intercept(ApiKey.ApiVersions, _ =>
        {
            Interlocked.Increment(ref seen);
            return new InterceptDecision(Delay: TimeSpan.FromMilliseconds(200));
        });
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var watch = Stopwatch.StartNew();

        var response = await client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });

        // Not a timing assertion on speed: the delay is a lower bound the interceptor itself imposes.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(150));
        Assert.Equal(1, seen);
        Assert.Equal(0, response.ErrorCode);
    }

    [Fact]
    public async Task ManyBrokersInOneProcessAreIsolated()
    {
        var brokers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false })));
        try
        {
            Assert.Equal(10, brokers.Select(b => b.Port).Distinct().Count());
            Assert.Equal(10, brokers.Select(b => b.Config.LogDir).Distinct().Count());
            await Task.WhenAll(brokers.Select(async (b, i) =>
            {
                await b.CreateTopicAsync("shared-name", 1);
                await using var client = await KafkaWireClient.ConnectAsync(b.BootstrapServers);
                await WireRoundTrip.ProduceAsync(client, "shared-name", 0, $"broker {i}");
            }));
            for (var i = 0; i < brokers.Length; i++)
            {
                await using var client = await KafkaWireClient.ConnectAsync(brokers[i].BootstrapServers);
                Assert.Equal([$"broker {i}"], await WireRoundTrip.FetchValuesAsync(client, "shared-name", 0, 0));
            }
        }
        finally
        {
            await Task.WhenAll(brokers.Select(b => b.DisposeAsync().AsTask()));
        }
    }
}
