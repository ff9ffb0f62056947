namespace Tributary.Broker.Quotas;

/// <summary>
/// What a client quota applies to, as Kafka names it: a user, a client id, or a (user, client id) pair, each part
/// either a name or the default (<c>&lt;default&gt;</c>, a null name on the wire). A null part is not in the entity.
/// </summary>
public readonly record struct ClientQuotaEntity(QuotaEntityName? User, QuotaEntityName? ClientId)
{
    public const string UserType = "user";
    public const string ClientIdType = "client-id";
    public const string IpType = "ip";

    public override string ToString() =>
        string.Join(',', new[] { (UserType, User), (ClientIdType, ClientId) }.Where(p => p.Item2 is not null).Select(p => $"{p.Item1}={p.Item2}"));
}
