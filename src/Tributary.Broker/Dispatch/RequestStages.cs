using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// The two stages of a request whose work outlives its handler, as Redpanda's two_phase_handler: the first (a
/// produce's records appended, in request order) is done when the handler returns, so the connection may read and
/// handle the next request; the second, <paramref name="Durable"/> (flushed; with replication, acknowledged by the
/// followers acks=all waits for), completes later. <paramref name="Response"/> is final only then, and is sent then.
/// </summary>
/// <param name="Durable">Never throws: a failure is written into the response. Null when there is nothing to wait for.</param>
public readonly record struct RequestStages<TResponse>(TResponse? Response, Task? Durable)
    where TResponse : class, IKafkaMessage<TResponse>;
