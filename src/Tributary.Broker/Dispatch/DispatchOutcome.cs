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

    /// <summary>
    /// Authentication failed: once <see cref="DispatchOutcome.Durable"/> (connection.failed.authentication.delay.ms)
    /// has passed, write the response if there is one, then close the connection, logging the reason.
    /// </summary>
    RespondAndClose,
}

/// <summary>
/// What the connection does with one request once the dispatcher is done with it: the handler's
/// <see cref="Result"/>, and how to frame the response.
/// </summary>
public readonly record struct DispatchOutcome(DispatchAction Action, HandlerResult Result, short ApiVersion, int CorrelationId, short ResponseHeaderVersion, string? Reason)
{
    public IKafkaMessage? Response => Result.Response;

    /// <inheritdoc cref="HandlerResult.Buffers"/>
    public ReadBuffers? Buffers => Result.Buffers;

    /// <inheritdoc cref="HandlerResult.Durable"/>
    public Task? Durable => Result.Durable;

    /// <summary>
    /// <see cref="ResponseHeaderVersion"/> of a response written without a header: a bare SASL token after
    /// SaslHandshake v0, only size-prefixed.
    /// </summary>
    public const short NoHeader = -1;

    /// <summary>
    /// Milliseconds the client earned by going over a quota, already in the response's throttle_time_ms: the connection
    /// reads nothing more from it for that long (KIP-219), and to a version whose client does not throttle itself
    /// (<see cref="ResponseThrottle.ClientThrottles"/>) sends the response only after it. 0: not throttled.
    /// </summary>
    public int ThrottleTimeMs { get; init; }

    public static DispatchOutcome Close(string reason) => new(DispatchAction.Close, default, 0, 0, 0, reason);
}
