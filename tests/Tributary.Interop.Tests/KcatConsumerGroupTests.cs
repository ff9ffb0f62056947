using System.Globalization;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class KcatConsumerGroupTests(ITestOutputHelper output) : IDisposable
{
    private const int MessageCount = 4_000;
    private const int PartitionCount = 4;
    private static readonly TimeSpan RebalanceTimeout = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan ConsumeTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-kcat-group-");

    // Proves two librdkafka balanced consumers (kcat -G) share a 4-partition topic through the broker's group
    // coordinator: the first gets all four partitions, and when the second joins the group rebalances so each owns a
    // disjoint, non-empty half; then 4,000 keyed messages are consumed exactly once between them, each member reading
    // only the partitions it was assigned.
    [Fact]
    public async Task TwoKcatMembersSplitTheTopicAndConsumeEveryMessageOnce()
    {
        await using var broker = await TributaryBroker.StartAsync();
        const string topic = "kcat-shared";
        const string group = "kcat-group";
        await broker.CreateTopicAsync(topic, PartitionCount);

        await using var first = KcatGroupMember.Start(broker.BootstrapServers, group, topic);
        await KcatGroupMember.WaitUntilAsync("assignment of all partitions to the only member", RebalanceTimeout, () => first.Assignment?.Partitions.Count == PartitionCount, first);
        var started = DateTime.UtcNow;
        await using var second = KcatGroupMember.Start(broker.BootstrapServers, group, topic);
        await KcatGroupMember.WaitUntilAsync(
            "rebalance to two members",
            RebalanceTimeout,
            () => first.Assignment is { Partitions.Count: > 0 } a && second.Assignment is { Partitions.Count: > 0 } b && a.Partitions.Concat(b.Partitions).Order().SequenceEqual(Enumerable.Range(0, PartitionCount)),
            first,
            second);
        var (firstId, firstPartitions) = first.Assignment!.Value;
        var (secondId, secondPartitions) = second.Assignment!.Value;
        output.WriteLine($"second member in after {(DateTime.UtcNow - started).TotalSeconds:F1} s: {firstId} owns [{string.Join(",", firstPartitions)}], {secondId} owns [{string.Join(",", secondPartitions)}]");
        Assert.NotEqual(firstId, secondId);

        var input = Path.Combine(_work.FullName, "input.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, MessageCount).Select(i => string.Create(CultureInfo.InvariantCulture, $"key-{i}\tvalue-{i}")));
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, topic, input, []);
        await KcatGroupMember.WaitUntilAsync($"{MessageCount} messages consumed", ConsumeTimeout, () => first.Messages().Count + second.Messages().Count >= MessageCount, first, second);
        // A moment more, so a redelivery that was about to land is counted.
        await Task.Delay(TimeSpan.FromSeconds(1));

        var byFirst = first.Messages();
        var bySecond = second.Messages();
        output.WriteLine($"{byFirst.Count} messages to the first member, {bySecond.Count} to the second");
        var all = byFirst.Concat(bySecond).ToList();
        Assert.Equal(MessageCount, all.Count);
        Assert.Equal(Enumerable.Range(0, MessageCount).Select(i => "value-" + i.ToString(CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal), all.Select(m => m.Payload!).Order(StringComparer.Ordinal));
        Assert.NotEmpty(byFirst);
        Assert.NotEmpty(bySecond);
        Assert.All(byFirst, m => Assert.Contains(m.Partition, firstPartitions));
        Assert.All(bySecond, m => Assert.Contains(m.Partition, secondPartitions));
        Assert.All(all, m => Assert.Equal(m.Key, "key-" + m.Payload!["value-".Length..]));
    }

    public void Dispose() => _work.Delete(recursive: true);
}
