using System.Globalization;
using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class ExactlyOnceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(150);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-eos-");

    // Proves librdkafka's idempotent producer works against the broker: kcat with enable.idempotence=true sends 20,000
    // messages over 3 partitions (InitProducerId, sequenced batches, several in flight); every message is then there
    // exactly once, in send order within its partition.
    [Fact]
    public async Task KcatIdempotentProducerDeliversEveryMessageExactlyOnce()
    {
        const int count = 20_000;
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["idem"] = 3 } });
        var input = Path.Combine(_work.FullName, "input.txt");
        File.WriteAllLines(input, Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"k{i % 97}\tv{i}")));

        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "idem", input, ["-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms=5", "-X", "batch.num.messages=500"]);

        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "idem", Path.Combine(_work.FullName, "out.json"));
        Assert.Equal(count, messages.Count);
        Assert.Equal(count, messages.Select(m => m.Payload).Distinct().Count());
        foreach (var partition in messages.GroupBy(m => m.Partition))
        {
            var sequence = partition.OrderBy(m => m.Offset).Select(m => int.Parse(m.Payload![1..], CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(sequence.Order(), sequence);
        }
    }

    // Proves kafkajs transactions end to end: send + sendOffsets + commit, send + abort, send + commit; a read_committed
    // kafkajs consumer sees exactly the committed messages in order and none of the aborted ones, a read_uncommitted
    // one sees all 13, and the offsets sent in the committed transaction reached the group.
    [Fact]
    public async Task KafkaJsTransactionsCommitAbortAndReadCommitted()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions());

        var run = await NodeRunner.RunAsync("transactions.mjs", NodeTimeout, broker.BootstrapServers, "commit-abort", "eos");

        using var json = NodeRunner.LastJsonLine(run);
        var result = json.RootElement;
        Assert.True(run.ExitCode == 0 && !result.TryGetProperty("error", out _), "kafkajs script failed: " + run.Describe());
        Assert.Equal(["c-0", "c-2", "c-4", "d-0", "d-2", "c-1", "c-3", "d-1"], Strings(result.GetProperty("committed")));
        var uncommitted = Strings(result.GetProperty("uncommitted"));
        Assert.Equal(13, uncommitted.Count);
        Assert.Contains("a-0", uncommitted);
        var offset = Assert.Single(result.GetProperty("offsets").EnumerateArray(), p => p.GetProperty("partition").GetInt32() == 0);
        Assert.Equal("42", offset.GetProperty("offset").GetString());
    }

    // Proves an open transaction does not outlive a kill -9: a kafkajs producer commits before-*, opens a transaction
    // with a 3 s timeout and sends open-*; the standalone broker is SIGKILLed and restarted on the same data; the
    // transaction state is reloaded from __transaction_state, the transaction is aborted once its timeout has passed,
    // and a read_committed consumer then sees before-* and a later committed transaction's after-*, never open-*.
    [Fact]
    public async Task OpenTransactionIsAbortedAfterKillMinus9AndReadCommittedContinues()
    {
        await using var broker = await StandaloneBroker.StartAsync(Path.Combine(_work.FullName, "data"), FreePort.Pick());
        await using (var hanging = NodeRunner.Start("transactions.mjs", broker.BootstrapServers, "hang", "crash-tx"))
        {
            await hanging.WaitForLineAsync(l => l.StartsWith("{\"open\"", StringComparison.Ordinal), NodeTimeout);
            await broker.KillAsync();
            await hanging.KillAsync();
        }

        await broker.StartAsync();
        var run = await NodeRunner.RunAsync("transactions.mjs", NodeTimeout, broker.BootstrapServers, "after", "crash-tx", "6");
        output.WriteLine(run.Describe());

        using var json = NodeRunner.LastJsonLine(run);
        var result = json.RootElement;
        Assert.True(run.ExitCode == 0 && !result.TryGetProperty("error", out _), "kafkajs script failed: " + run.Describe());
        Assert.Equal(["before-0", "before-2", "after-0", "after-2", "before-1", "after-1"], Strings(result.GetProperty("committed")));
    }

    private static List<string> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    public void Dispose() => _work.Delete(recursive: true);
}
