using System.Net;
using System.Net.Sockets;

namespace Tributary.Broker.Quotas;

/// <summary>Client quota entities as AlterClientQuotas and DescribeClientQuotas name them on the wire.</summary>
public static class ClientQuotaEntities
{
    /// <summary>
    /// The entity of (type, name) parts (a null name is the default); an error message (Kafka answers
    /// INVALID_REQUEST) for an empty entity, an unknown or repeated type, an empty name, an ip name that is not an IP
    /// address, or ip combined with user or client-id (Kafka's ClientQuotaControlManager refuses the same).
    /// </summary>
    public static string? Parse(IEnumerable<(string Type, string? Name)> parts, out ClientQuotaEntity entity)
    {
        entity = default;
        QuotaEntityName? user = null, clientId = null, ip = null;
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
                case ClientQuotaEntity.IpType when ip is null:
                    if (name is not null && ParseIp(name) is null)
                    {
                        return $"{name} is not a valid IP address";
                    }

                    ip = new QuotaEntityName(name);
                    break;
                case ClientQuotaEntity.UserType or ClientQuotaEntity.ClientIdType or ClientQuotaEntity.IpType:
                    return $"Duplicate entity type {type}";
                default:
                    return $"Unknown entity type {type}";
            }
        }

        if (!any)
        {
            return "Invalid empty client quota entity";
        }

        if (ip is not null && (user is not null || clientId is not null))
        {
            return "Invalid quota entity combination, IP entity should not be combined with User or ClientId";
        }

        entity = new ClientQuotaEntity(user, clientId, ip);
        return null;
    }

    /// <summary>
    /// The address an ip entity names: an IPv4 literal in dotted-quad form or an IPv6 literal (an IPv4 address mapped
    /// into IPv6 is its IPv4 address); null for anything else. Deliberately no host names: Kafka resolves them once,
    /// when the quota is set, which makes the entity's meaning depend on DNS at that moment.
    /// </summary>
    public static IPAddress? ParseIp(string name)
    {
        if (!IPAddress.TryParse(name, out var address))
        {
            return null;
        }

        // IPAddress.TryParse also takes "10" or "10.1" (inet_aton forms) and IPv6 scopes ("fe80::1%eth0"); an ip
        // entity names one full address.
        var whole = address.AddressFamily == AddressFamily.InterNetwork ? name.Count(c => c == '.') == 3 : !name.Contains('%');
        if (!whole)
        {
            return null;
        }

        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}
