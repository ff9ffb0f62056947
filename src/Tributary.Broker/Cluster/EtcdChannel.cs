using Grpc.Core;
using Grpc.Net.Client;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The call invoker of every etcd client of a <see cref="ClusterNode"/>: it sends each call on the current gRPC channel,
/// and <see cref="Replace"/> swaps in a new one. After a network cut a channel may never reach etcd again (a subchannel
/// left in transient failure for good, or calls sent on an HTTP/2 connection that died silently), so a broker whose
/// lease keep-alives keep failing starts over with fresh connections rather than stay dead to the cluster.
/// </summary>
public sealed class EtcdChannel : CallInvoker, IDisposable
{
    // How long a replaced channel stays open: a call that took its invoker just before the swap has started on it by
    // then and fails with an RpcException (cancelled) rather than an ObjectDisposedException its caller may not expect.
    private static readonly TimeSpan DisposeDelay = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<string> _endpoints;
    private readonly Lock _lock = new();
    private (GrpcChannel Channel, CallInvoker Invoker) _current;
    private bool _disposed;

    public EtcdChannel(IReadOnlyList<string> endpoints)
    {
        _endpoints = endpoints;
        _current = Create(endpoints);
    }

    /// <summary>How many times the channel was replaced.</summary>
    public int Replacements { get; private set; }

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
            _current = Create(_endpoints);
            Replacements++;
        }

        _ = Task.Delay(DisposeDelay).ContinueWith(_ => old.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private static (GrpcChannel, CallInvoker) Create(IReadOnlyList<string> endpoints)
    {
        var channel = EtcdEndpoints.Channel(endpoints);
        return (channel, channel.CreateCallInvoker());
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        Invoker.BlockingUnaryCall(method, host, options, request);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        Invoker.AsyncUnaryCall(method, host, options, request);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        Invoker.AsyncServerStreamingCall(method, host, options, request);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        Invoker.AsyncClientStreamingCall(method, host, options);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        Invoker.AsyncDuplexStreamingCall(method, host, options);

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
}
