using System.Text;

namespace Tributary.Broker.Security;

/// <summary>
/// A listener's <c>plain.sasl.jaas.config</c> in Kafka's JAAS syntax:
/// <c>org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="secret" user_bob="other";</c>.
/// Each <c>user_NAME="password"</c> option is a user PLAIN accepts (as Kafka's PlainServerCallbackHandler reads
/// them); username/password (the broker's own login for inter-broker use) are accepted and not used.
/// </summary>
public static class PlainJaasConfig
{
    public const string LoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule";

    private static readonly string[] ControlFlags = ["required", "requisite", "sufficient", "optional"];

    /// <summary>The users and passwords; or the error, which never quotes a value (they are passwords).</summary>
    public static (IReadOnlyDictionary<string, string> Users, string? Error) Parse(string value)
    {
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        var position = 0;
        var module = Word(value, ref position);
        if (module != LoginModule)
        {
            return (users, $"expected the login module {LoginModule}");
        }

        if (!ControlFlags.Contains(Word(value, ref position)))
        {
            return (users, $"expected a control flag ({string.Join(", ", ControlFlags)}) after {LoginModule}");
        }

        while (true)
        {
            SkipSpace(value, ref position);
            if (position < value.Length && value[position] == ';')
            {
                position++;
                SkipSpace(value, ref position);
                return position == value.Length ? (users, null) : (users, "expected one login module, ended by ';'");
            }

            var equals = value.IndexOf('=', position);
            if (equals < 0)
            {
                return (users, "expected name=\"value\" options ended by ';'");
            }

            var name = value[position..equals].Trim();
            position = equals + 1;
            if (name.Length == 0 || name.Any(char.IsWhiteSpace) || ReadValue(value, ref position) is not { } option)
            {
                return (users, "expected name=\"value\" options ended by ';'");
            }

            if (name.StartsWith("user_", StringComparison.Ordinal) && name.Length > "user_".Length)
            {
                users[name["user_".Length..]] = option;
            }
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
