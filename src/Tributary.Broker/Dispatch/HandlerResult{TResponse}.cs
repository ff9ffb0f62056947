using Tributary.Protocol;
using Tributary.Storage;

namespace Tributary.Broker.Dispatch;

/// <summary>A <see cref="HandlerResult"/> with its response typed; a bare response converts to one.</summary>
public readonly record struct HandlerResult<TResponse>(TResponse? Response, Task? Durable = null, ReadBuffers? Buffers = null)
    where TResponse : class, IKafkaMessage<TResponse>
{
    public static implicit operator HandlerResult<TResponse>(TResponse? response) => new(response);

    public HandlerResult Untyped => new(Response, Durable, Buffers);
}
