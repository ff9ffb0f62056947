using System.Text;

namespace Tributary.Protocol.Records;

/// <summary>One record header: a UTF-8 key (never null) and a value that may be null, both slices of the batch.</summary>
public readonly struct RecordHeader(ReadOnlyMemory<byte> keyUtf8, ReadOnlyMemory<byte>? value)
{
    public ReadOnlyMemory<byte> KeyUtf8 { get; } = keyUtf8;

    public ReadOnlyMemory<byte>? Value { get; } = value;

    /// <summary>Decodes the key into a new string (allocates; the bytes are in <see cref="KeyUtf8"/>).</summary>
    public string DecodeKey() => Encoding.UTF8.GetString(KeyUtf8.Span);

    public bool KeyEquals(ReadOnlySpan<byte> utf8) => KeyUtf8.Span.SequenceEqual(utf8);
}
