using Tributary.Protocol.Records;

namespace Tributary.Benchmarks;

/// <summary>The batch the record benchmarks share: about 1 MiB of 1 KB records with a key and one header.</summary>
internal static class BenchmarkBatches
{
    public const int RecordCount = 1024;
    public const int ValueBytes = 1000;

    public static byte[] OneMebibyteOfKilobyteRecords(CompressionType compression)
    {
        var random = new Random(7);
        var builder = new RecordBatchBuilder { Compression = compression, ProducerId = 1, ProducerEpoch = 0, BaseSequence = 0 };
        for (var i = 0; i < RecordCount; i++)
        {
            // Half random, half text: compressible the way real payloads usually are, not like zeros.
            var value = new byte[ValueBytes];
            random.NextBytes(value.AsSpan(0, ValueBytes / 2));
            "{\"order\":1234,\"status\":\"shipped\",\"items\":[]}"u8.CopyTo(value.AsSpan(ValueBytes / 2));
            builder.Add(1_700_000_000_000 + i, BitConverter.GetBytes(i), value, [("trace-id", BitConverter.GetBytes((long)i))]);
        }

        return builder.Build();
    }
}
