// Share-group figure (issue #33, not in CI): records per second consumed from a 2-partition topic when every record
// costs 1 ms of processing, by a classic consumer group (Confluent.Kafka; at most 2 consumers get a partition) and by
// 1, 4 and 16 share consumers (librdkafka's share consumer through P/Invoke). One embedded broker, one topic, one
// invocation; each run uses its own group on the same records. Processing is a 1 ms sleep, as for I/O-bound work, so
// the 2-vCPU machine is not what limits the rate. Bounded: fixed run length, fixed number of runs.
// Run: dotnet run -c Release --project bench/Tributary.ShareBench [-- RESULTS_DIR]
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Tributary.Server;
using Tributary.ShareBench;
using Tributary.TestSupport;

const string Topic = "work";
const int RecordCount = 400_000;
const int RecordsPerProduceBatch = 50;
var warmup = TimeSpan.FromSeconds(5);
var measured = TimeSpan.FromSeconds(10);
var resultsDirectory = args.Length > 0 ? args[0] : Path.Combine("bench", "results");

Librdkafka.EnsureLoaded();
var options = new TributaryBrokerOptions
{
    Topics = { [Topic] = 2 },
    // Kafka's maximum, so that 16 consumers × 500 records per fetch are not held back by the in-flight limit.
    // No initial rebalance delay, so that a classic group has settled within the warm-up.
    Config =
    {
        ["group.share.partition.max.record.locks"] = "10000",
        ["group.share.heartbeat.interval.ms"] = "500",
        ["group.initial.rebalance.delay.ms"] = "0",
    },
};
await using var broker = await TributaryBroker.StartAsync(options);
Produce(broker.BootstrapServers);

(string Kind, int Consumers)[] runs = [("classic", 1), ("classic", 2), ("classic", 4), ("share", 1), ("share", 4), ("share", 16)];
var results = new List<RunResult>();
foreach (var (kind, consumers) in runs)
{
    var group = $"{kind}-{consumers}";
    if (kind == "share")
    {
        broker.Core.Metadata.SetGroupConfigs(group, new Dictionary<string, string> { ["share.auto.offset.reset"] = "earliest" });
    }

    var result = Run(kind, consumers, group);
    results.Add(result);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind,-8} {consumers,3} consumers: {result.RecordsPerSecond,8:N0} records/s, {result.ActiveConsumers} of them busy"));
}

Console.WriteLine();
Console.WriteLine("| group | consumers | consumers busy in the window | records/s |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var r in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Kind} | {r.Consumers} | {r.ActiveConsumers} | {r.RecordsPerSecond:N0} |"));
}

Directory.CreateDirectory(resultsDirectory);
var svgPath = Path.Combine(resultsDirectory, "share-groups.svg");
File.WriteAllText(svgPath, BarChart.Render(results));
Console.WriteLine($"chart: {svgPath}");

void Produce(string bootstrap)
{
    // Small batches: a share fetch acquires whole batches, so many small ones spread records over many consumers.
    var config = new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 5, BatchNumMessages = RecordsPerProduceBatch, Acks = Acks.Leader };
    using var producer = new ProducerBuilder<Null, string>(config).Build();
    var value = new string('x', 100);
    for (var i = 0; i < RecordCount; i++)
    {
        while (true)
        {
            try
            {
                producer.Produce(new TopicPartition(Topic, i % 2), new Message<Null, string> { Value = value });
                break;
            }
            catch (ProduceException<Null, string> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    producer.Flush(TimeSpan.FromSeconds(60));
}

RunResult Run(string kind, int consumers, string group)
{
    var counts = new long[consumers];
    using var stop = new CancellationTokenSource();
    var threads = Enumerable.Range(0, consumers).Select(i => new Thread(() =>
    {
        if (kind == "share")
        {
            ConsumeShared(broker.BootstrapServers, group, i, counts, stop.Token);
        }
        else
        {
            ConsumeClassic(broker.BootstrapServers, group, i, counts, stop.Token);
        }
    })
    { IsBackground = true, Name = $"{group}-{i}" }).ToList();
    threads.ForEach(t => t.Start());

    Thread.Sleep(warmup);
    var before = Enumerable.Range(0, consumers).Select(i => Interlocked.Read(ref counts[i])).ToList();
    var clock = Stopwatch.StartNew();
    Thread.Sleep(measured);
    var after = Enumerable.Range(0, consumers).Select(i => Interlocked.Read(ref counts[i])).ToList();
    var elapsed = clock.Elapsed;
    stop.Cancel();
    threads.ForEach(t => t.Join(TimeSpan.FromSeconds(30)));
    // Busy: consumed during the measured window (a classic member may hold a partition briefly while the group forms).
    return new RunResult(kind, consumers, after.Where((c, i) => c > before[i]).Count(), (after.Sum() - before.Sum()) / elapsed.TotalSeconds);
}

static void ConsumeShared(string bootstrap, string group, int index, long[] counts, CancellationToken stop)
{
    using var consumer = new ShareConsumer(bootstrap, group, Topic, new Dictionary<string, string> { ["client.id"] = $"share-{index}", ["log_level"] = "3" });
    while (!stop.IsCancellationRequested)
    {
        foreach (var record in consumer.Poll(100))
        {
            Thread.Sleep(1);
            consumer.Acknowledge(record, ShareConsumer.Accept);
            Interlocked.Increment(ref counts[index]);
        }
    }
}

static void ConsumeClassic(string bootstrap, string group, int index, long[] counts, CancellationToken stop)
{
    var config = new ConsumerConfig { BootstrapServers = bootstrap, GroupId = group, AutoOffsetReset = AutoOffsetReset.Earliest, ClientId = $"classic-{index}" };
    using var consumer = new ConsumerBuilder<Ignore, string>(config).Build();
    consumer.Subscribe(Topic);
    while (!stop.IsCancellationRequested)
    {
        if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null)
        {
            Thread.Sleep(1);
            Interlocked.Increment(ref counts[index]);
        }
    }

    consumer.Close();
}
