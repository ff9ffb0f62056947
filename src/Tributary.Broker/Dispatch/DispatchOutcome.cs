using Tributary.Protocol;
using Tributary.Storage;

namespace Tributary.Broker.Dispatch;

public enum DispatchAction
{
    /// <summary>Write <see cref="DispatchOutcome.Response"/> to the client.</summary>
    Respond,

    /// <summary>The request expects no response (Produce acks=0).</summary>
    NoResponse,

    /// <summary>The request was unusable (malformed header, unknown API, unsupported version): close the connection.</summary>
    Close,
}

/// <summary>What the connection does with one request once the dispatcher is done with it.</summary>
public readonly record struct DispatchOutcome(DispatchAction Action, IKafkaMessage? Response, short ApiVersion, int CorrelationId, short ResponseHeaderVersion, string? Reason)
{
    /// <summary>
    /// Pooled arrays that <see cref="Response"/> refers to: whoever writes the response releases them afterwards
    /// (and never before). Null when the handler used none.
    /// </summary>
    public ReadBuffers? Buffers { get; init; }

    /// <summary>Work to finish before the response is sent (<see cref="RequestContext.Durable"/>); it never throws.</summary>
    public Task? Durable { get; init; }

    public static DispatchOutcome Close(string reason) => new(DispatchAction.Close, null, 0, 0, 0, reason);
}
