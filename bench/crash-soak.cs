#:package Confluent.Kafka
#:package librdkafka.redist
#:property PublishAot=false

// Crash soak (issue #29): the real broker (the tributary CLI as a child process) under an acks=all producer, an
// idempotent producer and a consumer group committing what it reads, SIGKILLed at random moments (a quarter of the
// cycles also kill a start within 100 ms of its loading the logs) and started again on the same data directory, for
// CYCLES cycles. Then every acknowledged record is read back at its offset and every acknowledged commit fetched.
// Run: bench/crash-soak.sh. Bounded: CYCLES cycles of at most LoadMsMax each, every wait with a timeout; the data
// directory is deleted at the end.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

const string PlainTopic = "soak-plain";
const string IdempotentTopic = "soak-idempotent";
const string Group = "soak-group";
const int Partitions = 3;
const int LoadMsMin = 500;
const int LoadMsMax = 4000;
const int RecoveryKillMsMax = 100;
var startTimeout = TimeSpan.FromSeconds(60);

var cycles = int.Parse(Environment.GetEnvironmentVariable("CYCLES") ?? "30", CultureInfo.InvariantCulture);
var seed = int.Parse(Environment.GetEnvironmentVariable("SEED") ?? "1", CultureInfo.InvariantCulture);
var tributaryDll = Environment.GetEnvironmentVariable("BROKER_DLL") ?? throw new InvalidOperationException("BROKER_DLL: path of tributary.dll");
var random = new Random(seed);
var data = Directory.CreateTempSubdirectory("tributary-crash-soak-");
var port = FreePort();
var bootstrap = $"127.0.0.1:{port}";
LoadLibrdkafka();

Process? broker = null;
var recoveryKills = 0;
try
{
    broker = await StartBrokerAsync();
    using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
    {
        await admin.CreateTopicsAsync([
            new TopicSpecification { Name = PlainTopic, NumPartitions = Partitions, ReplicationFactor = -1 },
            new TopicSpecification { Name = IdempotentTopic, NumPartitions = Partitions, ReplicationFactor = -1 },
        ]);
    }

    var acked = new System.Collections.Concurrent.ConcurrentDictionary<(string Topic, int Partition, long Offset), string>();
    var commits = new System.Collections.Concurrent.ConcurrentDictionary<int, long>();
    using var stop = new CancellationTokenSource();
    var plain = Task.Run(() => Produce(PlainTopic, idempotent: false, acked, stop.Token));
    var idempotent = Task.Run(() => Produce(IdempotentTopic, idempotent: true, acked, stop.Token));
    var consumer = Task.Run(() => ConsumeAndCommit(commits, stop.Token));

    for (var cycle = 1; cycle <= cycles; cycle++)
    {
        await Task.Delay(random.Next(LoadMsMin, LoadMsMax));
        Kill(broker);
        if (random.Next(4) == 0)
        {
            // Killed again while it loads and recovers its logs: the page-cache line is logged just before that starts.
            broker = StartBroker();
            var loading = new TaskCompletionSource();
            broker.OutputDataReceived += (_, e) => { if (e.Data?.Contains("Page-cache drop", StringComparison.Ordinal) == true) loading.TrySetResult(); };
            broker.BeginOutputReadLine();
            await Task.WhenAny(loading.Task, Task.Delay(startTimeout));
            await Task.Delay(random.Next(RecoveryKillMsMax));
            Kill(broker);
            recoveryKills++;
        }

        broker = await StartBrokerAsync();
        Console.WriteLine($"cycle {cycle}/{cycles}: {acked.Count:N0} records acknowledged, {commits.Count} partitions with commits");
    }

    await stop.CancelAsync();
    await Task.WhenAll(plain, idempotent, consumer);
    var report = Verify(acked, commits);
    Console.WriteLine($"crash soak: {cycles} cycles ({recoveryKills} kills during recovery), {report}");
    return report.Failed ? 1 : 0;
}
finally
{
    if (broker is not null)
    {
        Kill(broker);
    }

    data.Delete(recursive: true);
}

