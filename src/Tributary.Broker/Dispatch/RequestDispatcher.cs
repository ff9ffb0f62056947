using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Quotas;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Dispatch;

/// <summary>Decides, per intercepted request, what happens instead of (or before) the handler.</summary>
public delegate ValueTask<InterceptDecision> RequestInterceptor(RequestContext context, CancellationToken cancellationToken);

/// <summary>
/// Turns one request frame into a response: reads the header, checks the API and version against the handler
/// table, and runs the handler. Malformed frames, unknown APIs and unsupported versions close the connection,
/// as Kafka does; ApiVersions at an unsupported version is answered per KIP-511 instead. On a SASL listener, until
/// the connection's <see cref="SaslAuthenticator"/> is complete, only the APIs of the SASL exchange are served (or
/// bare tokens after SaslHandshake v0); anything else, and every failed authentication, closes the connection.
/// </summary>
public sealed partial class RequestDispatcher
{
    private const int ApiKeySlots = 128;

    /// <summary>Feature levels advertised in ApiVersions v3+: see <see cref="ApiVersionsTable"/>.</summary>
    private static readonly (string Name, short Level)[] Features = [("group.version", 1), ("transaction.version", 1)];

    private readonly IApiHandler?[] _handlers = new IApiHandler?[ApiKeySlots];
    private readonly ILogger _logger;
    private readonly ClientQuotaManager? _quotas;
    private string? _notServingReason;

    /// <param name="quotas">client quotas to measure each authenticated request against; null: none.</param>
    public RequestDispatcher(IEnumerable<IApiHandler> handlers, ILogger<RequestDispatcher> logger, ClientQuotaManager? quotas = null)
    {
        _logger = logger;
        _quotas = quotas;
        foreach (var h in handlers)
        {
            // A handler may serve versions below the schema's floor only where the codec defines them
            // (LegacyVersions in the generator), and never above the highest stable version.
            var api = KafkaApis.Find((short)h.Key) ?? throw new ArgumentException($"{h.Key} has no versions in the protocol", nameof(handlers));
            if (h.MinVersion < api.LowestVersion || h.MaxVersion > api.HighestStableVersion || h.MinVersion > h.MaxVersion)
            {
                throw new ArgumentException($"{h.Key} handler declares v{h.MinVersion}-{h.MaxVersion}; the codec defines v{api.LowestVersion}-{api.HighestStableVersion}", nameof(handlers));
            }

            _handlers[(int)h.Key] = h;
        }

        Handlers = [.. _handlers.Where(h => h is not null).Cast<IApiHandler>()];
    }

    public IReadOnlyList<IApiHandler> Handlers { get; }

    /// <summary>Test hook of the embeddable broker: inspect, fail, delay or drop requests by API key.</summary>
    public RequestInterceptor? Interceptor { get; set; }

    /// <summary>
    /// While set, every request closes its connection unanswered, for this reason. A broker in cluster mode binds its
    /// listeners before it joins (their addresses are what it registers), but until it has joined and its data plane
    /// runs it must not answer at all: it would answer as a single node, acknowledging produces to partitions it
    /// does not lead. Kafka's brokers likewise accept no request before their startup completes; clients see a
    /// broker that is not up yet and retry.
    /// </summary>
    public string? NotServingReason
    {
        get => Volatile.Read(ref _notServingReason);
        set => Volatile.Write(ref _notServingReason, value);
    }

    /// <summary>Where the error answers the dispatcher makes itself (a failed handler, an injected error) are counted.</summary>
    public RequestErrorCounts? Errors { get; init; }

