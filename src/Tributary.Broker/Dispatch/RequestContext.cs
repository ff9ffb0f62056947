using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>What a handler knows about the request it serves: who sent it, which API and version.</summary>
public sealed record RequestContext(ApiKey ApiKey, short ApiVersion, int CorrelationId, string? ClientId, string ConnectionId)
{
    public override string ToString() => $"{ApiKey} v{ApiVersion} #{CorrelationId} from {ClientId ?? "?"} on {ConnectionId}";
}
