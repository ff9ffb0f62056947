#:package Confluent.Kafka
#:package librdkafka.redist
#:property PublishAot=false

// Cluster figures (issue #32): run by bench/cluster-figures.sh. Starts Debian's etcd (three members) and brokers as
// child processes on free loopback ports, each stopped by its process id; data in a temporary directory deleted at
// the end. Bounded: RECORDS records per throughput run, KILLS kills, GB gigabytes, every wait with a timeout.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

const int RecordBytes = 1024;
var waitMax = TimeSpan.FromSeconds(120);
var records = int.Parse(Environment.GetEnvironmentVariable("RECORDS") ?? "100000", CultureInfo.InvariantCulture);
var kills = int.Parse(Environment.GetEnvironmentVariable("KILLS") ?? "20", CultureInfo.InvariantCulture);
var gigabytes = double.Parse(Environment.GetEnvironmentVariable("GB") ?? "1", CultureInfo.InvariantCulture);
var leaseMs = Environment.GetEnvironmentVariable("LEASE_MS") is { Length: > 0 } lease ? lease : null; // unset: the default lease
var tributaryDll = Environment.GetEnvironmentVariable("BROKER_DLL") ?? throw new InvalidOperationException("BROKER_DLL: path of tributary.dll");
var root = Directory.CreateTempSubdirectory("tributary-cluster-figures-");
var processes = new List<Process>();
LoadLibrdkafka();
var payload = new byte[RecordBytes];
new Random(1).NextBytes(payload);

try
{
    // (1) acks=1 on one standalone broker, then acks=all with replication factor 3.
    var single = await StartBrokerAsync(0, null);
    var (singleRate, singleP99) = await ProduceRunAsync(single.Bootstrap, "single", 1, Acks.Leader);
    Kill(single.Process);

    var etcd = StartEtcd();
    var brokers = new Dictionary<int, Broker>();
    foreach (var id in new[] { 1, 2, 3 })
    {
        brokers[id] = await StartBrokerAsync(id, etcd);
    }

    var bootstrap = string.Join(",", brokers.Values.Select(b => b.Bootstrap));
    var (clusterRate, clusterP99) = await ProduceRunAsync(bootstrap, "replicated", 3, Acks.All);
    Console.WriteLine($"throughput, {records:N0} x {RecordBytes} B, one Confluent.Kafka producer: acks=1 single broker {singleRate:N0} records/s (p99 {singleP99:F1} ms); " +
        $"acks=all RF 3 {clusterRate:N0} records/s (p99 {clusterP99:F1} ms); ratio {clusterRate / singleRate:F2} of the throughput, {clusterP99 / singleP99:F1}x the p99");

    // (2) failover: kill the leader of partition 0, time until an acks=all produce to it is acknowledged.
    await CreateTopicAsync(bootstrap, "failover", 1, 3);
    await WaitInSyncAsync(bootstrap, "failover", 3);
    var failovers = new List<double>();
    using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true, LingerMs = 0, MessageTimeoutMs = 120000 }).Build())
    {
        await producer.ProduceAsync(new TopicPartition("failover", 0), new Message<Null, byte[]> { Value = payload });
        for (var kill = 1; kill <= kills; kill++)
        {
            var leader = Describe(bootstrap, "failover").Partitions[0].Leader;
            Kill(brokers[leader].Process);
            var clock = Stopwatch.StartNew();
            await producer.ProduceAsync(new TopicPartition("failover", 0), new Message<Null, byte[]> { Value = payload });
            failovers.Add(clock.Elapsed.TotalMilliseconds);
            Console.WriteLine($"kill {kill}/{kills}: broker {leader}, first acks=all produce acknowledged after {clock.Elapsed.TotalMilliseconds:N0} ms");
            brokers[leader] = await StartBrokerAsync(leader, etcd, brokers[leader].Port);
            bootstrap = string.Join(",", brokers.Values.Select(b => b.Bootstrap));
            await WaitInSyncAsync(bootstrap, "failover", 3);
        }
    }

    failovers.Sort();
    Console.WriteLine($"failover over {kills} leader kills (etcd lease {leaseMs ?? "6000, the default,"} ms): median {Percentile(failovers, 0.5) / 1000:F2} s, p99 {Percentile(failovers, 0.99) / 1000:F2} s, max {failovers[^1] / 1000:F2} s");

    // (3) re-replication: GB gigabytes in 4 partitions, then a broker emptied and restarted.
    await CreateTopicAsync(bootstrap, "bulk", 4, 3);
    var bulkRecords = (int)(gigabytes * 1024 * 1024 * 1024 / RecordBytes);
    using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.Leader, LingerMs = 20, BatchSize = 1 << 20 }).Build())
    {
        for (var i = 0; i < bulkRecords; i++)
        {
            while (true)
            {
                try
                {
                    producer.Produce(new TopicPartition("bulk", i % 4), new Message<Null, byte[]> { Value = payload });
                    break;
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }

        producer.Flush(waitMax * 10);
    }

    await WaitInSyncAsync(bootstrap, "bulk", 3);
    var emptied = brokers.Keys.Max();
    Kill(brokers[emptied].Process);
    Directory.Delete(DataDirectory(emptied), recursive: true);
    var rereplication = Stopwatch.StartNew();
    brokers[emptied] = await StartBrokerAsync(emptied, etcd, brokers[emptied].Port);
    await WaitInSyncAsync(bootstrap, "bulk", 3, TimeSpan.FromMinutes(30));
    var copied = Directory.GetFiles(DataDirectory(emptied), "*.log", SearchOption.AllDirectories).Where(f => f.Contains("/bulk-", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
    Console.WriteLine($"re-replication: broker {emptied} emptied and restarted; {copied / 1e9:F2} GB back in sync after {rereplication.Elapsed.TotalSeconds:F1} s ({copied / 1e6 / rereplication.Elapsed.TotalSeconds:N0} MB/s, start-up included)");
    return 0;
}
finally
{
    foreach (var process in processes)
    {
        Kill(process);
    }

    root.Delete(recursive: true);
}

string DataDirectory(int id) => Path.Combine(root.FullName, "broker-" + id.ToString(CultureInfo.InvariantCulture));

async Task<(double Rate, double P99)> ProduceRunAsync(string bootstrap, string topic, short replicationFactor, Acks acks)
{
    await CreateTopicAsync(bootstrap, topic, 4, replicationFactor);
    if (replicationFactor > 1)
    {
        await WaitInSyncAsync(bootstrap, topic, replicationFactor);
    }

    var latencies = new double[records];
    var done = 0;
    using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = acks, LingerMs = 5 }).Build();
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < records; i++)
    {
        var index = i;
        var sent = clock.Elapsed.TotalMilliseconds;
        while (true)
        {
            try
            {
                producer.Produce(topic, new Message<Null, byte[]> { Value = payload }, report =>
                {
                    if (report.Error.IsError)
                    {
                        throw new InvalidOperationException("produce failed: " + report.Error.Reason);
                    }

                    latencies[index] = clock.Elapsed.TotalMilliseconds - sent;
                    Interlocked.Increment(ref done);
                });
                break;
            }
            catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    producer.Flush(waitMax);
    var seconds = clock.Elapsed.TotalSeconds;
    if (done != records)
    {
        throw new InvalidOperationException($"{topic}: {done} of {records} acknowledged");
    }

    Array.Sort(latencies);
    return (records / seconds, Percentile(latencies, 0.99));
}

static double Percentile(IReadOnlyList<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

async Task CreateTopicAsync(string bootstrap, string topic, int partitions, short replicationFactor)
{
    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
    await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = replicationFactor }]);
}

