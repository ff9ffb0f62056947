#:project ../src/Tributary.Storage/Tributary.Storage.csproj
#:property PublishAot=false

// Log-cleaner figures (issue #30, log compaction). Run: bench/compaction-figures.sh
// One on-disk partition (a temp directory, real files) holding RECORDS records of 100-byte values over RECORDS/10
// keys in random order, so 10% of the records are live; 64 MiB segments. The cleaner then runs on this thread until
// no log needs it: cleaning throughput (bytes of the segments it read per second of cleaning) and bytes reclaimed.
// Bounded: a fixed record count, one partition, the directory deleted at the end.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tributary.Protocol.Records;
using Tributary.Storage;
using Tributary.Storage.Cleaning;
using Tributary.Storage.Devices;

var records = int.Parse(Environment.GetEnvironmentVariable("RECORDS") ?? "2000000", CultureInfo.InvariantCulture);
const int RecordsPerBatch = 100;
var keys = records / 10;
var data = Directory.CreateTempSubdirectory("tributary-compaction-figures-");
try
{
    var config = LogConfig.Default with { Compact = true, Delete = false, SegmentBytes = 64 << 20, MinCleanableDirtyRatio = 0 };
    using var manager = new LogManager(FileLogDevice.Instance, data.FullName, config);
    var log = manager.GetOrCreate("figures", 0, config);
    var random = new Random(42);
    var value = new byte[100];
    var written = 0;
    while (written < records)
    {
        var builder = new RecordBatchBuilder();
        for (var i = 0; i < RecordsPerBatch && written < records; i++, written++)
        {
            random.NextBytes(value);
            builder.Add(1_700_000_000_000 + written, Encoding.ASCII.GetBytes($"key-{random.Next(keys):D8}"), value);
        }

        log.Append(builder.Build());
    }

    // Roll, so every record is in a closed (cleanable) segment.
    log.UpdateConfig(config with { SegmentBytes = LogConfig.SegmentBytesMin });
    log.Append(new RecordBatchBuilder().Add(0, Encoding.ASCII.GetBytes("roll"), value).Build());

    var sizeBefore = log.SizeBytes;
    var segmentsBefore = log.SegmentCount;
    log.UpdateConfig(config);
    var cleaner = new LogCleaner(manager, new LogCleanerConfig());
    long bytesRead = 0;
    long reclaimed = 0;
    var passes = 0;
    var clock = Stopwatch.StartNew();
    while (cleaner.CleanDirtiest() is { } result)
    {
        bytesRead += result.BytesRead;
        reclaimed += result.BytesReclaimed;
        passes++;
    }

    clock.Stop();
    var seconds = clock.Elapsed.TotalSeconds;
    Console.WriteLine($"records {records:N0}, keys {keys:N0} (live share {(double)keys / records:P0}), {segmentsBefore} segments, {sizeBefore / 1e6:F1} MB");
    Console.WriteLine($"cleaning: {passes} passes in {seconds:F2} s, read {bytesRead / 1e6:F1} MB: {bytesRead / 1e6 / seconds:F1} MB/s read, {sizeBefore / 1e6 / seconds:F1} MB/s of log");
    Console.WriteLine($"reclaimed {reclaimed / 1e6:F1} MB: {sizeBefore / 1e6:F1} MB -> {log.SizeBytes / 1e6:F1} MB ({(double)log.SizeBytes / sizeBefore:P1} kept), {log.SegmentCount} segments");
}
finally
{
    data.Delete(recursive: true);
}