    /// <param name="connection">the connection the frame came on, the same value for each of its requests.</param>
    public async ValueTask<DispatchOutcome> DispatchAsync(ReadOnlyMemory<byte> frame, ConnectionInfo connection, CancellationToken cancellationToken)
    {
        if (NotServingReason is { } notServing)
        {
            return DispatchOutcome.Close(notServing);
        }

        // KIP-368: a SaslHandshake on an authenticated connection may begin re-authentication; any other request on a
        // session past its end closes the connection, unanswered, as Kafka's SocketServer does.
        if (connection.Authenticator is { IsComplete: true } authenticated && frame.Length >= 2
            && !(BinaryPrimitives.ReadInt16BigEndian(frame.Span) == (short)ApiKey.SaslHandshake && authenticated.TryBeginReauthentication())
            && authenticated.SessionExpired)
        {
            return DispatchOutcome.Close($"the SASL session of {authenticated.Principal} on listener {authenticated.Listener.Name} expired and was not re-authenticated");
        }

        var authenticating = connection.Authenticator is { IsComplete: false } sasl ? sasl : null;
        if (authenticating is not null)
        {
            if (frame.Length > authenticating.Listener.ReceiveBytesMax)
            {
                return DispatchOutcome.Close($"a frame of {frame.Length} bytes before SASL authentication exceeds sasl.server.max.receive.size ({authenticating.Listener.ReceiveBytesMax} bytes)");
            }

            if (authenticating.ExpectsRawToken)
            {
                return RawToken(authenticating, frame.Span, connection);
            }
        }

        if (frame.Length < 8)
        {
            return DispatchOutcome.Close($"frame of {frame.Length} bytes is shorter than a request header");
        }

        var apiKey = BinaryPrimitives.ReadInt16BigEndian(frame.Span);
        var apiVersion = BinaryPrimitives.ReadInt16BigEndian(frame.Span[2..]);
        var descriptor = KafkaApis.Find(apiKey);
        if (descriptor is null)
        {
            return DispatchOutcome.Close($"unknown API key {apiKey}");
        }

        RequestHeader header;
        int bodyStart;
        try
        {
            var reader = new KafkaReader(frame);
            header = RequestHeader.Read(ref reader, descriptor.RequestHeaderVersion(apiVersion));
            bodyStart = reader.Position;
        }
        catch (ProtocolException e)
        {
            return DispatchOutcome.Close($"malformed request header for {descriptor.Name} v{apiVersion}: {e.Reason}");
        }

        var context = new RequestContext(descriptor.Key, apiVersion, header.CorrelationId, header.ClientId, connection);
        var body = frame[bodyStart..];
        var handler = (uint)apiKey < ApiKeySlots ? _handlers[apiKey] : null;
        if (handler is null || apiVersion < handler.MinVersion || apiVersion > handler.MaxVersion)
        {
            if (descriptor.Key == ApiKey.ApiVersions)
            {
                // KIP-511: answer with v0 carrying UNSUPPORTED_VERSION and our ranges, so the client can retry lower.
                var response = ApiVersionsTable(ErrorCode.UnsupportedVersion);
                return new DispatchOutcome(DispatchAction.Respond, new HandlerResult(response), 0, header.CorrelationId, 0, null);
            }

            return DispatchOutcome.Close(handler is null
                ? $"{descriptor.Name} is not served by this broker"
                : $"{descriptor.Name} v{apiVersion} is outside the supported range {handler.MinVersion}-{handler.MaxVersion}");
        }

        var responseHeaderVersion = descriptor.ResponseHeaderVersion(apiVersion);
        if (authenticating is not null)
        {
            switch (authenticating.Admit(descriptor.Key))
            {
                case SaslGate.Close:
                    return AuthenticationFailed(authenticating, null, 0, 0, 0);
                case SaslGate.AnswerIllegalStateAndClose:
                    return AuthenticationFailed(authenticating, handler.ErrorResponse(context, body, ErrorCode.IllegalSaslState), apiVersion, header.CorrelationId, responseHeaderVersion);
            }
        }

        if (Interceptor is { } interceptor)
        {
            var decision = await interceptor(context, cancellationToken).ConfigureAwait(false);
            if (decision.Delay > TimeSpan.Zero)
            {
                await Task.Delay(decision.Delay, cancellationToken).ConfigureAwait(false);
            }

            if (decision.DropConnection)
            {
                return DispatchOutcome.Close($"interceptor dropped {context}");
            }

            if (decision.Error is { } injected)
            {
                Errors?.Count(descriptor.Key, (short)injected);
                return new DispatchOutcome(DispatchAction.Respond, new HandlerResult(handler.ErrorResponse(context, body, injected)), apiVersion, header.CorrelationId, responseHeaderVersion, null);
            }
        }

        try
        {
            // Request quota time is the handler's own work: until it first waits (a parked fetch's wait is not it).
            var started = Stopwatch.GetTimestamp();
            var handling = handler.HandleAsync(context, body, cancellationToken);
            var handlerTime = Stopwatch.GetElapsedTime(started);
            var result = await handling.ConfigureAwait(false);
            if (authenticating is not null)
            {
                if (authenticating.Failed)
                {
                    return AuthenticationFailed(authenticating, result.Response, apiVersion, header.CorrelationId, responseHeaderVersion);
                }

                if (authenticating.IsComplete)
                {
                    LogAuthenticated(connection, authenticating);
                }
            }

            var throttleTimeMs = authenticating is null && _quotas is { Enabled: true } quotas ? Throttle(quotas, context, body.Length, result.Response, handlerTime) : 0;

            // No response, nothing to wait for: the connection only releases the buffers.
            return result.Response is null
                ? new DispatchOutcome(DispatchAction.NoResponse, result with { Durable = null }, apiVersion, header.CorrelationId, responseHeaderVersion, null) { ThrottleTimeMs = throttleTimeMs }
                : new DispatchOutcome(DispatchAction.Respond, result, apiVersion, header.CorrelationId, responseHeaderVersion, null) { ThrottleTimeMs = throttleTimeMs };
        }
        catch (ProtocolException e)
        {
            return DispatchOutcome.Close($"malformed {context}: {e.Reason}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            LogHandlerFailed(e, context.ToString());
            Errors?.Count(descriptor.Key, (short)ErrorCode.UnknownServerError);
            var response = handler.ErrorResponse(context, body, ErrorCode.UnknownServerError);
            return response is null
                ? DispatchOutcome.Close($"{context} failed")
                : new DispatchOutcome(DispatchAction.Respond, new HandlerResult(response), apiVersion, header.CorrelationId, responseHeaderVersion, null);
        }
    }

    /// <summary>
    /// Records the request against the client's quotas and returns the throttle it earned, also written into the
    /// response's throttle_time_ms: the longest of the request quota (handler time as a percentage of one thread), the
    /// byte rate of its API (produce: the request's bytes; fetch: the records sent), and any throttle the handler set
    /// (controller_mutation_rate). As Kafka, a produce with acks=0 is not measured against request_percentage.
    /// </summary>
    private static int Throttle(ClientQuotaManager quotas, RequestContext context, int requestBytes, IKafkaMessage? response, TimeSpan handlerTime)
    {
        var user = ClientQuotaManager.UserOf(context.Connection.Principal);
        var clientId = context.ClientId;
        var throttleMs = response is null ? 0 : quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Request, user, clientId, handlerTime.TotalSeconds * 100);
        if (context.ApiKey == ApiKey.Produce)
        {
            throttleMs = Math.Max(throttleMs, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Produce, user, clientId, requestBytes));
        }
        else if (context.ApiKey == ApiKey.Fetch && response is FetchResponse fetch)
        {
            throttleMs = Math.Max(throttleMs, quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Fetch, user, clientId, RecordBytes(fetch)));
        }

        if (response is null)
        {
            return (int)throttleMs;
        }

        var throttle = Math.Max((int)throttleMs, ResponseThrottle.Get(response));
        if (throttle > 0)
        {
            ResponseThrottle.Set(response, throttle);
        }

        return throttle;
    }

    private static long RecordBytes(FetchResponse fetch)
    {
        var bytes = 0L;
        foreach (var topic in fetch.Responses)
        {
            foreach (var partition in topic.Partitions)
            {
                bytes += partition.Records?.Length ?? 0;
            }
        }

        return bytes;
    }

    /// <summary>A bare token after SaslHandshake v0: the challenge goes back size-prefixed, without a response header.</summary>
    private DispatchOutcome RawToken(SaslAuthenticator authenticating, ReadOnlySpan<byte> token, ConnectionInfo connection)
    {
        if (authenticating.RawToken(token) is not { } challenge)
        {
            return AuthenticationFailed(authenticating, null, 0, 0, 0);
        }

        if (authenticating.IsComplete)
        {
            LogAuthenticated(connection, authenticating);
        }

        return new DispatchOutcome(DispatchAction.Respond, new HandlerResult(new RawSaslToken(challenge)), 0, 0, DispatchOutcome.NoHeader, null);
    }

    /// <summary>The answer to a failed authentication (if any) after connection.failed.authentication.delay.ms, then the close.</summary>
    private static DispatchOutcome AuthenticationFailed(SaslAuthenticator authenticating, IKafkaMessage? response, short apiVersion, int correlationId, short responseHeaderVersion) =>
        new(DispatchAction.RespondAndClose, new HandlerResult(response, authenticating.FailureDelayAsync()), apiVersion, correlationId, responseHeaderVersion,
            $"SASL authentication failed on listener {authenticating.Listener.Name}: {authenticating.FailureReason}");

    /// <summary>
    /// The ApiVersions answer: exactly the ranges of the handler table, so the broker never advertises what it cannot do, and (v3+, tagged) the feature levels this broker runs at, which never change:
    /// group.version 1 (KIP-848 consumer groups) and transaction.version 1 (server-side partition checks, KIP-890
    /// part 1; level 2 would let clients skip AddPartitionsToTxn, which this broker requires).
    /// </summary>
    public ApiVersionsResponse ApiVersionsTable(ErrorCode error) => new()
    {
        ErrorCode = (short)error,
        ApiKeys = [.. Handlers.OrderBy(h => h.Key).Select(h => new ApiVersionsResponse.ApiVersion { ApiKey = (short)h.Key, MinVersion = h.MinVersion, MaxVersion = h.MaxVersion })],
        SupportedFeatures = [.. Features.Select(f => new ApiVersionsResponse.SupportedFeatureKey { Name = f.Name, MinVersion = 0, MaxVersion = f.Level })],
        FinalizedFeaturesEpoch = 0,
        FinalizedFeatures = [.. Features.Select(f => new ApiVersionsResponse.FinalizedFeatureKey { Name = f.Name, MinVersionLevel = f.Level, MaxVersionLevel = f.Level })],
    };

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Handler failed for {Request}")]
    private partial void LogHandlerFailed(Exception exception, string request);

    private void LogAuthenticated(ConnectionInfo connection, SaslAuthenticator authenticator)
    {
        if (authenticator.Reauthenticating)
        {
            LogReauthenticated(connection.ConnectionId, connection.ListenerName, authenticator.Principal!, authenticator.SessionExpiresAtMs);
        }
        else
        {
            LogAuthenticated(connection.ConnectionId, connection.ListenerName, authenticator.Principal!, authenticator.SessionExpiresAtMs);
        }
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "Connection {ConnectionId} on listener {Listener} authenticated as {Principal}; session ends at {SessionExpiresAtMs} ms (none if empty)")]
    private partial void LogAuthenticated(string connectionId, string listener, string principal, long? sessionExpiresAtMs);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "Connection {ConnectionId} on listener {Listener} re-authenticated as {Principal}; session ends at {SessionExpiresAtMs} ms")]
    private partial void LogReauthenticated(string connectionId, string listener, string principal, long? sessionExpiresAtMs);
}
