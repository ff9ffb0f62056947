using BenchmarkDotNet.Attributes;
using Tributary.Protocol.Records;

namespace Tributary.Benchmarks;

/// <summary>
/// The produce path's whole check of a ~1 MiB batch (1024 records of 1 KB): CRC32C, decompression under the
/// limit, and parsing every record. The difference between codecs is the cost of decompressing.
/// </summary>
[MemoryDiagnoser]
public class RecordBatchValidatorBenchmarks
{
    private byte[] _batch = [];

    [Params(CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd)]
    public CompressionType Compression { get; set; }

    [GlobalSetup]
    public void Setup() => _batch = BenchmarkBatches.OneMebibyteOfKilobyteRecords(Compression);

    [Benchmark(Description = "validate ~1 MiB batch")]
    public long Validate() => RecordBatchValidator.Validate(_batch).RecordCount;
}
