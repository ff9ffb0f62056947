using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Records;

/// <summary>Each malformed record shape gives a ProtocolException naming the record and the field.</summary>
public sealed class RecordIterationTests
{
    private static string ReadAllExpectingFailure(byte[] section, int recordCount)
    {
        var e = Assert.Throws<ProtocolException>(() =>
        {
            foreach (var record in new RecordCollection(section, recordCount))
            {
                foreach (var header in record.Headers)
                {
                    _ = header.KeyUtf8;
                }
            }
        });
        return e.Reason;
    }

    // Varints are zigzag: 2n encodes n, 1 encodes -1.
    [Fact]
    public void Key_length_beyond_the_record_names_the_key()
    {
        byte[] section = [0x0A, 0x00, 0x00, 0x00, 0x64, 0x00];
        Array.Resize(ref section, 6);
        section[0] = (byte)((section.Length - 1) << 1);
        var reason = ReadAllExpectingFailure(section, 1);
        Assert.Contains("record 0 at byte 0", reason);
        Assert.Contains("key length 50 exceeds the 1 bytes left in the record", reason);
    }

    [Fact]
    public void Record_length_beyond_the_section_is_refused()
    {
        byte[] section = [0xC8, 0x01, 0x00];
        Assert.Contains("record length 100 exceeds the 1 bytes left", ReadAllExpectingFailure(section, 1));
    }

    [Fact]
    public void Negative_record_length_is_refused()
    {
        Assert.Contains("record length -1 is negative", ReadAllExpectingFailure([0x01, 0x00], 1));
    }

    [Fact]
    public void Negative_length_other_than_minus_one_is_refused()
    {
        // key length -2
        byte[] section = [0x0A, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00];
        section[0] = (byte)((section.Length - 1) << 1);
        Assert.Contains("key length -2 is negative", ReadAllExpectingFailure(section, 1));
    }

    [Fact]
    public void Header_count_that_cannot_fit_is_refused_before_looping()
    {
        // null key, null value, header count 1,000,000 (zigzag varint 0x80 0x89 0x7A).
        byte[] section = [0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x80, 0x89, 0x7A];
        section[0] = (byte)((section.Length - 1) << 1);
        Assert.Contains("header count 1000000 cannot fit", ReadAllExpectingFailure(section, 1));
    }

    [Fact]
    public void Null_header_key_is_refused()
    {
        // null key, null value, 1 header with key length -1 and value length -1.
        byte[] section = [0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x01];
        section[0] = (byte)((section.Length - 1) << 1);
        Assert.Contains("header key is null", ReadAllExpectingFailure(section, 1));
    }

    [Fact]
    public void Fields_ending_before_the_record_length_are_refused()
    {
        // A complete record with no headers, plus one stray byte counted in its length.
        byte[] section = [0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00];
        section[0] = (byte)((section.Length - 1) << 1);
        Assert.Contains("fields end 1 bytes early", ReadAllExpectingFailure(section, 1));
    }

    [Fact]
    public void Empty_record_is_refused()
    {
        Assert.Contains("no attributes byte", ReadAllExpectingFailure([0x00], 1));
    }

    [Fact]
    public void Varint_longer_than_32_bits_is_refused()
    {
        byte[] section = [0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00];
        section[0] = (byte)((section.Length - 1) << 1);
        Assert.Contains("offset delta varint is longer than 32 bits", ReadAllExpectingFailure(section, 1));
    }

    [Fact]
    public void Well_formed_hand_written_record_reads_back()
    {
        // attributes 0, timestamp delta -1, offset delta 0, key "k", value null, header "h" -> [0x09].
        byte[] section = [0x00, 0x00, 0x01, 0x00, 0x02, (byte)'k', 0x01, 0x02, 0x02, (byte)'h', 0x02, 0x09];
        section[0] = (byte)((section.Length - 1) << 1);

        var count = 0;
        foreach (var record in new RecordCollection(section, 1))
        {
            Assert.Equal(-1, record.TimestampDelta);
            Assert.Equal(0, record.OffsetDelta);
            Assert.Equal("k"u8.ToArray(), record.Key!.Value.ToArray());
            Assert.Null(record.Value);
            Assert.Equal(section.Length, record.SizeInBytes);
            foreach (var header in record.Headers)
            {
                Assert.True(header.KeyEquals("h"u8));
                Assert.Equal([0x09], header.Value!.Value.ToArray());
            }

            count++;
        }

        Assert.Equal(1, count);
    }
}
