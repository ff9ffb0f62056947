using System.Xml;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// <c>share.auto.offset.reset</c>: where a share partition without state starts. <c>earliest</c> is the log start,
/// <c>latest</c> the high watermark, <c>by_duration:PnDTnHnMnS</c> the first offset whose batch timestamp is at most
/// that long ago (the high watermark when there is none), as Kafka's ShareGroupConfig defines them.
/// </summary>
public sealed record ShareAutoOffsetReset(ShareAutoOffsetReset.Strategy Kind, TimeSpan Duration)
{
    public enum Strategy
    {
        Earliest,
        Latest,
        ByDuration,
    }

    private const string ByDurationPrefix = "by_duration:";

    public static ShareAutoOffsetReset Latest { get; } = new(Strategy.Latest, TimeSpan.Zero);

    /// <summary>The setting, or null when <paramref name="value"/> is none of the three forms.</summary>
    public static ShareAutoOffsetReset? Parse(string value)
    {
        if (value == "earliest")
        {
            return new(Strategy.Earliest, TimeSpan.Zero);
        }

        if (value == "latest")
        {
            return Latest;
        }

        if (!value.StartsWith(ByDurationPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            // ISO-8601 durations as Java's Duration.parse reads them; Kafka refuses negative ones.
            var duration = XmlConvert.ToTimeSpan(value[ByDurationPrefix.Length..].Trim());
            return duration < TimeSpan.Zero ? null : new(Strategy.ByDuration, duration);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
