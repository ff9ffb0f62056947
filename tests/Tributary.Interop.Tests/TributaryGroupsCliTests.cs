using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;
using Tributary.TestSupport;
using ErrorCode = Tributary.Protocol.ErrorCode;

namespace Tributary.Interop.Tests;

public sealed partial class TributaryGroupsCliTests(ITestOutputHelper output) : IDisposable
{
    private const int PartitionCount = 4;
    private const int MessageCount = 1_000;
    private const int LaterMessageCount = 400;
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan GroupTimeout = TimeSpan.FromSeconds(45);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-groups-cli-");

    // Proves `tributary groups list|describe` shows what an operator needs about a group formed by real clients (two
    // kcat -G members): list names it Stable with protocol type consumer; describe names both members with the
    // partitions librdkafka itself reports as assigned (decoded from the assignment bytes), the chosen assignor, and for
    // every partition the committed offset, end offset, lag and owner. Lag is 0 once the members have committed
    // everything, and equals the messages produced after the members were killed. An unknown group is an error.
    [Fact]
    public async Task GroupsListAndDescribeShowMembersAssignmentsCommittedOffsetsAndLag()
    {
        await using var broker = await TributaryBroker.StartAsync();
        const string topic = "cli-orders";
        const string group = "cli-group";
        await broker.CreateTopicAsync(topic, PartitionCount);
        await ProduceAsync(broker.BootstrapServers, topic, 0, MessageCount);

        await using var first = KcatGroupMember.Start(broker.BootstrapServers, group, topic);
        await KcatGroupMember.WaitUntilAsync("the first member's assignment", GroupTimeout, () => first.Assignment is not null, first);
        await using var second = KcatGroupMember.Start(broker.BootstrapServers, group, topic);
        await KcatGroupMember.WaitUntilAsync(
            "two members with every message consumed",
            GroupTimeout,
            () => first.Assignment is { Partitions.Count: > 0 } && second.Assignment is { Partitions.Count: > 0 } && first.Messages().Count + second.Messages().Count >= MessageCount,
            first,
            second);
        var members = new[] { first.Assignment!.Value, second.Assignment!.Value };

        // Commits land every 200 ms; poll describe until every partition shows lag 0.
        var describe = await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers);
        var deadline = DateTime.UtcNow + GroupTimeout;
        while (Rows(describe).Count != PartitionCount || Rows(describe).Any(r => r.Lag != "0") || !describe.Contains("Stable", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "lag never reached 0 on every partition:\n" + describe);
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            describe = await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers);
        }

        output.WriteLine(describe);
        Assert.StartsWith($"group {group}: Stable, protocol consumer/range, 2 members", describe, StringComparison.Ordinal);
        foreach (var (memberId, partitions) in members)
        {
            Assert.Contains($"  member {memberId} (client rdkafka, host /127.0.0.1): {topic} [{string.Join(", ", partitions)}]", describe, StringComparison.Ordinal);
        }

        var owners = members.SelectMany(m => m.Partitions.Select(p => (p, m.MemberId))).ToDictionary(x => x.p, x => x.MemberId);
        var consumed = first.Messages().Concat(second.Messages()).GroupBy(m => m.Partition).ToDictionary(g => g.Key, g => g.Max(m => m.Offset) + 1);
        Assert.Equal(
            Enumerable.Range(0, PartitionCount).Select(p => new Row(topic, p, consumed[p].ToString(CultureInfo.InvariantCulture), consumed[p].ToString(CultureInfo.InvariantCulture), "0", owners[p])),
            Rows(describe));

        var list = await RunCliAsync("groups", "list", "--bootstrap", broker.BootstrapServers);
        Assert.Matches($@"(?m)^{group}\s+classic\s+Stable\s+consumer$", list);

        // Members gone without a last commit, more messages: the lag is exactly what they never read.
        await first.KillAsync();
        await second.KillAsync();
        await ProduceAsync(broker.BootstrapServers, topic, MessageCount, LaterMessageCount);
        var after = Rows(await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers));
        Assert.Equal(consumed.OrderBy(c => c.Key).Select(c => c.Value.ToString(CultureInfo.InvariantCulture)), after.Select(r => r.Committed));
        Assert.Equal(LaterMessageCount, after.Sum(r => long.Parse(r.Lag, CultureInfo.InvariantCulture)));
        Assert.All(after, r => Assert.Equal(long.Parse(r.End, CultureInfo.InvariantCulture) - long.Parse(r.Committed, CultureInfo.InvariantCulture), long.Parse(r.Lag, CultureInfo.InvariantCulture)));

        var unknown = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "groups", "describe", "no-such-group", "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("group no-such-group does not exist", unknown.StandardError, StringComparison.Ordinal);
    }

    // A KIP-848 group (one member driven over the wire with ConsumerGroupHeartbeat, as a group.protocol=consumer client
    // does) is described through ConsumerGroupDescribe: its assignor, the member's host, epoch and assignment, and the
    // committed offset and lag of each partition. DescribeGroups alone would call it Dead, as Kafka does.
    [Fact]
    public async Task DescribeShowsAKip848ConsumerGroupWithItsMemberEpochAssignmentAndLag()
    {
        await using var broker = await TributaryBroker.StartAsync();
        const string topic = "cli-kip848";
        const string group = "cli-kip848-group";
        await broker.CreateTopicAsync(topic, 2);
        await ProduceAsync(broker.BootstrapServers, topic, 0, 10);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var joined = await client.SendAsync<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>(ApiKey.ConsumerGroupHeartbeat, 0, new ConsumerGroupHeartbeatRequest
        {
            GroupId = group,
            MemberId = "",
            MemberEpoch = 0,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = [topic],
            ServerAssignor = "uniform",
            TopicPartitions = [],
        });
        Assert.Equal(ErrorCode.None, (ErrorCode)joined.ErrorCode);
        Assert.Equal([0, 1], joined.Assignment!.TopicPartitions.SelectMany(t => t.Partitions).Order());
        var committed = await client.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 9, new OffsetCommitRequest
        {
            GroupId = group,
            MemberId = joined.MemberId!,
            GenerationIdOrMemberEpoch = joined.MemberEpoch,
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic { Name = topic, Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = 3 }] }],
        });
        Assert.Equal(ErrorCode.None, (ErrorCode)committed.Topics[0].Partitions[0].ErrorCode);

        var describe = await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers);

        output.WriteLine(describe);
        Assert.StartsWith($"group {group}: Stable, protocol consumer/uniform (KIP-848, group epoch {joined.MemberEpoch}), 1 member", describe, StringComparison.Ordinal);
        Assert.Contains($"  member {joined.MemberId} (client tributary-cli, host /127.0.0.1, epoch {joined.MemberEpoch}): {topic} [0, 1]", describe, StringComparison.Ordinal);
        var rows = Rows(describe);
        var ends = rows.Select(r => long.Parse(r.End, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(10, ends.Sum());
        Assert.Equal(new Row(topic, 0, "3", rows[0].End, (ends[0] - 3).ToString(CultureInfo.InvariantCulture), joined.MemberId!), rows[0]);
        Assert.Equal(new Row(topic, 1, "-", rows[1].End, "-", joined.MemberId!), rows[1]);

        // A reset while the member runs would be overwritten by its next commit: refused, as Kafka refuses it.
        var reset = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "groups", "reset-offsets", group, "--all-topics", "--to-earliest", "--execute", "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.True(reset.ExitCode == 1, reset.Describe());
        Assert.Contains($"group {group} is Stable with 1 member(s)", reset.StandardError, StringComparison.Ordinal);
        Assert.Equal("3", Rows(await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers))[0].Committed);
    }

    // Proves reset-offsets moves a real group's committed offsets only with --execute (a dry run is the default, as in
    // kafka-consumer-groups.sh), to the earliest, latest, a given offset (kept within the log) and a time; JSON output
    // parses; and delete removes the group.
    [Fact]
    public async Task ResetOffsetsMovesCommittedOffsetsOnlyWithExecuteAndDeleteRemovesTheGroup()
    {
        await using var broker = await TributaryBroker.StartAsync();
        const string topic = "cli-reset";
        const string group = "cli-reset-group";
        await broker.CreateTopicAsync(topic, 2);
        await ProduceAsync(broker.BootstrapServers, topic, 0, 100);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var committed = await client.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 8, new OffsetCommitRequest
        {
            GroupId = group,
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic { Name = topic, Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = 5 }] }],
        });
        Assert.Equal(ErrorCode.None, (ErrorCode)committed.Topics[0].Partitions[0].ErrorCode);
        var end0 = await WireProbe.LatestOffsetAsync(client, topic);
        Assert.True(end0 > 10, $"partition 0 has {end0} records");

        async Task<string> Committed()
        {
            var rows = Rows(await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers));
            return rows.Single(r => r.Partition == 0).Committed;
        }

        var dryRun = await RunCliAsync("groups", "reset-offsets", group, "--topic", topic + ":0", "--to-earliest", "--bootstrap", broker.BootstrapServers);
        Assert.Equal(["TOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET", $"{topic}\t0\t5\t0"], dryRun.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("5", await Committed());

        await RunCliAsync("groups", "reset-offsets", group, "--topic", topic + ":0", "--to-earliest", "--execute", "--bootstrap", broker.BootstrapServers);
        Assert.Equal("0", await Committed());

        await RunCliAsync("groups", "reset-offsets", group, "--all-topics", "--to-offset", "7", "--execute", "--bootstrap", broker.BootstrapServers);
        Assert.Equal("7", await Committed());

        // Beyond the log end the offset is kept at the end, as Kafka does.
        await RunCliAsync("groups", "reset-offsets", group, "--all-topics", "--to-offset", "1000000", "--execute", "--bootstrap", broker.BootstrapServers);
        Assert.Equal(end0.ToString(CultureInfo.InvariantCulture), await Committed());

        await RunCliAsync("groups", "reset-offsets", group, "--all-topics", "--to-datetime", "2000-01-01T00:00:00Z", "--execute", "--bootstrap", broker.BootstrapServers);
        Assert.Equal("0", await Committed());

        using var plan = System.Text.Json.JsonDocument.Parse(await RunCliAsync("groups", "reset-offsets", group, "--topic", topic, "--to-latest", "--execute", "--output", "json", "--bootstrap", broker.BootstrapServers));
        Assert.True(plan.RootElement.GetProperty("executed").GetBoolean());
        Assert.Equal(2, plan.RootElement.GetProperty("partitions").GetArrayLength());
        Assert.Equal(end0.ToString(CultureInfo.InvariantCulture), await Committed());

        using var described = System.Text.Json.JsonDocument.Parse(await RunCliAsync("groups", "describe", group, "--output", "json", "--bootstrap", broker.BootstrapServers));
        Assert.Equal(group, described.RootElement.GetProperty("groupId").GetString());
        Assert.All(described.RootElement.GetProperty("offsets").EnumerateArray(), o => Assert.Equal(0, o.GetProperty("lag").GetInt64()));

        await RunCliAsync("groups", "delete", group, "--bootstrap", broker.BootstrapServers);
        var gone = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "groups", "describe", group, "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.True(gone.ExitCode == 1, gone.Describe());
        Assert.Contains($"group {group} does not exist", gone.StandardError, StringComparison.Ordinal);
    }

    // A share group formed by librdkafka's share consumer: list shows its type; describe shows the member (assigned both
    // partitions) and, for the partition with records, the share-partition start offset, log end, records done and
    // lag. Offsets 0-2 and 4-5 are accepted and 3 is released, so the start offset stops at 3 (the first record not
    // done), 2 records above it are done, and the lag counts 3 again plus 6-9, produced after the consumer stopped
    // polling: end 10 − start 3 − done 2 = 5, what Kafka's DescribeShareGroupOffsets v1 reports.
    [Fact]
    public async Task DescribeShowsAShareGroupsMemberStartOffsetAndLag()
    {
        await using var broker = await TributaryBroker.StartAsync();
        const string topic = "cli-share";
        const string group = "cli-share-group";
        await broker.CreateTopicAsync(topic, 2);
        broker.Core.Metadata.SetGroupConfigs(group, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
        Librdkafka.EnsureLoaded();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 0 }).Build();
        async Task ProduceToPartition0(int from, int count)
        {
            for (var i = from; i < from + count; i++)
            {
                await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<Null, string> { Value = $"r{i}" });
            }
        }

        await ProduceToPartition0(0, 6);
        using var consumer = new ShareConsumer(broker.BootstrapServers, group, topic, new Dictionary<string, string> { ["client.id"] = "cli-share" });
        var seen = new HashSet<long>();
        var deadline = DateTime.UtcNow + GroupTimeout;
        while (seen.Count < 6)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only offsets {string.Join(", ", seen.Order())} were delivered");
            foreach (var record in consumer.Poll(500))
            {
                consumer.Acknowledge(record, record.Offset == 3 ? ShareConsumer.Release : ShareConsumer.Accept);
                seen.Add(record.Offset);
            }
        }

        consumer.CommitSync(10_000);
        await ProduceToPartition0(6, 4);

        var describe = await RunCliAsync("groups", "describe", group, "--bootstrap", broker.BootstrapServers);

        output.WriteLine(describe);
        Assert.StartsWith($"group {group}: Stable, share group/simple (group epoch ", describe, StringComparison.Ordinal);
        var member = ShareMemberLine().Match(describe);
        Assert.True(member.Success, describe);
        Assert.Equal(topic + " [0, 1]", member.Groups[2].Value);
        Assert.Contains(new ShareRow(topic, 0, "3", "10", "2", "5", member.Groups[1].Value), ShareRows(describe));

        var list = await RunCliAsync("groups", "list", "--bootstrap", broker.BootstrapServers);
        Assert.Matches($@"(?m)^{group}\s+share\s+Stable\s+share$", list);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static async Task<string> RunCliAsync(params string[] arguments)
    {
        var result = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, .. arguments], CliTimeout);
        Assert.True(result.ExitCode == 0, $"tributary {string.Join(' ', arguments)} failed: " + result.Describe());
        return result.StandardOutput;
    }

    private async Task ProduceAsync(string bootstrap, string topic, int from, int count)
    {
        var input = Path.Combine(_work.FullName, $"input-{from}.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(from, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"key-{i}\tvalue-{i}")));
        await KcatRunner.ProduceLinesAsync(bootstrap, topic, input, []);
    }

    private static List<Row> Rows(string describe) =>
        [.. OffsetRow().Matches(describe).Select(m => new Row(m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value, m.Groups[4].Value, m.Groups[5].Value, m.Groups[6].Value))];

    // "TOPIC  PARTITION  COMMITTED  END  LAG  MEMBER" rows of `groups describe`.
    [GeneratedRegex(@"(?m)^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$")]
    private static partial Regex OffsetRow();

    private static List<ShareRow> ShareRows(string describe) =>
        [.. ShareOffsetRow().Matches(describe).Select(m => new ShareRow(m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value, m.Groups[4].Value, m.Groups[5].Value, m.Groups[6].Value, m.Groups[7].Value))];

    // "TOPIC  PARTITION  START-OFFSET  END  DONE  LAG  MEMBERS" rows of `groups describe` for a share group.
    [GeneratedRegex(@"(?m)^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$")]
    private static partial Regex ShareOffsetRow();

    // "  member ID (client cli-share, host /127.0.0.1, epoch N): ASSIGNMENT"
    [GeneratedRegex(@"(?m)^  member (\S+) \(client cli-share, host /127\.0\.0\.1, epoch \d+\): (.+)$")]
    private static partial Regex ShareMemberLine();

    private sealed record ShareRow(string Topic, int Partition, string Start, string End, string Done, string Lag, string Members);

    private sealed record Row(string Topic, int Partition, string Committed, string End, string Lag, string Member);
}
