using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// The transactional part of the fault workload, on a topic of its own (<see cref="Topic"/>, two partitions) with a
/// history of its own: one Confluent.Kafka transactional producer runs transactions of <see cref="RecordsPerTransaction"/>
/// records spread over both partitions, commits most and aborts every <see cref="AbortEvery"/>th on purpose, and one
/// read_committed consumer (assigned, outside any group) records every record it reads. Each produce and each end is
/// recorded: a commit that returned is Ok, an abort that returned Fail, a commit whose outcome the client could not
/// tell (it timed out, or the producer failed fatally after it was sent) Unknown. Recovery follows Confluent.Kafka's
/// documented rules: a retriable commit error is retried, an abortable one aborts, a fatal one replaces the producer,
/// whose InitTransactions fences the old one and aborts its open transaction.
/// </summary>
public sealed class ChaosTransactions : IAsyncDisposable
{
    public const string Topic = "chaos-tx";
    public const int Partitions = 2;
    private const string Producer = "t1";
    private const string Consumer = "tc1";
    private const int RecordsPerTransaction = 4;
    private const int AbortEvery = 5;
    private const int CommitAttemptsMax = 6;
    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan InitTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TransactionInterval = TimeSpan.FromMilliseconds(20);

    private readonly string _bootstrap;
    private readonly string _logDirectory;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private int _producerIncarnation;

    public ChaosTransactions(string bootstrap, string logDirectory)
    {
        _bootstrap = bootstrap;
        _logDirectory = logDirectory;
        _tasks.Add(Task.Factory.StartNew(RunTransactions, TaskCreationOptions.LongRunning));
        _tasks.Add(Task.Factory.StartNew(Consume, TaskCreationOptions.LongRunning));
    }

    public History History { get; } = new();

    /// <summary>Client errors by reason, for the test's output.</summary>
    public Dictionary<string, int> Errors { get; } = [];

