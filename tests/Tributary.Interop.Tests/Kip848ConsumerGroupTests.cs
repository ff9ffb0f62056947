using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// A client that speaks only the KIP-848 consumer group protocol (@platformatic/kafka with groupProtocol
/// 'consumer': ConsumerGroupHeartbeat, server-side assignment): two members join one group, share a 4-partition
/// topic, and together read every message produced after they joined. A partition may move from one member to
/// the other while messages flow (revocation first, then reassignment), so a few messages around the handover
/// are read twice; the test reports how many.
/// </summary>
public sealed class Kip848ConsumerGroupTests(ITestOutputHelper output)
{
    private const int MessageCount = 2_000;
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task TwoConsumerProtocolMembersSplitTheTopicAndReadEverything()
    {
        var options = new TributaryBrokerOptions { Topics = { ["kip848"] = 4 } };
        // A short heartbeat interval so the members learn of each other's arrival within the script's set-up time.
        options.Config["group.consumer.heartbeat.interval.ms"] = "500";
        await using var broker = await TributaryBroker.StartAsync(options);

        var run = await NodeRunner.RunAsync("kip848-group.mjs", NodeTimeout, broker.BootstrapServers, "kip848", "kip848-group", MessageCount.ToString(System.Globalization.CultureInfo.InvariantCulture));

        output.WriteLine(run.StandardOutput);
        using var json = NodeRunner.LastJsonLine(run);
        var result = json.RootElement;
        Assert.True(run.ExitCode == 0 && !result.TryGetProperty("error", out _), "@platformatic/kafka script failed: " + run.Describe());
        Assert.Equal(MessageCount, result.GetProperty("unique").GetInt32());
        var members = result.GetProperty("members").EnumerateArray()
            .Select(m => (Messages: m.GetProperty("messages").GetInt32(), Partitions: m.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()).ToList()))
            .ToList();
        Assert.Equal(2, members.Count);
        Assert.All(members, m => Assert.True(m.Messages > 0, "a member of the group received nothing"));
        Assert.True(members.Any(m => m.Partitions.Count < 4), "one member read every partition while the other also read: the group never split the topic");
        Assert.Equal([0, 1, 2, 3], members.SelectMany(m => m.Partitions).Distinct().Order());
        var duplicates = members.Sum(m => m.Messages) - MessageCount;
        output.WriteLine($"duplicates around partition handovers: {duplicates} of {MessageCount}");
        Assert.InRange(duplicates, 0, MessageCount / 10);
    }
}
