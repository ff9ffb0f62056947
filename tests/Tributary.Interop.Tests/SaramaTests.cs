using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Go's sarama 1.22 (Debian's golang-github-shopify-sarama-dev, built offline with Debian's golang; test.sh installs
/// both): a producer with sarama's defaults, whose record batches leave the max timestamp at -1, ListOffsets by a
/// timestamp inside its one batch, DescribeConfigs of the topic, and a consumer group that reads and commits. Run at
/// protocol version 2.0.0 and at 0.11.0, the oldest that sends record batches (sarama's default, 0.8.2, sends
/// message format v0, which Kafka 4 refuses too); at both, sarama 1.22 sends the old versions Kafka 4 dropped and
/// Tributary serves again: DescribeConfigs v0, OffsetCommit v1, OffsetFetch v1, ListOffsets v1.
/// </summary>
public sealed class SaramaTests(ITestOutputHelper output)
{
    private const int MessageCount = 30;

    [Theory]
    [InlineData("2.0.0", 5, 2)]
    [InlineData("0.11.0.0", 1, 1)]
    public async Task ProducesFindsByTimestampDescribesConfigsAndCommitsAsAGroup(string version, short metadataVersion, short createTopicsVersion)
    {
        var program = await BuildAsync(version);
        ProcessResult run;
        RequestVersions versions;
        try
        {
            await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());
            versions = new RequestVersions(broker);
            run = await ProcessRunner.RunAsync(program, [broker.BootstrapServers, "sarama-topic", "sarama-group", $"{MessageCount}", version], TimeSpan.FromSeconds(120));
        }
        finally
        {
            File.Delete(program);
        }

        output.WriteLine(run.Describe());
        output.WriteLine(versions.ToString());
        Assert.Equal([0], versions.Of(ApiKey.DescribeConfigs));
        Assert.Equal([1], versions.Of(ApiKey.OffsetCommit));
        Assert.Equal([1], versions.Of(ApiKey.OffsetFetch));
        Assert.Equal([1], versions.Of(ApiKey.ListOffsets));
        Assert.Equal([metadataVersion], versions.Of(ApiKey.Metadata));
        Assert.Equal([createTopicsVersion], versions.Of(ApiKey.CreateTopics));
        Assert.True(run.ExitCode == 0, "sarama program failed: " + run.Describe());
        using var json = JsonDocument.Parse(run.StandardOutput.Trim().Split('\n')[^1]);
        var seen = json.RootElement;
        Assert.Equal(MessageCount, seen.GetProperty("produced").GetInt32());

        // The records are one second apart in one batch: 10.5 s after the first finds the record at offset 11.
        Assert.Equal(11, seen.GetProperty("offsetForTime").GetInt64());
        Assert.Equal("delete", seen.GetProperty("cleanupPolicy").GetString());
        Assert.True(seen.GetProperty("configEntries").GetInt32() >= 25);
        Assert.Equal(MessageCount, seen.GetProperty("read").GetInt32());
        Assert.Equal(MessageCount, seen.GetProperty("committedOffset").GetInt64());
    }

    /// <summary>Builds tests/interop-go/roundtrip.go against Debian's sarama sources, offline.</summary>
    private async Task<string> BuildAsync(string version)
    {
        const string Sarama = "/usr/share/gocode/src/github.com/Shopify/sarama";
        if (!File.Exists("/usr/bin/go") || !Directory.Exists(Sarama))
        {
            throw new InvalidOperationException("Go or sarama is not installed: apt-get install golang-go golang-github-shopify-sarama-dev (test.sh does)");
        }

        var output = Path.Combine(Path.GetTempPath(), $"tributary-sarama-{Environment.ProcessId}-{version}");
        var environment = new Dictionary<string, string>
        {
            ["GOPATH"] = "/usr/share/gocode",
            ["GO111MODULE"] = "off",
            ["GOFLAGS"] = "",
            ["GOCACHE"] = Path.Combine(Path.GetTempPath(), "tributary-gocache"),
            ["HOME"] = Path.GetTempPath(),
        };
        var source = Path.Combine(RepositoryPaths.Root, "tests", "interop-go", "roundtrip.go");
        var build = await ProcessRunner.RunAsync("/usr/bin/go", ["build", "-o", output, source], TimeSpan.FromSeconds(300), environment: environment);
        Assert.True(build.ExitCode == 0, "go build failed: " + build.Describe());
        return output;
    }
}
