namespace Tributary.Broker.Quotas;

/// <summary>One part of a <see cref="ClientQuotaEntity"/>: a name, or (null) the default for that entity type.</summary>
public readonly record struct QuotaEntityName(string? Name)
{
    public static QuotaEntityName Default => default;

    public bool IsDefault => Name is null;

    public override string ToString() => Name ?? "<default>";
}
