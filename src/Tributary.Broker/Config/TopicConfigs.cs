namespace Tributary.Broker.Config;

/// <summary>
/// The names of the topic keys code refers to, and the topic rows of <see cref="ConfigTable"/>. A topic's
/// effective value is its own override, else the broker's (<see cref="TopicSettings"/>).
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
    public const string MessageTimestampBeforeMaxMs = "message.timestamp.before.max.ms";
    public const string MessageTimestampAfterMaxMs = "message.timestamp.after.max.ms";
    public const string IndexIntervalBytes = "index.interval.bytes";
    public const string DeleteRetentionMs = "delete.retention.ms";
    public const string MinCompactionLagMs = "min.compaction.lag.ms";
    public const string MaxCompactionLagMs = "max.compaction.lag.ms";
    public const string MinCleanableDirtyRatio = "min.cleanable.dirty.ratio";

    public static IReadOnlyDictionary<string, ConfigDefinition> Definitions { get; } = ConfigTable.TopicKeys.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>Validates a topic's whole set of overrides: the first unknown key or bad value, else null.</summary>
    public static string? Validate(IEnumerable<KeyValuePair<string, string>> overrides) =>
        ConfigTable.Validate(ConfigScope.Topic, overrides).FirstOrDefault();
}
