namespace Tributary.Broker.Quotas;

/// <summary>
/// What a client quota applies to, as Kafka names it: a user, a client id, a (user, client id) pair, or a client IP
/// address (KIP-612, only on its own), each part either a name or the default (<c>&lt;default&gt;</c>, a null name on
/// the wire). A null part is not in the entity.
/// </summary>
public readonly record struct ClientQuotaEntity(QuotaEntityName? User, QuotaEntityName? ClientId, QuotaEntityName? Ip = null)
{
    public const string UserType = "user";
    public const string ClientIdType = "client-id";
    public const string IpType = "ip";

    /// <summary>The entity's (type, name) parts as the wire lists them, user first; a null name is the default.</summary>
    public IReadOnlyList<(string Type, string? Name)> Parts =>
        [.. new[] { (UserType, User), (ClientIdType, ClientId), (IpType, Ip) }.Where(p => p.Item2 is not null).Select(p => (p.Item1, p.Item2!.Value.Name))];

    public override string ToString() =>
        string.Join(',', new[] { (UserType, User), (ClientIdType, ClientId), (IpType, Ip) }.Where(p => p.Item2 is not null).Select(p => $"{p.Item1}={p.Item2}"));
}
