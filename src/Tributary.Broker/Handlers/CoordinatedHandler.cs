using Tributary.Broker.Dispatch;
using Tributary.Protocol;

namespace Tributary.Broker.Handlers;

/// <summary>
/// A coordinator's API served only while this broker is the coordinator: otherwise every part of the request answers
/// <paramref name="coordinatorError"/>'s error (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), which sends clients back
/// to FindCoordinator, as Kafka's brokers answer for groups of partitions they do not lead. On a single node the
/// coordinator is always here and this costs one call.
/// </summary>
internal sealed class CoordinatedHandler(IApiHandler inner, Func<ErrorCode> coordinatorError) : IApiHandler
{
    public ApiKey Key => inner.Key;

    public short MinVersion => inner.MinVersion;

    public short MaxVersion => inner.MaxVersion;

    public ValueTask<HandlerResult> HandleAsync(RequestContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        coordinatorError() is var error and not ErrorCode.None && inner.ErrorResponse(context, body, error) is { } refused
            ? ValueTask.FromResult(new HandlerResult(refused))
            : inner.HandleAsync(context, body, cancellationToken);

    public IKafkaMessage? ErrorResponse(RequestContext context, ReadOnlyMemory<byte> body, ErrorCode error) => inner.ErrorResponse(context, body, error);
}
