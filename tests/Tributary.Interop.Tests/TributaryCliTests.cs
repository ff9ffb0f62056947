using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

/// <summary>
/// The built <c>tributary</c> executable against a real broker: the topics commands, and what a user sees when the
/// command line is wrong (exit code 2, one line on stderr, no stack trace) or the operation fails (exit code 1).
/// </summary>
public sealed class TributaryCliTests
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);

    // Proves list names every topic (one a line when redirected, so grep -x works) and describe shows each partition's
    // leader, offsets and size on disk (DescribeLogDirs) and each config with its source (DescribeConfigs).
    [Fact]
    public async Task TopicsListAndDescribeShowPartitionsOffsetsSizesAndConfigSources()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["alpha"] = 2;
        options.Topics["beta"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await WireProbe.ProduceAsync(client, "alpha", WireProbe.Batch("one", "two", "three"));
        }

        var list = await RunAsync(broker, "topics", "list");
        Assert.Equal(["alpha", "beta"], list.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var describe = await RunAsync(broker, "topics", "describe", "alpha");
        var lines = describe.Split('\n');
        Assert.StartsWith("topic alpha: id ", lines[0], StringComparison.Ordinal);
        Assert.Equal("PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tLOG-END\tSIZE", lines[1]);
        Assert.StartsWith("0\t0\t0\t0\t0\t3\t", lines[2], StringComparison.Ordinal);
        Assert.Equal("1\t0\t0\t0\t0\t0\t0", lines[3]);
        Assert.True(long.Parse(lines[2].Split('\t')[6], System.Globalization.CultureInfo.InvariantCulture) > 0, describe);
        Assert.Contains("\ncleanup.policy\tdelete\tDEFAULT_CONFIG\n", describe, StringComparison.Ordinal);
    }

    // Proves create, alter and add-partitions change the broker as asked, and --output json is one JSON document
    // that parses, with the configs' sources.
    [Fact]
    public async Task CreateAlterAndAddPartitionsChangeTheTopicAndJsonOutputParses()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());

        await RunAsync(broker, "topics", "create", "orders", "--partitions", "2", "--config", "retention.ms=1000000");
        await RunAsync(broker, "topics", "alter", "orders", "--add-config", "cleanup.policy=compact", "--delete-config", "retention.ms");
        await RunAsync(broker, "topics", "add-partitions", "orders", "--partitions", "3");

        var topic = broker.Core.Metadata.Find("orders");
        Assert.NotNull(topic);
        Assert.Equal(3, topic.PartitionCount);
        Assert.Equal("compact", topic.Configs["cleanup.policy"]);
        Assert.False(topic.Configs.ContainsKey("retention.ms"));

        using var described = JsonDocument.Parse(await RunAsync(broker, "topics", "describe", "orders", "--output", "json"));
        var root = described.RootElement;
        Assert.Equal("orders", root.GetProperty("name").GetString());
        Assert.Equal([0, 1, 2], root.GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("partition").GetInt32()));
        var configs = root.GetProperty("configs").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => (Value: c.GetProperty("value").GetString(), Source: c.GetProperty("source").GetString()));
        Assert.Equal(("compact", "DYNAMIC_TOPIC_CONFIG"), configs["cleanup.policy"]);
        Assert.Equal("DEFAULT_CONFIG", configs["retention.ms"].Source);

        using var listed = JsonDocument.Parse(await RunAsync(broker, "topics", "list", "-o", "json"));
        var only = Assert.Single(listed.RootElement.EnumerateArray());
        Assert.Equal(3, only.GetProperty("partitions").GetInt32());
        Assert.Equal(topic.Id, only.GetProperty("topicId").GetGuid());
    }

    // Proves describing, altering, growing or deleting a missing topic fails naming it, with exit code 1, and creates
    // nothing although the broker auto-creates topics for Metadata requests that allow it.
    [Fact]
    public async Task CommandsOnAMissingTopicFailWithoutCreatingIt()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());
        Assert.True(broker.Config.AutoCreateTopicsEnable);

        string[][] commands =
        [
            ["topics", "describe", "ghost"],
            ["topics", "delete", "ghost"],
            ["topics", "alter", "ghost", "--add-config", "retention.ms=1000"],
            ["topics", "add-partitions", "ghost", "--partitions", "4"],
        ];
        foreach (var command in commands)
        {
            var run = await RunRawAsync([.. command, "--bootstrap", broker.BootstrapServers]);
            Assert.True(run.ExitCode == 1, $"tributary {string.Join(' ', command)}: " + run.Describe());
            Assert.Equal("tributary: topic 'ghost' does not exist", run.StandardError.TrimEnd());
            Assert.Null(broker.Core.Metadata.Find("ghost"));
        }
    }

    // Proves every bad command line a user reported ends with one line on stderr naming the problem, exit code 2,
    // nothing on stdout and no stack trace, and that a misspelt option is refused rather than ignored.
    [Fact]
    public async Task BadCommandLinesGiveOneLineAndExitCode2()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());
        var bootstrap = broker.BootstrapServers;
        (string[] Arguments, string Expected)[] cases =
        [
            (["topics", "create", "t1", "--partitions", "abc", "--bootstrap", bootstrap], "--partitions 'abc': expected a whole number"),
            (["topics", "create", "t1", "--partitions", "99999999999", "--bootstrap", bootstrap], "--partitions '99999999999': expected a whole number"),
            (["topics", "create", "t1", "--partitions", "0", "--bootstrap", bootstrap], "--partitions '0': expected a whole number from 1"),
            (["topics", "list", "--bootstrap", "127.0.0.1:abc"], "--bootstrap '127.0.0.1:abc': expected HOST:PORT"),
            (["topics", "list", "--bootstrap", "127.0.0.1:70000"], "--bootstrap '127.0.0.1:70000': expected HOST:PORT"),
            (["topics", "list", "--bootstrap", "localhost"], "--bootstrap 'localhost': expected HOST:PORT"),
            (["topics", "create", "t1", "--partition", "3", "--bootstrap", bootstrap], "'--partition'"),
            (["topics", "create", "t1", "--config", "retention.ms", "--bootstrap", bootstrap], "--config 'retention.ms': expected KEY=VALUE"),
            (["topics", "list", "--output", "xml"], "xml"),
            (["topcs", "list"], "'topcs'"),
            (["topics"], "Required command"),
            (["groups", "describe"], "Required argument 'group'"),
            (["groups", "reset-offsets", "g", "--topic", "t1", "--bootstrap", bootstrap], "give exactly one of --to-earliest"),
            (["groups", "reset-offsets", "g", "--topic", "t1", "--to-offset", "x", "--bootstrap", bootstrap], "--to-offset 'x'"),
            (["groups", "reset-offsets", "g", "--topic", "t1", "--to-datetime", "yesterday", "--bootstrap", bootstrap], "--to-datetime 'yesterday'"),
            (["topics", "alter", "t1", "--bootstrap", bootstrap], "give at least one --add-config or --delete-config"),
        ];
        foreach (var (arguments, expected) in cases)
        {
            var run = await RunRawAsync(arguments);
            var what = $"tributary {string.Join(' ', arguments)}: {run.Describe()}";
            Assert.True(run.ExitCode == 2, what);
            AssertOneLine(run, what);
            Assert.Contains(expected, run.StandardError, StringComparison.Ordinal);
            Assert.Equal("", run.StandardOutput);
        }

        Assert.Null(broker.Core.Metadata.Find("t1"));
    }

    // Proves a failure at run time (no broker listening) is one line and exit code 1, not a socket exception's trace.
    [Fact]
    public async Task AnUnreachableBrokerIsOneLineAndExitCode1()
    {
        var port = FreePort.Pick();
        var run = await RunRawAsync(["topics", "list", "--bootstrap", $"127.0.0.1:{port}"]);
        Assert.True(run.ExitCode == 1, run.Describe());
        AssertOneLine(run, run.Describe());
        Assert.StartsWith($"tributary: cannot reach the broker at 127.0.0.1:{port}", run.StandardError, StringComparison.Ordinal);
    }

    // Proves each command has its own help with examples, --version prints the version, and the [suggest] directive
    // that dotnet-suggest uses for tab completion completes subcommands.
    [Fact]
    public async Task HelpIsPerCommandVersionIsPrintedAndCompletionSuggestsSubcommands()
    {
        var helps = new List<string>();
        foreach (var command in new[] { new[] { "--help" }, ["topics", "--help"], ["topics", "create", "--help"], ["topics", "describe", "--help"], ["groups", "reset-offsets", "--help"], ["serve", "--help"] })
        {
            var run = await RunRawAsync(command);
            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains("Example", run.StandardOutput, StringComparison.Ordinal);
            helps.Add(run.StandardOutput);
        }

        Assert.Equal(helps.Count, helps.Distinct().Count());
        Assert.Contains("tributary topics create <topic> [options]", helps[2], StringComparison.Ordinal);
        Assert.Contains("--partitions <N>", helps[2], StringComparison.Ordinal);
        Assert.DoesNotContain("--partitions", helps[3], StringComparison.Ordinal);
        Assert.Contains("dotnet-suggest", helps[0], StringComparison.Ordinal);

        var version = await RunRawAsync(["--version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.StandardOutput);

        // The cursor at position 8, after "topics d": System.CommandLine offers the subcommands containing "d".
        var suggest = await RunRawAsync(["[suggest:8]", "topics d"]);
        Assert.Equal(0, suggest.ExitCode);
        var suggested = suggest.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("delete", suggested);
        Assert.Contains("describe", suggested);
        Assert.DoesNotContain("list", suggested);
        Assert.DoesNotContain("create", suggested);
    }

    private static void AssertOneLine(ProcessResult run, string what)
    {
        Assert.True(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 1, what);
        Assert.True(run.StandardError.StartsWith("tributary: ", StringComparison.Ordinal), what);
        Assert.DoesNotContain("   at ", run.StandardError + run.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.StandardError, StringComparison.Ordinal);
    }

    private static Task<ProcessResult> RunRawAsync(string[] arguments) =>
        ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, .. arguments], CliTimeout);

    private static async Task<string> RunAsync(TributaryBroker broker, params string[] arguments)
    {
        var run = await RunRawAsync([.. arguments, "--bootstrap", broker.BootstrapServers]);
        Assert.True(run.ExitCode == 0, $"tributary {string.Join(' ', arguments)} failed: " + run.Describe());
        return run.StandardOutput;
    }
}
