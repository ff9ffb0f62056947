using Tributary.Broker.Config;

namespace Tributary.Broker.Handlers;

/// <summary>
/// The effective value, source and synonyms of every topic and broker key of <see cref="ConfigTable"/>, as
/// CreateTopics (v5+) and DescribeConfigs report them. Source and type numbers are Kafka's (DescribeConfigsResponse
/// ConfigSource and ConfigType), fixed on the wire.
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
    private const sbyte TypeDouble = 6;
    private const sbyte TypeList = 7;
    private const sbyte TypePassword = 9;

    /// <summary>
    /// Every topic key: the topic's override, else the broker value it inherits (explicit in the broker's config, in
    /// the topic key's units), else the default. Synonyms list the same chain, most specific first, as Kafka does:
    /// broker synonyms as the broker's config wrote them (log.retention.hours=1).
    /// </summary>
    public static IEnumerable<Entry> ForTopic(IReadOnlyDictionary<string, string> overrides, BrokerConfig broker)
    {
        foreach (var definition in ConfigTable.TopicKeys)
        {
            var key = definition.Name;
            var synonyms = new List<Synonym>();
            if (overrides.TryGetValue(key, out var overridden))
            {
                synonyms.Add(new Synonym(key, overridden, DynamicTopicConfig));
            }

            var brokerChain = definition.BrokerKey is { } brokerKey ? ConfigTable.Chain(ConfigTable.Find(ConfigScope.Broker, brokerKey)!) : [];
            foreach (var brokerDefinition in brokerChain)
            {
                if (broker.Explicit.TryGetValue(brokerDefinition.Name, out var brokerValue))
                {
                    synonyms.Add(new Synonym(brokerDefinition.Name, brokerValue, StaticBrokerConfig));
                }
            }

            synonyms.Add(new Synonym(key, definition.Default, DefaultConfig));
            var source = synonyms[0].Source;
            var value = source == DynamicTopicConfig ? overridden : ConfigTable.Inherited(definition, broker.Explicit).Value;
            yield return Hide(new Entry(definition, value, source, synonyms));
        }
    }

    /// <summary>Every broker key: explicit values are STATIC_BROKER_CONFIG (there are no dynamic broker configs), the rest DEFAULT_CONFIG.</summary>
    public static IEnumerable<Entry> ForBroker(BrokerConfig broker)
    {
        foreach (var (key, value, isDefault) in broker.Describe())
        {
            var source = isDefault ? DefaultConfig : StaticBrokerConfig;
            yield return Hide(new Entry(BrokerConfig.Definitions[key], value, source, [new Synonym(key, value, source)]));
        }
    }

    private static sbyte TypeOf(ConfigDefinition definition) => definition.Sensitive ? TypePassword : definition.Type switch
    {
        ConfigType.Boolean => TypeBoolean,
        ConfigType.Int => TypeInt,
        ConfigType.Long => TypeLong,
        ConfigType.Double => TypeDouble,
        ConfigType.List => TypeList,
        _ => TypeString,
    };

    // Kafka never sends a sensitive value back, not even to the client that set it.
    private static Entry Hide(Entry entry) => entry.IsSensitive
        ? entry with { Value = null, Synonyms = [.. entry.Synonyms.Select(s => s with { Value = null })] }
        : entry;

    /// <param name="Definition">The row the key comes from; the rest of the entry is read from it.</param>
    public sealed record Entry(ConfigDefinition Definition, string? Value, sbyte Source, IReadOnlyList<Synonym> Synonyms)
    {
        public string Name => Definition.Name;

        /// <summary>Keys that cannot change while the broker runs are read-only (all broker keys, for now).</summary>
        public bool ReadOnly => !Definition.Dynamic;

        public bool IsSensitive => Definition.Sensitive;

        public sbyte Type => TypeOf(Definition);

        public string Documentation => Definition.Documentation;
    }

    public sealed record Synonym(string Name, string? Value, sbyte Source);
}
