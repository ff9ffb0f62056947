using System.Globalization;
using Confluent.Kafka;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// The clients during the faults, each operation recorded in a <see cref="History"/>: Confluent.Kafka idempotent
/// acks=all producers, each sending unique values to partitions of its own, a kcat and a kafkajs
/// idempotent acks=all producer on one partition each (<see cref="KcatProducer"/>, <see cref="KafkajsProducer"/>),
/// and two read_committed members of a consumer group, Confluent.Kafka's and kafkajs's (<see cref="KafkajsConsumer"/>),
/// that record every record they read and commit their positions every few reads.
/// Every producer lives through all the faults: none is created after a failover.
/// </summary>
public sealed class ChaosWorkload : IAsyncDisposable
{
    public const string Group = "chaos";
    private const string ConfluentMember = "c1";
    private const string KafkajsMember = "k1";
    private const int InFlightMax = 8;
    private const int CommitEveryReads = 50;
    private static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(10);

    private readonly string _bootstrap;
    private readonly string _topic;
    private readonly string _logDirectory;
    private readonly int _sendsMax;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];

    /// <param name="logDirectory">Where each producer's librdkafka debug log goes (producer-pN.log).</param>
    public ChaosWorkload(string bootstrap, string topic, int producers, int partitionsPerProducer, int sendsMax, string logDirectory)
    {
        _bootstrap = bootstrap;
        _logDirectory = logDirectory;
        _topic = topic;
        _sendsMax = sendsMax;
        for (var p = 0; p < producers; p++)
        {
            var partitions = Enumerable.Range(p * partitionsPerProducer, partitionsPerProducer).ToArray();
            var name = "p" + (p + 1).ToString(CultureInfo.InvariantCulture);
            ProducerNames.Add(name);
            _tasks.Add(Task.Run(() => ProduceAsync(name, partitions)));
        }

        // kcat and kafkajs, each on a partition of its own after the Confluent.Kafka producers'.
        var kcatPartition = producers * partitionsPerProducer;
        ProducerNames.Add("kcat");
        _tasks.Add(Task.Run(() => KcatProducer.RunAsync(bootstrap, topic, "kcat", [kcatPartition], sendsMax, History, CountError, logDirectory, _stop.Token)));
        ProducerNames.Add("kafkajs");
        _tasks.Add(Task.Run(() => KafkajsProducer.RunAsync(bootstrap, topic, "kafkajs", [kcatPartition + 1], sendsMax, History, CountError,
            Path.Combine(logDirectory, "producer-kafkajs.log"), _stop.Token)));

        _tasks.Add(Task.Factory.StartNew(Consume, TaskCreationOptions.LongRunning));
        _tasks.Add(Task.Run(() => KafkajsConsumer.RunAsync(bootstrap, topic, Group, KafkajsMember, History, CountError,
            Path.Combine(logDirectory, "consumer-k1.log"), _stop.Token)));
    }

    /// <summary>Partitions the producers write besides the Confluent.Kafka producers' (kcat's and kafkajs's).</summary>
    public const int OtherProducerPartitions = 2;

    /// <summary>Every producer's process name in the history.</summary>
    public List<string> ProducerNames { get; } = [];

    /// <summary>Every consumer-group member's process name in the history.</summary>
    public IReadOnlyList<string> ConsumerNames { get; } = [ConfluentMember, KafkajsMember];

    public History History { get; } = new();

    /// <summary>Producer errors by reason, for the test's output.</summary>
    public Dictionary<string, int> Errors { get; } = [];

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
    }

    private async Task ProduceAsync(string name, int[] partitions)
    {
        // librdkafka's debug log (connections, metadata, requests, idempotence state) to a file, to tell after a
        // failed run why a producer stopped getting acknowledgements.
        using var debugLog = new StreamWriter(Path.Combine(_logDirectory, $"producer-{name}.log"));
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = _bootstrap,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            RequestTimeoutMs = 5000,
            MessageTimeoutMs = 60000,
            ClientId = name,
            Debug = "broker,topic,metadata,msg,protocol,eos",
        }).SetLogHandler((_, m) =>
        {
            lock (debugLog)
            {
                debugLog.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {m.Level} {m.Facility} {m.Message}");
            }
        }).Build();
        using var inFlight = new SemaphoreSlim(InFlightMax);
        var sends = new List<Task>();
        for (var seq = 0; seq < _sendsMax && !_stop.IsCancellationRequested; seq++)
        {
            await inFlight.WaitAsync();
            var value = string.Create(CultureInfo.InvariantCulture, $"{name}-{seq}");
            var partition = partitions[seq % partitions.Length];
            var id = History.Invoke(name, OperationKind.Produce, value, partition);
            sends.Add(SendAsync(producer, id, value, partition).ContinueWith(_ => inFlight.Release(), TaskScheduler.Default));
            try
            {
                await Task.Delay(SendInterval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await Task.WhenAll(sends);
        producer.Flush(TimeSpan.FromSeconds(5));
    }

    private async Task SendAsync(IProducer<string, string> producer, long id, string value, int partition)
    {
        try
        {
            var result = await producer.ProduceAsync(new TopicPartition(_topic, partition), new Message<string, string> { Key = value, Value = value });
            History.Ok(id, result.Partition.Value, result.Offset.Value);
        }
        catch (ProduceException<string, string> e)
        {
            CountError(e.Error.Code.ToString());

            // librdkafka knows when a message never left it (NotPersisted); anything else may have been written.
            if (e.DeliveryResult.Status == PersistenceStatus.NotPersisted)
            {
                History.Fail(id, e.Error.Reason);
            }
            else
            {
                History.Unknown(id, e.Error.Reason);
            }
        }
    }

    private void CountError(string reason)
    {
        lock (Errors)
        {
            Errors[reason] = Errors.GetValueOrDefault(reason) + 1;
        }
    }

    private void Consume()
    {
        const string member = ConfluentMember;
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = Group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe(_topic);
        var reads = 0;
        while (!_stop.IsCancellationRequested)
        {
            ConsumeResult<string, string>? result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            }
            catch (ConsumeException e)
            {
                CountError("consume " + e.Error.Code);
                continue;
            }

            if (result is null || result.IsPartitionEOF)
            {
                continue;
            }

            History.Read(member, result.Partition.Value, result.Offset.Value, result.Message.Value);
            if (++reads % CommitEveryReads == 0)
            {
                Commit(consumer, member);
            }
        }

        consumer.Close();
    }

    // The next offset of each assigned partition, committed synchronously: ok, or unknown (it may have been applied).
    private void Commit(IConsumer<string, string> consumer, string member)
    {
        var positions = consumer.Assignment.Select(tp => new TopicPartitionOffset(tp, consumer.Position(tp))).Where(p => p.Offset.Value >= 0).ToList();
        var ids = positions.Select(p => History.Invoke(member, OperationKind.Commit, Group, p.Partition.Value, p.Offset.Value)).ToList();
        try
        {
            consumer.Commit(positions);
            ids.ForEach(id => History.Ok(id));
        }
        catch (KafkaException e)
        {
            CountError("commit " + e.Error.Code);
            ids.ForEach(id => History.Unknown(id, e.Error.Reason));
        }
    }

    /// <summary>After the workload: the group's committed offsets read back, recorded as committed-offset reads.</summary>
    public void ReadCommitted(int partitions)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = _bootstrap, GroupId = Group, EnableAutoCommit = false }).Build();
        var all = Enumerable.Range(0, partitions).Select(p => new TopicPartition(_topic, p)).ToList();
        var ids = all.ToDictionary(tp => tp.Partition.Value, tp => History.Invoke("final", OperationKind.CommittedRead, Group, tp.Partition.Value));
        foreach (var committed in consumer.Committed(all, TimeSpan.FromSeconds(30)))
        {
            History.Ok(ids[committed.Partition.Value], offset: Math.Max(committed.Offset.Value, 0));
        }
    }

    /// <summary>Every partition from its start to its high watermark, read_committed, by a consumer outside any group.</summary>
    public Dictionary<int, IReadOnlyList<LogEntry>> ReadAll(int partitions)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = "chaos-final",
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        var log = new Dictionary<int, IReadOnlyList<LogEntry>>();
        for (var p = 0; p < partitions; p++)
        {
            var tp = new TopicPartition(_topic, p);
            var end = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High.Value;
            var entries = new List<LogEntry>();
            consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (end > 0 && (entries.Count == 0 || entries[^1].Offset < end - 1))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"partition {p}: read to {(entries.Count > 0 ? entries[^1].Offset : -1)} of {end} within 60 s");
                }

                if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { IsPartitionEOF: false } r)
                {
                    entries.Add(new LogEntry(r.Offset.Value, r.Message.Value));
                }
            }

            log[p] = entries;
        }

        return log;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }
}
