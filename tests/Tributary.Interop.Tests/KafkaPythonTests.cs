using System.Globalization;
using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// kafka-python 2.0.2 (Debian's python3-kafka, installed by test.sh): admin CreateTopics, an acks=all producer,
/// a consumer group that reads every message and commits, and a second consumer reading the commits back. Its
/// <c>api_version</c> is left unset, so it probes the broker as it does by default: ApiVersions v0, then Metadata v0
/// (which Kafka 4.0 restored for it, KAFKA-18648), and picks request versions from the answer.
/// </summary>
public sealed class KafkaPythonTests(ITestOutputHelper output)
{
    private const int MessageCount = 50;

    [Fact]
    public async Task ProducesConsumesAndCommits()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());
        var versions = new RequestVersions(broker);
        var script = Path.Combine(RepositoryPaths.Root, "tests", "interop-py", "roundtrip.py");

        var run = await ProcessRunner.RunAsync("/usr/bin/python3", [script, broker.BootstrapServers, "py-topic", MessageCount.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(90));

        output.WriteLine(run.Describe());
        output.WriteLine(versions.ToString());
        Assert.True(run.ExitCode == 0, "kafka-python script failed: " + run.Describe());
        Assert.Equal([0], versions.Of(ApiKey.ApiVersions));
        Assert.Contains((short)0, versions.Of(ApiKey.Metadata));

        // From the probe it takes the broker for Kafka 2.x and sends the versions Kafka 4 dropped: OffsetCommit v2,
        // ListOffsets v1, FindCoordinator v0.
        Assert.Equal([2], versions.Of(ApiKey.OffsetCommit));
        Assert.Equal([1], versions.Of(ApiKey.ListOffsets));
        Assert.Equal([0], versions.Of(ApiKey.FindCoordinator));
        using var json = JsonDocument.Parse(run.StandardOutput.Trim().Split('\n')[^1]);
        Assert.Equal(MessageCount, json.RootElement.GetProperty("read").GetInt32());
        Assert.Equal(MessageCount, json.RootElement.GetProperty("committed").GetInt32());
    }
}