Process StartBroker()
{
    var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var argument in new[] { tributaryDll, "serve", "--set", $"log.dirs={data.FullName}", "--set", $"listeners=PLAINTEXT://{bootstrap}", "--set", "group.initial.rebalance.delay.ms=0" })
    {
        info.ArgumentList.Add(argument);
    }

    return Process.Start(info) ?? throw new InvalidOperationException("the broker did not start");
}

async Task<Process> StartBrokerAsync()
{
    for (var attempt = 1; ; attempt++)
    {
        var process = StartBroker();
        var listening = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Tributary listening on", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Console.Error.WriteLine("broker: " + line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(startTimeout));
        if (first == listening.Task)
        {
            return process;
        }

        Kill(process);
        if (first != exited || attempt == 5)
        {
            throw new InvalidOperationException($"the broker did not start (exit code {(process.HasExited ? process.ExitCode : -1)})");
        }

        // After a SIGKILL the port can take a moment to be free again.
        await Task.Delay(1000);
    }
}

static void Kill(Process process)
{
    if (!process.HasExited)
    {
        process.Kill(); // SIGKILL
        process.WaitForExit();
    }
}

// Numbered values; each delivery report that says Persisted is an acknowledgement (acks=all) of its partition and offset.
void Produce(string topic, bool idempotent, System.Collections.Concurrent.ConcurrentDictionary<(string, int, long), string> acked, CancellationToken stop)
{
    var config = new ProducerConfig
    {
        BootstrapServers = bootstrap,
        Acks = Acks.All,
        EnableIdempotence = idempotent,
        LingerMs = 5,
        MessageTimeoutMs = 30_000,
        ReconnectBackoffMs = 50,
        ReconnectBackoffMaxMs = 500,
    };
    using var producer = new ProducerBuilder<Null, string>(config).SetLogHandler((_, _) => { }).Build();
    for (long n = 0; !stop.IsCancellationRequested; n++)
    {
        var value = $"{topic}-{n}";
        try
        {
            producer.Produce(topic, new Message<Null, string> { Value = value }, report =>
            {
                if (report.Error.Code == ErrorCode.NoError && report.Status == PersistenceStatus.Persisted)
                {
                    acked[(topic, report.Partition.Value, report.Offset.Value)] = value;
                }
            });
        }
        catch (ProduceException<Null, string> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
        {
            producer.Poll(TimeSpan.FromMilliseconds(50));
        }

        if (n % 100 == 0)
        {
            producer.Poll(TimeSpan.FromMilliseconds(5));
        }
    }

    producer.Flush(TimeSpan.FromSeconds(60));
}

// A group member reading the plain topic and committing (synchronously) after every 200 records; a commit that
// returns is acknowledged.
void ConsumeAndCommit(System.Collections.Concurrent.ConcurrentDictionary<int, long> commits, CancellationToken stop)
{
    var config = new ConsumerConfig
    {
        BootstrapServers = bootstrap,
        GroupId = Group,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        SessionTimeoutMs = 10_000,
        ReconnectBackoffMs = 50,
        ReconnectBackoffMaxMs = 500,
    };
    using var consumer = new ConsumerBuilder<Ignore, string>(config).SetLogHandler((_, _) => { }).Build();
    consumer.Subscribe(PlainTopic);
    var read = 0;
    while (!stop.IsCancellationRequested)
    {
        try
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { } result || ++read % 200 != 0)
            {
                continue;
            }

            var offsets = consumer.Assignment.Select(tp => consumer.Position(tp) is { Value: >= 0 } position ? new TopicPartitionOffset(tp, position) : null).OfType<TopicPartitionOffset>().ToList();
            consumer.Commit(offsets);
            foreach (var offset in offsets)
            {
                commits.AddOrUpdate(offset.Partition.Value, offset.Offset.Value, (_, old) => Math.Max(old, offset.Offset.Value));
            }
        }
        catch (KafkaException)
        {
            // The broker is down or the group rebalances: the client carries on once it is back.
        }
    }

    consumer.Close();
}

