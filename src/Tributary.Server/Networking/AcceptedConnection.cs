using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Tributary.Server.Networking;

/// <summary>
/// What every connection the transport accepts offers Kestrel (id, transport, items, lifetime and end points as
/// features), whether it is served on a thread of its own (<see cref="SocketConnection"/>) or through a stream
/// (<see cref="SocketStreamConnection"/>).
/// </summary>
internal abstract class AcceptedConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature,
    IConnectionItemsFeature, IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    private Action? _disposed;

    protected AcceptedConnection(Socket socket, string connectionId, CancellationToken closed)
    {
        ConnectionId = connectionId;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionClosed = closed;
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    /// <summary>The connection's pipes; each derived constructor sets them, once its parts exist.</summary>
    public override IDuplexPipe Transport { get; set; } = null!;

    public override CancellationToken ConnectionClosed { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    /// <summary>Runs once the connection is disposed (the listener gives back its per-address and listener slots).</summary>
    internal Action? Disposed
    {
        get => _disposed;
        set => _disposed = value;
    }

    /// <summary>Runs <see cref="Disposed"/>, once.</summary>
    protected void RunDisposed() => Interlocked.Exchange(ref _disposed, null)?.Invoke();
}
