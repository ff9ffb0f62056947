using System.Buffers;
using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Fuzz;

/// <summary>Request frames as a client writes them: header and body, with or without the 4-byte size prefix.</summary>
public static class RequestFrames
{
    public static byte[] Encode(ApiKey api, short version, IKafkaMessage request, int correlationId = 1)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        new RequestHeader { RequestApiKey = (short)api, RequestApiVersion = version, CorrelationId = correlationId, ClientId = "fuzz" }
            .Write(ref writer, KafkaApis.Find((short)api)!.RequestHeaderVersion(version));
        request.Write(ref writer, version);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The frames as they arrive on a connection: each after its big-endian size.</summary>
    public static byte[] Prefixed(IEnumerable<byte[]> frames)
    {
        var bytes = new List<byte>();
        foreach (var frame in frames)
        {
            var size = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(size, frame.Length);
            bytes.AddRange(size);
            bytes.AddRange(frame);
        }

        return [.. bytes];
    }
}
