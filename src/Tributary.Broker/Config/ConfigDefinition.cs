using System.Globalization;

namespace Tributary.Broker.Config;

public enum ConfigType
{
    Boolean,
    Int,
    Long,
    String,
    List,
}

/// <summary>
/// One Kafka configuration key: its type, default and the values it accepts. Broker keys and topic keys use
/// Kafka's names so a user's existing properties files and admin tooling work unchanged.
/// </summary>
public sealed record ConfigDefinition(string Name, ConfigType Type, string? Default, long Min = long.MinValue, long Max = long.MaxValue, string[]? Allowed = null, bool Sensitive = false)
{
    /// <summary>Checks a value; returns null when valid, otherwise a message naming the key and the rule.</summary>
    public string? Validate(string? value)
    {
        if (value is null)
        {
            return Default is null && Type != ConfigType.String ? $"{Name} needs a value" : null;
        }

        switch (Type)
        {
            case ConfigType.Boolean:
                return value is "true" or "false" ? null : $"{Name}={value}: expected true or false";
            case ConfigType.Int:
            case ConfigType.Long:
                if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
                    || (Type == ConfigType.Int && (n < int.MinValue || n > int.MaxValue)))
                {
                    return $"{Name}={value}: expected an integer";
                }

                return n < Min || n > Max ? $"{Name}={value}: must be between {Min} and {Max}" : null;
            case ConfigType.String when Allowed is not null:
                return Allowed.Contains(value, StringComparer.Ordinal) ? null : $"{Name}={value}: expected one of {string.Join(", ", Allowed)}";
            case ConfigType.List when Allowed is not null:
                var bad = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Where(v => !Allowed.Contains(v, StringComparer.Ordinal)).ToList();
                return bad.Count == 0 ? null : $"{Name}={value}: {string.Join(", ", bad)} not in {string.Join(", ", Allowed)}";
            default:
                return null;
        }
    }
}
