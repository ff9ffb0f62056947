using Tributary.Protocol;
using Tributary.Storage;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// Everything a handler hands back to the connection: the response (null: none is sent, Produce with acks=0), what
/// it must wait for before sending it, and the pooled arrays it refers to.
/// </summary>
/// <param name="Durable">
/// The second stage of a two-phase request (<see cref="RequestStages{TResponse}"/>): the response is sent once it
/// completes; it never throws. Null: send at once.
/// </param>
/// <param name="Buffers">
/// Pooled arrays that <paramref name="Response"/> refers to (a fetch's records): whoever writes the response releases
/// them afterwards, and never before. Null when the handler used none.
/// </param>
public readonly record struct HandlerResult(IKafkaMessage? Response, Task? Durable = null, ReadBuffers? Buffers = null);
