using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Broker.Config;

namespace Tributary.Broker.Cluster;

/// <summary>
/// The etcd members of tributary.metadata.etcd.endpoints as one gRPC channel: calls go round-robin to the members
/// that answer, and HTTP/2 pings find a dead member's connection within seconds, ending the watch on it.
/// </summary>
public static class EtcdEndpoints
{
    // Above etcd's --grpc-keepalive-min-time (5 s by default): etcd answers more frequent pings on a quiet connection
    // (a watch with no events) with GOAWAY ENHANCE_YOUR_CALM, which ended the watch every few seconds.
    private static readonly TimeSpan PingDelay = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The config row's check: every item an http:// (or every item an https://) URL with a host and a port.</summary>
    public static string? Check(string value)
    {
        var items = ConfigDefinition.Items(value).ToList();
        if (items.Count == 0)
        {
            return "tributary.metadata.etcd.endpoints names no endpoint";
        }

        string? scheme = null;
        foreach (var item in items)
        {
            if (!Uri.TryCreate(item, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps
                || uri.IsDefaultPort && !item.Contains(":" + uri.Port, StringComparison.Ordinal))
            {
                return $"tributary.metadata.etcd.endpoints: '{item}' is not http://host:port or https://host:port";
            }

            if ((scheme ??= uri.Scheme) != uri.Scheme)
            {
                return "tributary.metadata.etcd.endpoints: mixes http:// and https:// endpoints";
            }
        }

        return null;
    }

    /// <summary>Whether the endpoints are https:// (the check above keeps them all of one scheme).</summary>
    public static bool UseTls(IReadOnlyList<string> endpoints) => endpoints.Count > 0 && new Uri(endpoints[0]).Scheme == Uri.UriSchemeHttps;

    public static GrpcChannel Channel(IReadOnlyList<string> endpoints) => Channel(endpoints, EtcdClientSecurity.None);

    /// <summary>
    /// A channel to the endpoints; https:// ones use TLS with <paramref name="security"/>'s trust and client certificate.
    /// Call credentials (the etcd auth token) are allowed on plaintext too: etcd's own clients send them either way.
    /// </summary>
    public static GrpcChannel Channel(IReadOnlyList<string> endpoints, EtcdClientSecurity security)
    {
        var tls = UseTls(endpoints);
        var addresses = endpoints.Select(e => new Uri(e)).Select(u => new BalancerAddress(u.Host, u.Port)).ToList();
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = PingDelay,
            KeepAlivePingTimeout = PingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            ConnectTimeout = TimeSpan.FromSeconds(2),
        };
        if (tls)
        {
            handler.SslOptions = security.SslOptions();
        }

        return GrpcChannel.ForAddress("static:///etcd", new GrpcChannelOptions
        {
            Credentials = tls ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure,
            UnsafeUseInsecureChannelCallCredentials = true,
            ServiceProvider = services.BuildServiceProvider(),
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            HttpHandler = handler,
        });
    }
}
