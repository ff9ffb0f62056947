using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests;

public sealed class InventoryExampleTests(ITestOutputHelper output) : IDisposable
{
    private const int OrderCount = 3_000;
    private const int OrderPartitions = 3;
    private const int KillCount = 5;
    private const long InitialStock = 1_000_000;
    private static readonly string[] Skus = ["A", "B", "C"];
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(60);
    private const int FinalRestartsMax = 3;
    private static readonly TimeSpan FeedDuration = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan FeedTimeout = TimeSpan.FromSeconds(60);

    private static readonly Dictionary<string, string> ServiceEnvironment = new(StringComparer.Ordinal)
    {
        ["KAFKAJS_NO_PARTITIONER_WARNING"] = "1",
        ["INVENTORY_TRANSACTION_TIMEOUT_MS"] = "5000",
        ["INVENTORY_SESSION_TIMEOUT_MS"] = "2000",
        ["INVENTORY_MAX_BYTES_PER_PARTITION"] = "2048",
    };

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-inventory-");
    private readonly Dictionary<int, long> _committedNext = [];

    // Proves the examples/inventory service is exactly-once across crashes: 3,000 orders over 3 partitions are
    // processed by the kafkajs consume-transform-produce service (one transaction per batch: stock decrements +
    // sendOffsets) while it is SIGKILLed 5 times at seeded random moments and restarted with the same transactional
    // id; a read_committed kcat then sees every order's decrement exactly once, and the stock adds up to the cent.
    [Fact]
    public async Task InventoryServiceIsExactlyOnceAcrossKillMinus9Restarts()
    {
        var elapsed = Stopwatch.StartNew();
        await using var broker = await StandaloneBroker.StartAsync(
            Path.Combine(_work.FullName, "data"),
            FreePort.Pick(),
            new Dictionary<string, string>
            {
                ["group.min.session.timeout.ms"] = "1000",
                ["transaction.max.timeout.ms"] = "30000",
                ["auto.create.topics.enable"] = "false",
            });
        await CreateTopicAsync(broker, "orders", OrderPartitions);
        await CreateTopicAsync(broker, "stock-changes", 1);

        var random = new Random(20_240_611);
        var orders = Enumerable.Range(0, OrderCount).Select(id => (Id: id, Sku: Skus[random.Next(Skus.Length)], Quantity: random.Next(1, 21))).ToList();
        var ordersFile = Path.Combine(_work.FullName, "orders.jsonl");
        File.WriteAllLines(ordersFile, orders.Select(o => string.Create(CultureInfo.InvariantCulture, $"{{\"orderId\":{o.Id},\"sku\":\"{o.Sku}\",\"quantity\":{o.Quantity}}}")));

        // Orders keep arriving (at a steady rate, over about as long as the kills take) while the service is killed.
        await using var feeder = NodeRunner.Start("inventory-orders.mjs", broker.BootstrapServers, ordersFile, OrderPartitions.ToString(CultureInfo.InvariantCulture), FeedDuration.TotalMilliseconds.ToString(CultureInfo.InvariantCulture));

        var killRandom = new Random(7);
        var killedMidWork = 0;
        for (var kill = 1; kill <= KillCount; kill++)
        {
            await using var service = StartService(broker);
            var delay = TimeSpan.FromMilliseconds(killRandom.Next(500, 3001));
            await Task.Delay(delay);
            Assert.False(service.HasExited, $"the service ended on its own before kill {kill}\n{service.Describe()}");
            await service.KillAsync();
            var processed = Record(service);
            killedMidWork += processed < OrderCount ? 1 : 0;
            output.WriteLine($"kill {kill} after {delay.TotalMilliseconds} ms: {processed} orders committed so far");
        }

        Assert.True(killedMidWork >= 2, $"only {killedMidWork} of {KillCount} kills landed before the work was done; the test would prove little");

        var fed = await feeder.WaitForExitAsync(FeedTimeout);
        Assert.True(fed.ExitCode == 0, "feeding the orders failed: " + fed.Describe());
        output.WriteLine($"{OrderCount} orders fed after {elapsed.Elapsed.TotalSeconds:F1} s");

        // Let it run until a read_committed reader sees a decrement for every order (the "committed" lines cannot tell:
        // a kill between a commit and its line loses the line, and a restarted service has nothing left to say).
        var deadline = DateTime.UtcNow + FinishTimeout;
        var finished = false;
        for (var start = 0; !finished; start++)
        {
            Assert.True(start <= FinalRestartsMax, $"the service ended {start} times without finishing");
            await using var service = StartService(broker);
            while (!finished && !service.HasExited)
            {
                Assert.True(DateTime.UtcNow < deadline, $"not every order was processed after {FinishTimeout.TotalSeconds} s\n{service.Describe()}");
                await Task.Delay(TimeSpan.FromMilliseconds(500));
                finished = (await ReadStockChangesAsync(broker)).Select(c => c.Id).Distinct().Count() == OrderCount;
            }

            await service.KillAsync();
            Record(service);
            if (!finished)
            {
                output.WriteLine($"service ended on its own: {service.Describe()}");
            }
        }

        // The service is gone: what read_committed sees now is final.
        var changes = await ReadStockChangesAsync(broker);
        output.WriteLine($"all orders processed after {elapsed.Elapsed.TotalSeconds:F1} s; committed next offsets seen: {string.Join(", ", _committedNext.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}"))}");

        var duplicates = changes.GroupBy(c => c.Id).Where(g => g.Count() > 1).Select(g => g.Key).Take(10).ToList();
        Assert.True(duplicates.Count == 0, $"orders decremented more than once: {string.Join(", ", duplicates)} (of {changes.Count} records)");
        var missing = orders.Select(o => o.Id).Except(changes.Select(c => c.Id)).Take(10).ToList();
        Assert.True(missing.Count == 0, $"orders never decremented: {string.Join(", ", missing)} (of {changes.Count} records)");
        Assert.Equal(OrderCount, changes.Count);
        foreach (var sku in Skus)
        {
            var stock = InitialStock + changes.Where(c => c.Sku == sku).Sum(c => c.Delta);
            Assert.Equal(InitialStock - orders.Where(o => o.Sku == sku).Sum(o => (long)o.Quantity), stock);
        }

        output.WriteLine($"done after {elapsed.Elapsed.TotalSeconds:F1} s");
    }

    private async Task<List<(int Id, string Sku, long Delta)>> ReadStockChangesAsync(StandaloneBroker broker)
    {
        var stockFile = Path.Combine(_work.FullName, "stock-changes.json");
        var read = await KcatRunner.RunAsync(["-C", "-b", broker.BootstrapServers, "-t", "stock-changes", "-o", "beginning", "-e", "-J", "-q", "-X", "isolation.level=read_committed"], stockFile);
        Assert.True(read.ExitCode == 0, "kcat read_committed failed: " + read.Describe());
        return [.. File.ReadLines(stockFile).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<KcatMessage>(l)!.Payload!)
            .Select(p => JsonNode.Parse(p)!)
            .Select(e => (e["orderId"]!.GetValue<int>(), e["sku"]!.GetValue<string>(), e["delta"]!.GetValue<long>()))];
    }

    private static async Task CreateTopicAsync(StandaloneBroker broker, string topic, int partitions)
    {
        var result = await ProcessRunner.RunAsync(
            StandaloneBroker.DotnetHost,
            [RepositoryPaths.TributaryDll, "topics", "create", topic, "--partitions", partitions.ToString(CultureInfo.InvariantCulture), "--bootstrap", broker.BootstrapServers],
            CliTimeout);
        Assert.True(result.ExitCode == 0, $"creating {topic} failed: " + result.Describe());
    }

    private static ChildProcess StartService(StandaloneBroker broker)
    {
        var script = Path.Combine(RepositoryPaths.Root, "examples", "inventory", "inventory-service.mjs");
        if (!File.Exists(Path.Combine(RepositoryPaths.InteropJs, "node_modules", "kafkajs", "package.json")))
        {
            throw new InvalidOperationException($"kafkajs is not installed: run `npm ci` in {RepositoryPaths.InteropJs} (test.sh does)");
        }

        return ChildProcess.Start("node", [script, broker.BootstrapServers], workingDirectory: Path.GetDirectoryName(script), environment: ServiceEnvironment);
    }

    /// <summary>Folds the service's "committed" lines into the next offset per partition; returns the orders committed so far.</summary>
    private long Record(ChildProcess service)
    {
        foreach (var line in service.StandardOutput.Split('\n'))
        {
            if (!line.StartsWith("{\"committed\"", StringComparison.Ordinal))
            {
                continue;
            }

            using var json = TryParse(line);
            if (json is null)
            {
                continue;
            }

            var committed = json.RootElement.GetProperty("committed");
            var partition = committed.GetProperty("partition").GetInt32();
            var next = committed.GetProperty("next").GetInt64();
            _committedNext[partition] = Math.Max(next, _committedNext.GetValueOrDefault(partition));
        }

        return Processed();
    }

    private long Processed() => _committedNext.Values.Sum();

    // The last line of a killed process can be cut short.
    private static JsonDocument? TryParse(string line)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _work.Delete(recursive: true);
}
