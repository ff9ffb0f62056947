using System.Globalization;

namespace Tributary.Broker.Config;

public enum ConfigType
{
    Boolean,
    Int,
    Long,
    Double,
    String,
    List,
}

/// <summary>
/// Where a key is set: in the broker's properties (or dynamically, IncrementalAlterConfigs on a BROKER resource), per
/// topic (CreateTopics, AlterConfigs) or per group (IncrementalAlterConfigs on a GROUP resource).
/// </summary>
public enum ConfigScope
{
    Broker,
    Topic,
    Group,
}

/// <summary>
/// One row of <see cref="ConfigTable"/>: a Kafka configuration key under Kafka's name, so a user's properties files
/// and admin tooling work unchanged. Besides type, default and bounds, a row says how the key relates to others:
/// a broker key may be a synonym of another in coarser units (<see cref="SynonymOf"/>, <see cref="UnitScale"/>:
/// log.retention.hours is log.retention.ms × 3 600 000), and a topic key inherits its default from a broker key
/// (<see cref="BrokerKey"/>). <see cref="BindBroker"/> or <see cref="BindTopic"/> puts a checked value on the typed
/// setting the key controls.
/// </summary>
/// <param name="Dynamic">
/// Whether the key can change while the broker runs: topic and group keys, and the broker keys topic keys inherit
/// from (Kafka's dynamic log configs), through the AlterConfigs APIs.
/// </param>
/// <param name="Check">A rule the type and bounds cannot express (a listener's syntax); returns the error or null.</param>
public sealed record ConfigDefinition(
    string Name,
    ConfigScope Scope,
    ConfigType Type,
    string? Default,
    string Documentation,
    long Min = long.MinValue,
    long Max = long.MaxValue,
    string[]? Allowed = null,
    bool Sensitive = false,
    bool Dynamic = false,
    string? SynonymOf = null,
    long UnitScale = 1,
    string? BrokerKey = null,
    Func<string, string?>? Check = null,
    Func<BrokerConfig, string, BrokerConfig>? BindBroker = null,
    Func<TopicSettings, string, TopicSettings>? BindTopic = null)
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
                return value is "true" or "false" ? Check?.Invoke(value) : $"{Name}={value}: expected true or false";
            case ConfigType.Int:
            case ConfigType.Long:
                if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
                    || (Type == ConfigType.Int && (n < int.MinValue || n > int.MaxValue)))
                {
                    return $"{Name}={value}: expected an integer";
                }

                return n < Min || n > Max ? $"{Name}={value}: must be between {Min} and {Max}" : Check?.Invoke(value);
            case ConfigType.Double:
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
                {
                    return $"{Name}={value}: expected a number";
                }

                // Bounds are whole numbers; long.MinValue and long.MaxValue leave a side open (Double.MAX_VALUE defaults).
                return (Min != long.MinValue && d < Min) || (Max != long.MaxValue && d > Max)
                    ? $"{Name}={value}: must be between {Min} and {Max}"
                    : null;
            case ConfigType.String when Allowed is not null:
                return Allowed.Contains(value, StringComparer.Ordinal) ? null : $"{Name}={value}: expected one of {string.Join(", ", Allowed)}";
            case ConfigType.List when Allowed is not null:
                var bad = Items(value).Where(v => !Allowed.Contains(v, StringComparer.Ordinal)).ToList();
                return bad.Count == 0 ? null : $"{Name}={value}: {string.Join(", ", bad)} not in {string.Join(", ", Allowed)}";
            default:
                return Check?.Invoke(value);
        }
    }

    /// <summary>
    /// A value of this key in the units of the key it is a synonym of (hours to milliseconds); -1, "no limit",
    /// stays -1 and so does any negative value, as Kafka converts them.
    /// </summary>
    public string InTargetUnits(string value) =>
        UnitScale == 1 ? value : Scale(long.Parse(value, CultureInfo.InvariantCulture), UnitScale).ToString(CultureInfo.InvariantCulture);

    private static long Scale(long n, long by) => n < 0 ? -1 : n * by;

    /// <summary>The items of a LIST value: comma-separated, blanks dropped.</summary>
    public static IEnumerable<string> Items(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
