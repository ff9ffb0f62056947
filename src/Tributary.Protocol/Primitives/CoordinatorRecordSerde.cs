using System.Buffers;
using System.Buffers.Binary;

namespace Tributary.Protocol;

/// <summary>
/// Kafka's framing of coordinator records in internal topics: a record key is the int16 record type followed by
/// the key's fields (keys have one version, 0); a record value is its int16 version followed by the value's
/// fields at that version; a null value is a tombstone.
/// </summary>
public static class CoordinatorRecordSerde
{
    public static byte[] SerializeKey<TKey>(TKey key)
        where TKey : IKafkaMessage<TKey>, ICoordinatorRecord
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteInt16(TKey.RecordType);
        key.Write(ref writer, 0);
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] SerializeValue<TValue>(TValue value, short version)
        where TValue : IKafkaMessage<TValue>, ICoordinatorRecord
    {
        if (version < TValue.LowestSupportedVersion || version > TValue.HighestSupportedVersion)
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, $"{typeof(TValue).Name} has versions {TValue.LowestSupportedVersion}-{TValue.HighestSupportedVersion}");
        }

        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        writer.WriteInt16(version);
        value.Write(ref writer, version);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The record type a key starts with, which says which key and value schema the record has.</summary>
    public static short ReadRecordType(ReadOnlySpan<byte> key) =>
        key.Length >= 2 ? BinaryPrimitives.ReadInt16BigEndian(key) : throw new ProtocolException($"a coordinator record key of {key.Length} bytes has no record type");

    public static TKey DeserializeKey<TKey>(ReadOnlyMemory<byte> key)
        where TKey : IKafkaMessage<TKey>, ICoordinatorRecord
    {
        var type = ReadRecordType(key.Span);
        if (type != TKey.RecordType)
        {
            throw new ProtocolException($"record type {type} is not {typeof(TKey).Name} ({TKey.RecordType})");
        }

        var reader = new KafkaReader(key[2..]);
        return TKey.Read(ref reader, 0);
    }

    /// <summary>Reads a value at the version it starts with; a version the schema does not define is an error.</summary>
    public static TValue DeserializeValue<TValue>(ReadOnlyMemory<byte> value, out short version)
        where TValue : IKafkaMessage<TValue>, ICoordinatorRecord
    {
        version = value.Length >= 2 ? BinaryPrimitives.ReadInt16BigEndian(value.Span) : throw new ProtocolException($"a coordinator record value of {value.Length} bytes has no version");
        if (version < TValue.LowestSupportedVersion || version > TValue.HighestSupportedVersion)
        {
            throw new ProtocolException($"{typeof(TValue).Name} version {version} is outside {TValue.LowestSupportedVersion}-{TValue.HighestSupportedVersion}");
        }

        var reader = new KafkaReader(value[2..]);
        return TValue.Read(ref reader, version);
    }
}
