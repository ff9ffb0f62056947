namespace Tributary.Broker.Quotas;

/// <summary>
/// Whose usage one quota counts, as Kafka tags its quota metrics: the user and client id of the entity whose quota
/// applies, defaults replaced by the client's own values (each user under a <c>&lt;default&gt;</c> user quota has
/// its own), and null for a part the entity leaves out (every client id of a user quota shares it).
/// </summary>
public readonly record struct QuotaSensorKey(ClientQuotaType Type, string? User, string? ClientId);
