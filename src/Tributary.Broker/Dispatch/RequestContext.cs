using Tributary.Protocol;
using Tributary.Storage;

namespace Tributary.Broker.Dispatch;

/// <summary>What a handler knows about the request it serves: who sent it, which API and version.</summary>
public sealed record RequestContext(ApiKey ApiKey, short ApiVersion, int CorrelationId, string? ClientId, string ConnectionId)
{
    private ReadBuffers? _readBuffers;

    /// <summary>
    /// Pooled arrays for bytes the response carries (a fetch's records): the connection returns them once the
    /// response has been written (<see cref="DispatchOutcome.Buffers"/>).
    /// </summary>
    public ReadBuffers ReadBuffers => _readBuffers ??= new ReadBuffers();

    /// <summary>The buffers, if a handler used any.</summary>
    internal ReadBuffers? ReadBuffersInUse => _readBuffers;

    public override string ToString() => $"{ApiKey} v{ApiVersion} #{CorrelationId} from {ClientId ?? "?"} on {ConnectionId}";
}