TopicMetadata Describe(string bootstrap, string topic)
{
    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
    return admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single();
}

async Task WaitInSyncAsync(string bootstrap, string topic, int replicas, TimeSpan? timeout = null)
{
    var deadline = DateTime.UtcNow + (timeout ?? waitMax);
    while (true)
    {
        try
        {
            var metadata = Describe(bootstrap, topic);
            if (metadata.Partitions.Count > 0 && metadata.Partitions.All(p => p.Leader > 0 && p.InSyncReplicas.Length == replicas))
            {
                return;
            }
        }
        catch (KafkaException)
        {
        }

        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"{topic} not in sync on {replicas} replicas");
        }

        await Task.Delay(200);
    }
}

string StartEtcd()
{
    var members = Enumerable.Range(0, 3).Select(i => (Name: $"m{i}", Client: $"http://127.0.0.1:{FreePort()}", Peer: $"http://127.0.0.1:{FreePort()}")).ToList();
    var initial = string.Join(",", members.Select(m => $"{m.Name}={m.Peer}"));
    foreach (var m in members)
    {
        var info = new ProcessStartInfo("/usr/bin/etcd") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--name", m.Name, "--data-dir", Path.Combine(root.FullName, m.Name), "--listen-client-urls", m.Client, "--advertise-client-urls", m.Client,
            "--listen-peer-urls", m.Peer, "--initial-advertise-peer-urls", m.Peer, "--initial-cluster", initial, "--initial-cluster-state", "new", "--log-level", "error" })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("etcd did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        processes.Add(process);
    }

    return string.Join(",", members.Select(m => m.Client));
}

// A broker of the cluster (id > 0, default settings but replication factor 3) or the standalone one (id 0).
async Task<Broker> StartBrokerAsync(int id, string? etcdEndpoints, int? port = null)
{
    var chosen = port ?? FreePort();
    var bootstrap = $"127.0.0.1:{chosen}";
    var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
    var settings = new List<string> { $"log.dirs={DataDirectory(id)}", $"listeners=PLAINTEXT://{bootstrap}", "tributary.admin.listeners=http://127.0.0.1:0" };
    if (etcdEndpoints is not null)
    {
        settings.AddRange([$"node.id={id}", $"tributary.metadata.etcd.endpoints={etcdEndpoints}", "default.replication.factor=3"]);
        if (leaseMs is not null)
        {
            settings.Add($"tributary.metadata.etcd.lease.ms={leaseMs}");
        }
    }

    info.ArgumentList.Add(tributaryDll);
    info.ArgumentList.Add("serve");
    foreach (var setting in settings)
    {
        info.ArgumentList.Add("--set");
        info.ArgumentList.Add(setting);
    }

    var process = Process.Start(info) ?? throw new InvalidOperationException("the broker did not start");
    processes.Add(process);
    var listening = new TaskCompletionSource();
    process.OutputDataReceived += (_, e) => { if (e.Data?.Contains("Tributary listening on", StringComparison.Ordinal) == true) listening.TrySetResult(); };
    process.ErrorDataReceived += (_, _) => { };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    if (await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(waitMax)) != listening.Task)
    {
        throw new InvalidOperationException($"broker {id} did not start listening on {bootstrap}");
    }

    return new Broker(process, chosen, bootstrap);
}

static void Kill(Process process)
{
    if (!process.HasExited)
    {
        process.Kill(); // SIGKILL
        process.WaitForExit();
    }
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

internal sealed record Broker(Process Process, int Port, string Bootstrap);