    public static async Task CreateTopicAsync(BrokerProcessCluster cluster)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification
        {
            Name = Topic,
            NumPartitions = Partitions,
            ReplicationFactor = 3,
            Configs = new Dictionary<string, string> { ["min.insync.replicas"] = "2" },
        }]);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
    }

    /// <summary>Transactions committed (end Ok) that began at or after <paramref name="after"/>.</summary>
    public int CommittedSince(TimeSpan after) =>
        History.Operations.Count(o => o.Kind == OperationKind.TransactionEnd && o.Outcome == Outcome.Ok && o.Invoked >= after);

    /// <summary>The longest time between two transaction ends that returned, for the test's output: how long faults held transactions up.</summary>
    public TimeSpan LongestPauseBetweenEnds()
    {
        var ends = History.Operations.Where(o => o.Kind == OperationKind.TransactionEnd && o.Outcome is Outcome.Ok or Outcome.Fail && o.Completed is not null)
            .Select(o => o.Completed!.Value).Order().ToList();
        return ends.Zip(ends.Skip(1), (a, b) => b - a).DefaultIfEmpty().Max();
    }

    private IProducer<string, string> NewProducer(StreamWriter debugLog)
    {
        _producerIncarnation++;
        var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = _bootstrap,
            TransactionalId = "chaos-" + Producer,
            Acks = Acks.All,
            LingerMs = 5,
            RequestTimeoutMs = 5000,
            MessageTimeoutMs = 30000,
            TransactionTimeoutMs = 30000,
            ClientId = Producer + "-" + _producerIncarnation.ToString(CultureInfo.InvariantCulture),
            Debug = "broker,topic,metadata,msg,protocol,eos",
        }).SetLogHandler((_, m) =>
        {
            lock (debugLog)
            {
                debugLog.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {m.Level} {m.Name} {m.Facility} {m.Message}");
            }
        }).Build();

        // InitTransactions is retriable (a coordinator moving, etcd without quorum); anything else is a bug to see.
        while (true)
        {
            try
            {
                producer.InitTransactions(InitTimeout);
                return producer;
            }
            catch (KafkaRetriableException e) when (!_stop.IsCancellationRequested)
            {
                CountError("init " + e.Error.Code);
            }
        }
    }

    private void RunTransactions()
    {
        using var debugLog = new StreamWriter(Path.Combine(_logDirectory, $"producer-{Producer}.log"));
        var producer = NewProducer(debugLog);
        try
        {
            for (var n = 0; !_stop.IsCancellationRequested; n++)
            {
                var transaction = string.Create(CultureInfo.InvariantCulture, $"{Producer}-{n}");
                if (!RunTransaction(producer, transaction, abort: n % AbortEvery == AbortEvery - 1))
                {
                    producer.Dispose();
                    producer = NewProducer(debugLog);
                }

                _stop.Token.WaitHandle.WaitOne(TransactionInterval);
            }
        }
        catch (KafkaRetriableException) when (_stop.IsCancellationRequested)
        {
            // InitTransactions of a replacement producer was still retrying when the workload stopped.
            return;
        }

        producer.Dispose();
    }

    // One transaction, its produces and end recorded; false when the producer failed fatally and must be replaced.
    private bool RunTransaction(IProducer<string, string> producer, string transaction, bool abort)
    {
        try
        {
            producer.BeginTransaction();
        }
        catch (KafkaException e)
        {
            CountError("begin " + e.Error.Code);
            return false;
        }

        var sends = new List<Task>();
        for (var i = 0; i < RecordsPerTransaction; i++)
        {
            var value = string.Create(CultureInfo.InvariantCulture, $"{transaction}-{i}");
            var partition = i % Partitions;
            var id = History.Invoke(Producer, OperationKind.Produce, value, partition, transaction: transaction);
            sends.Add(SendAsync(producer, id, value, partition));
        }

        var end = History.Invoke(Producer, OperationKind.TransactionEnd, transaction: transaction);
        var commitSent = false;
        try
        {
            if (abort)
            {
                producer.AbortTransaction(EndTimeout);
                History.Fail(end, "aborted on purpose");
                return true;
            }

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    commitSent = true;
                    producer.CommitTransaction(EndTimeout);
                    History.Ok(end);
                    return true;
                }
                catch (KafkaRetriableException e) when (attempt < CommitAttemptsMax)
                {
                    // Confluent.Kafka: a retriable commit error (a timeout) may be retried with the same call.
                    CountError("commit " + e.Error.Code);
                }
            }
        }
        catch (KafkaTxnRequiresAbortException e)
        {
            // Abortable (a produce failed): the commit was refused before any EndTxn, so aborting decides it.
            CountError("abortable " + e.Error.Code);
            return Abort(producer, end, e.Error.Reason);
        }
        catch (KafkaException e)
        {
            // Fatal, or retriable past the attempts: the replacement producer's InitTransactions aborts the
            // transaction unless a commit already reached the coordinator, which the client cannot tell.
            CountError((e.Error.IsFatal ? "fatal " : "end ") + e.Error.Code);
            if (commitSent)
            {
                History.Unknown(end, e.Error.Reason);
            }
            else
            {
                History.Fail(end, e.Error.Reason);
            }

            return false;
        }
        finally
        {
            Task.WaitAll(sends);
        }
    }

    private bool Abort(IProducer<string, string> producer, long end, string reason)
    {
        try
        {
            producer.AbortTransaction(EndTimeout);
            History.Fail(end, reason);
            return true;
        }
        catch (KafkaException e)
        {
            CountError("abort " + e.Error.Code);
            History.Unknown(end, e.Error.Reason);
            return false;
        }
    }

    private async Task SendAsync(IProducer<string, string> producer, long id, string value, int partition)
    {
        try
        {
            var result = await producer.ProduceAsync(new TopicPartition(Topic, partition), new Message<string, string> { Key = value, Value = value });
            History.Ok(id, result.Partition.Value, result.Offset.Value);
        }
        catch (ProduceException<string, string> e)
        {
            CountError("produce " + e.Error.Code);
            if (e.DeliveryResult.Status == PersistenceStatus.NotPersisted)
            {
                History.Fail(id, e.Error.Reason);
            }
            else
            {
                History.Unknown(id, e.Error.Reason);
            }
        }
        catch (KafkaException e)
        {
            // Refused before it was queued (the producer in an error state).
            CountError("produce " + e.Error.Code);
            History.Fail(id, e.Error.Reason);
        }
    }

    private void Consume()
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = "chaos-tx",
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(Topic, p, Offset.Beginning)));
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } r)
                {
                    History.Read(Consumer, r.Partition.Value, r.Offset.Value, r.Message.Value);
                }
            }
            catch (ConsumeException e)
            {
                CountError("consume " + e.Error.Code);
            }
        }

        consumer.Close();
    }

    private void CountError(string reason)
    {
        lock (Errors)
        {
            Errors[reason] = Errors.GetValueOrDefault(reason) + 1;
        }
    }

    /// <summary>
    /// Every partition from its start to its high watermark, read_committed: the read ends when the consumer's position
    /// reaches the high watermark (a transaction's last offset is its marker, which no consumer returns), and waits
    /// for every open transaction to end, which the last stable offset holds back.
    /// </summary>
    public Dictionary<int, IReadOnlyList<LogEntry>> ReadAll()
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = "chaos-tx-final",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        var log = new Dictionary<int, IReadOnlyList<LogEntry>>();
        for (var p = 0; p < Partitions; p++)
        {
            var tp = new TopicPartition(Topic, p);
            var end = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High.Value;
            var entries = new List<LogEntry>();
            consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (consumer.Position(tp).Value < end)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{Topic} partition {p}: read to {consumer.Position(tp).Value} of {end} within 60 s");
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
