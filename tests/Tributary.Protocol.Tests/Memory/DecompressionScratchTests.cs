using System.Buffers;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Records;
using Tributary.Protocol.Tests.Records;

namespace Tributary.Protocol.Tests.Memory;

/// <summary>
/// Decompression bombs are refused without keeping their memory: large scratch arrays are not parked in the shared
/// array pool, and all batches together hold no more scratch than the broker-wide budget.
/// </summary>
[Collection(MemoryMeasurements.Name)]
public sealed class DecompressionScratchTests
{
    private const int Bombs = 16;
    private const int Concurrency = 8;

    /// <summary>80 MiB of zeros in a few KB of zstd: more than a batch may decompress to (64 MiB).</summary>
    private static byte[] ZstdBomb()
    {
        var section = new ArrayBufferWriter<byte>();
        CompressionCodec.Compress(CompressionType.Zstd, new byte[80 * 1024 * 1024], section);
        Assert.True(section.WrittenCount < 64 * 1024, $"the bomb is {section.WrittenCount} bytes");
        return TestBatches.WithRecordsSection(section.WrittenSpan, 1, CompressionType.Zstd);
    }

    private static List<RecordBatchValidation> ValidateConcurrently(byte[] batch, ByteBudget? budget)
    {
        var results = new List<RecordBatchValidation>();
        Parallel.For(0, Bombs, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, _ =>
        {
            var validation = RecordBatchValidator.Validate(batch, RecordBatchValidator.DecompressedBytesMaxDefault, budget);
            lock (results)
            {
                results.Add(validation);
            }
        });
        return results;
    }

    [Fact]
    public void A_refused_bomb_leaves_its_large_scratch_array_to_the_collector()
    {
        var batch = ZstdBomb();
        Assert.Equal(RecordBatchError.DecompressedTooLarge, RecordBatchValidator.Validate(batch).Error);

        // The bomb grew its scratch to the 128 MiB size class on this thread. Had the array gone back to the shared
        // pool, which keeps it per thread and per core for good, this rent would reuse it and allocate nothing.
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var rented = ArrayPool<byte>.Shared.Rent(100 * 1024 * 1024);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.True(allocated >= rented.Length, $"the rent of {rented.Length} bytes allocated {allocated}: a pooled scratch array was still held");
    }

    [Fact]
    public void Concurrent_bombs_hold_no_more_scratch_than_the_budget()
    {
        var batch = ZstdBomb();
        var budget = new ByteBudget(160L * 1024 * 1024);

        var results = ValidateConcurrently(batch, budget);

        // Each is refused for its size, or (if the budget stayed full for the whole wait) as retriable.
        Assert.All(results, r => Assert.Contains(r.Error, new[] { RecordBatchError.DecompressedTooLarge, RecordBatchError.ScratchMemoryUnavailable }));
        Assert.Contains(results, r => r.Error == RecordBatchError.DecompressedTooLarge);
        // The bombs' scratch arrays were counted (each grows past 64 MiB) and together never passed the limit.
        Assert.True(budget.PeakBytes >= 64L * 1024 * 1024, $"peak {budget.PeakBytes} bytes: the scratch arrays were not counted");
        Assert.True(budget.PeakBytes <= budget.LimitBytes, $"peak {budget.PeakBytes} bytes over the {budget.LimitBytes} limit");
        Assert.Equal(0, budget.UsedBytes);
    }

    [Fact]
    public void A_batch_that_finds_no_scratch_memory_is_refused_as_retriable_and_is_valid_later()
    {
        var batch = TestBatches.Sample(CompressionType.Zstd);
        var budget = new ByteBudget(1024 * 1024);
        Assert.True(budget.TryReserve(budget.LimitBytes));

        var refused = RecordBatchValidator.Validate(batch, RecordBatchValidator.DecompressedBytesMaxDefault, budget);
        Assert.Equal(RecordBatchError.ScratchMemoryUnavailable, refused.Error);
        Assert.Contains("scratch memory", refused.Reason);

        budget.Release(budget.LimitBytes);
        Assert.True(RecordBatchValidator.Validate(batch, RecordBatchValidator.DecompressedBytesMaxDefault, budget).IsValid);
        Assert.Equal(0, budget.UsedBytes);
    }
}

/// <summary>Tests that look at the shared array pool run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurements
{
    public const string Name = "memory measurements";
}
