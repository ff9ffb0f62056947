using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.Config;

/// <summary>
/// A topic's effective configuration, typed: its overrides over the broker's defaults, resolved once when the
/// topic's configs change (<see cref="BrokerCore.SettingsFor"/>) so no request path parses config strings. Every
/// property is bound by a row of <see cref="ConfigTable"/>; the values here only seed the fold.
/// </summary>
public sealed record TopicSettings
{
    /// <summary>cleanup.policy includes compact: records without a key are refused.</summary>
    public bool Compact { get; init; }

    /// <summary>max.message.bytes: the largest record batch a producer may append.</summary>
    public int MaxMessageBytes { get; init; }

    /// <summary>message.timestamp.type=LogAppendTime: the broker's clock stamps appended batches.</summary>
    public bool LogAppendTime { get; init; }

    /// <summary>compression.type: the codec batches are stored with; null ("producer") keeps the producer's.</summary>
    public CompressionType? Compression { get; init; }

    public int MinInsyncReplicas { get; init; }

    /// <summary>
    /// message.timestamp.before.max.ms and .after.max.ms: how far a CreateTime record's timestamp may lie behind or
    /// ahead of the broker's clock; a batch with a record outside is refused with INVALID_TIMESTAMP.
    /// </summary>
    public long MessageTimestampBeforeMaxMs { get; init; } = long.MaxValue;

    /// <inheritdoc cref="MessageTimestampBeforeMaxMs"/>
    public long MessageTimestampAfterMaxMs { get; init; } = long.MaxValue;

    /// <summary>The settings the partition logs use (segment.*, retention.*, flush.*).</summary>
    public LogConfig Log { get; init; } = new();

    /// <summary>
    /// Resolves a topic's settings: each topic key's override, else the value of its broker key (explicit or
    /// default, in the topic key's units), else the topic key's own default. The overrides must have been validated
    /// (<see cref="TopicConfigs.Validate"/>).
    /// </summary>
    public static TopicSettings Resolve(IReadOnlyDictionary<string, string> overrides, BrokerConfig broker) => Resolve(overrides, broker.Explicit);

    /// <inheritdoc cref="Resolve(IReadOnlyDictionary{string, string}, BrokerConfig)"/>
    public static TopicSettings Resolve(IReadOnlyDictionary<string, string> overrides, IReadOnlyDictionary<string, string> brokerExplicit)
    {
        var settings = new TopicSettings();
        foreach (var definition in ConfigTable.TopicKeys)
        {
            var value = overrides.TryGetValue(definition.Name, out var own) ? own : ConfigTable.Inherited(definition, brokerExplicit).Value;
            if (value is not null && definition.BindTopic is { } bind)
            {
                settings = bind(settings, value);
            }
        }

        return settings;
    }
}
