using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The call invoker of every etcd client of a <see cref="ClusterNode"/>: it sends each call on the current gRPC channel,
/// and <see cref="Replace"/> swaps in a new one. After a network cut a channel may never reach etcd again (a subchannel
/// left in transient failure for good, or calls sent on an HTTP/2 connection that died silently), so a broker whose
/// lease keep-alives keep failing starts over with fresh connections rather than stay dead to the cluster.
/// With an etcd user set, every call carries etcd's auth token in its <c>token</c> header. The token is taken with the
/// Authenticate RPC when first needed and again after etcd rejects it (an etcd restart or an auth change ends it) or
/// the channel is replaced; a unary call it rejected is sent once more with the new token.
/// </summary>
public sealed partial class EtcdChannel : CallInvoker, IDisposable
{
    // How long a replaced channel stays open: a call that took its invoker just before the swap has started on it by
    // then and fails with an RpcException (cancelled) rather than an ObjectDisposedException its caller may not expect.
    private static readonly TimeSpan DisposeDelay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan AuthenticateTimeout = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<string> _endpoints;
    private readonly EtcdClientSecurity _security;
    private readonly ILogger _logger;
    private readonly CallCredentials? _credentials;
    private readonly SemaphoreSlim _authenticating = new(1, 1);
    private readonly Lock _lock = new();
    private (GrpcChannel Channel, CallInvoker Invoker) _current;
    private bool _disposed;

    // The auth token and how many tokens were taken before it; the count tells a rejection of this token from one of
    // an older token, which must not throw away a newer one.
    private (string? Value, int Generation) _token;

    public EtcdChannel(IReadOnlyList<string> endpoints)
        : this(endpoints, EtcdClientSecurity.None, NullLogger.Instance)
    {
    }

    public EtcdChannel(IReadOnlyList<string> endpoints, EtcdClientSecurity security, ILogger logger)
    {
        _endpoints = endpoints;
        _security = security;
        _logger = logger;
        _current = Create(endpoints, security);
        if (security.Username is not null)
        {
            _credentials = CallCredentials.FromInterceptor(async (context, metadata) =>
                metadata.Add("token", (await TokenAsync(context.CancellationToken).ConfigureAwait(false)).Value));
        }
    }

    /// <summary>How many times the channel was replaced.</summary>
    public int Replacements { get; private set; }

    /// <summary>How many auth tokens were taken from etcd (0 without an etcd user).</summary>
    public int Authentications
    {
        get
        {
            lock (_lock)
            {
                return _token.Generation;
            }
        }
    }

    private CallInvoker Invoker
    {
        get
        {
            lock (_lock)
            {
                return _current.Invoker;
            }
        }
    }

    /// <summary>Sends every later call on a new channel; the old one is disposed shortly after (its calls fail and retry).</summary>
    public void Replace()
    {
        GrpcChannel old;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            old = _current.Channel;
            _current = Create(_endpoints, _security);
            Replacements++;

            // A cut long enough for a replacement may span an etcd restart, which forgets every token.
            _token = (null, _token.Generation);
        }

        _ = Task.Delay(DisposeDelay).ContinueWith(_ => old.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private static (GrpcChannel, CallInvoker) Create(IReadOnlyList<string> endpoints, EtcdClientSecurity security)
    {
        var channel = EtcdEndpoints.Channel(endpoints, security);
        return (channel, channel.CreateCallInvoker());
    }

    /// <summary>Takes an auth token now unless one is held (a start checks the user and password this way); no-op without an etcd user.</summary>
    public async Task AuthenticateAsync(CancellationToken cancellationToken)
    {
        if (_credentials is not null)
        {
            await TokenAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>etcd refused the token of a call started at <paramref name="generation"/>: the next call authenticates again.</summary>
    public void TokenRejected(int generation)
    {
        lock (_lock)
        {
            if (_token.Value is not null && _token.Generation == generation)
            {
                _token = (null, generation);
                LogTokenRejected(_logger, _security.Username!);
            }
        }
    }

    /// <summary>The generation of the token calls now carry; pass it to <see cref="TokenRejected"/>.</summary>
    public int TokenGeneration => Authentications;

    // etcd's answers to a token it does not know (rpctypes.ErrGRPCInvalidAuthToken) or one taken before an auth change
    // (ErrGRPCAuthOldRevision): etcd's own client authenticates again and retries on both.
    internal static bool IsTokenRejected(Status status) =>
        status.StatusCode is StatusCode.Unauthenticated or StatusCode.InvalidArgument && IsTokenRejected(status.Detail);

    /// <summary>Whether an error text of etcd's (a status detail, a watch's cancel reason) is one of those two.</summary>
    public static bool IsTokenRejected(string reason) =>
        reason.Contains("etcdserver: invalid auth token", StringComparison.Ordinal)
        || reason.Contains("etcdserver: revision of auth store is old", StringComparison.Ordinal);

    private async Task<(string Value, int Generation)> TokenAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_token.Value is { } held)
            {
                return (held, _token.Generation);
            }
        }

        await _authenticating.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (_token.Value is { } taken)
                {
                    return (taken, _token.Generation);
                }
            }

