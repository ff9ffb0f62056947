using System.Globalization;
using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// kafka-python 2.0.2 (Debian's python3-kafka, installed by test.sh): admin CreateTopics, an acks=all producer,
/// a consumer group that reads every message and commits, and a second consumer reading the commits back.
/// </summary>
public sealed class KafkaPythonTests(ITestOutputHelper output)
{
    private const int MessageCount = 50;

    [Fact]
    public async Task ProducesConsumesAndCommits()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());
        var script = Path.Combine(RepositoryPaths.Root, "tests", "interop-py", "roundtrip.py");

        var run = await ProcessRunner.RunAsync("/usr/bin/python3", [script, broker.BootstrapServers, "py-topic", MessageCount.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(90));

        output.WriteLine(run.Describe());
        Assert.True(run.ExitCode == 0, "kafka-python script failed: " + run.Describe());
        using var json = JsonDocument.Parse(run.StandardOutput.Trim().Split('\n')[^1]);
        Assert.Equal(MessageCount, json.RootElement.GetProperty("read").GetInt32());
        Assert.Equal(MessageCount, json.RootElement.GetProperty("committed").GetInt32());
    }
}
