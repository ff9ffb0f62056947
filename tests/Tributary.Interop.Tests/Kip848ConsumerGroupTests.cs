using System.Globalization;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

/// <summary>
/// A client that speaks only the KIP-848 consumer group protocol (@platformatic/kafka with groupProtocol
/// 'consumer': ConsumerGroupHeartbeat, server-side assignment): two members join one group, share a 4-partition
/// topic, and together read every message produced after they joined. A partition may move from one member to
/// the other while messages flow (revocation first, then reassignment), so a few messages around the handover
/// are read twice; the test reports how many.
/// </summary>
public sealed class Kip848ConsumerGroupTests(ITestOutputHelper output) : IDisposable
{
    private const int MessageCount = 2_000;
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-kip848-");

    public void Dispose() => _work.Delete(recursive: true);

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

    /// <summary>
    /// The group is in __consumer_offsets: restarted mid-run under two consumer-protocol members, the broker reloads it,
    /// so the members carry on with the same member ids, epochs and partitions (no UNKNOWN_MEMBER_ID, no rebalance),
    /// their offset commits with those epochs are accepted, and together they read every message of both halves.
    /// </summary>
    [Fact]
    public async Task ConsumerProtocolMembersCarryOnAcrossABrokerRestart()
    {
        const string topic = "kip848-restart";
        const string group = "kip848-restart-group";
        const int half = 1_000;
        var options = new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_work.FullName, "data"), Topics = { [topic] = 4 } };
        options.Config["group.consumer.heartbeat.interval.ms"] = "500";
        await using var broker = await TributaryBroker.StartAsync(options);
        var go = Path.Combine(_work.FullName, "restarted");

        await using var script = NodeRunner.Start("kip848-restart.mjs", broker.BootstrapServers, topic, group, half.ToString(CultureInfo.InvariantCulture), go);
        await script.WaitForLineAsync(l => l.Contains("\"phase\":\"restart-now\"", StringComparison.Ordinal), NodeTimeout);
        var before = await DescribeAsync(broker.BootstrapServers, group);
        await broker.RestartAsync();
        var after = await DescribeAsync(broker.BootstrapServers, group);
        await File.WriteAllTextAsync(go, "");

        output.WriteLine($"before the restart: {before}");
        output.WriteLine($"after the restart:  {after}");
        Assert.Equal(before, after);
        Assert.Contains("Stable", after, StringComparison.Ordinal);

        var run = await script.WaitForExitAsync(NodeTimeout);
        output.WriteLine(run.StandardOutput);
        using var json = NodeRunner.LastJsonLine(run);
        var result = json.RootElement;
        Assert.True(run.ExitCode == 0 && !result.TryGetProperty("error", out _), "@platformatic/kafka script failed: " + run.Describe());
        Assert.Equal(2 * half, result.GetProperty("unique").GetInt32());
        Assert.Empty(result.GetProperty("errors").EnumerateArray());
        foreach (var member in result.GetProperty("members").EnumerateArray())
        {
            Assert.Equal(member.GetProperty("memberIdBefore").GetString(), member.GetProperty("memberIdAfter").GetString());
            Assert.True(member.GetProperty("messagesAfter").GetInt32() > 0, $"{member.GetProperty("id").GetString()} read nothing after the restart");
        }

        // Commits name the member and its epoch: after a restart that lost the group they would get UNKNOWN_MEMBER_ID.
        var committed = await CommittedAsync(broker.BootstrapServers, group);
        output.WriteLine($"committed: {committed} of {2 * half}");
        Assert.Equal(2 * half, committed);
    }

    /// <summary>The group as ConsumerGroupDescribe shows it: state, epochs, and each member's epoch and partitions.</summary>
    private static async Task<string> DescribeAsync(string bootstrap, string group)
    {
        await using var client = await KafkaWireClient.ConnectAsync(bootstrap);
        var response = await client.SendAsync<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>(ApiKey.ConsumerGroupDescribe, 0, new ConsumerGroupDescribeRequest { GroupIds = [group] });
        var described = response.Groups.Single();
        Assert.Equal(ErrorCode.None, (ErrorCode)described.ErrorCode);
        var members = described.Members.OrderBy(m => m.MemberId, StringComparer.Ordinal)
            .Select(m => $"{m.MemberId}@{m.MemberEpoch}:{string.Join(',', m.Assignment.TopicPartitions.SelectMany(t => t.Partitions).Order())}");
        return $"{described.GroupState} epoch {described.GroupEpoch}/{described.AssignmentEpoch} [{string.Join(" ", members)}]";
    }

    private static async Task<long> CommittedAsync(string bootstrap, string group)
    {
        await using var client = await KafkaWireClient.ConnectAsync(bootstrap);
        var response = await client.SendAsync<OffsetFetchRequest, OffsetFetchResponse>(ApiKey.OffsetFetch, 7, new OffsetFetchRequest { GroupId = group, Topics = null });
        Assert.Equal(ErrorCode.None, (ErrorCode)response.ErrorCode);
        return response.Topics.SelectMany(t => t.Partitions).Where(p => p.CommittedOffset >= 0).Sum(p => p.CommittedOffset);
    }
}
