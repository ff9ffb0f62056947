using System.Buffers;
using System.Text;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Records;

/// <summary>Builder → validator → iterator, for every codec: what a tool writes is what a consumer reads.</summary>
public sealed class RecordBatchRoundTripTests
{
    public static TheoryData<CompressionType> AllCodecs =>
        [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    private sealed record Input(long Timestamp, byte[]? Key, byte[]? Value, (string Key, byte[]? Value)[] Headers);

    private static List<Input> Inputs(int count)
    {
        var inputs = new List<Input>();
        for (var i = 0; i < count; i++)
        {
            inputs.Add((i % 5) switch
            {
                0 => new Input(1000 + i, null, Encoding.UTF8.GetBytes($"value {i}"), []),
                1 => new Input(1000 - i, Encoding.UTF8.GetBytes($"key {i}"), null, [("trace-id", [1, 2, 3]), ("empty", [])]),
                2 => new Input(1000 + (i * 7), [], [], [("null-value", null)]),
                3 => new Input(long.MaxValue / 2, Encoding.UTF8.GetBytes($"k{i}"), new byte[3000 + i], [("ünïcode", Encoding.UTF8.GetBytes("väl"))]),
                _ => new Input(0, null, null, []),
            });
        }

        return inputs;
    }

    private static byte[] Build(CompressionType compression, List<Input> inputs)
    {
        var builder = new RecordBatchBuilder { Compression = compression, BaseOffset = 42, ProducerId = 9001, ProducerEpoch = 3, BaseSequence = 17 };
        foreach (var input in inputs)
        {
            builder.Add(input.Timestamp, input.Key, input.Value, input.Headers);
        }

        return builder.Build();
    }

    private static void AssertSameBytes(byte[]? expected, ReadOnlyMemory<byte>? actual)
    {
        if (expected is null)
        {
            Assert.Null(actual);
            return;
        }

        Assert.NotNull(actual);
        Assert.Equal(expected, actual.Value.ToArray());
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Records_survive_build_validate_and_iterate(CompressionType compression)
    {
        foreach (var count in new[] { 0, 1, 5, 1000 })
        {
            var inputs = Inputs(count);
            var bytes = Build(compression, inputs);

            var validation = RecordBatchValidator.Validate(bytes);
            Assert.True(validation.IsValid, validation.ToString());
            Assert.Equal(1, validation.BatchCount);
            Assert.Equal(count, validation.RecordCount);

            var batch = RecordBatch.Read(bytes);
            Assert.True(batch.IsCrcValid);
            Assert.Equal(compression, batch.Header.Compression);
            Assert.Equal(42, batch.Header.BaseOffset);
            Assert.Equal(9001, batch.Header.ProducerId);
            Assert.Equal(3, batch.Header.ProducerEpoch);
            Assert.Equal(17, batch.Header.BaseSequence);
            Assert.Equal(count, batch.Header.RecordCount);
            Assert.False(batch.Header.IsControl);
            if (count > 0)
            {
                Assert.Equal(inputs[0].Timestamp, batch.Header.BaseTimestamp);
                Assert.Equal(inputs.Max(i => i.Timestamp), batch.Header.MaxTimestamp);
                Assert.Equal(count - 1, batch.Header.LastOffsetDelta);
            }

            var records = compression == CompressionType.None
                ? batch.Records
                : batch.DecompressRecords(new ArrayBufferWriter<byte>(), 16 * 1024 * 1024);
            var index = 0;
            foreach (var record in records)
            {
                var input = inputs[index];
                Assert.Equal(index, record.OffsetDelta);
                Assert.Equal(input.Timestamp, batch.Header.BaseTimestamp + record.TimestampDelta);
                AssertSameBytes(input.Key, record.Key);
                AssertSameBytes(input.Value, record.Value);
                Assert.Equal(input.Headers.Length, record.HeaderCount);

                var headerIndex = 0;
                foreach (var header in record.Headers)
                {
                    Assert.Equal(input.Headers[headerIndex].Key, header.DecodeKey());
                    AssertSameBytes(input.Headers[headerIndex].Value, header.Value);
                    headerIndex++;
                }

                Assert.Equal(input.Headers.Length, headerIndex);
                index++;
            }

            Assert.Equal(count, index);
        }
    }

    [Fact]
    public void Compressed_batch_is_smaller_and_its_records_are_not_readable_without_decompressing()
    {
        var inputs = Enumerable.Range(0, 200).Select(i => new Input(i, null, Encoding.UTF8.GetBytes("the same value every time"), [])).ToList();
        var plain = Build(CompressionType.None, inputs);
        var zstd = Build(CompressionType.Zstd, inputs);

        Assert.True(zstd.Length < plain.Length / 4, $"zstd {zstd.Length} vs plain {plain.Length}");
        Assert.Throws<InvalidOperationException>(() => RecordBatch.Read(zstd).Records);
    }

    [Fact]
    public void Uncompressed_key_and_value_are_slices_of_the_batch_not_copies()
    {
        var bytes = Build(CompressionType.None, [new Input(1, [0xAA], [0xBB, 0xCC], [])]);
        var enumerator = RecordBatch.Read(bytes).Records.GetEnumerator();
        Assert.True(enumerator.MoveNext());

        // Changing the batch's bytes shows through the value: it points into them. The last byte is the
        // header count, the two before it the value.
        var value = enumerator.Current.Value!.Value;
        bytes[^3] = 0x11;
        Assert.Equal(0x11, value.Span[0]);
    }

    [Fact]
    public void Iterating_uncompressed_records_allocates_nothing()
    {
        var inputs = Enumerable.Range(0, 1000).Select(i => new Input(i, [1, 2], new byte[100], [("h", [3])])).ToList();
        var batch = RecordBatch.Read(Build(CompressionType.None, inputs));

        static long SumSizes(RecordBatch batch)
        {
            long total = 0;
            foreach (var record in batch.Records)
            {
                total += record.Value!.Value.Length;
                foreach (var header in record.Headers)
                {
                    total += header.KeyUtf8.Length;
                }
            }

            return total;
        }

        SumSizes(batch); // warm up: first calls may JIT and allocate
        var before = GC.GetAllocatedBytesForCurrentThread();
        var total = SumSizes(batch);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1000 * 101, total);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Several_concatenated_batches_validate_together()
    {
        var first = Build(CompressionType.None, Inputs(3));
        var second = Build(CompressionType.Lz4, Inputs(10));
        var third = Build(CompressionType.Gzip, Inputs(0));

        var validation = RecordBatchValidator.Validate((byte[])[.. first, .. second, .. third]);

        Assert.True(validation.IsValid, validation.ToString());
        Assert.Equal(3, validation.BatchCount);
        Assert.Equal(13, validation.RecordCount);
        Assert.Equal([CompressionType.None, CompressionType.Lz4, CompressionType.Gzip], validation.Batches.Select(b => b.Compression));
    }

    [Fact]
    public void Transactional_flag_and_producer_fields_are_written()
    {
        var bytes = new RecordBatchBuilder { IsTransactional = true, ProducerId = 5, ProducerEpoch = 2, BaseSequence = 100 }
            .Add(10, null, [1]).Build();
        var header = RecordBatchHeader.Read(bytes);

        Assert.True(header.IsTransactional);
        Assert.False(header.IsControl);
        Assert.Equal((5L, (short)2, 100), (header.ProducerId, header.ProducerEpoch, header.BaseSequence));
        Assert.True(RecordBatchValidator.Validate(bytes).IsValid);
    }
}
