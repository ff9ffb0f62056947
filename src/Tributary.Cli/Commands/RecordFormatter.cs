using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tributary.Cli.Commands;

/// <summary>
/// Writes consumed records as kcat's <c>-f</c> format string does, or as JSON lines. Format tokens: %t topic,
/// %p partition, %o offset, %k key, %s value, %K key size, %S value size (-1 for null), %T timestamp (Unix ms),
/// %h headers (<c>k=v</c> separated by commas), %% a percent sign; escapes \n \t \r \\. A null key or value prints
/// nothing.
/// </summary>
internal sealed class RecordFormatter
{
    public const string Tokens = @"%t topic, %p partition, %o offset, %k key, %s value, %K key size, %S value size, %T timestamp (ms), %h headers (k=v,...), %% percent; escapes \n \t \r \\";

    private readonly List<Part> _parts;
    private readonly bool _json;

    private RecordFormatter(List<Part> parts, bool json)
    {
        _parts = parts;
        _json = json;
    }

    public static RecordFormatter Json() => new([], json: true);

    /// <summary>Compiles a format string; an unknown %-token or a trailing lone % is an error naming it.</summary>
    public static RecordFormatter Parse(string format, out string? error)
    {
        error = null;
        var parts = new List<Part>();
        var literal = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c is '%' or '\\' && i + 1 < format.Length)
            {
                var next = format[++i];
                char? escaped = (c, next) switch
                {
                    ('%', '%') => '%',
                    ('\\', 'n') => '\n',
                    ('\\', 't') => '\t',
                    ('\\', 'r') => '\r',
                    ('\\', '\\') => '\\',
                    _ => null,
                };
                if (escaped is not null)
                {
                    literal.Append(escaped.Value);
                    continue;
                }

                if (c == '\\')
                {
                    literal.Append(c).Append(next);
                    continue;
                }

                if ("tpoksKSTh".IndexOf(next, StringComparison.Ordinal) < 0)
                {
                    error = $"--format: unknown token %{next} (known: {Tokens})";
                    return new RecordFormatter([], json: false);
                }

                if (literal.Length > 0)
                {
                    parts.Add(new Part('\0', Encoding.UTF8.GetBytes(literal.ToString())));
                    literal.Clear();
                }

                parts.Add(new Part(next, null));
            }
            else if (c == '%')
            {
                error = "--format ends with a lone %";
                return new RecordFormatter([], json: false);
            }
            else
            {
                literal.Append(c);
            }
        }

        if (literal.Length > 0)
        {
            parts.Add(new Part('\0', Encoding.UTF8.GetBytes(literal.ToString())));
        }

        return new RecordFormatter(parts, json: false);
    }

    public void Write(Stream output, in ConsumedRecord consumed)
    {
        if (_json)
        {
            JsonSerializer.Serialize(output, ToJson(consumed), ConsumeJsonContext.Default.ConsumedRecordJson);
            output.WriteByte((byte)'\n');
            return;
        }

        var record = consumed.Record;
        foreach (var part in _parts)
        {
            switch (part.Token)
            {
                case '\0':
                    output.Write(part.Literal);
                    break;
                case 't':
                    WriteText(output, consumed.Topic);
                    break;
                case 'p':
                    WriteText(output, consumed.Partition.ToString(CultureInfo.InvariantCulture));
                    break;
                case 'o':
                    WriteText(output, consumed.Offset.ToString(CultureInfo.InvariantCulture));
                    break;
                case 'T':
                    WriteText(output, consumed.Timestamp.ToString(CultureInfo.InvariantCulture));
                    break;
                case 'k':
                    output.Write(record.Key is { } key ? key.Span : default);
                    break;
                case 's':
                    output.Write(record.Value is { } value ? value.Span : default);
                    break;
                case 'K':
                    WriteText(output, (record.Key?.Length ?? -1).ToString(CultureInfo.InvariantCulture));
                    break;
                case 'S':
                    WriteText(output, (record.Value?.Length ?? -1).ToString(CultureInfo.InvariantCulture));
                    break;
                case 'h':
                    var first = true;
                    foreach (var header in record.Headers)
                    {
                        if (!first)
                        {
                            output.WriteByte((byte)',');
                        }

                        first = false;
                        output.Write(header.KeyUtf8.Span);
                        output.WriteByte((byte)'=');
                        output.Write(header.Value is { } headerValue ? headerValue.Span : default);
                    }

                    break;
            }
        }
    }

    private static void WriteText(Stream output, string text)
    {
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        var length = Encoding.UTF8.GetBytes(text, bytes);
        output.Write(bytes, 0, length);
        ArrayPool<byte>.Shared.Return(bytes);
    }

    private static ConsumedRecordJson ToJson(in ConsumedRecord consumed)
    {
        var record = consumed.Record;
        var (key, keyEncoding) = Text(record.Key);
        var (value, valueEncoding) = Text(record.Value);
        var headers = new List<ConsumedHeaderJson>(record.HeaderCount);
        foreach (var header in record.Headers)
        {
            var (headerValue, headerEncoding) = Text(header.Value);
            headers.Add(new ConsumedHeaderJson(header.DecodeKey(), headerValue, headerEncoding));
        }

        return new ConsumedRecordJson(consumed.Topic, consumed.Partition, consumed.Offset, consumed.Timestamp, key, keyEncoding, value, valueEncoding, headers);
    }

    /// <summary>UTF-8 text when the bytes are valid UTF-8, else base64 (and the encoding says so).</summary>
    private static (string? Text, string? Encoding) Text(ReadOnlyMemory<byte>? bytes)
    {
        if (bytes is not { } memory)
        {
            return (null, null);
        }

        return System.Text.Unicode.Utf8.IsValid(memory.Span)
            ? (Encoding.UTF8.GetString(memory.Span), null)
            : (Convert.ToBase64String(memory.Span), "base64");
    }

    private readonly record struct Part(char Token, byte[]? Literal);
}
