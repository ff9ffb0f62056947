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
    public const sbyte DynamicBrokerConfig = 2;
    public const sbyte DynamicDefaultBrokerConfig = 3;
    public const sbyte StaticBrokerConfig = 4;
    public const sbyte DefaultConfig = 5;
    public const sbyte GroupConfig = 8;

    private const sbyte TypeBoolean = 1;
    private const sbyte TypeString = 2;
    private const sbyte TypeInt = 3;
    private const sbyte TypeLong = 5;
    private const sbyte TypeDouble = 6;
    private const sbyte TypeList = 7;
    private const sbyte TypePassword = 9;

    /// <summary>
    /// Every topic key, by name: the topic's override, else the broker value it inherits (in the topic key's units),
    /// else the topic key's default. Synonyms as Kafka lists them: the override (DYNAMIC_TOPIC_CONFIG), then the
    /// broker key it inherits from by source, then its synonyms' as <see cref="ForBroker"/> lists that key. So, as in
    /// Kafka, retention.ms inheriting only log.retention.hours lists no synonym and says DEFAULT_CONFIG.
    /// </summary>
    public static IEnumerable<Entry> ForTopic(IReadOnlyDictionary<string, string> overrides, BrokerConfig broker) =>
        ForOverridable(ConfigTable.TopicKeys, overrides, DynamicTopicConfig, broker, brokerSynonyms: true);

    /// <summary>
    /// Every group key, by name: the group's override (GROUP_CONFIG, its only synonym), else the broker's
    /// group.consumer.* value as DEFAULT_CONFIG, as Kafka describes groups.
    /// </summary>
    public static IEnumerable<Entry> ForGroup(IReadOnlyDictionary<string, string> overrides, BrokerConfig broker) =>
        ForOverridable(ConfigTable.GroupKeys, overrides, GroupConfig, broker, brokerSynonyms: false);

    private static IEnumerable<Entry> ForOverridable(IReadOnlyList<ConfigDefinition> keys, IReadOnlyDictionary<string, string> overrides, sbyte overrideSource, BrokerConfig broker, bool brokerSynonyms)
    {
        foreach (var definition in keys.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var synonyms = new List<Synonym>();
            var overridden = overrides.TryGetValue(definition.Name, out var own);
            if (overridden)
            {
                synonyms.Add(new Synonym(definition.Name, own, overrideSource));
            }

            if (brokerSynonyms && definition.BrokerKey is { } brokerKey)
            {
                var head = ConfigTable.Find(ConfigScope.Broker, brokerKey)!;
                synonyms.AddRange(BrokerSynonyms(ConfigTable.Chain(head), broker, perBroker: true).SkipWhile(s => s.Name != head.Name));
            }

            var value = overridden ? own : ConfigTable.Inherited(definition, broker.Explicit).Value;
            yield return Hide(new Entry(definition, value, synonyms.Count > 0 ? synonyms[0].Source : DefaultConfig, synonyms));
        }
    }

    /// <summary>
    /// The broker's keys, by name. For this broker (<paramref name="perBroker"/>) every key with its value in force;
    /// for the cluster default (resource "") only the keys set there, as Kafka lists them. A key's synonyms are its
    /// chain (log.retention.ms, .minutes, .hours) by source (dynamic broker, dynamic default, static, default), from
    /// the key itself on; the first is the entry's source.
    /// </summary>
    public static IEnumerable<Entry> ForBroker(BrokerConfig broker, bool perBroker)
    {
        // Per-listener keys are listed as they were set (listener.name.sasl_plaintext.…), never as their template.
        var perListener = broker.Explicit.Keys.Where(k => !ConfigTable.BrokerKeys.Any(d => d.Name == k))
            .Select(k => ConfigTable.Find(ConfigScope.Broker, k)).OfType<ConfigDefinition>();
        foreach (var definition in ConfigTable.BrokerKeys.Where(d => !ConfigTable.IsPerListenerTemplate(d)).Concat(perListener).OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            string? value;
            if (perBroker)
            {
                value = broker.Explicit.GetValueOrDefault(definition.Name) ?? definition.Default;
            }
            else if (!broker.DynamicDefaultValues.TryGetValue(definition.Name, out value))
            {
                continue;
            }

            var head = definition.SynonymOf is { } of ? ConfigTable.Find(ConfigScope.Broker, of)! : definition;
            var synonyms = BrokerSynonyms(ConfigTable.Chain(head), broker, perBroker).SkipWhile(s => s.Name != definition.Name).ToList();
            yield return Hide(new Entry(definition, value, synonyms.Count > 0 ? synonyms[0].Source : DefaultConfig, synonyms));
        }
    }

    // Kafka's order: each source in precedence order, and within it the chain's keys in order.
    private static IEnumerable<Synonym> BrokerSynonyms(IReadOnlyList<ConfigDefinition> chain, BrokerConfig broker, bool perBroker)
    {
        var levels = perBroker
            ? new[] { (broker.DynamicBrokerValues, DynamicBrokerConfig), (broker.DynamicDefaultValues, DynamicDefaultBrokerConfig), (broker.StaticValues, StaticBrokerConfig) }
            : new[] { (broker.DynamicDefaultValues, DynamicDefaultBrokerConfig), (broker.StaticValues, StaticBrokerConfig) };
        foreach (var (values, source) in levels)
        {
            foreach (var key in chain)
            {
                if (values.TryGetValue(key.Name, out var value))
                {
                    yield return new Synonym(key.Name, value, source);
                }
            }
        }

        foreach (var key in chain)
        {
            if (key.Default is { } defaultValue)
            {
                yield return new Synonym(key.Name, defaultValue, DefaultConfig);
            }
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

        /// <summary>Keys that cannot change while the broker runs are read-only (broker keys other than the dynamic ones).</summary>
        public bool ReadOnly => !Definition.Dynamic;

        public bool IsSensitive => Definition.Sensitive;

        public sbyte Type => TypeOf(Definition);

        public string Documentation => Definition.Documentation;
    }

    public sealed record Synonym(string Name, string? Value, sbyte Source);
}
