using System.Globalization;
using System.Text.Json;
using Tributary.Interop.Tests.Support;

namespace Tributary.Interop.Tests;

public sealed class CrashRecoveryTests(ITestOutputHelper output) : IDisposable
{
    private const int PartitionCount = 3;
    private const int BatchSize = 300;
    private const int CrashCount = 5;

    // The producer is killed long before this; it only bounds a run where the kill never comes.
    private const int BatchCountMax = 20_000;

    // After this many acknowledged batches (awaited at most AckWait) the flood starts and the kill follows it.
    private const int AckedBatchesBeforeKill = 150;

    // Each run numbers its messages from its own base, so runs never collide.
    private const int SequenceBaseStep = 10_000_000;

    // A kafkajs batch round trip takes roughly 10 ms here: a few milliseconds more or less before the kill move it to
    // different points of the producer's cycle (batch being built, in flight, appended, answered).
    private static readonly int[] KillDelaysMs = [0, 3, 6, 9, 12];

    // Just before each kill kcat starts flooding a second topic, so the broker is appending when it dies; the flood
    // gets a short head start and is killed with the broker long before it runs out of lines (the broker appends a
    // 500,000-line flood in well under a second, so the input is sized far beyond what one head start can use).
    private const int NoiseLineCount = 2_000_000;
    private static readonly TimeSpan NoiseHeadStart = TimeSpan.FromMilliseconds(150);

    private static readonly TimeSpan AckWait = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ProducerExitTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-crash-");

