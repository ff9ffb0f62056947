using System.Text;

namespace Tributary.Broker.Security;

/// <summary>
/// One login module of a listener's <c>&lt;mechanism&gt;.sasl.jaas.config</c> in Kafka's JAAS syntax:
/// <c>MODULE FLAG name="value" name=value …;</c>. Mechanisms read their options from it (PLAIN its users, OAUTHBEARER
/// its unsecured validator's settings).
/// </summary>
public static class JaasConfig
{
    public const string ScramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule";

    private static readonly string[] ControlFlags = ["required", "requisite", "sufficient", "optional"];

    /// <summary>The options of a config for <paramref name="module"/>; or the error, which never quotes a value (they may be passwords).</summary>
    public static (IReadOnlyDictionary<string, string> Options, string? Error) Parse(string value, string module)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var position = 0;
        if (Word(value, ref position) != module)
        {
            return (options, $"expected the login module {module}");
        }

        if (!ControlFlags.Contains(Word(value, ref position)))
        {
            return (options, $"expected a control flag ({string.Join(", ", ControlFlags)}) after {module}");
        }

        while (true)
        {
            SkipSpace(value, ref position);
            if (position < value.Length && value[position] == ';')
            {
                position++;
                SkipSpace(value, ref position);
                return position == value.Length ? (options, null) : (options, "expected one login module, ended by ';'");
            }

            var equals = value.IndexOf('=', position);
            if (equals < 0)
            {
                return (options, "expected name=\"value\" options ended by ';'");
            }

            var name = value[position..equals].Trim();
            position = equals + 1;
            if (name.Length == 0 || name.Any(char.IsWhiteSpace) || ReadValue(value, ref position) is not { } option)
            {
                return (options, "expected name=\"value\" options ended by ';'");
            }

            options[name] = option;
        }
    }

    private static string Word(string value, ref int position)
    {
        SkipSpace(value, ref position);
        var start = position;
        while (position < value.Length && !char.IsWhiteSpace(value[position]) && value[position] != ';')
        {
            position++;
        }

        return value[start..position];
    }

    // A quoted value (backslash escapes the next character) or a bare word.
    private static string? ReadValue(string value, ref int position)
    {
        SkipSpace(value, ref position);
        if (position >= value.Length || value[position] != '"')
        {
            var word = Word(value, ref position);
            return word.Length > 0 ? word : null;
        }

        var result = new StringBuilder();
        for (position++; position < value.Length; position++)
        {
            var c = value[position];
            if (c == '"')
            {
                position++;
                return result.ToString();
            }

            if (c == '\\' && position + 1 < value.Length)
            {
                c = value[++position];
            }

            result.Append(c);
        }

        return null;
    }

    private static void SkipSpace(string value, ref int position)
    {
        while (position < value.Length && char.IsWhiteSpace(value[position]))
        {
            position++;
        }
    }
}