            // Sent on the plain invoker: Authenticate itself carries no token.
            var response = await new Auth.AuthClient(Invoker).AuthenticateAsync(
                new AuthenticateRequest { Name = _security.Username, Password = _security.Password },
                deadline: DateTime.UtcNow + AuthenticateTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                _token = (response.Token, _token.Generation + 1);
                LogAuthenticated(_logger, _security.Username!, _token.Generation);
                return (response.Token, _token.Generation);
            }
        }
        finally
        {
            _authenticating.Release();
        }
    }

    private CallOptions WithToken(CallOptions options) => _credentials is null ? options : options.WithCredentials(_credentials);

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        Invoker.BlockingUnaryCall(method, host, WithToken(options), request);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        if (_credentials is null)
        {
            return Invoker.AsyncUnaryCall(method, host, options, request);
        }

        var generation = TokenGeneration;
        var first = Invoker.AsyncUnaryCall(method, host, WithToken(options), request);
        var current = first;

        // A call etcd refused for its token did nothing; it is sent once more after a new token is taken.
        async Task<TResponse> ResponseAsync()
        {
            try
            {
                return await first.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e) when (IsTokenRejected(e.Status))
            {
                TokenRejected(generation);
                current = Invoker.AsyncUnaryCall(method, host, WithToken(options), request);
                return await current.ResponseAsync.ConfigureAwait(false);
            }
        }

        return new AsyncUnaryCall<TResponse>(ResponseAsync(), first.ResponseHeadersAsync, () => current.GetStatus(), () => current.GetTrailers(), () =>
        {
            first.Dispose();
            current.Dispose();
        });
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var generation = TokenGeneration;
        var call = Invoker.AsyncServerStreamingCall(method, host, WithToken(options), request);
        return _credentials is null ? call : new AsyncServerStreamingCall<TResponse>(new TokenCheckingReader<TResponse>(call.ResponseStream, this, generation),
            call.ResponseHeadersAsync, call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        Invoker.AsyncClientStreamingCall(method, host, WithToken(options));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var generation = TokenGeneration;
        var call = Invoker.AsyncDuplexStreamingCall(method, host, WithToken(options));
        return _credentials is null ? call : new AsyncDuplexStreamingCall<TRequest, TResponse>(call.RequestStream, new TokenCheckingReader<TResponse>(call.ResponseStream, this, generation),
            call.ResponseHeadersAsync, call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public void Dispose()
    {
        GrpcChannel channel;
        lock (_lock)
        {
            _disposed = true;
            channel = _current.Channel;
        }

        channel.Dispose();
    }

    // A stream etcd ended for its token: the caller's retry authenticates again.
    private sealed class TokenCheckingReader<T>(IAsyncStreamReader<T> inner, EtcdChannel channel, int generation) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            try
            {
                return await inner.MoveNext(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (IsTokenRejected(e.Status))
            {
                channel.TokenRejected(generation);
                throw;
            }
        }
    }

    [LoggerMessage(EventId = 1140, Level = LogLevel.Information, Message = "Authenticated to etcd as {Username} (token {Generation})")]
    private static partial void LogAuthenticated(ILogger logger, string username, int generation);

    [LoggerMessage(EventId = 1141, Level = LogLevel.Warning, Message = "etcd rejected the auth token of {Username}; authenticating again")]
    private static partial void LogTokenRejected(ILogger logger, string username);
}
