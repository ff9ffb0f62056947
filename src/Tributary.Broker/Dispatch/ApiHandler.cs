using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// Base of every handler: declares the API and version range on one line, decodes the generated request type
/// and hands it to <see cref="HandleAsync(RequestContext, TRequest, CancellationToken)"/>, whose result (a bare response
/// converts to one) is everything the connection needs.
/// </summary>
public abstract class ApiHandler<TRequest, TResponse>(ApiKey key, short minVersion, short maxVersion) : IApiHandler, ICoordinatedApi
    where TRequest : class, IKafkaMessage<TRequest>
    where TResponse : class, IKafkaMessage<TResponse>
{
    public ApiKey Key { get; } = key;

    public short MinVersion { get; } = minVersion;

    public short MaxVersion { get; } = maxVersion;

    private Func<string, ErrorCode>? _coordinatorErrorFor;

    /// <inheritdoc/>
    public void CoordinateBy(Func<string, ErrorCode> coordinatorErrorFor) => _coordinatorErrorFor = coordinatorErrorFor;

    public ValueTask<HandlerResult> HandleAsync(RequestContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var request = Decode(body, context.ApiVersion);
        if (_coordinatorErrorFor is { } errorFor && !AnswersPerKey(context, request) && NotCoordinated(context, request, errorFor) is { } refused)
        {
            return new ValueTask<HandlerResult>(refused.Untyped);
        }

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

    /// <summary>
    /// The coordinator keys the request names (its group ids, or transactional ids) when this is a coordinator's API
    /// (<see cref="CoordinateBy"/>); none by default.
    /// </summary>
    protected virtual IEnumerable<string> CoordinatorKeys(TRequest request) => [];

    /// <summary>
    /// Whether this request answers each of its keys in an entry of its own (DescribeGroups, OffsetFetch v8+, ...): then
    /// the handler asks <see cref="CoordinatorErrorOf"/> per key and answers a key coordinated elsewhere with that error
    /// in its entry, the others with their real answer, as Kafka's brokers do. Otherwise a key this broker does not
    /// coordinate refuses the whole request.
    /// </summary>
    protected virtual bool AnswersPerKey(RequestContext context, TRequest request) => false;

    /// <summary>None while this broker coordinates <paramref name="key"/> (always for an API without a coordinator); else its error.</summary>
    protected ErrorCode CoordinatorErrorOf(string key) => _coordinatorErrorFor?.Invoke(key) ?? ErrorCode.None;

    // A key this broker does not coordinate answers the whole request with its error (NOT_COORDINATOR,
    // COORDINATOR_LOAD_IN_PROGRESS), which sends the client back to FindCoordinator: the response has one error for
    // the request's single key.
    private HandlerResult<TResponse>? NotCoordinated(RequestContext context, TRequest request, Func<string, ErrorCode> errorFor)
    {
        foreach (var key in CoordinatorKeys(request))
        {
            if (errorFor(key) is var error and not ErrorCode.None && ErrorResponse(context, request, error) is { } refused)
            {
                return refused;
            }
        }

        return null;
    }

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
