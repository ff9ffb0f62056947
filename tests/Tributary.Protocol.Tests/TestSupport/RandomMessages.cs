using System.Buffers;
using System.Text;

namespace Tributary.Protocol.Tests;

/// <summary>Random field values for the generated builders in Generated/RandomMessages.g.cs.</summary>
public static partial class RandomMessages
{
    private const int DepthMax = 4;

    // Multi-byte UTF-8 on purpose: a length counted in chars instead of bytes would break the round trip.
    private static readonly string[] Words = ["", "a", "topic-1", "grüße", "日本語", "emoji-🙂", "x.y_z"];

    public static string RandomString(Random r) => Words[r.Next(Words.Length)] + (r.Next(3) == 0 ? r.Next().ToString("x", System.Globalization.CultureInfo.InvariantCulture) : "");

    public static byte[] RandomBytes(Random r)
    {
        var bytes = new byte[r.Next(0, 40)];
        r.NextBytes(bytes);
        return bytes;
    }

    public static ReadOnlyMemory<byte>? RandomRecords(Random r) => RandomBytes(r);

    public static Guid RandomUuid(Random r)
    {
        Span<byte> bytes = stackalloc byte[16];
        r.NextBytes(bytes);
        return new Guid(bytes);
    }

    public static List<T> RandomList<T>(Random r, int depth, Func<int, T> make)
    {
        var count = depth >= DepthMax ? 0 : r.Next(0, 4);
        var list = new List<T>(count);
        for (var i = 0; i < count; i++)
        {
            list.Add(make(depth));
        }

        return list;
    }

    public static List<RawTaggedField> RandomUnknownTaggedFields(Random r)
    {
        // Tags far above any tag the schemas use, so they stay unknown to every message.
        var list = new List<RawTaggedField>();
        var tag = 10_000 + r.Next(100);
        for (var i = 0; i < r.Next(1, 3); i++)
        {
            list.Add(new RawTaggedField(tag, RandomBytes(r)));
            tag += 1 + r.Next(50);
        }

        return list;
    }

    public static T ReadAll<T>(ReadOnlyMemory<byte> bytes, short version)
        where T : IKafkaMessage<T>
    {
        var reader = new KafkaReader(bytes);
        var message = T.Read(ref reader, version);
        return reader.End ? message : throw new ProtocolException($"{reader.Remaining} bytes left after {typeof(T).Name}");
    }

    public static byte[] Encode(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        return buffer.WrittenSpan.ToArray();
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    /// <summary>Where two encodings first differ, with a little context.</summary>
    public static string Difference(byte[] expected, byte[] actual)
    {
        var at = expected.AsSpan().CommonPrefixLength(actual);
        var from = Math.Max(0, at - 8);
        string Around(byte[] b) => Hex(b.AsSpan(from, Math.Min(b.Length - from, 24)));
        return $"lengths {expected.Length}/{actual.Length}, first difference at byte {at}: {Around(expected)} vs {Around(actual)}";
    }

    internal static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
