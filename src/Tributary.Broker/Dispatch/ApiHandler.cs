using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// Base of every handler: declares the API and version range on one line, decodes the generated request type
/// and hands it to <see cref="HandleAsync(RequestContext, TRequest, CancellationToken)"/>, whose result (a bare response
/// converts to one) is everything the connection needs.
/// </summary>
public abstract class ApiHandler<TRequest, TResponse>(ApiKey key, short minVersion, short maxVersion) : IApiHandler
    where TRequest : class, IKafkaMessage<TRequest>
    where TResponse : class, IKafkaMessage<TResponse>
{
    public ApiKey Key { get; } = key;

    public short MinVersion { get; } = minVersion;

    public short MaxVersion { get; } = maxVersion;

    public ValueTask<HandlerResult> HandleAsync(RequestContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var request = Decode(body, context.ApiVersion);
        var pending = HandleAsync(context, request, cancellationToken);
        return pending.IsCompletedSuccessfully ? new ValueTask<HandlerResult>(pending.Result.Untyped) : Await(pending);

        static async ValueTask<HandlerResult> Await(ValueTask<HandlerResult<TResponse>> task) => (await task.ConfigureAwait(false)).Untyped;
    }

    public IKafkaMessage? ErrorResponse(RequestContext context, ReadOnlyMemory<byte> body, ErrorCode error)
    {
        TRequest request;
        try
        {
            request = Decode(body, context.ApiVersion);
        }
        catch (ProtocolException)
        {
            return null;
        }

        return ErrorResponse(context, request, error);
    }

    protected abstract ValueTask<HandlerResult<TResponse>> HandleAsync(RequestContext context, TRequest request, CancellationToken cancellationToken);

    /// <summary>A response that answers every part of <paramref name="request"/> with <paramref name="error"/>.</summary>
    protected abstract TResponse? ErrorResponse(RequestContext context, TRequest request, ErrorCode error);

    /// <summary>
    /// Waits for <paramref name="task"/>; null if the server asks the connection to close first
    /// (<see cref="RequestContext.CloseRequested"/>), so a request that only waits for others (a rebalance) does not
    /// hold the stop. Throws when <paramref name="cancellationToken"/> (the connection closing) fires.
    /// </summary>
    protected static async Task<T?> UnlessStoppingAsync<T>(Task<T> task, RequestContext context, CancellationToken cancellationToken)
        where T : class
    {
        if (!context.CloseRequested.CanBeCanceled)
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, context.CloseRequested);
        try
        {
            return await task.WaitAsync(either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && context.CloseRequested.IsCancellationRequested)
        {
            return null;
        }
    }

    private static TRequest Decode(ReadOnlyMemory<byte> body, short version)
    {
        var reader = new KafkaReader(body);
        return TRequest.Read(ref reader, version);
    }
}