    // Proves the broker keeps every acknowledged message through kill -9: a kafkajs producer sends numbered batches with
    // acks=-1 to a standalone broker that is SIGKILLed mid-stream five times and restarted on the same data; at the end
    // every acknowledged message is there exactly once at the offset it was acknowledged at, each partition holds
    // contiguous offsets in produce order, nothing but the one batch in flight at each kill is extra, no CRC fails,
    // and the recovered log takes new appends at the right offset. A kcat flood into a second topic keeps the broker
    // appending at each kill; that topic must come back readable: valid CRCs, contiguous offsets, well-formed messages.
    [Fact]
    public async Task AcknowledgedMessagesSurviveKillMinus9ExactlyOnceAndInOrder()
    {
        var dataDirectory = Path.Combine(_work.FullName, "data");
        var settings = new Dictionary<string, string> { ["num.partitions"] = PartitionCount.ToString(CultureInfo.InvariantCulture) };
        await using var broker = await StandaloneBroker.StartAsync(dataDirectory, FreePort.Pick(), settings);
        const string topic = "crash";
        const string noiseTopic = "noise";
        var noiseInput = Path.Combine(_work.FullName, "noise.txt");
        File.WriteAllLines(noiseInput, Enumerable.Range(0, NoiseLineCount).Select(NoiseValue));

        var acked = new Dictionary<long, (int Partition, long Offset)>();
        var inFlight = new List<(long First, long Last)>();
        for (var crash = 0; crash < CrashCount; crash++)
        {
            if (crash > 0)
            {
                await broker.StartAsync();
                WriteRecoveryLines(broker);
            }

            var firstSeq = (long)(crash + 1) * SequenceBaseStep;
            await using var producer = NodeRunner.Start("produce-sequential.mjs", broker.BootstrapServers, topic,
                PartitionCount.ToString(CultureInfo.InvariantCulture), firstSeq.ToString(CultureInfo.InvariantCulture),
                BatchSize.ToString(CultureInfo.InvariantCulture), BatchCountMax.ToString(CultureInfo.InvariantCulture));
            var ackedBatches = 0;
            await producer.WaitForLineAsync(l => l.StartsWith("{\"acked\"", StringComparison.Ordinal) && ++ackedBatches >= AckedBatchesBeforeKill, AckWait);
            await using var noise = KcatRunner.StartProducer(broker.BootstrapServers, noiseTopic, noiseInput, ["-X", "acks=all"]);
            await Task.Delay(NoiseHeadStart + TimeSpan.FromMilliseconds(KillDelaysMs[crash % KillDelaysMs.Length]));
            Assert.False(noise.HasExited, "the kcat flood ended before the kill: " + noise.Describe());
            await broker.KillAsync();

            // With the broker gone the producer's next send fails and it exits (it never retries: a retry could duplicate).
            var run = await producer.WaitForExitAsync(ProducerExitTimeout);
            var (runAcked, runLast) = ReadAcks(run, acked);
            Assert.True(run.ExitCode == 3, "the producer should stop at its first failed send: " + run.Describe());
            inFlight.Add((runLast + 1, runLast + BatchSize));
            output.WriteLine($"run {crash + 1}: {runAcked:N0} messages acknowledged (to seq {runLast}) before kill -9 of pid {broker.ProcessId}");
        }

        await broker.StartAsync();
        WriteRecoveryLines(broker);
        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, topic, Path.Combine(_work.FullName, "consumed.json"));
        var (endOffsets, extra) = AssertLogMatchesAcknowledgements(messages, acked, inFlight);
        output.WriteLine($"after the last restart: {messages.Count:N0} messages stored, {acked.Count:N0} acknowledged, {extra} from batches in flight at a kill");
        var noiseMessages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, noiseTopic, Path.Combine(_work.FullName, "noise.json"));
        AssertNoiseIntact(noiseMessages);
        output.WriteLine($"noise topic: {noiseMessages.Count:N0} messages readable after {CrashCount} kills (of {CrashCount * NoiseLineCount:N0} lines offered)");

        // The recovered log keeps taking appends, right after what it recovered.
        var input = Path.Combine(_work.FullName, "after.txt");
        File.WriteAllText(input, "after\tafter-restart\n");
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, topic, input, ["-p", "0", "-X", "acks=all"]);
        var again = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, topic, Path.Combine(_work.FullName, "consumed-again.json"));
        var appended = Assert.Single(again, m => m.Key == "after");
        Assert.Equal(("after-restart", 0, endOffsets[0]), (appended.Payload, appended.Partition, appended.Offset));
        Assert.Equal(messages.Count + 1, again.Count);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static string NoiseValue(int i) => $"noise-{i:D7}-{new string('n', i % 40)}";

    // Unacknowledged and possibly sent twice (librdkafka retries), but every stored message must be whole and the
    // offsets of every partition contiguous: recovery cut torn batches off cleanly.
    private static void AssertNoiseIntact(List<KcatMessage> messages)
    {
        Assert.NotEmpty(messages);
        var nextOffset = new Dictionary<int, long>();
        foreach (var m in messages)
        {
            var expected = nextOffset.GetValueOrDefault(m.Partition);
            Assert.True(m.Offset == expected, $"noise partition {m.Partition}: offset {m.Offset}, expected {expected}");
            nextOffset[m.Partition] = expected + 1;
            Assert.True(m.Payload is { Length: >= 14 } && m.Payload.StartsWith("noise-", StringComparison.Ordinal), $"noise {m.Partition}/{m.Offset}: {m.Payload}");
            var i = int.Parse(m.Payload.AsSpan(6, 7), CultureInfo.InvariantCulture);
            Assert.Equal(NoiseValue(i), m.Payload);
        }
    }

    // Must match valueOf in tests/interop-js/produce-sequential.mjs.
    private static string Value(long n) => $"value-{n}-{new string('x', (int)(n % 61))}";

    /// <summary>Records every acknowledged message's (partition, offset) from the producer's lines; returns how many and the last acked seq.</summary>
    private static (int Count, long Last) ReadAcks(ProcessResult run, Dictionary<long, (int Partition, long Offset)> acked)
    {
        var count = 0;
        var last = -1L;
        foreach (var line in run.StandardOutput.Split('\n').Where(l => l.StartsWith("{\"acked\"", StringComparison.Ordinal)))
        {
            using var json = JsonDocument.Parse(line);
            var range = json.RootElement.GetProperty("acked");
            var (first, lastOfBatch) = (range[0].GetInt64(), range[1].GetInt64());
            Assert.True(last < 0 || first == last + 1, $"acknowledged ranges are not consecutive at {first}");
            var baseOffsets = json.RootElement.GetProperty("partitions").EnumerateArray().ToDictionary(
                p => p.GetProperty("partition").GetInt32(),
                p =>
                {
                    Assert.Equal(0, p.GetProperty("errorCode").GetInt32());
                    return long.Parse(p.GetProperty("baseOffset").GetString()!, CultureInfo.InvariantCulture);
                });
            var nextInPartition = new long[PartitionCount];
            for (var n = first; n <= lastOfBatch; n++)
            {
                var partition = (int)(n % PartitionCount);
                acked[n] = (partition, baseOffsets[partition] + nextInPartition[partition]++);
                count++;
            }

            last = lastOfBatch;
        }

        Assert.True(count > 0, "nothing was acknowledged before the kill: " + run.Describe());
        return (count, last);
    }

    private void WriteRecoveryLines(StandaloneBroker broker)
    {
        foreach (var line in broker.Log.Split('\n').Where(l => l.Contains("recovery", StringComparison.Ordinal) || l.Contains("shutdown", StringComparison.Ordinal)))
        {
            output.WriteLine("  broker: " + line);
        }
    }

    private static (long[] EndOffsets, int Extra) AssertLogMatchesAcknowledgements(List<KcatMessage> messages, Dictionary<long, (int Partition, long Offset)> acked, List<(long First, long Last)> inFlight)
    {
        var nextOffset = new long[PartitionCount];
        var lastSeq = Enumerable.Repeat(-1L, PartitionCount).ToArray();
        var seen = new HashSet<long>();
        var extra = 0;
        foreach (var m in messages)
        {
            Assert.True(m.Offset == nextOffset[m.Partition], $"partition {m.Partition}: offset {m.Offset}, expected {nextOffset[m.Partition]}");
            nextOffset[m.Partition]++;
            Assert.StartsWith("k", m.Key);
            var n = long.Parse(m.Key.AsSpan(1), CultureInfo.InvariantCulture);
            Assert.Equal(Value(n), m.Payload);
            Assert.Equal((int)(n % PartitionCount), m.Partition);
            Assert.True(seen.Add(n), $"message {n} stored twice (again at {m.Partition}/{m.Offset})");
            Assert.True(n > lastSeq[m.Partition], $"partition {m.Partition}: message {n} stored after {lastSeq[m.Partition]}");
            lastSeq[m.Partition] = n;
            if (acked.TryGetValue(n, out var at))
            {
                Assert.True(at == (m.Partition, m.Offset), $"message {n} acknowledged at {at.Partition}/{at.Offset}, stored at {m.Partition}/{m.Offset}");
            }
            else
            {
                // Not acknowledged: only the batch in flight when the broker died may have been written.
                Assert.True(inFlight.Any(r => n >= r.First && n <= r.Last), $"message {n} was never sent, yet it is stored");
                extra++;
            }
        }

        var missing = acked.Keys.Where(n => !seen.Contains(n)).Order().Take(10).ToList();
        Assert.True(missing.Count == 0, $"{acked.Count - seen.Count(acked.ContainsKey)} acknowledged messages lost, first: {string.Join(", ", missing)}");
        Assert.True(extra <= inFlight.Count * BatchSize);
        return (nextOffset, extra);
    }
}
