using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tributary.Broker.Security;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// One client connection as every request on it sees it, fixed for the connection's life: its id, the peer, the
/// listener it came in on, its SASL authentication (on a SASL listener) and so the principal it acts as, plus how
/// handlers that wait run on it (<see cref="ResumeOn"/>, <see cref="CloseRequested"/>). The client id is not here: Kafka
/// reads it from each request header (<see cref="RequestContext.ClientId"/>).
/// </summary>
public sealed record ConnectionInfo(string ConnectionId, EndPoint? Peer, string ListenerName = ConnectionInfo.DefaultListenerName)
{
    /// <summary>The listener name of a connection made without one (tests), as Kafka names a plaintext listener.</summary>
    public const string DefaultListenerName = "PLAINTEXT";

    /// <summary>The principal of an unauthenticated connection, as Kafka's KafkaPrincipal.ANONYMOUS prints.</summary>
    public const string AnonymousPrincipal = "User:ANONYMOUS";

    /// <summary>
    /// The connection's authentication on a SASL listener; null on a PLAINTEXT one. Until it is complete the dispatcher
    /// serves only ApiVersions, SaslHandshake and SaslAuthenticate.
    /// </summary>
    public SaslAuthenticator? Authenticator { get; init; }

    /// <summary>
    /// On an SSL listener, User:NAME from the client certificate's subject (ssl.principal.mapping.rules); null without
    /// a certificate, and on other listeners.
    /// </summary>
    public string? SslPrincipal { get; init; }

    /// <summary>
    /// User:NAME once SASL authentication completed (SASL_SSL included); on an SSL listener the client certificate's
    /// principal; otherwise User:ANONYMOUS.
    /// </summary>
    public string Principal => Authenticator is { } sasl ? sasl.Principal ?? AnonymousPrincipal : SslPrincipal ?? AnonymousPrincipal;

    /// <summary>The peer as Kafka reports it in DescribeGroups and ConsumerGroupDescribe ("/127.0.0.1"), "" when unknown.</summary>
    public string ClientHost { get; } = FormatClientHost(Peer);

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
