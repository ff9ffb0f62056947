using System.Buffers.Binary;

namespace Tributary.Protocol.Records;

/// <summary>
/// The control record that ends a transaction. Its key is int16 version (0) + int16 type (0 abort, 1 commit);
/// its value is int16 version (0) + int32 coordinator epoch. It is the only record of a batch whose
/// attributes carry both the control and the transactional flags.
/// </summary>
public readonly record struct EndTransactionMarker(ControlRecordType Type, int CoordinatorEpoch)
{
    public const short CurrentVersion = 0;
    public const int KeyBytes = 4;
    public const int ValueBytes = 6;

    public byte[] EncodeKey()
    {
        var key = new byte[KeyBytes];
        BinaryPrimitives.WriteInt16BigEndian(key, CurrentVersion);
        BinaryPrimitives.WriteInt16BigEndian(key.AsSpan(2), (short)Type);
        return key;
    }

    public byte[] EncodeValue()
    {
        var value = new byte[ValueBytes];
        BinaryPrimitives.WriteInt16BigEndian(value, CurrentVersion);
        BinaryPrimitives.WriteInt32BigEndian(value.AsSpan(2), CoordinatorEpoch);
        return value;
    }

    /// <summary>
    /// Reads the control type from a control record's key. Versions above 0 are read the same way: the key
    /// may grow fields after the type, as Kafka allows.
    /// </summary>
    public static short ReadControlType(ReadOnlySpan<byte> key)
    {
        if (key.Length < KeyBytes)
        {
            throw new ProtocolException($"control record key has {key.Length} bytes, it needs {KeyBytes}");
        }

        var version = BinaryPrimitives.ReadInt16BigEndian(key);
        if (version < 0)
        {
            throw new ProtocolException($"control record key version {version} is negative");
        }

        return BinaryPrimitives.ReadInt16BigEndian(key[2..]);
    }

    /// <summary>Reads the marker from a record of a control batch; throws <see cref="ProtocolException"/> if it is not one.</summary>
    public static EndTransactionMarker Read(in Record record)
    {
        if (record.Key is not { } key)
        {
            throw new ProtocolException("control record has a null key");
        }

        var type = ReadControlType(key.Span);
        if (type is not ((short)ControlRecordType.Abort or (short)ControlRecordType.Commit))
        {
            throw new ProtocolException($"control record type {type} is not a transaction marker");
        }

        if (record.Value is not { } value || value.Length < ValueBytes)
        {
            throw new ProtocolException($"transaction marker value has {record.Value?.Length.ToString() ?? "null"} bytes, it needs {ValueBytes}");
        }

        var version = BinaryPrimitives.ReadInt16BigEndian(value.Span);
        if (version < 0)
        {
            throw new ProtocolException($"transaction marker version {version} is negative");
        }

        return new EndTransactionMarker((ControlRecordType)type, BinaryPrimitives.ReadInt32BigEndian(value.Span[2..]));
    }
}
