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

    /// <summary>The config row's check: every item an http:// URL with a host and a port.</summary>
    public static string? Check(string value)
    {
        var items = ConfigDefinition.Items(value).ToList();
        if (items.Count == 0)
        {
            return "tributary.metadata.etcd.endpoints names no endpoint";
        }

        foreach (var item in items)
        {
            if (!Uri.TryCreate(item, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.IsDefaultPort && !item.Contains(":" + uri.Port, StringComparison.Ordinal))
            {
                return $"tributary.metadata.etcd.endpoints: '{item}' is not http://host:port (TLS to etcd is not supported yet)";
            }
        }

        return null;
    }

    public static GrpcChannel Channel(IReadOnlyList<string> endpoints)
    {
        var addresses = endpoints.Select(e => new Uri(e)).Select(u => new BalancerAddress(u.Host, u.Port)).ToList();
        var services = new ServiceCollection();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        return GrpcChannel.ForAddress("static:///etcd", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceProvider = services.BuildServiceProvider(),
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } },
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                KeepAlivePingDelay = PingDelay,
                KeepAlivePingTimeout = PingTimeout,
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                ConnectTimeout = TimeSpan.FromSeconds(2),
            },
        });
    }
}
