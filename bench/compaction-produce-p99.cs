#:project ../src/Tributary.Storage/Tributary.Storage.csproj
#:property PublishAot=false

// Produce latency with the log cleaner running vs without it (issue #30, log compaction). Run: bench/compaction-figures.sh
// Two runs in one process, each on a fresh temp directory (real files): a compacted partition is filled with
// RECORDS records of 100-byte values over RECORDS/10 keys and its segments closed, then PRODUCE_BATCHES batches of
// 100 keyed records are appended to the same partition at BATCHES_PER_SECOND, timing each append. The first run
// leaves the cleaner off; the second starts it (one thread, default limits) as the producing begins, so it cleans
// the dirty log while appends go on. Storage level (PartitionLog.Append, no network): it shows what the cleaner's
// disk and CPU use and its append-lock renames cost an append. Bounded: fixed counts, directories deleted.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tributary.Protocol.Records;
using Tributary.Storage;
using Tributary.Storage.Cleaning;
using Tributary.Storage.Devices;

var records = Setting("RECORDS", 2_000_000);
var produceBatches = Setting("PRODUCE_BATCHES", 20_000);
var batchesPerSecond = Setting("BATCHES_PER_SECOND", 2_000);
Console.WriteLine($"fill {records:N0} records (10% live), then {produceBatches:N0} batches of 100 records at {batchesPerSecond:N0} batches/s");
foreach (var withCleaner in new[] { false, true })
{
    var (latenciesUs, duringCleanUs, cleans, cleanedMb) = Run(withCleaner);
    Console.WriteLine($"cleaner {(withCleaner ? "running" : "off    ")}: all {latenciesUs.Length:N0} appends {Summary(latenciesUs)}");
    if (withCleaner)
    {
        Console.WriteLine($"  the {duringCleanUs.Length:N0} appends made while a clean was in progress: {Summary(duringCleanUs)}; {cleans} cleans read {cleanedMb:F1} MB");
    }
}

static string Summary(double[] latenciesUs)
{
    if (latenciesUs.Length == 0)
    {
        return "none";
    }

    Array.Sort(latenciesUs);
    return $"p50 {At(0.50)} us, p99 {At(0.99)} us, p99.9 {At(0.999)} us, max {latenciesUs[^1]:F0} us";

    string At(double quantile) => latenciesUs[(int)Math.Min(latenciesUs.Length - 1, quantile * latenciesUs.Length)].ToString("F0", CultureInfo.InvariantCulture);
}

(double[] LatenciesUs, double[] DuringCleanUs, int Cleans, double CleanedMb) Run(bool withCleaner)
{
    var data = Directory.CreateTempSubdirectory("tributary-compaction-p99-");
    try
    {
        var config = LogConfig.Default with { Compact = true, Delete = false, SegmentBytes = 64 << 20, MinCleanableDirtyRatio = 0 };
        using var manager = new LogManager(FileLogDevice.Instance, data.FullName, config);
        var log = manager.GetOrCreate("figures", 0, config);
        var random = new Random(42);
        var value = new byte[100];
        var keys = records / 10;
        for (var written = 0; written < records; written += 100)
        {
            log.Append(Batch(random, value, keys, 1_700_000_000_000 + written));
        }

        // Roll, so every record so far is in a closed (cleanable) segment.
        log.UpdateConfig(config with { SegmentBytes = LogConfig.SegmentBytesMin });
        log.Append(Batch(random, value, keys, 1_700_000_000_000 + records));
        log.UpdateConfig(config);

        var cleans = 0;
        var cleaning = 0;
        long cleanedBytes = 0;
        using var stop = new CancellationTokenSource();
        Thread? cleanerThread = null;
        if (withCleaner)
        {
            // One cleaner thread as LogCleaner.Start runs it, counting what it cleans while the producer appends.
            var cleaner = new LogCleaner(manager);
            cleanerThread = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Volatile.Write(ref cleaning, 1);
                    var result = cleaner.CleanDirtiest();
                    Volatile.Write(ref cleaning, 0);
                    if (result is not null)
                    {
                        cleans++;
                        cleanedBytes += result.BytesRead;
                    }
                    else
                    {
                        stop.Token.WaitHandle.WaitOne(50);
                    }
                }
            }) { Name = "log-cleaner" };
            cleanerThread.Start();
        }

        var latenciesUs = new double[produceBatches];
        var duringCleanUs = new List<double>();
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < produceBatches; i++)
        {
            var batch = Batch(random, value, keys, 1_800_000_000_000 + i);
            var due = start + (long)(i * (double)Stopwatch.Frequency / batchesPerSecond);
            while (Stopwatch.GetTimestamp() < due)
            {
                Thread.SpinWait(50);
            }

            var before = Stopwatch.GetTimestamp();
            var cleanInProgress = Volatile.Read(ref cleaning) == 1;
            log.Append(batch);
            latenciesUs[i] = Stopwatch.GetElapsedTime(before).TotalMicroseconds;
            if (cleanInProgress || Volatile.Read(ref cleaning) == 1)
            {
                duringCleanUs.Add(latenciesUs[i]);
            }
        }

        stop.Cancel();
        cleanerThread?.Join();
        return (latenciesUs, [.. duringCleanUs], cleans, cleanedBytes / 1e6);
    }
    finally
    {
        data.Delete(recursive: true);
    }
}

static byte[] Batch(Random random, byte[] value, int keys, long timestampMs)
{
    var builder = new RecordBatchBuilder();
    for (var i = 0; i < 100; i++)
    {
        random.NextBytes(value);
        builder.Add(timestampMs, Encoding.ASCII.GetBytes($"key-{random.Next(keys):D8}"), value);
    }

    return builder.Build();
}

static int Setting(string name, int fallback) =>
    int.Parse(Environment.GetEnvironmentVariable(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
