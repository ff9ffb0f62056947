using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Storage;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// What a handler knows about the request it serves: who sent it, which API and version. <see cref="ClientHost"/> is
/// the peer's address as Kafka reports it in DescribeGroups and ConsumerGroupDescribe ("/127.0.0.1"), "" when unknown.
/// </summary>
public sealed record RequestContext(ApiKey ApiKey, short ApiVersion, int CorrelationId, string? ClientId, string ConnectionId, string ClientHost = "")
{
    private ReadBuffers? _readBuffers;

    /// <summary>
    /// Pooled arrays for bytes the response carries (a fetch's records): the connection returns them once the
    /// response has been written (<see cref="DispatchOutcome.Buffers"/>).
    /// </summary>
    public ReadBuffers ReadBuffers => _readBuffers ??= new ReadBuffers();

    /// <summary>The buffers, if a handler used any.</summary>
    internal ReadBuffers? ReadBuffersInUse => _readBuffers;

    /// <summary>
    /// What the response must wait for before it is sent, its request otherwise done (a produce's flush, with
    /// <c>flush.messages</c>); the connection may read and handle the next produce meanwhile. Null: send at once.
    /// </summary>
    public Task? Durable { get; set; }

    /// <summary>
    /// Where a handler that waits (a parked fetch) should resume: the connection's own thread, so the answer goes out
    /// from there without a hand-off to the thread pool. Null: the thread pool.
    /// </summary>
    public SynchronizationContext? ResumeOn { get; init; }

    /// <summary>
    /// Fires when the server is stopping and asks the connection to close: a request that is only waiting for
    /// something to happen (a parked fetch) answers at once with what it has, instead of holding the stop.
    /// </summary>
    public CancellationToken CloseRequested { get; init; }

    public override string ToString() => $"{ApiKey} v{ApiVersion} #{CorrelationId} from {ClientId ?? "?"} on {ConnectionId}";

    /// <summary>
    /// The client host of a connection from <paramref name="remote"/>: Java's InetAddress.toString() of an address
    /// without a host name, which is what Kafka shows: "/" then the address, IPv6 as eight uncompressed hex groups.
    /// </summary>
    public static string FormatClientHost(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return "";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "/" + address;
        }

        var bytes = address.GetAddressBytes();
        var groups = new string[8];
        for (var i = 0; i < 8; i++)
        {
            groups[i] = ((bytes[2 * i] << 8) | bytes[(2 * i) + 1]).ToString("x", CultureInfo.InvariantCulture);
        }

        var scope = address.ScopeId != 0 ? "%" + address.ScopeId.ToString(CultureInfo.InvariantCulture) : "";
        return "/" + string.Join(':', groups) + scope;
    }
}
