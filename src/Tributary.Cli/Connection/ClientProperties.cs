using System.Globalization;
using System.Text;

namespace Tributary.Cli.Connection;

/// <summary>
/// Reads a Java properties file as Kafka's tools read <c>--command-config</c> (java.util.Properties.load): one
/// <c>key=value</c>, <c>key: value</c> or <c>key value</c> a line; lines starting with <c>#</c> or <c>!</c> are
/// comments; a line ending in an odd number of backslashes continues on the next; <c>\t \n \r \f \uXXXX</c> are
/// escapes and a backslash before any other character stands for that character. The last of repeated keys wins.
/// </summary>
internal static class ClientProperties
{
    public static Dictionary<string, string> Parse(string text)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in LogicalLines(text))
        {
            var position = 0;
            var key = Read(line, ref position, isKey: true);
            SkipSeparator(line, ref position);
            properties[key] = Read(line, ref position, isKey: false);
        }

        return properties;
    }

    /// <summary>The non-blank, non-comment lines with continuations joined (backslash and the next line's leading space dropped).</summary>
    private static IEnumerable<string> LogicalLines(string text)
    {
        var joined = new StringBuilder();
        var continuing = false;
        foreach (var raw in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.TrimStart(' ', '\t', '\f');
            if (!continuing && (line.Length == 0 || line[0] is '#' or '!'))
            {
                continue;
            }

            var trailing = line.Length - line.TrimEnd('\\').Length;
            continuing = trailing % 2 == 1;
            joined.Append(continuing ? line[..^1] : line);
            if (!continuing)
            {
                yield return joined.ToString();
                joined.Clear();
            }
        }

        if (joined.Length > 0)
        {
            yield return joined.ToString();
        }
    }

    private static void SkipSeparator(string line, ref int position)
    {
        while (position < line.Length && line[position] is ' ' or '\t' or '\f')
        {
            position++;
        }

        if (position < line.Length && line[position] is '=' or ':')
        {
            position++;
        }

        while (position < line.Length && line[position] is ' ' or '\t' or '\f')
        {
            position++;
        }
    }

    // A key ends at the first unescaped '=', ':' or white space; a value runs to the end of the line.
    private static string Read(string line, ref int position, bool isKey)
    {
        var result = new StringBuilder();
        for (; position < line.Length; position++)
        {
            var c = line[position];
            if (isKey && c is '=' or ':' or ' ' or '\t' or '\f')
            {
                break;
            }

            if (c != '\\' || position + 1 == line.Length)
            {
                result.Append(c);
                continue;
            }

            c = line[++position];
            if (c == 'u' && position + 4 < line.Length
                && ushort.TryParse(line.AsSpan(position + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
            {
                result.Append((char)code);
                position += 4;
                continue;
            }

            result.Append(c switch { 't' => '\t', 'n' => '\n', 'r' => '\r', 'f' => '\f', _ => c });
        }

        return result.ToString();
    }
}
