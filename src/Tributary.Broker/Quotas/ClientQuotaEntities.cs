namespace Tributary.Broker.Quotas;

/// <summary>Client quota entities as AlterClientQuotas and DescribeClientQuotas name them on the wire.</summary>
public static class ClientQuotaEntities
{
    /// <summary>
    /// The entity of (type, name) parts (a null name is the default); an error message (Kafka answers
    /// INVALID_REQUEST) for an empty entity, an unknown or repeated type, an empty name, or the ip type, which
    /// Tributary does not serve.
    /// </summary>
    public static string? Parse(IEnumerable<(string Type, string? Name)> parts, out ClientQuotaEntity entity)
    {
        entity = default;
        QuotaEntityName? user = null, clientId = null;
        var any = false;
        foreach (var (type, name) in parts)
        {
            any = true;
            if (name is { Length: 0 })
            {
                return $"Empty {type} name: the default entity is a null name";
            }

            switch (type)
            {
                case ClientQuotaEntity.UserType when user is null:
                    user = new QuotaEntityName(name);
                    break;
                case ClientQuotaEntity.ClientIdType when clientId is null:
                    clientId = new QuotaEntityName(name);
                    break;
                case ClientQuotaEntity.UserType or ClientQuotaEntity.ClientIdType:
                    return $"Duplicate entity type {type}";
                case ClientQuotaEntity.IpType:
                    return "ip quotas (connection_creation_rate) are not supported by this broker";
                default:
                    return $"Unknown entity type {type}";
            }
        }

        if (!any)
        {
            return "Invalid empty client quota entity";
        }

        entity = new ClientQuotaEntity(user, clientId);
        return null;
    }
}
