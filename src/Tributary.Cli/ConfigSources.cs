using System.Collections;
using Tributary.Broker.Config;

namespace Tributary.Cli;

/// <summary>
/// Gathers broker configuration from, in rising precedence: a properties file (<c>--config</c>), <c>TRIBUTARY_*</c>
/// environment variables (TRIBUTARY_NUM_PARTITIONS → num.partitions) and <c>--set key=value</c>. Checking the keys
/// and values is left to <see cref="BrokerConfig.Parse"/>, from <see cref="ConfigTable"/>.
/// </summary>
public static class ConfigSources
{
    public const string EnvironmentPrefix = "TRIBUTARY_";

    /// <summary>The environment variable that sets a broker key: TRIBUTARY_ and the key in capitals, '_' for '.'.</summary>
    public static string EnvironmentVariable(string key) => EnvironmentPrefix + key.ToUpperInvariant().Replace('.', '_');

    // Every broker key by its variable; a TRIBUTARY_* variable that names none is passed on as a key, to be refused.
    private static readonly Dictionary<string, string> KeysByVariable =
        ConfigTable.BrokerKeys.ToDictionary(d => EnvironmentVariable(d.Name), d => d.Name, StringComparer.Ordinal);

    public static (List<KeyValuePair<string, string>> Pairs, List<string> Errors) Gather(string? propertiesFile, IEnumerable<string> sets, IDictionary environment)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        var errors = new List<string>();
        if (propertiesFile is not null)
        {
            if (!File.Exists(propertiesFile))
            {
                errors.Add($"config file not found: {propertiesFile}");
            }
            else
            {
                var lineNumber = 0;
                foreach (var raw in File.ReadLines(propertiesFile))
                {
                    lineNumber++;
                    var line = raw.Trim();
                    if (line.Length == 0 || line[0] is '#' or '!')
                    {
                        continue;
                    }

                    var eq = line.IndexOfAny(['=', ':']);
                    if (eq <= 0)
                    {
                        errors.Add($"{propertiesFile}:{lineNumber}: expected key=value");
                        continue;
                    }

                    pairs.Add(new(line[..eq].Trim(), line[(eq + 1)..].Trim()));
                }
            }
        }

        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string key && key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal) && entry.Value is string value)
            {
                pairs.Add(new(KeysByVariable.GetValueOrDefault(key) ?? key[EnvironmentPrefix.Length..].ToLowerInvariant().Replace('_', '.'), value));
            }
        }

        foreach (var set in sets)
        {
            var eq = set.IndexOf('=');
            if (eq <= 0)
            {
                errors.Add($"--set {set}: expected key=value");
                continue;
            }

            pairs.Add(new(set[..eq].Trim(), set[(eq + 1)..].Trim()));
        }

        return (pairs, errors);
    }
}
