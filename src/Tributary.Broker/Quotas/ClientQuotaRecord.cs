namespace Tributary.Broker.Quotas;

/// <summary>
/// One client quota entity as it is stored (the metadata snapshot, etcd's <c>client_quotas</c>): entity type → name as
/// Kafka's wire has it (null for the default), and its keys' values.
/// </summary>
public sealed record ClientQuotaRecord(Dictionary<string, string?> Entity, Dictionary<string, double> Values)
{
    public static ClientQuotaRecord Of(ClientQuotaEntity entity, IReadOnlyDictionary<string, double> values) =>
        new(entity.Parts.ToDictionary(p => p.Type, p => p.Name, StringComparer.Ordinal), new Dictionary<string, double>(values, StringComparer.Ordinal));

    /// <summary>The entity, when the record names a valid one and every value is valid for it (a record read from storage may not).</summary>
    public bool TryRead(out ClientQuotaEntity entity)
    {
        entity = default;
        if (Entity is null || Values is null || ClientQuotaEntities.Parse(Entity.Select(p => (p.Key, p.Value)), out entity) is not null)
        {
            return false;
        }

        var read = entity;
        return Values.All(v => ClientQuotaKeys.Check(read, v.Key, v.Value) is null);
    }
}
