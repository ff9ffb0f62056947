using System.Text;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests.Records;

/// <summary>
/// The CRC32C that guards every record batch, checked against the published check value and against a bit-at-a-time
/// reference computed straight from the polynomial, around the lengths where the three-stream path starts and ends.
/// </summary>
public sealed class Crc32CTests
{
    [Fact]
    public void The_check_value_of_the_nine_digits_is_the_published_one()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(3071)]
    [InlineData(3072)] // exactly one round of three 1 KiB streams
    [InlineData(3073)]
    [InlineData(6144)]
    [InlineData(6151)]
    [InlineData(131_093)] // a typical produced batch
    public void Every_length_gives_what_the_bitwise_reference_gives_at_any_alignment(int length)
    {
        var bytes = new byte[length + 8];
        new Random(length).NextBytes(bytes);
        for (var skip = 0; skip < 8; skip += 3)
        {
            var data = bytes.AsSpan(skip, length);
            Assert.Equal(Reference(data), Crc32C.Compute(data));
        }
    }

    [Fact]
    public void Appending_in_pieces_of_any_size_gives_the_crc_of_the_whole()
    {
        var bytes = new byte[20_000];
        new Random(11).NextBytes(bytes);
        var whole = Crc32C.Compute(bytes);
        var random = new Random(12);
        for (var trial = 0; trial < 20; trial++)
        {
            var crc = uint.MaxValue;
            var at = 0;
            while (at < bytes.Length)
            {
                var piece = Math.Min(bytes.Length - at, random.Next(0, 7000));
                crc = Crc32C.Append(crc, bytes.AsSpan(at, piece));
                at += piece;
            }

            Assert.Equal(whole, ~crc);
        }
    }

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) one bit at a time.</summary>
    private static uint Reference(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }
}
