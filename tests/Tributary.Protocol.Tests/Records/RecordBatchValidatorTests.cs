using System.Buffers.Binary;
using Tributary.Protocol.Compression;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Records;

/// <summary>The produce path's gate: each way a client's bytes can be wrong gets the right error kind and a reason.</summary>
public sealed class RecordBatchValidatorTests
{
    private static RecordBatchValidation AssertInvalid(byte[] records, RecordBatchError expected, string reasonPart, int decompressedBytesMax = RecordBatchValidator.DecompressedBytesMaxDefault)
    {
        var validation = RecordBatchValidator.Validate(records, decompressedBytesMax);
        Assert.Equal(expected, validation.Error);
        Assert.False(validation.IsValid);
        Assert.Contains(reasonPart, validation.Reason);
        Assert.Equal(0, validation.BatchCount);
        return validation;
    }

    [Fact]
    public void Empty_records_are_valid_with_no_batches()
    {
        var validation = RecordBatchValidator.Validate(ReadOnlyMemory<byte>.Empty);
        Assert.True(validation.IsValid);
        Assert.Equal(0, validation.BatchCount);
    }

    [Fact]
    public void Flipped_bit_in_a_value_is_a_crc_mismatch()
    {
        var batch = TestBatches.Sample();
        batch[^5] ^= 0x01;
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "CRC32C mismatch");
    }

    [Fact]
    public void Changed_attributes_are_covered_by_the_crc()
    {
        var batch = TestBatches.Sample();
        batch[RecordBatchHeader.AttributesOffset + 1] |= RecordBatchHeader.TransactionalFlag;
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "CRC32C mismatch");
    }

    [Fact]
    public void Partition_leader_epoch_is_outside_the_crc()
    {
        var batch = TestBatches.Sample();
        RecordBatchHeader.WritePartitionLeaderEpoch(batch, 12);
        Assert.True(RecordBatchValidator.Validate(batch).IsValid);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Old_message_formats_are_rejected_as_unsupported_magic(byte magic)
    {
        // A v0/v1 message set entry: offset, size, crc, magic, attributes, (timestamp), key, value.
        var message = new byte[34];
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(8), message.Length - 12);
        message[16] = magic;
        var validation = AssertInvalid(message, RecordBatchError.UnsupportedMagic, $"magic {magic}");
        Assert.Contains("only magic 2", validation.Reason);
    }

    [Fact]
    public void Unknown_magic_is_corrupt()
    {
        var batch = TestBatches.Sample();
        batch[RecordBatchHeader.MagicOffset] = 3;
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "magic 3");
    }

    [Fact]
    public void Every_truncation_of_a_batch_is_corrupt()
    {
        var batch = TestBatches.Sample();
        for (var length = 1; length < batch.Length; length++)
        {
            var validation = RecordBatchValidator.Validate(batch.AsMemory(0, length));
            Assert.Equal(RecordBatchError.CorruptMessage, validation.Error);
        }
    }

    [Fact]
    public void Truncated_second_batch_names_its_position()
    {
        var batch = TestBatches.Sample();
        AssertInvalid([.. batch, .. batch.AsSpan(0, 30)], RecordBatchError.CorruptMessage, $"batch 1 at byte {batch.Length}");
    }

    [Fact]
    public void Batch_length_below_the_header_is_corrupt()
    {
        var batch = TestBatches.Sample();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.BatchLengthOffset), 10);
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "shorter than the v2 header");
    }

    [Fact]
    public void Last_offset_delta_must_match_the_record_count()
    {
        var batch = TestBatches.Sample(recordCount: 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), 5);
        TestBatches.RestampCrc(batch);
        AssertInvalid(batch, RecordBatchError.InvalidRecord, "last offset delta 5 does not match record count 3");
    }

    [Fact]
    public void Record_count_larger_than_the_records_is_corrupt()
    {
        var batch = TestBatches.Sample(recordCount: 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordCountOffset), 4);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), 3);
        TestBatches.RestampCrc(batch);
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "declares 4 records but its bytes end after 3");
    }

    [Fact]
    public void Record_count_smaller_than_the_records_is_corrupt()
    {
        var batch = TestBatches.Sample(recordCount: 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordCountOffset), 2);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), 1);
        TestBatches.RestampCrc(batch);
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "left over after the batch's 2 records");
    }

    [Fact]
    public void Huge_record_count_fails_fast_instead_of_looping()
    {
        var batch = TestBatches.Sample(recordCount: 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordCountOffset), int.MaxValue);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), int.MaxValue - 1);
        TestBatches.RestampCrc(batch);
        AssertInvalid(batch, RecordBatchError.CorruptMessage, "bytes end after 3");
    }

    [Fact]
    public void Offset_deltas_out_of_sequence_are_an_invalid_record()
    {
        // Two records, both with offset delta 0: attributes, timestamp delta 0, offset delta 0, null key, value "a", no headers.
        byte[] record = [0x0C, 0x00, 0x00, 0x00, 0x01, 0x02, (byte)'a', 0x00];
        record[0] = (byte)((record.Length - 1) << 1);
        var batch = TestBatches.WithRecordsSection([.. record, .. record], recordCount: 2);
        AssertInvalid(batch, RecordBatchError.InvalidRecord, "record 1 has offset delta 0");
    }

    [Fact]
    public void Codec_id_beyond_zstd_is_unsupported()
    {
        var batch = TestBatches.Sample();
        batch[RecordBatchHeader.AttributesOffset + 1] |= 0x05;
        TestBatches.RestampCrc(batch);
        AssertInvalid(batch, RecordBatchError.UnsupportedCompressionType, "codec 5");
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Compressed_batch_beyond_the_decompression_limit_is_refused(CompressionType compression)
    {
        var builder = new RecordBatchBuilder { Compression = compression };
        for (var i = 0; i < 100; i++)
        {
            builder.Add(i, null, new byte[10_000]);
        }

        var batch = builder.Build();
        Assert.True(batch.Length < 100_000);
        AssertInvalid(batch, RecordBatchError.DecompressedTooLarge, "bytes allowed", decompressedBytesMax: 100_000);
        Assert.True(RecordBatchValidator.Validate(batch, decompressedBytesMax: 2_000_000).IsValid);
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Compressed_section_that_is_not_valid_for_its_codec_is_corrupt(CompressionType compression)
    {
        var garbage = new byte[64];
        new Random(1).NextBytes(garbage);
        AssertInvalid(TestBatches.WithRecordsSection(garbage, 1, compression), RecordBatchError.CorruptMessage, "");
    }

    [Fact]
    public void Compressed_records_that_do_not_parse_are_corrupt()
    {
        // Valid zstd, but what it decompresses to is not a record: a varint that never ends.
        var section = new System.Buffers.ArrayBufferWriter<byte>();
        ZstdCodec.Compress([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], section);
        AssertInvalid(TestBatches.WithRecordsSection(section.WrittenSpan, 1, CompressionType.Zstd), RecordBatchError.CorruptMessage, "record length varint");
    }

    [Fact]
    public void Unterminated_varint_in_a_record_is_corrupt_with_its_field_named()
    {
        byte[] record = [0x10, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        AssertInvalid(TestBatches.WithRecordsSection(record, 1), RecordBatchError.CorruptMessage, "timestamp delta varlong runs past the end of the record");
    }

    [Fact]
    public void Keyless_records_are_listed_across_batches_and_inside_compressed_ones_only_when_keys_are_required()
    {
        byte[] Batch(CompressionType compression, params byte[]?[] keys)
        {
            var builder = new RecordBatchBuilder { Compression = compression };
            foreach (var key in keys)
            {
                builder.Add(1_000, key, [1]);
            }

            return builder.Build();
        }

        byte[] records = [.. Batch(CompressionType.None, [1], null), .. Batch(CompressionType.Gzip, null, [2], null)];

        var required = RecordBatchValidator.Validate(records, requireKeys: true);
        Assert.True(required.IsValid);
        Assert.Equal([1L, 2L, 4L], required.KeylessRecords);
        Assert.Empty(RecordBatchValidator.Validate(records).KeylessRecords);
    }
}
