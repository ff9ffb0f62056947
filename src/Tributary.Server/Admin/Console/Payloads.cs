using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Tributary.Server.Admin.Console;

/// <summary>How the console shows keys, values and headers: UTF-8 text when they are, pretty JSON when they parse, hex always.</summary>
internal static class Payloads
{
    /// <summary>Bytes of a key or value shown as text or JSON; a longer one is cut and marked truncated.</summary>
    public const int PreviewBytesMax = 64 * 1024;

    /// <summary>Bytes shown in hex: enough to recognise a binary format, small enough for a page of messages.</summary>
    public const int HexBytesMax = 1024;

    public static MessageBody Message(int partition, in ScannedRecord scanned)
    {
        var record = scanned.Record;
        var headers = new List<HeaderBody>(record.HeaderCount);
        foreach (var header in record.Headers)
        {
            headers.Add(new HeaderBody(header.DecodeKey(), header.Value is { } value ? Text(value.Span) : null));
        }

        return new MessageBody(
            partition,
            scanned.Offset,
            scanned.TimestampMs,
            scanned.LogAppendTime ? "LogAppendTime" : "CreateTime",
            record.Key is { } key ? Payload(key.Span) : null,
            record.Value is { } v ? Payload(v.Span) : null,
            headers);
    }

    public static PayloadBody Payload(ReadOnlySpan<byte> bytes)
    {
        var truncated = bytes.Length > PreviewBytesMax;
        var shown = truncated ? bytes[..PreviewBytesMax] : bytes;
        string? text = Utf8.IsValid(shown) ? Encoding.UTF8.GetString(shown) : null;
        var json = truncated || text is null ? null : PrettyJson(bytes);
        return new PayloadBody(bytes.Length, text, json, Convert.ToHexStringLower(bytes[..Math.Min(bytes.Length, HexBytesMax)]), truncated);
    }

    /// <summary>A header value as text when it is UTF-8, else as hex.</summary>
    private static string Text(ReadOnlySpan<byte> bytes) =>
        Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : "0x" + Convert.ToHexStringLower(bytes[..Math.Min(bytes.Length, HexBytesMax)]);

    /// <summary>The value indented, when it is a JSON object or array; null otherwise.</summary>
    private static string? PrettyJson(ReadOnlySpan<byte> bytes)
    {
        var trimmed = bytes.TrimStart(" \t\r\n"u8);
        if (trimmed.IsEmpty || (trimmed[0] != (byte)'{' && trimmed[0] != (byte)'['))
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(bytes);
            using var document = JsonDocument.ParseValue(ref reader);
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                document.WriteTo(writer);
            }

            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
