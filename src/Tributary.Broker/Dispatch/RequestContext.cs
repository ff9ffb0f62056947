using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>What a handler knows about the request it serves: which API and version, and the connection it came on.</summary>
public sealed record RequestContext(ApiKey ApiKey, short ApiVersion, int CorrelationId, string? ClientId, ConnectionInfo Connection)
{
    public string ConnectionId => Connection.ConnectionId;

    /// <inheritdoc cref="ConnectionInfo.ClientHost"/>
    public string ClientHost => Connection.ClientHost;

    /// <inheritdoc cref="ConnectionInfo.ResumeOn"/>
    public SynchronizationContext? ResumeOn => Connection.ResumeOn;

    /// <inheritdoc cref="ConnectionInfo.CloseRequested"/>
    public CancellationToken CloseRequested => Connection.CloseRequested;

    public override string ToString() => $"{ApiKey} v{ApiVersion} #{CorrelationId} from {ClientId ?? "?"} on {ConnectionId}";
}
