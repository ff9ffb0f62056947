using BenchmarkDotNet.Attributes;
using Tributary.Protocol.Records;

namespace Tributary.Benchmarks;

/// <summary>
/// Walking every record of an uncompressed ~1 MiB batch (1024 records of 1 KB). Figures are per record;
/// the Allocated column shows the iterator's promise of nothing on the heap per record.
/// </summary>
[MemoryDiagnoser]
public class RecordIterationBenchmarks
{
    private RecordBatch _batch;

    [GlobalSetup]
    public void Setup() => _batch = RecordBatch.Read(BenchmarkBatches.OneMebibyteOfKilobyteRecords(CompressionType.None));

    [Benchmark(OperationsPerInvoke = BenchmarkBatches.RecordCount, Description = "iterate records + headers, per record")]
    public long IterateRecords()
    {
        long total = 0;
        foreach (var record in _batch.Records)
        {
            total += record.Value!.Value.Length + record.OffsetDelta;
            foreach (var header in record.Headers)
            {
                total += header.KeyUtf8.Length;
            }
        }

        return total;
    }
}
