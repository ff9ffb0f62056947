using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>Serves one Kafka API within a version range; ApiVersions advertises exactly these ranges.</summary>
public interface IApiHandler
{
    ApiKey Key { get; }

    short MinVersion { get; }

    short MaxVersion { get; }

    /// <summary>Decodes the body and serves it. A null response means none is sent (Produce with acks=0).</summary>
    ValueTask<HandlerResult> HandleAsync(RequestContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);

    /// <summary>The response to send when the request cannot be served at all, carrying <paramref name="error"/> everywhere.</summary>
    IKafkaMessage? ErrorResponse(RequestContext context, ReadOnlyMemory<byte> body, ErrorCode error);
}
