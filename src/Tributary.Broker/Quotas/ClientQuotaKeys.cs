namespace Tributary.Broker.Quotas;

/// <summary>The quota keys of client quota entities, as Kafka names and types them (QuotaConfig).</summary>
public static class ClientQuotaKeys
{
    public const string ProducerByteRate = "producer_byte_rate";
    public const string ConsumerByteRate = "consumer_byte_rate";
    public const string RequestPercentage = "request_percentage";
    public const string ControllerMutationRate = "controller_mutation_rate";

    /// <summary>New connections per second from one client IP (KIP-612): the only key of an ip entity.</summary>
    public const string ConnectionCreationRate = "connection_creation_rate";

    public static string Name(ClientQuotaType type) => type switch
    {
        ClientQuotaType.Produce => ProducerByteRate,
        ClientQuotaType.Fetch => ConsumerByteRate,
        ClientQuotaType.Request => RequestPercentage,
        _ => ControllerMutationRate,
    };

    public static ClientQuotaType? Parse(string key) => key switch
    {
        ProducerByteRate => ClientQuotaType.Produce,
        ConsumerByteRate => ClientQuotaType.Fetch,
        RequestPercentage => ClientQuotaType.Request,
        ControllerMutationRate => ClientQuotaType.ControllerMutation,
        _ => null,
    };

    /// <summary>
    /// Whether <paramref name="key"/> is a quota of <paramref name="entity"/>: connection_creation_rate for an ip
    /// entity, the four client quotas for user and client-id entities (Kafka's QuotaConfig.ipConfigs and
    /// userAndClientQuotaConfigs).
    /// </summary>
    public static bool IsKeyOf(ClientQuotaEntity entity, string key) =>
        entity.Ip is not null ? key == ConnectionCreationRate : Parse(key) is not null;

    /// <summary>
    /// Why <paramref name="value"/> cannot be set for <paramref name="key"/> of <paramref name="entity"/>, or null.
    /// The byte rates are Kafka LONG configs and connection_creation_rate an INT, so a fraction is refused as Kafka
    /// refuses it; every quota must be positive (deliberate: a zero quota would hold a client forever, Kafka takes it
    /// and throttles by its window instead).
    /// </summary>
    public static string? Check(ClientQuotaEntity entity, string key, double value)
    {
        if (!IsKeyOf(entity, key))
        {
            return $"Invalid configuration key {key}";
        }

        if (double.IsNaN(value) || double.IsInfinity(value) || value <= 0)
        {
            return $"Invalid value {value} for configuration {key}: a quota must be a positive number";
        }

        if (key == ConnectionCreationRate)
        {
            return value != Math.Floor(value) || value > int.MaxValue
                ? $"Invalid value {value} for configuration {key}: must be a whole number of connections per second"
                : null;
        }

        return Parse(key) is ClientQuotaType.Produce or ClientQuotaType.Fetch && (value != Math.Floor(value) || value > long.MaxValue)
            ? $"Invalid value {value} for configuration {key}: must be a whole number of bytes per second"
            : null;
    }
}
