using System.Globalization;
using Tributary.Storage;

namespace Tributary.Broker.Config;

/// <summary>
/// Topic-level configuration keys (Kafka's names) with their defaults, and the mapping to the storage engine's
/// <see cref="LogConfig"/>. A topic's effective value is its own override, else the broker's default.
/// </summary>
public static class TopicConfigs
{
    public const string CleanupPolicy = "cleanup.policy";
    public const string RetentionMs = "retention.ms";
    public const string RetentionBytes = "retention.bytes";
    public const string SegmentBytes = "segment.bytes";
    public const string SegmentMs = "segment.ms";
    public const string MaxMessageBytes = "max.message.bytes";
    public const string MessageTimestampType = "message.timestamp.type";
    public const string FlushMessages = "flush.messages";
    public const string FlushMs = "flush.ms";
    public const string CompressionType = "compression.type";
    public const string MinInsyncReplicas = "min.insync.replicas";

    public static readonly IReadOnlyDictionary<string, ConfigDefinition> Definitions = new[]
    {
        new ConfigDefinition(CleanupPolicy, ConfigType.List, "delete", Allowed: ["delete", "compact"]),
        new ConfigDefinition(RetentionMs, ConfigType.Long, "604800000", Min: -1),
        new ConfigDefinition(RetentionBytes, ConfigType.Long, "-1", Min: -1),
        new ConfigDefinition(SegmentBytes, ConfigType.Int, "1073741824", Min: LogConfig.SegmentBytesMin),
        new ConfigDefinition(SegmentMs, ConfigType.Long, "604800000", Min: 1),
        new ConfigDefinition(MaxMessageBytes, ConfigType.Int, "1048588", Min: 0),
        new ConfigDefinition(MessageTimestampType, ConfigType.String, "CreateTime", Allowed: ["CreateTime", "LogAppendTime"]),
        new ConfigDefinition(FlushMessages, ConfigType.Long, long.MaxValue.ToString(CultureInfo.InvariantCulture), Min: 1),
        new ConfigDefinition(FlushMs, ConfigType.Long, long.MaxValue.ToString(CultureInfo.InvariantCulture), Min: 0),
        new ConfigDefinition(CompressionType, ConfigType.String, "producer", Allowed: ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]),
        new ConfigDefinition(MinInsyncReplicas, ConfigType.Int, "1", Min: 1),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>Validates a set of overrides: unknown keys and bad values are errors.</summary>
    public static string? Validate(IEnumerable<KeyValuePair<string, string?>> overrides)
    {
        foreach (var (key, value) in overrides)
        {
            if (!Definitions.TryGetValue(key, out var definition))
            {
                return $"unknown topic config {key}";
            }

            if (definition.Validate(value) is { } error)
            {
                return error;
            }
        }

        return null;
    }

    public static LogConfig ToLogConfig(IReadOnlyDictionary<string, string> overrides, BrokerConfig broker)
    {
        long Long(string key, long fallback) => overrides.TryGetValue(key, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return new LogConfig
        {
            SegmentBytes = (int)Long(SegmentBytes, broker.LogSegmentBytes),
            SegmentMs = Long(SegmentMs, broker.LogRollMs),
            RetentionMs = Long(RetentionMs, broker.LogRetentionMs),
            RetentionBytes = Long(RetentionBytes, broker.LogRetentionBytes),
            FlushIntervalMessages = Long(FlushMessages, broker.LogFlushIntervalMessages),
            FlushIntervalMs = Long(FlushMs, broker.LogFlushIntervalMs),
        };
    }

    /// <summary>The broker-level value a topic inherits when it has no override, as DescribeConfigs reports it.</summary>
    public static string BrokerDefault(string key, BrokerConfig broker) => key switch
    {
        RetentionMs => broker.LogRetentionMs.ToString(CultureInfo.InvariantCulture),
        RetentionBytes => broker.LogRetentionBytes.ToString(CultureInfo.InvariantCulture),
        SegmentBytes => broker.LogSegmentBytes.ToString(CultureInfo.InvariantCulture),
        SegmentMs => broker.LogRollMs.ToString(CultureInfo.InvariantCulture),
        MaxMessageBytes => broker.MessageMaxBytes.ToString(CultureInfo.InvariantCulture),
        FlushMessages => broker.LogFlushIntervalMessages.ToString(CultureInfo.InvariantCulture),
        FlushMs => broker.LogFlushIntervalMs.ToString(CultureInfo.InvariantCulture),
        _ => Definitions[key].Default ?? "",
    };

    /// <summary>The broker key that sets a topic key's default, for DescribeConfigs synonyms.</summary>
    public static string? BrokerKeyFor(string key) => key switch
    {
        RetentionMs => "log.retention.ms",
        RetentionBytes => "log.retention.bytes",
        SegmentBytes => "log.segment.bytes",
        SegmentMs => "log.roll.ms",
        MaxMessageBytes => "message.max.bytes",
        FlushMessages => "log.flush.interval.messages",
        FlushMs => "log.flush.interval.ms",
        _ => null,
    };
}