Report Verify(System.Collections.Concurrent.ConcurrentDictionary<(string Topic, int Partition, long Offset), string> acked, System.Collections.Concurrent.ConcurrentDictionary<int, long> commits)
{
    var stored = new Dictionary<(string, int, long), string>();
    var duplicates = new Dictionary<string, int> { [PlainTopic] = 0, [IdempotentTopic] = 0 };
    var corrupt = 0;
    var config = new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "soak-verify", EnableAutoCommit = false, CheckCrcs = true };
    using (var reader = new ConsumerBuilder<Ignore, string>(config).SetLogHandler((_, _) => { }).Build())
    {
        foreach (var topic in new[] { PlainTopic, IdempotentTopic })
        {
            var seen = new HashSet<string>();
            for (var p = 0; p < Partitions; p++)
            {
                var tp = new TopicPartition(topic, p);
                var end = reader.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High.Value;
                reader.Assign(new TopicPartitionOffset(tp, 0));
                var next = 0L;
                var deadline = DateTime.UtcNow.AddMinutes(2);
                while (next < end && DateTime.UtcNow < deadline)
                {
                    try
                    {
                        if (reader.Consume(TimeSpan.FromSeconds(1)) is { IsPartitionEOF: false } record)
                        {
                            stored[(topic, p, record.Offset.Value)] = record.Message.Value;
                            duplicates[topic] += seen.Add(record.Message.Value) ? 0 : 1;
                            next = record.Offset.Value + 1;
                        }
                    }
                    catch (ConsumeException e)
                    {
                        corrupt++;
                        Console.Error.WriteLine($"{topic}-{p}: {e.Error}");
                        next = e.ConsumerRecord?.Offset.Value + 1 ?? end;
                        reader.Assign(new TopicPartitionOffset(tp, next));
                    }
                }

                reader.Unassign();
            }
        }
    }

    var lost = acked.Count(a => !stored.TryGetValue(a.Key, out var value) || value != a.Value);
    long commitsLost = 0;
    using (var group = new ConsumerBuilder<Ignore, string>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = Group }).Build())
    {
        var committed = group.Committed(commits.Keys.Select(p => new TopicPartition(PlainTopic, p)), TimeSpan.FromSeconds(30));
        commitsLost = committed.Count(c => c.Offset.Value < commits[c.Partition.Value]);
    }

    return new Report(acked.Count, lost, duplicates[IdempotentTopic], duplicates[PlainTopic], corrupt, commits.Count, commitsLost);
}

static int FreePort()
{
    var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    listener.Stop();
    return port;
}

// librdkafka.redist's default linux-x64 build needs libsasl2.so.3, which Debian 12 lacks; its centos8 build does not.
static void LoadLibrdkafka()
{
    var centos8 = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "centos8-librdkafka.so");
    if (!File.Exists(centos8))
    {
        return;
    }

    NativeLibrary.SetDllImportResolver(typeof(Library).Assembly, (name, _, _) =>
        name == "libdl" ? NativeLibrary.Load("libdl.so.2") : name.Contains("librdkafka", StringComparison.Ordinal) ? NativeLibrary.Load(centos8) : IntPtr.Zero);
    Library.Load(centos8);
}

internal sealed record Report(int Acknowledged, int Lost, int IdempotentDuplicates, int PlainDuplicates, int Corrupt, int CommittedPartitions, long CommitsLost)
{
    public bool Failed => Lost > 0 || IdempotentDuplicates > 0 || Corrupt > 0 || CommitsLost > 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Acknowledged:N0} acknowledged records checked: {Lost} lost, {IdempotentDuplicates} duplicated under idempotence ({PlainDuplicates} retried duplicates of the plain producer), {Corrupt} corrupt batches; {CommittedPartitions} partitions with acknowledged commits, {CommitsLost} commits lost");
}
