using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>A handler whose requests complete in two stages (<see cref="RequestStages{TResponse}"/>).</summary>
public abstract class TwoPhaseApiHandler<TRequest, TResponse>(ApiKey key, short minVersion, short maxVersion) : ApiHandler<TRequest, TResponse>(key, minVersion, maxVersion)
    where TRequest : class, IKafkaMessage<TRequest>
    where TResponse : class, IKafkaMessage<TResponse>
{
    protected sealed override ValueTask<HandlerResult<TResponse>> HandleAsync(RequestContext context, TRequest request, CancellationToken cancellationToken)
    {
        var stages = Dispatch(context, request);
        return new(new HandlerResult<TResponse>(stages.Response, stages.Durable));
    }

    /// <summary>Runs the first stage before returning, and returns the response with the second stage's task.</summary>
    protected abstract RequestStages<TResponse> Dispatch(RequestContext context, TRequest request);
}
