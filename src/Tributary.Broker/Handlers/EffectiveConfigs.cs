using Tributary.Broker.Config;

namespace Tributary.Broker.Handlers;

/// <summary>
/// The effective value, source and synonyms of every topic and broker config key, as CreateTopics (v5+) and
/// DescribeConfigs report them. Source and type numbers are Kafka's (DescribeConfigsResponse ConfigSource and
/// ConfigType), fixed on the wire.
/// </summary>
internal static class EffectiveConfigs
{
    public const sbyte DynamicTopicConfig = 1;
    public const sbyte StaticBrokerConfig = 4;
    public const sbyte DefaultConfig = 5;

    private const sbyte TypeBoolean = 1;
    private const sbyte TypeString = 2;
    private const sbyte TypeInt = 3;
    private const sbyte TypeLong = 5;
    private const sbyte TypeList = 7;
    private const sbyte TypePassword = 9;

    /// <summary>
    /// Every topic key: the topic's override, else the broker value it inherits (explicit in the broker's config),
    /// else the default. Synonyms list the same chain, most specific first, as Kafka does.
    /// </summary>
    public static IEnumerable<Entry> ForTopic(IReadOnlyDictionary<string, string> overrides, BrokerConfig broker)
    {
        foreach (var (key, definition) in TopicConfigs.Definitions)
        {
            var synonyms = new List<Synonym>();
            if (overrides.TryGetValue(key, out var overridden))
            {
                synonyms.Add(new Synonym(key, overridden, DynamicTopicConfig));
            }

            foreach (var brokerKey in BrokerKeysFor(key))
            {
                if (broker.Explicit.TryGetValue(brokerKey, out var brokerValue))
                {
                    synonyms.Add(new Synonym(brokerKey, brokerValue, StaticBrokerConfig));
                }
            }

            synonyms.Add(new Synonym(key, definition.Default, DefaultConfig));
            var source = synonyms[0].Source;
            var value = source switch
            {
                DynamicTopicConfig => overridden,
                // TopicConfigs.BrokerDefault does not know this key's broker synonym; its value needs no conversion.
                StaticBrokerConfig when key == TopicConfigs.MessageTimestampType => synonyms[0].Value,
                // In the topic key's units: log.retention.hours=1 is reported as retention.ms=3600000.
                _ => TopicConfigs.BrokerDefault(key, broker),
            };
            yield return Hide(new Entry(key, value, source, ReadOnly: false, definition.Sensitive, TypeOf(definition), synonyms));
        }
    }

    /// <summary>Every broker key: explicit values are STATIC_BROKER_CONFIG (there are no dynamic broker configs), the rest DEFAULT_CONFIG.</summary>
    public static IEnumerable<Entry> ForBroker(BrokerConfig broker)
    {
        foreach (var (key, value, isDefault) in broker.Describe())
        {
            var definition = BrokerConfig.Definitions[key];
            var source = isDefault ? DefaultConfig : StaticBrokerConfig;
            yield return Hide(new Entry(key, value, source, ReadOnly: true, definition.Sensitive, TypeOf(definition), [new Synonym(key, value, source)]));
        }
    }

    /// <summary>
    /// The broker keys a topic key inherits from, highest precedence first. Kafka's broker keys in coarser units
    /// (log.retention.hours) are synonyms too; message.timestamp.type is missing from TopicConfigs.BrokerKeyFor.
    /// </summary>
    private static IEnumerable<string> BrokerKeysFor(string topicKey) => topicKey switch
    {
        TopicConfigs.RetentionMs => ["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
        TopicConfigs.SegmentMs => ["log.roll.ms", "log.roll.hours"],
        TopicConfigs.MessageTimestampType => ["log.message.timestamp.type"],
        _ => TopicConfigs.BrokerKeyFor(topicKey) is { } brokerKey ? [brokerKey] : [],
    };

    private static sbyte TypeOf(ConfigDefinition definition) => definition.Sensitive ? TypePassword : definition.Type switch
    {
        ConfigType.Boolean => TypeBoolean,
        ConfigType.Int => TypeInt,
        ConfigType.Long => TypeLong,
        ConfigType.List => TypeList,
        _ => TypeString,
    };

    // Kafka never sends a sensitive value back, not even to the client that set it.
    private static Entry Hide(Entry entry) => entry.IsSensitive
        ? entry with { Value = null, Synonyms = [.. entry.Synonyms.Select(s => s with { Value = null })] }
        : entry;

    public sealed record Entry(string Name, string? Value, sbyte Source, bool ReadOnly, bool IsSensitive, sbyte Type, IReadOnlyList<Synonym> Synonyms);

    public sealed record Synonym(string Name, string? Value, sbyte Source);
}
