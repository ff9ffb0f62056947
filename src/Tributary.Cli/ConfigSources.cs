using System.Collections;

namespace Tributary.Cli;

/// <summary>
/// Gathers broker configuration from, in rising precedence: a properties file (<c>--config</c>), <c>TRIBUTARY_*</c>
/// environment variables (TRIBUTARY_NUM_PARTITIONS → num.partitions) and <c>--set key=value</c>.
/// </summary>
public static class ConfigSources
{
    public const string EnvironmentPrefix = "TRIBUTARY_";

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
                pairs.Add(new(key[EnvironmentPrefix.Length..].ToLowerInvariant().Replace('_', '.'), value));
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
