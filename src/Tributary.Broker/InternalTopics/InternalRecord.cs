using System.Buffers;
using Tributary.Protocol;

namespace Tributary.Broker.InternalTopics;

/// <summary>Encodes an internal topic's record key or value into an array of its own.</summary>
internal static class InternalRecord
{
    public delegate void WriteAction(ref KafkaWriter writer);

    public static byte[] Encode(WriteAction write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        write(ref writer);
        return buffer.WrittenSpan.ToArray();
    }
}
