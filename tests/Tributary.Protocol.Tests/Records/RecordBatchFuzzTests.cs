using System.Buffers;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Records;

/// <summary>
/// Seeded random mutations of valid batches: whatever the bytes, validation answers with a result and
/// iteration with a ProtocolException, never another exception, a hang or a huge allocation.
/// </summary>
public sealed class RecordBatchFuzzTests
{
    private const int MutationCount = 20_000;

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        switch (random.Next(5))
        {
            case 0:
                for (var flips = random.Next(1, 5); flips > 0; flips--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                break;
            case 1:
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                break;
            case 2:
                // Varint-shaped damage: a run of continuation bytes.
                var start = random.Next(bytes.Length);
                for (var i = start; i < Math.Min(bytes.Length, start + random.Next(1, 12)); i++)
                {
                    bytes[i] = 0xFF;
                }

                break;
            case 3:
                return bytes[..random.Next(bytes.Length)];
            default:
                var at = random.Next(bytes.Length);
                return [.. bytes[..at], (byte)random.Next(256), .. bytes[at..]];
        }

        return bytes;
    }

    [Fact]
    public void Mutated_batches_give_error_results_or_protocol_exceptions_only()
    {
        var random = new Random(20_240_601);
        var originals = new[]
        {
            TestBatches.Sample(CompressionType.None, recordCount: 6),
            TestBatches.Sample(CompressionType.Gzip, recordCount: 6),
            TestBatches.Sample(CompressionType.Snappy, recordCount: 6),
            TestBatches.Sample(CompressionType.Lz4, recordCount: 6),
            TestBatches.Sample(CompressionType.Zstd, recordCount: 6),
        };
        var scratch = new ArrayBufferWriter<byte>();
        var outcomes = new Dictionary<RecordBatchError, int>();

        for (var i = 0; i < MutationCount; i++)
        {
            var mutated = Mutate(originals[i % originals.Length], random);

            // Half the time the CRC is fixed up, so the damage reaches the record parser instead of stopping at the CRC.
            if (random.Next(2) == 0 && mutated.Length >= RecordBatchHeader.Size)
            {
                TestBatches.RestampCrc(mutated);
            }

            var validation = RecordBatchValidator.Validate(mutated, decompressedBytesMax: 1 << 20);
            outcomes[validation.Error] = outcomes.GetValueOrDefault(validation.Error) + 1;
            Assert.True(validation.IsValid || !string.IsNullOrEmpty(validation.Reason));

            // The iterator on its own, without the CRC check in front of it.
            try
            {
                var batch = RecordBatch.Read(mutated);
                var records = batch.Header.Compression == CompressionType.None
                    ? batch.Records
                    : batch.DecompressRecords(scratch, 1 << 20);
                foreach (var record in records)
                {
                    foreach (var header in record.Headers)
                    {
                        _ = header.Value;
                    }
                }
            }
            catch (ProtocolException)
            {
            }
        }

        // The loop must have exercised several different rejections, not one early exit.
        Assert.True(outcomes.GetValueOrDefault(RecordBatchError.CorruptMessage) > MutationCount / 4, string.Join(", ", outcomes));
        Assert.True(outcomes.Count >= 3, string.Join(", ", outcomes));
    }
}
