using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class TributaryCliTests
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);

    // Proves the `tributary topics` admin commands (the CLI talks to the broker through KafkaWireClient) work against a
    // running broker: list names every topic, describe shows the partitions and their offsets.
    [Fact]
    public async Task TopicsListAndDescribeTalkToARunningBroker()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["alpha"] = 2;
        options.Topics["beta"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);

        var list = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "topics", "list", "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.True(list.ExitCode == 0, "tributary topics list failed: " + list.Describe());
        Assert.Equal(["alpha", "beta"], list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var describe = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "topics", "describe", "alpha", "--bootstrap", broker.BootstrapServers], CliTimeout);
        Assert.True(describe.ExitCode == 0, "tributary topics describe failed: " + describe.Describe());
        Assert.Contains("partition 0: leader 0, offsets 0..0", describe.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("partition 1: leader 0, offsets 0..0", describe.StandardOutput, StringComparison.Ordinal);
    }

    // Proves describing or deleting a missing topic fails naming it, with a non-zero exit code, and creates nothing
    // although the broker auto-creates topics for Metadata requests that allow it.
    [Fact]
    public async Task DescribeAndDeleteOfAMissingTopicFailWithoutCreatingIt()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());
        Assert.True(broker.Config.AutoCreateTopicsEnable);

        foreach (var verb in new[] { "describe", "delete" })
        {
            var run = await ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "topics", verb, "ghost", "--bootstrap", broker.BootstrapServers], CliTimeout);
            Assert.True(run.ExitCode != 0, $"tributary topics {verb} ghost succeeded: " + run.Describe());
            Assert.Contains("topic 'ghost' does not exist", run.StandardError, StringComparison.Ordinal);
            Assert.Null(broker.Core.Metadata.Find("ghost"));
        }
    }
}
