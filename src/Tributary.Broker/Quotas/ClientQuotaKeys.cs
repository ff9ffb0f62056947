namespace Tributary.Broker.Quotas;

/// <summary>The quota keys of user and client-id entities, as Kafka names and types them (QuotaConfig).</summary>
public static class ClientQuotaKeys
{
    public const string ProducerByteRate = "producer_byte_rate";
    public const string ConsumerByteRate = "consumer_byte_rate";
    public const string RequestPercentage = "request_percentage";
    public const string ControllerMutationRate = "controller_mutation_rate";

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
    /// Why <paramref name="value"/> cannot be set for <paramref name="key"/>, or null. The byte rates are Kafka LONG
    /// configs, so a fraction is refused as Kafka refuses it; every quota must be positive (deliberate: a zero quota
    /// would hold a client forever, Kafka takes it and throttles by its window instead).
    /// </summary>
    public static string? Check(string key, double value)
    {
        if (Parse(key) is not { } type)
        {
            return $"Invalid configuration key {key}";
        }

        if (double.IsNaN(value) || double.IsInfinity(value) || value <= 0)
        {
            return $"Invalid value {value} for configuration {key}: a quota must be a positive number";
        }

        return type is ClientQuotaType.Produce or ClientQuotaType.Fetch && (value != Math.Floor(value) || value > long.MaxValue)
            ? $"Invalid value {value} for configuration {key}: must be a whole number of bytes per second"
            : null;
    }
}
